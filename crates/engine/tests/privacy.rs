//! Privacy jobs and hygiene work orders through the Engine API on a real store: the access
//! result's content, a delete that leaves no trace in any table or file, a delete of the
//! profile alone, resuming after a restart, precise errors, and a work order on one dataset.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use engine::catalog::now_ms;
use engine::privacy::{self, JobStatus, PrivacyJob, WorkOrderStatus};
use engine::{
    CatalogSettings, Clearance, Engine, EngineConfig, EntityRef, IdentityKey, Job, ProfileRequest,
};
use rapport_types::{Code, ProfileId, SandboxName};
use serde_json::{json, Value};
use store::{Direction, LmdbOptions, LmdbStore, Scan, Store, Table};

const MAP_SIZE: usize = 1 << 30;

/// Alice's CRM id has quotes, so it reads differently once JSON-escaped.
const ALICE_CRM: &str = "CRM-\"Alice\"-7";
const ALICE_EMAIL: &str = "Alice.Smith@Example.com";
const BOB_CRM: &str = "CRM-BOB";
const BOB_EMAIL: &str = "bob@example.com";
const CAROL_CRM: &str = "CRM-CAROL";
const CAROL_EMAIL: &str = "carol@example.com";

fn ecid(n: u64) -> String {
    format!("{n:038}")
}

fn alice_phone() -> String {
    ecid(1_111)
}

fn tablet() -> String {
    ecid(5_555)
}

fn config(dir: &Path) -> EngineConfig {
    EngineConfig {
        data_dir: dir.to_path_buf(),
        map_size_bytes: MAP_SIZE,
        tenant_id: "rapport".into(),
        graph_limit: 50,
        blocked_identity_values: vec![],
    }
}

fn open(dir: &Path) -> Engine {
    Engine::open(&config(dir)).expect("engine")
}

fn prod() -> SandboxName {
    SandboxName::default_sandbox()
}

struct Company {
    crm: String,
    loyalty: String,
    web: String,
}

/// The CRMID namespace (unique), a profile and an event schema, three datasets.
fn set_up(engine: &Engine, sandbox: &SandboxName) -> Company {
    engine
        .create_namespace(
            sandbox,
            &json!({"code": "CRMID", "name": "CRM id", "idType": "CROSS_DEVICE", "unique": true}),
        )
        .expect("namespace");
    let context =
        |group: &str| json!({"$ref": format!("https://ns.adobe.com/xdm/context/{group}")});
    let profile = engine
        .create_schema(
            sandbox,
            &json!({"title": "Customers", "meta:immutableTags": ["union"], "allOf": [
                context("profile"), context("profile-person-details"),
                context("profile-personal-details"), context("profile-loyalty-details")]}),
        )
        .expect("profile schema");
    let event = engine
        .create_schema(
            sandbox,
            &json!({"title": "Activity", "meta:immutableTags": ["union"], "allOf": [
                context("experienceevent"), context("experienceevent-web"),
                context("experienceevent-commerce")]}),
        )
        .expect("event schema");
    let dataset = |name: &str, schema: &str| {
        engine
            .create_dataset(
                sandbox,
                &json!({"name": name, "schemaRef": {"id": schema}, "tags": {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}}),
            )
            .expect("dataset")
            .id
    };
    Company {
        crm: dataset("CRM", &profile.id),
        loyalty: dataset("Loyalty", &profile.id),
        web: dataset("Web", &event.id),
    }
}

/// Writes one record through the writer; returns the profile it landed in.
fn ingest(
    engine: &Engine,
    sandbox: &SandboxName,
    dataset: &str,
    entity: Value,
    at_ms: i64,
) -> ProfileId {
    let catalog = engine.sandbox(sandbox).expect("catalog");
    let write = engine
        .prepare(&catalog, dataset, entity, format!("test:{at_ms}"), at_ms)
        .expect("a valid record");
    let (sender, receiver) = std::sync::mpsc::channel();
    engine
        .submit(Job::Ingest {
            writes: vec![write],
            reply: Box::new(move |r| sender.send(r).expect("send")),
        })
        .expect("submit");
    let mut results = receiver.recv().expect("reply").expect("committed");
    results.remove(0).expect("applied").expect("a profile")
}

fn crm_record(crm: &str, email: &str, name: &str) -> Value {
    json!({
        "identityMap": {"CRMID": [{"id": crm, "primary": true}], "Email": [{"id": email}]},
        "person": {"name": {"firstName": name}},
    })
}

fn purchase(id: &str, at_ms: i64, identities: Value) -> Value {
    json!({
        "_id": id, "timestamp": engine::time::format_rfc3339_ms(at_ms, true),
        "eventType": "commerce.purchases", "identityMap": identities,
        "commerce": {"order": {"priceTotal": 42.5, "currencyCode": "EUR"}, "purchases": {"value": 1.0}},
    })
}

fn pql(value: &str) -> Value {
    json!({"type": "PQL", "format": "pql/text", "value": value})
}

/// A computed attribute counting purchases, and a segment of the Alices.
fn definitions(engine: &Engine, sandbox: &SandboxName) -> String {
    engine
        .create_computed(
            sandbox,
            &json!({"name": "orders", "expression": pql("xEvent[eventType = \"commerce.purchases\"].count()"),
                    "duration": {"count": 6, "unit": "MONTHS"}}),
            Clearance::All,
        )
        .expect("computed attribute");
    engine
        .create_segment(
            sandbox,
            &json!({"name": "Alices", "schema": {"name": "_xdm.context.profile"}, "expression": pql("person.name.firstName = \"Alice\"")}),
            Clearance::All,
        )
        .expect("segment")
        .id
}

