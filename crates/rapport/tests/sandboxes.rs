//! Sandbox isolation: what is created in one sandbox does not exist in another.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{assert_problem, encode, Company, TestServer};

const DEV: &[(&str, &str)] = &[("x-sandbox-name", "dev")];
const PROD: &[(&str, &str)] = &[("x-sandbox-name", "prod")];

async fn get_in(server: &TestServer, uri: &str, headers: &[(&str, &str)]) -> crate::common::Reply {
    server.send(Method::GET, uri, None, headers).await
}

async fn lookup_in(
    server: &TestServer,
    namespace: &str,
    id: &str,
    headers: &[(&str, &str)],
) -> crate::common::Reply {
    let uri = format!(
        "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}&entityIdNS={namespace}",
        encode(id)
    );
    get_in(server, &uri, headers).await
}

fn dataset_ids(body: &serde_json::Value) -> Vec<String> {
    body.as_object()
        .expect("datasets keyed by id")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_and_profiles_of_dev_are_invisible_from_prod_and_back() {
    let server = TestServer::start();
    let dev: Company = server.company(DEV).await;
    server
        .ingest_in(
            &dev.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-DEV", "primary": true}], "Email": [{"id": "dev@example.com"}]}, "person": {"name": {"firstName": "Dev"}}}),
            DEV,
        )
        .await;

    // Everything is there in dev.
    let in_dev = lookup_in(&server, "Email", "dev@example.com", DEV).await;
    assert_eq!(in_dev.status, StatusCode::OK, "{}", in_dev.body);
    let datasets = get_in(&server, "/data/foundation/catalog/dataSets", DEV).await;
    assert_eq!(datasets.body.as_object().expect("datasets").len(), 4);
    let schema_uri = format!(
        "/data/foundation/schemaregistry/tenant/schemas/{}",
        encode(&dev.profile_schema)
    );
    assert_eq!(
        get_in(&server, &schema_uri, DEV).await.status,
        StatusCode::OK
    );

    // None of it is in prod (the default sandbox, with or without the header).
    for headers in [&[][..], PROD] {
        let datasets = get_in(&server, "/data/foundation/catalog/dataSets", headers).await;
        assert_eq!(datasets.status, StatusCode::OK);
        assert!(dataset_ids(&datasets.body).is_empty(), "{}", datasets.body);
        let schema = get_in(&server, &schema_uri, headers).await;
        assert_problem(&schema, 404, "schema_not_found", &[]);
        let lookup = lookup_in(&server, "Email", "dev@example.com", headers).await;
        assert_problem(&lookup, 404, "profile_not_found", &["dev@example.com"]);
        let crmid = lookup_in(&server, "CRMID", "CRM-DEV", headers).await;
        assert_problem(&crmid, 404, "namespace_not_found", &["CRMID"]);
        let dataset = get_in(
            &server,
            &format!("/data/foundation/catalog/dataSets/{}", dev.crm),
            headers,
        )
        .await;
        assert_problem(&dataset, 404, "dataset_not_found", &[]);
        // Writing into dev's dataset from prod fails: prod has no such dataset.
        let reply = server
            .send(
                Method::POST,
                "/collection/test-inlet",
                Some(json!({"header": {"datasetId": dev.crm}, "body": {"xdmEntity": {"identityMap": {"Email": [{"id": "x@example.com", "primary": true}]}}}})),
                headers,
            )
            .await;
        assert_problem(&reply, 404, "dataset_not_found", &[&dev.crm]);
    }

    // And back: prod's own resources and profiles stay out of dev.
    let prod = server.company(&[]).await;
    server
        .ingest(
            &prod.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-PROD", "primary": true}], "Email": [{"id": "dev@example.com"}]}, "person": {"name": {"firstName": "Prod"}}}),
        )
        .await;
    let prod_entity = server.entity("Email", "dev@example.com").await;
    assert_eq!(prod_entity["person"]["name"]["firstName"], "Prod");
    let dev_entity = lookup_in(&server, "Email", "dev@example.com", DEV).await;
    let (_, item) = crate::common::only_entity(&dev_entity.body);
    assert_eq!(
        item["entity"]["person"]["name"]["firstName"], "Dev",
        "same email, separate profiles"
    );
    assert_eq!(
        item["entity"]["identityMap"]["CRMID"],
        json!([{"id": "CRM-DEV", "primary": true}])
    );
    let prod_only = lookup_in(&server, "CRMID", "CRM-PROD", DEV).await;
    assert_problem(&prod_only, 404, "profile_not_found", &["CRM-PROD"]);
    let dev_datasets = dataset_ids(
        &get_in(&server, "/data/foundation/catalog/dataSets", DEV)
            .await
            .body,
    );
    let prod_datasets = dataset_ids(&server.get("/data/foundation/catalog/dataSets").await.body);
    assert_eq!(dev_datasets.len(), 4);
    assert_eq!(prod_datasets.len(), 4);
    assert!(dev_datasets.iter().all(|d| !prod_datasets.contains(d)));

    // Merge policies are per sandbox too.
    let policies_dev = get_in(&server, "/data/core/ups/config/mergePolicies", DEV).await;
    let policies_prod = server.get("/data/core/ups/config/mergePolicies").await;
    assert_eq!(policies_dev.body["_page"]["totalCount"], 1);
    assert_ne!(
        policies_dev.body["children"][0]["id"],
        policies_prod.body["children"][0]["id"]
    );
    assert_eq!(
        policies_dev.body["children"][0]["sandbox"]["sandboxName"],
        "dev"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_sandbox_name_is_400() {
    let server = TestServer::start();
    for bad in ["Dev", "dev_1", "has space", ""] {
        let reply = get_in(
            &server,
            "/data/foundation/catalog/dataSets",
            &[("x-sandbox-name", bad)],
        )
        .await;
        assert_problem(&reply, 400, "invalid_sandbox_name", &["x-sandbox-name"]);
    }
    let reply = get_in(
        &server,
        "/data/core/ups/config/mergePolicies",
        &[("x-sandbox-name", "Prod!")],
    )
    .await;
    assert_problem(&reply, 400, "invalid_sandbox_name", &["Prod!"]);
    insta::assert_json_snapshot!("invalid_sandbox", reply.body);
    let long = "a".repeat(65);
    let reply = get_in(
        &server,
        "/data/foundation/catalog/dataSets",
        &[("x-sandbox-name", &long)],
    )
    .await;
    assert_problem(&reply, 400, "invalid_sandbox_name", &[]);
    assert_eq!(
        server.get("/data/foundation/catalog/dataSets").await.status,
        StatusCode::OK
    );
}
