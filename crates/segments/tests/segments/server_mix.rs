//! The mix the server benchmark evaluates, shared by the tests and `examples/bench.rs`: the 12
//! demo segments (`rapport::demo::segments::DEMO_SEGMENTS`) and generated definitions 12..50
//! (`rapport-bench`'s `generated(i)`), compiled against the benchmark's schemas, over profiles
//! and events shaped like `rapport-bench`'s `crm_entity` / `event_entity`. A test checks that
//! the texts here still appear in those files.

#![allow(dead_code)]

use segments::{Definition, EventRef, SchemaContext};
use serde_json::Value;
use xdm::{Class, ObjectField};

/// The demo segments' PQL, in order; `{VIP}` and `{At risk}` stand for the ids of the first and
/// third (see [`demo_id`]).
pub const DEMO: [&str; 12] = [
    r#"loyalty.tier in ["gold", "platinum"] and xEvent[eventType = "commerce.purchases" and timestamp occurs <= 365 days before now].sum(commerce.order.priceTotal) > 1000"#,
    r#"xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal) > 2000"#,
    r#"xEvent[eventType = "commerce.purchases"].count() > 0 and not (exists E from xEvent where (E.eventType = "commerce.purchases" and E.timestamp occurs <= 90 days before now))"#,
    r#"inSegment("{VIP}") and inSegment("{At risk}")"#,
    r#"xEvent[eventType = "commerce.productListAdds" and timestamp occurs today].count() > 0 and xEvent[eventType = "commerce.purchases" and timestamp occurs today].count() = 0"#,
    r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productListAdds") WHEN(<= 7 days before now)]) and xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now].count() = 0"#,
    r#"xEvent[eventType = "directMarketing.emailOpened"].count() > 0 and xEvent[eventType = "directMarketing.emailOpened" and timestamp occurs <= 60 days before now].count() = 0"#,
    r#"xEvent[eventType in ["support.call", "support.chat"] and timestamp occurs <= 90 days before now].count() >= 3"#,
    r#"xEvent[eventType in ["support.call", "support.chat"] and support.satisfaction <= 2 and timestamp occurs <= 30 days before now].count() > 0"#,
    r#"loyalty.tier.isNotNull() and homeAddress.countryCode = "CA""#,
    r#"person.birthDate.getMonth() = currentMonth()"#,
    r#"xEvent[eventType = "directMarketing.emailUnsubscribed"].count() > 0"#,
];

/// The id the mix gives the `i`th definition.
pub fn demo_id(i: usize) -> String {
    format!("segment-{i}")
}

/// `rapport-bench`'s `generated(i)`.
pub fn generated(i: usize) -> String {
    let tiers = ["bronze", "silver", "gold"];
    match i % 10 {
        0 => format!(
            r#"loyalty.tier = "{}" and loyalty.points > {}"#,
            tiers[i % 3],
            i * 37 % 5000
        ),
        1 => format!(
            r#"xEvent[eventType = "commerce.purchases"].count() >= {}"#,
            1 + i % 4
        ),
        2 => format!(
            r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= {} days before now].sum(commerce.order.priceTotal) > {}"#,
            30 + i,
            50 + i
        ),
        3 => format!(
            r#"xEvent[productListItems[SKU = "SKU-{}"]].count() > 0"#,
            i % 40
        ),
        4 => format!(
            r#"xEvent[eventType = "web.webpagedetails.pageViews" and web.webPageDetails.name = "page {}"].count() > 0"#,
            i % 30
        ),
        5 => format!(
            r#"homeAddress.city = "Seattle" and loyalty.points < {}"#,
            i * 50
        ),
        6 => format!("person.birthDate.getMonth() = {}", 1 + i % 12),
        7 => format!(
            r#"exists E from xEvent where (E.eventType = "commerce.purchases" and E.commerce.order.priceTotal > {})"#,
            60 + i % 20
        ),
        8 => format!(
            "not (xEvent[timestamp occurs <= {} days before now].count() > 0)",
            10 + i
        ),
        _ => format!(
            r#"xEvent[eventType = "commerce.purchases"].max(commerce.order.priceTotal) > {} and loyalty.tier != "bronze""#,
            55 + i % 10
        ),
    }
}

