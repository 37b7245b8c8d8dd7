//! Bad input: each is answered with a precise 4xx that names the field or rule, and the server
//! keeps serving afterwards.

use axum::http::{Method, StatusCode};
use rapport::options::ServeOptions;
use serde_json::{json, Value};

use crate::common::{assert_problem, ecid, iso, Company, TestServer};

const CRM_ID: &str = "CRM-OK";

/// Proves the server still works: a valid record is accepted and found.
async fn still_serving(server: &TestServer, company: &Company, tag: &str) {
    let crm_id = format!("{CRM_ID}-{tag}");
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": crm_id, "primary": true}]}, "person": {"name": {"firstName": tag}}}),
        )
        .await;
    let entity = server.entity("CRMID", &crm_id).await;
    assert_eq!(entity["person"]["name"]["firstName"], json!(tag));
    assert_eq!(server.get("/health").await.status, StatusCode::OK);
}

fn envelope(dataset: &str, entity: Value) -> Value {
    json!({"header": {"datasetId": dataset}, "body": {"xdmEntity": entity}})
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_400_with_its_position() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let reply = server
        .send_raw(
            Method::POST,
            "/collection/test-inlet",
            br#"{"header": {"datasetId": "x"}, "body": "#.to_vec(),
            &[],
        )
        .await;
    assert_problem(&reply, 400, "malformed_json", &["not valid JSON", "line 1"]);
    insta::assert_json_snapshot!("malformed_json", reply.body);

    let reply = server
        .send_raw(
            Method::POST,
            "/data/foundation/catalog/dataSets",
            b"{\"name\": 'single quotes'}".to_vec(),
            &[],
        )
        .await;
    assert_problem(&reply, 400, "malformed_json", &["column 10"]);

    let reply = server
        .send_raw(Method::POST, "/collection/test-inlet", b"   ".to_vec(), &[])
        .await;
    assert_problem(&reply, 400, "malformed_json", &["empty"]);

    let reply = server
        .send_raw(
            Method::POST,
            "/collection/test-inlet",
            b"<xml/>".to_vec(),
            &[("content-type", "application/xml")],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["code"], "unsupported_media_type");
    still_serving(&server, &company, "after-malformed").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_types_are_400_invalid_xdm_record_with_the_pointer() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let reply = server
        .stream(
            &company.crm,
            json!({
                "identityMap": {"CRMID": [{"id": "CRM-BAD", "primary": true}]},
                "person": {"birthDate": "31/12/1990"}
            }),
            &[],
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_xdm_record",
        &["/body/xdmEntity", "/person/birthDate", "31/12/1990"],
    );
    let exceptions = reply.body["report"]["causingExceptions"]
        .as_array()
        .expect("report");
    assert_eq!(exceptions.len(), 1);
    assert_eq!(exceptions[0]["pointerToViolation"], "#/person/birthDate");
    insta::assert_json_snapshot!("invalid_birth_date", reply.body);

    // Several violations are all reported; a string where a number belongs is named too.
    let reply = server
        .stream(
            &company.crm,
            json!({
                "identityMap": {"CRMID": [{"id": "CRM-BAD", "primary": true}]},
                "loyalty": {"points": "many"},
                "person": {"gender": "robot"}
            }),
            &[],
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_xdm_record",
        &["/loyalty/points", "/person/gender"],
    );
    let pointers: Vec<&str> = reply.body["report"]["causingExceptions"]
        .as_array()
        .expect("report")
        .iter()
        .map(|e| e["pointerToViolation"].as_str().expect("pointer"))
        .collect();
    assert!(
        pointers.contains(&"#/loyalty/points") && pointers.contains(&"#/person/gender"),
        "{pointers:?}"
    );

    // An event without its required timestamp.
    let reply = server
        .stream(
            &company.web,
            json!({"_id": "e1", "identityMap": {"ECID": [{"id": ecid(1)}]}}),
            &[],
        )
        .await;
    assert_problem(&reply, 400, "invalid_xdm_record", &["timestamp"]);

    // Nothing of the refused records was stored.
    let missing = server.profile("CRMID", "CRM-BAD").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let missing = server.profile("ECID", &ecid(1)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    still_serving(&server, &company, "after-types").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_dataset_and_unknown_schema_are_404() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let reply = server
        .stream(
            "0123456789abcdef01234567",
            json!({"identityMap": {"CRMID": [{"id": "x"}]}}),
            &[],
        )
        .await;
    assert_problem(
        &reply,
        404,
        "dataset_not_found",
        &["/header/datasetId", "0123456789abcdef01234567"],
    );
    insta::assert_json_snapshot!("unknown_dataset", reply.body);

    let reply = server
        .post(
            "/data/foundation/catalog/dataSets",
            json!({"name": "Orphan", "schemaRef": {"id": "https://ns.adobe.com/rapport/schemas/nope"}}),
        )
        .await;
    assert_problem(
        &reply,
        404,
        "schema_not_found",
        &["/schemaRef/id", "schemas/nope"],
    );
    insta::assert_json_snapshot!("unknown_schema", reply.body);

    // The envelope's schemaRef must match the dataset's schema.
    let reply = server
        .post(
            "/collection/test-inlet",
            json!({"header": {"datasetId": company.crm, "schemaRef": {"id": company.event_schema}}, "body": {"xdmEntity": {}}}),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_message_envelope",
        &["/header/schemaRef/id"],
    );
    let reply = server
        .post(
            "/collection/test-inlet",
            json!({"header": {"datasetId": company.crm}}),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_message_envelope",
        &["/body/xdmEntity"],
    );
    still_serving(&server, &company, "after-unknown").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_body_is_413() {
    let server = TestServer::with_options(ServeOptions {
        max_payload_bytes: Some(2048),
        ..Default::default()
    });
    let company = server.company(&[]).await;

    let entity = json!({
        "identityMap": {"CRMID": [{"id": "CRM-BIG", "primary": true}]},
        "person": {"name": {"firstName": "x".repeat(4000)}}
    });
    let reply = server.stream(&company.crm, entity, &[]).await;
    assert_problem(&reply, 413, "payload_too_large", &["max-payload-bytes"]);
    insta::assert_json_snapshot!("payload_too_large", reply.body);
    assert_eq!(
        server.profile("CRMID", "CRM-BIG").await.status,
        StatusCode::NOT_FOUND
    );
    still_serving(&server, &company, "after-oversize").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_nested_5000_deep_is_400_not_a_crash() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let reply = server
        .send_raw(
            Method::POST,
            "/collection/test-inlet",
            deep.into_bytes(),
            &[],
        )
        .await;
    assert_problem(&reply, 400, "malformed_json", &["nested too deeply"]);

    let deep_object = format!(
        "{{\"header\": {{\"datasetId\": \"{}\"}}, \"body\": {{\"xdmEntity\": {}1{}}}}}",
        company.crm,
        "{\"a\":".repeat(5000),
        "}".repeat(5000)
    );
    let reply = server
        .send_raw(
            Method::POST,
            "/collection/test-inlet",
            deep_object.into_bytes(),
            &[],
        )
        .await;
    assert_problem(&reply, 400, "malformed_json", &["nested too deeply"]);
    still_serving(&server, &company, "after-deep").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_identity_values_never_link_anything() {
    let server = TestServer::with_options(ServeOptions {
        blocked_identity_values: Some(vec!["test@test.com".to_owned()]),
        ..Default::default()
    });
    let company = server.company(&[]).await;

    let bad_values: [(&str, &str); 6] = [
        ("ECID", "1234"),
        ("ECID", "1234567890123456789012345678901234567X"),
        ("Email", "null"),
        ("Email", "anonymous"),
        ("Email", ""),
        ("Email", "TEST@test.com"),
    ];
    for (i, (namespace, value)) in bad_values.iter().enumerate() {
        // Two different customers carry the same bad value...
        for person in ["a", "b"] {
            let crm_id = format!("CRM-{i}-{person}");
            let mut identity_map = json!({"CRMID": [{"id": crm_id, "primary": true}]});
            identity_map[*namespace] = json!([{"id": value}]);
            server
                .ingest(&company.crm, json!({"identityMap": identity_map}))
                .await;
        }
        // ...and stay two profiles, each with its CRM id alone.
        let a = server.profile_id("CRMID", &format!("CRM-{i}-a")).await;
        let b = server.profile_id("CRMID", &format!("CRM-{i}-b")).await;
        assert_ne!(a, b, "{namespace} {value:?} linked two people");
        let entity = server.entity("CRMID", &format!("CRM-{i}-a")).await;
        assert_eq!(
            entity["identityMap"]
                .as_object()
                .expect("identityMap")
                .keys()
                .collect::<Vec<_>>(),
            ["CRMID"],
            "{namespace} {value:?} is not in the profile"
        );
        if !value.is_empty() {
            let lookup = server.profile(namespace, value).await;
            assert_eq!(
                lookup.status,
                StatusCode::NOT_FOUND,
                "{namespace} {value:?}: {}",
                lookup.body
            );
        }

        // A record whose only identity is invalid has nothing to be stored against.
        let reply = server
            .stream(
                &company.crm,
                json!({"identityMap": {*namespace: [{"id": value}]}}),
                &[],
            )
            .await;
        assert_problem(
            &reply,
            400,
            "missing_primary_identity",
            &["no usable identity", "refused"],
        );
    }

    // The graph explanation remembers what was refused and why.
    let explained = server
        .get("/data/core/identity/graph?ns=CRMID&id=CRM-0-a")
        .await;
    assert_eq!(explained.status, StatusCode::OK, "{}", explained.body);
    let refused = &explained.body["refusedIdentities"][0];
    assert_eq!(refused["namespace"], "ECID");
    assert_eq!(refused["id"], "1234");
    assert!(
        refused["reason"]
            .as_str()
            .expect("reason")
            .contains("38 digits"),
        "{refused}"
    );

    let reply = server
        .stream(
            &company.crm,
            json!({"identityMap": {"Email": [{"id": "TEST@TEST.COM"}]}}),
            &[],
        )
        .await;
    assert_problem(&reply, 400, "missing_primary_identity", &["block list"]);
    insta::assert_json_snapshot!("only_identity_blocked", reply.body);

    // An event whose only identity is a malformed ECID is refused the same way.
    let reply = server
        .stream(
            &company.web,
            json!({"_id": "e1", "timestamp": iso(1_700_000_000_000), "identityMap": {"ECID": [{"id": "42"}]}}),
            &[],
        )
        .await;
    assert_problem(&reply, 400, "missing_primary_identity", &["38 digits"]);
    still_serving(&server, &company, "after-identities").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_namespace_in_identity_map_is_400_invalid_identity() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let reply = server
        .stream(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-1", "primary": true}], "ShoeSize": [{"id": "42"}]}}),
            &[],
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_identity",
        &["/identityMap/ShoeSize/0/id", "ShoeSize"],
    );
    insta::assert_json_snapshot!("unknown_namespace", reply.body);
    assert_eq!(
        server.profile("CRMID", "CRM-1").await.status,
        StatusCode::NOT_FOUND
    );

    let reply = server.profile("ShoeSize", "42").await;
    assert_problem(
        &reply,
        404,
        "namespace_not_found",
        &["entityIdNS", "ShoeSize"],
    );
    still_serving(&server, &company, "after-namespace").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_route_is_404_and_wrong_method_is_405() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let reply = server.get("/data/core/ups/nothing-here").await;
    assert_problem(
        &reply,
        404,
        "route_not_found",
        &["GET /data/core/ups/nothing-here"],
    );
    insta::assert_json_snapshot!("route_not_found", reply.body);

    let reply = server
        .send(
            Method::DELETE,
            "/data/foundation/catalog/dataSets",
            None,
            &[],
        )
        .await;
    assert_problem(
        &reply,
        405,
        "method_not_allowed",
        &["DELETE", "/data/foundation/catalog/dataSets"],
    );
    insta::assert_json_snapshot!("method_not_allowed", reply.body);
    let reply = server.get("/collection/test-inlet").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);

    let reply = server
        .get("/data/core/ups/access/entities?entityId=x&entityIdNS=Email")
        .await;
    assert_problem(&reply, 400, "missing_parameter", &["schema.name"]);
    let reply = server
        .get("/data/core/ups/access/entities?schema.name=_xdm.context.account&entityId=x&entityIdNS=Email")
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_parameter",
        &["schema.name", "_xdm.context.account"],
    );
    let reply = server
        .get("/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=jane@example.com")
        .await;
    assert_problem(&reply, 400, "missing_parameter", &["entityIdNS"]);
    still_serving(&server, &company, "after-routes").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_collection_answers_each_message_and_stores_the_valid_ones() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    let messages = json!([
        envelope(&company.crm, json!({"identityMap": {"CRMID": [{"id": "CRM-B0", "primary": true}]}, "person": {"name": {"firstName": "Zero"}}})),
        envelope(&company.crm, json!({"identityMap": {"CRMID": [{"id": "CRM-B1", "primary": true}]}, "person": {"birthDate": "31/12/1990"}})),
        envelope(&company.web, json!({"_id": "b2", "timestamp": iso(1_700_000_000_000), "identityMap": {"CRMID": [{"id": "CRM-B0"}]}})),
        {"header": {"datasetId": "ffffffffffffffffffffffff"}, "body": {"xdmEntity": {}}},
        "not a message",
        envelope(&company.crm, json!({"identityMap": {"Email": [{"id": "null"}]}})),
    ]);
    let reply = server
        .post(
            "/collection/batch/test-inlet",
            json!({"messages": messages}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    assert_eq!(reply.body["inletId"], "test-inlet");
    let batch_id = reply.body["batchId"].as_str().expect("batchId");
    let responses = reply.body["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 6);
    for (i, response) in responses.iter().enumerate() {
        assert_eq!(response["xactionId"], json!(format!("{batch_id}:{i}")));
    }
    for ok in [0, 2] {
        assert!(
            responses[ok].get("statusCode").is_none(),
            "{}",
            responses[ok]
        );
        assert!(responses[ok]["profileId"]
            .as_str()
            .is_some_and(|p| p.starts_with('P')));
    }
    assert_eq!(responses[0]["profileId"], responses[2]["profileId"]);
    let failures = [
        (1, 400, "invalid_xdm_record", "/messages/1/body/xdmEntity: "),
        (3, 404, "dataset_not_found", "/messages/3/header/datasetId"),
        (4, 400, "invalid_message_envelope", "/messages/4"),
        (
            5,
            400,
            "missing_primary_identity",
            "/messages/5/body/xdmEntity",
        ),
    ];
    for (index, status, code, mention) in failures {
        let response = &responses[index];
        assert_eq!(response["index"], json!(index), "{response}");
        assert_eq!(response["statusCode"], json!(status), "{response}");
        assert_eq!(response["code"], json!(code), "{response}");
        let message = response["message"].as_str().expect("message");
        assert!(
            message.contains(mention),
            "{message:?} should mention {mention:?}"
        );
    }
    let message = responses[1]["message"].as_str().expect("message");
    assert!(
        message.contains("/person/birthDate") && message.contains("31/12/1990"),
        "{message}"
    );
    assert_eq!(
        responses[1]["report"]["causingExceptions"][0]["pointerToViolation"],
        "#/person/birthDate"
    );
    insta::assert_json_snapshot!("batch_invalid_message", responses[1], {
        ".xactionId" => "[xaction id]",
    });

    let entity = server.entity("CRMID", "CRM-B0").await;
    assert_eq!(entity["person"]["name"]["firstName"], "Zero");
    let events = server.events("CRMID", "CRM-B0", "").await;
    assert_eq!(events.body["children"][0]["entityId"], "b2");
    assert_eq!(
        server.profile("CRMID", "CRM-B1").await.status,
        StatusCode::NOT_FOUND
    );

    let reply = server
        .post("/collection/batch/test-inlet", json!({"message": []}))
        .await;
    assert_problem(&reply, 400, "invalid_message_envelope", &["/messages"]);
    let reply = server
        .post("/collection/batch/bad%20inlet", json!({"messages": []}))
        .await;
    assert_problem(&reply, 400, "invalid_parameter", &["inletId"]);
    still_serving(&server, &company, "after-batch").await;
}
