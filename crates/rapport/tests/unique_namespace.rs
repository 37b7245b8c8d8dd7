//! The unique-namespace rule on a shared device: an ECID follows the last person who logged in.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{
    ecid, event_ids, identities, iso, next_millisecond, pairs, Company, TestServer,
};

const ALICE: &str = "CRM-ALICE";
const ALICE_EMAIL: &str = "alice@example.com";
const BOB: &str = "CRM-BOB";
const BOB_EMAIL: &str = "bob@example.com";

fn device() -> String {
    ecid(555_000_111)
}

/// A web event on the shared device, with or without a login.
fn web_event(id: &str, at_ms: i64, login: Option<&str>) -> Value {
    let mut identity_map = json!({"ECID": [{"id": device()}]});
    if let Some(crm_id) = login {
        identity_map["CRMID"] = json!([{"id": crm_id, "authenticatedState": "authenticated"}]);
    }
    json!({
        "_id": id, "timestamp": iso(at_ms), "eventType": "web.webpagedetails.pageViews",
        "identityMap": identity_map,
        "web": {"webPageDetails": {"name": id}}
    })
}

async fn customers(server: &TestServer) -> Company {
    let company = server.company(&[]).await;
    for (crm_id, email, name) in [(ALICE, ALICE_EMAIL, "Alice"), (BOB, BOB_EMAIL, "Bob")] {
        server
            .ingest(
                &company.crm,
                json!({
                    "identityMap": {"CRMID": [{"id": crm_id, "primary": true}], "Email": [{"id": email}]},
                    "person": {"name": {"firstName": name}}
                }),
            )
            .await;
    }
    company
}