/// The fifty texts: the demo's (placeholders replaced by ids), then generated ones.
pub fn texts() -> Vec<String> {
    let mut out: Vec<String> = DEMO
        .iter()
        .map(|t| {
            t.replace("{VIP}", &demo_id(0))
                .replace("{At risk}", &demo_id(2))
        })
        .collect();
    out.extend((DEMO.len()..50).map(generated));
    out
}

/// The benchmark's profile and event union schemas.
pub fn schemas() -> (ObjectField, ObjectField) {
    let group = |id: &str| xdm::standard_field_group(id).unwrap();
    let profile = xdm::compose(
        Class::Profile,
        &[
            group("profile-person-details"),
            group("profile-personal-details"),
            group("profile-loyalty-details"),
            group("profile-consents"),
        ],
    )
    .unwrap();
    let event = xdm::compose(
        Class::ExperienceEvent,
        &[
            group("experienceevent-commerce"),
            group("experienceevent-product-list-items"),
            group("experienceevent-web"),
            group("experienceevent-marketing"),
            group("experienceevent-support-interactions"),
        ],
    )
    .unwrap();
    (profile, event)
}

/// Compiles the fifty definitions, in order.
pub fn definitions(profile: &ObjectField, event: &ObjectField) -> Vec<Definition> {
    let ctx = SchemaContext {
        profile,
        event,
        segment_exists: &|_| true,
    };
    texts()
        .iter()
        .map(|d| segments::compile(d, &ctx).unwrap_or_else(|e| panic!("{d}: {e}")))
        .collect()
}

/// 2026-11-28T12:00:00Z: after every event [`event_entity`] makes.
pub const NOW_MS: i64 = 1_795_867_200_000;

fn email(profile: usize) -> String {
    format!("customer{profile}@example.com")
}

/// `rapport-bench`'s `crm_entity`, as JSON.
pub fn crm_entity(profile: usize) -> Value {
    let tier = ["bronze", "silver", "gold"][profile % 3];
    let email = email(profile);
    let text = format!(
        r#"{{"identityMap":{{"CRMID":[{{"id":"crm-{profile}","primary":true}}],"Email":[{{"id":"{email}"}}]}},"person":{{"name":{{"firstName":"Customer","lastName":"Number {profile}"}},"birthDate":"1984-05-17"}},"personalEmail":{{"address":"{email}"}},"homeAddress":{{"city":"Seattle","stateProvince":"WA","countryCode":"US","postalCode":"98101"}},"mobilePhone":{{"number":"+1206{profile:07}"}},"loyalty":{{"tier":"{tier}","points":{points}.0}},"consents":{{"marketing":{{"email":{{"val":"y"}},"call":{{"val":"n"}}}}}}}}"#,
        points = profile % 5000
    );
    serde_json::from_str(&text).unwrap()
}

