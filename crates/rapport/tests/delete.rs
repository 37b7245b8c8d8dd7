//! DELETE of a profile entity: 202, then the profile and its events are gone.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{assert_problem, ecid, encode, iso, TestServer};

fn delete_uri(namespace: &str, id: &str) -> String {
    format!(
        "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}&entityIdNS={namespace}",
        encode(id)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_profile_removes_it_and_its_events() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    for (crm_id, email, device) in [
        ("CRM-DEL", "gone@example.com", ecid(1)),
        ("CRM-KEEP", "kept@example.com", ecid(2)),
    ] {
        server
            .ingest(
                &company.crm,
                json!({"identityMap": {"CRMID": [{"id": crm_id, "primary": true}], "Email": [{"id": email}]}, "person": {"name": {"firstName": crm_id}}}),
            )
            .await;
        for i in 0..3 {
            server
                .ingest(
                    &company.web,
                    json!({"_id": format!("{crm_id}-{i}"), "timestamp": iso(1_700_000_000_000 + i), "identityMap": {"ECID": [{"id": device}], "Email": [{"id": email}]}}),
                )
                .await;
        }
    }
    assert_eq!(
        server.events("Email", "gone@example.com", "").await.body["_page"]["count"],
        3
    );

    let reply = server
        .delete(&delete_uri("Email", "gone@example.com"))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body, serde_json::Value::Null, "empty body");

    // Gone by every identity it had, events included.
    for (namespace, id) in [
        ("Email", "gone@example.com"),
        ("CRMID", "CRM-DEL"),
        ("ECID", ecid(1).as_str()),
    ] {
        let lookup = server.profile(namespace, id).await;
        assert_problem(&lookup, 404, "profile_not_found", &[id]);
        let events = server.events(namespace, id, "").await;
        assert_problem(&events, 404, "profile_not_found", &[id]);
    }
    // The other profile is untouched.
    assert_eq!(
        server.events("Email", "kept@example.com", "").await.body["_page"]["count"],
        3
    );
    assert_eq!(
        server.entity("CRMID", "CRM-KEEP").await["person"]["name"]["firstName"],
        "CRM-KEEP"
    );

    // The same identity starts over as a new, empty profile: the old events are really gone.
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-DEL", "primary": true}]}}),
        )
        .await;
    let entity = server.entity("CRMID", "CRM-DEL").await;
    assert!(entity.get("person").is_none(), "{entity}");
    let events = server.events("CRMID", "CRM-DEL", "").await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.body["children"], json!([]));
    // Re-sending an old event id is a new event, not a replacement of a ghost.
    server
        .ingest(
            &company.web,
            json!({"_id": "CRM-DEL-0", "timestamp": iso(1_700_000_000_000), "identityMap": {"CRMID": [{"id": "CRM-DEL"}]}}),
        )
        .await;
    assert_eq!(
        server.events("CRMID", "CRM-DEL", "").await.body["_page"]["count"],
        1
    );

    // Deleting again something unknown is a 404; only profiles can be deleted.
    let reply = server
        .delete(&delete_uri("Email", "gone@example.com"))
        .await;
    assert_problem(&reply, 404, "profile_not_found", &["gone@example.com"]);
    let reply = server
        .delete("/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&entityId=x&entityIdNS=Email")
        .await;
    assert_problem(&reply, 400, "invalid_parameter", &["schema.name"]);
}