/// Alice: a CRM record, a loyalty record, two purchases with her email and her phone's ECID,
/// and a login on the family tablet, which Bob later logs in on (CRMID is unique, so the
/// tablet follows Bob and both graphs remember the removed link).
fn alice_and_friends(engine: &Engine, sandbox: &SandboxName, company: &Company) -> i64 {
    let t0 = now_ms() - 10 * 86_400_000;
    ingest(
        engine,
        sandbox,
        &company.crm,
        crm_record(ALICE_CRM, ALICE_EMAIL, "Alice"),
        t0,
    );
    ingest(
        engine,
        sandbox,
        &company.loyalty,
        json!({"identityMap": {"CRMID": [{"id": ALICE_CRM, "primary": true}]}, "loyalty": {"tier": "gold"}}),
        t0 + 1,
    );
    ingest(
        engine,
        sandbox,
        &company.crm,
        crm_record(BOB_CRM, BOB_EMAIL, "Bob"),
        t0 + 2,
    );
    ingest(
        engine,
        sandbox,
        &company.crm,
        crm_record(CAROL_CRM, CAROL_EMAIL, "Carol"),
        t0 + 3,
    );
    for (i, at) in [t0 + 100_000, t0 + 200_000].into_iter().enumerate() {
        ingest(
            engine,
            sandbox,
            &company.web,
            purchase(
                &format!("alice-{i}"),
                at,
                json!({"Email": [{"id": ALICE_EMAIL}], "ECID": [{"id": alice_phone()}]}),
            ),
            at,
        );
    }
    ingest(
        engine,
        sandbox,
        &company.web,
        purchase(
            "carol-0",
            t0 + 250_000,
            json!({"Email": [{"id": CAROL_EMAIL}]}),
        ),
        t0 + 250_000,
    );
    ingest(
        engine,
        sandbox,
        &company.web,
        purchase(
            "alice-tablet",
            t0 + 300_000,
            json!({"ECID": [{"id": tablet()}], "CRMID": [{"id": ALICE_CRM}]}),
        ),
        t0 + 300_000,
    );
    ingest(
        engine,
        sandbox,
        &company.web,
        purchase(
            "bob-tablet",
            t0 + 400_000,
            json!({"ECID": [{"id": tablet()}], "CRMID": [{"id": BOB_CRM}]}),
        ),
        t0 + 400_000,
    );
    t0
}

fn by(namespace: &str, value: &str) -> EntityRef {
    EntityRef::Identity(IdentityKey::new(namespace, value))
}

fn lookup(engine: &Engine, sandbox: &SandboxName, entity: &EntityRef) -> Option<Vec<u8>> {
    engine
        .profile(
            sandbox,
            entity,
            &ProfileRequest::default(),
            &engine::Redaction::none(),
        )
        .expect("lookup")
        .map(|(_, bytes)| bytes)
}

fn request(key: &str, actions: &[&str], ids: Value, include: &[&str]) -> Value {
    json!({
        "companyContexts": [{"namespace": "imsOrgID", "value": "ORG"}],
        "users": [{"key": key, "action": actions, "userIDs": ids}],
        "include": include,
        "regulation": "gdpr",
    })
}

