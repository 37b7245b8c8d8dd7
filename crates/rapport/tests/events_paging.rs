//! Events lookup: paging through `_links.next.href`, time windows, order, property filters, and
//! replacement of an event re-sent with the same `_id`.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{assert_problem, event_ids, iso, Company, TestServer};

const CRM_ID: &str = "CRM-PAGER";
const BASE_MS: i64 = 1_730_000_000_000;
const STEP_MS: i64 = 60_000;
const EVENTS: usize = 23;

fn event_id(i: usize) -> String {
    format!("evt-{i:02}")
}

fn at(i: usize) -> i64 {
    BASE_MS + i as i64 * STEP_MS
}

/// One customer with `EVENTS` web/commerce events a minute apart, sent out of order.
async fn customer_with_events(server: &TestServer) -> Company {
    let company = server.company(&[]).await;
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {"CRMID": [{"id": CRM_ID, "primary": true}]}}),
        )
        .await;
    // Interleave the order of sending so the store, not the arrival order, sorts them.
    let order: Vec<usize> = (0..EVENTS)
        .filter(|i| i % 2 == 1)
        .chain((0..EVENTS).filter(|i| i % 2 == 0))
        .collect();
    let mut messages = Vec::new();
    for i in order {
        messages.push(json!({
            "header": {"datasetId": company.web},
            "body": {"xdmEntity": {
                "_id": event_id(i),
                "timestamp": iso(at(i)),
                "eventType": if i % 2 == 0 { "web.webpagedetails.pageViews" } else { "commerce.purchases" },
                "identityMap": {"CRMID": [{"id": CRM_ID}]},
                "web": {"webPageDetails": {"name": if i % 2 == 0 { "Home" } else { "Sale" }}},
                "commerce": {"order": {"priceTotal": i as f64 * 10.0, "currencyCode": "USD"}}
            }}
        }));
    }
    let reply = server
        .post(
            "/collection/batch/test-inlet",
            json!({"messages": messages}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{}", reply.body);
    let responses = reply.body["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), EVENTS);
    assert!(
        responses.iter().all(|r| r.get("statusCode").is_none()),
        "{}",
        reply.body
    );
    company
}

#[tokio::test(flavor = "multi_thread")]
async fn following_next_links_in_descending_order_returns_every_event_once() {
    let server = TestServer::start();
    customer_with_events(&server).await;

    let (events, pages) = server
        .all_events("CRMID", CRM_ID, "orderby=-timestamp&limit=5")
        .await;
    let expected: Vec<String> = (0..EVENTS).rev().map(event_id).collect();
    assert_eq!(event_ids(&events), expected);
    assert!(pages >= EVENTS.div_ceil(5), "{pages} pages");
    let timestamps: Vec<i64> = events
        .iter()
        .map(|e| e["timestamp"].as_i64().expect("ms"))
        .collect();
    assert_eq!(timestamps, (0..EVENTS).rev().map(at).collect::<Vec<_>>());

    // The first page says how it is ordered and where the next one starts.
    let first = server
        .events("CRMID", CRM_ID, "orderby=-timestamp&limit=5")
        .await;
    assert_eq!(first.body["_page"]["orderby"], "-timestamp");
    assert_eq!(first.body["_page"]["count"], 5);
    assert_eq!(first.body["_page"]["start"], json!(event_id(EVENTS - 1)));
    let next = first.body["_page"]["next"].as_str().expect("next");
    assert!(!next.is_empty());
    let href = first.body["_links"]["next"]["href"].as_str().expect("href");
    assert!(href.starts_with("/entities?start="), "{href}");
    assert!(
        href.contains("orderby=-timestamp") && href.contains("limit=5"),
        "{href}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ascending_is_the_default_and_paging_ascending_is_complete_too() {
    let server = TestServer::start();
    customer_with_events(&server).await;

    let (events, pages) = server.all_events("CRMID", CRM_ID, "limit=7").await;
    assert_eq!(
        event_ids(&events),
        (0..EVENTS).map(event_id).collect::<Vec<_>>()
    );
    assert_eq!(pages, EVENTS.div_ceil(7));
    let first = server.events("CRMID", CRM_ID, "limit=7").await;
    assert_eq!(first.body["_page"]["orderby"], "timestamp");

    // Without limit, everything fits the default page of 1000.
    let all = server.events("CRMID", CRM_ID, "").await;
    assert_eq!(all.body["_page"]["count"], EVENTS);
    assert_eq!(all.body["_page"]["next"], "");
}

#[tokio::test(flavor = "multi_thread")]
async fn start_time_is_inclusive_and_end_time_exclusive() {
    let server = TestServer::start();
    customer_with_events(&server).await;

    let query = format!("startTime={}&endTime={}", at(5), at(10));
    let reply = server.events("CRMID", CRM_ID, &query).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let ids = event_ids(reply.body["children"].as_array().expect("children"));
    assert_eq!(ids, (5..10).map(event_id).collect::<Vec<_>>());

    // One millisecond either way moves the edges.
    let query = format!("startTime={}&endTime={}", at(5) + 1, at(10) + 1);
    let reply = server.events("CRMID", CRM_ID, &query).await;
    let ids = event_ids(reply.body["children"].as_array().expect("children"));
    assert_eq!(ids, (6..=10).map(event_id).collect::<Vec<_>>());

    // Windows combine with descending order and paging.
    let query = format!(
        "startTime={}&endTime={}&orderby=-timestamp&limit=2",
        at(3),
        at(12)
    );
    let (events, pages) = server.all_events("CRMID", CRM_ID, &query).await;
    assert_eq!(
        event_ids(&events),
        (3..12).rev().map(event_id).collect::<Vec<_>>()
    );
    assert!(pages >= 5, "{pages}");

    // Only startTime: everything from there on.
    let reply = server
        .events("CRMID", CRM_ID, &format!("startTime={}", at(20)))
        .await;
    assert_eq!(
        event_ids(reply.body["children"].as_array().expect("children")),
        (20..EVENTS).map(event_id).collect::<Vec<_>>()
    );

    let reply = server.events("CRMID", CRM_ID, "startTime=yesterday").await;
    assert_problem(
        &reply,
        400,
        "invalid_parameter",
        &["startTime", "yesterday"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn property_filters_combine_and_a_fourth_is_refused() {
    let server = TestServer::start();
    customer_with_events(&server).await;

    let reply = server
        .events("CRMID", CRM_ID, "property=web.webPageDetails.name=Home")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let ids = event_ids(reply.body["children"].as_array().expect("children"));
    assert_eq!(
        ids,
        (0..EVENTS)
            .filter(|i| i % 2 == 0)
            .map(event_id)
            .collect::<Vec<_>>()
    );

    let reply = server
        .events(
            "CRMID",
            CRM_ID,
            "property=web.webPageDetails.name=Home&property=commerce.order.priceTotal%3E100",
        )
        .await;
    let ids = event_ids(reply.body["children"].as_array().expect("children"));
    assert_eq!(ids, [12, 14, 16, 18, 20, 22].map(event_id));

    let reply = server
        .events(
            "CRMID",
            CRM_ID,
            "property=web.webPageDetails.name=Home&property=commerce.order.priceTotal%3E100&property=eventType=web.webpagedetails.pageViews",
        )
        .await;
    assert_eq!(
        event_ids(reply.body["children"].as_array().expect("children")),
        [12, 14, 16, 18, 20, 22].map(event_id)
    );

    // Filters page too: two at a time, still each once.
    let (events, _) = server
        .all_events(
            "CRMID",
            CRM_ID,
            "property=web.webPageDetails.name=Sale&limit=2&orderby=-timestamp",
        )
        .await;
    assert_eq!(
        event_ids(&events),
        (0..EVENTS)
            .rev()
            .filter(|i| i % 2 == 1)
            .map(event_id)
            .collect::<Vec<_>>()
    );

    let reply = server
        .events(
            "CRMID",
            CRM_ID,
            "property=web.webPageDetails.name=Home&property=commerce.order.priceTotal%3E100&property=eventType=x&property=_id=evt-01",
        )
        .await;
    assert_problem(&reply, 400, "too_many_items", &["property", "3"]);
    insta::assert_json_snapshot!("too_many_property_filters", reply.body);

    let reply = server
        .events("CRMID", CRM_ID, "property=web.webPageDetails.name")
        .await;
    assert_problem(&reply, 400, "invalid_parameter", &["property"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn resending_an_event_with_the_same_id_replaces_it() {
    let server = TestServer::start();
    let company = customer_with_events(&server).await;

    // Same _id, same timestamp, new content.
    server
        .ingest(
            &company.web,
            json!({
                "_id": event_id(3), "timestamp": iso(at(3)),
                "identityMap": {"CRMID": [{"id": CRM_ID}]},
                "web": {"webPageDetails": {"name": "Replaced"}}
            }),
        )
        .await;
    // Same _id, another timestamp: the event moves.
    server
        .ingest(
            &company.web,
            json!({
                "_id": event_id(4), "timestamp": iso(at(EVENTS) + 5),
                "identityMap": {"CRMID": [{"id": CRM_ID}]},
                "web": {"webPageDetails": {"name": "Moved"}}
            }),
        )
        .await;

    let (events, _) = server.all_events("CRMID", CRM_ID, "limit=4").await;
    let ids = event_ids(&events);
    assert_eq!(ids.len(), EVENTS, "no duplicate: {ids:?}");
    let mut expected: Vec<String> = (0..EVENTS).filter(|i| *i != 4).map(event_id).collect();
    expected.push(event_id(4));
    assert_eq!(ids, expected);
    let replaced = events
        .iter()
        .find(|e| e["entityId"] == json!(event_id(3)))
        .expect("evt-03");
    assert_eq!(
        replaced["entity"]["web"]["webPageDetails"]["name"],
        "Replaced"
    );
    assert!(
        replaced["entity"].get("commerce").is_none(),
        "replaced, not merged"
    );
    let moved = events.last().expect("last");
    assert_eq!(moved["timestamp"], json!(at(EVENTS) + 5));
    assert_eq!(moved["entity"]["web"]["webPageDetails"]["name"], "Moved");

    // The same _id in another dataset is another event.
    server
        .ingest(
            &company.calls,
            json!({
                "_id": event_id(3), "timestamp": iso(at(3)),
                "identityMap": {"CRMID": [{"id": CRM_ID}]},
                "support": {"channel": "chat"}
            }),
        )
        .await;
    let all = server.events("CRMID", CRM_ID, "").await;
    assert_eq!(all.body["_page"]["count"], EVENTS + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_paging_parameters_are_named() {
    let server = TestServer::start();
    customer_with_events(&server).await;

    let reply = server.events("CRMID", CRM_ID, "limit=0").await;
    assert_problem(&reply, 400, "invalid_parameter", &["limit"]);
    let reply = server.events("CRMID", CRM_ID, "orderby=name").await;
    assert_problem(&reply, 400, "invalid_parameter", &["orderby", "name"]);
    let reply = server.events("CRMID", CRM_ID, "start=not-a-cursor").await;
    assert_problem(&reply, 400, "invalid_cursor", &["start", "not-a-cursor"]);
    let reply = server.events("CRMID", "CRM-NOBODY", "").await;
    assert_problem(&reply, 404, "profile_not_found", &["CRM-NOBODY", "CRMID"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_events_copied_from_the_store_read_as_events_rebuilt_through_a_filter_do() {
    let server = TestServer::start();
    customer_with_events(&server).await;
    // No filter: each event is copied as stored. A filter every event passes: each is parsed,
    // tested and written out again. Both pages must say the same.
    let copied = server
        .events("CRMID", CRM_ID, "orderby=-timestamp&limit=5")
        .await;
    let rebuilt = server
        .events(
            "CRMID",
            CRM_ID,
            "orderby=-timestamp&limit=5&property=commerce.order.currencyCode=USD",
        )
        .await;
    assert_eq!(copied.status, StatusCode::OK, "{}", copied.body);
    assert_eq!(rebuilt.status, StatusCode::OK, "{}", rebuilt.body);
    let children = copied.body["children"].as_array().expect("children");
    assert_eq!(children.len(), 5);
    assert_eq!(copied.body["children"], rebuilt.body["children"]);
    assert_eq!(copied.body["_page"], rebuilt.body["_page"]);
    let newest = &children[0];
    assert_eq!(newest["entityId"], json!(event_id(EVENTS - 1)));
    assert_eq!(newest["timestamp"], json!(at(EVENTS - 1)));
    assert_eq!(newest["entity"]["_id"], json!(event_id(EVENTS - 1)));
    assert_eq!(copied.body["_page"]["start"], json!(event_id(EVENTS - 1)));
    assert!(newest["relatedEntityId"]
        .as_str()
        .is_some_and(|id| id.starts_with('P')));
    assert!(newest["lastModifiedAt"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_sent_under_two_unlinked_identities_is_one_event_once_they_are_linked() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    // The same event twice, under identities nothing links yet: two profiles, one copy each.
    let copy = |email: &str, page: &str| {
        json!({
            "_id": "evt-twice", "timestamp": iso(at(1)),
            "identityMap": {"Email": [{"id": email, "primary": true}]},
            "web": {"webPageDetails": {"name": page}}
        })
    };
    server
        .ingest(&company.web, copy("first@example.com", "First copy"))
        .await;
    server
        .ingest(&company.web, copy("second@example.com", "Second copy"))
        .await;
    for email in ["first@example.com", "second@example.com"] {
        let (events, _) = server.all_events("Email", email, "").await;
        assert_eq!(event_ids(&events), ["evt-twice"], "{email}");
    }
    // A record links the two: the merged profile keeps the copy ingested last.
    server
        .ingest(
            &company.crm,
            json!({"identityMap": {
                "CRMID": [{"id": "CRM-TWICE", "primary": true}],
                "Email": [{"id": "first@example.com"}, {"id": "second@example.com"}]
            }}),
        )
        .await;
    let (events, _) = server.all_events("CRMID", "CRM-TWICE", "").await;
    assert_eq!(event_ids(&events), ["evt-twice"], "one event: {events:?}");
    assert_eq!(
        events[0]["entity"]["web"]["webPageDetails"]["name"],
        "Second copy"
    );
    // Sent once more with a new time, it moves instead of becoming a second event.
    server
        .ingest(&company.web, {
            let mut again = copy("first@example.com", "Third copy");
            again["timestamp"] = json!(iso(at(2)));
            again
        })
        .await;
    let (events, _) = server.all_events("CRMID", "CRM-TWICE", "").await;
    assert_eq!(event_ids(&events), ["evt-twice"]);
    assert_eq!(events[0]["timestamp"], json!(at(2)));
    assert_eq!(
        events[0]["entity"]["web"]["webPageDetails"]["name"],
        "Third copy"
    );
}
