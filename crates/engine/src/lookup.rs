//! Reading profiles and their events: identity → profile id → prepared view in one read
//! transaction, merging on read only when the request asks for another policy.

use rapport_types::{Code, ProfileId, SandboxName};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use store::{Direction, ReadTxn, Scan, Table};

use crate::access::Redaction;
use crate::catalog::{IdentityGraphType, MergePolicy, SandboxCatalog};
use crate::error::{Error, Result};
use crate::identity::graph::Graph;
use crate::identity::IdentityKey;
use crate::ingest::apply::load_fragments;
use crate::keys;
use crate::merge::{merge_entity, MergeInput};
use crate::records::{decode, decode_view, ProfileRecord, StoredEvent};
use crate::time::format_rfc3339_ms;

/// What a lookup names: an identity, or a profile by its own id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityRef {
    Identity(IdentityKey),
    Profile(ProfileId),
}

/// Finds the live profile an entity reference points to, following merge forwards.
pub fn resolve(
    txn: &dyn ReadTxn,
    sandbox: &SandboxName,
    entity: &EntityRef,
) -> Result<Option<(ProfileId, Graph)>> {
    let mut profile_id = match entity {
        EntityRef::Identity(identity) => {
            match txn
                .get(Table::Identities, &keys::identity(sandbox, identity))?
                .and_then(ProfileId::from_be_slice)
            {
                Some(id) => id,
                None => return Ok(None),
            }
        }
        EntityRef::Profile(id) => *id,
    };
    for _ in 0..64 {
        let Some(bytes) = txn.get(Table::Profiles, &keys::profile(sandbox, profile_id))? else {
            return Ok(None);
        };
        match decode::<ProfileRecord>(bytes)? {
            ProfileRecord::Live(graph) => return Ok(Some((profile_id, graph))),
            ProfileRecord::Forward(next) => profile_id = next,
        }
    }
    Err(Error::internal("profile forwarding chain too long"))
}

/// Returns the profile id without decoding the graph, for the prepared-view fast path.
fn resolve_id(
    txn: &dyn ReadTxn,
    sandbox: &SandboxName,
    entity: &EntityRef,
) -> Result<Option<ProfileId>> {
    match entity {
        EntityRef::Identity(identity) => Ok(txn
            .get(Table::Identities, &keys::identity(sandbox, identity))?
            .and_then(ProfileId::from_be_slice)),
        EntityRef::Profile(_) => Ok(resolve(txn, sandbox, entity)?.map(|(id, _)| id)),
    }
}

/// The options of a profile lookup.
#[derive(Debug, Clone, Default)]
pub struct ProfileRequest {
    /// Dotted XDM paths to return; empty means everything.
    pub fields: Vec<String>,
    /// Another merge policy than the default.
    pub merge_policy_id: Option<String>,
    /// Whether computed attributes are included (the reference's `withCA=true`).
    pub with_computed: bool,
}

/// Looks up one profile; returns its id and the JSON of the entity item.
pub fn profile(
    txn: &dyn ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    entity: &EntityRef,
    request: &ProfileRequest,
    redaction: &Redaction,
) -> Result<Option<(ProfileId, Vec<u8>)>> {
    let default_policy = catalog.default_merge_policy().ok_or_else(|| {
        Error::user(
            Code::NoDefaultMergePolicy,
            "the profile class has no default merge policy in this sandbox",
        )
    })?;
    let policy = match &request.merge_policy_id {
        Some(id) => catalog.merge_policy(id).ok_or_else(|| {
            Error::user(
                Code::MergePolicyNotFound,
                format!("mergePolicyId: no merge policy \"{id}\" exists in this sandbox"),
            )
        })?,
        None => default_policy,
    };
    if policy.schema_name != xdm::Class::Profile.ups_name() {
        return Err(Error::user(
            Code::InvalidMergePolicy,
            format!(
                "mergePolicyId: merge policy \"{}\" is for {}, not _xdm.context.profile",
                policy.id, policy.schema_name
            ),
        ));
    }
    if policy.id == default_policy.id {
        let Some(profile_id) = resolve_id(txn, sandbox, entity)? else {
            return Ok(None);
        };
        if let Some(bytes) = txn.get(Table::Views, &keys::profile(sandbox, profile_id))? {
            if let Some(view) = decode_view(bytes) {
                if view.stamp == catalog.view_stamp {
                    let values = match request.with_computed {
                        true => crate::computed::values_json(txn, catalog, sandbox, profile_id)?,
                        false => None,
                    };
                    let json = match values {
                        Some(values) => view.with_computed(&values),
                        None => view.without_computed(),
                    };
                    if request.fields.is_empty() && redaction.is_empty() {
                        return Ok(Some((profile_id, json)));
                    }
                    let mut item: Value = serde_json::from_slice(&json).map_err(Error::internal)?;
                    redaction.redact_profile_item(&mut item);
                    return Ok(Some((profile_id, project_item(item, &request.fields))));
                }
            }
        }
    }
    let Some((profile_id, graph)) = resolve(txn, sandbox, entity)? else {
        return Ok(None);
    };
    let mut item = merge_on_read(txn, catalog, sandbox, policy, profile_id, &graph, entity)?;
    if request.with_computed {
        if let Some(values) = crate::computed::read_values(txn, catalog, sandbox, profile_id)? {
            if let Some(Value::Object(attributes)) = item.get_mut("entity") {
                crate::computed::place_values(attributes, &catalog.tenant_key, values);
            }
        }
    }
    redaction.redact_profile_item(&mut item);
    Ok(Some((profile_id, project_item(item, &request.fields))))
}

