//! POST /data/core/ups/access/entities: several profiles, or the events of several profiles.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_problem, event_ids, iso, Company, TestServer};

const ENTITIES: &str = "/data/core/ups/access/entities";

/// Three customers with two, three and four events.
async fn three_customers(server: &TestServer) -> Company {
    let company = server.company(&[]).await;
    for (n, name) in ["Ana", "Ben", "Cy"].iter().enumerate() {
        let email = format!("{}@example.com", name.to_lowercase());
        server
            .ingest(
                &company.crm,
                json!({"identityMap": {"CRMID": [{"id": format!("CRM-{name}"), "primary": true}], "Email": [{"id": email}]}, "person": {"name": {"firstName": name}}, "homeAddress": {"city": "Berlin"}}),
            )
            .await;
        for i in 0..(n + 2) {
            server
                .ingest(
                    &company.web,
                    json!({"_id": format!("{name}-{i}"), "timestamp": iso(1_700_000_000_000 + i as i64 * 1000), "identityMap": {"Email": [{"id": email}]}}),
                )
                .await;
        }
    }
    company
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_in_one_request_with_an_unknown_identity_as_an_empty_entity() {
    let server = TestServer::start();
    three_customers(&server).await;
    let ben = server.profile_id("CRMID", "CRM-Ben").await;

    let reply = server
        .post(
            ENTITIES,
            json!({
                "schema": {"name": "_xdm.context.profile"},
                "fields": ["person.name", "identities"],
                "identities": [
                    {"entityId": "ana@example.com", "entityIdNS": {"code": "Email"}},
                    {"entityId": ben},
                    {"entityId": "nobody@example.com", "entityIdNS": {"code": "Email"}}
                ]
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let keyed = reply.body.as_object().expect("keyed object");
    assert_eq!(keyed.len(), 3, "{}", reply.body);
    let ana = server.profile_id("Email", "ana@example.com").await;
    assert_eq!(keyed[&ana]["entityId"], json!(ana));
    assert_eq!(
        keyed[&ana]["entity"]["person"],
        json!({"name": {"firstName": "Ana"}})
    );
    assert!(
        keyed[&ana]["entity"].get("homeAddress").is_none(),
        "fields apply"
    );
    assert_eq!(
        keyed[&ana]["entity"]["identities"]
            .as_array()
            .expect("identities")
            .len(),
        2
    );
    assert_eq!(keyed[&ben]["entity"]["person"]["name"]["firstName"], "Ben");
    // The reference's shape for an identity nobody has.
    assert_eq!(
        keyed["nobody@example.com"],
        json!({"entityId": "nobody@example.com", "sources": [""], "entity": {}, "lastModifiedAt": "1970-01-01T00:00:00Z"})
    );
    insta::assert_json_snapshot!("unknown_identity_in_batch", keyed["nobody@example.com"]);

    // Two identities of the same person answer once, under the profile id.
    let reply = server
        .post(
            ENTITIES,
            json!({"schema": {"name": "_xdm.context.profile"}, "identities": [
                {"entityId": "CRM-Cy", "entityIdNS": {"code": "CRMID"}},
                {"entityId": "cy@example.com", "entityIdNS": "Email"}
            ]}),
        )
        .await;
    assert_eq!(
        reply.body.as_object().expect("keyed").len(),
        1,
        "{}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_of_several_profiles_in_one_request_with_paging_payloads() {
    let server = TestServer::start();
    three_customers(&server).await;
    let cy = server.profile_id("Email", "cy@example.com").await;

    let body = json!({
        "schema": {"name": "_xdm.context.experienceevent"},
        "relatedSchema": {"name": "_xdm.context.profile"},
        "identities": [
            {"relatedEntityId": "ana@example.com", "relatedEntityIdNS": {"code": "Email"}},
            {"relatedEntityId": "CRM-Ben", "relatedEntityIdNS": {"code": "CRMID"}},
            {"relatedEntityId": cy},
            {"relatedEntityId": "nobody@example.com", "relatedEntityIdNS": {"code": "Email"}}
        ],
        "orderby": "-timestamp",
        "limit": 3
    });
    let reply = server.post(ENTITIES, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let keyed = reply.body.as_object().expect("keyed by relatedEntityId");
    assert_eq!(keyed.len(), 4);
    let ids = |v: &Value| event_ids(v["children"].as_array().expect("children"));
    assert_eq!(ids(&keyed["ana@example.com"]), ["Ana-1", "Ana-0"]);
    assert_eq!(keyed["ana@example.com"]["_links"]["next"]["href"], "");
    assert_eq!(ids(&keyed["CRM-Ben"]), ["Ben-2", "Ben-1", "Ben-0"]);
    assert_eq!(ids(&keyed["nobody@example.com"]), Vec::<String>::new());
    // Cy has four events: the first three, and a payload to fetch the rest.
    let cy_page = &keyed[&cy];
    assert_eq!(ids(cy_page), ["Cy-3", "Cy-2", "Cy-1"]);
    assert_eq!(cy_page["_page"]["count"], 3);
    assert_eq!(cy_page["_links"]["next"]["href"], "/entities");
    let payload = cy_page["_links"]["next"]["payload"].clone();
    assert_eq!(
        payload["identities"].as_array().expect("identities").len(),
        1
    );
    let rest = server.post(ENTITIES, payload).await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
    assert_eq!(ids(&rest.body[&cy]), ["Cy-0"]);
    assert_eq!(rest.body[&cy]["_links"]["next"]["href"], "");

    // A time filter applies to every profile: startTime inclusive, endTime exclusive.
    let reply = server
        .post(
            ENTITIES,
            json!({
                "schema": {"name": "_xdm.context.experienceevent"},
                "identities": [{"relatedEntityId": "CRM-Ben", "relatedEntityIdNS": {"code": "CRMID"}}, {"relatedEntityId": cy}],
                "timeFilter": {"startTime": 1_700_000_001_000_i64, "endTime": 1_700_000_003_000_i64}
            }),
        )
        .await;
    assert_eq!(ids(&reply.body["CRM-Ben"]), ["Ben-1", "Ben-2"]);
    assert_eq!(ids(&reply.body[&cy]), ["Cy-1", "Cy-2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_lookup_errors_name_the_field() {
    let server = TestServer::start();
    three_customers(&server).await;

    let reply = server.post(ENTITIES, json!({"identities": []})).await;
    assert_problem(&reply, 400, "missing_parameter", &["/schema/name"]);
    let reply = server
        .post(
            ENTITIES,
            json!({"schema": {"name": "_xdm.context.profile"}}),
        )
        .await;
    assert_problem(&reply, 400, "missing_parameter", &["/identities"]);
    let reply = server
        .post(
            ENTITIES,
            json!({"schema": {"name": "_xdm.context.profile"}, "identities": [{"entityId": "x", "entityIdNS": {"code": "Nope"}}]}),
        )
        .await;
    assert_problem(
        &reply,
        404,
        "namespace_not_found",
        &["/identities/0", "Nope"],
    );
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"entityId": format!("{i}@example.com"), "entityIdNS": {"code": "Email"}}))
        .collect();
    let reply = server
        .post(
            ENTITIES,
            json!({"schema": {"name": "_xdm.context.profile"}, "identities": many}),
        )
        .await;
    assert_problem(&reply, 400, "too_many_items", &["1000"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_lookup_answers_each_profile_as_its_single_lookup_does() {
    let server = TestServer::start();
    three_customers(&server).await;
    let reply = server
        .post(
            ENTITIES,
            json!({"schema": {"name": "_xdm.context.profile"}, "identities": [
                {"entityId": "ana@example.com", "entityIdNS": {"code": "Email"}},
                {"entityId": "CRM-Ben", "entityIdNS": {"code": "CRMID"}},
                {"entityId": "CRM-\"quoted\"", "entityIdNS": {"code": "CRMID"}}
            ]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let keyed = reply.body.as_object().expect("keyed object");
    assert_eq!(keyed.len(), 3, "{}", reply.body);
    for (namespace, id) in [("Email", "ana@example.com"), ("CRMID", "CRM-Ben")] {
        let single = server
            .get(&format!(
                "{ENTITIES}?schema.name=_xdm.context.profile&entityIdNS={namespace}&entityId={}",
                id.replace('@', "%40")
            ))
            .await;
        assert_eq!(single.status, StatusCode::OK, "{}", single.body);
        let (profile_id, item) = single
            .body
            .as_object()
            .and_then(|o| o.iter().next())
            .expect("one profile");
        assert_eq!(&keyed[profile_id], item, "{namespace} {id}");
    }
    assert_eq!(keyed["CRM-\"quoted\""]["entityId"], json!("CRM-\"quoted\""));
}
