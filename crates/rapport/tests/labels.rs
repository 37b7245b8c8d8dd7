//! Field-level access by data usage label, through the router: for keys holding the built-in
//! roles' labels (admin: all; agent: C, I1, I2, S2, SUPPORT; sales: C, I1, S2) and a custom
//! role without I1, every response type leaves out what the role may not see — the entity
//! (single and batch), events (single and batch), the identity graph, explanations, computed
//! attributes and segment memberships derived from labelled fields, and the console's HTML —
//! and asking for a denied field by name is refused.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{only_entity, Company, Reply, TestServer};

const BIRTH_DATE: &str = "1987-03-14";
const NOTES: &str = "asked to close the account after the refund";
const EMAIL: &str = "rui.sousa@example.com";

struct Labelled {
    server: TestServer,
    company: Company,
    birthday_segment: String,
}

async fn descriptor(server: &TestServer, schema: &str, properties: &[&str], label: &str) {
    let reply = server
        .post(
            "/data/foundation/schemaregistry/tenant/descriptors",
            json!({"@type": "xdm:descriptorLabel", "xdm:sourceSchema": schema, "xdm:sourceVersion": 1,
                   "xdm:sourceProperty": properties, "xdm:labels": [label]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["@type"], "xdm:descriptorLabel");
}

async fn labelled() -> Labelled {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    descriptor(
        &server,
        &company.profile_schema,
        &["/person/birthDate"],
        "I2",
    )
    .await;
    descriptor(
        &server,
        &company.profile_schema,
        &["/personalEmail/address", "/identityMap/Email"],
        "I1",
    )
    .await;
    descriptor(
        &server,
        &company.event_schema,
        &["/support/notes"],
        "SUPPORT",
    )
    .await;
    let reply = server
        .post(
            "/data/core/ups/segment/definitions",
            json!({"name": "Born in March", "schema": {"name": "_xdm.context.profile"},
                   "expression": {"type": "PQL", "format": "pql/text", "value": "person.birthDate.getMonth() = 3"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let birthday_segment = reply.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        reply.body["labels"],
        json!(["I2"]),
        "the definition shows what it inherits"
    );
    let reply = server
        .post(
            "/data/core/ca/attributes",
            json!({"name": "noteCount", "expression": {"type": "PQL", "format": "pql/text", "value": "xEvent[support.notes.isNotNull()].count()"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": "CRM-RUI", "primary": true}], "Email": [{"id": EMAIL}]},
                   "person": {"name": {"firstName": "Rui"}, "birthDate": BIRTH_DATE},
                   "personalEmail": {"address": EMAIL}}),
        )
        .await;
    server
        .ingest(
            &company.calls,
            json!({"_id": "call-1", "timestamp": "2026-05-06T07:08:09Z", "eventType": "support.call",
                   "identityMap": {"CRMID": [{"id": "CRM-RUI"}]},
                   "support": {"reason": "refund", "notes": NOTES}}),
        )
        .await;
    Labelled {
        server,
        company,
        birthday_segment,
    }
}

impl Labelled {
    /// A key with every read action and the labels of `role` (`None`: every label).
    async fn key(&self, role: Option<&str>) -> String {
        self.key_with(
            role,
            &[
                "profiles.read",
                "events.read",
                "identities.read",
                "segments.read",
                "attributes.read",
            ],
        )
        .await
    }

    /// Makes the role `analyst`, with these actions and every label the setup uses but I1.
    async fn analyst_role(&self, actions: &[&str]) {
        let reply = self
            .server
            .post(
                "/data/rapport/roles",
                json!({"name": "analyst", "labels": ["C1", "I2", "S2", "SUPPORT"], "actions": actions}),
            )
            .await;
        assert!(reply.status.is_success(), "{}", reply.body);
    }

    /// A key with these actions and the labels of `role` (`None`: every label).
    async fn key_with(&self, role: Option<&str>, actions: &[&str]) -> String {
        let mut body = json!({"name": "reader", "actions": actions, "sandboxes": ["*"]});
        if let Some(role) = role {
            body["role"] = json!(role);
        }
        let reply = self.server.post("/data/rapport/keys", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["role"], json!(role));
        reply.body["key"].as_str().expect("key").to_owned()
    }

    async fn send(&self, key: &str, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let bearer = format!("Bearer {key}");
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.server
            .send_raw(method, uri, bytes, &[("authorization", &bearer)])
            .await
    }

    async fn entity(&self, key: &str) -> Value {
        let reply = self
            .send(
                key,
                Method::GET,
                "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=CRM-RUI&entityIdNS=CRMID&withCA=true",
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        only_entity(&reply.body).1["entity"].clone()
    }

    async fn batch_entity(&self, key: &str) -> Value {
        let reply = self
            .send(
                key,
                Method::POST,
                "/data/core/ups/access/entities",
                Some(json!({"schema": {"name": "_xdm.context.profile"}, "identities": [{"entityId": "CRM-RUI", "entityIdNS": {"code": "CRMID"}}], "withCA": true})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        only_entity(&reply.body).1["entity"].clone()
    }

    async fn events(&self, key: &str) -> Value {
        let reply = self
            .send(
                key,
                Method::GET,
                "/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId=CRM-RUI&relatedEntityIdNS=CRMID",
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["children"][0]["entity"].clone()
    }

    async fn batch_events(&self, key: &str) -> Value {
        let reply = self
            .send(
                key,
                Method::POST,
                "/data/core/ups/access/entities",
                Some(json!({"schema": {"name": "_xdm.context.experienceevent"}, "relatedSchema": {"name": "_xdm.context.profile"}, "identities": [{"relatedEntityId": "CRM-RUI", "relatedEntityIdNS": {"code": "CRMID"}}]})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["CRM-RUI"]["children"][0]["entity"].clone()
    }

    async fn graph(&self, key: &str) -> Value {
        let reply = self
            .send(
                key,
                Method::GET,
                "/data/core/identity/graph?ns=CRMID&id=CRM-RUI",
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }
}

fn computed(entity: &Value) -> &Value {
    &entity["_rapport"]["SystemComputedAttributes"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_response_leaves_out_what_the_role_may_not_see() {
    let setup = labelled().await;
    let admin = setup.key(None).await;
    let agent = setup.key(Some("agent")).await;
    let sales = setup.key(Some("sales")).await;
    let no_i1 = {
        setup.analyst_role(&["profiles.read"]).await;
        setup.key(Some("analyst")).await
    };
    let segment = setup.birthday_segment.clone();

    for entity in [setup.entity(&admin).await, setup.batch_entity(&admin).await] {
        assert_eq!(entity["person"]["birthDate"], BIRTH_DATE);
        assert!(
            entity["segmentMembership"]["ups"][&segment].is_object(),
            "{entity}"
        );
        assert_eq!(computed(&entity)["noteCount"]["value"], 1, "{entity}");
    }
    for entity in [setup.entity(&agent).await, setup.batch_entity(&agent).await] {
        assert_eq!(entity["person"]["birthDate"], BIRTH_DATE);
        assert_eq!(computed(&entity)["noteCount"]["value"], 1);
    }
    for entity in [setup.entity(&sales).await, setup.batch_entity(&sales).await] {
        let text = entity.to_string();
        assert!(
            !text.contains(BIRTH_DATE),
            "sales sees the birth date: {text}"
        );
        assert!(entity["person"]["birthDate"].is_null());
        assert_eq!(
            entity["person"]["name"]["firstName"], "Rui",
            "unlabelled fields stay"
        );
        assert_eq!(entity["personalEmail"]["address"], EMAIL, "sales holds I1");
        assert!(
            entity["segmentMembership"]["ups"][&segment].is_null(),
            "a segment reading the birth date inherits I2: {text}"
        );
        assert!(
            computed(&entity)["noteCount"].is_null(),
            "an attribute over support notes inherits SUPPORT: {text}"
        );
    }
    let entity = setup.entity(&no_i1).await;
    let text = entity.to_string();
    assert!(
        !text.contains(EMAIL),
        "a role without I1 sees the email: {text}"
    );
    assert!(entity["identityMap"]["Email"].is_null());
    assert_eq!(entity["identityMap"]["CRMID"][0]["id"], "CRM-RUI");

    for event in [setup.events(&agent).await, setup.batch_events(&agent).await] {
        assert_eq!(event["support"]["notes"], NOTES);
    }
    for event in [setup.events(&sales).await, setup.batch_events(&sales).await] {
        assert!(
            !event.to_string().contains(NOTES),
            "sales sees support notes: {event}"
        );
        assert_eq!(event["support"]["reason"], "refund");
    }

    let graph = setup.graph(&no_i1).await.to_string();
    assert!(!graph.contains(EMAIL), "{graph}");
    assert!(graph.contains("\"masked\":true"), "{graph}");
    assert!(setup.graph(&sales).await.to_string().contains(EMAIL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_a_field_the_role_may_not_see_is_refused() {
    let setup = labelled().await;
    let sales = setup.key(Some("sales")).await;
    let agent = setup.key(Some("agent")).await;
    let refused = [
        (
            Method::GET,
            "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=CRM-RUI&entityIdNS=CRMID&fields=person.birthDate".to_owned(),
            None,
        ),
        (
            Method::GET,
            "/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityId=CRM-RUI&relatedEntityIdNS=CRMID&property=support.notes%3Drefund".to_owned(),
            None,
        ),
        (
            Method::POST,
            "/data/core/ups/access/entities".to_owned(),
            Some(json!({"schema": {"name": "_xdm.context.profile"}, "fields": ["person", "person.birthDate"], "identities": [{"entityId": "CRM-RUI", "entityIdNS": {"code": "CRMID"}}]})),
        ),
        (
            Method::GET,
            format!(
                "/data/core/ups/segment/definitions/{}/explain?entityId=CRM-RUI&entityIdNS=CRMID",
                setup.birthday_segment
            ),
            None,
        ),
    ];
    for (method, uri, body) in refused {
        let reply = setup.send(&sales, method.clone(), &uri, body.clone()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}: {}", reply.body);
        assert_eq!(reply.body["code"], "field_access_denied", "{uri}");
        let allowed = setup.send(&agent, method, &uri, body).await;
        assert_eq!(allowed.status, StatusCode::OK, "{uri}: {}", allowed.body);
    }
    // An ancestor of a denied field may be asked for: the denied part is left out.
    let reply = setup
        .send(
            &sales,
            Method::GET,
            "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId=CRM-RUI&entityIdNS=CRMID&fields=person",
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let entity = &only_entity(&reply.body).1["entity"];
    assert_eq!(entity["person"]["name"]["firstName"], "Rui");
    assert!(entity["person"]["birthDate"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_each_role_only_the_labels_it_holds() {
    let setup = labelled().await;
    let server = &setup.server;
    setup
        .analyst_role(&[
            "profiles.read",
            "events.read",
            "identities.read",
            "segments.read",
            "attributes.read",
        ])
        .await;
    let mut pages = Vec::new();
    for (name, role) in [("sam", "sales"), ("ana", "agent"), ("abe", "analyst")] {
        let reply = server
            .post(
                "/data/rapport/users",
                json!({"name": name, "role": role, "password": "correct horse battery staple"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        let session = crate::signin::session(server, name).await;
        let cookie = format!("rapport_session={session}");
        let mut html = String::new();
        for uri in [
            "/console/profile/CRMID/CRM-RUI",
            "/console/profile/CRMID/CRM-RUI/panel/overview",
            "/console/profile/CRMID/CRM-RUI/panel/segments",
            "/console/profile/CRMID/CRM-RUI/panel/computed",
            "/console/profile/CRMID/CRM-RUI/timeline",
            "/console/profile/CRMID/CRM-RUI/panel/identity",
        ] {
            let reply = server
                .send_exactly(Method::GET, uri, Vec::new(), &[("cookie", &cookie)])
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
            html.push_str(reply.body.as_str().unwrap_or_default());
        }
        pages.push(html);
    }
    let (sales, agent, analyst) = (&pages[0], &pages[1], &pages[2]);
    // A role without I1 never sees the email, anywhere on the page or in its panels.
    assert!(agent.contains(EMAIL), "the agent's console shows the email");
    assert!(
        !analyst.contains(EMAIL),
        "a role without I1 sees the email in the console"
    );
    assert!(analyst.contains(BIRTH_DATE), "the analyst holds I2");
    assert!(
        agent.contains(BIRTH_DATE),
        "the agent's console shows the birth date"
    );
    assert!(sales.contains("Rui"), "the sales rep sees the customer");
    for form in [BIRTH_DATE, "Mar 14, 1987", "1987"] {
        assert!(
            !sales.contains(form),
            "the sales rep's console shows the birth date as {form}"
        );
    }
    // The segment reading the birth date is listed for the agent only.
    assert!(
        agent.contains("Born in March"),
        "the agent sees the segment"
    );
    assert!(
        !sales.contains("Born in March"),
        "the sales rep sees the segment"
    );
}

#[tokio::test]
async fn labels_are_managed_with_labels_manage_and_listed_with_the_descriptors() {
    let setup = labelled().await;
    let reply = setup
        .server
        .post(
            "/data/rapport/keys",
            json!({"name": "schema-editor", "actions": ["schemas.read", "schemas.write"], "sandboxes": ["*"]}),
        )
        .await;
    let editor = reply.body["key"].as_str().expect("key").to_owned();
    let body = json!({"@type": "xdm:descriptorLabel", "xdm:sourceSchema": setup.company.profile_schema, "xdm:sourceProperty": "/person/name", "xdm:labels": ["I1"]});
    let refused = setup
        .send(
            &editor,
            Method::POST,
            "/data/foundation/schemaregistry/tenant/descriptors",
            Some(body.clone()),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["code"], "action_not_permitted");
    let listed = setup
        .server
        .get("/data/foundation/schemaregistry/tenant/descriptors")
        .await;
    let labels: Vec<&Value> = listed.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|d| d["@type"] == "xdm:descriptorLabel")
        .collect();
    assert_eq!(labels.len(), 3, "{}", listed.body);
    // Deleting a label descriptor needs labels.manage too.
    let id = labels[0]["@id"].as_str().expect("id");
    let path = format!("/data/foundation/schemaregistry/tenant/descriptors/{id}");
    let refused = setup.send(&editor, Method::DELETE, &path, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Bad label descriptors name the field and the rule.
    for (body, mentions) in [
        (
            json!({"@type": "xdm:descriptorLabel", "xdm:sourceSchema": setup.company.profile_schema, "xdm:sourceProperty": "/nosuch", "xdm:labels": ["I1"]}),
            "/xdm:sourceProperty",
        ),
        (
            json!({"@type": "xdm:descriptorLabel", "xdm:sourceSchema": setup.company.profile_schema, "xdm:sourceProperty": "/person/name", "xdm:labels": []}),
            "/xdm:labels",
        ),
        (
            json!({"@type": "xdm:descriptorLabel", "xdm:sourceSchema": setup.company.profile_schema, "xdm:sourceProperty": "/person/name", "xdm:labels": ["9x"]}),
            "/xdm:labels/0",
        ),
    ] {
        let reply = setup
            .server
            .post("/data/foundation/schemaregistry/tenant/descriptors", body)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            reply.body["title"]
                .as_str()
                .unwrap_or_default()
                .starts_with(mentions),
            "{}",
            reply.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_s_row_errors_are_not_shown_to_a_role_missing_labels() {
    let setup = labelled().await;
    let lines = format!(
        "{}\n{}\n",
        json!({"identityMap": {"CRMID": [{"id": "CRM-ZED", "primary": true}]}, "person": {"birthDate": BIRTH_DATE}}),
        json!({"identityMap": {"CRMID": [{"id": "CRM-BAD", "primary": true}]}, "person": {"birthDate": "not a date"}}),
    );
    let (batch, state) = crate::common::batch::run_batch(
        &setup.server,
        &setup.company.crm,
        json!({"format": "json"}),
        json!({}),
        vec![("rows.json", lines.into_bytes())],
    )
    .await;
    assert_eq!(state["metrics"]["failedRecordCount"], json!(1), "{state}");
    let listing = setup
        .server
        .get(&format!(
            "/data/foundation/export/batches/{batch}/meta?path=row_errors"
        ))
        .await;
    let name = listing.body["data"][0]["name"]
        .as_str()
        .expect("an error file")
        .to_owned();
    let path = format!("/data/foundation/export/batches/{batch}/meta?path=row_errors%2F{name}");
    let every_label = setup.server.get(&path).await;
    assert_eq!(every_label.status, StatusCode::OK, "{}", every_label.body);
    let reply = setup
        .server
        .post(
            "/data/rapport/keys",
            json!({"name": "loader", "actions": ["ingest.read"], "sandboxes": ["*"], "role": "sales"}),
        )
        .await;
    let sales = reply.body["key"].as_str().expect("key").to_owned();
    let refused = setup.send(&sales, Method::GET, &path, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["code"], "field_access_denied");
}

/// Polls a preview until its result is ready; returns its body.
async fn preview_result(setup: &Labelled, key: &str, id: &str) -> Value {
    for _ in 0..300 {
        let uri = format!("/data/core/ups/preview/{id}");
        let reply = setup.send(key, Method::GET, &uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if reply.body["state"] == "RESULT_READY" {
            return reply.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("preview {id} never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_defines_and_previews_only_over_what_it_may_see() {
    let setup = labelled().await;
    let writer = [
        "segments.read",
        "segments.write",
        "attributes.read",
        "attributes.write",
    ];
    let sales = setup.key_with(Some("sales"), &writer).await;
    let agent = setup.key_with(Some("agent"), &writer).await;
    let pql = |text: &str| json!({"type": "PQL", "format": "pql/text", "value": text});
    let definition = |name: &str, text: &str| json!({"name": name, "schema": {"name": "_xdm.context.profile"}, "expression": pql(text)});
    let definitions = "/data/core/ups/segment/definitions";
    let count = || async {
        let reply = setup.send(&sales, Method::GET, definitions, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["segments"].as_array().expect("segments").len()
    };
    let before = count().await;

    // Sales lacks I2 (birth dates) and SUPPORT (support notes).
    let by_birth = definition("March birthdays", "person.birthDate.getMonth() = 3");
    let through = definition(
        "Through inSegment",
        &format!("inSegment(\"{}\")", setup.birthday_segment),
    );
    for body in [&by_birth, &through] {
        let reply = setup
            .send(&sales, Method::POST, definitions, Some(body.clone()))
            .await;
        crate::common::assert_problem(
            &reply,
            403,
            "field_access_denied",
            &["/expression/value", "I2", "the definition"],
        );
    }
    let attribute = json!({"name": "notesSeen", "expression": pql("xEvent[support.notes.isNotNull()].count()")});
    let reply = setup
        .send(
            &sales,
            Method::POST,
            "/data/core/ca/attributes",
            Some(attribute.clone()),
        )
        .await;
    crate::common::assert_problem(
        &reply,
        403,
        "field_access_denied",
        &["SUPPORT", "the attribute"],
    );
    let reply = setup
        .send(
            &sales,
            Method::POST,
            "/data/core/ups/preview",
            Some(json!({"predicateExpression": "person.birthDate.getMonth() = 3"})),
        )
        .await;
    crate::common::assert_problem(
        &reply,
        403,
        "field_access_denied",
        &["/predicateExpression", "I2"],
    );
    assert_eq!(count().await, before, "nothing refused was stored");

    // Over what it may see, sales defines; turning that definition to a birth date is refused
    // and leaves it as it was.
    let reply = setup
        .send(
            &sales,
            Method::POST,
            definitions,
            Some(definition("Ruis", "person.name.firstName = \"Rui\"")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let id = reply.body["id"].as_str().expect("id").to_owned();
    let uri = format!("{definitions}/{id}");
    let reply = setup
        .send(
            &sales,
            Method::PATCH,
            &uri,
            Some(json!({"expression": pql("person.birthDate.getMonth() = 3")})),
        )
        .await;
    crate::common::assert_problem(&reply, 403, "field_access_denied", &["I2"]);
    let reply = setup.send(&sales, Method::GET, &uri, None).await;
    assert_eq!(
        reply.body["expression"]["value"],
        "person.name.firstName = \"Rui\""
    );

    // The agent holds both labels and defines what sales may not.
    let reply = setup
        .send(&agent, Method::POST, definitions, Some(by_birth))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = setup
        .send(
            &agent,
            Method::POST,
            "/data/core/ca/attributes",
            Some(attribute),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_names_profiles_without_xids_of_namespaces_the_role_may_not_see() {
    let setup = labelled().await;
    setup.analyst_role(&["profiles.read"]).await;
    let actions = ["segments.read"];
    let analyst = setup.key_with(Some("analyst"), &actions).await;
    let admin = setup.key_with(None, &actions).await;
    // A visitor known only by an email address (labelled I1).
    let solo = "solo@example.com";
    setup
        .server
        .ingest(
            &setup.company.web,
            json!({"_id": "solo-1", "timestamp": "2026-05-06T07:08:09Z", "eventType": "web.webpagedetails.pageViews",
                   "identityMap": {"Email": [{"id": solo, "primary": true}]}}),
        )
        .await;
    let xid = engine::identity::xid::encode(&engine::IdentityKey::new("Email", solo));
    let expression = json!({"predicateExpression": "xEvent[eventType = \"web.webpagedetails.pageViews\"].count() > 0"});
    let mut seen = Vec::new();
    for key in [&admin, &analyst] {
        let reply = setup
            .send(
                key,
                Method::POST,
                "/data/core/ups/preview",
                Some(expression.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let id = reply.body["previewId"].as_str().expect("id").to_owned();
        let body = preview_result(&setup, key, &id).await;
        assert_eq!(body["results"].as_array().map(Vec::len), Some(1), "{body}");
        seen.push(body.to_string());
    }
    assert!(
        seen[0].contains(&xid),
        "the admin sees the XID: {}",
        seen[0]
    );
    assert!(
        !seen[1].contains(&xid),
        "the XID encodes the email: {}",
        seen[1]
    );
    assert!(!seen[1].contains(solo), "{}", seen[1]);
}
