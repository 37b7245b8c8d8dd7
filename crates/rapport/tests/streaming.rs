//! Streaming ingestion answers: envelope fields of the wrong type, error messages that start with
//! a JSON pointer in both the envelope and the native form, `syncValidation`, identities that
//! were refused on an accepted record, events without an `_id`, and freshness: what was
//! acknowledged is what the next lookup and its segment membership show.

use axum::http::StatusCode;
use rapport::options::ServeOptions;
use serde_json::{json, Value};

use crate::common::{assert_problem, ecid, iso, Company, TestServer};

fn envelope(dataset: &str, entity: Value) -> Value {
    json!({"header": {"datasetId": dataset}, "body": {"xdmEntity": entity}})
}

fn native(dataset: &str) -> String {
    format!("/data/rapport/datasets/{dataset}/records")
}

fn crm_record(crm_id: &str) -> Value {
    json!({"identityMap": {"CRMID": [{"id": crm_id, "primary": true}]}})
}

fn event(id: &str) -> Value {
    json!({"_id": id, "timestamp": iso(1_700_000_000_000), "identityMap": {"CRMID": [{"id": "CRM-EV"}]}})
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_with_an_empty_id_is_400_min_length_at_id() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let reply = server.stream(&company.web, event(""), &[]).await;
    assert_problem(
        &reply,
        400,
        "invalid_xdm_record",
        &["/body/xdmEntity", "/_id", "at least 1 character"],
    );
    let violation = &reply.body["report"]["causingExceptions"][0];
    assert_eq!(violation["keyword"], "minLength");
    assert_eq!(violation["pointerToViolation"], "#/_id");

    let reply = server.post(&native(&company.web), event("")).await;
    assert_problem(&reply, 400, "invalid_xdm_record", &["/_id"]);
    assert_eq!(
        reply.body["report"]["causingExceptions"][0]["keyword"],
        "minLength"
    );

    // An empty timestamp stays a format error.
    let mut no_time = event("e-1");
    no_time["timestamp"] = json!("");
    let reply = server.stream(&company.web, no_time, &[]).await;
    assert_problem(&reply, 400, "invalid_xdm_record", &["/timestamp"]);
    let violation = &reply.body["report"]["causingExceptions"][0];
    assert_eq!(violation["keyword"], "format");
    assert_eq!(violation["pointerToViolation"], "#/timestamp");

    // Nothing was stored; a one-character id is fine.
    assert_eq!(
        server.profile("CRMID", "CRM-EV").await.status,
        StatusCode::NOT_FOUND
    );
    server.ingest(&company.web, event("e")).await;
    let events = server.events("CRMID", "CRM-EV", "").await;
    assert_eq!(events.body["children"][0]["entityId"], "e");
}

