//! Stitching across datasets: a CRM record, a web event and a call-center event that share
//! identities pairwise become one profile.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{ecid, event_ids, identities, iso, only_entity, pairs, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn crm_record_web_event_and_call_center_event_stitch_into_one_profile() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let (crm_id, email, device, phone) = (
        "CRM-77",
        "maria.garcia@example.com",
        ecid(4_512_000_007),
        "+12065551077",
    );

    // Dataset A: the CRM record, CRMID primary, with the email.
    server
        .ingest(
            &company.crm,
            json!({
                "identityMap": {"CRMID": [{"id": crm_id, "primary": true}], "Email": [{"id": email}]},
                "person": {"name": {"firstName": "Maria", "lastName": "Garcia"}},
                "personalEmail": {"address": email}
            }),
        )
        .await;
    // A second profile dataset, keyed by the email, adds the loyalty attributes.
    server
        .ingest(
            &company.loyalty,
            json!({
                "identityMap": {"Email": [{"id": email, "primary": true}]},
                "loyalty": {"tier": "platinum", "points": 18000.0}
            }),
        )
        .await;
    // Dataset B: a web event with the ECID and the email.
    server
        .ingest(
            &company.web,
            json!({
                "_id": "web-1", "timestamp": iso(1_710_000_000_000), "eventType": "web.webpagedetails.pageViews",
                "identityMap": {"ECID": [{"id": device}], "Email": [{"id": email}]},
                "web": {"webPageDetails": {"name": "Jackets"}}
            }),
        )
        .await;
    // Dataset C: a call-center event with the phone and the CRM id.
    server
        .ingest(
            &company.calls,
            json!({
                "_id": "call-1", "timestamp": iso(1_710_000_500_000), "eventType": "support.call",
                "identityMap": {"Phone": [{"id": phone}], "CRMID": [{"id": crm_id}]},
                "support": {"caseID": "CASE-1", "channel": "call", "reason": "late delivery", "outcome": "resolved", "satisfaction": 4}
            }),
        )
        .await;

    let all_four = pairs(&[
        ("CRMID", crm_id),
        ("ECID", &device),
        ("Email", email),
        ("Phone", phone),
    ]);
    let mut profile_ids = Vec::new();
    for (namespace, id) in [
        ("CRMID", crm_id),
        ("Email", email),
        ("ECID", device.as_str()),
        ("Phone", phone),
    ] {
        let reply = server.profile(namespace, id).await;
        assert_eq!(reply.status, StatusCode::OK, "{namespace}: {}", reply.body);
        let (profile_id, item) = only_entity(&reply.body);
        profile_ids.push(profile_id.clone());
        let entity = &item["entity"];
        assert_eq!(identities(entity), all_four, "looked up by {namespace}");
        // Attributes of both profile datasets are merged.
        assert_eq!(entity["person"]["name"]["firstName"], "Maria");
        assert_eq!(entity["loyalty"]["tier"], "platinum");
        let mut sources: Vec<String> = item["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .map(|s| s.as_str().expect("source").to_owned())
            .collect();
        sources.sort();
        let mut expected = vec![company.crm.clone(), company.loyalty.clone()];
        expected.sort();
        assert_eq!(sources, expected);

        let events = server.events(namespace, id, "").await;
        assert_eq!(events.status, StatusCode::OK, "{}", events.body);
        assert_eq!(
            event_ids(events.body["children"].as_array().expect("children")),
            ["web-1", "call-1"],
            "events looked up by {namespace}"
        );
    }
    profile_ids.dedup();
    assert_eq!(profile_ids.len(), 1, "one profile: {profile_ids:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn records_arriving_in_reverse_order_stitch_the_same_way() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let (crm_id, email, device, phone) = ("CRM-78", "lena@example.com", ecid(9), "+4930111");

    // The events first: two separate graphs until the CRM record bridges them.
    server
        .ingest(
            &company.calls,
            json!({
                "_id": "call-1", "timestamp": iso(1_710_000_000_000),
                "identityMap": {"Phone": [{"id": phone}], "CRMID": [{"id": crm_id}]},
                "support": {"channel": "call"}
            }),
        )
        .await;
    server
        .ingest(
            &company.web,
            json!({
                "_id": "web-1", "timestamp": iso(1_710_000_100_000),
                "identityMap": {"ECID": [{"id": device}], "Email": [{"id": email}]}
            }),
        )
        .await;
    let before_phone = server.profile_id("Phone", phone).await;
    let before_ecid = server.profile_id("ECID", &device).await;
    assert_ne!(before_phone, before_ecid, "not linked yet");

    server
        .ingest(
            &company.crm,
            json!({
                "identityMap": {"CRMID": [{"id": crm_id, "primary": true}], "Email": [{"id": email}]},
                "person": {"name": {"firstName": "Lena"}}
            }),
        )
        .await;
    let entity = server.entity("ECID", &device).await;
    assert_eq!(
        identities(&entity),
        pairs(&[
            ("CRMID", crm_id),
            ("ECID", &device),
            ("Email", email),
            ("Phone", phone)
        ])
    );
    assert_eq!(entity["person"]["name"]["firstName"], "Lena");
    assert_eq!(
        server.profile_id("Phone", phone).await,
        server.profile_id("ECID", &device).await
    );
    let events = server.events("Phone", phone, "orderby=-timestamp").await;
    assert_eq!(
        event_ids(events.body["children"].as_array().expect("children")),
        ["web-1", "call-1"]
    );
}
