//! Computed attributes through the API: the definitions' lifecycle and validation, values on
//! the profile before the ingestion is acknowledged, windows closing without new data, events
//! replaced, backfill of a new attribute with its progress, and segments reading the values.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_problem, ecid, eventually, iso, Company, TestServer};

const ATTRIBUTES: &str = "/data/core/ca/attributes";

fn now_ms() -> i64 {
    engine::catalog::now_ms()
}

fn email(n: u64) -> String {
    format!("buyer{n}@example.com")
}

/// Creates an attribute; returns its id.
async fn attribute(server: &TestServer, body: Value) -> String {
    let reply = server.post(ATTRIBUTES, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

fn pql(value: &str) -> Value {
    json!({"type": "PQL", "format": "pql/text", "value": value})
}

/// An event of a customer.
async fn event(
    server: &TestServer,
    company: &Company,
    n: u64,
    id: &str,
    event_type: &str,
    timestamp_ms: i64,
    total: f64,
) {
    server
        .ingest(
            &company.web,
            json!({
                "_id": id,
                "timestamp": iso(timestamp_ms),
                "eventType": event_type,
                "identityMap": {"ECID": [{"id": ecid(n)}], "Email": [{"id": email(n)}]},
                "commerce": {"order": {"priceTotal": total, "currencyCode": "USD"}, "purchases": {"value": 1.0}},
            }),
        )
        .await;
}

/// `_rapport.SystemComputedAttributes` of a customer's profile, asked with `withCA=true`.
async fn values(server: &TestServer, n: u64) -> Value {
    let reply = server.profile_with("Email", &email(n), "withCA=true").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (_, item) = crate::common::only_entity(&reply.body);
    item["entity"]["_rapport"]["SystemComputedAttributes"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn attributes_can_be_created_listed_read_published_and_deleted() {
    let server = TestServer::start();
    server.company(&[]).await;
    // The reference's form: the lookback written in the filter.
    let spend = attribute(
        &server,
        json!({"name": "spendLastWeek", "displayName": "Spend, last 7 days", "description": "purchases",
               "expression": pql(r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now].sum(commerce.order.priceTotal)"#)}),
    )
    .await;
    let draft = attribute(
        &server,
        json!({"name": "orders", "expression": pql("xEvent[eventType = \"commerce.purchases\"].count()"),
               "duration": {"count": 3, "unit": "MONTHS"}, "status": {"type": "DRAFT"}}),
    )
    .await;

    let reply = server.get(&format!("{ATTRIBUTES}/{spend}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = &reply.body;
    assert_eq!(body["type"], "ComputedAttribute");
    assert_eq!(body["mergeFunction"]["value"], "SUM");
    assert_eq!(body["duration"], json!({"count": 7, "unit": "DAYS"}));
    assert_eq!(body["status"]["type"], "PUBLISHED");
    assert_eq!(body["returnSchema"]["meta:xdmType"], "number");
    assert_eq!(body["path"], "_rapport");

    let reply = server.get(&format!("{ATTRIBUTES}/{draft}")).await;
    assert_eq!(
        reply.body["status"],
        json!({"type": "DRAFT", "job": "NOT_STARTED"})
    );
    assert_eq!(reply.body["returnSchema"]["meta:xdmType"], "integer");

    let reply = server
        .get(&format!("{ATTRIBUTES}?limit=1&sortBy=name"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["_page"]["totalCount"], 2);
    assert_eq!(reply.body["computedAttributes"][0]["name"], "orders");
    assert!(reply.body["_links"]["next"]["href"].is_string());
    let reply = server.get(&format!("{ATTRIBUTES}?state=draft")).await;
    assert_eq!(reply.body["_page"]["totalCount"], 1);

    let reply = server
        .patch(
            &format!("{ATTRIBUTES}/{draft}"),
            json!({"status": {"type": "PUBLISHED"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"]["type"], "PUBLISHED");
    let reply = server
        .patch(
            &format!("{ATTRIBUTES}/{draft}"),
            json!({"status": {"type": "DRAFT"}}),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_computed_attribute",
        &["/status/type", "DRAFT"],
    );

    // The union schema shows the values' fields.
    let reply = server
        .get("/data/foundation/schemaregistry/tenant/unions/_xdm.context.profile__union")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let text = reply.body.to_string();
    assert!(
        text.contains("SystemComputedAttributes") && text.contains("spendLastWeek"),
        "{text}"
    );

    let reply = server.delete(&format!("{ATTRIBUTES}/{spend}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = server.get(&format!("{ATTRIBUTES}/{spend}")).await;
    assert_problem(&reply, 404, "computed_attribute_not_found", &[&spend]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_definitions_are_refused_with_the_field_and_the_rule() {
    let server = TestServer::start();
    server.company(&[]).await;
    let cases: Vec<(Value, u16, &str, Vec<&str>)> = vec![
        (
            json!({"name": "a", "expression": pql("xEvent.sum(commerce.order.priceTotal)"), "duration": {"count": 8, "unit": "DAYS"}}),
            400,
            "invalid_computed_attribute",
            vec!["/duration/count", "1 to 7"],
        ),
        (
            json!({"name": "a", "expression": pql("xEvent.sum(commerce.order.nope)")}),
            400,
            "invalid_computed_attribute",
            vec!["commerce.order.nope", "unknown"],
        ),
        (
            json!({"name": "a", "expression": pql("xEvent.sum(eventType)")}),
            400,
            "invalid_computed_attribute",
            vec!["sum()", "number"],
        ),
        (
            json!({"name": "a", "expression": pql("xEvent.average(commerce.order.priceTotal)")}),
            400,
            "invalid_computed_attribute",
            vec!["/expression/value", "mostRecent"],
        ),
        (
            json!({"name": "a", "expression": pql("xEvent[eventType = \"x\" and timestamp occurs today].count()")}),
            400,
            "invalid_computed_attribute",
            vec!["lookback"],
        ),
        (
            json!({"name": "a", "expression": pql("xEvent[nosuch = 1].count()")}),
            400,
            "invalid_pql_expression",
            vec!["nosuch"],
        ),
        (
            json!({"name": "2bad", "expression": pql("xEvent.count()")}),
            400,
            "invalid_computed_attribute",
            vec!["/name"],
        ),
        (
            json!({"name": "churnPropensity", "expression": pql("xEvent.count()")}),
            400,
            "invalid_computed_attribute",
            vec!["/name", "built-in model"],
        ),
        (
            json!({"name": "a", "expression": pql("xEvent.count()"), "colour": 1}),
            400,
            "invalid_computed_attribute",
            vec!["/colour"],
        ),
        (
            json!({"expression": pql("xEvent.count()")}),
            400,
            "invalid_computed_attribute",
            vec!["/name", "required"],
        ),
    ];
    for (body, status, code, mentions) in cases {
        let reply = server.post(ATTRIBUTES, body.clone()).await;
        assert_problem(&reply, status, code, &mentions);
    }
    attribute(
        &server,
        json!({"name": "a", "expression": pql("xEvent.count()")}),
    )
    .await;
    let reply = server
        .post(
            ATTRIBUTES,
            json!({"name": "a", "expression": pql("xEvent.count()")}),
        )
        .await;
    assert_problem(
        &reply,
        409,
        "computed_attribute_name_already_exists",
        &["\"a\""],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn values_change_before_the_ingestion_is_acknowledged() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    attribute(
        &server,
        json!({"name": "spend", "expression": pql(r#"xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal)"#), "duration": {"count": 7, "unit": "DAYS"}}),
    )
    .await;
    attribute(
        &server,
        json!({"name": "purchases", "expression": pql(r#"xEvent[eventType = "commerce.purchases"].count()"#)}),
    )
    .await;
    attribute(
        &server,
        json!({"name": "biggest", "expression": pql(r#"xEvent[eventType = "commerce.purchases"].max(commerce.order.priceTotal)"#)}),
    )
    .await;
    // The same computation under another name: each shows it, counted once.
    attribute(
        &server,
        json!({"name": "purchasesToo", "expression": pql(r#"xEvent[eventType = "commerce.purchases"].count()"#)}),
    )
    .await;
    attribute(
        &server,
        json!({"name": "lastType", "expression": pql("xEvent.mostRecent(eventType)")}),
    )
    .await;
    let now = now_ms();
    event(
        &server,
        &company,
        1,
        "p1",
        "commerce.purchases",
        now - 60_000,
        40.0,
    )
    .await;
    assert_eq!(
        values(&server, 1).await,
        json!({"spend": {"value": 40}, "purchases": {"value": 1}, "purchasesToo": {"value": 1}, "biggest": {"value": 40}, "lastType": {"value": "commerce.purchases"}})
    );
    // Out of order: an older purchase (outside the 7 days) and a newer page view.
    event(
        &server,
        &company,
        1,
        "p0",
        "commerce.purchases",
        now - 10 * 86_400_000,
        100.0,
    )
    .await;
    event(
        &server,
        &company,
        1,
        "v1",
        "web.webpagedetails.pageViews",
        now - 1_000,
        0.0,
    )
    .await;
    event(
        &server,
        &company,
        1,
        "p2",
        "commerce.purchases",
        now - 30_000,
        2.5,
    )
    .await;
    assert_eq!(
        values(&server, 1).await,
        json!({"spend": {"value": 42.5}, "purchases": {"value": 3}, "purchasesToo": {"value": 3}, "biggest": {"value": 100}, "lastType": {"value": "web.webpagedetails.pageViews"}})
    );
    // The same event sent again with another total replaces it.
    event(
        &server,
        &company,
        1,
        "p1",
        "commerce.purchases",
        now - 60_000,
        10.0,
    )
    .await;
    assert_eq!(values(&server, 1).await["spend"]["value"], 12.5);
    assert_eq!(values(&server, 1).await["purchases"]["value"], 3);
    // Without withCA the entity API leaves them out, as the reference does.
    let entity = server.entity("Email", &email(1)).await;
    assert!(entity.get("_rapport").is_none(), "{entity}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_leaves_its_window_without_new_data() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    attribute(
        &server,
        json!({"name": "recentSpend", "expression": pql("xEvent.sum(commerce.order.priceTotal)"), "duration": {"count": 1, "unit": "HOURS"}}),
    )
    .await;
    let now = now_ms();
    // One purchase leaves the last hour in about 3 seconds, the other stays.
    event(
        &server,
        &company,
        2,
        "old",
        "commerce.purchases",
        now - 3_600_000 + 3_000,
        30.0,
    )
    .await;
    event(
        &server,
        &company,
        2,
        "new",
        "commerce.purchases",
        now - 1_000,
        5.0,
    )
    .await;
    assert_eq!(values(&server, 2).await["recentSpend"]["value"], 35);
    let left = eventually(15, || async {
        values(&server, 2).await["recentSpend"]["value"] == 5
    })
    .await;
    assert!(left, "still {}", values(&server, 2).await);
    assert!(
        now_ms() >= now + 3_000,
        "the value changed before the window closed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_attribute_is_backfilled_from_stored_events_with_its_progress() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let now = now_ms();
    for n in 0..30u64 {
        for k in 0..=n % 3 {
            event(
                &server,
                &company,
                n,
                &format!("e{n}-{k}"),
                "commerce.purchases",
                now - (k as i64 + 1) * 3_600_000,
                10.0 * (k + 1) as f64,
            )
            .await;
        }
    }
    let id = attribute(
        &server,
        json!({"name": "orders", "expression": pql(r#"xEvent[eventType = "commerce.purchases"].count()"#)}),
    )
    .await;
    let done = eventually(30, || async {
        let reply = server.get(&format!("{ATTRIBUTES}/{id}")).await;
        reply.body["status"]["job"] == "ENABLED"
    })
    .await;
    assert!(done);
    let reply = server.get(&format!("{ATTRIBUTES}/{id}")).await;
    let backfill = &reply.body["status"]["backfill"];
    assert_eq!(backfill["status"], "SUCCEEDED", "{backfill}");
    assert_eq!(backfill["totalProfiles"], 30);
    assert_eq!(backfill["profilesProcessed"], 30);
    for n in 0..30u64 {
        assert_eq!(
            values(&server, n).await["orders"]["value"],
            n % 3 + 1,
            "customer {n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn segments_read_computed_attributes() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    attribute(
        &server,
        json!({"name": "spend", "expression": pql(r#"xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal)"#), "duration": {"count": 4, "unit": "WEEKS"}}),
    )
    .await;
    let reply = server
        .post(
            "/data/core/ups/segment/definitions",
            json!({"name": "Big spenders", "schema": {"name": "_xdm.context.profile"},
                   "expression": pql("_rapport.SystemComputedAttributes.spend.value > 100")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let segment = reply.body["id"].as_str().unwrap().to_owned();
    let now = now_ms();
    event(
        &server,
        &company,
        3,
        "a",
        "commerce.purchases",
        now - 5_000,
        60.0,
    )
    .await;
    let ups = server.entity("Email", &email(3)).await["segmentMembership"]["ups"].clone();
    assert!(ups.get(&segment).is_none(), "{ups}");
    event(
        &server,
        &company,
        3,
        "b",
        "commerce.purchases",
        now - 4_000,
        60.0,
    )
    .await;
    let ups = server.entity("Email", &email(3)).await["segmentMembership"]["ups"].clone();
    assert_eq!(ups[&segment]["status"], "realized", "{ups}");
    // The attribute cannot go while a segment reads it.
    let attributes = server.get(ATTRIBUTES).await;
    let id = attributes.body["computedAttributes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = server.delete(&format!("{ATTRIBUTES}/{id}")).await;
    assert_problem(&reply, 409, "computed_attribute_in_use", &["spend"]);
}