fn merge_on_read(
    txn: &dyn ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    policy: &MergePolicy,
    profile_id: ProfileId,
    graph: &Graph,
    entity: &EntityRef,
) -> Result<Value> {
    let fragments = load_fragments(txn, sandbox, profile_id)?;
    let focus = match entity {
        EntityRef::Identity(identity) if policy.identity_graph == IdentityGraphType::None => {
            Some(identity)
        }
        _ => None,
    };
    let input = MergeInput {
        catalog,
        profile_id,
        graph,
        fragments: &fragments,
        focus,
    };
    Ok(merge_entity(policy, &input))
}

fn project_item(mut item: Value, fields: &[String]) -> Vec<u8> {
    if !fields.is_empty() {
        if let Some(entity) = item.get("entity") {
            let projected = project(entity, fields);
            item["entity"] = projected;
        }
    }
    serde_json::to_vec(&item).unwrap_or_default()
}

/// Keeps only the given dotted paths of `value`; `identities` is the reference's identity list.
pub fn project(value: &Value, fields: &[String]) -> Value {
    let mut out = Map::new();
    for field in fields {
        if field == "identities" {
            let identities: Vec<Value> = value
                .get("identityMap")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .flat_map(|(namespace, items)| {
                    items.as_array().into_iter().flatten().map(move |item| {
                        let mut identity = json!({"id": item.get("id").cloned().unwrap_or(Value::Null), "namespace": {"code": namespace}});
                        if item.get("primary").and_then(Value::as_bool) == Some(true) {
                            identity["primary"] = json!(true);
                        }
                        identity
                    })
                })
                .collect();
            out.insert("identities".into(), Value::Array(identities));
            continue;
        }
        let parts: Vec<&str> = field.split('.').filter(|p| !p.is_empty()).collect();
        if let Some(Value::Object(selected)) = select(value, &parts) {
            merge_selection(&mut out, selected);
        }
    }
    Value::Object(out)
}

/// The part of `value` under `parts`, keeping the enclosing objects; arrays are walked element
/// by element, so `productListItems.SKU` keeps the SKU of every item.
fn select(value: &Value, parts: &[&str]) -> Option<Value> {
    let Some((first, rest)) = parts.split_first() else {
        return Some(value.clone());
    };
    match value {
        Value::Object(object) => {
            let inner = select(object.get(*first)?, rest)?;
            let mut wrapped = Map::new();
            wrapped.insert((*first).to_owned(), inner);
            Some(Value::Object(wrapped))
        }
        Value::Array(items) => {
            let selected: Vec<Value> = items
                .iter()
                .map(|item| select(item, parts).unwrap_or_else(|| json!({})))
                .collect();
            selected
                .iter()
                .any(|v| v != &json!({}))
                .then_some(Value::Array(selected))
        }
        _ => None,
    }
}

/// Merges one selection into the projection: objects key by key, arrays element by element.
fn merge_selection(out: &mut Map<String, Value>, selected: Map<String, Value>) {
    for (key, incoming) in selected {
        match (out.get_mut(&key), incoming) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                merge_selection(existing, incoming)
            }
            (Some(Value::Array(existing)), Value::Array(incoming))
                if existing.len() == incoming.len() =>
            {
                for (slot, item) in existing.iter_mut().zip(incoming) {
                    if let (Value::Object(slot), Value::Object(item)) = (slot, item) {
                        merge_selection(slot, item);
                    }
                }
            }
            (_, incoming) => {
                out.insert(key, incoming);
            }
        }
    }
}

/// A comparison in a `property` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One `property=path<op>value` filter on events.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyFilter {
    pub path: String,
    pub comparison: Comparison,
    pub value: Value,
}

