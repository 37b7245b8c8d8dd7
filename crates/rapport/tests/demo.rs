//! The demo company (`rapport demo`): a small demo loaded through the engine and checked through
//! the router, hard case by hard case; the generator's determinism; the files of `--out`, and
//! their Parquet files loading through the batch API exactly like their JSON Lines.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;

use axum::http::StatusCode;
use rapport::demo::generator::{
    crm_id, DemoDataset, Generator, Record, CORRECTED_EMAIL, DISAGREEING_EMAIL, MISTYPED_EMAIL,
    OVER_LIMIT_DEVICES, PLACEHOLDER_EMAIL,
};
use rapport::demo::{self, DemoOptions, DemoSummary};
use rapport_types::SandboxName;
use serde_json::{json, Value};

use crate::common::batch::run_batch;
use crate::common::{encode, only_entity, TestServer};

const SEED: u64 = 7;
const CUSTOMERS: u64 = 300;

fn options() -> DemoOptions {
    DemoOptions {
        customers: CUSTOMERS,
        seed: SEED,
        out: None,
    }
}

async fn load(server: &TestServer) -> DemoSummary {
    let engine = server.engine();
    tokio::task::spawn_blocking(move || demo::load(&engine, &options()))
        .await
        .expect("join")
        .expect("the demo loads")
}

/// The explained identity graph of an identity.
async fn graph(server: &TestServer, namespace: &str, id: &str) -> Value {
    let reply = server
        .get(&format!(
            "/data/core/identity/graph?ns={namespace}&id={}",
            encode(id)
        ))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{namespace} {id}: {}",
        reply.body
    );
    reply.body
}

