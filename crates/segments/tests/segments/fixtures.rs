//! Shared fixtures: the union schemas, five customers with their events, a fixed evaluation
//! time, and helpers to compile and evaluate.

use std::sync::OnceLock;

use segments::{CompileError, Definition, EventRef, Outcome, SchemaContext, Subject};
use serde_json::{json, Value};
use xdm::{Class, Field, ObjectField};

/// The evaluation time of the tables: Friday 2024-03-15 12:00 UTC.
pub const NOW: &str = "2024-03-15T12:00:00Z";

/// Segment ids that exist.
pub const SEGMENTS: &[&str] = &["seg-gold", "seg-old", "seg-silver"];

/// Epoch milliseconds of an RFC 3339 date-time (or a date at midnight UTC).
pub fn ms(s: &str) -> i64 {
    let s = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    let t = time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s}: {e}"));
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn now() -> i64 {
    ms(NOW)
}

pub const DAY: i64 = 86_400_000;
pub const HOUR: i64 = 3_600_000;

/// The profile and event union schemas: standard field groups plus a tenant group `_rapport`.
pub fn schemas() -> &'static (ObjectField, ObjectField) {
    static S: OnceLock<(ObjectField, ObjectField)> = OnceLock::new();
    S.get_or_init(|| {
        let group = |id: &str| xdm::standard_field_group(id).unwrap();
        let profile = xdm::compose(
            Class::Profile,
            &[
                group("profile-person-details"),
                group("profile-personal-details"),
                group("profile-work-details"),
                group("profile-consents"),
                group("profile-loyalty-details"),
                group("profile-segmentation"),
                group("profile-test-details"),
            ],
        )
        .unwrap();
        let tenant = ObjectField::new().with(
            "_rapport",
            Field::object(
                ObjectField::new()
                    .with("tags", Field::array(Field::string()))
                    .with("favoriteColors", Field::array(Field::string()))
                    .with("score", Field::number())
                    .with("vipSince", Field::date_time())
                    .with("preferences", Field::map(Field::string())),
            ),
        );
        let profile = xdm::union(&[&profile, &tenant]).unwrap();
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
    })
}

pub fn ctx() -> SchemaContext<'static> {
    let (profile, event) = schemas();
    SchemaContext {
        profile,
        event,
        segment_exists: &|id| SEGMENTS.contains(&id),
    }
}

pub fn compile(pql: &str) -> Result<Definition, CompileError> {
    segments::compile(pql, &ctx())
}

pub fn def(pql: &str) -> Definition {
    compile(pql).unwrap_or_else(|e| panic!("{pql}: {e}"))
}

/// A customer: the merged profile, the events, and the segments they are in.
pub struct Fixture {
    pub profile: Value,
    pub events: Vec<(String, i64, Value)>,
    pub segments: Vec<&'static str>,
}

impl Fixture {
    pub fn new(profile: Value, events: Vec<Value>) -> Fixture {
        let events = events
            .into_iter()
            .map(|e| {
                let id = e["_id"].as_str().unwrap().to_string();
                let ts = ms(e["timestamp"].as_str().unwrap());
                (id, ts, e)
            })
            .collect();
        Fixture {
            profile,
            events,
            segments: Vec::new(),
        }
    }

    /// Calls `f` with the subject.
    pub fn with<T>(&self, f: impl FnOnce(&Subject) -> T) -> T {
        let events: Vec<EventRef> = self
            .events
            .iter()
            .map(|(id, ts, v)| EventRef {
                id,
                timestamp_ms: *ts,
                value: v,
            })
            .collect();
        let in_segment = |id: &str| self.segments.contains(&id);
        f(&Subject {
            profile: &self.profile,
            events: &events,
            in_segment: &in_segment,
        })
    }

    pub fn eval(&self, def: &Definition, now: i64) -> Outcome {
        self.with(|s| def.evaluate(s, now))
    }

    /// The fixture as the store would hand it to `def`: the profile and events decoded through
    /// the projections of what `def` reads.
    pub fn projected_for(&self, def: &Definition) -> Fixture {
        let profile = segments::PathProjection::of_profile([def], &[])
            .parse(self.profile.to_string().as_bytes())
            .unwrap();
        let events = segments::EventProjection::of([def]);
        Fixture {
            profile,
            events: self
                .events
                .iter()
                .map(|(id, ts, v)| {
                    let value = events.parse(v.to_string().as_bytes()).unwrap();
                    (id.clone(), *ts, value)
                })
                .collect(),
            segments: self.segments.clone(),
        }
    }
}

/// An event.
pub fn event(id: &str, ts: &str, event_type: &str, extra: Value) -> Value {
    let mut e = json!({"_id": id, "timestamp": ts, "eventType": event_type});
    if let (Value::Object(e), Value::Object(extra)) = (&mut e, extra) {
        e.extend(extra);
    }
    e
}

fn purchase(id: &str, ts: &str, total: Value, items: Value) -> Value {
    event(
        id,
        ts,
        "commerce.purchases",
        json!({"commerce": {"order": {"priceTotal": total, "currencyCode": "USD"}, "purchases": {"value": 1}},
               "productListItems": items}),
    )
}