impl PropertyFilter {
    /// Parses `webPageDetails.isHomepage=true` or `localTime<="2020-07-20"`.
    pub fn parse(text: &str) -> Option<PropertyFilter> {
        let operators: [(&str, Comparison); 6] = [
            ("!=", Comparison::Ne),
            ("<=", Comparison::Le),
            (">=", Comparison::Ge),
            ("=", Comparison::Eq),
            ("<", Comparison::Lt),
            (">", Comparison::Gt),
        ];
        let (position, operator, comparison) = operators
            .iter()
            .filter_map(|(op, cmp)| text.find(op).map(|p| (p, *op, *cmp)))
            .min_by_key(|(p, op, _)| (*p, std::cmp::Reverse(op.len())))?;
        let path = text[..position].trim();
        let raw = text[position + operator.len()..].trim();
        if path.is_empty() || raw.is_empty() {
            return None;
        }
        let value = if let Some(quoted) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Value::String(quoted.to_owned())
        } else if let Ok(parsed) = serde_json::from_str::<Value>(raw) {
            parsed
        } else {
            Value::String(raw.to_owned())
        };
        Some(PropertyFilter {
            path: path.to_owned(),
            comparison,
            value,
        })
    }

    fn matches(&self, event: &Value) -> bool {
        let found = self.path.split('.').try_fold(event, |v, part| v.get(part));
        let Some(found) = found else {
            return self.comparison == Comparison::Ne;
        };
        let ordering = match (found, &self.value) {
            (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (a, Value::String(b)) => Some(a.to_string().trim_matches('"').cmp(b.as_str())),
            _ => None,
        };
        let Some(ordering) = ordering else {
            return self.comparison == Comparison::Ne;
        };
        use std::cmp::Ordering::*;
        match self.comparison {
            Comparison::Eq => ordering == Equal,
            Comparison::Ne => ordering != Equal,
            Comparison::Lt => ordering == Less,
            Comparison::Le => ordering != Greater,
            Comparison::Gt => ordering == Greater,
            Comparison::Ge => ordering != Less,
        }
    }
}

/// The most stored events one page examines; past it the page ends early, with a next cursor.
pub const MAX_EXAMINED_PER_PAGE: usize = 20_000;

/// The options of an events lookup.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Inclusive, epoch ms.
    pub start_ms: Option<i64>,
    /// Exclusive, epoch ms.
    pub end_ms: Option<i64>,
    pub descending: bool,
    pub limit: usize,
    pub filters: Vec<PropertyFilter>,
    /// The tail of the last event of the previous page.
    pub after: Option<[u8; 16]>,
    pub fields: Vec<String>,
    pub merge_policy_id: Option<String>,
    /// Decode only these fields of each event (`None`: all of them). Filters see the projected
    /// event, so they must name kept fields.
    pub projection: Option<segments::EventProjection>,
}

/// One page of a profile's events.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub profile_id: ProfileId,
    /// Each event as the reference shows it (`entity`, `entityId`, `lastModifiedAt`,
    /// `relatedEntityId`, `timestamp`), already JSON: an event read whole is copied from the
    /// store into the answer without being parsed into a tree and written out again.
    pub children: Vec<Box<RawValue>>,
    /// The first event's `_id` (the page's `start`).
    pub first_event_id: Option<String>,
    /// Where the next page starts, when there is one.
    pub next: Option<[u8; 16]>,
}

