//! Explanations: the tree, compared values, matched events (capped), JSON shape.

use serde_json::{json, Value};

use super::fixtures::{abandon, def, event, ms, now, vip, Fixture};

#[test]
fn a_vip_is_explained_clause_by_clause() {
    let pql = r#"homeAddress.countryCode = "US" and xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now].count() >= 3"#;
    let d = def(pql);
    let e = vip().with(|s| d.explain(s, now()));
    assert!(e.qualified);
    assert_eq!(e.evaluated_at, "2024-03-15T12:00:00Z");
    // p3 leaves the window one millisecond after 7 days.
    assert_eq!(e.next_change.as_deref(), Some("2024-03-15T12:00:00.001Z"));
    let root = &e.root;
    assert_eq!(root.text, pql);
    assert_eq!(root.value, json!(true));
    assert_eq!(root.children.len(), 2);

    let country = &root.children[0];
    assert_eq!(country.text, r#"homeAddress.countryCode = "US""#);
    let compared = country.compared.as_ref().unwrap();
    assert_eq!(
        (&compared.left, &compared.right),
        (&json!("US"), &json!("US"))
    );

    let count = &root.children[1];
    let compared = count.compared.as_ref().unwrap();
    assert_eq!((&compared.left, &compared.right), (&json!(3), &json!(3)));
    let filter = &count.children[0];
    assert_eq!(
        filter.text,
        r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now].count()"#
    );
    assert_eq!(filter.matched_event_count, Some(3));
    let mut ids: Vec<&str> = filter
        .matched_events
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, ["p1", "p2", "p3"]);
    let p3 = filter
        .matched_events
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.id == "p3")
        .unwrap();
    assert_eq!(p3.timestamp, "2024-03-08T12:00:00Z");
}

#[test]
fn a_non_member_shows_the_failing_clause() {
    let d = def(r#"homeAddress.countryCode in ["US", "CA"] and not (person.gender = "female")"#);
    let e = vip().with(|s| d.explain(s, now()));
    assert!(!e.qualified);
    assert_eq!(e.next_change, None);
    let not = &e.root.children[1];
    assert_eq!(not.value, json!(false));
    let inner = &not.children[0];
    assert_eq!(inner.value, json!(true));
    let c = inner.compared.as_ref().unwrap();
    assert_eq!((&c.left, &c.right), (&json!("female"), &json!("female")));
    let list = e.root.children[0].compared.as_ref().unwrap();
    assert_eq!(list.right, json!(["US", "CA"]));
}

#[test]
fn matched_events_are_capped() {
    let events = (0..30)
        .map(|i| {
            event(
                &format!("e{i:02}"),
                &format!("2024-03-{:02}T10:00:00Z", 1 + i % 14),
                "commerce.purchases",
                json!({}),
            )
        })
        .collect();
    let f = Fixture::new(json!({}), events);
    let d = def(r#"xEvent[eventType = "commerce.purchases"]"#);
    let e = f.with(|s| d.explain(s, now()));
    assert_eq!(e.root.matched_event_count, Some(30));
    assert_eq!(
        e.root.matched_events.as_ref().unwrap().len(),
        segments::MAX_MATCHED_EVENTS
    );
}

#[test]
fn quantifiers_chains_and_windows_name_their_events() {
    let d = def(r#"exists E from xEvent where (E.commerce.order.priceTotal > 200)"#);
    let e = vip().with(|s| d.explain(s, now()));
    let mut ids: Vec<String> = e
        .root
        .matched_events
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["p2", "p4"]);

    let d = def(
        r#"chain(xEvent, timestamp, [View: WHAT(eventType = "commerce.productViews"), Add: WHAT(eventType = "commerce.productListAdds")])"#,
    );
    let e = abandon().with(|s| d.explain(s, now()));
    let steps: Vec<(String, Option<String>)> = e
        .root
        .matched_events
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m.step))
        .collect();
    assert_eq!(
        steps,
        [
            ("a2".to_string(), Some("View".to_string())),
            ("a1".to_string(), Some("Add".to_string()))
        ]
    );

    let d = def("person.birthDate occurs >= 18 years before now");
    let e = abandon().with(|s| d.explain(s, ms("2024-03-15T12:00:00Z")));
    let c = e.root.compared.unwrap();
    assert_eq!(c.left, json!("2000-02-29T00:00:00Z"));
    assert_eq!(
        c.right,
        json!({"to": "2006-03-15T12:00:00Z", "toInclusive": true})
    );
}

#[test]
fn explanations_serialize_in_camel_case() {
    let d =
        def(r#"xEvent[eventType = "commerce.purchases"].count() > 4 and inSegment("seg-gold")"#);
    let e = vip().with(|s| d.explain(s, now()));
    let v: Value = serde_json::to_value(&e).unwrap();
    assert_eq!(v["qualified"], json!(true));
    assert_eq!(v["evaluatedAt"], json!("2024-03-15T12:00:00Z"));
    assert!(v.get("nextChange").is_none());
    let count = &v["root"]["children"][0]["children"][0];
    assert_eq!(count["matchedEventCount"], json!(5));
    assert!(count["matchedEvents"][0]["timestamp"].is_string());
    assert_eq!(
        v["root"]["children"][1]["text"],
        json!(r#"inSegment("seg-gold")"#)
    );
    assert_eq!(v["root"]["children"][1]["value"], json!(true));
}
