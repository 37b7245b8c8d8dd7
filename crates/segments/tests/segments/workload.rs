//! A realistic workload shared by the performance test and `examples/bench.rs`: 50 definitions
//! and a profile with 100 events.

use segments::{Definition, SchemaContext};
use serde_json::{json, Value};
use xdm::{Class, ObjectField};

/// Fifty definitions of the kinds a retailer writes.
pub const DEFINITIONS: [&str; 50] = [
    r#"homeAddress.countryCode = "US""#,
    r#"homeAddress.countryCode in ["US", "CA", "MX"] and loyalty.tier = "gold""#,
    r#"consents.marketing.email.val = "y""#,
    r#"person.birthDate.getMonth() = currentMonth()"#,
    r#"currentYear() - person.birthYear >= 21"#,
    r#"personalEmail.address.endsWith("@example.com", false)"#,
    r#"person.name.lastName like "Sm%""#,
    r#"loyalty.points > 1000 and not (loyalty.status = "suspended")"#,
    r#"identityMap.get("Email").count() > 0"#,
    r#"person.birthDate occurs > 18 years before now"#,
    r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now].count() > 0"#,
    r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= 30 days before now].count() >= 3"#,
    r#"xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal) > 1000"#,
    r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= 90 days before now].sum(commerce.order.priceTotal) > 500"#,
    r#"xEvent[eventType = "commerce.productViews" and timestamp occurs today].count() >= 2"#,
    r#"xEvent[eventType = "web.webpagedetails.pageViews" and timestamp occurs <= 24 hours before now].count() > 5"#,
    r#"xEvent[timestamp occurs <= 7 days before now].count() = 0"#,
    r#"xEvent[eventType = "commerce.checkouts" and timestamp occurs this month]"#,
    r#"xEvent[eventType = "commerce.purchases" and timestamp occurs last month].count() > 1"#,
    r#"xEvent[eventType = "commerce.purchases"].average(commerce.order.priceTotal) > 80"#,
    r#"xEvent[eventType = "commerce.purchases"].max(commerce.order.priceTotal) >= 250"#,
    r#"xEvent[eventType in ["commerce.productListAdds", "commerce.checkouts"] and timestamp occurs <= 3 days before now].count() > 0"#,
    r#"xEvent[productListItems[SKU = "SKU-7"]].count() > 2"#,
    r#"xEvent[eventType = "commerce.purchases" and productListItems[priceTotal > 200]]"#,
    r#"xEvent[marketing.channel = "email" and timestamp occurs <= 14 days before now].count() >= 1"#,
    r#"xEvent[eventType = "support.call"].count() > 0"#,
    r#"xEvent[eventType = "commerce.purchases" and timestamp occurs < 60 days before now].count() = 0 and xEvent[eventType = "commerce.purchases"].count() > 0"#,
    r#"xEvent[environment.browserDetails.name.equals("chrome", false)].count() > 10"#,
    r#"xEvent[timestamp occurs this week].count() > 3"#,
    r#"xEvent[eventType = "commerce.purchases" and timestamp occurs this year].sum(commerce.order.priceTotal) > 2000"#,
    r#"exists E from xEvent where (E.eventType = "commerce.checkouts" and E.commerce.order.priceTotal > 100)"#,
    r#"forall E from xEvent where (E.timestamp occurs <= 2 years before now)"#,
    r#"select X from xEvent where X.eventType = "commerce.productListRemovals""#,
    r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productViews") WHEN(<= 24 hours before now), B: WHAT(eventType = "commerce.productListAdds") WHEN(<= 24 hours before now)])"#,
    r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productListAdds"), B: WHAT(eventType = "commerce.checkouts"), C: WHAT(eventType = "commerce.purchases") WHEN(<= 7 days before now)])"#,
    r#"xEvent[productListItems[SKU = "SKU-3" or ^^.loyalty.tier = "platinum"]].count() > 0"#,
    r#"let S = (xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal)) in (S > 100 and S < 5000)"#,
    r#"exists A from xEvent where (A.eventType = "commerce.productListAdds"), B from xEvent where (B.eventType = "commerce.purchases" and B.timestamp > A.timestamp)"#,
    r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= 30 days before now].count() > 5 and loyalty.tier = "gold""#,
    r#"homeAddress.stateProvince = "CA" and xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now]"#,
    r#"inSegment("seg-gold") and xEvent[timestamp occurs today]"#,
    r#"inSegment("seg-gold") or inSegment("seg-silver")"#,
    r#"xEvent[eventType = "commerce.productViews" and productListItems.SKU = "SKU-12"].count() >= 1"#,
    r#"xEvent[timestamp occurs between date(2024, 1, 1) and date(2024, 3, 31)].count() > 20"#,
    r#"xEvent[placeContext.geo.countryCode = "US"].count() > 50"#,
    r#"xEvent[eventType = "commerce.purchases" and commerce.order.priceTotal > 150 and timestamp occurs <= 45 days before now].count() >= 2"#,
    r#"not (xEvent[eventType = "commerce.purchases" and timestamp occurs <= 365 days before now])"#,
    r#"xEvent[web.webPageDetails.name like "%Sale%"].count() > 0"#,
    r#"xEvent.count() > 50 and person.gender = "female""#,
    r#"xEvent[support.satisfaction <= 2 and timestamp occurs <= 30 days before now].count() > 0"#,
];