/// Waits for a job to leave `processing` (a deadline only guards against a hang).
fn finished(engine: &Engine, id: &str) -> PrivacyJob {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = engine.privacy_job(id).expect("job");
        if job.status != JobStatus::Processing {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} is still at {:?}",
            job.step
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run_jobs(engine: &Engine, body: &Value) -> Vec<PrivacyJob> {
    let jobs = engine
        .create_privacy_jobs(body, "tester@example.com")
        .expect("created");
    let done: Vec<PrivacyJob> = jobs.iter().map(|j| finished(engine, &j.id)).collect();
    for job in &done {
        assert_eq!(job.status, JobStatus::Complete, "{}", job.to_json());
    }
    done
}

/// Runs a work order to its end.
fn run_work_order(engine: &Engine, sandbox: &SandboxName, body: &Value) -> privacy::WorkOrder {
    let order = engine
        .create_work_order(sandbox, body, "tester@example.com")
        .expect("work order");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = engine.work_order(sandbox, &order.id).expect("work order");
        if now.status == WorkOrderStatus::Completed || now.status == WorkOrderStatus::Failed {
            assert_eq!(now.status, WorkOrderStatus::Completed, "{}", now.to_json());
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "work order still {:?}",
            now.status
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn user_code(error: engine::Error) -> (Code, String) {
    match error {
        engine::Error::User { code, message, .. } => (code, message),
        other => panic!("expected a user error, got {other}"),
    }
}

/// A batch of CRM rows that all fail validation (so its error report keeps them).
fn failed_batch(engine: &Engine, sandbox: &SandboxName, dataset: &str, rows: &[Value]) -> PathBuf {
    let catalog = engine.sandbox(sandbox).expect("catalog");
    let batches = engine.batches();
    let batch = batches
        .create(
            sandbox,
            &catalog,
            &json!({"datasetId": dataset, "inputFormat": {"format": "json"}}),
        )
        .expect("batch");
    let path = batches
        .file_path(sandbox, &batch.id, dataset, "rows.json")
        .expect("file path");
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, &text).expect("write rows");
    batches
        .file_written(sandbox, &batch.id, "rows.json", text.len() as u64, true)
        .expect("written");
    batches.complete(sandbox, &batch.id).expect("complete");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = batches.get(sandbox, &batch.id).expect("batch").status;
        if status == engine::batch::BatchStatus::Failed {
            break;
        }
        assert_ne!(status, engine::batch::BatchStatus::Success);
        assert!(Instant::now() < deadline, "batch still {status:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let files = batches
        .error_files(sandbox, &batch.id)
        .expect("error files");
    assert!(!files.is_empty(), "the failed rows were reported");
    batches
        .error_file(sandbox, &batch.id, &files[0].0)
        .expect("error file")
}

#[test]
fn an_access_job_returns_every_part_of_the_profile_in_every_sandbox() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path());
    let sandbox = prod();
    let company = set_up(&engine, &sandbox);
    let segment = definitions(&engine, &sandbox);
    alice_and_friends(&engine, &sandbox, &company);
    // Alice is also known in a second sandbox, by her email alone.
    let dev = SandboxName::parse("dev").expect("sandbox");
    let dev_company = set_up(&engine, &dev);
    ingest(
        &engine,
        &dev,
        &dev_company.crm,
        crm_record("DEV-1", ALICE_EMAIL, "Alice D."),
        now_ms(),
    );
    let (alice, _) = engine
        .graph(&sandbox, &by("CRMID", ALICE_CRM))
        .expect("graph")
        .expect("alice");

    // Namespace codes are matched case-insensitively.
    let jobs = run_jobs(
        &engine,
        &request(
            "alice",
            &["access"],
            json!([{"namespace": "email", "value": ALICE_EMAIL, "type": "standard"}]),
            &["ProfileService", "identity"],
        ),
    );
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.step, privacy::Step::Complete);
    let shown = job.to_json();
    assert_eq!(shown["action"], "access");
    assert_eq!(shown["status"], "complete");
    assert_eq!(
        shown["downloadURL"],
        json!(format!("/data/core/privacy/jobs/{}/result", job.id))
    );
    assert_eq!(shown["userIds"][0]["valueHash"], "sha256");
    assert_ne!(shown["userIds"][0]["value"], json!(ALICE_EMAIL));
    for response in shown["productResponses"].as_array().expect("responses") {
        assert_eq!(response["productStatusResponse"]["status"], "complete");
    }

    let path = dir.path().join("privacy").join(&job.id).join("access.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("access.json")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "only the server's user may read the result"
        );
    }
    let result = engine.privacy_access_result(&job.id).expect("result");
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    assert_eq!(result, on_disk);
    assert_eq!(result["privacyResponse"]["jobId"], json!(job.id));
    let response = result["privacyResponse"]["response"]
        .as_array()
        .expect("response");
    assert_eq!(response.len(), 2, "one profile in each sandbox: {result}");
    let in_dev = response
        .iter()
        .find(|r| r["sandbox"] == "dev")
        .expect("dev");
    assert_eq!(in_dev["result"]["person"]["name"]["firstName"], "Alice D.");

    let entry = response
        .iter()
        .find(|r| r["sandbox"] == "prod")
        .expect("prod");
    assert_eq!(entry["mergePolicyId"], "none");
    let rapport = &entry["rapport"];
    assert_eq!(rapport["profileId"], json!(alice.to_string()));
    // The merged entity, unredacted, with the computed attribute and the membership.
    let merged = &entry["result"];
    assert_eq!(merged["person"]["name"]["firstName"], "Alice");
    assert_eq!(merged["loyalty"]["tier"], "gold");
    assert_eq!(merged["identityMap"]["Email"][0]["id"], ALICE_EMAIL);
    assert_eq!(
        merged["_rapport"]["SystemComputedAttributes"]["orders"]["value"],
        3
    );
    assert_eq!(
        merged["segmentMembership"]["ups"][&segment]["status"],
        "realized"
    );
    // Every fragment, with its dataset and primary identity.
    let fragments = rapport["fragments"].as_array().expect("fragments");
    let datasets: Vec<&str> = fragments
        .iter()
        .filter_map(|f| f["datasetId"].as_str())
        .collect();
    assert_eq!(fragments.len(), 2, "{fragments:?}");
    assert!(
        datasets.contains(&company.crm.as_str()) && datasets.contains(&company.loyalty.as_str())
    );
    for fragment in fragments {
        assert_eq!(fragment["primaryIdentity"]["id"], ALICE_CRM);
    }
    let crm = fragments
        .iter()
        .find(|f| f["datasetId"] == json!(company.crm))
        .expect("crm");
    assert_eq!(crm["record"]["person"]["name"]["firstName"], "Alice");
    // Every event, each with both of its identities.
    let events = rapport["events"].as_array().expect("events");
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event"]["_id"].as_str())
        .collect();
    assert_eq!(ids, ["alice-0", "alice-1", "alice-tablet"]);
    for event in &events[..2] {
        assert_eq!(event["event"]["identityMap"]["Email"][0]["id"], ALICE_EMAIL);
        assert_eq!(
            event["event"]["identityMap"]["ECID"][0]["id"],
            json!(alice_phone())
        );
        assert_eq!(event["primaryIdentity"]["namespace"]["code"], "Email");
    }
    assert_eq!(rapport["computedAttributes"]["orders"]["value"], 3);
    assert!(
        rapport["scores"].is_object(),
        "no model is trained: no scores, but the part is there"
    );
    assert_eq!(
        rapport["segmentMembership"]["ups"][&segment]["status"],
        "realized"
    );
    assert_eq!(
        rapport["segmentMembership"]["ups"][&segment]["name"],
        "Alices"
    );
    // The identity graph, with the link the tablet lost to Bob.
    let graph = &rapport["identityGraph"];
    let nodes: Vec<(String, String)> = graph["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|n| {
            (
                n["identity"]["namespace"]["code"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                n["identity"]["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            ("CRMID".to_owned(), ALICE_CRM.to_owned()),
            ("ECID".to_owned(), alice_phone()),
            ("Email".to_owned(), ALICE_EMAIL.to_owned()),
        ]
    );
    let removed = graph["removedLinks"].as_array().expect("removed links");
    assert!(
        removed
            .iter()
            .any(|r| r["to"]["id"] == json!(tablet()) || r["from"]["id"] == json!(tablet())),
        "{graph}"
    );
    assert!(!graph["links"].as_array().expect("links").is_empty());

    // A delete job has no result; an unknown job is not found.
    let (code, _) = user_code(
        engine
            .privacy_access_result("no-such-job")
            .expect_err("unknown"),
    );
    assert_eq!(code, Code::PrivacyJobNotFound);
}

/// Every key and value of every table of the main environment, and every file under
/// `batches/` and `privacy/`, as (where, bytes).
fn everything(engine: &Engine, data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let store = engine.store();
    let txn = store.read().expect("read");
    for table in Table::MAIN {
        txn.scan(table, b"", b"", Direction::Forward, &mut |key, value| {
            found.push((format!("{} key", table.name()), key.to_vec()));
            found.push((
                format!(
                    "{} value of {:?}",
                    table.name(),
                    String::from_utf8_lossy(key)
                ),
                value.to_vec(),
            ));
            Scan::Continue
        })
        .expect("scan");
    }
    fn walk(path: &Path, found: &mut Vec<(String, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.push((path.display().to_string(), bytes));
            }
        }
    }
    walk(&data_dir.join("batches"), &mut found);
    walk(&data_dir.join("privacy"), &mut found);
    found
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() || needle.len() > haystack.len() {
        return 0;
    }
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// Where each needle is found, ASCII case ignored.
fn traces(places: &[(String, Vec<u8>)], needles: &[Vec<u8>]) -> Vec<String> {
    let mut found = Vec::new();
    for (place, bytes) in places {
        let lowered = bytes.to_ascii_lowercase();
        for needle in needles {
            let count = occurrences(&lowered, &needle.to_ascii_lowercase());
            if count > 0 {
                found.push(format!(
                    "{} × {count} in {place}",
                    String::from_utf8_lossy(needle)
                ));
            }
        }
    }
    found
}

/// A value as given, lowercased, JSON-escaped, and escaped again (as a raw line quoted inside
/// an error row).
fn value_needles(value: &str) -> Vec<Vec<u8>> {
    let escape = |v: &str| {
        let quoted = serde_json::to_string(v).expect("string");
        quoted[1..quoted.len() - 1].to_owned()
    };
    let once = escape(value);
    let twice = escape(&once);
    let mut needles: Vec<Vec<u8>> = vec![
        value.as_bytes().to_vec(),
        value.to_lowercase().into_bytes(),
        once.into_bytes(),
        twice.into_bytes(),
    ];
    needles.sort();
    needles.dedup();
    needles
}

#[test]
fn delete_leaves_no_trace() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path());
    let sandbox = prod();
    let company = set_up(&engine, &sandbox);
    definitions(&engine, &sandbox);
    alice_and_friends(&engine, &sandbox, &company);
    // A batch whose rows were refused: the error report quotes Alice's and Carol's records.
    let report = failed_batch(
        &engine,
        &sandbox,
        &company.crm,
        &[
            json!({"identityMap": {"CRMID": [{"id": ALICE_CRM, "primary": true}], "Email": [{"id": ALICE_EMAIL}]}, "person": {"name": {"firstName": 5}}}),
            json!({"identityMap": {"CRMID": [{"id": CAROL_CRM, "primary": true}]}, "person": {"name": {"firstName": 6}}}),
        ],
    );
    // An earlier access job for Alice left its result on disk.
    let access = run_jobs(
        &engine,
        &request(
            "alice",
            &["access"],
            json!([{"namespace": "Email", "value": ALICE_EMAIL}]),
            &["ProfileService", "identity"],
        ),
    );
    assert!(engine.privacy_access_result(&access[0].id).is_ok());

    let (alice, graph) = engine
        .graph(&sandbox, &by("CRMID", ALICE_CRM))
        .expect("graph")
        .expect("alice");
    let mut prefixes: Vec<Vec<u8>> = std::iter::once(alice.0)
        .chain(graph.merged_profiles.iter().copied())
        .map(|id| {
            let mut key = b"prod\0".to_vec();
            key.extend_from_slice(&id.to_be_bytes());
            key
        })
        .collect();
    prefixes.sort();
    let mut needles: Vec<Vec<u8>> = [ALICE_CRM, ALICE_EMAIL, &alice_phone()]
        .iter()
        .flat_map(|v| value_needles(v))
        .collect();
    needles.extend(prefixes.iter().cloned());
    // Bob's graph remembers the link the tablet lost, naming Alice.
    let (_, bob_graph) = engine
        .graph(&sandbox, &by("CRMID", BOB_CRM))
        .expect("graph")
        .expect("bob");
    assert!(
        bob_graph
            .removed
            .iter()
            .any(|r| r.a.value == ALICE_CRM || r.b.value == ALICE_CRM),
        "the shared tablet: Bob's graph names Alice"
    );

    // Before: every needle is somewhere, so the scan below can see them.
    let before = traces(&everything(&engine, dir.path()), &needles);
    for value in [ALICE_CRM, ALICE_EMAIL] {
        let found_in = |place: &str| {
            before.iter().any(|t| {
                t.contains(place)
                    && value_needles(value)
                        .iter()
                        .any(|n| t.starts_with(&*String::from_utf8_lossy(n)))
            })
        };
        assert!(
            found_in("row_errors"),
            "{value} is in the error report before: {before:#?}"
        );
        assert!(
            found_in("access.json"),
            "{value} is in the access result before"
        );
        assert!(
            found_in("identities key"),
            "{value} is in the identity index before"
        );
    }
    assert!(
        before.iter().any(|t| t.contains("profiles key")),
        "{before:#?}"
    );
    let bob_before = lookup(&engine, &sandbox, &by("CRMID", BOB_CRM)).expect("bob");
    let carol_before = lookup(&engine, &sandbox, &by("Email", CAROL_EMAIL)).expect("carol");

    let jobs = run_jobs(
        &engine,
        &request(
            "alice",
            &["delete"],
            json!([{"namespace": "CRMID", "value": ALICE_CRM, "type": "unregistered"}]),
            &["ProfileService", "identity"],
        ),
    );
    let job = &jobs[0];
    assert_eq!(job.erased.profiles, 1);
    assert_eq!(job.erased.fragments, 2);
    assert_eq!(job.erased.events, 3);
    assert_eq!(job.erased.neighbours, 1, "Bob's graph was rewritten");
    assert_eq!(job.erased.error_rows, 1);
    assert_eq!(job.erased.access_results, 1);
    let shown = job.to_json();
    assert_eq!(shown["rapport"]["physicalErasure"], "pending_rewrite");
    assert_eq!(shown["rapport"]["step"], "complete");

    let after = traces(&everything(&engine, dir.path()), &needles);
    assert!(after.is_empty(), "traces left: {after:#?}");
    assert!(engine
        .graph(&sandbox, &by("CRMID", ALICE_CRM))
        .expect("graph")
        .is_none());
    assert!(engine
        .graph(&sandbox, &EntityRef::Profile(alice))
        .expect("graph")
        .is_none());
    assert!(lookup(&engine, &sandbox, &by("Email", ALICE_EMAIL)).is_none());
    // Other customers read exactly as before; Carol's refused row is still reported.
    assert_eq!(
        lookup(&engine, &sandbox, &by("CRMID", BOB_CRM)).expect("bob"),
        bob_before
    );
    assert_eq!(
        lookup(&engine, &sandbox, &by("Email", CAROL_EMAIL)).expect("carol"),
        carol_before
    );
    assert_eq!(
        lookup(&engine, &sandbox, &by("ECID", &tablet())).expect("the tablet"),
        bob_before,
        "the tablet is still Bob's"
    );
    let report_text = std::fs::read_to_string(&report).expect("report");
    assert_eq!(report_text.lines().count(), 1);
    assert!(report_text.contains(CAROL_CRM));
    // The earlier access result is gone.
    let (code, message) = user_code(
        engine
            .privacy_access_result(&access[0].id)
            .expect_err("gone"),
    );
    assert_eq!(code, Code::PrivacyJobNotFound, "{message}");
}