/// Alice: a VIP shopper with many purchases, in segment `seg-gold`, birthday today.
pub fn vip() -> Fixture {
    let profile = json!({
        "_id": "alice",
        "person": {"name": {"firstName": "Alice", "lastName": "Smith"}, "birthDate": "1990-03-15",
                   "birthYear": 1990, "gender": "female"},
        "homeAddress": {"countryCode": "US", "city": "San Francisco", "stateProvince": "CA"},
        "personalEmail": {"address": "alice@example.com"},
        "loyalty": {"tier": "gold", "points": 1200.5, "joinDate": "2019-06-01T00:00:00Z", "loyaltyID": ["L1", "L2"]},
        "consents": {"marketing": {"email": {"val": "y"}}},
        "testProfile": false,
        "identityMap": {"Email": [{"id": "alice@example.com", "primary": true}],
                        "ECID": [{"id": "123"}, {"id": "456"}]},
        "segmentMembership": {"ups": {
            "seg-gold": {"status": "realized", "lastQualificationTime": "2024-01-02T00:00:00Z"},
            "seg-old": {"status": "exited", "lastQualificationTime": "2023-01-02T00:00:00Z"}}},
        "_rapport": {"tags": ["vip", "newsletter"], "favoriteColors": ["red", "green", "red"], "score": 87}
    });
    let item = |sku: &str, price: Value, qty: i64| json!({"SKU": sku, "priceTotal": price, "quantity": qty});
    let events = vec![
        purchase(
            "p3",
            "2024-03-08T12:00:00Z",
            json!(99.5),
            json!([item("SKU-1", json!(99.5), 1)]),
        ),
        event(
            "v1",
            "2024-03-15T08:00:00Z",
            "web.webpagedetails.pageViews",
            json!({"web": {"webPageDetails": {"name": "Home", "URL": "https://shop.example.com/"}},
                     "environment": {"browserDetails": {"name": "Chrome"}}}),
        ),
        purchase(
            "p1",
            "2024-03-14T10:00:00Z",
            json!(120.0),
            json!([item("SKU-1", json!(80), 1), item("SKU-2", json!(40), 2)]),
        ),
        event(
            "c2",
            "2024-03-12T08:00:00Z",
            "commerce.checkouts",
            json!({"productListItems": [item("SKU-9", json!(10), 1)]}),
        ),
        purchase(
            "p5",
            "2023-12-31T23:00:00Z",
            json!(50),
            json!([item("SKU-2", json!(50), 1)]),
        ),
        event(
            "v2",
            "2024-03-13T08:00:00Z",
            "commerce.productViews",
            json!({"productListItems": [item("SKU-9", json!(10), 1)]}),
        ),
        purchase(
            "p2",
            "2024-03-10T09:00:00Z",
            json!(250.5),
            json!([item("SKU-3", json!(250.5), 1)]),
        ),
        event(
            "c1",
            "2024-03-12T07:00:00Z",
            "commerce.productListAdds",
            json!({"productListItems": [item("SKU-9", json!(10), 1)]}),
        ),
        purchase(
            "p4",
            "2024-02-20T15:00:00Z",
            json!(300),
            json!([item("SKU-4", json!(300), 1)]),
        ),
    ];
    let mut f = Fixture::new(profile, events);
    f.segments = vec!["seg-gold"];
    f
}

/// Bob: a lapsed customer whose last purchase was last June.
pub fn lapsed() -> Fixture {
    let profile = json!({
        "person": {"name": {"firstName": "Bob", "lastName": "Jones"}, "birthDate": "1985-07-04", "gender": "male"},
        "homeAddress": {"countryCode": "CA", "city": "Toronto"},
        "loyalty": {"tier": "silver", "points": 10}
    });
    let events = vec![
        purchase(
            "l1",
            "2023-06-01T10:00:00Z",
            json!(40),
            json!([{"SKU": "SKU-1", "priceTotal": 40, "quantity": 1}]),
        ),
        event(
            "l2",
            "2023-09-01T10:00:00Z",
            "web.webpagedetails.pageViews",
            json!({}),
        ),
    ];
    Fixture::new(profile, events)
}

/// Chloé: born on a leap day, viewed and added to cart today without buying.
pub fn abandon() -> Fixture {
    let profile = json!({
        "person": {"name": {"firstName": "Chloé", "lastName": "Dupont"}, "birthDate": "2000-02-29", "gender": "female"},
        "homeAddress": {"countryCode": "FR", "city": "Paris"},
        "personalEmail": {"address": "CHLOE@Example.FR"}
    });
    let events = vec![
        event(
            "a1",
            "2024-03-15T09:00:00Z",
            "commerce.productListAdds",
            json!({"productListItems": [{"SKU": "SKU-7", "priceTotal": 59.9, "quantity": 1}]}),
        ),
        event(
            "a2",
            "2024-03-15T08:30:00Z",
            "commerce.productViews",
            json!({"productListItems": [{"SKU": "SKU-7", "priceTotal": 59.9, "quantity": 1}]}),
        ),
    ];
    Fixture::new(profile, events)
}

/// Dan: opted out of marketing email; one support call.
pub fn optout() -> Fixture {
    let profile = json!({
        "person": {"name": {"firstName": "Dan"}},
        "consents": {"marketing": {"email": {"val": "n"}}, "collect": {"val": "n"}}
    });
    let events = vec![event(
        "s1",
        "2024-03-01T10:00:00Z",
        "support.call",
        json!({"support": {"channel": "call", "satisfaction": 2, "reason": "billing"}}),
    )];
    Fixture::new(profile, events)
}

/// Eve: nothing but a first name, no events.
pub fn empty() -> Fixture {
    Fixture::new(
        json!({"person": {"name": {"firstName": "Eve"}}}),
        Vec::new(),
    )
}

pub fn fixture(name: &str) -> Fixture {
    match name {
        "vip" => vip(),
        "lapsed" => lapsed(),
        "abandon" => abandon(),
        "optout" => optout(),
        "empty" => empty(),
        other => panic!("no fixture {other}"),
    }
}
