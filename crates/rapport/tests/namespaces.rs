//! Identity namespaces: fields of the wrong type are refused by name, and an update that
//! changes nothing leaves the namespace as it was.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_problem, next_millisecond, TestServer};

const ROOT: &str = "/data/core/idnamespace/identities";

#[tokio::test(flavor = "multi_thread")]
async fn namespace_fields_of_the_wrong_type_are_400_naming_the_field() {
    let server = TestServer::start();
    let cases: Vec<(Value, &[&str])> = vec![
        (
            json!({"code": "Loyalty", "name": 5}),
            &["/name", "expected a string", "a number"],
        ),
        (
            json!({"code": "Loyalty", "description": ["a"]}),
            &["/description", "expected a string", "an array"],
        ),
        (
            json!({"code": "Loyalty", "idType": 3}),
            &["/idType", "expected a string"],
        ),
        (json!({"code": 5}), &["/code", "expected a string"]),
        (json!([]), &["#", "expected a JSON object"]),
        (json!("Loyalty"), &["#", "expected a JSON object"]),
    ];
    for (body, mentions) in &cases {
        let reply = server.post(ROOT, body.clone()).await;
        assert_problem(&reply, 400, "invalid_namespace", mentions);
    }
    let reply = server
        .post(ROOT, json!({"code": "Loyalty", "name": 5}))
        .await;
    insta::assert_json_snapshot!("namespace_name_as_a_number", reply.body);
    // None of them created the namespace.
    assert_eq!(
        server.get(&format!("{ROOT}/Loyalty")).await.status,
        StatusCode::NOT_FOUND
    );

    let created = server
        .post(
            ROOT,
            json!({"code": "Loyalty", "name": "Loyalty id", "idType": "CROSS_DEVICE"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    for (body, mentions) in [
        (json!({"name": 5}), &["/name", "expected a string"][..]),
        (
            json!({"description": ["a"]}),
            &["/description", "expected a string"],
        ),
        (json!({"code": 5}), &["/code", "expected a string"]),
        (json!({"idType": false}), &["/idType", "expected a string"]),
        (json!([]), &["#", "expected a JSON object"]),
    ] {
        let reply = server.put(&format!("{ROOT}/Loyalty"), body).await;
        assert_problem(&reply, 400, "invalid_namespace", mentions);
    }
    // Nulls are absent values: the defaults on create, unchanged on update.
    let reply = server
        .put(
            &format!("{ROOT}/Loyalty"),
            json!({"name": null, "description": null}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["name"], "Loyalty id");
    let reply = server
        .post(
            ROOT,
            json!({"code": "Club", "name": null, "description": null}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["name"], "Club");
    assert_eq!(reply.body["description"], "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_update_that_changes_nothing_keeps_its_update_time() {
    let server = TestServer::start();
    let created = server
        .post(ROOT, json!({"code": "Loyalty", "name": "Loyalty id", "description": "Members", "unique": true, "priority": 10}))
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let update_time = created.body["updateTime"].clone();
    let uri = format!("{ROOT}/{}", created.body["id"]);

    for body in [
        json!({}),
        json!({"name": "Loyalty id"}),
        json!({"code": "Loyalty", "idType": "CROSS_DEVICE", "name": "Loyalty id", "description": "Members", "unique": true, "priority": 10}),
    ] {
        next_millisecond().await;
        let reply = server.put(&uri, body.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.body);
        assert_eq!(reply.body, created.body, "{body} changes nothing");
    }
    assert_eq!(server.get(&uri).await.body["updateTime"], update_time);

    next_millisecond().await;
    let reply = server
        .put(&uri, json!({"description": "Club members"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["description"], "Club members");
    assert!(
        reply.body["updateTime"].as_i64() > update_time.as_i64(),
        "{} should be after {update_time}",
        reply.body["updateTime"]
    );
}
