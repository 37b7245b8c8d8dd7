//! The audit log through the API: every audited route of the table records an entry with its
//! outcome; a lookup's entry says who, which profile, by which identity (a keyed hash, never
//! the value) and which fields; refusals are recorded; `profileId` queries include ids merged
//! away since; the export is JSON Lines; reading needs `audit.read`; console pages and sign-ins
//! are recorded as the signed-in user.

use std::path::Path;

use axum::http::{header, Method, StatusCode};
use rapport::http::routes::table::table;
use serde_json::{json, Value};

use crate::access::concrete;
use crate::common::{Reply, TestServer};

/// Every entry the log holds for `query` (the audit writer is flushed first).
pub(crate) async fn entries(server: &TestServer, query: &str) -> Vec<Value> {
    server.state().audit.flush().expect("the audit log flushes");
    let reply = server
        .get(&format!("/data/foundation/audit/events?limit=1000&{query}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
    reply.body["_embedded"]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn key_with(server: &TestServer, actions: &[&str]) -> (String, String) {
    let reply = server
        .post(
            "/data/rapport/keys",
            json!({"name": "t", "actions": actions, "sandboxes": ["*"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (
        reply.body["key"].as_str().expect("key").to_owned(),
        reply.body["id"].as_str().expect("id").to_owned(),
    )
}

async fn get_as(server: &TestServer, token: &str, uri: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    server
        .send_raw(Method::GET, uri, Vec::new(), &[("authorization", &bearer)])
        .await
}

/// Every byte of every file under `dir`.
fn files_under(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            bytes.extend(files_under(&path));
        } else {
            bytes.extend(std::fs::read(&path).expect("file"));
        }
    }
    bytes
}

fn count(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}

#[tokio::test]
async fn every_audited_route_records_an_entry_with_its_outcome() {
    let server = TestServer::start();
    let mut audited = 0;
    for route in table() {
        let Some(audit) = &route.audit else {
            continue;
        };
        audited += 1;
        let path = concrete(&route.path);
        let body = if route.method == Method::GET || route.method == Method::DELETE {
            None
        } else {
            Some(json!({}))
        };
        let reply = server.send(route.method.clone(), &path, body, &[]).await;
        let what = format!("{} {}", route.method, route.path);
        let found = entries(&server, &format!("action={}", audit.action)).await;
        let entry = found
            .iter()
            .find(|e| e["outcome"]["status"] == json!(reply.status.as_u16()))
            .unwrap_or_else(|| {
                panic!(
                    "{what} answered {} but left no {} entry with that status: {found:?}",
                    reply.status, audit.action
                )
            });
        assert_eq!(entry["actor"]["kind"], "master", "{what}");
        assert_eq!(entry["via"], "api", "{what}");
        if !reply.status.is_success() {
            assert_eq!(entry["outcome"]["code"], reply.body["code"], "{what}");
        }
    }
    assert!(audited >= 25, "only {audited} routes are audited");
}

#[tokio::test]
async fn a_lookup_is_recorded_with_who_which_profile_and_fields_but_never_the_identity() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-7", "primary": true}], "Email": [{"id": "kim.ortiz@example.com"}]}, "person": {"name": {"firstName": "Kim"}}}),
        )
        .await;
    server
        .ingest(
            &company.web,
            json!({"_id": "e-1", "timestamp": "2026-01-02T03:04:05Z", "identityMap": {"Email": [{"id": "kim.ortiz@example.com"}]}, "web": {"webPageDetails": {"name": "home"}}}),
        )
        .await;
    let profile_id = server.profile_id("CRMID", "CRM-7").await;
    let (reader, reader_id) = key_with(&server, &["profiles.read", "events.read"]).await;

    let lookup = get_as(
        &server,
        &reader,
        "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=kim.ortiz@example.com&entityIdNS=Email&fields=person.name",
    )
    .await;
    assert_eq!(lookup.status, StatusCode::OK, "{}", lookup.body);
    let events = get_as(
        &server,
        &reader,
        "/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId=CRM-7&relatedEntityIdNS=CRMID",
    )
    .await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.body);
    // A key without events.read is refused, and that is recorded too.
    let (profiles_only, _) = key_with(&server, &["profiles.read"]).await;
    let refused = get_as(
        &server,
        &profiles_only,
        "/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId=CRM-7&relatedEntityIdNS=CRMID",
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Asked by the identity's value (in another case): the log hashes it the same way.
    let by_identity = entries(&server, "identityNS=Email&identity=KIM.ORTIZ%40example.com").await;
    assert_eq!(by_identity.len(), 1, "{by_identity:?}");
    let entry = &by_identity[0];
    assert_eq!(entry["action"], "profile.lookup");
    assert_eq!(entry["actor"], json!({"kind": "key", "id": reader_id}));
    assert_eq!(entry["profiles"], json!([profile_id]));
    assert_eq!(entry["sandbox"], "prod");
    assert_eq!(entry["fields"]["requested"], json!(["person.name"]));
    assert_eq!(entry["outcome"], json!({"status": 200}));
    assert_eq!(entry["identity"]["namespace"], "Email");
    assert_eq!(entry["identity"]["hmac"].as_str().map(str::len), Some(32));

    let events_entries = entries(&server, "action=events.lookup").await;
    assert_eq!(events_entries.len(), 2, "{events_entries:?}");
    assert_eq!(events_entries[0]["outcome"]["status"], 403, "newest first");
    assert_eq!(events_entries[0]["outcome"]["code"], "action_not_permitted");
    assert_eq!(events_entries[1]["profiles"], json!([profile_id]));
    let by_profile = entries(
        &server,
        &format!("profileId={profile_id}&actor=key:{reader_id}"),
    )
    .await;
    assert_eq!(
        by_profile.len(),
        2,
        "both successful lookups: {by_profile:?}"
    );

    // The audit environment holds no identity value, in any case.
    let audit_files = files_under(&server.data_dir().join("audit"));
    assert!(
        count(&audit_files, "profile.lookup") > 0,
        "the scan sees entries"
    );
    for needle in ["kim.ortiz@example.com", "KIM.ORTIZ@EXAMPLE.COM", "CRM-7"] {
        assert_eq!(
            count(&audit_files, needle),
            0,
            "{needle} is in the audit log"
        );
    }
}

#[tokio::test]
async fn a_profile_s_entries_include_those_made_under_ids_merged_into_it_since() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-1", "primary": true}]}, "person": {"name": {"firstName": "Ada"}}}),
        )
        .await;
    server
        .ingest(
            &company.loyalty,
            json!({"identityMap": {"Email": [{"id": "ada@example.com", "primary": true}]}, "loyalty": {"tier": "gold"}}),
        )
        .await;
    let first = server.profile_id("CRMID", "CRM-1").await;
    let second = server.profile_id("Email", "ada@example.com").await;
    assert_ne!(first, second);
    // A record carrying both identities merges the two profiles.
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-1", "primary": true}], "Email": [{"id": "ada@example.com"}]}}),
        )
        .await;
    let merged = server.profile_id("CRMID", "CRM-1").await;
    assert_eq!(merged, server.profile_id("Email", "ada@example.com").await);
    let mut looked_up = vec![first.clone(), second.clone(), merged.clone()];
    looked_up.sort();
    looked_up.dedup();
    let found = entries(&server, &format!("profileId={merged}")).await;
    let mut profiles: Vec<String> = found
        .iter()
        .flat_map(|e| e["profiles"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    profiles.sort();
    profiles.dedup();
    assert_eq!(profiles, looked_up, "{found:?}");
}

#[tokio::test]
async fn reading_the_log_needs_audit_read_and_the_export_is_json_lines() {
    let server = TestServer::start();
    let (no_audit, _) = key_with(&server, &["profiles.read", "keys.manage"]).await;
    let refused = get_as(&server, &no_audit, "/data/foundation/audit/events").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["code"], "action_not_permitted");
    let (auditor, auditor_id) = key_with(&server, &["audit.read"]).await;
    for name in ["one", "two"] {
        let reply = server
            .post(
                "/data/rapport/users",
                json!({"name": name, "role": "agent"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    server.state().audit.flush().expect("flush");
    let export = get_as(&server, &auditor, "/data/foundation/audit/export").await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(
        export.headers.get(header::CONTENT_TYPE).expect("type"),
        "application/x-ndjson"
    );
    let text = export.body.as_str().expect("text").to_owned();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let created: Vec<&Value> = lines
        .iter()
        .filter(|e| e["action"] == "user.create")
        .collect();
    assert_eq!(created.len(), 2, "{text}");
    assert_eq!(created[0]["object"], "one", "oldest first");
    assert_eq!(created[1]["object"], "two");
    assert!(lines
        .iter()
        .all(|e| e["atMs"].as_i64().is_some() && e["outcome"]["status"].is_u64()));
    // The auditor's own reading is recorded.
    let own = entries(&server, &format!("actor=key:{auditor_id}")).await;
    assert!(own.iter().any(|e| e["action"] == "audit.export"), "{own:?}");
    // A query that breaks a rule says which parameter.
    let bad = server
        .get("/data/foundation/audit/events?start=yesterday")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["code"], "invalid_audit_query");
    assert!(bad.body["title"]
        .as_str()
        .unwrap_or_default()
        .starts_with("start:"));
    // Paging: the next link carries the cursor and every filter.
    let first = server
        .get("/data/foundation/audit/events?action=user.create&limit=1")
        .await;
    let next = first.body["_links"]["next"]["href"]
        .as_str()
        .expect("a next page")
        .to_owned();
    assert!(
        next.contains("action=user.create") && next.contains("cursor="),
        "{next}"
    );
    let second = server.get(&next).await;
    assert_eq!(second.body["_embedded"]["events"][0]["object"], "one");
}

#[tokio::test]
async fn console_pages_and_sign_ins_are_recorded_as_the_signed_in_user() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-9", "primary": true}]}, "person": {"name": {"firstName": "Lee"}}}),
        )
        .await;
    let password = "correct horse battery staple";
    let reply = server
        .post(
            "/data/rapport/users",
            json!({"name": "ana", "role": "agent", "password": password}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let session = crate::signin::session(&server, "ana").await;
    let cookie = format!("rapport_session={session}");
    let page = server
        .send_exactly(
            Method::GET,
            "/console/profile/CRMID/CRM-9",
            Vec::new(),
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let profile_id = server.profile_id("CRMID", "CRM-9").await;

    let viewed = entries(&server, "action=console.profile").await;
    assert_eq!(
        viewed.len(),
        1,
        "one entry for the page, none for its API calls: {viewed:?}"
    );
    assert_eq!(
        viewed[0]["actor"],
        json!({"kind": "user", "id": "ana", "role": "agent"})
    );
    assert_eq!(viewed[0]["via"], "console");
    assert_eq!(viewed[0]["profiles"], json!([profile_id]));
    assert!(viewed[0]["identity"]["hmac"].is_string());
    assert!(
        !viewed[0].to_string().contains("CRM-9"),
        "the identity in the page's path is kept only as a reference: {}",
        viewed[0]
    );
    assert!(
        entries(&server, "action=profile.lookup&actor=user:ana")
            .await
            .is_empty(),
        "the console's in-process lookups are not recorded twice"
    );
    let signins = entries(&server, "action=session.signin").await;
    assert_eq!(signins.len(), 1);
    assert_eq!(signins[0]["object"], "ana");
    let failed =
        crate::signin::sign_in(&server, "ana", "not the password at all", "/console").await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    let failures = entries(&server, "action=session.failed").await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["outcome"]["status"], 401);
}
