//! Computed attributes: aggregates of a profile's experience events (sum, count, min, max,
//! most recent over a lookback), kept exact inside the write that changes them and as their
//! windows slide, shown on the profile under `_{tenant}.SystemComputedAttributes.<name>.value`
//! and readable by segment definitions.
//!
//! Each profile keeps, per attribute, the state of [`state::AttributeState`] in the Computed
//! table. A new event updates it in place; an event replaced, a merge or split, or a changed
//! definition rebuilds it from the stored events; the next instant a window lets an event go is
//! an entry in the Schedule table, so values change on time with no new data.

pub mod definitions;
pub mod state;

use std::collections::BTreeMap;

use rapport_types::{Code, ProfileId, SandboxName};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{Table, WriteTxn};

use crate::catalog::SandboxCatalog;
use crate::error::{Error, Result};
use crate::keys;
use crate::records::{decode, encode};

pub use definitions::{ComputedAttribute, Publication, FIELD_GROUP};
pub use state::{AttributeState, Entry, Function, Lookback, LookbackUnit, Scalar};

/// The key under which the computed attributes' next change sits among a profile's scheduled
/// changes (segment ids never start with a NUL).
pub const SCHEDULE_KEY: &str = "\0computed";

/// One published attribute ready to maintain.
pub struct CompiledAttribute {
    pub definition: ComputedAttribute,
    /// The event filter (`None`: every event).
    filter: Option<segments::Definition>,
    /// The aggregated field's path.
    field: Vec<String>,
    /// Whether the field is a number in the event schema (`None` for `COUNT`).
    pub(crate) field_kind: Option<bool>,
    stamp: u64,
}

impl CompiledAttribute {
    /// Compiles an attribute's filter and resolves its field against the sandbox's union
    /// schemas ([`union_trees`]).
    pub fn compile(
        (profile, event): &(xdm::ObjectField, xdm::ObjectField),
        attribute: &ComputedAttribute,
    ) -> Result<CompiledAttribute> {
        let invalid = |message: String| Error::user(Code::InvalidComputedAttribute, message);
        let filter = if attribute.filter == "true" {
            None
        } else {
            let context = segments::SchemaContext {
                profile,
                event,
                segment_exists: &|_| false,
            };
            let program = segments::compile(&format!("xEvent[{}]", attribute.filter), &context)
                .map_err(|e| {
                    Error::user(
                        Code::InvalidPql,
                        format!("/expression/value: the event filter: {e}"),
                    )
                })?;
            let deps = program.dependencies();
            if deps.time_relative {
                return Err(invalid(
                    "/expression/value: the event filter may depend on time only through the lookback (timestamp occurs <= N units before now)".into(),
                ));
            }
            if !deps.profile_fields.is_empty() || !deps.segments.is_empty() {
                return Err(invalid(
                    "/expression/value: the event filter may read only the event, not the profile or its segments".into(),
                ));
            }
            Some(program)
        };
        let (field, field_kind) = match &attribute.field {
            None => (Vec::new(), None),
            Some(path) => {
                let names: Vec<String> = path.split('.').map(str::to_owned).collect();
                let mut object = event;
                let mut kind = None;
                for (i, name) in names.iter().enumerate() {
                    let field = object.properties.get(name).ok_or_else(|| {
                        invalid(format!(
                            "/expression/value: unknown event field \"{path}\" (no \"{name}\" in the ExperienceEvent union schema)"
                        ))
                    })?;
                    let last = i + 1 == names.len();
                    match (&field.ty, last) {
                        (xdm::FieldType::Object(inner), false) => object = inner,
                        (xdm::FieldType::Integer { .. } | xdm::FieldType::Number { .. }, true) => {
                            kind = Some(true)
                        }
                        (xdm::FieldType::String(_) | xdm::FieldType::Boolean, true) => {
                            kind = Some(false)
                        }
                        _ => {
                            return Err(invalid(format!(
                                "/expression/value: \"{path}\" is not a single value: computed attributes aggregate a number, string or boolean field outside arrays"
                            )))
                        }
                    }
                }
                (names, kind)
            }
        };
        Ok(CompiledAttribute {
            definition: attribute.clone(),
            filter,
            field,
            field_kind,
            stamp: attribute.computation_stamp(),
        })
    }

