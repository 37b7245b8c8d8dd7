//! The demo company: namespaces, schemas, datasets and a few dozen customers with their
//! purchases, web visits, email campaigns and support calls, loaded through the engine.

use engine::{Engine, Job, PreparedWrite};
use rapport_types::SandboxName;
use serde_json::{json, Value};

/// The email of a demo customer whose profile is worth looking at first.
pub const SAMPLE_EMAIL: &str = "maria.garcia@example.com";

const CUSTOMERS: usize = 40;
const FIRST_NAMES: &[&str] = &[
    "Maria", "James", "Aiko", "Lena", "Omar", "Priya", "Lucas", "Sofia", "Chen", "Fatima", "Noah",
    "Elena", "Kwame", "Ingrid", "Mateo", "Yara", "Tomas", "Hana", "Diego", "Amara",
];
const LAST_NAMES: &[&str] = &[
    "Garcia",
    "Smith",
    "Tanaka",
    "Muller",
    "Haddad",
    "Sharma",
    "Silva",
    "Rossi",
    "Wang",
    "Khan",
    "Brown",
    "Petrova",
    "Mensah",
    "Larsen",
    "Lopez",
    "Costa",
    "Novak",
    "Kim",
    "Fernandez",
    "Okafor",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Seattle", "WA", "US"),
    ("Austin", "TX", "US"),
    ("Toronto", "ON", "CA"),
    ("London", "ENG", "GB"),
    ("Berlin", "BE", "DE"),
    ("Madrid", "MD", "ES"),
];
const PRODUCTS: &[(&str, &str, f64)] = &[
    ("TRK-100", "Trail Runner Shoes", 129.0),
    ("JKT-210", "Storm Shell Jacket", 249.0),
    ("PCK-030", "Daypack 30L", 89.0),
    ("BTL-005", "Insulated Bottle", 29.0),
    ("TNT-200", "Two-Person Tent", 399.0),
    ("SCK-011", "Merino Socks", 19.0),
];
const CAMPAIGNS: &[(&str, &str)] = &[
    ("cmp-spring-sale", "Spring Sale"),
    ("cmp-loyalty-gold", "Gold Tier Invitation"),
    ("cmp-winback", "We Miss You"),
];
const SUPPORT_REASONS: &[(&str, &str)] = &[
    ("late delivery", "resolved"),
    ("return request", "resolved"),
    ("damaged item", "escalated"),
    ("billing question", "resolved"),
    ("size exchange", "callback_scheduled"),
];

/// A small deterministic generator, so every demo looks the same.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

fn iso(epoch_ms: i64) -> String {
    engine::time::format_rfc3339_ms(epoch_ms, false)
}

