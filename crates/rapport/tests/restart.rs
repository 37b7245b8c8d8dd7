//! A restart keeps everything: catalog, graphs, profiles, events and merge policies.

use axum::http::StatusCode;
use serde_json::json;

use store::Store;

use crate::common::{ecid, event_ids, identities, iso, only_entity, pairs, Company, TestServer};

/// The stopped server's store, opened directly to put it back into an older layout.
fn open_store(data_dir: &std::path::Path) -> store::LmdbStore {
    let options = store::LmdbOptions {
        map_size_bytes: 1 << 30,
    };
    store::LmdbStore::open(&data_dir.join("lmdb"), &options).expect("store")
}

/// A merge policy that takes attributes from the CRM dataset only; its body as created.
async fn crm_only_policy(server: &TestServer, company: &Company) -> serde_json::Value {
    let policy = server
        .post(
            "/data/core/ups/config/mergePolicies",
            json!({"name": "CRM only", "schema": {"name": "_xdm.context.profile"}, "identityGraph": {"type": "pdg"}, "attributeMerge": {"type": "dataSetPrecedence", "order": [company.crm]}}),
        )
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.body);
    policy.body
}

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
    let policy = crm_only_policy(&server, &company).await;
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
    let policy_id = policy["id"].as_str().expect("id");
    let fetched = server
        .get(&format!("/data/core/ups/config/mergePolicies/{policy_id}"))
        .await;
    assert_eq!(fetched.body, policy);

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

/// A store written before events were filed by `_id` under their profile (2026-11-29) kept the
/// `_id`s in a table of their own. Opening it files them anew, so an event sent again still
/// replaces its stored copy, and empties the old table.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_from_before_event_ids_moved_under_profiles_still_replaces_events_sent_again() {
    let mut server = TestServer::start();
    let company = server.company(&[]).await;
    let event = |i: i64, at: i64| json!({"_id": format!("u-{i}"), "timestamp": iso(at), "identityMap": {"Email": [{"id": "u@example.com", "primary": true}]}});
    for i in 0..3 {
        server
            .ingest(&company.web, event(i, 1_700_000_000_000 + i))
            .await;
    }
    server.restart_with(|dir| {
        // Back to the old layout: no id entries under the profile, one old entry per event.
        let store = open_store(dir);
        let mut txn = store.write().expect("write");
        let mut id_entries = Vec::new();
        txn.scan(
            store::Table::Events,
            &[],
            &[],
            store::Direction::Forward,
            &mut |key, _| {
                if key.len() > 9 && key[key.len() - 9] == b'i' {
                    id_entries.push(key.to_vec());
                }
                store::Scan::Continue
            },
        )
        .expect("scan");
        assert_eq!(id_entries.len(), 3, "one id entry an event");
        for (i, key) in id_entries.iter().enumerate() {
            txn.delete(store::Table::Events, key).expect("delete");
            txn.put(
                store::Table::EventIds,
                format!("default\0{}\0=u-{i}", company.web).as_bytes(),
                b"an old location",
            )
            .expect("put");
        }
        txn.commit().expect("commit");
    });

    // Sent again with a new time: the stored copy moves, no second event appears.
    server
        .ingest(&company.web, event(1, 1_700_000_000_100))
        .await;
    let events = server.events("Email", "u@example.com", "").await;
    assert_eq!(
        event_ids(events.body["children"].as_array().expect("children")),
        ["u-0", "u-2", "u-1"]
    );
    let store = server.engine().store();
    let txn = store.read().expect("read");
    let old = store::collect_prefix(&*txn, store::Table::EventIds, b"").expect("scan");
    assert!(old.is_empty(), "the old table is emptied: {old:?}");
}

/// Records and prepared views are stored compressed since 2026-11-29; a store written before
/// holds them as plain JSON. Such a store answers lookups the same, merges on read from its
/// plain records, and a new record merges with them.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_with_uncompressed_records_and_views_still_answers_and_merges() {
    let mut server = TestServer::start();
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-P", "primary": true}], "Email": [{"id": "p@example.com"}]}, "person": {"name": {"firstName": "Paula", "lastName": "Plain"}}, "homeAddress": {"city": "Seattle", "stateProvince": "WA", "countryCode": "US", "postalCode": "98101"}}),
        )
        .await;
    let policy = crm_only_policy(&server, &company).await;
    let policy_id = policy["id"].as_str().expect("id").to_owned();
    let before = server.profile("Email", "p@example.com").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);

    server.restart_with(|dir| {
        // Back to the old layout: each record's JSON and each view's JSON as plain text.
        let store = open_store(dir);
        let mut txn = store.write().expect("write");
        let fragments = store::collect_prefix(&*txn, store::Table::Fragments, b"").expect("scan");
        assert_eq!(fragments.len(), 1);
        for (key, value) in fragments {
            let mut fragment: engine::records::StoredFragment =
                engine::records::decode(&value).expect("fragment");
            let plain = fragment.record_json().expect("json").into_owned();
            assert_ne!(fragment.json, plain, "the record was stored compressed");
            assert!(plain.starts_with(b"{"), "JSON text");
            fragment.json = plain;
            let bytes = engine::records::encode(&fragment).expect("encode");
            txn.put(store::Table::Fragments, &key, &bytes).expect("put");
        }
        let mut views = 0;
        for (key, value) in store::collect_prefix(&*txn, store::Table::Views, b"").expect("scan") {
            let Some(view) = engine::records::decode_view(&value) else {
                continue; // memberships share the table
            };
            let stamp_length = view.stamp.len();
            assert_ne!(value[0] & 0x80, 0, "the view was stored compressed");
            let mut plain = (stamp_length as u16).to_be_bytes().to_vec();
            plain.extend_from_slice(&value[2..2 + stamp_length + 24]);
            plain.extend_from_slice(&view.json);
            txn.put(store::Table::Views, &key, &plain).expect("put");
            views += 1;
        }
        assert_eq!(views, 1);
        txn.commit().expect("commit");
    });

    let after = server.profile("Email", "p@example.com").await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert_eq!(after.body, before.body, "the same profile, byte for byte");
    let merged_on_read = server
        .profile_with(
            "Email",
            "p@example.com",
            &format!("mergePolicyId={policy_id}"),
        )
        .await;
    assert_eq!(
        merged_on_read.status,
        StatusCode::OK,
        "{}",
        merged_on_read.body
    );
    let (_, item) = only_entity(&merged_on_read.body);
    assert_eq!(item["entity"]["person"]["name"]["lastName"], "Plain");

    // A second source merges with the plain record.
    server
        .ingest(
            &company.loyalty,
            json!({"identityMap": {"CRMID": [{"id": "CRM-P", "primary": true}]}, "loyalty": {"tier": "gold"}}),
        )
        .await;
    let entity = server.entity("Email", "p@example.com").await;
    assert_eq!(entity["person"]["name"]["firstName"], "Paula");
    assert_eq!(entity["homeAddress"]["city"], "Seattle");
    assert_eq!(entity["loyalty"]["tier"], "gold");
}