/// Events stored under a profile (its computed record, at the end of time, and the id entries
/// after it are not events).
fn stored_events(engine: &Engine, sandbox: &SandboxName, profile: ProfileId) -> usize {
    let store = engine.store();
    let txn = store.read().expect("read");
    let rows = store::collect_range(
        &*txn,
        Table::Events,
        &engine::keys::profile(sandbox, profile),
        &engine::keys::events_end(sandbox, profile),
    )
    .expect("scan");
    rows.len()
}

fn stored_fragments(engine: &Engine, sandbox: &SandboxName, profile: ProfileId) -> usize {
    let store = engine.store();
    let txn = store.read().expect("read");
    let prefix = engine::keys::profile(sandbox, profile);
    store::collect_prefix(&*txn, Table::Fragments, &prefix)
        .expect("scan")
        .len()
}

#[test]
fn a_delete_of_the_profile_alone_keeps_the_identities() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path());
    let sandbox = prod();
    let company = set_up(&engine, &sandbox);
    definitions(&engine, &sandbox);
    alice_and_friends(&engine, &sandbox, &company);
    let (alice, graph_before) = engine
        .graph(&sandbox, &by("CRMID", ALICE_CRM))
        .expect("graph")
        .expect("alice");
    assert_eq!(stored_fragments(&engine, &sandbox, alice), 2);
    assert_eq!(stored_events(&engine, &sandbox, alice), 3);
    let carol_before = lookup(&engine, &sandbox, &by("Email", CAROL_EMAIL)).expect("carol");

    let jobs = run_jobs(
        &engine,
        &request(
            "alice",
            &["delete"],
            json!([{"namespace": "Email", "value": ALICE_EMAIL}]),
            &["ProfileService"],
        ),
    );
    assert_eq!(jobs[0].erased.fragments, 2);
    assert_eq!(jobs[0].erased.events, 3);
    assert_eq!(jobs[0].erased.identities, 0);
    let message = &jobs[0].product_responses[0].message;
    assert!(message.contains("identity graph stays"), "{message}");

    // The graph and its identities stay; the data is gone.
    let (still, graph_after) = engine
        .graph(&sandbox, &by("Email", ALICE_EMAIL))
        .expect("graph")
        .expect("the graph stays");
    assert_eq!(still, alice);
    assert_eq!(graph_after.nodes, graph_before.nodes);
    assert_eq!(stored_fragments(&engine, &sandbox, alice), 0);
    assert_eq!(stored_events(&engine, &sandbox, alice), 0);
    let item: Value = serde_json::from_slice(
        &lookup(&engine, &sandbox, &by("CRMID", ALICE_CRM))
            .expect("the profile shows its identities"),
    )
    .expect("json");
    let entity = &item["entity"];
    assert!(
        entity.get("person").is_none() && entity.get("loyalty").is_none(),
        "{entity}"
    );
    assert_eq!(entity["identityMap"]["Email"][0]["id"], ALICE_EMAIL);
    assert!(entity["segmentMembership"]["ups"]
        .as_object()
        .is_none_or(|m| m.values().all(|s| s["status"] != "realized")));
    assert_eq!(
        lookup(&engine, &sandbox, &by("Email", CAROL_EMAIL)).expect("carol"),
        carol_before
    );
}

