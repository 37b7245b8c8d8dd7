//! Evaluation with shared work (`SharedWork`, `evaluate_all`) gives exactly what `evaluate`
//! gives: over the whole table on every fixture (and on events whose `eventType` is missing,
//! not a string, or one of many), with all the definitions sharing one `SharedWork`; over the
//! server benchmark's mix; and when the shared work does not belong to the subject.

use segments::{Definition, EventRef, Outcome, SharedWork, Subject};
use serde_json::{json, Value};

use super::fixtures::{self, compile, event, fixture, now, Fixture, DAY, HOUR};
use super::server_mix::{self, Customer};
use super::table::{Expect, AT, TABLE};

/// Events whose type is an array, a number, an object, null or missing, among ordinary ones.
fn odd_types() -> Fixture {
    let base = fixture("vip");
    let mut events: Vec<Value> = base.events.iter().map(|(_, _, v)| v.clone()).collect();
    let odd = |id: &str, ts: &str, ty: Option<Value>| {
        let mut e = event(
            id,
            ts,
            "x",
            json!({"commerce": {"order": {"priceTotal": 300.0}},
                   "productListItems": [{"SKU": "PS", "priceTotal": 300.0}]}),
        );
        match ty {
            Some(t) => e["eventType"] = t,
            None => {
                e.as_object_mut().unwrap().remove("eventType");
            }
        }
        e
    };
    events.push(odd(
        "o1",
        "2024-03-14T10:00:00Z",
        Some(json!([
            "commerce.purchases",
            "web.webpagedetails.pageViews"
        ])),
    ));
    events.push(odd("o2", "2024-03-13T10:00:00Z", Some(json!(5))));
    events.push(odd("o3", "2024-03-12T10:00:00Z", None));
    events.push(odd("o4", "2024-03-11T10:00:00Z", Some(json!({"a": 1}))));
    events.push(odd("o5", "2024-03-10T11:00:00Z", Some(Value::Null)));
    events.push(odd(
        "o6",
        "2024-03-09T11:00:00Z",
        Some(json!("commerce.purchases")),
    ));
    let mut f = Fixture::new(base.profile.clone(), events);
    f.segments = base.segments.clone();
    f
}

/// More distinct event types than the shared work numbers.
fn many_types() -> Fixture {
    let base = fixture("vip");
    let events: Vec<Value> = (0..150)
        .map(|i| {
            let ty = if i % 3 == 0 {
                "commerce.purchases".to_string()
            } else {
                format!("type.{i}")
            };
            event(
                &format!("m{i}"),
                &format!("2024-03-{:02}T10:00:00Z", 1 + i % 28),
                &ty,
                json!({"commerce": {"order": {"priceTotal": 10.0 * f64::from(i)}}}),
            )
        })
        .collect();
    let mut f = Fixture::new(base.profile.clone(), events);
    f.segments = base.segments.clone();
    f
}

/// Conditions on the event type in the shapes evaluation decides first (`=`, `in`,
/// `equals`, either side, first or not in an `and`, in filters, `select`, `exists`), and
/// shapes it must not (`forall`, `or`, negations, case-insensitive tests).
const TYPE_TESTS: &[&str] = &[
    r#"xEvent[timestamp occurs <= 7 days before now and eventType = "commerce.purchases"].count() > 0"#,
    r#"xEvent[timestamp occurs <= 2 days before now and eventType in ["commerce.purchases", "web.webpagedetails.pageViews"]].count() >= 2"#,
    r#"xEvent[eventType.equals("commerce.purchases") and timestamp occurs <= 30 days before now]"#,
    r#"xEvent[eventType.equals("COMMERCE.purchases", false)].count() > 0"#,
    r#"xEvent["commerce.purchases" = eventType].sum(commerce.order.priceTotal) > 100"#,
    r#"3 > xEvent[eventType = "commerce.purchases"].count()"#,
    r#"xEvent[eventType = "commerce.purchases" or eventType = "x"].count() > 0"#,
    r#"xEvent[eventType in []].count() = 0"#,
    r#"xEvent[eventType in ["commerce.purchases", 5]].count() > 0"#,
    r#"select X from xEvent where (X.eventType = "commerce.purchases" and X.timestamp occurs <= 5 days before now)"#,
    r#"xEvent.filter((X) => X.eventType = "commerce.purchases").count() > 1"#,
    r#"forall E from xEvent where (E.eventType = "commerce.purchases")"#,
    r#"forall E from xEvent where (E.eventType = "commerce.purchases" and E.timestamp occurs <= 10 days before now)"#,
    r#"exists A from xEvent where (A.timestamp occurs <= 3 days before now and A.eventType = "commerce.purchases"), B from xEvent where (B.eventType = "web.webpagedetails.pageViews" and B.timestamp < A.timestamp)"#,
    r#"xEvent[eventType = "commerce.purchases" and productListItems[^.eventType = "commerce.purchases" and SKU = "PS"]].count() > 0"#,
    r#"xEvent[eventType = "commerce.purchases"].head().commerce.order.priceTotal > 10"#,
    r#"xEvent[eventType != "commerce.purchases"].count() > 2"#,
    r#"xEvent[not (eventType = "commerce.purchases")].count() > 2"#,
    r#"xEvent[eventType like "commerce%"].count() > 2"#,
    r#"xEvent[eventType = "type.149" or eventType = "type.3"].count() > 0"#,
    r#"xEvent[eventType = "type.149"].count() > 0"#,
    r#"xEvent.eventType.count() > 3"#,
    r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.purchases"), B: WHAT(eventType = "web.webpagedetails.pageViews") WHEN(<= 30 days before now)])"#,
];

