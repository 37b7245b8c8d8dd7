//! Fuzz target: any text sent as a segment definition either fails to compile with an error,
//! or compiles to a definition whose evaluation, explanation and next change over a fixed
//! profile with events never panic (evaluation runs in the writer thread).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use xdm::{Class, ObjectField};

/// The profile and event union schemas of every standard field group of each class.
fn schemas() -> &'static (ObjectField, ObjectField) {
    static SCHEMAS: OnceLock<(ObjectField, ObjectField)> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let compose = |class: Class| {
            let groups: Vec<&xdm::FieldGroup> = xdm::standard_field_groups()
                .iter()
                .filter(|g| g.intended_classes.is_empty() || g.intended_classes.contains(&class))
                .collect();
            xdm::compose(class, &groups).unwrap_or_else(|_| xdm::class_fields(class))
        };
        (compose(Class::Profile), compose(Class::ExperienceEvent))
    })
}

fn data() -> &'static (Value, Vec<(String, i64, Value)>) {
    static DATA: OnceLock<(Value, Vec<(String, i64, Value)>)> = OnceLock::new();
    DATA.get_or_init(|| {
        let profile = json!({
            "person": {"name": {"firstName": "Ada", "lastName": "Lovelace"}, "birthDate": "1815-12-10"},
            "homeAddress": {"countryCode": "GB", "city": "London"},
            "loyalty": {"tier": "gold", "points": 1200.5},
            "identityMap": {"Email": [{"id": "ada@example.com", "primary": true}]},
            "consents": {"marketing": {"email": {"val": "y"}}},
        });
        let events = (0..12)
            .map(|i| {
                let at = 1_790_000_000_000 + i * 86_400_000;
                let event = json!({
                    "_id": format!("e{i}"),
                    "timestamp": "2026-09-21T00:00:00Z",
                    "eventType": if i % 3 == 0 { "commerce.purchases" } else { "web.webpagedetails.pageViews" },
                    "commerce": {"order": {"priceTotal": 10.0 * i as f64}},
                    "productListItems": [{"SKU": format!("SKU-{i}"), "quantity": i}],
                    "web": {"webPageDetails": {"name": format!("page {i}")}},
                });
                (format!("e{i}"), at, event)
            })
            .collect();
        (profile, events)
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let (profile_schema, event_schema) = schemas();
    let exists = |id: &str| id == "seg-a" || id == "seg-b";
    let context = segments::SchemaContext {
        profile: profile_schema,
        event: event_schema,
        segment_exists: &exists,
    };
    let Ok(definition) = segments::compile(text, &context) else { return };
    let (profile, events) = data();
    let refs: Vec<segments::EventRef> = events
        .iter()
        .map(|(id, at, value)| segments::EventRef { id, timestamp_ms: *at, value })
        .collect();
    let in_segment = |id: &str| id == "seg-a";
    let subject = segments::Subject { profile, events: &refs, in_segment: &in_segment };
    for now in [1_790_500_000_000_i64, 1_798_761_600_000] {
        let outcome = definition.evaluate(&subject, now);
        let shared = segments::SharedWork::with_profile(profile, &refs);
        assert_eq!(definition.evaluate_shared(&subject, &shared, now), outcome, "{text}");
        if let Some(at) = outcome.next_change_ms {
            assert!(at > now, "next change {at} not after {now} for {text}");
        }
        let _ = definition.explain(&subject, now);
    }
});