async fn event_list(server: &TestServer, namespace: &str, id: &str) -> Vec<String> {
    let reply = server.events(namespace, id, "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    event_ids(reply.body["children"].as_array().expect("children"))
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_device_follows_the_last_login_and_the_graph_explains_the_removed_link() {
    let server = TestServer::start();
    let company = customers(&server).await;
    let t0 = 1_720_000_000_000_i64;

    // Anonymous browsing on the device, then Alice logs in on it.
    server
        .ingest(&company.web, web_event("anonymous-1", t0, None))
        .await;
    next_millisecond().await;
    server
        .ingest(&company.web, web_event("alice-1", t0 + 60_000, Some(ALICE)))
        .await;
    let alice = server.entity("CRMID", ALICE).await;
    assert_eq!(
        identities(&alice),
        pairs(&[
            ("CRMID", ALICE),
            ("ECID", &device()),
            ("Email", ALICE_EMAIL)
        ])
    );
    let alice_profile = server.profile_id("CRMID", ALICE).await;
    assert_eq!(server.profile_id("ECID", &device()).await, alice_profile);
    assert_eq!(
        event_list(&server, "CRMID", ALICE).await,
        ["anonymous-1", "alice-1"]
    );

    // Later, Bob logs in on the same device: CRMID is unique, so the newer link wins.
    next_millisecond().await;
    server
        .ingest(&company.web, web_event("bob-1", t0 + 120_000, Some(BOB)))
        .await;

    let bob = server.entity("CRMID", BOB).await;
    assert_eq!(
        identities(&bob),
        pairs(&[("CRMID", BOB), ("ECID", &device()), ("Email", BOB_EMAIL)])
    );
    assert_eq!(bob["person"]["name"]["firstName"], "Bob");
    let alice = server.entity("CRMID", ALICE).await;
    assert_eq!(
        identities(&alice),
        pairs(&[("CRMID", ALICE), ("Email", ALICE_EMAIL)]),
        "Alice keeps her CRM id and email, not the device"
    );
    assert_eq!(alice["person"]["name"]["firstName"], "Alice");
    assert_eq!(
        server.profile_id("CRMID", ALICE).await,
        alice_profile,
        "Alice keeps her profile id"
    );
    assert_eq!(
        server.profile_id("ECID", &device()).await,
        server.profile_id("CRMID", BOB).await
    );
    // The device's own (anonymous) events went with the device; Alice's login event stayed hers.
    assert_eq!(
        event_list(&server, "CRMID", BOB).await,
        ["anonymous-1", "bob-1"]
    );
    assert_eq!(event_list(&server, "CRMID", ALICE).await, ["alice-1"]);
    assert_eq!(event_list(&server, "Email", ALICE_EMAIL).await, ["alice-1"]);

    // The graph explanation lists the removed link and why.
    let uri = format!("/data/core/identity/graph?ns=ECID&id={}", device());
    let explained = server.get(&uri).await;
    assert_eq!(explained.status, StatusCode::OK, "{}", explained.body);
    assert_eq!(
        explained.body["profileId"],
        json!(server.profile_id("CRMID", BOB).await)
    );
    let removed = explained.body["removedLinks"]
        .as_array()
        .expect("removedLinks");
    let link = removed
        .iter()
        .find(|r| {
            let ends = [&r["from"], &r["to"]];
            ends.contains(&&json!({"namespace": "CRMID", "id": ALICE}))
                && ends.contains(&&json!({"namespace": "ECID", "id": device()}))
        })
        .unwrap_or_else(|| panic!("the Alice-device link is listed: {}", explained.body));
    assert_eq!(link["dataset"], json!(company.web));
    let reason = link["reason"].as_str().expect("reason");
    assert!(
        reason.contains("CRMID") && reason.contains("unique"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("link to CRMID {BOB} won")),
        "the reason names the link that won: {reason}"
    );
    assert!(
        reason.contains(&format!("link to CRMID {ALICE} was removed")),
        "the reason names the link that was removed: {reason}"
    );
    let members: Vec<(String, String)> = explained.body["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|n| {
            (
                n["namespace"].as_str().expect("ns").to_owned(),
                n["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    let mut members = members;
    members.sort();
    assert_eq!(
        members,
        pairs(&[("CRMID", BOB), ("ECID", &device()), ("Email", BOB_EMAIL)])
    );

    // Alice logs in again on the device: it follows her back, with its anonymous events.
    next_millisecond().await;
    server
        .ingest(
            &company.web,
            web_event("alice-2", t0 + 180_000, Some(ALICE)),
        )
        .await;
    let alice = server.entity("CRMID", ALICE).await;
    assert_eq!(
        identities(&alice),
        pairs(&[
            ("CRMID", ALICE),
            ("ECID", &device()),
            ("Email", ALICE_EMAIL)
        ])
    );
    let bob = server.entity("CRMID", BOB).await;
    assert_eq!(
        identities(&bob),
        pairs(&[("CRMID", BOB), ("Email", BOB_EMAIL)])
    );
    assert_eq!(server.profile_id("ECID", &device()).await, alice_profile);
    assert_eq!(
        event_list(&server, "ECID", &device()).await,
        ["anonymous-1", "alice-1", "alice-2"]
    );
    assert_eq!(event_list(&server, "CRMID", BOB).await, ["bob-1"]);
    let explained = server.get(&uri).await;
    let reasons: Vec<&str> = explained.body["removedLinks"]
        .as_array()
        .expect("removedLinks")
        .iter()
        .filter(|r| [&r["from"], &r["to"]].contains(&&json!({"namespace": "CRMID", "id": BOB})))
        .map(|r| r["reason"].as_str().expect("reason"))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(&format!("link to CRMID {ALICE} won"))
                && r.contains(&format!("link to CRMID {BOB} was removed"))),
        "the Bob-device link is listed as removed in favour of Alice: {}",
        explained.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_unique_namespace_links_everyone_who_shares_it() {
    // The contrast case: without `unique`, the same shared device collapses both people.
    let server = TestServer::start();
    server
        .namespace("LoyaltyID", "CROSS_DEVICE", false, &[])
        .await;
    let schema = server
        .schema("Activity", "experienceevent", &["experienceevent-web"], &[])
        .await;
    let web = server.dataset("Web", &schema, &[]).await;
    for (i, member) in ["L-1", "L-2"].iter().enumerate() {
        server
            .ingest(
                &web,
                json!({
                    "_id": format!("e{i}"), "timestamp": iso(1_720_000_000_000 + i as i64),
                    "identityMap": {"ECID": [{"id": device()}], "LoyaltyID": [{"id": member}]}
                }),
            )
            .await;
        next_millisecond().await;
    }
    assert_eq!(
        server.profile_id("LoyaltyID", "L-1").await,
        server.profile_id("LoyaltyID", "L-2").await
    );
    let missing = server
        .get(&format!("/data/core/identity/graph?ns=ECID&id={}", ecid(1)))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["code"], "identity_not_found");
}
