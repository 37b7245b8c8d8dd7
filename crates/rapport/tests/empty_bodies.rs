//! Answers without a body (the DELETEs) carry no `content-type`; answers with one say what it is.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{Reply, TestServer};

fn assert_empty(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body, Value::Null, "an empty body");
    assert_eq!(
        reply.content_type(),
        None,
        "no content type for an empty body"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_answers_with_an_empty_body_carry_no_content_type() {
    let server = TestServer::start();
    let company = server.company(&[]).await;

    // DELETE of a profile: 202.
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-DEL", "primary": true}]}}),
        )
        .await;
    let reply = server
        .delete("/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=CRM-DEL&entityIdNS=CRMID")
        .await;
    assert_empty(&reply, StatusCode::ACCEPTED);

    // DELETE of a merge policy: 200.
    let policy = server
        .post(
            "/data/core/ups/config/mergePolicies",
            json!({"name": "Unstitched", "schema": {"name": "_xdm.context.profile"}, "identityGraph": {"type": "none"}, "attributeMerge": {"type": "timestampOrdered"}}),
        )
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.body);
    let id = policy.body["id"].as_str().expect("id");
    let reply = server
        .delete(&format!("/data/core/ups/config/mergePolicies/{id}"))
        .await;
    assert_empty(&reply, StatusCode::OK);

    // DELETE of a descriptor and of a schema: 204.
    let schema = server
        .post(
            "/data/foundation/schemaregistry/tenant/schemas",
            json!({"title": "Scratch", "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}]}),
        )
        .await;
    assert_eq!(schema.status, StatusCode::CREATED, "{}", schema.body);
    let schema_id = schema.body["meta:altId"]
        .as_str()
        .expect("altId")
        .to_owned();
    let descriptor = server
        .post(
            "/data/foundation/schemaregistry/tenant/descriptors",
            json!({"@type": "xdm:descriptorIdentity", "xdm:sourceSchema": schema.body["$id"], "xdm:sourceProperty": "/personalEmail/address", "xdm:namespace": "Email", "xdm:isPrimary": false}),
        )
        .await;
    assert_eq!(
        descriptor.status,
        StatusCode::CREATED,
        "{}",
        descriptor.body
    );
    let descriptor_id = descriptor.body["@id"].as_str().expect("@id");
    let reply = server
        .delete(&format!(
            "/data/foundation/schemaregistry/tenant/descriptors/{descriptor_id}"
        ))
        .await;
    assert_empty(&reply, StatusCode::NO_CONTENT);
    let reply = server
        .delete(&format!(
            "/data/foundation/schemaregistry/tenant/schemas/{schema_id}"
        ))
        .await;
    assert_empty(&reply, StatusCode::NO_CONTENT);

    // Answers with a body still say what it is.
    let reply = server.get("/health").await;
    assert_eq!(reply.content_type(), Some("application/json"));
    let reply = server
        .delete(&format!(
            "/data/foundation/schemaregistry/tenant/schemas/{schema_id}"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.content_type(), Some("application/problem+json"));
}