/// Instants around the fixtures' evaluation time.
fn instants() -> Vec<i64> {
    [
        -400 * DAY,
        -30 * DAY,
        -DAY,
        -HOUR,
        0,
        HOUR,
        DAY,
        7 * DAY,
        400 * DAY,
    ]
    .iter()
    .map(|d| now() + d)
    .collect()
}

/// Evaluates every definition on `subject` plainly and with one `SharedWork` (with and
/// without the profile) shared by all of them; returns the mismatches.
fn compare_all(label: &str, defs: &[Definition], subject: &Subject, at: i64) -> Vec<String> {
    let plain: Vec<Outcome> = defs.iter().map(|d| d.evaluate(subject, at)).collect();
    let events_only = SharedWork::new(subject.events);
    let with_profile = SharedWork::with_profile(subject.profile, subject.events);
    let mut failures = Vec::new();
    for (d, want) in defs.iter().zip(&plain) {
        for shared in [&events_only, &with_profile] {
            let got = d.evaluate_shared(subject, shared, at);
            if got != *want {
                failures.push(format!(
                    "{label} at {at}: {}: shared {got:?}, plain {want:?}",
                    d.pql()
                ));
            }
        }
    }
    let all = segments::evaluate_all(defs, subject, at);
    if all != plain {
        failures.push(format!("{label} at {at}: evaluate_all differs"));
    }
    failures
}

#[test]
fn shared_evaluation_equals_evaluate_over_the_table() {
    let mut texts: Vec<&str> = TABLE
        .iter()
        .filter(|(_, _, e)| !matches!(e, Expect::V(_)))
        .map(|(_, pql, _)| *pql)
        .collect();
    texts.extend(
        AT.iter()
            .filter(|(_, _, _, e)| !matches!(e, Expect::V(_)))
            .map(|(_, _, pql, _)| *pql),
    );
    texts.extend(TYPE_TESTS);
    let defs: Vec<Definition> = texts
        .iter()
        .map(|t| compile(t).unwrap_or_else(|e| panic!("{t}: {e}")))
        .collect();
    let mut customers: Vec<(&str, Fixture)> = ["vip", "lapsed", "abandon", "optout", "empty"]
        .iter()
        .map(|n| (*n, fixture(n)))
        .collect();
    customers.push(("odd types", odd_types()));
    customers.push(("many types", many_types()));
    let mut failures = Vec::new();
    for (name, f) in &customers {
        for at in instants() {
            failures.extend(f.with(|s| compare_all(name, &defs, s, at)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn shared_evaluation_equals_evaluate_over_the_server_mix() {
    let (profile_schema, event_schema) = server_mix::schemas();
    let defs = server_mix::definitions(&profile_schema, &event_schema);
    let mut failures = Vec::new();
    for (p, events) in [(0, 0), (1, 3), (2, 10), (3, 10), (4, 37), (5, 100)] {
        let c = Customer::new(p, events);
        let refs = c.refs();
        let in_segment = |id: &str| id == server_mix::demo_id(0);
        let subject = Subject {
            profile: &c.profile,
            events: &refs,
            in_segment: &in_segment,
        };
        for k in 0..12 {
            let at = server_mix::NOW_MS - 330 * DAY + k * 29 * DAY + k * 3_600_001;
            failures.extend(compare_all(&format!("customer {p}"), &defs, &subject, at));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn refs(f: &Fixture) -> Vec<EventRef<'_>> {
    f.events
        .iter()
        .map(|(id, ts, v)| EventRef {
            id,
            timestamp_ms: *ts,
            value: v,
        })
        .collect()
}

#[test]
fn shared_work_of_another_subject_is_not_used() {
    let defs: Vec<Definition> = [
        r#"xEvent[eventType = "commerce.purchases"].count() > 0"#,
        r#"xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal) > 100"#,
        r#"xEvent[eventType = "support.call"].count() > 0"#,
        r#"homeAddress.countryCode = "US""#,
    ]
    .iter()
    .map(|t| compile(t).unwrap())
    .collect();
    let (vip, lapsed) = (fixture("vip"), fixture("lapsed"));
    let (vip_events, lapsed_events) = (refs(&vip), refs(&lapsed));
    // The same number of events, other values: the shared work must be ignored.
    let n = vip_events.len().min(lapsed_events.len());
    assert!(n > 0);
    let (a, b) = (&vip_events[..n], &lapsed_events[..n]);
    let in_segment = |_: &str| false;
    let subject = Subject {
        profile: &vip.profile,
        events: a,
        in_segment: &in_segment,
    };
    let other_events = SharedWork::with_profile(&vip.profile, b);
    let other_profile = SharedWork::with_profile(&lapsed.profile, a);
    for d in &defs {
        let want = d.evaluate(&subject, now());
        for shared in [&other_events, &other_profile] {
            assert_eq!(
                d.evaluate_shared(&subject, shared, now()),
                want,
                "{}",
                d.pql()
            );
        }
    }
}

#[test]
fn shared_work_is_reused_across_instants() {
    // One SharedWork for several evaluation times (it holds nothing that depends on time).
    let f = fixtures::vip();
    let defs: Vec<Definition> = TYPE_TESTS.iter().map(|t| compile(t).unwrap()).collect();
    f.with(|s| {
        let shared = SharedWork::with_profile(s.profile, s.events);
        for at in instants() {
            for d in &defs {
                assert_eq!(
                    d.evaluate_shared(s, &shared, at),
                    d.evaluate(s, at),
                    "{}",
                    d.pql()
                );
            }
        }
    });
}