    /// The entry an event makes, if it matches the filter.
    fn entry(&self, event: &segments::EventRef<'_>) -> Option<Entry> {
        self.matches(event).then(|| self.entry_of(event))
    }

    /// Whether an event passes the filter (its `eventType` is checked first, without
    /// evaluating, when the filter names the types it accepts).
    fn matches(&self, event: &segments::EventRef<'_>) -> bool {
        let Some(filter) = &self.filter else {
            return true;
        };
        if let Some(types) = &filter.dependencies().event_types {
            let event_type = event.value.get("eventType").and_then(Value::as_str);
            if !event_type.is_some_and(|t| types.contains(t)) {
                return false;
            }
        }
        let subject = segments::Subject {
            profile: &Value::Null,
            events: std::slice::from_ref(event),
            in_segment: &|_| false,
        };
        filter.evaluate(&subject, event.timestamp_ms).qualified
    }

    /// The entry of an event that passed the filter.
    fn entry_of(&self, event: &segments::EventRef<'_>) -> Entry {
        let mut value = Some(event.value);
        for name in &self.field {
            value = value.and_then(|v| v.get(name));
        }
        Entry {
            timestamp_ms: event.timestamp_ms,
            value: if self.field.is_empty() {
                Scalar::Missing
            } else {
                Scalar::from_json(value)
            },
        }
    }
}

/// The profile and event union schemas attributes are compiled against.
pub fn union_trees(catalog: &SandboxCatalog) -> Result<(xdm::ObjectField, xdm::ObjectField)> {
    Ok((
        crate::catalog::schemas::union_tree(catalog, xdm::Class::Profile)?,
        crate::catalog::schemas::union_tree(catalog, xdm::Class::ExperienceEvent)?,
    ))
}

/// The published attributes of a sandbox, compiled against its current schemas.
#[derive(Default)]
pub struct ComputedIndex {
    pub attributes: Vec<CompiledAttribute>,
    /// Attributes that no longer compile (a schema changed under them), with the reason.
    pub failed: BTreeMap<String, String>,
    /// What maintaining them decodes of an event.
    events: Option<segments::EventProjection>,
    /// For each attribute, the first attribute with the same filter: a filter is evaluated
    /// once per event, whatever the number of attributes sharing it.
    same_filter: Vec<usize>,
    /// The built-in models whose scores are kept beside the attributes, with what scoring
    /// reads of an event.
    models: Option<(
        std::sync::Arc<crate::scores::TrainedModels>,
        segments::EventProjection,
    )>,
}