/// `(namespace, id)` of every identity of an explained graph.
fn graph_identities(graph: &Value) -> Vec<(String, String)> {
    graph["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| {
            (
                i["namespace"].as_str().expect("namespace").to_owned(),
                i["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect()
}

fn has(identities: &[(String, String)], namespace: &str, id: &str) -> bool {
    identities.iter().any(|(n, i)| n == namespace && i == id)
}

fn all_records(generator: &Generator) -> Vec<Record> {
    generator.records(0..generator.customers()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_hard_cases_are_visible_through_the_api() {
    let server = TestServer::start();
    let summary = load(&server).await;
    let generator = Generator::new(SEED, CUSTOMERS).expect("generator");
    let cast = generator.cast().clone();

    // What was loaded is what the generator generates.
    assert!(!summary.already_loaded);
    let mut generated: HashMap<&str, u64> = HashMap::new();
    for record in all_records(&generator) {
        *generated.entry(record.dataset.name()).or_default() += 1;
    }
    for (name, count) in &summary.records {
        assert_eq!(generated.get(name.as_str()), Some(count), "{name}");
        assert!(*count > 0, "{name} is empty");
    }

    // Every printed lookup answers.
    assert_eq!(summary.interesting.len(), 8);
    for customer in &summary.interesting {
        for url in demo::lookup_urls("", &customer.namespace, &customer.id) {
            let reply = server.get(&url).await;
            assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.body);
        }
    }

    // The family tablet follows the most recent login; the earlier user keeps their data.
    let tablet = generator.family_tablet_ecid();
    let (earlier, later) = (crm_id(cast.tablet_earlier), crm_id(cast.tablet_later));
    let tablet_graph = graph(&server, "ECID", &tablet).await;
    let identities = graph_identities(&tablet_graph);
    assert!(has(&identities, "CRMID", &later), "{tablet_graph}");
    assert!(!has(&identities, "CRMID", &earlier), "{tablet_graph}");
    let removed = tablet_graph["removedLinks"]
        .as_array()
        .expect("removedLinks");
    assert!(
        removed.iter().any(|r| {
            r["reason"]
                .as_str()
                .unwrap_or("")
                .contains("CRMID is unique")
                && [&r["from"]["id"], &r["to"]["id"]].contains(&&Value::from(earlier.clone()))
        }),
        "{tablet_graph}"
    );
    let daniel = server.entity("CRMID", &earlier).await;
    assert_eq!(daniel["person"]["name"]["firstName"], "Daniel");
    assert!(!daniel["identityMap"]["ECID"]
        .as_array()
        .expect("ECID")
        .iter()
        .any(|i| i["id"] == tablet.as_str()));
    let (events, _) = server
        .all_events("CRMID", &earlier, "orderby=timestamp&limit=100")
        .await;
    assert!(
        events
            .iter()
            .any(|e| e["entity"]["identityMap"]["ECID"][0]["id"] == tablet.as_str()),
        "Daniel's logged-in tablet events stay his"
    );
    let grace = server.entity("ECID", &tablet).await;
    assert_eq!(grace["person"]["name"]["firstName"], "Grace");
    assert_eq!(grace["homeAddress"], daniel["homeAddress"], "one household");

    // The mistyped email is in the graph next to the corrected one; the profile has the fix.
    let jon_graph = graph(&server, "Email", CORRECTED_EMAIL).await;
    let identities = graph_identities(&jon_graph);
    assert!(has(&identities, "Email", MISTYPED_EMAIL), "{jon_graph}");
    assert!(has(&identities, "CRMID", &crm_id(cast.corrected_email)));
    let jon = server.entity("Email", MISTYPED_EMAIL).await;
    assert_eq!(jon["personalEmail"]["address"], CORRECTED_EMAIL);
    let (events, _) = server
        .all_events("Email", CORRECTED_EMAIL, "orderby=timestamp&limit=100")
        .await;
    assert!(events
        .iter()
        .any(|e| e["entity"]["eventType"] == "directMarketing.emailBounced"));

    // test@test.com is refused (the default block list) and links nobody.
    let lauren = crm_id(cast.placeholder_email);
    let lauren_graph = graph(&server, "CRMID", &lauren).await;
    assert!(!has(
        &graph_identities(&lauren_graph),
        "Email",
        PLACEHOLDER_EMAIL
    ));
    let refused = lauren_graph["refusedIdentities"]
        .as_array()
        .expect("refusedIdentities");
    assert!(
        refused.iter().any(|r| r["namespace"] == "Email"
            && r["id"] == PLACEHOLDER_EMAIL
            && r["reason"].as_str().unwrap_or("").contains("block list")),
        "{lauren_graph}"
    );
    assert_eq!(
        server
            .profile("Email", PLACEHOLDER_EMAIL)
            .await
            .status
            .as_u16(),
        404
    );
    assert_ne!(
        server.profile_id("CRMID", &lauren).await,
        server
            .profile_id("CRMID", &crm_id(cast.second_placeholder))
            .await,
        "two customers who typed test@test.com stay two profiles"
    );
    let lauren_entity = server.entity("CRMID", &lauren).await;
    assert_eq!(lauren_entity["personalEmail"]["address"], PLACEHOLDER_EMAIL);

    // "null" is refused by the engine as a placeholder.
    let marco_graph = graph(&server, "CRMID", &crm_id(cast.null_email)).await;
    assert!(
        marco_graph["refusedIdentities"]
            .as_array()
            .expect("refusedIdentities")
            .iter()
            .any(
                |r| r["id"] == "null" && r["reason"].as_str().unwrap_or("").contains("placeholder")
            ),
        "{marco_graph}"
    );

    // More cookies than the limit: exactly 50 identities, the oldest cookies unlinked.
    let alex = crm_id(cast.over_limit);
    let alex_graph = graph(&server, "CRMID", &alex).await;
    let identities = graph_identities(&alex_graph);
    assert_eq!(identities.len(), 50, "{alex_graph}");
    let limit_removals = alex_graph["removedLinks"]
        .as_array()
        .expect("removedLinks")
        .iter()
        .filter(|r| {
            r["reason"]
                .as_str()
                .unwrap_or("")
                .contains("limit of 50 identities")
        })
        .count();
    assert!(limit_removals >= 10, "{alex_graph}");
    assert!(!has(
        &identities,
        "ECID",
        &generator.ecid(cast.over_limit, 0)
    ));
    assert!(has(
        &identities,
        "ECID",
        &generator.ecid(cast.over_limit, OVER_LIMIT_DEVICES - 1)
    ));
    let entity = server.entity("CRMID", &alex).await;
    assert_eq!(crate::common::identities(&entity).len(), 50);

    // The two sources disagree, and the default (timestamp-ordered) policy takes the newer.
    let maria = server.entity("Email", DISAGREEING_EMAIL).await;
    let records = all_records(&generator);
    let of = |dataset: DemoDataset, key: &str, id: &str| -> Value {
        records
            .iter()
            .find(|r| {
                r.dataset == dataset && r.value["identityMap"][key][0]["id"].as_str() == Some(id)
            })
            .expect("record")
            .value
            .clone()
    };
    let maria_crm = of(DemoDataset::Crm, "CRMID", &crm_id(cast.disagreeing));
    let loyalty_id = maria_crm["identityMap"]["LoyaltyID"][0]["id"]
        .as_str()
        .expect("member")
        .to_owned();
    let maria_loyalty = of(DemoDataset::Loyalty, "LoyaltyID", &loyalty_id);
    assert_ne!(
        maria_crm["loyalty"]["tier"],
        maria_loyalty["loyalty"]["tier"]
    );
    assert_eq!(maria["loyalty"]["tier"], maria_loyalty["loyalty"]["tier"]);
    assert_eq!(maria["homeAddress"], maria_loyalty["homeAddress"]);
    assert_eq!(
        maria["person"]["birthDate"],
        maria_crm["person"]["birthDate"]
    );

    // The same holds across the whole demo, in both directions.
    let mut crm_newer = 0;
    let mut loyalty_newer = 0;
    for crm in records.iter().filter(|r| r.dataset == DemoDataset::Crm) {
        let Some(loyalty_id) = crm.value["identityMap"]["LoyaltyID"][0]["id"].as_str() else {
            continue;
        };
        let loyalty = of(DemoDataset::Loyalty, "LoyaltyID", loyalty_id);
        let crm_tier = &crm.value["loyalty"]["tier"];
        let loyalty_tier = &loyalty["loyalty"]["tier"];
        if crm_tier == loyalty_tier {
            continue;
        }
        let updated = |v: &Value| {
            v["extSourceSystemAudit"]["lastUpdatedDate"]
                .as_str()
                .expect("lastUpdatedDate")
                .to_owned()
        };
        let crm_id = crm.value["identityMap"]["CRMID"][0]["id"]
            .as_str()
            .expect("CRMID");
        let merged = server.entity("CRMID", crm_id).await;
        if updated(&crm.value) > updated(&loyalty) {
            crm_newer += 1;
            assert_eq!(&merged["loyalty"]["tier"], crm_tier, "{crm_id}");
        } else {
            loyalty_newer += 1;
            assert_eq!(&merged["loyalty"]["tier"], loyalty_tier, "{crm_id}");
        }
    }
    assert!(
        crm_newer > 0 && loyalty_newer > 0,
        "{crm_newer} {loyalty_newer}"
    );

    // Loading again loads nothing and gives the same summary.
    let again = load(&server).await;
    assert!(again.already_loaded);
    assert_eq!(again.records, summary.records);
    assert_eq!(again.interesting, summary.interesting);
    let reply = server
        .get("/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=CRM-0000001&entityIdNS=CRMID")
        .await;
    let (_, item) = only_entity(&reply.body);
    assert_eq!(
        item["entity"]["identityMap"]["CRMID"][0]["id"],
        "CRM-0000001"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_segments_are_defined_evaluated_and_shown_on_profiles() {
    let server = TestServer::start();
    let summary = load(&server).await;
    assert_eq!(summary.segments, demo::segments::DEMO_SEGMENTS.len());
    let list = server
        .get("/data/core/ups/segment/definitions?limit=100&sort=name:asc")
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let definitions = list.body["segments"].as_array().expect("segments").clone();
    assert_eq!(definitions.len(), demo::segments::DEMO_SEGMENTS.len());
    for definition in &definitions {
        assert_eq!(
            definition["lifecycleState"], "published",
            "every demo segment compiles against the demo's schemas: {definition}"
        );
    }
    // The job that evaluated them over every customer.
    let mut job = Value::Null;
    for _ in 0..600 {
        let jobs = server.get("/data/core/ups/segment/jobs").await;
        job = jobs.body["children"][0].clone();
        if job["status"] == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    let id_of = |name: &str| -> String {
        definitions
            .iter()
            .find(|d| d["name"] == name)
            .and_then(|d| d["id"].as_str())
            .expect(name)
            .to_owned()
    };
    let counts = &job["metrics"]["segmentedProfileCounter"];
    let total = job["metrics"]["totalProfiles"]
        .as_u64()
        .expect("totalProfiles");
    assert!(total >= CUSTOMERS, "{job}");
    // Spend is skewed: some customers but far from all have spent over $2,000.
    let high = counts[id_of("High lifetime spend")]
        .as_u64()
        .expect("count");
    assert!(
        high > 0 && high < total / 2,
        "High lifetime spend: {high} of {total}"
    );
    let canadians = counts[id_of("Canadian loyalty members")]
        .as_u64()
        .expect("count");
    assert!(canadians > 0 && canadians < total, "{canadians} of {total}");

    // A member's profile lists the membership.
    let preview = server
        .post(
            "/data/core/ups/preview",
            serde_json::json!({"predicateExpression": format!("inSegment(\"{}\")", id_of("High lifetime spend"))}),
        )
        .await;
    assert_eq!(preview.status, StatusCode::CREATED, "{}", preview.body);
    let preview_id = preview.body["previewId"]
        .as_str()
        .expect("previewId")
        .to_owned();
    let mut sample = Value::Null;
    for _ in 0..300 {
        sample = server
            .get(&format!("/data/core/ups/preview/{preview_id}"))
            .await
            .body;
        if sample["state"] == "RESULT_READY" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let first = sample["results"][0]
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|v| v["entityId"].as_str())
        .expect("a member")
        .to_owned();
    let profile = server
        .get(&format!(
            "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={first}"
        ))
        .await;
    let (_, item) = only_entity(&profile.body);
    assert_eq!(
        item["entity"]["segmentMembership"]["ups"][id_of("High lifetime spend")]["status"],
        "realized",
        "{}",
        item["entity"]["segmentMembership"]
    );
}

#[test]
fn demo_generation_is_deterministic() {
    let first = all_records(&Generator::new(SEED, CUSTOMERS).expect("generator"));
    let second = all_records(&Generator::new(SEED, CUSTOMERS).expect("generator"));
    assert!(first.len() > CUSTOMERS as usize * 10, "{}", first.len());
    assert!(first == second, "the same seed gives the same records");
    let other = all_records(&Generator::new(SEED + 1, CUSTOMERS).expect("generator"));
    assert!(first != other, "another seed gives another company");

    // A customer's records do not depend on which others are generated with them.
    let generator = Generator::new(SEED, CUSTOMERS).expect("generator");
    let mut by_range = Vec::new();
    for start in (0..CUSTOMERS).step_by(70) {
        generator.for_each_record(start..start + 70, |_, record| by_range.push(record));
    }
    assert!(first == by_range);

    // Every dataset has records, and every record has its dataset's shape.
    for dataset in DemoDataset::ALL {
        let records: Vec<&Record> = first.iter().filter(|r| r.dataset == dataset).collect();
        assert!(!records.is_empty(), "{dataset:?}");
        for record in records {
            assert!(record.value["identityMap"].is_object(), "{}", record.value);
            if !dataset.is_profile() {
                assert!(record.value["_id"].is_string() && record.value["timestamp"].is_string());
            }
        }
    }
}

/// Every record of a Parquet file, as the batch path reads it.
fn parquet_records(path: &Path) -> Vec<Value> {
    let mut values = Vec::new();
    formats::read_file(
        path,
        &formats::InputFormat::Parquet,
        &formats::NoColumnTypes,
        &mut |row| {
            values.push(row.value.expect("a good row"));
            ControlFlow::Continue(())
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    values
}

/// The number of cells of a CSV line (quotes respected).
fn csv_cells(line: &str) -> usize {
    let mut cells = 1;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => cells += 1,
            _ => {}
        }
    }
    cells
}

#[test]
fn demo_files_have_a_line_per_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let generator = Generator::new(SEED, CUSTOMERS).expect("generator");
    let written = demo::files::write(dir.path(), &generator).expect("files");
    let records = all_records(&generator);
    assert_eq!(written.datasets.len(), DemoDataset::ALL.len());
    for file in &written.datasets {
        let expected: Vec<&Record> = records
            .iter()
            .filter(|r| r.dataset == file.dataset)
            .collect();
        assert_eq!(file.records, expected.len() as u64);

        let json_lines = std::fs::read_to_string(&file.json_lines).expect("jsonl");
        let lines: Vec<&str> = json_lines.lines().collect();
        assert_eq!(lines.len(), expected.len(), "{}", file.json_lines.display());
        for (line, record) in lines.iter().zip(&expected) {
            let value: Value = serde_json::from_str(line).expect("a JSON object per line");
            assert_eq!(value, record.value);
        }

        let csv = std::fs::read_to_string(&file.csv).expect("csv");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), expected.len() + 1, "{}", file.csv.display());
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(header.len(), file.csv_columns);
        for line in &lines[1..] {
            assert_eq!(csv_cells(line), header.len(), "{line}");
        }
        assert!(header.contains(&"identityMap.Email.0.id") || !file.dataset.is_profile());

        // The Parquet file reads back, through the batch reader, as exactly the records.
        let parquet = parquet_records(&file.parquet);
        assert_eq!(parquet.len(), expected.len(), "{}", file.parquet.display());
        for (value, record) in parquet.iter().zip(&expected) {
            assert_eq!(value, &record.value, "{}", file.parquet.display());
        }
        assert!(file.parquet_columns >= header.len() / 2, "{file:?}");
    }
    let crm = std::fs::read_to_string(dir.path().join("crm-customers.csv")).expect("csv");
    let header = crm.lines().next().expect("header");
    for column in [
        "person.name.firstName",
        "identityMap.Email.0.id",
        "identityMap.CRMID.0.primary",
        "loyalty.loyaltyID.0",
    ] {
        assert!(
            header.split(',').any(|c| c == column),
            "{column} in {header}"
        );
    }
    let web = std::fs::read_to_string(dir.path().join("web-and-app-events.csv")).expect("csv");
    let header = web.lines().next().expect("header");
    assert!(header.split(',').any(|c| c == "productListItems.1.SKU"));
    assert!(!dir.path().read_dir().expect("dir").any(|e| e
        .expect("entry")
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
}

/// `rapport demo --out` (the command line's code path) writes a Parquet file per dataset that
/// loads through the batch API exactly like the JSON Lines beside it: every batch lands every
/// record, and every customer's merged profile and events are the same either way.
#[tokio::test(flavor = "multi_thread")]
async fn demo_parquet_files_load_like_their_json_lines() {
    // Fewer customers than the other tests: every batch is loaded twice, in a debug build.
    const CUSTOMERS: u64 = 100;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = DemoOptions {
        customers: CUSTOMERS,
        seed: SEED,
        out: Some(dir.path().to_owned()),
    };
    let report = tokio::task::spawn_blocking(move || demo::write_files(&out))
        .await
        .expect("join")
        .expect("the files are written");
    let generator = Generator::new(SEED, CUSTOMERS).expect("generator");
    let mut counts = [0u64; 5];
    for record in all_records(&generator) {
        counts[record.dataset.index()] += 1;
    }
    for dataset in DemoDataset::ALL {
        for extension in ["jsonl", "csv", "parquet"] {
            let name = format!("{}.{extension}", dataset.file_stem());
            assert!(report.contains(&name), "{name} in {report}");
        }
    }

    let from_json_lines = TestServer::start();
    let from_parquet = TestServer::start();
    for (server, extension, format) in [
        (&from_json_lines, "jsonl", "json"),
        (&from_parquet, "parquet", "parquet"),
    ] {
        let datasets = demo::setup::ensure(
            &server.engine(),
            &SandboxName::default_sandbox(),
            &generator,
        )
        .expect("the demo's datasets");
        for dataset in DemoDataset::ALL {
            let name = format!("{}.{extension}", dataset.file_stem());
            let bytes = std::fs::read(dir.path().join(&name)).expect("the file");
            let (_, state) = run_batch(
                server,
                datasets.id(dataset),
                json!({ "format": format }),
                json!({}),
                vec![(name.as_str(), bytes)],
            )
            .await;
            assert_eq!(state["status"], json!("success"), "{name}: {state}");
            assert_eq!(
                state["metrics"]["outputRecordCount"],
                json!(counts[dataset.index()]),
                "{name}: {state}"
            );
            assert_eq!(
                state["metrics"]["failedRecordCount"],
                json!(0),
                "{name}: {state}"
            );
        }
    }

    let mut events = 0;
    for customer in 0..CUSTOMERS {
        let id = crm_id(customer);
        let profile = from_json_lines.entity("CRMID", &id).await;
        assert_eq!(profile, from_parquet.entity("CRMID", &id).await, "{id}");
        assert!(
            profile["person"]["name"]["lastName"].is_string(),
            "{id}: {profile}"
        );
        let query = "orderby=timestamp&limit=100";
        let (from_lines, _) = from_json_lines.all_events("CRMID", &id, query).await;
        let (from_columns, _) = from_parquet.all_events("CRMID", &id, query).await;
        let entities = |children: &[Value]| -> Vec<(Value, Value)> {
            children
                .iter()
                .map(|c| (c["entityId"].clone(), c["entity"].clone()))
                .collect()
        };
        assert_eq!(entities(&from_lines), entities(&from_columns), "{id}");
        events += from_lines.len();
    }
    assert!(events > CUSTOMERS as usize * 10, "{events} events compared");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_computed_attributes_and_model_scores_are_on_profiles() {
    let server = TestServer::start();
    load(&server).await;
    // Every demo attribute is backfilled...
    let mut enabled = 0;
    for _ in 0..600 {
        let list = server.get("/data/core/ca/attributes?limit=40").await;
        let attributes = list.body["computedAttributes"]
            .as_array()
            .expect("list")
            .clone();
        assert_eq!(attributes.len(), demo::computed::DEMO_ATTRIBUTES.len());
        enabled = attributes
            .iter()
            .filter(|a| a["status"]["job"] == "ENABLED")
            .count();
        if enabled == attributes.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(enabled, demo::computed::DEMO_ATTRIBUTES.len());
    // ...and the models are trained, with their reports.
    let mut models = Value::Null;
    for _ in 0..600 {
        let reply = server.get("/data/rapport/models").await;
        if reply.status == StatusCode::OK {
            models = reply.body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        models["lifetimeValue"]["report"]["deciles"].is_array(),
        "{models}"
    );
    assert!(
        models["churn"]["report"]["evaluation"]["auc"].is_number(),
        "{models}"
    );
    // A customer with orders shows both: the attributes, and the lifetime value once scored.
    let mut shown = Value::Null;
    'wait: for _ in 0..600 {
        for n in 1..=20 {
            let reply = server
                .get(&format!("/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=CRM-{n:07}&entityIdNS=CRMID&withCA=true"))
                .await;
            if reply.status != StatusCode::OK {
                continue;
            }
            let (_, item) = only_entity(&reply.body);
            let values = &item["entity"]["_rapport"]["SystemComputedAttributes"];
            if values["orders"]["value"].as_u64().unwrap_or(0) > 0
                && values.get("lifetimeValue").is_some()
            {
                shown = values.clone();
                break 'wait;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        shown["lifetimeValue"]["modelVersion"], models["version"],
        "{shown}"
    );
    assert!(
        shown["lifetimeValue"]["historicalValue"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0,
        "{shown}"
    );
    assert!(shown["spendLastMonth"]["value"].is_number(), "{shown}");
}