#[test]
fn jobs_persisted_as_queued_or_resolved_complete_after_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let sandbox = prod();
    let t0 = now_ms() - 86_400_000;
    {
        let engine = open(dir.path());
        let company = set_up(&engine, &sandbox);
        ingest(
            &engine,
            &sandbox,
            &company.crm,
            crm_record("CRM-ERIN", "erin@example.com", "Erin"),
            t0,
        );
        ingest(
            &engine,
            &sandbox,
            &company.crm,
            crm_record("CRM-FRANK", "frank@example.com", "Frank"),
            t0 + 1,
        );
        ingest(
            &engine,
            &sandbox,
            &company.web,
            purchase(
                "frank-0",
                t0 + 2,
                json!({"Email": [{"id": "frank@example.com"}]}),
            ),
            t0 + 2,
        );
        ingest(
            &engine,
            &sandbox,
            &company.crm,
            crm_record("CRM-GUS", "gus@example.com", "Gus"),
            t0 + 3,
        );
    }
    // What a stop leaves behind: one job queued, one stopped right after it was resolved.
    let (erin_job, frank_job) = {
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(
            LmdbStore::open(
                &dir.path().join("lmdb"),
                &LmdbOptions {
                    map_size_bytes: MAP_SIZE,
                },
            )
            .expect("store"),
        );
        let catalog = engine::Catalog::load(
            store.clone(),
            CatalogSettings {
                tenant_id: "rapport".into(),
            },
        )
        .expect("catalog");
        let body = json!({
            "users": [
                {"key": "erin", "action": ["delete"], "userIDs": [{"namespace": "Email", "value": "erin@example.com"}]},
                {"key": "frank", "action": ["delete"], "userIDs": [{"namespace": "Email", "value": "frank@example.com"}]},
            ],
            "include": ["ProfileService", "identity"],
            "regulation": "ccpa",
        });
        let mut jobs = privacy::jobs::parse_request(&body, "tester", now_ms()).expect("jobs");
        assert_eq!(jobs.len(), 2);
        let resolution = privacy::resolve(store.as_ref(), &catalog, &jobs[1]).expect("resolve");
        assert_eq!(resolution.profile_count(), 1);
        jobs[1].resolution = Some(resolution);
        jobs[1].step = privacy::Step::Resolved;
        privacy::insert_jobs(store.as_ref(), &jobs).expect("stored");
        (jobs[0].id.clone(), jobs[1].id.clone())
    };

    let engine = open(dir.path());
    for id in [&erin_job, &frank_job] {
        let job = finished(&engine, id);
        assert_eq!(job.status, JobStatus::Complete, "{}", job.to_json());
        assert_eq!(job.erased.profiles, 1, "{}", job.to_json());
    }
    assert!(engine
        .graph(&sandbox, &by("Email", "erin@example.com"))
        .expect("graph")
        .is_none());
    assert!(engine
        .graph(&sandbox, &by("Email", "frank@example.com"))
        .expect("graph")
        .is_none());
    assert!(engine
        .graph(&sandbox, &by("Email", "gus@example.com"))
        .expect("graph")
        .is_some());
    let listed = engine
        .privacy_jobs(
            &privacy::PrivacyJobFilter::parse(Some("ccpa"), Some("complete"), None, None)
                .expect("filter"),
        )
        .expect("list");
    assert_eq!(listed.total, 2);
    let empty = engine
        .privacy_jobs(
            &privacy::PrivacyJobFilter::parse(Some("gdpr"), None, None, None).expect("filter"),
        )
        .expect("list");
    assert_eq!(empty.total, 0);
}

