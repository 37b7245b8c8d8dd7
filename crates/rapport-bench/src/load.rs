//! Setting up the sandbox and loading profiles and events through `/collection/batch`.

use std::time::Instant;

use serde_json::{json, Value};

use crate::Args;
use rapport::client::Connection;

pub struct Setup {
    pub crm_dataset: String,
    pub event_dataset: String,
    /// The sandbox they are in (`None`: the default one).
    pub sandbox: Option<String>,
}

/// A connection that names `sandbox` on every request (the default sandbox when `None`) and
/// carries the server's master key: the benchmarks pay for authentication as clients do.
pub async fn connect(address: &str, sandbox: Option<&str>) -> anyhow::Result<Connection> {
    let connection = Connection::open(address)
        .await?
        .with_key(Some(crate::MASTER_KEY));
    Ok(match sandbox {
        Some(sandbox) => connection.with_sandbox(sandbox),
        None => connection,
    })
}

pub struct Loaded {
    pub records: usize,
    pub record_seconds: f64,
    pub events: usize,
    pub event_seconds: f64,
    /// The events' load in fifths: how the rate moves as the store grows.
    pub slices: Vec<Slice>,
}

/// One part of the events' load.
pub struct Slice {
    /// Events stored before it began.
    pub stored_before: usize,
    pub events: usize,
    pub seconds: f64,
    pub writer: crate::ingest::WriterShare,
}

/// Parts the events' load is timed in.
const SLICES: usize = 5;

pub fn email(profile: usize) -> String {
    format!("customer{profile}@example.com")
}

/// The lookup of `profile`'s full profile by email, a non-primary identity.
pub fn lookup_path(profile: usize) -> String {
    format!(
        "/data/core/ups/access/entities?schema.name=_xdm.context.profile&entityIdNS=Email&entityId={}",
        email(profile).replace('@', "%40")
    )
}

/// The last `limit` events of `profile`, found by email, newest first.
pub fn events_path(profile: usize, limit: usize) -> String {
    format!(
        "/data/core/ups/access/entities?schema.name=_xdm.context.experienceevent&relatedSchema.name=_xdm.context.profile&relatedEntityIdNS=Email&relatedEntityId={}&orderby=-timestamp&limit={limit}",
        email(profile).replace('@', "%40")
    )
}

/// The body of a batch lookup of these profiles' full profiles, by email.
pub fn batch_lookup_body(profiles: impl Iterator<Item = usize>) -> String {
    let identities: Vec<String> = profiles
        .map(|p| {
            format!(
                r#"{{"entityId":"{}","entityIdNS":{{"code":"Email"}}}}"#,
                email(p)
            )
        })
        .collect();
    format!(
        r#"{{"schema":{{"name":"_xdm.context.profile"}},"identities":[{}]}}"#,
        identities.join(",")
    )
}

fn ecid(profile: usize) -> String {
    format!("{:038}", 7_000_000_000_u64 + profile as u64)
}

pub async fn setup(address: &str) -> anyhow::Result<Setup> {
    setup_in(address, None).await
}

