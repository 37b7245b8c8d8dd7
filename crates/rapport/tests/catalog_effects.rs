//! What catalog changes do to stored profiles: deleting a dataset removes its data, namespace
//! priorities and the default policy reach lookups at once, and reading a sandbox writes nothing.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_problem, only_entity, TestServer};

const POLICIES: &str = "/data/core/ups/config/mergePolicies";

async fn crm_and_loyalty(server: &TestServer) -> crate::common::Company {
    let company = server.company(&[]).await;
    server
        .ingest(&company.crm, json!({"identityMap": {"CRMID": [{"id": "CRM-1", "primary": true}], "Email": [{"id": "kim@example.com"}]}, "person": {"name": {"firstName": "Kim"}}}))
        .await;
    server
        .ingest(&company.loyalty, json!({"identityMap": {"Email": [{"id": "kim@example.com", "primary": true}]}, "loyalty": {"tier": "gold"}}))
        .await;
    server
        .ingest(&company.web, json!({"_id": "w-1", "timestamp": "2026-01-02T03:04:05Z", "identityMap": {"Email": [{"id": "kim@example.com"}]}, "web": {"webPageDetails": {"name": "home"}}}))
        .await;
    company
}

async fn entity(server: &TestServer) -> Value {
    let reply = server.profile("Email", "kim@example.com").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    only_entity(&reply.body).1.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_dataset_removes_its_attributes_and_events_from_profiles() {
    let server = TestServer::start();
    let company = crm_and_loyalty(&server).await;
    assert_eq!(
        entity(&server).await["entity"]["loyalty"]["tier"],
        json!("gold")
    );
    let reply = server
        .send(
            Method::DELETE,
            &format!("/data/foundation/catalog/dataSets/{}", company.loyalty),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = server
        .send(
            Method::DELETE,
            &format!("/data/foundation/catalog/dataSets/{}", company.web),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // The purge runs in the background; it must finish promptly.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let item = entity(&server).await;
        let (events, _) = server.all_events("Email", "kim@example.com", "").await;
        if item["entity"].get("loyalty").is_none() && events.is_empty() {
            assert_eq!(item["sources"], json!([company.crm]));
            assert_eq!(item["entity"]["person"]["name"]["firstName"], json!("Kim"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deleted datasets' data is still served: {item}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dataset_listed_by_a_merge_policy_cannot_be_deleted() {
    let server = TestServer::start();
    let company = crm_and_loyalty(&server).await;
    let policy = server
        .post(POLICIES, json!({"name": "crm first", "schema": {"name": "_xdm.context.profile"}, "identityGraph": {"type": "pdg"}, "attributeMerge": {"type": "dataSetPrecedence", "order": [company.crm, company.loyalty]}}))
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.body);
    let reply = server
        .send(
            Method::DELETE,
            &format!("/data/foundation/catalog/dataSets/{}", company.loyalty),
            None,
            &[],
        )
        .await;
    assert_problem(&reply, 409, "dataset_in_use", &["crm first"]);
    assert_eq!(
        entity(&server).await["entity"]["loyalty"]["tier"],
        json!("gold")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn raising_a_namespace_priority_changes_the_primary_identity_in_lookups_at_once() {
    let server = TestServer::start();
    crm_and_loyalty(&server).await;
    let primary = |item: &Value| -> Vec<String> {
        let mut found = Vec::new();
        for (namespace, items) in item["entity"]["identityMap"]
            .as_object()
            .expect("identityMap")
        {
            for entry in items.as_array().expect("array") {
                if entry["primary"] == json!(true) {
                    found.push(namespace.clone());
                }
            }
        }
        found
    };
    assert_eq!(primary(&entity(&server).await), vec!["CRMID".to_owned()]);
    let reply = server
        .send(
            Method::PUT,
            "/data/core/idnamespace/identities/Email",
            Some(json!({"priority": 1000})),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(primary(&entity(&server).await), vec!["Email".to_owned()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merge_policy_keeps_its_class_and_an_empty_patch_changes_nothing() {
    let server = TestServer::start();
    let list = server.get(POLICIES).await;
    let default = list.body["children"][0].clone();
    let id = default["id"].as_str().expect("id");
    let reply = server
        .send(Method::PATCH, &format!("{POLICIES}/{id}"), Some(json!([{"op": "replace", "path": "/schema/name", "value": "_xdm.context.experienceevent"}])), &[])
        .await;
    assert_problem(&reply, 400, "invalid_merge_policy", &["/schema/name"]);
    let reply = server
        .send(
            Method::PATCH,
            &format!("{POLICIES}/{id}"),
            Some(json!([])),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["version"], default["version"]);
    let after = server.get(POLICIES).await;
    assert_eq!(
        after.body["_page"]["totalCount"],
        json!(1),
        "{}",
        after.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_lookup_with_an_experience_event_policy_is_400() {
    let server = TestServer::start();
    crm_and_loyalty(&server).await;
    let policy = server
        .post(POLICIES, json!({"name": "events", "schema": {"name": "_xdm.context.experienceevent"}, "identityGraph": {"type": "pdg"}, "attributeMerge": {"type": "timestampOrdered"}}))
        .await;
    let id = policy.body["id"].as_str().expect("id");
    let reply = server
        .get(&format!("/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=kim%40example.com&entityIdNS=Email&mergePolicyId={id}"))
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_merge_policy",
        &["_xdm.context.experienceevent"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_an_unconfigured_sandbox_stores_nothing_and_shows_the_default_policy_it_will_keep()
{
    let mut server = TestServer::start();
    let headers = [("x-sandbox-name", "fresh")];
    let before = server.send(Method::GET, POLICIES, None, &headers).await;
    assert_eq!(
        before.body["_page"]["totalCount"],
        json!(1),
        "{}",
        before.body
    );
    let lookup = "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=x%40example.com&entityIdNS=Email";
    let read_only = server.send(Method::GET, lookup, None, &headers).await;
    assert_eq!(
        read_only.status,
        StatusCode::NOT_FOUND,
        "{}",
        read_only.body
    );
    server.restart();
    let stored: Vec<String> = server
        .engine()
        .catalog()
        .sandbox_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(
        !stored.contains(&"fresh".to_owned()),
        "reading a sandbox stored it: {stored:?}"
    );
    server
        .namespace("CRMID", "CROSS_DEVICE", true, &headers)
        .await;
    let after = server.send(Method::GET, POLICIES, None, &headers).await;
    assert_eq!(
        after.body["children"][0]["id"],
        before.body["children"][0]["id"]
    );
    let prod = server.get(POLICIES).await;
    assert_ne!(
        prod.body["children"][0]["id"], before.body["children"][0]["id"],
        "each sandbox has its own default"
    );
}
