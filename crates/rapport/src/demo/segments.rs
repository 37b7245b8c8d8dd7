//! The demo company's segments: a dozen audiences an agent would want to see on a customer's
//! screen, written in PQL against the demo's schemas and created through the engine like any
//! client's definitions.

use engine::Engine;
use rapport_types::SandboxName;
use serde_json::json;

/// (name, description, PQL). `{name}` in a PQL text stands for the id of the demo segment of
/// that name defined earlier in the list.
pub const DEMO_SEGMENTS: &[(&str, &str, &str)] = &[
    (
        "VIP",
        "Gold or platinum members who spent over $1,000 in the last year",
        r#"loyalty.tier in ["gold", "platinum"] and xEvent[eventType = "commerce.purchases" and timestamp occurs <= 365 days before now].sum(commerce.order.priceTotal) > 1000"#,
    ),
    (
        "High lifetime spend",
        "Over $2,000 of purchases on record",
        r#"xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal) > 2000"#,
    ),
    (
        "At risk",
        "Bought before, but nothing in the last 90 days",
        r#"xEvent[eventType = "commerce.purchases"].count() > 0 and not (exists E from xEvent where (E.eventType = "commerce.purchases" and E.timestamp occurs <= 90 days before now))"#,
    ),
    (
        "VIP at risk",
        "VIPs who stopped buying: call them first",
        r#"inSegment("{VIP}") and inSegment("{At risk}")"#,
    ),
    (
        "Cart abandoners today",
        "Added to cart today and did not buy today",
        r#"xEvent[eventType = "commerce.productListAdds" and timestamp occurs today].count() > 0 and xEvent[eventType = "commerce.purchases" and timestamp occurs today].count() = 0"#,
    ),
    (
        "Cart abandoners this week",
        "Added to cart in the last 7 days without a purchase since",
        r#"chain(xEvent, timestamp, [A: WHAT(eventType = "commerce.productListAdds") WHEN(<= 7 days before now)]) and xEvent[eventType = "commerce.purchases" and timestamp occurs <= 7 days before now].count() = 0"#,
    ),
    (
        "Lapsed email engagers",
        "Opened our emails before, none in the last 60 days",
        r#"xEvent[eventType = "directMarketing.emailOpened"].count() > 0 and xEvent[eventType = "directMarketing.emailOpened" and timestamp occurs <= 60 days before now].count() = 0"#,
    ),
    (
        "Frequent callers",
        "Three or more calls or chats in the last 90 days",
        r#"xEvent[eventType in ["support.call", "support.chat"] and timestamp occurs <= 90 days before now].count() >= 3"#,
    ),
    (
        "Unhappy after support",
        "A support contact rated 2 or less in the last 30 days",
        r#"xEvent[eventType in ["support.call", "support.chat"] and support.satisfaction <= 2 and timestamp occurs <= 30 days before now].count() > 0"#,
    ),
    (
        "Canadian loyalty members",
        "Loyalty members living in Canada",
        r#"loyalty.tier.isNotNull() and homeAddress.countryCode = "CA""#,
    ),
    (
        "Birthday this month",
        "Their birthday falls in the current month",
        r#"person.birthDate.getMonth() = currentMonth()"#,
    ),
    (
        "Email unsubscribers",
        "Unsubscribed from an email campaign (for service messages only)",
        r#"xEvent[eventType = "directMarketing.emailUnsubscribed"].count() > 0"#,
    ),
];

/// Creates the demo segments missing from the sandbox (matched by name); returns how many exist.
pub fn ensure(engine: &Engine, sandbox: &SandboxName) -> anyhow::Result<usize> {
    for (name, description, pql) in DEMO_SEGMENTS {
        let catalog = engine.sandbox(sandbox)?;
        if catalog.segments.values().any(|d| d.name == *name) {
            continue;
        }
        let mut text = (*pql).to_owned();
        for (other, _, _) in DEMO_SEGMENTS {
            let placeholder = format!("{{{other}}}");
            if text.contains(&placeholder) {
                let id = catalog
                    .segments
                    .values()
                    .find(|d| d.name == *other)
                    .map(|d| d.id.clone())
                    .ok_or_else(|| {
                        anyhow::anyhow!("demo segment {other} must come before {name}")
                    })?;
                text = text.replace(&placeholder, &id);
            }
        }
        // Unsubscribers are by definition opted out of that channel: keep them for service messages.
        let exclude_opt_out = *name != "Email unsubscribers";
        engine
            .create_segment(
                sandbox,
                &json!({
                    "name": name,
                    "description": description,
                    "schema": {"name": "_xdm.context.profile"},
                    "expression": {"type": "PQL", "format": "pql/text", "value": text},
                    "evaluationInfo": {"continuous": {"enabled": true}},
                    "dataGovernancePolicy": {"excludeOptOut": exclude_opt_out},
                }),
                engine::Clearance::All,
            )
            .map_err(|e| anyhow::anyhow!("demo segment {name}: {e}"))?;
    }
    Ok(DEMO_SEGMENTS.len())
}