#[test]
fn access_and_delete_in_one_request_run_access_first_and_the_result_expires() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path());
    let sandbox = prod();
    let company = set_up(&engine, &sandbox);
    ingest(
        &engine,
        &sandbox,
        &company.crm,
        crm_record("CRM-HAL", "hal@example.com", "Hal"),
        now_ms(),
    );
    let body = request(
        "hal",
        &["delete", "access"],
        json!([{"namespace": "Email", "value": "hal@example.com"}]),
        &["ProfileService", "identity"],
    );
    let created = engine
        .create_privacy_jobs(&body, "tester")
        .expect("created");
    let answer = privacy::jobs::created_answer(&created);
    assert_eq!(answer["totalRecords"], 2);
    assert_eq!(answer["requestStatus"], 1);
    assert_eq!(
        answer["jobs"][0]["customer"]["user"],
        json!({"key": "hal", "action": ["access"]})
    );
    assert_eq!(
        answer["jobs"][1]["customer"]["user"],
        json!({"key": "hal", "action": ["delete"]})
    );
    let access = finished(&engine, &created[0].id);
    let delete = finished(&engine, &created[1].id);
    assert_eq!(delete.status, JobStatus::Complete);
    let result = engine
        .privacy_access_result(&access.id)
        .expect("the subject's own result stays");
    let entry = &result["privacyResponse"]["response"][0];
    assert_eq!(
        entry["result"]["person"]["name"]["firstName"], "Hal",
        "access ran before delete"
    );
    assert!(engine
        .graph(&sandbox, &by("Email", "hal@example.com"))
        .expect("graph")
        .is_none());

    // Results are kept for the retention only.
    let path = dir.path().join("privacy").join(&access.id);
    assert!(path.join("access.json").is_file());
    engine.set_privacy_result_retention(Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(60);
    while path.exists() {
        assert!(
            Instant::now() < deadline,
            "the expired result is still there"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, message) = user_code(
        engine
            .privacy_access_result(&access.id)
            .expect_err("expired"),
    );
    assert_eq!(code, Code::PrivacyJobNotFound);
    assert!(message.contains("is no longer kept"), "{message}");
}

fn assert_invalid(engine: &Engine, body: Value, code: Code, expected: &str) {
    let error = engine
        .create_privacy_jobs(&body, "tester")
        .expect_err("refused");
    let (found, message) = user_code(error);
    assert_eq!(found, code, "{message}");
    assert!(
        message.contains(expected),
        "{message:?} should contain {expected:?}"
    );
}

#[test]
fn invalid_bodies_are_refused_naming_the_field_and_the_rule() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path());
    let sandbox = prod();
    let company = set_up(&engine, &sandbox);
    let id = |ns: &str, value: &str| json!([{"namespace": ns, "value": value}]);
    let good = request(
        "k",
        &["access"],
        id("Email", "a@example.com"),
        &["ProfileService"],
    );
    let with = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).expect("pointer") = value;
        body
    };
    let invalid = Code::InvalidPrivacyJob;
    assert_invalid(&engine, json!([]), invalid, "#: expected an object");
    assert_invalid(
        &engine,
        with("/include/0", json!("aepDataLake")),
        invalid,
        "/include/0: \"aepDataLake\" is not a product",
    );
    assert_invalid(
        &engine,
        with("/include", json!([])),
        invalid,
        "/include: must name at least one product",
    );
    assert_invalid(
        &engine,
        with("/regulation", json!(5)),
        invalid,
        "/regulation: expected a string, found a number",
    );
    assert_invalid(
        &engine,
        with("/regulation", json!("gdpr!")),
        invalid,
        "/regulation: \"gdpr!\" is not a regulation name",
    );
    assert_invalid(
        &engine,
        with("/users", json!([])),
        invalid,
        "/users: must name at least one data subject",
    );
    assert_invalid(
        &engine,
        with("/users/0/key", json!("")),
        invalid,
        "/users/0/key: must not be empty",
    );
    assert_invalid(
        &engine,
        with("/users/0/action", json!(["erase"])),
        invalid,
        "/users/0/action/0: \"erase\" is not an action",
    );
    let ten: Vec<Value> = (0..10)
        .map(|i| json!({"namespace": "Email", "value": format!("{i}@example.com")}))
        .collect();
    assert_invalid(
        &engine,
        with("/users/0/userIDs", Value::Array(ten)),
        invalid,
        "/users/0/userIDs: at most 9 identities per data subject, found 10",
    );
    assert_invalid(
        &engine,
        with("/users/0/userIDs/0/value", json!(null)),
        invalid,
        "/users/0/userIDs/0/value: required",
    );
    assert_invalid(
        &engine,
        with("/users/0/userIDs/0/namespace", json!("CRMID")),
        invalid,
        "/users/0/userIDs/0/type: \"CRMID\" is not a standard namespace",
    );
    assert_invalid(
        &engine,
        with(
            "/users/0/userIDs",
            json!([{"namespace": "Email", "value": "a@example.com", "type": "custom"}]),
        ),
        invalid,
        "/users/0/userIDs/0/type: expected \"standard\" or \"unregistered\"",
    );
    assert!(
        engine
            .privacy_jobs(&privacy::PrivacyJobFilter::default())
            .expect("list")
            .jobs
            .is_empty(),
        "nothing refused was stored"
    );
    let (code, _) = user_code(engine.privacy_job("nope").expect_err("unknown"));
    assert_eq!(code, Code::PrivacyJobNotFound);
    let (code, message) = user_code(
        privacy::PrivacyJobFilter::parse(None, Some("done"), None, None).expect_err("bad status"),
    );
    assert_eq!(code, Code::InvalidParameter);
    assert!(message.starts_with("status: \"done\""), "{message}");

    // Work orders.
    let order = |body: Value| {
        user_code(
            engine
                .create_work_order(&sandbox, &body, "tester")
                .expect_err("refused"),
        )
    };
    let identity = json!([{"namespace": {"code": "email"}, "id": "a@example.com"}]);
    let (code, message) =
        order(json!({"action": "delete_dataset", "datasetId": "ALL", "identities": identity}));
    assert_eq!(code, Code::InvalidWorkOrder);
    assert!(
        message.starts_with("/action: \"delete_dataset\" is not a work order action"),
        "{message}"
    );
    let (code, message) =
        order(json!({"action": "delete_identity", "datasetId": "nope", "identities": identity}));
    assert_eq!(code, Code::InvalidWorkOrder);
    assert!(
        message.starts_with("/datasetId: no dataset \"nope\""),
        "{message}"
    );
    let (code, message) = order(
        json!({"action": "delete_identity", "datasetId": company.crm, "identities": [{"namespace": {"code": "Nope"}, "id": "x"}]}),
    );
    assert_eq!(code, Code::InvalidWorkOrder);
    assert!(
        message.starts_with("/identities/0/namespace/code: no identity namespace \"Nope\""),
        "{message}"
    );
    let (code, message) = order(
        json!({"action": "delete_identity", "datasetId": "ALL", "identities": [{"namespace": {"code": "email"}, "id": ""}]}),
    );
    assert_eq!(code, Code::InvalidWorkOrder);
    assert!(
        message.starts_with("/identities/0/id: must not be empty"),
        "{message}"
    );
    let many: Vec<String> = (0..100_001).map(|i| format!("{i}@example.com")).collect();
    let (code, message) = order(
        json!({"action": "delete_identity", "datasetId": "ALL", "namespacesIdentities": [{"namespace": {"code": "email"}, "IDs": many}]}),
    );
    assert_eq!(code, Code::TooManyItems);
    assert!(
        message.contains("at most 100000 identities per work order, found 100001"),
        "{message}"
    );
    let (code, _) = user_code(engine.work_order(&sandbox, "DI-nope").expect_err("unknown"));
    assert_eq!(code, Code::WorkOrderNotFound);
}

