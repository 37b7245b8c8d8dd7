//! Guardrails, enforced loudly: each one biting through the real router, with what it does
//! (refusal, flag, trim), the warning it leaves on the profile, and its counter in `/metrics`,
//! which itself needs `metrics.read`.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use rapport::options::ServeOptions;

use crate::common::batch::run_batch;
use crate::common::{assert_problem, ecid, iso, only_entity, Reply, TestServer};

const DEFINITIONS: &str = "/data/core/ups/segment/definitions";

/// A server with these guardrail options (everything else as the defaults).
fn server_with(options: ServeOptions) -> TestServer {
    TestServer::with_options(options)
}

/// `/metrics` as text, read with the master key.
async fn metrics_text(server: &TestServer) -> String {
    let reply = server.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.content_type(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    reply.body.as_str().expect("text").to_owned()
}

/// The value of `rapport_guardrail_hits_total{guardrail="<name>"}`.
async fn hits(server: &TestServer, name: &str) -> u64 {
    let text = metrics_text(server).await;
    let prefix = format!("rapport_guardrail_hits_total{{guardrail=\"{name}\"}} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no counter for {name} in:\n{text}"));
    line[prefix.len()..].parse().expect("a count")
}

/// The item-level `warnings` of the profile an identity resolves to (`None` without any).
async fn warnings(server: &TestServer, namespace: &str, id: &str, query: &str) -> Option<Value> {
    let reply = server.profile_with(namespace, id, query).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    only_entity(&reply.body).1.get("warnings").cloned()
}

/// The one warning of `guardrail` in a warnings list, checked for its shape.
fn warning<'w>(warnings: &'w Value, guardrail: &str) -> &'w Value {
    let found = warnings
        .as_array()
        .expect("a list")
        .iter()
        .find(|w| w["guardrail"] == json!(guardrail))
        .unwrap_or_else(|| panic!("no {guardrail} warning in {warnings}"));
    let keys: Vec<&str> = found
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["count", "guardrail", "lastAt", "limit"], "{found}");
    assert!(
        found["lastAt"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{found}"
    );
    found
}

fn web_event(id: &str, email: &str, timestamp_ms: i64) -> Value {
    json!({
        "_id": id,
        "timestamp": iso(timestamp_ms),
        "eventType": "web.webpagedetails.pageViews",
        "identityMap": {"Email": [{"id": email}]},
        "web": {"webPageDetails": {"name": format!("page {id}")}},
    })
}

