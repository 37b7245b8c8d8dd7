//! `next_change_ms`: windows close and open exactly at the reported instant, never later; a
//! property test checks that the result is constant until then.

use proptest::prelude::*;
use serde_json::json;

use super::fixtures::{abandon, def, event, lapsed, ms, vip, Fixture, DAY, HOUR};

fn one_event(ts: &str, event_type: &str) -> Fixture {
    Fixture::new(json!({}), vec![event("e1", ts, event_type, json!({}))])
}

/// Evaluates at `now`, checks the result holds until just before the reported instant and
/// flips exactly there; returns the instant.
fn flips_at(f: &Fixture, pql: &str, now: i64) -> i64 {
    let d = def(pql);
    let o = f.eval(&d, now);
    let next = o
        .next_change_ms
        .unwrap_or_else(|| panic!("{pql}: no next change"));
    assert!(next > now, "{pql}");
    assert_eq!(
        f.eval(&d, next - 1).qualified,
        o.qualified,
        "{pql} just before"
    );
    assert_ne!(
        f.eval(&d, next).qualified,
        o.qualified,
        "{pql} at the change"
    );
    next
}

#[test]
fn a_purchase_leaves_the_last_7_days_one_millisecond_after_7_days() {
    let t = ms("2024-03-10T09:00:00Z");
    let f = one_event("2024-03-10T09:00:00Z", "commerce.purchases");
    let pql = "xEvent[timestamp occurs <= 7 days before now].count() > 0";
    assert_eq!(flips_at(&f, pql, t + DAY), t + 7 * DAY + 1);
    let pql = "xEvent[timestamp occurs < 7 days before now].count() > 0";
    assert_eq!(flips_at(&f, pql, t + DAY), t + 7 * DAY);
}

#[test]
fn an_old_enough_event_qualifies_exactly_when_it_is_30_days_old() {
    let t = ms("2024-03-10T09:00:00Z");
    let f = one_event("2024-03-10T09:00:00Z", "commerce.purchases");
    let pql = "xEvent[timestamp occurs >= 30 days before now]";
    assert_eq!(flips_at(&f, pql, t + DAY), t + 30 * DAY);
}

#[test]
fn a_future_event_enters_the_window_at_its_timestamp() {
    let t = ms("2024-03-15T13:00:00Z");
    let f = one_event("2024-03-15T13:00:00Z", "commerce.purchases");
    let pql = "xEvent[timestamp occurs <= 7 days before now]";
    assert_eq!(flips_at(&f, pql, t - HOUR), t);
    let pql = "xEvent[timestamp > now]";
    assert_eq!(flips_at(&f, pql, t - HOUR), t);
}

#[test]
fn calendar_periods_end_at_their_boundaries() {
    let f = one_event("2024-03-15T09:00:00Z", "commerce.purchases");
    let now = ms("2024-03-15T12:00:00Z");
    assert_eq!(
        flips_at(&f, "xEvent[timestamp occurs today]", now),
        ms("2024-03-16T00:00:00Z")
    );
    assert_eq!(
        flips_at(&f, "xEvent[timestamp occurs this month]", now),
        ms("2024-04-01T00:00:00Z")
    );
    assert_eq!(
        flips_at(&f, "xEvent[timestamp occurs this week]", now),
        ms("2024-03-18T00:00:00Z")
    );
    assert_eq!(
        flips_at(&f, "xEvent[timestamp occurs <= 1 day before today]", now),
        ms("2024-03-16T00:00:00Z")
    );
    let f = one_event("2023-12-31T23:00:00Z", "commerce.purchases");
    assert_eq!(
        flips_at(
            &f,
            "xEvent[timestamp occurs last month]",
            ms("2024-01-10T00:00:00Z")
        ),
        ms("2024-02-01T00:00:00Z")
    );
    assert_eq!(
        flips_at(
            &f,
            "xEvent[timestamp occurs yesterday]",
            ms("2024-01-01T05:00:00Z")
        ),
        ms("2024-01-02T00:00:00Z")
    );
}

#[test]
fn month_windows_follow_the_calendar() {
    let f = one_event("2024-01-31T10:00:00Z", "commerce.purchases");
    let pql = "xEvent[timestamp occurs <= 1 month before now]";
    // 2024-02-29T23:59 minus a month is 2024-01-29; 2024-03-01 minus a month is 2024-02-01.
    assert_eq!(
        flips_at(&f, pql, ms("2024-02-10T00:00:00Z")),
        ms("2024-03-01T00:00:00Z")
    );
    let f = one_event("2024-01-15T10:00:00Z", "commerce.purchases");
    assert_eq!(
        flips_at(&f, pql, ms("2024-02-10T00:00:00Z")),
        ms("2024-02-15T10:00:00.001Z")
    );
}

