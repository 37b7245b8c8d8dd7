//! The Schema Registry refuses values of the wrong type or out of range instead of ignoring
//! them: identity descriptors, schema titles and descriptions, and field group patterns, which
//! are also enforced on records.

use axum::http::StatusCode;
use rapport_types::SandboxName;
use serde_json::{json, Value};
use store::{LmdbOptions, LmdbStore, Store, Table};

use crate::common::{assert_problem, TestServer};

const REGISTRY: &str = "/data/foundation/schemaregistry/tenant";
const PROFILE_CLASS: &str = "https://ns.adobe.com/xdm/context/profile";

fn descriptor(schema: &str, extra: Value) -> Value {
    let mut body = json!({
        "@type": "xdm:descriptorIdentity",
        "xdm:sourceSchema": schema,
        "xdm:sourceVersion": 1,
        "xdm:sourceProperty": "/personalEmail/address",
        "xdm:namespace": "Email",
        "xdm:property": "xdm:code",
        "xdm:isPrimary": false,
    });
    for (key, value) in extra.as_object().expect("object") {
        body[key] = value.clone();
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn descriptor_values_of_the_wrong_type_are_400_naming_the_field() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let uri = format!("{REGISTRY}/descriptors");

    let cases: Vec<(Value, u16, &str, &[&str])> = vec![
        (
            json!({"xdm:isPrimary": "true"}),
            400,
            "invalid_descriptor",
            &["/xdm:isPrimary", "expected a boolean", "a string"],
        ),
        (
            json!({"xdm:isPrimary": 1}),
            400,
            "invalid_descriptor",
            &["/xdm:isPrimary", "expected a boolean"],
        ),
        (
            json!({"xdm:property": "bogus"}),
            400,
            "invalid_descriptor",
            &["/xdm:property", "\"xdm:code\" or \"xdm:id\"", "bogus"],
        ),
        (
            json!({"xdm:property": 1}),
            400,
            "invalid_descriptor",
            &["/xdm:property"],
        ),
        (
            json!({"xdm:namespace": 6}),
            400,
            "invalid_descriptor",
            &["/xdm:namespace", "code string", "xdm:id"],
        ),
        (
            json!({"xdm:property": "xdm:id"}),
            400,
            "invalid_descriptor",
            &["/xdm:namespace", "numeric namespace id", "\"Email\""],
        ),
        (
            json!({"xdm:property": "xdm:id", "xdm:namespace": -6}),
            400,
            "invalid_descriptor",
            &["/xdm:namespace", "numeric namespace id"],
        ),
        (
            json!({"xdm:property": "xdm:id", "xdm:namespace": 99_999}),
            404,
            "namespace_not_found",
            &["/xdm:namespace", "99999"],
        ),
        (
            json!({"@type": 5}),
            400,
            "invalid_descriptor",
            &["/@type", "expected a string"],
        ),
        (
            json!({"xdm:sourceSchema": {"id": "x"}}),
            400,
            "invalid_descriptor",
            &["/xdm:sourceSchema", "expected a string"],
        ),
        (
            json!({"xdm:sourceProperty": ["personalEmail"]}),
            400,
            "invalid_descriptor",
            &["/xdm:sourceProperty", "expected a string"],
        ),
    ];
    for (extra, status, code, mentions) in cases {
        let reply = server
            .post(&uri, descriptor(&company.profile_schema, extra.clone()))
            .await;
        assert_eq!(reply.status.as_u16(), status, "{extra}: {}", reply.body);
        assert_problem(&reply, status, code, mentions);
    }
    let reply = server
        .post(
            &uri,
            descriptor(&company.profile_schema, json!({"xdm:isPrimary": "true"})),
        )
        .await;
    insta::assert_json_snapshot!("descriptor_is_primary_as_a_string", reply.body);
    let reply = server.post(&uri, json!([])).await;
    assert_problem(&reply, 400, "invalid_descriptor", &["#"]);
    // Nothing was created by the refused requests.
    let list = server.get(&uri).await;
    assert_eq!(list.body["results"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_descriptor_by_numeric_namespace_id_resolves_to_the_namespace_code() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let email = server.get("/data/core/idnamespace/identities/Email").await;
    let email_id = email.body["id"].as_u64().expect("numeric id");

    for namespace in [json!(email_id), json!(email_id.to_string())] {
        let reply = server
            .post(
                &format!("{REGISTRY}/descriptors"),
                descriptor(
                    &company.profile_schema,
                    json!({"xdm:property": "xdm:id", "xdm:namespace": namespace}),
                ),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["xdm:namespace"], "Email");
        assert_eq!(reply.body["xdm:isPrimary"], false);
    }

    // The descriptor links the field's value as an Email identity.
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-D", "primary": true}]}, "personalEmail": {"address": "d@example.com"}}),
        )
        .await;
    let by_email = server.profile_id("Email", "d@example.com").await;
    assert_eq!(by_email, server.profile_id("CRMID", "CRM-D").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_title_and_description_of_the_wrong_type_are_400() {
    let server = TestServer::start();
    let uri = format!("{REGISTRY}/schemas");
    let body = |extra: Value| {
        let mut body = json!({"title": "People", "allOf": [{"$ref": PROFILE_CLASS}]});
        for (key, value) in extra.as_object().expect("object") {
            body[key] = value.clone();
        }
        body
    };
    let cases: Vec<(Value, &[&str])> = vec![
        (
            json!({"title": 5}),
            &["/title", "expected a string", "a number"],
        ),
        (
            json!({"title": ["People"]}),
            &["/title", "expected a string", "an array"],
        ),
        (
            json!({"description": ["a"]}),
            &["/description", "expected a string", "an array"],
        ),
        (
            json!({"description": false}),
            &["/description", "expected a string"],
        ),
    ];
    for (extra, mentions) in cases {
        let reply = server.post(&uri, body(extra)).await;
        assert_problem(&reply, 400, "invalid_schema", mentions);
    }
    let reply = server.post(&uri, json!([])).await;
    assert_problem(
        &reply,
        400,
        "invalid_schema",
        &["#", "expected a JSON object"],
    );

    let created = server
        .post(&uri, body(json!({"description": "Everyone"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["description"], "Everyone");
    let id = created.body["meta:altId"].as_str().expect("altId");
    let schema_uri = format!("{uri}/{id}");
    let patches: [(Value, &[&str]); 3] = [
        (
            json!({"op": "replace", "path": "/title", "value": 5}),
            &["/0/value", "title", "a number"],
        ),
        (
            json!({"op": "replace", "path": "/title", "value": " "}),
            &["/0/value", "non-empty"],
        ),
        (
            json!({"op": "replace", "path": "/description", "value": ["a"]}),
            &["/0/value", "description", "an array"],
        ),
    ];
    for (op, mentions) in patches {
        let reply = server.patch(&schema_uri, json!([op])).await;
        assert_problem(&reply, 400, "invalid_schema", mentions);
    }
    let reply = server
        .patch(
            &schema_uri,
            json!([{"op": "replace", "path": "/title", "value": "Persons"}, {"op": "replace", "path": "/description", "value": ""}]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["title"], "Persons");
    assert_eq!(reply.body["description"], "");
}

fn membership_group(pattern: &str) -> Value {
    json!({
        "title": "Membership",
        "type": "object",
        "meta:intendedToExtend": [PROFILE_CLASS],
        "definitions": {"membership": {"properties": {"_rapport": {"type": "object", "properties": {
            "memberCode": {"type": "string", "pattern": pattern}
        }}}}},
        "allOf": [{"$ref": "#/definitions/membership"}]
    })
}

/// A dataset of a profile schema with the membership group; returns the group's `$id` too.
async fn members_dataset(server: &TestServer, pattern: &str) -> (String, String) {
    let group = server
        .post(
            &format!("{REGISTRY}/fieldgroups"),
            membership_group(pattern),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let group_id = group.body["$id"].as_str().expect("$id").to_owned();
    let schema = server
        .post(
            &format!("{REGISTRY}/schemas"),
            json!({"title": "Members", "allOf": [{"$ref": PROFILE_CLASS}, {"$ref": group_id}], "meta:immutableTags": ["union"]}),
        )
        .await;
    assert_eq!(schema.status, StatusCode::CREATED, "{}", schema.body);
    let schema_id = schema.body["$id"].as_str().expect("$id");
    (server.dataset("Members", schema_id, &[]).await, group_id)
}

fn member(email: &str, code: &str) -> Value {
    json!({"identityMap": {"Email": [{"id": email, "primary": true}]}, "_rapport": {"memberCode": code}})
}

#[tokio::test(flavor = "multi_thread")]
async fn field_group_patterns_are_checked_on_creation_and_enforced_on_records() {
    let server = TestServer::start();
    let uri = format!("{REGISTRY}/fieldgroups");

    let reply = server.post(&uri, membership_group("[")).await;
    assert_problem(
        &reply,
        400,
        "invalid_field_group",
        &[
            "/definitions/membership/properties/_rapport/properties/memberCode/pattern",
            "not a valid regular expression",
        ],
    );
    insta::assert_json_snapshot!("invalid_pattern", reply.body);
    let reply = server.post(&uri, membership_group(&"a".repeat(1001))).await;
    assert_problem(
        &reply,
        400,
        "invalid_field_group",
        &["/pattern", "at most 1000 characters"],
    );

    let (dataset, _) = members_dataset(&server, "^[A-Z]{2}-[0-9]{4}$").await;
    server
        .ingest(&dataset, member("m1@example.com", "AB-1234"))
        .await;
    let reply = server
        .stream(&dataset, member("m2@example.com", "ab-12"), &[])
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_xdm_record",
        &[
            "/_rapport/memberCode",
            "expected a string matching the pattern",
            "ab-12",
        ],
    );
    let violation = &reply.body["report"]["causingExceptions"][0];
    assert_eq!(violation["keyword"], "pattern");
    assert_eq!(violation["pointerToViolation"], "#/_rapport/memberCode");
    assert_eq!(
        server.profile("Email", "m2@example.com").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_field_group_whose_pattern_is_now_refused_still_loads() {
    let mut server = TestServer::start();
    let (dataset, group_id) = members_dataset(&server, "^[A-Z]").await;

    // Stored before patterns were checked: rewrite the stored body's pattern to an invalid one.
    server.restart_with(|data_dir| {
        let store = LmdbStore::open(
            &data_dir.join("lmdb"),
            &LmdbOptions {
                map_size_bytes: 1 << 30,
            },
        )
        .expect("store");
        let sandbox = SandboxName::parse("prod").expect("sandbox");
        let key = engine::keys::catalog(&sandbox, "fieldgroup", &group_id);
        let mut stored: Value = {
            let txn = store.read().expect("read");
            let bytes = txn
                .get(Table::Catalog, &key)
                .expect("get")
                .expect("stored group");
            serde_json::from_slice(bytes).expect("json")
        };
        stored["body"]["definitions"]["membership"]["properties"]["_rapport"]["properties"]
            ["memberCode"]["pattern"] = json!("[");
        let mut txn = store.write().expect("write");
        txn.put(
            Table::Catalog,
            &key,
            &serde_json::to_vec(&stored).expect("json"),
        )
        .expect("put");
        txn.commit().expect("commit");
    });

    // The server starts, shows the group as stored, and does not enforce the refused pattern.
    assert_eq!(server.get("/health").await.status, StatusCode::OK);
    let group = server
        .get(&format!(
            "{REGISTRY}/fieldgroups/{}",
            crate::common::encode(&group_id)
        ))
        .await;
    assert_eq!(group.status, StatusCode::OK, "{}", group.body);
    assert_eq!(
        group.body["definitions"]["membership"]["properties"]["_rapport"]["properties"]
            ["memberCode"]["pattern"],
        "["
    );
    server
        .ingest(&dataset, member("m3@example.com", "lowercase"))
        .await;
    // New groups are still checked.
    let reply = server
        .post(&format!("{REGISTRY}/fieldgroups"), membership_group("["))
        .await;
    assert_problem(&reply, 400, "invalid_field_group", &["/pattern"]);
}
