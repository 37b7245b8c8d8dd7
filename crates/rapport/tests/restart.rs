//! A restart keeps everything: catalog, graphs, profiles, events and merge policies.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{ecid, event_ids, identities, iso, pairs, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn everything_survives_a_restart() {
    let mut server = TestServer::start();
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-R", "primary": true}], "Email": [{"id": "r@example.com"}]}, "person": {"name": {"firstName": "Rita"}}}),
        )
        .await;
    for i in 0..3 {
        server
            .ingest(
                &company.web,
                json!({"_id": format!("r-{i}"), "timestamp": iso(1_700_000_000_000 + i), "identityMap": {"ECID": [{"id": ecid(7)}], "Email": [{"id": "r@example.com"}]}}),
            )
            .await;
    }
    let policy = server
        .post(
            "/data/core/ups/config/mergePolicies",
            json!({"name": "CRM only", "schema": {"name": "_xdm.context.profile"}, "identityGraph": {"type": "pdg"}, "attributeMerge": {"type": "dataSetPrecedence", "order": [company.crm]}}),
        )
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.body);
    let before = server.profile("ECID", &ecid(7)).await;
    assert_eq!(before.status, StatusCode::OK);

    server.restart();

    let after = server.profile("ECID", &ecid(7)).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert_eq!(after.body, before.body, "the same profile, byte for byte");
    let entity = server.entity("CRMID", "CRM-R").await;
    assert_eq!(
        identities(&entity),
        pairs(&[
            ("CRMID", "CRM-R"),
            ("ECID", &ecid(7)),
            ("Email", "r@example.com")
        ])
    );
    let events = server.events("CRMID", "CRM-R", "").await;
    assert_eq!(
        event_ids(events.body["children"].as_array().expect("children")),
        ["r-0", "r-1", "r-2"]
    );
    let datasets = server.get("/data/foundation/catalog/dataSets").await;
    assert_eq!(datasets.body.as_object().expect("datasets").len(), 4);
    let namespace = server.get("/data/core/idnamespace/identities/CRMID").await;
    assert_eq!(namespace.status, StatusCode::OK);
    assert_eq!(namespace.body["unique"], json!(true));
    let policy_id = policy.body["id"].as_str().expect("id");
    let fetched = server
        .get(&format!("/data/core/ups/config/mergePolicies/{policy_id}"))
        .await;
    assert_eq!(fetched.body, policy.body);

    // It keeps working after the restart: new data links into the restored graph.
    server
        .ingest(
            &company.calls,
            json!({"_id": "call", "timestamp": iso(1_700_000_100_000), "identityMap": {"Phone": [{"id": "+15550100"}], "CRMID": [{"id": "CRM-R"}]}}),
        )
        .await;
    let entity = server.entity("Phone", "+15550100").await;
    assert_eq!(entity["person"]["name"]["firstName"], "Rita");
    server.restart();
    let events = server.events("Email", "r@example.com", "").await;
    assert_eq!(events.body["_page"]["count"], 4);
}