#[tokio::test(flavor = "multi_thread")]
async fn native_and_envelope_errors_start_with_the_json_pointer_of_the_record_or_field() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let bad_date = json!({"identityMap": {"CRMID": [{"id": "CRM-P", "primary": true}]}, "person": {"birthDate": "31/12/1990"}});
    let unknown_namespace = json!({"identityMap": {"CRMID": [{"id": "CRM-P", "primary": true}], "ShoeSize": [{"id": "42"}]}});
    let no_identity = json!({"person": {"name": {"firstName": "Nobody"}}});

    // (record, native single, envelope single, native array slot 1)
    let cases = [
        (
            &bad_date,
            "#: 1 schema violation(s) against \"Customers\": /person/birthDate:",
            "/body/xdmEntity: 1 schema violation(s)",
            "/1: 1 schema violation(s)",
        ),
        (
            &unknown_namespace,
            "/identityMap/ShoeSize/0/id: ",
            "/body/xdmEntity/identityMap/ShoeSize/0/id: ",
            "/1/identityMap/ShoeSize/0/id: ",
        ),
        (
            &no_identity,
            "#: the record has no usable identity",
            "/body/xdmEntity: the record has no usable identity",
            "/1: the record has no usable identity",
        ),
        (
            &json!(5),
            "#: send a JSON record or an array of records",
            "/body/xdmEntity: a record must be a JSON object",
            "/1: a record must be a JSON object",
        ),
    ];
    for (record, native_prefix, envelope_prefix, slot_prefix) in cases {
        let reply = server.post(&native(&company.crm), record.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        let title = reply.body["title"].as_str().expect("title");
        assert!(
            title.starts_with(native_prefix),
            "native {title:?} should start with {native_prefix:?}"
        );

        let reply = server.stream(&company.crm, record.clone(), &[]).await;
        let title = reply.body["title"].as_str().expect("title");
        assert!(
            title.starts_with(envelope_prefix),
            "envelope {title:?} should start with {envelope_prefix:?}"
        );

        let reply = server
            .post(&native(&company.crm), json!([crm_record("CRM-OK"), record]))
            .await;
        assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
        let message = reply.body["responses"][1]["message"]
            .as_str()
            .expect("message");
        assert!(
            message.starts_with(slot_prefix),
            "array {message:?} should start with {slot_prefix:?}"
        );
    }
    let reply = server.post(&native(&company.crm), bad_date.clone()).await;
    insta::assert_json_snapshot!("native_single_invalid_record", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_message_without_sync_validation_answers_skipped_true() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let reply = server.stream(&company.crm, crm_record("CRM-S1"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["syncValidation"], json!({"skipped": true}));
    assert!(
        reply.body.get("synchronousValidation").is_none(),
        "{}",
        reply.body
    );

    for query in ["syncValidation=true", "synchronousValidation=true"] {
        let reply = server
            .post(
                &format!("/collection/test-inlet?{query}"),
                envelope(&company.crm, crm_record("CRM-S2")),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(
            reply.body["synchronousValidation"],
            json!({"status": "pass"})
        );
        assert!(reply.body.get("syncValidation").is_none(), "{}", reply.body);
    }

    // Records are validated either way.
    let invalid = json!({"identityMap": {"CRMID": [{"id": "CRM-S3", "primary": true}]}, "loyalty": {"points": "many"}});
    for uri in [
        "/collection/test-inlet",
        "/collection/test-inlet?syncValidation=true",
    ] {
        let reply = server
            .post(uri, envelope(&company.crm, invalid.clone()))
            .await;
        assert_problem(&reply, 400, "invalid_xdm_record", &["/loyalty/points"]);
    }
}

async fn blocking_server() -> (TestServer, Company) {
    let server = TestServer::with_options(ServeOptions {
        blocked_identity_values: Some(vec!["shared@example.com".to_owned()]),
        ..ServeOptions::default()
    });
    let company = server.company(&[]).await;
    (server, company)
}

/// A CRM record with three identities the rules refuse besides its CRMID.
fn record_with_refusals(crm_id: &str) -> Value {
    json!({"identityMap": {
        "CRMID": [{"id": crm_id, "primary": true}],
        "ECID": [{"id": "1234"}],
        "Email": [{"id": "null"}, {"id": "shared@example.com"}]
    }})
}

fn refused_reasons(entry: &Value) -> Vec<(String, String, String)> {
    let mut refused: Vec<(String, String, String)> = entry["refusedIdentities"]
        .as_array()
        .unwrap_or_else(|| panic!("refusedIdentities in {entry}"))
        .iter()
        .map(|r| {
            (
                r["namespace"].as_str().expect("namespace").to_owned(),
                r["id"].as_str().expect("id").to_owned(),
                r["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    refused.sort();
    refused
}

fn assert_three_refusals(entry: &Value) {
    let refused = refused_reasons(entry);
    assert_eq!(refused.len(), 3, "{entry}");
    assert_eq!(
        (refused[0].0.as_str(), refused[0].1.as_str()),
        ("ECID", "1234")
    );
    assert!(refused[0].2.contains("38 digits"), "{refused:?}");
    assert_eq!(
        (refused[1].0.as_str(), refused[1].1.as_str()),
        ("Email", "null")
    );
    assert!(refused[1].2.contains("placeholder"), "{refused:?}");
    assert_eq!(
        (refused[2].0.as_str(), refused[2].1.as_str()),
        ("Email", "shared@example.com")
    );
    assert!(refused[2].2.contains("block list"), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_records_report_the_identities_that_were_refused() {
    let (server, company) = blocking_server().await;

    // Envelope, one message.
    let reply = server
        .stream(&company.crm, record_with_refusals("CRM-R1"), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_three_refusals(&reply.body);
    let reply = server.stream(&company.crm, crm_record("CRM-R2"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.body.get("refusedIdentities").is_none(),
        "{}",
        reply.body
    );

    // Envelope, a batch: only the entry with refusals carries the key.
    let reply = server
        .post(
            "/collection/batch/test-inlet",
            json!({"messages": [envelope(&company.crm, crm_record("CRM-R3")), envelope(&company.crm, record_with_refusals("CRM-R4"))]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    let responses = reply.body["responses"].as_array().expect("responses");
    assert!(
        responses[0].get("refusedIdentities").is_none(),
        "{}",
        responses[0]
    );
    assert_three_refusals(&responses[1]);

    // Native, one record and an array.
    let reply = server
        .post(&native(&company.crm), record_with_refusals("CRM-R5"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_three_refusals(&reply.body["responses"][0]);
    let reply = server
        .post(
            &native(&company.crm),
            json!([record_with_refusals("CRM-R6"), crm_record("CRM-R7")]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_three_refusals(&reply.body["responses"][0]);
    assert!(reply.body["responses"][1]
        .get("refusedIdentities")
        .is_none());

    // The refused identities were not linked; the record was stored under its CRMID.
    assert_eq!(
        server.profile("ECID", "1234").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.profile("CRMID", "CRM-R1").await.status,
        StatusCode::OK
    );
    // An event with a refused identity beside a good one reports it too.
    let reply = server
        .stream(
            &company.web,
            json!({"_id": "r-ev", "timestamp": iso(1_700_000_000_000), "identityMap": {"ECID": [{"id": ecid(5)}, {"id": "5"}]}}),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        refused_reasons(&reply.body)
            .iter()
            .map(|r| r.1.as_str())
            .collect::<Vec<_>>(),
        ["5"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_fields_of_the_wrong_type_say_what_was_expected() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let entity = crm_record("CRM-E");
    let cases: Vec<(Value, &[&str])> = vec![
        (
            json!({"header": {"datasetId": 5}, "body": {"xdmEntity": entity}}),
            &["/header/datasetId", "expected a string", "found 5"],
        ),
        (
            json!({"header": "dataset", "body": {"xdmEntity": entity}}),
            &["/header", "expected an object", "\"dataset\""],
        ),
        (
            json!({"header": {"datasetId": company.crm, "schemaRef": "x"}, "body": {"xdmEntity": entity}}),
            &["/header/schemaRef", "expected an object"],
        ),
        (
            json!({"header": {"datasetId": company.crm, "schemaRef": {"id": 7}}, "body": {"xdmEntity": entity}}),
            &["/header/schemaRef/id", "expected a string", "found 7"],
        ),
        (
            json!({"header": {"datasetId": company.crm}, "body": [entity]}),
            &["/body", "expected an object", "an array"],
        ),
        (
            json!({"header": {"datasetId": company.crm}, "body": {}}),
            &["/body/xdmEntity", "required"],
        ),
        (
            json!({"header": {"datasetId": company.crm}}),
            &["/body/xdmEntity", "required"],
        ),
        (
            json!({"header": {}, "body": {"xdmEntity": entity}}),
            &["/header/datasetId", "required"],
        ),
        (
            json!({"body": {"xdmEntity": entity}}),
            &["/header/datasetId", "required"],
        ),
        (json!([]), &["#", "a message must be an object"]),
    ];
    for (message, mentions) in &cases {
        let reply = server.post("/collection/test-inlet", message.clone()).await;
        assert_problem(&reply, 400, "invalid_message_envelope", mentions);
    }
    let reply = server
        .post(
            "/collection/test-inlet",
            json!({"header": {"datasetId": 5}, "body": {"xdmEntity": entity}}),
        )
        .await;
    insta::assert_json_snapshot!("dataset_id_as_a_number", reply.body);

    // In a batch, each message says the same with its index.
    let reply = server
        .post(
            "/collection/batch/test-inlet",
            json!({"messages": [{"header": {"datasetId": 5}, "body": {"xdmEntity": entity}}, envelope(&company.crm, entity.clone())]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    let message = reply.body["responses"][0]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.starts_with("/messages/0/header/datasetId: expected a string"),
        "{message}"
    );
    assert!(reply.body["responses"][1].get("statusCode").is_none());
    let reply = server
        .post(
            "/collection/batch/test-inlet",
            json!({"messages": {"0": {}}}),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_message_envelope",
        &["/messages", "expected an array", "an object"],
    );
    let reply = server
        .post("/collection/batch/test-inlet", json!({"messages": null}))
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_message_envelope",
        &["/messages", "required"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_is_seen_by_the_next_lookup_and_its_segment_membership() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let reply = server
        .post(
            "/data/core/ups/segment/definitions",
            json!({"name": "Gold members", "schema": {"name": "_xdm.context.profile"},
                   "expression": {"type": "PQL", "format": "pql/text", "value": "loyalty.tier = \"gold\""},
                   "evaluationInfo": {"continuous": {"enabled": true}}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let gold = reply.body["id"].as_str().expect("id").to_owned();
    // Four writers at once, each acknowledging and then reading back its own customers: the
    // group commit answers them together, and each must still see its own write.
    let writer = |w: usize| {
        let (server, company, gold) = (&server, &company, &gold);
        async move {
            for round in 0..40 {
                let crm_id = format!("CRM-FRESH-{w}-{}", round % 5);
                let points = 1_000 * w + round;
                let tier = if round % 2 == 0 { "gold" } else { "silver" };
                let reply = server
                    .stream(
                        &company.loyalty,
                        json!({"identityMap": {"CRMID": [{"id": crm_id, "primary": true}]},
                               "loyalty": {"tier": tier, "points": points}}),
                        &[],
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                let entity = server.entity("CRMID", &crm_id).await;
                assert_eq!(
                    entity["loyalty"]["points"],
                    json!(points),
                    "round {round} of writer {w}: the lookup after the acknowledgement is stale"
                );
                let status = &entity["segmentMembership"]["ups"][gold]["status"];
                // A customer's first record (rounds 0 to 4) in silver never entered: no status.
                let expected = if tier == "gold" { "realized" } else { "exited" };
                assert!(
                    status == expected || (round < 5 && tier == "silver" && status.is_null()),
                    "round {round} of writer {w}: membership {status} after tier {tier}"
                );
            }
        }
    };
    tokio::join!(writer(0), writer(1), writer(2), writer(3));
}