/// The `_id`s of a profile's events, oldest first.
async fn event_ids(server: &TestServer, email: &str) -> Vec<String> {
    let reply = server.events("Email", email, "orderby=timestamp").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    crate::common::event_ids(reply.body["children"].as_array().expect("children"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversize_event_or_record_is_refused_413_naming_the_limit_and_nothing_is_stored() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let mut event = web_event("big-1", "big@example.com", 1_700_000_000_000);
    event["web"]["webPageDetails"]["name"] = json!("x".repeat(11_000));
    let reply = server.stream(&company.web, event, &[]).await;
    assert_problem(
        &reply,
        413,
        "event_too_large",
        &["/body/xdmEntity", "10240", "max-event-bytes"],
    );
    assert!(reply.body["type"]
        .as_str()
        .is_some_and(|t| t.ends_with("INGEST-1562-413")));
    assert_eq!(
        server.profile("Email", "big@example.com").await.status,
        StatusCode::NOT_FOUND,
        "nothing of a refused event is stored"
    );
    assert_eq!(
        server.events("Email", "big@example.com", "").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(hits(&server, "event_too_large").await, 1);

    let record = json!({
        "identityMap": {"CRMID": [{"id": "CRM-BIG", "primary": true}]},
        "person": {"name": {"firstName": "y".repeat(103_000)}},
    });
    let reply = server.stream(&company.crm, record, &[]).await;
    assert_problem(
        &reply,
        413,
        "record_too_large",
        &["/body/xdmEntity", "102400", "max-record-bytes"],
    );
    assert!(reply.body["type"]
        .as_str()
        .is_some_and(|t| t.ends_with("INGEST-1563-413")));
    assert_eq!(
        server.profile("CRMID", "CRM-BIG").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(hits(&server, "record_too_large").await, 1);

    // Just under the limits is fine, and counts nothing.
    let mut event = web_event("small-1", "small@example.com", 1_700_000_000_000);
    event["web"]["webPageDetails"]["name"] = json!("x".repeat(9_000));
    server.ingest(&company.web, event).await;
    assert_eq!(hits(&server, "event_too_large").await, 1);
    assert_eq!(
        warnings(&server, "Email", "small@example.com", "").await,
        None,
        "a profile no guardrail bit has no warnings member"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_row_over_the_event_size_is_reported_with_its_code_and_the_others_land() {
    let server = server_with(ServeOptions {
        max_event_bytes: Some(1024),
        ..ServeOptions::default()
    });
    let company = server.company(&[]).await;
    let mut rows: Vec<String> = (0..3)
        .map(|i| {
            web_event(
                &format!("row-{i}"),
                "rows@example.com",
                1_700_000_000_000 + i,
            )
            .to_string()
        })
        .collect();
    let mut big = web_event("row-big", "rows@example.com", 1_700_000_000_100);
    big["web"]["webPageDetails"]["name"] = json!("z".repeat(2000));
    rows.insert(1, big.to_string());
    let mut text = rows.join("\n");
    text.push('\n');
    let (batch, state) = run_batch(
        &server,
        &company.web,
        json!({"format": "json"}),
        json!({"partialIngestionPercent": 50}),
        vec![("events.jsonl", text.into_bytes())],
    )
    .await;
    assert_eq!(state["status"], json!("success"), "{state}");
    assert_eq!(state["metrics"]["failedRecordCount"], json!(1), "{state}");
    let report = server
        .get(&format!(
            "/data/foundation/export/batches/{batch}/meta?path=row_errors%2Fconversion_errors_0.json"
        ))
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let row = match &report.body {
        Value::String(text) => {
            serde_json::from_str::<Value>(text.lines().next().expect("a row")).expect("json")
        }
        other => other.clone(),
    };
    assert_eq!(row["_line"], json!(2), "{row}");
    assert_eq!(row["_errors"][0]["code"], json!("1562"), "{row}");
    let message = row["_errors"][0]["message"].as_str().expect("message");
    assert!(
        message.contains("1024") && message.contains("max-event-bytes"),
        "{message}"
    );
    assert_eq!(
        event_ids(&server, "rows@example.com").await,
        ["row-0", "row-1", "row-2"]
    );
    assert_eq!(hits(&server, "event_too_large").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn arrays_over_the_soft_limits_are_accepted_and_flagged_on_the_profile() {
    let server = server_with(ServeOptions {
        max_profile_array_items: Some(2),
        ..ServeOptions::default()
    });
    let company = server.company(&[]).await;
    let orders_schema = server
        .schema(
            "Orders",
            "experienceevent",
            &["experienceevent-web", "experienceevent-product-list-items"],
            &[],
        )
        .await;
    let orders = server.dataset("Orders", &orders_schema, &[]).await;
    // Eleven product lines in one event: over the reference's 10.
    let lines: Vec<Value> = (0..11)
        .map(|i| json!({"SKU": format!("SKU-{i}"), "quantity": 1}))
        .collect();
    let mut event = web_event("cart-1", "arrays@example.com", 1_700_000_000_000);
    event["productListItems"] = json!(lines);
    server.ingest(&orders, event.clone()).await;
    let found = warnings(&server, "Email", "arrays@example.com", "")
        .await
        .expect("warnings");
    let flagged = warning(&found, "event_array_items");
    assert_eq!(
        (flagged["limit"].clone(), flagged["count"].clone()),
        (json!(10), json!(1))
    );
    let (events, _) = server.all_events("Email", "arrays@example.com", "").await;
    assert_eq!(
        events[0]["entity"]["productListItems"]
            .as_array()
            .map(Vec::len),
        Some(11),
        "the event is stored whole"
    );
    event["_id"] = json!("cart-2");
    server.ingest(&orders, event).await;
    let found = warnings(&server, "Email", "arrays@example.com", "")
        .await
        .expect("warnings");
    assert_eq!(warning(&found, "event_array_items")["count"], json!(2));
    assert_eq!(hits(&server, "event_array_items").await, 2);

    // A record with three emails, over a profile array limit of 2.
    server
        .ingest(
            &company.crm,
            json!({
                "identityMap": {
                    "CRMID": [{"id": "CRM-ARR", "primary": true}],
                    "Email": [{"id": "a1@example.com"}, {"id": "a2@example.com"}, {"id": "a3@example.com"}],
                },
                "person": {"name": {"firstName": "Many"}},
            }),
        )
        .await;
    let found = warnings(&server, "CRMID", "CRM-ARR", "")
        .await
        .expect("warnings");
    let flagged = warning(&found, "profile_array_items");
    assert_eq!(
        (flagged["limit"].clone(), flagged["count"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        server.entity("CRMID", "CRM-ARR").await["person"]["name"]["firstName"],
        json!("Many")
    );
    assert_eq!(hits(&server, "profile_array_items").await, 1);

    // Merged on read (another merge policy) the warnings are the same.
    let policy = server
        .post(
            "/data/core/ups/config/mergePolicies",
            json!({
                "name": "CRM first",
                "schema": {"name": "_xdm.context.profile"},
                "identityGraph": {"type": "pdg"},
                "attributeMerge": {"type": "dataSetPrecedence", "order": [company.crm]},
            }),
        )
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.body);
    let policy_id = policy.body["id"].as_str().expect("id");
    assert_eq!(
        warnings(
            &server,
            "CRMID",
            "CRM-ARR",
            &format!("mergePolicyId={policy_id}")
        )
        .await,
        Some(found.clone())
    );
    // And after a restart (the hits live in the graph record).
    let mut server = server;
    server.restart();
    assert_eq!(warnings(&server, "CRMID", "CRM-ARR", "").await, Some(found));
}

#[tokio::test(flavor = "multi_thread")]
async fn events_over_the_per_profile_limit_trim_the_oldest_with_their_ids() {
    let server = server_with(ServeOptions {
        max_events_per_profile: Some(5),
        ..ServeOptions::default()
    });
    let company = server.company(&[]).await;
    let email = "busy@example.com";
    let base = 1_700_000_000_000;
    for i in 0..8 {
        server
            .ingest(
                &company.web,
                web_event(&format!("e-{i}"), email, base + i * 60_000),
            )
            .await;
    }
    assert_eq!(
        event_ids(&server, email).await,
        ["e-3", "e-4", "e-5", "e-6", "e-7"],
        "the newest five are kept"
    );
    let found = warnings(&server, "Email", email, "")
        .await
        .expect("warnings");
    let trimmed = warning(&found, "events_trimmed");
    assert_eq!(
        (trimmed["limit"].clone(), trimmed["count"].clone()),
        (json!(5), json!(3))
    );
    assert_eq!(hits(&server, "events_trimmed").await, 3);

    // The trimmed events' id entries went with them; the kept ones' stayed.
    let sandbox = rapport_types::SandboxName::default_sandbox();
    let id_entry = |id: &str| {
        let store = server.engine().store();
        let txn = store.read().expect("read");
        let email_key = engine::keys::identity(
            &sandbox,
            &engine::identity::IdentityKey::new("Email", email),
        );
        let profile = txn
            .get(store::Table::Identities, &email_key)
            .expect("get")
            .and_then(rapport_types::ProfileId::from_be_slice)
            .expect("the profile");
        txn.get(
            store::Table::Events,
            &engine::keys::event_id(
                &sandbox,
                profile,
                engine::keys::event_suffix(&company.web, id),
            ),
        )
        .expect("get")
        .is_some()
    };
    for i in 0..3 {
        assert!(!id_entry(&format!("e-{i}")), "e-{i}'s id entry is gone");
    }
    for i in 3..8 {
        assert!(id_entry(&format!("e-{i}")), "e-{i}'s id entry stays");
    }

    // A trimmed `_id` sent again, newer than the rest, is a new event: the oldest kept goes.
    server
        .ingest(&company.web, web_event("e-0", email, base + 10 * 60_000))
        .await;
    assert_eq!(
        event_ids(&server, email).await,
        ["e-4", "e-5", "e-6", "e-7", "e-0"]
    );
    // Sending a kept event again replaces it: nothing is trimmed.
    server
        .ingest(&company.web, web_event("e-5", email, base + 5 * 60_000))
        .await;
    assert_eq!(
        event_ids(&server, email).await,
        ["e-4", "e-5", "e-6", "e-7", "e-0"]
    );
    let found = warnings(&server, "Email", email, "")
        .await
        .expect("warnings");
    assert_eq!(warning(&found, "events_trimmed")["count"], json!(4));

    // A merge brings another person's events in: the merged profile is trimmed to five too,
    // and keeps the warning.
    let other = "other@example.com";
    for i in 0..3 {
        server
            .ingest(
                &company.web,
                web_event(&format!("o-{i}"), other, base + (20 + i) * 60_000),
            )
            .await;
    }
    assert_eq!(warnings(&server, "Email", other, "").await, None);
    server
        .ingest(
            &company.crm,
            json!({
                "identityMap": {"CRMID": [{"id": "CRM-BUSY", "primary": true}], "Email": [{"id": email}, {"id": other}]},
                "person": {"name": {"firstName": "Busy"}},
            }),
        )
        .await;
    assert_eq!(
        event_ids(&server, other).await,
        ["e-7", "e-0", "o-0", "o-1", "o-2"]
    );
    let found = warnings(&server, "CRMID", "CRM-BUSY", "")
        .await
        .expect("warnings");
    assert_eq!(warning(&found, "events_trimmed")["count"], json!(7));

    // After a restart the writer counts the profile's events afresh, and goes on trimming.
    let mut server = server;
    server.restart();
    server
        .ingest(&company.web, web_event("late", other, base + 30 * 60_000))
        .await;
    assert_eq!(
        event_ids(&server, other).await,
        ["e-0", "o-0", "o-1", "o-2", "late"]
    );
    let found = warnings(&server, "Email", email, "")
        .await
        .expect("warnings");
    assert_eq!(warning(&found, "events_trimmed")["count"], json!(8));
}

#[tokio::test(flavor = "multi_thread")]
async fn segment_definitions_over_the_limit_are_refused_422() {
    let server = server_with(ServeOptions {
        max_segment_definitions: Some(2),
        ..ServeOptions::default()
    });
    server.company(&[]).await;
    let body = |name: &str| {
        json!({
            "name": name,
            "schema": {"name": "_xdm.context.profile"},
            "expression": {"type": "PQL", "format": "pql/text", "value": "person.name.firstName = \"Ann\""},
        })
    };
    let mut ids = Vec::new();
    for name in ["one", "two"] {
        let reply = server.post(DEFINITIONS, body(name)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        ids.push(reply.body["id"].as_str().expect("id").to_owned());
    }
    let refused = server.post(DEFINITIONS, body("three")).await;
    assert_problem(
        &refused,
        422,
        "segment_definition_limit_reached",
        &["at most 2", "max-segment-definitions"],
    );
    assert!(refused.body["type"]
        .as_str()
        .is_some_and(|t| t.ends_with("SEG-1077-422")));
    assert_eq!(hits(&server, "segment_definition_limit_reached").await, 1);
    let reply = server.delete(&format!("{DEFINITIONS}/{}", ids[0])).await;
    assert!(reply.status.is_success(), "{}", reply.body);
    let reply = server.post(DEFINITIONS, body("three")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_identity_graph_limit_leaves_a_warning_on_the_profile() {
    let server = server_with(ServeOptions {
        identity_graph_limit: Some(3),
        ..ServeOptions::default()
    });
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({
                "identityMap": {
                    "CRMID": [{"id": "CRM-G", "primary": true}],
                    "Email": [{"id": "g@example.com"}],
                    "ECID": [{"id": ecid(1)}, {"id": ecid(2)}, {"id": ecid(3)}],
                },
                "person": {"name": {"firstName": "Gail"}},
            }),
        )
        .await;
    let found = warnings(&server, "CRMID", "CRM-G", "")
        .await
        .expect("warnings");
    let limited = warning(&found, "identity_graph_limit");
    assert_eq!(
        (limited["limit"].clone(), limited["count"].clone()),
        (json!(3), json!(2))
    );
    let entity = server.entity("CRMID", "CRM-G").await;
    assert_eq!(
        crate::common::identities(&entity).len(),
        3,
        "the graph holds three identities: {entity}"
    );
    assert_eq!(hits(&server, "identity_graph_limit").await, 1);
}

/// The value of the unlabelled metric `name`.
async fn metric(server: &TestServer, name: &str) -> f64 {
    let text = metrics_text(server).await;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_writer_counts_the_writes_it_committed_and_the_time_they_took() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    assert_eq!(metric(&server, "rapport_writer_writes_total").await, 0.0);
    for n in 0..3 {
        server
            .ingest(
                &company.crm,
                json!({"identityMap": {"CRMID": [{"id": format!("CRM-W{n}"), "primary": true}]}}),
            )
            .await;
    }
    assert_eq!(metric(&server, "rapport_writer_writes_total").await, 3.0);
    assert!(metric(&server, "rapport_writer_apply_seconds_total").await > 0.0);
    assert!(metric(&server, "rapport_writer_commit_seconds_total").await > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_metrics_read_and_count_from_zero() {
    let server = TestServer::start();
    let text = metrics_text(&server).await;
    for name in [
        "identity_graph_limit",
        "event_too_large",
        "record_too_large",
        "event_array_items",
        "profile_array_items",
        "events_trimmed",
        "segment_definition_limit_reached",
    ] {
        assert!(
            text.contains(&format!(
                "rapport_guardrail_hits_total{{guardrail=\"{name}\"}} 0\n"
            )),
            "{name}:\n{text}"
        );
    }
    assert!(text.contains("# TYPE rapport_guardrail_hits_total counter"));
    assert!(text.contains("rapport_guardrail_limit{guardrail=\"events_trimmed\"} 5000\n"));
    assert!(text.contains("rapport_guardrail_limit{guardrail=\"event_too_large\"} 10240\n"));
    assert!(text.contains("rapport_commits_total "));

    let key = |actions: Value| {
        let server = &server;
        async move {
            let reply = server
                .post(
                    "/data/rapport/keys",
                    json!({"name": "metrics", "actions": actions, "sandboxes": ["*"]}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            reply.body["key"].as_str().expect("key").to_owned()
        }
    };
    let get_as = |token: Option<String>| {
        let server = &server;
        async move {
            let bearer = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = bearer
                .as_deref()
                .map(|b| vec![("authorization", b)])
                .unwrap_or_default();
            server
                .send_exactly(Method::GET, "/metrics", Vec::new(), &headers)
                .await
        }
    };
    let anonymous: Reply = get_as(None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let lacking = key(json!(["profiles.*", "keys.manage", "audit.read"])).await;
    let refused = get_as(Some(lacking)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["code"], json!("action_not_permitted"));
    let allowed = key(json!(["metrics.read"])).await;
    let reply = get_as(Some(allowed)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply
        .body
        .as_str()
        .is_some_and(|t| t.contains("rapport_guardrail_hits_total")));
}

#[test]
fn guardrail_options_out_of_range_stop_start_up_naming_the_option() {
    for (options, named) in [
        (
            ServeOptions {
                max_events_per_profile: Some(0),
                ..ServeOptions::default()
            },
            "max-events-per-profile must be between 1 and",
        ),
        (
            ServeOptions {
                max_event_bytes: Some(10),
                ..ServeOptions::default()
            },
            "max-event-bytes must be between 256 and",
        ),
        (
            ServeOptions {
                max_segment_definitions: Some(5000),
                ..ServeOptions::default()
            },
            "max-segment-definitions must be between 1 and 4000",
        ),
    ] {
        let options = ServeOptions {
            dev_mode: true,
            ..options
        };
        let error = options.resolve(None).expect_err("refused");
        assert!(error.to_string().contains(named), "{error}");
    }
    let defaults = ServeOptions {
        dev_mode: true,
        ..ServeOptions::default()
    }
    .resolve(None)
    .expect("defaults");
    assert_eq!(defaults.guardrails, engine::Limits::default());
    assert_eq!(defaults.guardrails.max_event_bytes, 10240);
    assert_eq!(defaults.guardrails.max_events_per_profile, 5000);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_past_their_datasets_expiration_go_and_late_ones_are_not_stored() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let day = 86_400_000;
    let now = rapport::http::routes::now_ms();
    let (kept, gone) = ("kept@example.com", "gone@example.com");
    for (id, age_days) in [("old", 40), ("recent", 10), ("new", 1)] {
        server
            .ingest(&company.web, web_event(id, kept, now - age_days * day))
            .await;
    }
    // A person known only from old events: nothing of them remains once they expire.
    server
        .ingest(&company.web, web_event("stale", gone, now - 45 * day))
        .await;
    assert_eq!(event_ids(&server, kept).await, ["old", "recent", "new"]);

    // Setting the expiration applies it to what is stored, in the background.
    let path = format!("/data/foundation/catalog/dataSets/{}", company.web);
    let reply = server
        .patch(&path, json!({"tags": {"rapport:eventTtlDays": ["30"]}}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let expired = crate::common::eventually(30, || async {
        event_ids(&server, kept).await == ["recent", "new"]
    })
    .await;
    assert!(expired, "the 40-day-old event expires");
    assert!(
        crate::common::eventually(10, || async {
            server.profile("Email", gone).await.status == StatusCode::NOT_FOUND
        })
        .await,
        "a profile left with neither events nor records goes"
    );
    let found = warnings(&server, "Email", kept, "")
        .await
        .expect("warnings");
    let hit = warning(&found, "events_expired");
    assert_eq!(
        (hit["limit"].clone(), hit["count"].clone()),
        (json!(30), json!(1))
    );
    assert_eq!(hits(&server, "events_expired").await, 2);

    // The expired event's `_id` entry went with it: sent again, recent, it is a new event.
    server
        .ingest(&company.web, web_event("old", kept, now - 2 * day))
        .await;
    assert_eq!(event_ids(&server, kept).await, ["recent", "old", "new"]);

    // An event already past the expiration when it arrives is acknowledged and not stored.
    let reply = server
        .stream(&company.web, web_event("late", kept, now - 31 * day), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(event_ids(&server, kept).await, ["recent", "old", "new"]);
    let found = warnings(&server, "Email", kept, "")
        .await
        .expect("warnings");
    assert_eq!(warning(&found, "events_expired")["count"], json!(2));
    assert_eq!(hits(&server, "events_expired").await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_expiration_must_be_whole_days_on_an_event_dataset() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let web = format!("/data/foundation/catalog/dataSets/{}", company.web);
    for (values, names) in [
        (
            json!(["0"]),
            &["/tags/rapport:eventTtlDays/0", "1 to 36500", "\"0\""][..],
        ),
        (
            json!(["thirty"]),
            &["/tags/rapport:eventTtlDays/0", "whole number"][..],
        ),
        (
            json!(["36501"]),
            &["/tags/rapport:eventTtlDays/0", "36500"][..],
        ),
        (
            json!(["30", "60"]),
            &["/tags/rapport:eventTtlDays", "exactly one value"][..],
        ),
    ] {
        let reply = server
            .patch(&web, json!({"tags": {"rapport:eventTtlDays": values}}))
            .await;
        assert_problem(&reply, 400, "invalid_dataset", names);
    }
    let crm = format!("/data/foundation/catalog/dataSets/{}", company.crm);
    let reply = server
        .patch(&crm, json!({"tags": {"rapport:eventTtlDays": ["30"]}}))
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_dataset",
        &["/tags/rapport:eventTtlDays", "ExperienceEvent"],
    );
    // Nothing was changed by the refusals.
    let reply = server.get(&web).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        !reply.body.to_string().contains("eventTtlDays"),
        "{}",
        reply.body
    );
}
