//! The demo company's computed attributes (what an agent glances at: recent spend, orders,
//! support contacts, the last page seen) and its first training of the built-in models.

use engine::Engine;
use rapport_types::SandboxName;
use serde_json::json;

/// (name, display name, PQL, duration).
pub const DEMO_ATTRIBUTES: &[(&str, &str, &str, &str)] = &[
    (
        "spendLastMonth",
        "Spend, last month",
        r#"xEvent[eventType = "commerce.purchases"].sum(commerce.order.priceTotal)"#,
        r#"{"count": 1, "unit": "MONTHS"}"#,
    ),
    (
        "orders",
        "Orders, all time",
        r#"xEvent[eventType = "commerce.purchases"].count()"#,
        r#"{"unit": "ALL_TIME"}"#,
    ),
    (
        "largestOrder",
        "Largest order, last 6 months",
        r#"xEvent[eventType = "commerce.purchases"].max(commerce.order.priceTotal)"#,
        r#"{"count": 6, "unit": "MONTHS"}"#,
    ),
    (
        "supportContacts",
        "Support contacts, last 4 weeks",
        r#"xEvent[eventType = "support.call" or eventType = "support.chat"].count()"#,
        r#"{"count": 4, "unit": "WEEKS"}"#,
    ),
    (
        "emailEngagements",
        "Email opens and clicks, last 7 days",
        r#"xEvent[eventType = "directMarketing.emailOpened" or eventType = "directMarketing.emailClicked"].count()"#,
        r#"{"count": 7, "unit": "DAYS"}"#,
    ),
    (
        "lastPageViewed",
        "Last page viewed",
        r#"xEvent[eventType = "web.webpagedetails.pageViews"].mostRecent(web.webPageDetails.name)"#,
        r#"{"unit": "ALL_TIME"}"#,
    ),
];

/// Defines the attributes that are missing (each backfills in the background) and queues a
/// first training of the models when none exists; returns the number of attributes.
pub fn ensure(engine: &Engine, sandbox: &SandboxName) -> anyhow::Result<usize> {
    for (name, display, pql, duration) in DEMO_ATTRIBUTES {
        let catalog = engine.sandbox(sandbox)?;
        if catalog.computed.values().any(|a| a.name == *name) {
            continue;
        }
        let duration: serde_json::Value = serde_json::from_str(duration)?;
        engine
            .create_computed(
                sandbox,
                &json!({"name": name, "displayName": display,
                        "expression": {"type": "PQL", "format": "pql/text", "value": pql},
                        "duration": duration}),
                engine::Clearance::All,
            )
            .map_err(|e| anyhow::anyhow!("demo computed attribute {name}: {e}"))?;
    }
    if engine.sandbox(sandbox)?.models.is_none() {
        engine
            .train_models(sandbox, &json!({}))
            .map_err(|e| anyhow::anyhow!("training the demo's models: {e}"))?;
    }
    Ok(DEMO_ATTRIBUTES.len())
}