impl std::fmt::Debug for ComputedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputedIndex")
            .field("attributes", &self.attributes.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl ComputedIndex {
    pub fn build(catalog: &SandboxCatalog) -> ComputedIndex {
        let mut index = ComputedIndex {
            models: catalog
                .models
                .clone()
                .map(|m| (m.clone(), m.settings.event_projection())),
            ..ComputedIndex::default()
        };
        let published = catalog
            .computed
            .values()
            .filter(|a| a.publication == Publication::Published);
        let trees = match union_trees(catalog) {
            Ok(trees) => trees,
            Err(error) => {
                for attribute in published {
                    index.failed.insert(attribute.id.clone(), error.to_string());
                }
                return index;
            }
        };
        for attribute in published {
            match CompiledAttribute::compile(&trees, attribute) {
                Ok(compiled) => index.attributes.push(compiled),
                Err(error) => {
                    index.failed.insert(attribute.id.clone(), error.to_string());
                }
            }
        }
        index
            .attributes
            .sort_by(|a, b| a.definition.name.cmp(&b.definition.name));
        if !index.attributes.is_empty() {
            let mut projection = segments::EventProjection::of(
                index.attributes.iter().filter_map(|a| a.filter.as_ref()),
            );
            let fields: Vec<String> = index
                .attributes
                .iter()
                .flat_map(|a| a.field.iter().cloned())
                .collect();
            projection.also_keep(fields.iter().map(String::as_str));
            index.events = Some(projection);
        }
        index
    }

    /// Whether there is nothing to keep: no attribute and no model.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.models.is_none()
    }

    /// The schema fields of the values, for the profile union schema.
    pub fn schema_fields(catalog: &SandboxCatalog, event: &xdm::ObjectField) -> xdm::ObjectField {
        let mut group = xdm::ObjectField::new();
        for attribute in catalog.computed.values() {
            let value = xdm::ObjectField::new().with("value", attribute.value_field(Some(event)));
            let mut field = xdm::Field::new(xdm::FieldType::Object(value));
            field.title = Some(attribute.display_name.clone());
            field.description = attribute.description.clone();
            group = group.with(&attribute.name, field);
        }
        if catalog.models.is_some() {
            for (name, field) in crate::scores::schema_fields() {
                group = group.with(name, field);
            }
        }
        group
    }
}

/// The Computed table's value: each attribute's state, under the stamp of what it computes
/// ([`ComputedAttribute::computation_stamp`]): a changed definition finds no state and starts
/// again from the events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileComputed {
    pub attributes: BTreeMap<u64, AttributeState>,
    /// When the values next change with no new data (mirrored in the Schedule).
    pub next_change_ms: Option<i64>,
    /// The built-in models' scores.
    pub scores: Option<crate::scores::ProfileScores>,
}

/// An event just stored for a profile.
pub struct NewEvent<'a> {
    pub id: &'a str,
    pub event_type: Option<&'a str>,
    pub timestamp_ms: i64,
    pub json: &'a [u8],
    /// Whether it replaced a stored event with the same `_id` (its old values must go).
    pub replaced: bool,
}

/// What maintaining a profile's attributes produced: the values object to show.
pub struct Values {
    /// `{"<name>": {"value": ...}, ...}` as JSON bytes.
    pub json: Vec<u8>,
}

