//! Segments through the API: definitions, conversion, streaming evaluation before the
//! acknowledgement, exits when a window closes, jobs agreeing with streaming, `inSegment`
//! chains, consent, explanations, previews and estimates.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{
    assert_problem, ecid, encode, eventually, iso, Company, TestServer, PROFILE_GROUPS,
};

const DEFINITIONS: &str = "/data/core/ups/segment/definitions";

fn now_ms() -> i64 {
    engine::catalog::now_ms()
}

/// Creates a definition; returns its id.
async fn define(server: &TestServer, name: &str, pql: &str) -> String {
    define_with(
        server,
        json!({"name": name, "expression": {"type": "PQL", "format": "pql/text", "value": pql}}),
    )
    .await
}

async fn define_with(server: &TestServer, mut body: Value) -> String {
    body["schema"] = json!({"name": "_xdm.context.profile"});
    let reply = server.post(DEFINITIONS, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// A customer's CRM record.
async fn customer(server: &TestServer, company: &Company, n: u64, tier: &str) {
    server
        .ingest(
            &company.crm,
            json!({
                "identityMap": {"CRMID": [{"id": format!("CRM-{n}"), "primary": true}], "Email": [{"id": email(n)}]},
                "person": {"name": {"firstName": format!("Customer{n}"), "lastName": "Test"}},
                "loyalty": {"tier": tier, "points": 100.0 * n as f64},
            }),
        )
        .await;
}

fn email(n: u64) -> String {
    format!("customer{n}@example.com")
}

/// A purchase event of a customer at `timestamp_ms`.
async fn purchase(
    server: &TestServer,
    company: &Company,
    n: u64,
    id: &str,
    timestamp_ms: i64,
    total: f64,
) -> Value {
    server
        .ingest(
            &company.web,
            json!({
                "_id": id,
                "timestamp": iso(timestamp_ms),
                "eventType": "commerce.purchases",
                "identityMap": {"ECID": [{"id": ecid(n)}], "Email": [{"id": email(n)}]},
                "commerce": {"order": {"priceTotal": total, "currencyCode": "USD"}, "purchases": {"value": 1.0}},
            }),
        )
        .await
}

/// The `segmentMembership.ups` of a customer's profile.
async fn memberships(server: &TestServer, n: u64) -> Value {
    server.entity("Email", &email(n)).await["segmentMembership"]["ups"].clone()
}

fn status_of(ups: &Value, id: &str) -> Option<String> {
    ups.get(id)
        .and_then(|m| m["status"].as_str())
        .map(str::to_owned)
}

/// Waits for a segment job to finish; returns its body.
async fn finished_job(server: &TestServer, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = server
            .get(&format!("/data/core/ups/segment/jobs/{id}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        match reply.body["status"].as_str() {
            Some("SUCCEEDED") | Some("FAILED") | Some("CANCELLED") => return reply.body,
            _ if Instant::now() > deadline => panic!("job did not finish: {}", reply.body),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until every job of the sandbox has finished.
async fn jobs_settled(server: &TestServer) {
    let settled = eventually(60, || async {
        let reply = server.get("/data/core/ups/segment/jobs?limit=1000").await;
        reply.body["children"]
            .as_array()
            .expect("children")
            .iter()
            .all(|j| {
                matches!(
                    j["status"].as_str(),
                    Some("SUCCEEDED") | Some("FAILED") | Some("CANCELLED")
                )
            })
    })
    .await;
    assert!(settled, "segment jobs did not finish");
}

#[tokio::test(flavor = "multi_thread")]
async fn definitions_can_be_created_listed_read_patched_and_deleted() {
    let server = TestServer::start();
    server.company(&[]).await;
    let gold = define(&server, "Gold members", "loyalty.tier = \"gold\"").await;
    let silver = define_with(
        &server,
        json!({"name": "Silver members", "description": "tier silver", "expression": {"type": "PQL", "format": "pql/text", "value": "loyalty.tier = \"silver\""}, "evaluationInfo": {"continuous": {"enabled": true}}, "ttlInDays": 30}),
    )
    .await;

    let reply = server.get(&format!("{DEFINITIONS}/{silver}")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = &reply.body;
    assert_eq!(body["name"], "Silver members");
    assert_eq!(body["description"], "tier silver");
    assert_eq!(
        body["expression"],
        json!({"type": "PQL", "format": "pql/text", "value": "loyalty.tier = \"silver\""})
    );
    assert_eq!(body["evaluationInfo"]["continuous"]["enabled"], true);
    assert_eq!(
        body["dataGovernancePolicy"]["excludeOptOut"], true,
        "on by default"
    );
    assert_eq!(body["ttlInDays"], 30);
    assert_eq!(body["schema"]["name"], "_xdm.context.profile");
    assert_eq!(body["lifecycleState"], "published");

    let page = server
        .get(&format!("{DEFINITIONS}?limit=1&sort=name:asc"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["segments"][0]["id"], json!(gold));
    assert_eq!(page.body["page"]["totalCount"], 2);
    assert_eq!(page.body["page"]["totalPages"], 2);
    let second = server
        .get(&format!("{DEFINITIONS}?limit=1&start=1&sort=name:asc"))
        .await;
    assert_eq!(second.body["segments"][0]["id"], json!(silver));
    let streaming = server
        .get(&format!(
            "{DEFINITIONS}?evaluationInfo.continuous.enabled=true"
        ))
        .await;
    assert_eq!(streaming.body["segments"].as_array().map(Vec::len), Some(1));

    let bulk = server
        .post(
            &format!("{DEFINITIONS}/bulk-get"),
            json!({"ids": [{"id": gold}, {"id": "no-such-segment"}]}),
        )
        .await;
    assert_eq!(bulk.status, StatusCode::MULTI_STATUS);
    assert_eq!(bulk.body["results"][&gold]["name"], "Gold members");
    assert_eq!(bulk.body["results"]["no-such-segment"]["status"], 404);

    let patched = server
        .patch(&format!("{DEFINITIONS}/{gold}"), json!({"name": "Gold tier", "expression": {"type": "PQL", "format": "pql/text", "value": "loyalty.tier.equals(\"GOLD\", false)"}}))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["name"], "Gold tier");
    assert!(patched.body["updateTime"].as_i64() >= patched.body["creationTime"].as_i64());

    let deleted = server.delete(&format!("{DEFINITIONS}/{gold}")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = server.get(&format!("{DEFINITIONS}/{gold}")).await;
    assert_problem(&gone, 404, "segment_definition_not_found", &[&gold]);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_definitions_are_refused_with_the_field_and_the_position() {
    let server = TestServer::start();
    server.company(&[]).await;
    let post = |pql: &str| {
        server.post(
            DEFINITIONS,
            json!({"name": format!("bad {pql}"), "schema": {"name": "_xdm.context.profile"}, "expression": {"type": "PQL", "format": "pql/text", "value": pql}}),
        )
    };
    let unknown_field = post("homeAddress.countryCode = \"US\" and loyalty.colour = \"red\"").await;
    assert_problem(
        &unknown_field,
        400,
        "invalid_pql_expression",
        &["/expression/value", "line 1, column 36", "loyalty.colour"],
    );
    let mismatch = post("person.birthDate > \"yesterday-ish\"").await;
    assert_problem(&mismatch, 400, "invalid_pql_expression", &["line 1"]);
    let unknown_segment = post("inSegment(\"no-such-segment\")").await;
    assert_problem(
        &unknown_segment,
        400,
        "invalid_pql_expression",
        &["no-such-segment"],
    );
    let syntax = post("loyalty.tier = ").await;
    assert_problem(&syntax, 400, "invalid_pql_expression", &["line 1, column"]);

    let no_name = server
        .post(DEFINITIONS, json!({"schema": {"name": "_xdm.context.profile"}, "expression": {"type": "PQL", "format": "pql/text", "value": "true"}}))
        .await;
    assert_problem(
        &no_name,
        400,
        "invalid_segment_definition",
        &["/name", "required"],
    );
    let bad_format = server
        .post(DEFINITIONS, json!({"name": "x", "expression": {"type": "PQL", "format": "pql/yaml", "value": "true"}}))
        .await;
    assert_problem(
        &bad_format,
        400,
        "invalid_segment_definition",
        &["/expression/format", "pql/yaml"],
    );
    let other_class = server
        .post(DEFINITIONS, json!({"name": "x", "schema": {"name": "_xdm.context.experienceevent"}, "expression": {"type": "PQL", "format": "pql/text", "value": "true"}}))
        .await;
    assert_problem(
        &other_class,
        400,
        "invalid_segment_definition",
        &["/schema/name"],
    );
    let unknown_policy = server
        .post(DEFINITIONS, json!({"name": "x", "mergePolicyId": "nope", "expression": {"type": "PQL", "format": "pql/text", "value": "true"}}))
        .await;
    assert_problem(
        &unknown_policy,
        404,
        "merge_policy_not_found",
        &["/mergePolicyId"],
    );

    define(&server, "Gold", "loyalty.tier = \"gold\"").await;
    let duplicate = server
        .post(DEFINITIONS, json!({"name": "Gold", "expression": {"type": "PQL", "format": "pql/text", "value": "true"}}))
        .await;
    assert_problem(&duplicate, 409, "segment_name_already_exists", &["Gold"]);
    let list = server.get(DEFINITIONS).await;
    assert_eq!(
        list.body["page"]["totalCount"], 1,
        "nothing refused was stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conversion_turns_pql_text_into_pql_json_and_back() {
    let server = TestServer::start();
    let text = "workAddress.country = \"US\"";
    let reply = server
        .post("/data/core/ups/segment/conversion", json!({"type": "PQL", "sourceType": "pql/text", "targetType": "pql/json", "value": text}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["format"], "pql/json");
    let ast: Value =
        serde_json::from_str(reply.body["value"].as_str().expect("json string")).expect("json");
    assert_eq!(ast["nodeType"], "fnApply");
    assert_eq!(ast["fnName"], "=");
    assert_eq!(ast["params"][0]["fieldName"], "country");
    assert_eq!(
        ast["params"][1],
        json!({"nodeType": "literal", "literalType": "String", "value": "US"})
    );

    let back = server
        .post("/data/core/ups/segment/conversion", json!({"sourceType": "pql/json", "targetType": "pql/text", "value": reply.body["value"]}))
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["value"], json!(text));

    let broken = server
        .post(
            "/data/core/ups/segment/conversion",
            json!({"sourceType": "pql/text", "value": "a = = b"}),
        )
        .await;
    assert_problem(
        &broken,
        400,
        "invalid_pql_expression",
        &["line 1, column 5"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_qualifying_event_changes_membership_before_the_ingestion_response_returns() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let recent_buyers = define(
        &server,
        "Bought in the last 7 days",
        "xEvent[eventType = \"commerce.purchases\" and timestamp occurs <= 7 days before now].count() > 0",
    )
    .await;
    customer(&server, &company, 1, "silver").await;
    jobs_settled(&server).await;
    assert_eq!(
        status_of(&memberships(&server, 1).await, &recent_buyers),
        None,
        "no purchase yet"
    );

    // The lookup right after the acknowledgement must already show the membership.
    purchase(&server, &company, 1, "order-1", now_ms() - 60_000, 80.0).await;
    let ups = memberships(&server, 1).await;
    assert_eq!(
        status_of(&ups, &recent_buyers).as_deref(),
        Some("realized"),
        "{ups}"
    );
    assert!(ups[&recent_buyers]["lastQualificationTime"]
        .as_str()
        .is_some());

    // An old purchase does not qualify someone else.
    customer(&server, &company, 2, "silver").await;
    purchase(
        &server,
        &company,
        2,
        "order-2",
        now_ms() - 30 * 86_400_000,
        80.0,
    )
    .await;
    assert_eq!(
        status_of(&memberships(&server, 2).await, &recent_buyers),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closing_time_window_exits_the_member_without_new_data() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let just_bought = define(
        &server,
        "Bought in the last 3 seconds",
        "xEvent[eventType = \"commerce.purchases\" and timestamp occurs <= 3 seconds before now].count() > 0",
    )
    .await;
    customer(&server, &company, 1, "gold").await;
    let bought_at = now_ms();
    purchase(&server, &company, 1, "order-1", bought_at, 20.0).await;
    assert_eq!(
        status_of(&memberships(&server, 1).await, &just_bought).as_deref(),
        Some("realized")
    );

    // No new data: the schedule alone must move the member out once the 3 s window closes.
    let exited = eventually(15, || async {
        status_of(&memberships(&server, 1).await, &just_bought).as_deref() == Some("exited")
    })
    .await;
    assert!(exited, "still {}", memberships(&server, 1).await);
    let exit_time = memberships(&server, 1).await[&just_bought]["lastQualificationTime"]
        .as_str()
        .and_then(engine::time::parse_rfc3339_ms)
        .expect("exit time");
    let window_end = bought_at + 3_000;
    assert!(
        exit_time >= window_end - 1_000 && exit_time <= window_end + 5_000,
        "exited at {exit_time}, the window closed at {window_end}"
    );
}

/// Ten customers with purchases and tiers, loaded into `headers`' sandbox.
async fn load_customers(server: &TestServer, company: &Company) {
    let now = now_ms();
    for n in 1..=10u64 {
        let tier = match n % 3 {
            0 => "gold",
            1 => "silver",
            _ => "bronze",
        };
        customer(server, company, n, tier).await;
        for k in 0..(n % 4) {
            purchase(
                server,
                company,
                n,
                &format!("order-{n}-{k}"),
                now - (k as i64 * 9 + 1) * 86_400_000,
                25.0 * (n + k) as f64,
            )
            .await;
        }
    }
}

const AGREEMENT_DEFINITIONS: &[(&str, &str)] = &[
    ("Gold", "loyalty.tier = \"gold\""),
    (
        "Big spenders",
        "xEvent[eventType = \"commerce.purchases\"].sum(commerce.order.priceTotal) > 100",
    ),
    (
        "Recent",
        "xEvent[timestamp occurs <= 10 days before now].count() >= 1",
    ),
    (
        "Frequent",
        "xEvent[eventType = \"commerce.purchases\"].count() >= 3",
    ),
    (
        "No purchase",
        "not (exists E from xEvent where (E.eventType = \"commerce.purchases\"))",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn batch_and_streaming_evaluation_agree_on_the_same_data() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    // Streaming: the definitions exist before the data arrives.
    let mut ids = Vec::new();
    for (name, pql) in AGREEMENT_DEFINITIONS {
        ids.push(define(&server, name, pql).await);
    }
    jobs_settled(&server).await;
    load_customers(&server, &company).await;
    let mut streamed = Vec::new();
    for n in 1..=10 {
        streamed.push(memberships(&server, n).await);
    }
    assert!(
        streamed
            .iter()
            .any(|m| m.as_object().is_some_and(|o| !o.is_empty())),
        "some customer qualifies for something"
    );

    // A batch job over the same data finds nothing to change...
    let job = server
        .post("/data/core/ups/segment/jobs", json!([{"segmentId": "*"}]))
        .await;
    assert_eq!(job.status, StatusCode::OK, "{}", job.body);
    let done = finished_job(&server, job.body["id"].as_str().expect("id")).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["metrics"]["totalProfiles"], 10);
    assert_eq!(
        done["metrics"]["updatedProfiles"], 0,
        "streaming left nothing for the batch job: {done}"
    );
    for (i, id) in ids.iter().enumerate() {
        let members = streamed
            .iter()
            .filter(|m| status_of(m, id).as_deref() == Some("realized"))
            .count();
        assert_eq!(
            done["metrics"]["segmentedProfileCounter"][id],
            json!(members),
            "{}",
            AGREEMENT_DEFINITIONS[i].0
        );
    }

    // ...and definitions created after the data (evaluated by their job) give the same result.
    let sandbox = [("x-sandbox-name", "batch-side")];
    let other = server.company(&sandbox).await;
    for n in 1..=10u64 {
        // The same customers and purchases, in the other sandbox.
        let now = now_ms();
        let tier = match n % 3 {
            0 => "gold",
            1 => "silver",
            _ => "bronze",
        };
        server.ingest_in(&other.crm, json!({"identityMap": {"CRMID": [{"id": format!("CRM-{n}"), "primary": true}], "Email": [{"id": email(n)}]}, "person": {"name": {"firstName": format!("Customer{n}"), "lastName": "Test"}}, "loyalty": {"tier": tier, "points": 100.0 * n as f64}}), &sandbox).await;
        for k in 0..(n % 4) {
            server.ingest_in(&other.web, json!({"_id": format!("order-{n}-{k}"), "timestamp": iso(now - (k as i64 * 9 + 1) * 86_400_000), "eventType": "commerce.purchases", "identityMap": {"ECID": [{"id": ecid(n)}], "Email": [{"id": email(n)}]}, "commerce": {"order": {"priceTotal": 25.0 * (n + k) as f64, "currencyCode": "USD"}, "purchases": {"value": 1.0}}}), &sandbox).await;
        }
    }
    let mut batch_ids = Vec::new();
    for (name, pql) in AGREEMENT_DEFINITIONS {
        let reply = server
            .send(axum::http::Method::POST, DEFINITIONS, Some(json!({"name": name, "expression": {"type": "PQL", "format": "pql/text", "value": pql}})), &sandbox)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        batch_ids.push(reply.body["id"].as_str().expect("id").to_owned());
    }
    let settled = eventually(60, || async {
        let reply = server
            .send(
                axum::http::Method::GET,
                "/data/core/ups/segment/jobs?limit=1000",
                None,
                &sandbox,
            )
            .await;
        reply.body["children"]
            .as_array()
            .expect("children")
            .iter()
            .all(|j| j["status"] == "SUCCEEDED")
    })
    .await;
    assert!(settled, "the definitions' jobs finished");
    for n in 1..=10u64 {
        let reply = server
            .send(axum::http::Method::GET, &format!("/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityId={}&entityIdNS=Email", encode(&email(n))), None, &sandbox)
            .await;
        let item = reply
            .body
            .as_object()
            .and_then(|o| o.values().next())
            .expect("profile")
            .clone();
        let batch_side = &item["entity"]["segmentMembership"]["ups"];
        for (i, (name, _)) in AGREEMENT_DEFINITIONS.iter().enumerate() {
            // Membership agrees; the history may not (streaming saw a customer enter "No
            // purchase" before the first purchase arrived, the job never did).
            assert_eq!(
                status_of(batch_side, &batch_ids[i]).as_deref() == Some("realized"),
                status_of(&streamed[n as usize - 1], &ids[i]).as_deref() == Some("realized"),
                "customer {n}, segment {name}: {batch_side} vs {}",
                streamed[n as usize - 1]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn in_segment_chains_follow_their_dependencies_and_cycles_are_refused() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let gold = define(&server, "Gold", "loyalty.tier = \"gold\"").await;
    let gold_buyers = define(
        &server,
        "Gold buyers",
        &format!(
            "inSegment(\"{gold}\") and xEvent[eventType = \"commerce.purchases\"].count() > 0"
        ),
    )
    .await;
    let vip = define(&server, "VIP", &format!("inSegment(\"{gold_buyers}\")")).await;
    jobs_settled(&server).await;

    customer(&server, &company, 1, "gold").await;
    purchase(&server, &company, 1, "order-1", now_ms() - 3_600_000, 300.0).await;
    let ups = memberships(&server, 1).await;
    for id in [&gold, &gold_buyers, &vip] {
        assert_eq!(
            status_of(&ups, id).as_deref(),
            Some("realized"),
            "{id}: {ups}"
        );
    }

    // Leaving the first segment ripples through the chain in the same write.
    customer(&server, &company, 1, "silver").await;
    let ups = memberships(&server, 1).await;
    for id in [&gold, &gold_buyers, &vip] {
        assert_eq!(
            status_of(&ups, id).as_deref(),
            Some("exited"),
            "{id}: {ups}"
        );
    }

    let cycle = server
        .patch(&format!("{DEFINITIONS}/{gold}"), json!({"expression": {"type": "PQL", "format": "pql/text", "value": format!("inSegment(\"{vip}\")")}}))
        .await;
    assert_problem(&cycle, 400, "invalid_pql_expression", &["cycle"]);
    let in_use = server.delete(&format!("{DEFINITIONS}/{gold}")).await;
    assert_problem(&in_use, 409, "segment_definition_in_use", &["Gold buyers"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn profiles_that_opted_out_of_marketing_are_kept_out_unless_the_definition_says_otherwise() {
    let server = TestServer::start();
    server.namespace("CRMID", "CROSS_DEVICE", true, &[]).await;
    let mut groups = PROFILE_GROUPS.to_vec();
    groups.push("profile-consents");
    let schema = server
        .schema("Consenting customers", "profile", &groups, &[])
        .await;
    let crm = server.dataset("CRM", &schema, &[]).await;
    let respecting = define(&server, "Gold (consent)", "loyalty.tier = \"gold\"").await;
    let ignoring = define_with(
        &server,
        json!({"name": "Gold (service)", "expression": {"type": "PQL", "format": "pql/text", "value": "loyalty.tier = \"gold\""}, "dataGovernancePolicy": {"excludeOptOut": false}}),
    )
    .await;
    jobs_settled(&server).await;
    for (n, answer) in [(1u64, "y"), (2, "n")] {
        server
            .ingest(&crm, json!({"identityMap": {"CRMID": [{"id": format!("CRM-{n}"), "primary": true}], "Email": [{"id": email(n)}]}, "loyalty": {"tier": "gold"}, "consents": {"marketing": {"any": {"val": answer}}}}))
            .await;
    }
    let consenting = memberships(&server, 1).await;
    assert_eq!(
        status_of(&consenting, &respecting).as_deref(),
        Some("realized")
    );
    assert_eq!(
        status_of(&consenting, &ignoring).as_deref(),
        Some("realized")
    );
    let opted_out = memberships(&server, 2).await;
    assert_eq!(status_of(&opted_out, &respecting), None, "{opted_out}");
    assert_eq!(
        status_of(&opted_out, &ignoring).as_deref(),
        Some("realized")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explanation_names_the_events_that_matched() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let big = define(
        &server,
        "Spent over 100 this month",
        "loyalty.tier = \"gold\" and xEvent[eventType = \"commerce.purchases\" and timestamp occurs <= 30 days before now].sum(commerce.order.priceTotal) > 100",
    )
    .await;
    jobs_settled(&server).await;
    customer(&server, &company, 1, "gold").await;
    let now = now_ms();
    purchase(&server, &company, 1, "order-a", now - 86_400_000, 70.0).await;
    purchase(&server, &company, 1, "order-b", now - 2 * 86_400_000, 60.0).await;
    purchase(
        &server,
        &company,
        1,
        "order-old",
        now - 90 * 86_400_000,
        500.0,
    )
    .await;

    let reply = server
        .get(&format!(
            "{DEFINITIONS}/{big}/explain?entityId={}&entityIdNS=Email",
            encode(&email(1))
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    // Without new data the membership ends when order-b leaves the 30-day window.
    let next_change = body["nextChangeAt"]
        .as_str()
        .and_then(engine::time::parse_rfc3339_ms)
        .expect("nextChangeAt");
    let order_b_leaves = now - 2 * 86_400_000 + 30 * 86_400_000;
    assert!(
        (order_b_leaves..=order_b_leaves + 1_000).contains(&next_change),
        "next change {next_change}, order-b leaves at {order_b_leaves}"
    );
    insta::assert_json_snapshot!("explanation", body, {
        ".segmentId" => "[segment id]",
        ".evaluatedAt" => "[now]",
        ".nextChangeAt" => "[now + 28 days]",
        ".membership.lastQualificationTime" => "[ingestion time]",
        ".explanation.evaluatedAt" => "[now]",
        ".explanation.nextChange" => "[now + 28 days]",
        ".**.timestamp" => "[event time]",
    });
    assert_eq!(body["qualifies"], true, "{body}");
    assert_eq!(body["membership"]["status"], "realized");
    let text = body["explanation"].to_string();
    assert!(
        text.contains("order-a") && text.contains("order-b"),
        "the matching events are named: {text}"
    );
    assert!(
        !text.contains("order-old"),
        "the event outside the window is not: {text}"
    );
    assert!(text.contains("gold"), "the compared value is shown: {text}");

    let unknown = server
        .get(&format!(
            "{DEFINITIONS}/{big}/explain?entityId=nobody%40example.com&entityIdNS=Email"
        ))
        .await;
    assert_problem(&unknown, 404, "profile_not_found", &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_and_estimate_count_and_list_the_matching_profiles() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    load_customers(&server, &company).await;
    let reply = server
        .post("/data/core/ups/preview", json!({"predicateExpression": "loyalty.tier = \"gold\"", "predicateType": "pql/text", "predicateModel": "_xdm.context.profile", "graphType": "pdg"}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.body["previewId"]
        .as_str()
        .expect("previewId")
        .to_owned();
    let ready = eventually(30, || async {
        server
            .get(&format!("/data/core/ups/preview/{id}"))
            .await
            .body["state"]
            == "RESULT_READY"
    })
    .await;
    assert!(ready);
    let preview = server.get(&format!("/data/core/ups/preview/{id}")).await;
    // Customers 3, 6 and 9 are gold.
    assert_eq!(
        preview.body["results"].as_array().map(Vec::len),
        Some(3),
        "{}",
        preview.body
    );
    let estimate = server.get(&format!("/data/core/ups/estimate/{id}")).await;
    assert_eq!(estimate.status, StatusCode::OK);
    assert_eq!(estimate.body["estimatedSize"], 3);
    assert_eq!(estimate.body["profilesReadSoFar"], 10);
    assert_eq!(estimate.body["state"], "RESULT_READY");

    let invalid = server
        .post(
            "/data/core/ups/preview",
            json!({"predicateExpression": "loyalty.nope = 1"}),
        )
        .await;
    assert_problem(
        &invalid,
        400,
        "invalid_pql_expression",
        &["/predicateExpression", "loyalty.nope"],
    );
    assert_eq!(
        server
            .delete(&format!("/data/core/ups/preview/{id}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_problem(
        &server.get(&format!("/data/core/ups/preview/{id}")).await,
        404,
        "preview_not_found",
        &[],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn segment_jobs_refuse_unknown_segments_and_report_their_metrics() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    load_customers(&server, &company).await;
    let gold = define(&server, "Gold", "loyalty.tier = \"gold\"").await;
    let unknown = server
        .post(
            "/data/core/ups/segment/jobs",
            json!([{"segmentId": gold}, {"segmentId": "missing"}]),
        )
        .await;
    assert_problem(
        &unknown,
        404,
        "segment_definition_not_found",
        &["/1/segmentId", "missing"],
    );
    let not_a_list = server
        .post("/data/core/ups/segment/jobs", json!({"segmentId": gold}))
        .await;
    assert_problem(&not_a_list, 400, "invalid_parameter", &["array"]);

    // The definition's own job evaluated everyone when it was created.
    jobs_settled(&server).await;
    let list = server
        .get("/data/core/ups/segment/jobs?status=SUCCEEDED")
        .await;
    let first = &list.body["children"][0];
    assert_eq!(first["metrics"]["totalProfiles"], 10, "{first}");
    assert_eq!(first["metrics"]["segmentedProfileCounter"][&gold], 3);
    assert_eq!(
        first["metrics"]["segmentedProfileByStatusCounter"][&gold]["realized"],
        3
    );
    assert_problem(
        &server
            .get("/data/core/ups/segment/jobs?status=SLEEPING")
            .await,
        400,
        "invalid_parameter",
        &["status"],
    );
    assert_problem(
        &server.get("/data/core/ups/segment/jobs/none").await,
        404,
        "segment_job_not_found",
        &[],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_definition_removes_its_memberships_from_profiles() {
    let server = TestServer::start();
    let company = server.company(&[]).await;
    let gold = define(&server, "Gold", "loyalty.tier = \"gold\"").await;
    let members = define(&server, "Members", "loyalty.tier.isNotNull()").await;
    jobs_settled(&server).await;
    customer(&server, &company, 1, "gold").await;
    let ups = memberships(&server, 1).await;
    assert_eq!(status_of(&ups, &gold).as_deref(), Some("realized"), "{ups}");
    assert_eq!(
        status_of(&ups, &members).as_deref(),
        Some("realized"),
        "{ups}"
    );

    assert_eq!(
        server.delete(&format!("{DEFINITIONS}/{gold}")).await.status,
        StatusCode::OK
    );
    jobs_settled(&server).await;
    let ups = memberships(&server, 1).await;
    assert_eq!(
        status_of(&ups, &gold),
        None,
        "the deleted definition's membership is gone: {ups}"
    );
    assert_eq!(
        status_of(&ups, &members).as_deref(),
        Some("realized"),
        "{ups}"
    );

    // The last definition, too.
    assert_eq!(
        server
            .delete(&format!("{DEFINITIONS}/{members}"))
            .await
            .status,
        StatusCode::OK
    );
    jobs_settled(&server).await;
    let ups = memberships(&server, 1).await;
    assert!(ups.as_object().is_none_or(|o| o.is_empty()), "{ups}");
}
