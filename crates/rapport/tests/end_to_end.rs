//! Schema → dataset → ingest → lookup, the whole path a new user takes.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{ecid, event_ids, identities, iso, only_entity, pairs, Company, TestServer};

const EMAIL: &str = "jane.doe@example.com";
const CRMID: &str = "CRM-0001";

/// Jane: one CRM record and three web events.
async fn jane(server: &TestServer) -> Company {
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({
                "identityMap": {"CRMID": [{"id": CRMID, "primary": true}], "Email": [{"id": EMAIL}]},
                "person": {"name": {"firstName": "Jane", "lastName": "Doe"}, "birthDate": "1990-12-31"},
                "personalEmail": {"address": EMAIL, "primary": true},
                "homeAddress": {"city": "Seattle", "countryCode": "US"},
                "loyalty": {"tier": "gold", "points": 1200.0}
            }),
        )
        .await;
    for (i, page) in ["Home", "Tents", "Checkout"].iter().enumerate() {
        server
            .ingest(
                &company.web,
                json!({
                    "_id": format!("web-{i}"),
                    "timestamp": iso(1_700_000_000_000 + i as i64 * 60_000),
                    "eventType": "web.webpagedetails.pageViews",
                    "identityMap": {"ECID": [{"id": ecid(42)}], "Email": [{"id": EMAIL}]},
                    "web": {"webPageDetails": {"name": page, "pageViews": {"value": 1.0}}}
                }),
            )
            .await;
    }
    company
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_ingested_through_a_new_schema_and_dataset_is_found_by_email() {
    let server = TestServer::start();
    let company = jane(&server).await;

    let reply = server.profile("Email", EMAIL).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (key, item) = only_entity(&reply.body);
    assert_eq!(item["entityId"], json!(key), "keyed by its own entityId");
    assert!(key.starts_with('P') && key.len() == 17, "profile id {key}");
    assert_eq!(item["sources"], json!([company.crm]));
    let entity = &item["entity"];
    assert_eq!(entity["person"]["name"]["firstName"], "Jane");
    assert_eq!(entity["person"]["birthDate"], "1990-12-31");
    assert_eq!(entity["loyalty"]["tier"], "gold");
    assert_eq!(
        identities(entity),
        pairs(&[("CRMID", CRMID), ("Email", EMAIL), ("ECID", &ecid(42))])
    );
    // The primary identity of the merged profile is the highest-priority one: the CRM id.
    assert_eq!(entity["identityMap"]["CRMID"][0]["primary"], json!(true));
    insta::assert_json_snapshot!("jane_profile", item, {
        ".entityId" => "[profile id]",
        ".mergePolicy.id" => "[merge policy id]",
        ".sources[]" => "[dataset id]",
        ".lastModifiedAt" => "[timestamp]",
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_is_found_by_its_profile_id_alone() {
    let server = TestServer::start();
    jane(&server).await;
    let profile_id = server.profile_id("Email", EMAIL).await;

    let reply = server.profile_with("", &profile_id, "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (key, item) = only_entity(&reply.body);
    assert_eq!(key, &profile_id);
    assert_eq!(item["entity"]["person"]["name"]["lastName"], "Doe");

    // A well-formed profile id that names nothing is a 404, not an error of another kind.
    let missing = server.profile_with("", "P00000000000fffff", "").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    assert_eq!(missing.body["code"], "profile_not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn fields_projection_returns_only_the_requested_paths_and_the_identity_list() {
    let server = TestServer::start();
    jane(&server).await;

    let reply = server
        .profile_with(
            "Email",
            EMAIL,
            "fields=identities,person.name.firstName,homeAddress",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let entity = &only_entity(&reply.body).1["entity"];
    let keys: Vec<&String> = entity.as_object().expect("entity").keys().collect();
    assert_eq!(keys, ["homeAddress", "identities", "person"], "{entity}");
    assert_eq!(entity["person"], json!({"name": {"firstName": "Jane"}}));
    assert_eq!(
        entity["homeAddress"],
        json!({"city": "Seattle", "countryCode": "US"})
    );
    let mut listed: Vec<(String, String, bool)> = entity["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| {
            (
                i["namespace"]["code"].as_str().expect("code").to_owned(),
                i["id"].as_str().expect("id").to_owned(),
                i.get("primary") == Some(&json!(true)),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        vec![
            ("CRMID".to_owned(), CRMID.to_owned(), true),
            ("ECID".to_owned(), ecid(42), false),
            ("Email".to_owned(), EMAIL.to_owned(), false),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_of_the_profile_are_returned_in_time_order() {
    let server = TestServer::start();
    jane(&server).await;
    let profile_id = server.profile_id("Email", EMAIL).await;

    let reply = server.events("Email", EMAIL, "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let children = reply.body["children"].as_array().expect("children");
    assert_eq!(event_ids(children), ["web-0", "web-1", "web-2"]);
    for (i, child) in children.iter().enumerate() {
        assert_eq!(child["relatedEntityId"], json!(profile_id));
        assert_eq!(
            child["timestamp"],
            json!(1_700_000_000_000_i64 + i as i64 * 60_000)
        );
        assert_eq!(child["entity"]["_id"], json!(format!("web-{i}")));
    }
    assert_eq!(
        children[1]["entity"]["web"]["webPageDetails"]["name"],
        "Tents"
    );
    assert_eq!(reply.body["_page"]["count"], 3);
    assert_eq!(reply.body["_page"]["next"], "");
    assert_eq!(reply.body["_links"]["next"]["href"], "");

    // The same events through the profile id alone, and through the ECID.
    let by_id = server.events("", &profile_id, "").await;
    assert_eq!(
        event_ids(by_id.body["children"].as_array().expect("children")),
        ["web-0", "web-1", "web-2"]
    );
    let by_ecid = server
        .events("ECID", &ecid(42), "fields=web.webPageDetails.name")
        .await;
    let first: &Value = &by_ecid.body["children"][0];
    assert_eq!(
        first["entity"],
        json!({"web": {"webPageDetails": {"name": "Home"}}}),
        "fields also projects events"
    );
}