/// The profile and event union schemas.
pub fn schemas() -> (ObjectField, ObjectField) {
    let group = |id: &str| xdm::standard_field_group(id).unwrap();
    let profile = xdm::compose(
        Class::Profile,
        &[
            group("profile-person-details"),
            group("profile-personal-details"),
            group("profile-consents"),
            group("profile-loyalty-details"),
            group("profile-segmentation"),
        ],
    )
    .unwrap();
    let event = xdm::compose(
        Class::ExperienceEvent,
        &[
            group("experienceevent-commerce"),
            group("experienceevent-product-list-items"),
            group("experienceevent-web"),
            group("experienceevent-environment-details"),
            group("experienceevent-marketing"),
            group("experienceevent-support-interactions"),
            group("experienceevent-place-context"),
        ],
    )
    .unwrap();
    (profile, event)
}

/// Compiles the fifty definitions.
pub fn definitions(profile: &ObjectField, event: &ObjectField) -> Vec<Definition> {
    let ctx = SchemaContext {
        profile,
        event,
        segment_exists: &|_| true,
    };
    DEFINITIONS
        .iter()
        .map(|d| segments::compile(d, &ctx).unwrap_or_else(|e| panic!("{d}: {e}")))
        .collect()
}

/// 2024-03-15T12:00:00Z.
pub const NOW_MS: i64 = 1_710_504_000_000;

/// A gold customer and 100 events over the last 120 days: (profile, [(id, timestamp, event)]).
pub fn profile_with_events() -> (Value, Vec<(String, i64, Value)>) {
    let profile = json!({
        "person": {"name": {"firstName": "Alice", "lastName": "Smith"}, "birthDate": "1990-03-15",
                   "birthYear": 1990, "gender": "female"},
        "homeAddress": {"countryCode": "US", "city": "San Francisco", "stateProvince": "CA"},
        "personalEmail": {"address": "alice@example.com"},
        "loyalty": {"tier": "gold", "points": 1200.5},
        "consents": {"marketing": {"email": {"val": "y"}}},
        "identityMap": {"Email": [{"id": "alice@example.com", "primary": true}]},
    });
    let types = [
        "commerce.purchases",
        "commerce.productViews",
        "web.webpagedetails.pageViews",
        "commerce.productListAdds",
        "commerce.checkouts",
    ];
    let events = (0..100u32)
        .map(|i| {
            let ts = NOW_MS - i64::from(i) * 29 * 3_600_000 - 1_000;
            let event_type = types[(i % 5) as usize];
            let sku = format!("SKU-{}", i % 13);
            let value = json!({
                "_id": format!("e{i}"),
                "timestamp": "",
                "eventType": event_type,
                "commerce": {"order": {"priceTotal": 20.0 + f64::from(i % 7) * 45.5, "currencyCode": "USD"}},
                "productListItems": [{"SKU": sku, "priceTotal": 10.0 * f64::from(i % 30), "quantity": 1},
                                     {"SKU": "SKU-X", "priceTotal": 5.0, "quantity": 2}],
                "web": {"webPageDetails": {"name": if i % 9 == 0 { "Spring Sale" } else { "Home" }}},
                "environment": {"browserDetails": {"name": if i % 2 == 0 { "Chrome" } else { "Firefox" }}},
                "marketing": {"channel": if i % 4 == 0 { "email" } else { "web" }},
                "placeContext": {"geo": {"countryCode": "US"}},
            });
            (format!("e{i}"), ts, value)
        })
        .collect();
    (profile, events)
}