#[test]
fn birthdays_and_ages_change_at_midnight_or_new_year() {
    let now = ms("2024-03-15T12:00:00Z");
    let birthday = "person.birthDate.getMonth() = currentMonth() and person.birthDate.getDayOfMonth() = currentDayOfMonth()";
    assert_eq!(flips_at(&vip(), birthday, now), ms("2024-03-16T00:00:00Z"));
    // Bob's birthday is in July: nothing flips at the reported month boundary, which is fine.
    let d = def(birthday);
    let o = lapsed().eval(&d, now);
    assert!(!o.qualified);
    assert_eq!(o.next_change_ms, Some(ms("2024-04-01T00:00:00Z")));
    assert_eq!(
        flips_at(&vip(), "currentYear() - person.birthYear >= 35", now),
        ms("2025-01-01T00:00:00Z")
    );
    assert_eq!(
        flips_at(
            &abandon(),
            "person.birthDate occurs >= 18 years before now",
            ms("2018-02-20T00:00:00Z")
        ),
        ms("2018-03-01T00:00:00Z")
    );
}

#[test]
fn chain_steps_expire_with_their_when() {
    let pql = r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productListAdds") WHEN(<= 24 hours before now)])"#;
    assert_eq!(
        flips_at(&abandon(), pql, ms("2024-03-15T12:00:00Z")),
        ms("2024-03-16T09:00:00.001Z")
    );
}

#[test]
fn nothing_time_relative_means_no_next_change() {
    let now = ms("2024-03-15T12:00:00Z");
    for pql in [
        r#"homeAddress.countryCode = "US""#,
        r#"xEvent[eventType = "commerce.purchases"].count() > 2"#,
        "xEvent[timestamp occurs between date(2024, 1, 1) and date(2024, 3, 31)]",
    ] {
        assert_eq!(vip().eval(&def(pql), now).next_change_ms, None, "{pql}");
    }
    // Events too old to ever be in the window again.
    let f = one_event("2020-01-01T00:00:00Z", "commerce.purchases");
    let o = f.eval(&def("xEvent[timestamp occurs <= 7 days before now]"), now);
    assert_eq!(
        o,
        segments::Outcome {
            qualified: false,
            next_change_ms: None
        }
    );
}

/// Windowed definitions over events of type "p" and "v".
const DEFS: &[&str] = &[
    "xEvent[timestamp occurs <= 7 days before now].count() > 0",
    "xEvent[timestamp occurs < 3 days before now].count() >= 2",
    "xEvent[timestamp occurs >= 30 days before now].count() = 1",
    "xEvent[timestamp occurs = 2 days before now]",
    "xEvent[timestamp occurs != 2 days before now].count() > 1",
    "xEvent[timestamp occurs 5 hours before now]",
    "xEvent[timestamp occurs today or timestamp occurs yesterday]",
    "xEvent[timestamp occurs this week].count() > 1",
    "xEvent[timestamp occurs last month]",
    "xEvent[timestamp occurs next week]",
    "xEvent[timestamp occurs <= 1 month before now].count() > 2",
    "xEvent[timestamp occurs > 1 month before today]",
    "xEvent[timestamp occurs < 2 months after today]",
    "xEvent[timestamp occurs = 1 year before now]",
    "xEvent[timestamp > now]",
    "xEvent[timestamp <= today].count() > 3",
    r#"chain(xEvent, timestamp, [A: WHAT(eventType = "v") WHEN(<= 10 days before now), B: WHAT(eventType = "p") WHEN(< 5 days before now)])"#,
    "exists E from xEvent where (E.timestamp occurs between last week and now)",
    "forall E from xEvent where (E.timestamp occurs <= 60 days before now)",
    "not (xEvent[timestamp occurs <= 1 year before now])",
    r#"xEvent[eventType = "p" and timestamp occurs <= 36 hours after yesterday].count() > 0"#,
    r#"let N = (xEvent[timestamp occurs this month].count()) in (N > 1 and N < 4)"#,
    r#"xEvent[timestamp occurs <= 5 days before now and eventType = "p"].count() >= 2"#,
    r#"exists E from xEvent where (E.timestamp occurs < 2 days before now and E.eventType in ["v"])"#,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_result_is_constant_until_next_change(
        base in 0i64..45,
        offset in 0i64..DAY,
        events in proptest::collection::vec((-120 * DAY..40 * DAY, any::<bool>()), 0..8),
        which in 0..DEFS.len(),
        probes in proptest::collection::vec(0.0f64..1.0, 6),
    ) {
        // Around a year end, so months and years turn over.
        let now = ms("2023-12-01T00:00:00Z") + base * DAY + offset;
        let evs = events
            .iter()
            .enumerate()
            .map(|(i, (dt, p))| {
                let ts = now + dt;
                let when = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts) * 1_000_000)
                    .unwrap()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap();
                event(&format!("e{i}"), &when, if *p { "p" } else { "v" }, json!({}))
            })
            .collect();
        let f = Fixture::new(json!({}), evs);
        let d = def(DEFS[which]);
        let o = f.eval(&d, now);
        let shared = f.with(|s| d.evaluate_shared(s, &segments::SharedWork::new(s.events), now));
        prop_assert_eq!(shared, o, "{} shared", DEFS[which]);
        let horizon = o.next_change_ms.unwrap_or(now + 800 * DAY);
        prop_assert!(horizon > now);
        let mut times: Vec<i64> = probes
            .iter()
            .map(|p| now + ((horizon - now - 1) as f64 * p) as i64)
            .collect();
        times.push(horizon - 1);
        for t in times {
            prop_assert_eq!(
                f.eval(&d, t).qualified,
                o.qualified,
                "{} at {} (now {}, next {:?})",
                DEFS[which],
                t,
                now,
                o.next_change_ms
            );
        }
    }
}