pub fn events(
    txn: &dyn ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    entity: &EntityRef,
    query: &EventQuery,
    redaction: &Redaction,
) -> Result<Option<EventPage>> {
    let policy = match &query.merge_policy_id {
        Some(id) => Some(catalog.merge_policy(id).ok_or_else(|| {
            Error::user(
                Code::MergePolicyNotFound,
                format!("mergePolicyId: no merge policy \"{id}\" exists in this sandbox"),
            )
        })?),
        None => catalog.default_merge_policy(),
    };
    let Some((profile_id, _graph)) = resolve(txn, sandbox, entity)? else {
        return Ok(None);
    };
    let focus = match (entity, policy) {
        (EntityRef::Identity(identity), Some(p)) if p.identity_graph == IdentityGraphType::None => {
            Some(identity)
        }
        _ => None,
    };
    let allowed_datasets: Option<&[String]> = match policy.map(|p| &p.attribute_merge) {
        Some(crate::catalog::AttributeMerge::DataSetPrecedence { order }) => Some(order),
        _ => None,
    };
    let prefix = keys::profile(sandbox, profile_id);
    let key_at = |ms: i64| {
        let mut key = prefix.clone();
        key.extend_from_slice(&keys::encode_time(ms));
        key
    };
    let mut start = query.start_ms.map(key_at).unwrap_or_else(|| prefix.clone());
    let mut end = query
        .end_ms
        .map(key_at)
        .unwrap_or_else(|| keys::events_end(sandbox, profile_id));
    if let Some(after) = query.after {
        let mut cursor = prefix.clone();
        cursor.extend_from_slice(&after);
        if query.descending {
            end = end.min(cursor);
        } else {
            cursor.push(0);
            start = start.max(cursor);
        }
    }
    let direction = if query.descending {
        Direction::Backward
    } else {
        Direction::Forward
    };
    let limit = query.limit.max(1);
    // Whole events, unfiltered and unredacted, are copied as they are stored.
    let whole = query.projection.is_none()
        && query.filters.is_empty()
        && query.fields.is_empty()
        && !redaction.redacts_events();
    let mut first_event_id = None;
    let mut children = Vec::new();
    let mut next = None;
    let mut failure = None;
    let mut last_tail = None;
    let mut examined = 0usize;
    txn.scan(Table::Events, &start, &end, direction, &mut |key, value| {
        // A page ends at `limit` events, or after examining MAX_EXAMINED_PER_PAGE events that the
        // filters refused: a filter that matches nothing costs a bounded amount per request.
        if children.len() == limit || examined == MAX_EXAMINED_PER_PAGE {
            next = last_tail;
            return Scan::Stop;
        }
        examined += 1;
        last_tail = keys::event_tail(key);
        let event: StoredEvent = match decode(value) {
            Ok(event) => event,
            Err(error) => {
                failure = Some(error);
                return Scan::Stop;
            }
        };
        if focus.is_some_and(|f| *f != event.primary)
            || allowed_datasets.is_some_and(|d| !d.contains(&event.dataset))
        {
            return Scan::Continue;
        }
        if whole {
            if let Some(child) = whole_event(profile_id, &event) {
                if children.is_empty() {
                    first_event_id = Some(event.event_id);
                }
                children.push(child);
            }
            return Scan::Continue;
        }
        let parsed = match &query.projection {
            Some(projection) => projection.parse(&event.json),
            None => serde_json::from_slice::<Value>(&event.json),
        };
        let Ok(body) = parsed else {
            return Scan::Continue;
        };
        if !query.filters.iter().all(|f| f.matches(&body)) {
            return Scan::Continue;
        }
        let mut body = body;
        redaction.redact_event(&mut body);
        let entity = if query.fields.is_empty() {
            body
        } else {
            project(&body, &query.fields)
        };
        // Built by moving the parsed event in: `json!` would copy it through its serializer.
        let mut child = serde_json::Map::with_capacity(5);
        child.insert(
            "relatedEntityId".into(),
            Value::String(profile_id.to_string()),
        );
        let event_id = event.event_id;
        child.insert("entityId".into(), Value::String(event_id.clone()));
        child.insert("timestamp".into(), Value::from(event.timestamp_ms));
        child.insert("entity".into(), entity);
        child.insert(
            "lastModifiedAt".into(),
            Value::String(format_rfc3339_ms(event.ingested_ms, false)),
        );
        if children.is_empty() {
            first_event_id = Some(event_id.clone());
        }
        match serde_json::value::to_raw_value(&Value::Object(child)) {
            Ok(child) => children.push(child),
            Err(error) => {
                failure = Some(Error::internal(error));
                return Scan::Stop;
            }
        }
        Scan::Continue
    })?;
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(Some(EventPage {
        profile_id,
        children,
        first_event_id,
        next,
    }))
}

/// A stored event as a page's child, its stored JSON (compact, keys in order, as the writer
/// wrote it) spliced in as it is; the keys in the order a JSON object of them is written in.
/// `None` when the stored bytes are not JSON.
fn whole_event(profile_id: ProfileId, event: &StoredEvent) -> Option<Box<RawValue>> {
    use std::fmt::Write;
    let entity = std::str::from_utf8(&event.json).ok()?;
    let mut text = String::with_capacity(entity.len() + 160);
    text.push_str("{\"entity\":");
    text.push_str(entity);
    text.push_str(",\"entityId\":");
    text.push_str(&serde_json::to_string(&event.event_id).ok()?);
    let _ = write!(
        text,
        ",\"lastModifiedAt\":\"{}\",\"relatedEntityId\":\"{profile_id}\",\"timestamp\":{}}}",
        format_rfc3339_ms(event.ingested_ms, false),
        event.timestamp_ms
    );
    RawValue::from_string(text).ok()
}