/// [`setup`] in another sandbox.
pub async fn setup_in(address: &str, sandbox: Option<&str>) -> anyhow::Result<Setup> {
    let mut connection = connect(address, sandbox).await?;
    connection
        .post_json(
            "/data/core/idnamespace/identities",
            &json!({"code": "CRMID", "idType": "CROSS_DEVICE", "unique": true}),
        )
        .await?;
    let profile_schema = connection
        .post_json("/data/foundation/schemaregistry/tenant/schemas", &json!({
            "title": "CRM", "meta:immutableTags": ["union"],
            "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                      {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}, {"$ref": "https://ns.adobe.com/xdm/context/profile-loyalty-details"},
                      {"$ref": "https://ns.adobe.com/xdm/context/profile-consents"}]
        }))
        .await?;
    let event_schema = connection
        .post_json("/data/foundation/schemaregistry/tenant/schemas", &json!({
            "title": "Activity", "meta:immutableTags": ["union"],
            "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/experienceevent"}, {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-commerce"},
                      {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-product-list-items"}, {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-web"},
                      {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-marketing"}, {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-support-interactions"}]
        }))
        .await?;
    let tags = json!({"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]});
    let dataset = |name: &str, schema: &Value| json!({"name": name, "schemaRef": {"id": schema["$id"]}, "tags": tags});
    let crm = connection
        .post_json(
            "/data/foundation/catalog/dataSets",
            &dataset("crm", &profile_schema),
        )
        .await?;
    let events = connection
        .post_json(
            "/data/foundation/catalog/dataSets",
            &dataset("activity", &event_schema),
        )
        .await?;
    let id = |v: &Value| {
        v[0].as_str()
            .unwrap_or("")
            .trim_start_matches("@/dataSets/")
            .to_owned()
    };
    Ok(Setup {
        crm_dataset: id(&crm),
        event_dataset: id(&events),
        sandbox: sandbox.map(str::to_owned),
    })
}

/// Messages are written as text: building JSON trees would cost the client more CPU than the
/// server spends, on a machine whose two cores both run.
fn crm_record(dataset: &str, profile: usize) -> String {
    envelope(dataset, &crm_entity(profile))
}

pub(crate) fn envelope(dataset: &str, entity: &str) -> String {
    format!(r#"{{"header":{{"datasetId":"{dataset}"}},"body":{{"xdmEntity":{entity}}}}}"#)
}

/// A CRM profile record (CRMID primary, email), as JSON text.
pub fn crm_entity(profile: usize) -> String {
    crm_entity_with_points(profile, (profile % 5000) as u64)
}

/// [`crm_entity`] with this many loyalty points.
pub fn crm_entity_with_points(profile: usize, points: u64) -> String {
    let tier = ["bronze", "silver", "gold"][profile % 3];
    let email = email(profile);
    format!(
        r#"{{"identityMap":{{"CRMID":[{{"id":"crm-{profile}","primary":true}}],"Email":[{{"id":"{email}"}}]}},"person":{{"name":{{"firstName":"Customer","lastName":"Number {profile}"}},"birthDate":"1984-05-17"}},"personalEmail":{{"address":"{email}"}},"homeAddress":{{"city":"Seattle","stateProvince":"WA","countryCode":"US","postalCode":"98101"}},"mobilePhone":{{"number":"+1206{profile:07}"}},"loyalty":{{"tier":"{tier}","points":{points}.0}},"consents":{{"marketing":{{"email":{{"val":"y"}},"call":{{"val":"n"}}}}}}}}"#
    )
}

/// The same CRM record as a CSV header and row (XDM paths as column names).
pub const CRM_CSV_HEADER: &str = "identityMap.CRMID.0.id,identityMap.CRMID.0.primary,identityMap.Email.0.id,person.name.firstName,person.name.lastName,person.birthDate,personalEmail.address,homeAddress.city,homeAddress.stateProvince,homeAddress.countryCode,homeAddress.postalCode,mobilePhone.number,loyalty.tier,loyalty.points,consents.marketing.email.val,consents.marketing.call.val";

pub fn crm_csv_row(profile: usize) -> String {
    let tier = ["bronze", "silver", "gold"][profile % 3];
    let email = email(profile);
    format!("crm-{profile},true,{email},Customer,Number {profile},1984-05-17,{email},Seattle,WA,US,98101,+1206{profile:07},{tier},{},y,n", profile % 5000)
}

fn event(dataset: &str, profile: usize, n: usize) -> String {
    envelope(dataset, &event_entity(profile, n))
}

/// When generated events happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dating {
    /// Spread over January to October 2026 by their number: history loaded late, and events
    /// that arrive out of order.
    History,
    /// The moment they are made: events streamed as they happen.
    Now,
}

/// An experience event (ECID and email; a purchase every fourth, else a page view), as JSON text.
pub fn event_entity(profile: usize, n: usize) -> String {
    event_entity_dated(profile, n, Dating::History)
}

/// [`event_entity`], dated as `dating` says.
pub fn event_entity_dated(profile: usize, n: usize, dating: Dating) -> String {
    let timestamp = match dating {
        Dating::History => format!(
            "2026-{:02}-{:02}T{:02}:{:02}:00Z",
            1 + n % 10,
            1 + n % 28,
            n % 24,
            (profile + n) % 60
        ),
        Dating::Now => chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let identities = format!(
        r#"{{"ECID":[{{"id":"{}"}}],"Email":[{{"id":"{}"}}]}}"#,
        ecid(profile),
        email(profile)
    );
    let body = if n.is_multiple_of(4) {
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
    body
}

/// Where the benchmark streams its batches of messages.
pub(crate) const STREAMING_BATCH_PATH: &str = "/collection/batch/bench";

/// A streaming batch request's body holding `messages` (envelopes as JSON text).
pub(crate) fn streaming_batch(messages: impl Iterator<Item = String>) -> String {
    let messages: Vec<String> = messages.collect();
    format!(r#"{{"messages":[{}]}}"#, messages.join(","))
}

/// Sends `total` messages built by `make`, split into batches over `clients` connections.
pub(crate) async fn send_all(
    args: &Args,
    address: &str,
    sandbox: Option<&str>,
    total: usize,
    make: impl Fn(usize) -> String + Send + Sync + Clone + 'static,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let batch = args.batch_size.max(1);
    let clients = args.ingest_clients.max(1);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let make = make.clone();
        let address = address.to_owned();
        let sandbox = sandbox.map(str::to_owned);
        tasks.push(tokio::spawn(async move {
            let mut connection = connect(&address, sandbox.as_deref()).await?;
            let mut start = client * batch;
            while start < total {
                let end = (start + batch).min(total);
                let body = streaming_batch((start..end).map(&make));
                let reply = connection
                    .post_raw(STREAMING_BATCH_PATH, body.into_bytes())
                    .await?;
                if let Some(failed) = reply["responses"]
                    .as_array()
                    .and_then(|r| r.iter().find(|m| m.get("statusCode").is_some()))
                {
                    anyhow::bail!("a message was refused: {failed}");
                }
                start += clients * batch;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed().as_secs_f64())
}

pub async fn load(args: &Args, address: &str, setup: &Setup) -> anyhow::Result<Loaded> {
    let crm = setup.crm_dataset.clone();
    let record_seconds = send_all(args, address, None, args.profiles, move |p| {
        crm_record(&crm, p)
    })
    .await?;
    let events_dataset = setup.event_dataset.clone();
    let per_profile = args.events_per_profile.max(1);
    let total_events = args.profiles * args.events_per_profile;
    // Events go profile-interleaved, as live traffic does.
    let profiles = args.profiles.max(1);
    let mut slices = Vec::with_capacity(SLICES);
    // Without events (`--events-per-profile 0`) there is nothing to slice.
    let slice_count = if total_events == 0 { 0 } else { SLICES };
    for slice in 0..slice_count {
        let from = total_events * slice / SLICES;
        let to = total_events * (slice + 1) / SLICES;
        let events_dataset = events_dataset.clone();
        let before = crate::ingest::WriterCounters::read(address).await?;
        let seconds = send_all(args, address, None, to - from, move |i| {
            let i = from + i;
            event(
                &events_dataset,
                i % profiles,
                i / profiles % per_profile + (i / profiles / per_profile) * per_profile,
            )
        })
        .await?;
        let after = crate::ingest::WriterCounters::read(address).await?;
        slices.push(Slice {
            stored_before: from,
            events: to - from,
            seconds,
            writer: before.until(&after, seconds),
        });
    }
    Ok(Loaded {
        records: args.profiles,
        record_seconds,
        events: total_events,
        event_seconds: slices.iter().map(|s| s.seconds).sum(),
        slices,
    })
}

/// Labels the birth date I2 on the benchmark's profile schema and makes a key of the built-in
/// sales role (which is not granted I2): its lookups leave the birth date out.
pub async fn sales_key(address: &str, setup: &Setup) -> anyhow::Result<String> {
    let mut connection = connect(address, setup.sandbox.as_deref()).await?;
    let schemas = connection
        .get_json("/data/foundation/schemaregistry/tenant/schemas")
        .await?;
    let schema = schemas["results"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["title"] == "CRM"))
        .and_then(|s| s["$id"].as_str())
        .ok_or_else(|| anyhow::anyhow!("the benchmark's CRM schema is not listed"))?
        .to_owned();
    connection
        .post_json(
            "/data/foundation/schemaregistry/tenant/descriptors",
            &json!({"@type": "xdm:descriptorLabel", "xdm:sourceSchema": schema, "xdm:sourceProperty": ["/person/birthDate"], "xdm:labels": ["I2"]}),
        )
        .await?;
    let key = connection
        .post_json(
            "/data/rapport/keys",
            &json!({"name": "bench-sales", "actions": ["profiles.read"], "sandboxes": ["*"], "role": "sales"}),
        )
        .await?;
    key["key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no key in {key}"))
}
