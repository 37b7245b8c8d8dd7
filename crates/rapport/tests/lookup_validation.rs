//! Entity lookups refuse what they cannot serve well: wrong value types and ranges in a POST
//! body, time windows that end before they start, and POST event lookups asking for more than
//! 100,000 events at once. GET event pages link to the next page with both `start` and `offsets`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_problem, event_ids, iso, TestServer};

const ENTITIES: &str = "/data/core/ups/access/entities";
const CRM_ID: &str = "CRM-LOOKUP";
const BASE_MS: i64 = 1_720_000_000_000;

/// A customer with five events, one a minute: `ev-0` .. `ev-4`.
async fn customer_with_five_events(server: &TestServer) {
    let company = server.company(&[]).await;
    let messages: Vec<Value> = (0..5)
        .map(|i| {
            json!({"header": {"datasetId": company.web}, "body": {"xdmEntity": {
                "_id": format!("ev-{i}"),
                "timestamp": iso(BASE_MS + i * 60_000),
                "identityMap": {"CRMID": [{"id": CRM_ID}]}
            }}})
        })
        .collect();
    let reply = server
        .post(
            "/collection/batch/test-inlet",
            json!({"messages": messages}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
}

/// `(key, value)` pairs of an href's query.
fn href_pairs(href: &str) -> Vec<(String, String)> {
    let query = href.split_once('?').expect("href with a query").1;
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn events_body(identities: Vec<Value>, extra: Value) -> Value {
    let mut body = json!({
        "schema": {"name": "_xdm.context.experienceevent"},
        "relatedSchema": {"name": "_xdm.context.profile"},
        "identities": identities,
    });
    for (key, value) in extra.as_object().expect("object") {
        body[key] = value.clone();
    }
    body
}

fn unknown_emails(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| json!({"relatedEntityId": format!("nobody-{i}@example.com"), "relatedEntityIdNS": {"code": "Email"}}))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn post_events_asking_for_more_than_100000_events_is_400_too_many_items() {
    let server = TestServer::start();

    // 101 identities at the default limit of 1000 events each.
    let reply = server
        .post(ENTITIES, events_body(unknown_emails(101), json!({})))
        .await;
    assert_problem(
        &reply,
        400,
        "too_many_items",
        &[
            "101 identities",
            "limit 1000",
            "100000",
            "at most 100 identities",
            "/limit to at most 990",
        ],
    );
    insta::assert_json_snapshot!("too_many_events", reply.body);

    let reply = server
        .post(
            ENTITIES,
            events_body(unknown_emails(201), json!({"limit": 500})),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "too_many_items",
        &[
            "201 identities",
            "at most 200 identities",
            "/limit to at most 497",
        ],
    );

    // Exactly 100,000 is allowed: 100 × 1000 and 200 × 500.
    for (count, extra) in [(100, json!({})), (200, json!({"limit": 500}))] {
        let reply = server
            .post(ENTITIES, events_body(unknown_emails(count), extra))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body.as_object().expect("keyed").len(), count);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn post_events_with_a_small_limit_serve_many_identities() {
    let server = TestServer::start();
    customer_with_five_events(&server).await;

    // 1000 identities × limit 100 is exactly the bound; every identity gets its page.
    let mut identities = unknown_emails(999);
    identities.push(json!({"relatedEntityId": CRM_ID, "relatedEntityIdNS": {"code": "CRMID"}}));
    let reply = server
        .post(ENTITIES, events_body(identities, json!({"limit": 100})))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let keyed = reply.body.as_object().expect("keyed");
    assert_eq!(keyed.len(), 1000);
    let children = keyed[CRM_ID]["children"].as_array().expect("children");
    assert_eq!(
        event_ids(children),
        ["ev-0", "ev-1", "ev-2", "ev-3", "ev-4"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn get_events_next_href_carries_the_cursor_as_start_and_as_offsets() {
    let server = TestServer::start();
    customer_with_five_events(&server).await;

    let first = server.events("CRMID", CRM_ID, "limit=2").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        event_ids(first.body["children"].as_array().unwrap()),
        ["ev-0", "ev-1"]
    );
    let next = first.body["_page"]["next"]
        .as_str()
        .expect("next")
        .to_owned();
    assert!(!next.is_empty());
    let href = first.body["_links"]["next"]["href"]
        .as_str()
        .expect("href")
        .to_owned();
    assert!(
        href.starts_with(&format!("/entities?start={next}&")),
        "{href}"
    );
    // `offsets` ends the href, so a client that cuts the href after "offsets=" gets the cursor.
    assert!(href.ends_with(&format!("&offsets={next}")), "{href}");
    let pairs = href_pairs(&href);
    assert_eq!(pairs.iter().filter(|(k, _)| k == "start").count(), 1);
    assert_eq!(pairs.iter().filter(|(k, _)| k == "offsets").count(), 1);

    // Following the href as is serves the second page.
    let second = server.get(&format!("/data/core/ups/access{href}")).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(
        event_ids(second.body["children"].as_array().unwrap()),
        ["ev-2", "ev-3"]
    );

    // Either parameter alone does too; an empty one is ignored.
    for cursor in [
        format!("offsets={next}"),
        format!("start={next}"),
        format!("start=&offsets={next}"),
        format!("start={next}&offsets="),
    ] {
        let page = server
            .events("CRMID", CRM_ID, &format!("limit=2&{cursor}"))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{cursor}: {}", page.body);
        assert_eq!(
            event_ids(page.body["children"].as_array().unwrap()),
            ["ev-2", "ev-3"],
            "{cursor}"
        );
    }
    // Both empty is the first page.
    let page = server
        .events("CRMID", CRM_ID, "limit=2&start=&offsets=")
        .await;
    assert_eq!(
        event_ids(page.body["children"].as_array().unwrap()),
        ["ev-0", "ev-1"]
    );

    // A bad cursor names the parameter it came in; two different cursors are refused.
    let reply = server.events("CRMID", CRM_ID, "offsets=nope").await;
    assert_problem(&reply, 400, "invalid_cursor", &["offsets", "nope"]);
    let other = second.body["_page"]["next"].as_str().expect("next");
    let reply = server
        .events("CRMID", CRM_ID, &format!("start={next}&offsets={other}"))
        .await;
    assert_problem(&reply, 400, "invalid_cursor", &["start and offsets"]);

    // The last page has no link.
    let (events, _) = server.all_events("CRMID", CRM_ID, "limit=2").await;
    assert_eq!(events.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_value_types_in_a_post_lookup_body_are_400_naming_the_pointer() {
    let server = TestServer::start();
    customer_with_five_events(&server).await;
    let crm = || json!({"relatedEntityId": CRM_ID, "relatedEntityIdNS": {"code": "CRMID"}});

    let cases: Vec<(Value, &[&str])> = vec![
        (
            json!({"limit": "2"}),
            &["/limit", "an integer from 1 to 1000", "\"2\""],
        ),
        (
            json!({"limit": -5}),
            &["/limit", "an integer from 1 to 1000", "-5"],
        ),
        (
            json!({"limit": 2.5}),
            &["/limit", "an integer from 1 to 1000", "2.5"],
        ),
        (json!({"limit": 0}), &["/limit", "0 is outside 1..=1000"]),
        (
            json!({"limit": 1001}),
            &["/limit", "1001 is outside 1..=1000"],
        ),
        (
            json!({"timeFilter": {"startTime": "abc"}}),
            &[
                "/timeFilter/startTime",
                "an integer (epoch milliseconds)",
                "\"abc\"",
            ],
        ),
        (
            json!({"timeFilter": {"endTime": 1.5}}),
            &["/timeFilter/endTime", "an integer (epoch milliseconds)"],
        ),
        (
            json!({"timeFilter": "last week"}),
            &["/timeFilter", "an object with startTime and endTime"],
        ),
        (
            json!({"orderby": 5}),
            &["/orderby", "expected a string", "5"],
        ),
        (
            json!({"orderby": "name"}),
            &["/orderby", "+timestamp or -timestamp"],
        ),
        (
            json!({"fields": [1, 2, null]}),
            &["/fields/0", "expected a string", "found 1"],
        ),
        (
            json!({"fields": ["web", null]}),
            &["/fields/1", "expected a string", "found null"],
        ),
        (
            json!({"fields": "web,channel"}),
            &["/fields", "an array of XDM paths"],
        ),
        (
            json!({"mergePolicyId": 42}),
            &["/mergePolicyId", "expected a string", "42"],
        ),
        (json!({"withCA": "yes"}), &["/withCA", "true or false"]),
        (
            json!({"identities": [{"relatedEntityId": CRM_ID, "relatedEntityIdNS": 5}]}),
            &["/identities/0/relatedEntityIdNS", "namespace code"],
        ),
        (
            json!({"identities": [{"relatedEntityId": CRM_ID, "relatedEntityIdNS": {"code": 5}}]}),
            &["/identities/0/relatedEntityIdNS/code", "namespace code"],
        ),
        (
            json!({"identities": [{"relatedEntityId": CRM_ID, "relatedEntityIdNS": "CRMID", "start": 7}]}),
            &["/identities/0/start", "expected a string"],
        ),
        (
            json!({"identities": ["CRM-LOOKUP"]}),
            &["/identities/0", "an object"],
        ),
        (
            json!({"identities": {"relatedEntityId": CRM_ID}}),
            &["/identities", "an array"],
        ),
        (
            json!({"relatedSchema": {"name": 1}}),
            &["/relatedSchema/name", "expected a string"],
        ),
    ];
    for (extra, mentions) in cases {
        let reply = server
            .post(ENTITIES, events_body(vec![crm()], extra.clone()))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{extra}: {}",
            reply.body
        );
        assert_problem(&reply, 400, "invalid_parameter", mentions);
    }
    let reply = server
        .post(ENTITIES, events_body(vec![crm()], json!({"limit": "2"})))
        .await;
    insta::assert_json_snapshot!("limit_as_a_string", reply.body);

    // The same checks hold for profile lookups.
    for (extra, pointer) in [
        (json!({"fields": [1, 2, null]}), "/fields/0"),
        (json!({"mergePolicyId": 42}), "/mergePolicyId"),
        (json!({"limit": "2"}), "/limit"),
    ] {
        let mut body = json!({"schema": {"name": "_xdm.context.profile"}, "identities": [{"entityId": CRM_ID, "entityIdNS": {"code": "CRMID"}}]});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let reply = server.post(ENTITIES, body).await;
        assert_problem(&reply, 400, "invalid_parameter", &[pointer]);
    }

    // Well-typed values (and nulls) are served.
    let reply = server
        .post(
            ENTITIES,
            events_body(
                vec![crm()],
                json!({"limit": 2, "orderby": "-timestamp", "fields": ["_id"], "mergePolicyId": null, "withCA": false, "timeFilter": {"startTime": BASE_MS, "endTime": null}}),
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        event_ids(reply.body[CRM_ID]["children"].as_array().unwrap()),
        ["ev-4", "ev-3"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_time_window_that_ends_before_it_starts_is_400_naming_both_ends() {
    let server = TestServer::start();
    customer_with_five_events(&server).await;

    let reply = server
        .events(
            "CRMID",
            CRM_ID,
            &format!("startTime={}&endTime={}", BASE_MS + 1, BASE_MS),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_parameter",
        &["startTime", "endTime", "is after"],
    );

    let reply = server
        .post(
            ENTITIES,
            events_body(
                vec![json!({"relatedEntityId": CRM_ID, "relatedEntityIdNS": {"code": "CRMID"}})],
                json!({"timeFilter": {"startTime": BASE_MS + 1, "endTime": BASE_MS}}),
            ),
        )
        .await;
    assert_problem(
        &reply,
        400,
        "invalid_parameter",
        &["/timeFilter/startTime", "/timeFilter/endTime", "is after"],
    );

    // An empty window (start = end, the end being exclusive) is allowed and finds nothing.
    let reply = server
        .events(
            "CRMID",
            CRM_ID,
            &format!("startTime={BASE_MS}&endTime={BASE_MS}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["children"], json!([]));
    // A window of one minute finds the one event in it.
    let reply = server
        .events(
            "CRMID",
            CRM_ID,
            &format!("startTime={BASE_MS}&endTime={}", BASE_MS + 60_000),
        )
        .await;
    assert_eq!(
        event_ids(reply.body["children"].as_array().unwrap()),
        ["ev-0"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_benchmark_floor_answers_the_size_asked_for_to_a_get_and_a_post() {
    let server = TestServer::start();
    let got = server.get("/health/floor?bytes=100").await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(serde_json::to_vec(&got.body).expect("json").len(), 100);
    let posted = server
        .post(
            "/health/floor?bytes=2000",
            json!({"identities": [{"entityId": "a@example.com"}]}),
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    assert_eq!(serde_json::to_vec(&posted.body).expect("json").len(), 2000);
    let refused = server.get("/health/floor?bytes=8").await;
    assert_problem(
        &refused,
        400,
        "invalid_parameter",
        &["bytes", "16 to 1048576"],
    );
}