/// Loads the demo into the `prod` sandbox unless it is there already; returns a summary line.
pub fn load(engine: &Engine) -> anyhow::Result<String> {
    let sandbox = SandboxName::default_sandbox();
    let catalog = engine.sandbox(&sandbox)?;
    if catalog.dataset("CRM Customers").is_some() {
        return Ok("Demo data was already loaded.".to_owned());
    }
    let err = |e: engine::Error| anyhow::anyhow!("{e}");
    engine.create_namespace(&sandbox, &json!({"code": "CRMID", "name": "CRM ID", "idType": "CROSS_DEVICE", "unique": true, "description": "Customer id in the CRM"})).map_err(err)?;
    engine.create_namespace(&sandbox, &json!({"code": "LoyaltyID", "name": "Loyalty member id", "idType": "CROSS_DEVICE", "unique": true})).map_err(err)?;
    let profile_schema = engine
        .create_schema(&sandbox, &json!({
            "title": "CRM Customers",
            "allOf": [
                {"$ref": "https://ns.adobe.com/xdm/context/profile"},
                {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
                {"$ref": "https://ns.adobe.com/xdm/context/profile-consents"},
                {"$ref": "https://ns.adobe.com/xdm/context/profile-loyalty-details"},
                {"$ref": "https://ns.adobe.com/xdm/context/external-source-system-audit-details"}
            ],
            "meta:immutableTags": ["union"]
        }))
        .map_err(err)?;
    let event_schema = engine
        .create_schema(&sandbox, &json!({
            "title": "Customer Activity",
            "allOf": [
                {"$ref": "https://ns.adobe.com/xdm/context/experienceevent"},
                {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-commerce"},
                {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-product-list-items"},
                {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-web"},
                {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-marketing"},
                {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-support-interactions"}
            ],
            "meta:immutableTags": ["union"]
        }))
        .map_err(err)?;
    let tags = json!({"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]});
    let mut dataset_ids = Vec::new();
    for (name, schema) in [
        ("CRM Customers", &profile_schema.id),
        ("Web and Commerce Events", &event_schema.id),
        ("Email Campaign Events", &event_schema.id),
        ("Call Center Interactions", &event_schema.id),
    ] {
        let dataset = engine
            .create_dataset(
                &sandbox,
                &json!({"name": name, "schemaRef": {"id": schema}, "tags": tags}),
            )
            .map_err(err)?;
        dataset_ids.push(dataset.id);
    }
    let catalog = engine.sandbox(&sandbox)?;
    let now = engine::catalog::now_ms();
    let day = 86_400_000_i64;
    let mut sequence = Sequence(7);
    let mut records: Vec<(usize, Value)> = Vec::new();
    for customer in 0..CUSTOMERS {
        let first = FIRST_NAMES[customer % FIRST_NAMES.len()];
        let last = LAST_NAMES[(customer * 7 + customer / FIRST_NAMES.len()) % LAST_NAMES.len()];
        let email = format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            if customer < FIRST_NAMES.len() {
                String::new()
            } else {
                customer.to_string()
            }
        );
        let crm_id = format!("CRM-{:05}", 10_000 + customer);
        let phone = format!("+1206555{:04}", 1000 + customer);
        let ecid = format!("{:038}", 4_512_000_000_u64 + customer as u64 * 7919);
        let (city, region, country) = CITIES[sequence.next(CITIES.len())];
        let tier = ["bronze", "silver", "gold", "platinum"][sequence.next(4)];
        let marketing_email = if sequence.next(5) == 0 { "n" } else { "y" };
        let call_consent = if sequence.next(6) == 0 { "n" } else { "y" };
        let birth_date = format!(
            "{}-{:02}-{:02}",
            1960 + sequence.next(40),
            1 + sequence.next(12),
            1 + sequence.next(28)
        );
        let points = sequence.next(20_000) as f64;
        let join_date = iso(now - (200 + sequence.next(2000) as i64) * day);
        let updated = iso(now - sequence.next(30) as i64 * day);
        records.push((0, json!({
            "identityMap": {"CRMID": [{"id": crm_id, "primary": true}], "Email": [{"id": email}], "Phone": [{"id": phone}]},
            "person": {"name": {"firstName": first, "lastName": last}, "birthDate": birth_date},
            "personalEmail": {"address": email, "primary": true},
            "mobilePhone": {"number": phone},
            "homeAddress": {"city": city, "stateProvince": region, "countryCode": country},
            "loyalty": {"loyaltyID": [format!("L{:07}", 500_000 + customer)], "tier": tier, "points": points, "joinDate": join_date},
            "consents": {"marketing": {"email": {"val": marketing_email}, "call": {"val": call_consent}}},
            "extSourceSystemAudit": {"lastUpdatedDate": updated}
        })));
        let visits = 3 + sequence.next(6);
        for visit in 0..visits {
            let at = now - (sequence.next(60) as i64 * day) - sequence.next(80_000_000) as i64;
            let page = ["Home", "Trail Shoes", "Jackets", "Tents", "Sale"][sequence.next(5)];
            records.push((1, json!({
                "_id": format!("web-{customer}-{visit}"), "timestamp": iso(at), "eventType": "web.webpagedetails.pageViews",
                "identityMap": {"ECID": [{"id": ecid}], "Email": [{"id": email}]},
                "web": {"webPageDetails": {"name": page, "URL": "https://shop.example.com/", "pageViews": {"value": 1.0}}}
            })));
        }
        let orders = sequence.next(5);
        for order in 0..orders {
            let at = now - (sequence.next(300) as i64 * day);
            let (sku, name, price) = PRODUCTS[sequence.next(PRODUCTS.len())];
            let quantity = 1 + sequence.next(2);
            records.push((1, json!({
                "_id": format!("order-{customer}-{order}"), "timestamp": iso(at), "eventType": "commerce.purchases",
                "identityMap": {"ECID": [{"id": ecid}], "CRMID": [{"id": crm_id}]},
                "commerce": {"order": {"purchaseID": format!("SO-{customer}-{order}"), "priceTotal": price * quantity as f64, "currencyCode": "USD"}, "purchases": {"value": 1.0}},
                "productListItems": [{"SKU": sku, "name": name, "quantity": quantity, "priceTotal": price * quantity as f64, "currencyCode": "USD"}]
            })));
        }
        for (index, (campaign_id, campaign_name)) in CAMPAIGNS.iter().enumerate() {
            if sequence.next(3) == 0 {
                continue;
            }
            let sent = now - (sequence.next(45) as i64 * day);
            for (step, event_type) in [
                "directMarketing.emailSent",
                "directMarketing.emailOpened",
                "directMarketing.emailClicked",
            ]
            .iter()
            .enumerate()
            {
                if step > 0 && sequence.next(2) == 0 {
                    break;
                }
                records.push((2, json!({
                    "_id": format!("email-{customer}-{index}-{step}"), "timestamp": iso(sent + step as i64 * 3_600_000), "eventType": event_type,
                    "identityMap": {"Email": [{"id": email}]},
                    "marketing": {"campaignID": campaign_id, "campaignName": campaign_name, "channel": "email"}
                })));
            }
        }
        if sequence.next(2) == 0 {
            let (reason, outcome) = SUPPORT_REASONS[sequence.next(SUPPORT_REASONS.len())];
            let at = iso(now - sequence.next(20) as i64 * day);
            let satisfaction = 1 + sequence.next(5) as i64;
            let duration = 60 + sequence.next(900) as i64;
            records.push((3, json!({
                "_id": format!("call-{customer}"), "timestamp": at, "eventType": "support.call",
                "identityMap": {"Phone": [{"id": phone}], "CRMID": [{"id": crm_id}]},
                "support": {"caseID": format!("CASE-{}", 70_000 + customer), "channel": "call", "reason": reason, "outcome": outcome, "satisfaction": satisfaction, "durationSeconds": duration}
            })));
        }
    }
    let mut writes: Vec<PreparedWrite> = Vec::with_capacity(records.len());
    for (index, (dataset, record)) in records.into_iter().enumerate() {
        writes.push(
            engine
                .prepare(
                    &catalog,
                    &dataset_ids[dataset],
                    record,
                    format!("demo:{index}"),
                    now,
                )
                .map_err(err)?,
        );
    }
    let count = writes.len();
    let (sender, receiver) = std::sync::mpsc::channel();
    engine
        .submit(Job::Ingest {
            writes,
            reply: Box::new(move |result| {
                let _ = sender.send(result);
            }),
        })
        .map_err(err)?;
    let results = receiver.recv()?.map_err(err)?;
    if let Some(Err(error)) = results.into_iter().find(|r| r.is_err()) {
        anyhow::bail!("demo record refused: {error}");
    }
    Ok(format!(
        "Loaded the demo company: {CUSTOMERS} customers, {count} records and events in 4 datasets."
    ))
}
