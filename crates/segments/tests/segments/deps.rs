//! Dependencies: profile fields read, events and their types, segments, time relativity.

use std::collections::BTreeSet;

use segments::Dependencies;

use super::fixtures::def;

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn deps(pql: &str) -> Dependencies {
    def(pql).dependencies().clone()
}

#[test]
fn profile_fields_and_time() {
    let d =
        deps(r#"homeAddress.countryCode = "US" and person.birthDate.getMonth() = currentMonth()"#);
    assert_eq!(
        d.profile_fields,
        set(&["homeAddress.countryCode", "person.birthDate"])
    );
    assert!(!d.reads_events);
    assert_eq!(d.event_types, None);
    assert!(d.segments.is_empty());
    assert!(d.time_relative);

    let d = deps(r#"(P) => P.loyalty.tier = "gold" and $1.person.name.isNull()"#);
    assert_eq!(d.profile_fields, set(&["loyalty.tier", "person.name"]));
    assert!(!d.time_relative);
}

#[test]
fn map_paths_stop_at_the_map() {
    let d = deps(
        r#"inSegment("seg-gold") and identityMap.get("Email").count() > 0 and segmentMembership.get("ups").get("seg-old").status = "exited""#,
    );
    assert_eq!(d.profile_fields, set(&["identityMap", "segmentMembership"]));
    assert_eq!(d.segments, set(&["seg-gold"]));
}

#[test]
fn fields_read_through_outer_levels() {
    let d = deps(r#"xEvent[productListItems[SKU = "x" or ^^.person.gender = "female"]]"#);
    assert_eq!(d.profile_fields, set(&["person.gender"]));
    assert!(d.reads_events);
    assert_eq!(d.event_types, None);
    assert!(!d.time_relative);
}

#[test]
fn event_types_when_every_use_is_filtered() {
    let d = deps(
        r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now].count() > 2"#,
    );
    assert!(d.reads_events);
    assert_eq!(d.event_types, Some(set(&["commerce.purchases"])));
    assert!(d.time_relative);

    let d = deps(
        r#"xEvent[eventType in ["a", "b"]].count() > 0 or exists E from xEvent where (E.eventType = "c")"#,
    );
    assert_eq!(d.event_types, Some(set(&["a", "b", "c"])));

    let d = deps(
        r#"chain(xEvent, timestamp, [A: WHAT(eventType = "a"), B: WHAT(eventType.equals("b") and commerce.order.priceTotal > 3)])"#,
    );
    assert_eq!(d.event_types, Some(set(&["a", "b"])));

    let d = deps(r#"select X from xEvent where X.eventType = "a" or X.eventType = "b""#);
    assert_eq!(d.event_types, Some(set(&["a", "b"])));

    let d = deps(r#"xEvent[eventType = "a"][commerce.order.priceTotal > 1].count() > 0"#);
    assert_eq!(d.event_types, Some(set(&["a"])));

    let d = deps(r#"xEvent[eventType = "a" and eventType = "b"].count() > 0"#);
    assert_eq!(d.event_types, Some(set(&[])));
}

#[test]
fn any_event_may_matter() {
    for pql in [
        "xEvent.count() > 3",
        r#"forall E from xEvent where (E.eventType = "a")"#,
        r#"xEvent[eventType = "a" or commerce.order.priceTotal > 3]"#,
        r#"xEvent[eventType.equals("a", false)]"#,
        r#"xEvent[eventType = "a"].count() > 0 and xEvent.count() < 10"#,
        r#"xEvent[eventType != "a"]"#,
        "xEvent.productListItems.SKU.count() > 1",
    ] {
        let d = deps(pql);
        assert!(d.reads_events, "{pql}");
        assert_eq!(d.event_types, None, "{pql}");
    }
}

#[test]
fn time_relativity() {
    for (pql, relative) in [
        (r#"homeAddress.countryCode = "US""#, false),
        (
            "xEvent[timestamp occurs between date(2024, 1, 1) and date(2024, 2, 1)]",
            false,
        ),
        ("xEvent[timestamp occurs this month]", true),
        ("person.birthDate < today", true),
        ("currentYear() - person.birthYear > 18", true),
        ("now.getYear() > person.birthYear", true),
        (
            r#"chain(xEvent, timestamp, [A: WHAT(true) WHEN(today)])"#,
            true,
        ),
    ] {
        assert_eq!(deps(pql).time_relative, relative, "{pql}");
    }
}

#[test]
fn event_fields_name_every_step_and_what_is_used_whole() {
    let d = deps(
        r#"xEvent[commerce.order.priceTotal > 10 and productListItems[SKU = "X"]].count() > 0"#,
    );
    let fields = d
        .event_fields
        .expect("no variable holds a structured value");
    assert_eq!(
        fields.names,
        set(&["commerce", "order", "priceTotal", "productListItems", "SKU"])
    );
    assert_eq!(fields.whole, set(&["productListItems"]));

    let whole = deps(r#"xEvent[commerce.order.keys().count() = 2].count() > 0"#);
    assert_eq!(whole.event_fields.unwrap().whole, set(&["order"]));

    // A variable bound to an item of an event's array, used as a value: whole events.
    let d =
        deps(r#"exists E from xEvent where (exists I from E.productListItems where (I != null))"#);
    assert_eq!(d.event_fields, None);
    // An event itself as a value is its id and timestamp: no need for the whole event.
    let d = deps(r#"exists E from xEvent where (E.web.webPageDetails.name = "Home")"#);
    assert_eq!(
        d.event_fields.unwrap().names,
        set(&["web", "webPageDetails", "name"])
    );
}

#[test]
fn projected_data_evaluates_like_the_whole_data() {
    let vip = super::fixtures::vip();
    for (pql, qualifies) in [
        // Keys and values of an object read it whole.
        (
            r#"xEvent[commerce.order.keys().count() = 2].count() = 5"#,
            true,
        ),
        (r#"xEvent[commerce.values().count() = 2].count() = 5"#, true),
        // Items of an array of objects compared whole.
        (
            r#"exists E from xEvent where (exists I from E.productListItems where (I != null and I.quantity = 2))"#,
            true,
        ),
        (
            r#"xEvent[productListItems[SKU = "SKU-9"]].count() = 3"#,
            true,
        ),
        (
            r#"xEvent[environment.browserDetails = null].count() = 9"#,
            false,
        ),
        (
            r#"xEvent[web.webPageDetails.name = "Home"].count() = 1"#,
            true,
        ),
    ] {
        let def = super::fixtures::def(pql);
        let whole = vip.eval(&def, super::fixtures::now());
        assert_eq!(whole.qualified, qualifies, "{pql}");
        let projected = vip.projected_for(&def).eval(&def, super::fixtures::now());
        assert_eq!(projected, whole, "{pql}");
    }
}