#[test]
fn a_work_order_on_one_dataset_removes_that_datasets_fragment_only() {
    let dir = tempfile::tempdir().expect("dir");
    let engine = open(dir.path());
    let sandbox = prod();
    let company = set_up(&engine, &sandbox);
    alice_and_friends(&engine, &sandbox, &company);
    let (alice, _) = engine
        .graph(&sandbox, &by("CRMID", ALICE_CRM))
        .expect("graph")
        .expect("alice");
    let carol_before = lookup(&engine, &sandbox, &by("Email", CAROL_EMAIL)).expect("carol");

    let order = run_work_order(
        &engine,
        &sandbox,
        &json!({"action": "delete_identity", "datasetId": company.loyalty, "displayName": "Loyalty cleanup",
                "description": "ticket 12345", "identities": [{"namespace": {"code": "crmid"}, "id": ALICE_CRM}]}),
    );
    assert_eq!(order.totals.fragments, 1);
    assert_eq!(order.totals.events, 0);
    assert_eq!(order.totals.profiles, 1);
    assert!(
        order.identities.is_empty(),
        "a finished work order keeps no identity"
    );
    let shown = order.to_json();
    assert_eq!(shown["operationCount"], 1);
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["datasetId"], json!(company.loyalty));
    assert_eq!(stored_fragments(&engine, &sandbox, alice), 1);
    let item: Value =
        serde_json::from_slice(&lookup(&engine, &sandbox, &by("CRMID", ALICE_CRM)).expect("alice"))
            .expect("json");
    assert!(
        item["entity"].get("loyalty").is_none(),
        "the view was rebuilt: {item}"
    );
    assert_eq!(item["entity"]["person"]["name"]["firstName"], "Alice");
    assert_eq!(
        stored_events(&engine, &sandbox, alice),
        3,
        "events are under the email, not the CRM id"
    );

    // Every dataset, by the email: the events stored against it go, the CRM record stays.
    let order = run_work_order(
        &engine,
        &sandbox,
        &json!({"action": "delete_identity", "datasetId": "ALL",
                "namespacesIdentities": [{"namespace": {"code": "Email"}, "IDs": [ALICE_EMAIL, "nobody@example.com"]}]}),
    );
    assert_eq!(order.totals.events, 2);
    assert_eq!(order.totals.fragments, 0);
    assert_eq!(order.totals.not_found, 1);
    assert_eq!(
        stored_events(&engine, &sandbox, alice),
        1,
        "the tablet login is under the CRM id"
    );
    assert_eq!(stored_fragments(&engine, &sandbox, alice), 1);
    assert_eq!(
        lookup(&engine, &sandbox, &by("Email", CAROL_EMAIL)).expect("carol"),
        carol_before
    );
}