/// `rapport-bench`'s `event_entity`, as JSON.
pub fn event_entity(profile: usize, n: usize) -> Value {
    let timestamp = format!(
        "2026-{:02}-{:02}T{:02}:{:02}:00Z",
        1 + n % 10,
        1 + n % 28,
        n % 24,
        (profile + n) % 60
    );
    let ecid = format!("{:038}", 7_000_000_000_u64 + profile as u64);
    let identities = format!(
        r#"{{"ECID":[{{"id":"{ecid}"}}],"Email":[{{"id":"{}"}}]}}"#,
        email(profile)
    );
    let text = if n.is_multiple_of(4) {
        let price = 49.5 + n as f64;
        format!(
            r#"{{"_id":"e-{profile}-{n}","timestamp":"{timestamp}","eventType":"commerce.purchases","identityMap":{identities},"commerce":{{"order":{{"purchaseID":"o-{profile}-{n}","priceTotal":{price},"currencyCode":"USD"}},"purchases":{{"value":1.0}}}},"productListItems":[{{"SKU":"SKU-{sku}","name":"Trail shoe","quantity":1,"priceTotal":{price}}}]}}"#,
            sku = n % 40
        )
    } else {
        format!(
            r#"{{"_id":"e-{profile}-{n}","timestamp":"{timestamp}","eventType":"web.webpagedetails.pageViews","identityMap":{identities},"web":{{"webPageDetails":{{"name":"page {page}","URL":"https://shop.example.com/p","pageViews":{{"value":1.0}}}}}}}}"#,
            page = n % 30
        )
    };
    serde_json::from_str(&text).unwrap()
}

/// A profile and its events, owned.
pub struct Customer {
    pub profile: Value,
    /// (id, timestamp, event), in timestamp order as the store keeps them.
    pub events: Vec<(String, i64, Value)>,
}

impl Customer {
    /// Profile `p` with events `0..events`.
    pub fn new(p: usize, events: usize) -> Customer {
        let mut events: Vec<(String, i64, Value)> = (0..events)
            .map(|n| {
                let v = event_entity(p, n);
                let id = v["_id"].as_str().unwrap().to_owned();
                let ts = time::OffsetDateTime::parse(
                    v["timestamp"].as_str().unwrap(),
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap();
                let ts = (ts.unix_timestamp_nanos() / 1_000_000) as i64;
                (id, ts, v)
            })
            .collect();
        events.sort_by_key(|(_, ts, _)| *ts);
        Customer {
            profile: crm_entity(p),
            events,
        }
    }

    pub fn refs(&self) -> Vec<EventRef<'_>> {
        self.events
            .iter()
            .map(|(id, ts, v)| EventRef {
                id,
                timestamp_ms: *ts,
                value: v,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The benchmark sources this file mirrors.
    const DEMO_SOURCE: &str = include_str!("../../../rapport/src/demo/segments.rs");
    const BENCH_SOURCE: &str = include_str!("../../../rapport-bench/src/segments.rs");
    const THIS: &str = include_str!("server_mix.rs");

    /// The body of `fn generated` in a source, whitespace collapsed.
    fn generated_body(source: &str) -> String {
        let start = source
            .find("fn generated(i: usize) -> String {")
            .expect("fn generated");
        let end = start + source[start..].find("\n}\n").expect("end of fn generated");
        source[start..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_mix_is_the_server_benchmarks() {
        let mut at = 0;
        for text in DEMO {
            let quoted = format!("r#\"{text}\"#");
            let found = DEMO_SOURCE[at..]
                .find(&quoted)
                .unwrap_or_else(|| panic!("not in the demo segments, in this order: {text}"));
            at += found + quoted.len();
        }
        assert_eq!(
            DEMO_SOURCE.matches("r#\"").count(),
            DEMO.len(),
            "the demo has other segments"
        );
        assert_eq!(generated_body(BENCH_SOURCE), generated_body(THIS));
    }

    #[test]
    fn the_mix_compiles_and_some_profiles_qualify() {
        let (profile, event) = schemas();
        let defs = definitions(&profile, &event);
        assert_eq!(defs.len(), 50);
        let in_segment = |_: &str| false;
        let qualified: usize = (0..30)
            .map(|p| {
                let c = Customer::new(p, 10);
                let refs = c.refs();
                let subject = segments::Subject {
                    profile: &c.profile,
                    events: &refs,
                    in_segment: &in_segment,
                };
                defs.iter()
                    .filter(|d| d.evaluate(&subject, NOW_MS).qualified)
                    .count()
            })
            .sum();
        assert!(qualified > 30 && qualified < 30 * 40, "{qualified}");
    }
}