impl Values {
    /// The values as a JSON value (for evaluating segments on them).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

fn load(
    txn: &dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<ProfileComputed> {
    match txn.get(Table::Computed, &keys::profile(sandbox, profile_id))? {
        Some(bytes) => decode(bytes),
        None => Ok(ProfileComputed::default()),
    }
}

/// Brings a profile's attributes up to date at `now_ms` — `rebuild` from the stored events,
/// or from the stored state plus `event` — stores them, moves the schedule, and returns the
/// values when they may have changed (always with `rebuild`). `None` when the sandbox has no
/// attributes and the profile held none.
pub fn maintain(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    event: Option<&NewEvent<'_>>,
    rebuild: bool,
    now_ms: i64,
) -> Result<Option<Values>> {
    let index = &catalog.computed_index;
    if index.is_empty() && event.is_some() && !rebuild {
        // Nothing to keep (what a deleted attribute left is cleared by its backfill).
        return Ok(None);
    }
    // The event's value and which filters it passes, before reading any state: an event no
    // attribute or model looks at leaves the state as it is (windows closing are the
    // scheduler's, and a new attribute's backfill reaches every profile).
    let parsed = match event {
        Some(e) if !rebuild && !e.replaced && !index.is_empty() => {
            let value = index
                .events
                .as_ref()
                .map_or_else(|| serde_json::from_slice(e.json), |p| p.parse(e.json))
                .unwrap_or(Value::Null);
            let mut passed: Vec<Option<bool>> = vec![None; index.attributes.len()];
            {
                let event = segments::EventRef {
                    id: e.id,
                    timestamp_ms: e.timestamp_ms,
                    value: &value,
                };
                for (i, attribute) in index.attributes.iter().enumerate() {
                    let first = index.same_filter.get(i).copied().unwrap_or(i);
                    if passed[first].is_none() {
                        passed[first] = Some(attribute.matches(&event));
                    }
                }
            }
            let scored = index
                .models
                .as_ref()
                .is_some_and(|(m, _)| crate::scores::History::relevant(&m.settings, e.event_type));
            if !scored && passed.iter().all(|p| *p != Some(true)) {
                return Ok(None);
            }
            Some((value, passed))
        }
        _ => None,
    };
    let mut stored = load(&*txn, sandbox, profile_id)?;
    if index.is_empty() && stored.attributes.is_empty() && stored.scores.is_none() {
        return Ok(None);
    }
    let before_next = stored.next_change_ms;
    // Whether the stored state must be written back.
    let mut dirty = false;
    let rebuild = rebuild || event.is_some_and(|e| e.replaced);
    // Attributes computed for another definition (or never) start again from the events.
    let stale: Vec<bool> = index
        .attributes
        .iter()
        .map(|a| rebuild || !stored.attributes.contains_key(&a.stamp))
        .collect();
    let mut changed = stored.attributes.len() != index.attributes.len()
        || stored
            .attributes
            .keys()
            .any(|stamp| !index.attributes.iter().any(|a| a.stamp == *stamp));
    if changed {
        dirty = true;
        stored
            .attributes
            .retain(|stamp, _| index.attributes.iter().any(|a| a.stamp == *stamp));
    }
    if stale.iter().any(|s| *s) {
        let wanted: Vec<&CompiledAttribute> = index
            .attributes
            .iter()
            .zip(&stale)
            .filter(|(_, stale)| **stale)
            .map(|(a, _)| a)
            .collect();
        let mut states: Vec<AttributeState> = vec![AttributeState::default(); wanted.len()];
        let everything;
        let projection = match &index.events {
            Some(projection) => projection,
            None => {
                everything = segments::EventProjection::everything();
                &everything
            }
        };
        let events =
            crate::segment::LoadedEvents::load(&*txn, sandbox, profile_id, None, projection)?;
        for event in events.refs() {
            for (attribute, state) in wanted.iter().zip(states.iter_mut()) {
                if let Some(entry) = attribute.entry(&event) {
                    state.add(attribute.definition.lookback, entry, now_ms);
                }
            }
        }
        for (attribute, state) in wanted.into_iter().zip(states) {
            stored.attributes.insert(attribute.stamp, state);
        }
        changed = true;
        dirty = true;
    } else if let (Some(event), Some((value, passed))) = (event, &parsed) {
        let event = segments::EventRef {
            id: event.id,
            timestamp_ms: event.timestamp_ms,
            value,
        };
        for (i, attribute) in index.attributes.iter().enumerate() {
            let first = index.same_filter.get(i).copied().unwrap_or(i);
            if passed.get(first).copied().flatten() != Some(true) {
                continue;
            }
            // Two attributes computing the same thing share one state: add the event once.
            if index.attributes[..i]
                .iter()
                .any(|a| a.stamp == attribute.stamp)
            {
                continue;
            }
            if let Some(state) = stored.attributes.get_mut(&attribute.stamp) {
                state.add(
                    attribute.definition.lookback,
                    attribute.entry_of(&event),
                    now_ms,
                );
                changed = true;
                dirty = true;
            }
        }
    }
    match &index.models {
        Some((models, projection)) => {
            let stale = stored
                .scores
                .as_ref()
                .is_none_or(|s| s.version != models.version);
            let relevant = event
                .is_some_and(|e| crate::scores::History::relevant(&models.settings, e.event_type));
            if stale || relevant || rebuild {
                let history = crate::scores::read_history(
                    &*txn,
                    sandbox,
                    profile_id,
                    &models.settings,
                    projection,
                )?;
                // Models trained for a given date score as of that date.
                let at = models.settings.as_of_ms.unwrap_or(now_ms);
                let scored = crate::scores::score(models, &history, at);
                changed |= stored.scores.as_ref().map(|s| &s.values) != Some(&scored.values);
                stored.scores = Some(scored);
                dirty = true;
            }
        }
        None => {
            if stored.scores.take().is_some() {
                changed = true;
                dirty = true;
            }
        }
    }
    let mut next = None;
    for attribute in &index.attributes {
        if let Some(state) = stored.attributes.get_mut(&attribute.stamp) {
            let moved = state.advance(attribute.definition.lookback, now_ms);
            changed |= moved;
            dirty |= moved;
            let at = state.next_change(attribute.definition.lookback, now_ms);
            next = match (next, at) {
                (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                (a, b) => a.or(b),
            };
        }
    }
    stored.next_change_ms = next;
    if dirty || before_next != next {
        let key = keys::profile(sandbox, profile_id);
        if stored.attributes.is_empty() && stored.scores.is_none() {
            txn.delete(Table::Computed, &key)?;
        } else {
            txn.put(Table::Computed, &key, &encode(&stored)?)?;
        }
        if before_next != next {
            crate::segment::membership::set_scheduled_change(
                txn,
                sandbox,
                profile_id,
                SCHEDULE_KEY,
                next,
            )?;
        }
    }
    if !changed && !rebuild {
        return Ok(None);
    }
    Ok(Some(render(index, &stored, now_ms)?))
}

/// The values object of a profile's attributes at `now_ms`, written straight as JSON;
/// attributes without a value (a minimum of nothing) are left out.
fn render(index: &ComputedIndex, stored: &ProfileComputed, now_ms: i64) -> Result<Values> {
    let mut json = Vec::with_capacity(32 * (index.attributes.len() + 1));
    json.push(b'{');
    let mut first = true;
    for attribute in &index.attributes {
        let Some(state) = stored.attributes.get(&attribute.stamp) else {
            continue;
        };
        let value = state.value(
            attribute.definition.lookback,
            attribute.definition.function,
            now_ms,
        );
        if value.is_null() {
            continue;
        }
        if !first {
            json.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut json, &attribute.definition.name).map_err(Error::internal)?;
        json.extend_from_slice(b":{\"value\":");
        serde_json::to_writer(&mut json, &value).map_err(Error::internal)?;
        json.push(b'}');
    }
    if let Some(scores) = &stored.scores {
        for (name, value) in scores.values() {
            if !first {
                json.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut json, &name).map_err(Error::internal)?;
            json.push(b':');
            serde_json::to_writer(&mut json, &value).map_err(Error::internal)?;
        }
    }
    json.push(b'}');
    Ok(Values { json })
}

/// A profile's values as of now, read without writing (lookups under another merge policy).
pub fn read_values(
    txn: &dyn store::ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<Option<Value>> {
    let index = &catalog.computed_index;
    if index.is_empty() {
        return Ok(None);
    }
    let mut stored: ProfileComputed =
        match txn.get(Table::Computed, &keys::profile(sandbox, profile_id))? {
            Some(bytes) => decode(bytes)?,
            None => return Ok(None),
        };
    let now_ms = crate::catalog::now_ms();
    for attribute in &index.attributes {
        if let Some(state) = stored.attributes.get_mut(&attribute.stamp) {
            state.advance(attribute.definition.lookback, now_ms);
        }
    }
    Ok(Some(render(index, &stored, now_ms)?.value()))
}

/// Puts `values` at `entity._{tenant}.SystemComputedAttributes` (creating the tenant object).
pub fn place_values(entity: &mut serde_json::Map<String, Value>, tenant_key: &str, values: Value) {
    let tenant = entity
        .entry(tenant_key.to_owned())
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(tenant) = tenant {
        tenant.insert(FIELD_GROUP.to_owned(), values);
    }
}

/// Removes a profile's attribute state (the profile was deleted or merged away).
pub fn forget(txn: &mut dyn WriteTxn, sandbox: &SandboxName, profile_id: ProfileId) -> Result<()> {
    txn.delete(Table::Computed, &keys::profile(sandbox, profile_id))?;
    Ok(())
}
