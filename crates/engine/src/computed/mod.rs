//! Computed attributes: aggregates of a profile's experience events (sum, count, min, max,
//! most recent over a lookback), kept exact inside the write that changes them and as their
//! windows slide, shown on the profile under `_{tenant}.SystemComputedAttributes.<name>.value`
//! and readable by segment definitions.
//!
//! Each profile keeps, per attribute, the state of [`state::AttributeState`] and the value it
//! gives, in one Computed record where each attribute's part is bytes of its own: an event
//! decodes only the states it changes (or whose window moved) and copies the rest. A new event
//! updates a state in place; an event replaced, a merge or split, or a changed
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
    /// `"<name>":{"value":`, the start of its part of the values object.
    rendered_name: Vec<u8>,
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
            rendered_name: {
                let mut name = serde_json::to_vec(&attribute.name).map_err(Error::internal)?;
                name.extend_from_slice(b":{\"value\":");
                name
            },
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
    /// How many different computations the attributes make (two attributes may compute the
    /// same thing, and share a state).
    distinct_stamps: usize,
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
        index.same_filter = (0..index.attributes.len())
            .map(|i| {
                let filter = &index.attributes[i].definition.filter;
                index
                    .attributes
                    .iter()
                    .position(|a| a.definition.filter == *filter)
                    .unwrap_or(i)
            })
            .collect();
        let mut stamps: Vec<u64> = index.attributes.iter().map(|a| a.stamp).collect();
        stamps.sort_unstable();
        stamps.dedup();
        index.distinct_stamps = stamps.len();
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

/// The record of one profile's computed attributes and scores (in the Views table, beside
/// the profile's view: [`keys::computed`]). Each attribute keeps its state and its value as
/// last computed, as bytes of their own, so an event decodes and re-encodes only the attributes
/// it touches (or whose window moved) and copies the others as they are. States sit under the
/// stamp of what they compute ([`ComputedAttribute::computation_stamp`]): a changed definition
/// finds no state and starts again from the events.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredComputed<'a> {
    /// When the values next change with no new data (mirrored in the Schedule).
    next_change_ms: Option<i64>,
    /// The built-in models' scores.
    scores: Option<crate::scores::ProfileScores>,
    #[serde(borrow)]
    attributes: Vec<StoredAttribute<'a>>,
}

impl<'a> StoredComputed<'a> {
    /// The stored part of the computation with this stamp.
    fn attribute(&self, stamp: u64) -> Option<&StoredAttribute<'a>> {
        self.attributes.iter().find(|a| a.stamp == stamp)
    }
}

/// One attribute's part of a [`StoredComputed`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct StoredAttribute<'a> {
    stamp: u64,
    /// When this value next changes with no new data.
    next_change_ms: Option<i64>,
    /// The value as JSON text (`null` when there is none).
    #[serde(with = "serde_bytes")]
    value: &'a [u8],
    /// The [`AttributeState`], encoded.
    #[serde(with = "serde_bytes")]
    state: &'a [u8],
}

/// An attribute's state just brought up to date.
struct Updated {
    stamp: u64,
    next_change_ms: Option<i64>,
    value: Vec<u8>,
    state: Vec<u8>,
}

impl Updated {
    fn of(
        attribute: &CompiledAttribute,
        state: &mut AttributeState,
        now_ms: i64,
    ) -> Result<Updated> {
        let lookback = attribute.definition.lookback;
        state.advance(lookback, now_ms);
        let value = state.value(lookback, attribute.definition.function, now_ms);
        Ok(Updated {
            stamp: attribute.stamp,
            next_change_ms: state.next_change(lookback, now_ms),
            value: serde_json::to_vec(&value).map_err(Error::internal)?,
            state: encode(&*state)?,
        })
    }

    fn stored(&self) -> StoredAttribute<'_> {
        StoredAttribute {
            stamp: self.stamp,
            next_change_ms: self.next_change_ms,
            value: &self.value,
            state: &self.state,
        }
    }
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

/// Whether a stored value may have changed by `now_ms` with no new data.
fn due(stored: &StoredAttribute<'_>, now_ms: i64) -> bool {
    stored.next_change_ms.is_some_and(|at| at <= now_ms)
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
                    let first = index.same_filter[i];
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
    let key = keys::computed(sandbox, profile_id);
    // A copy, so the record can be rewritten while its parts are still read.
    let bytes = txn.get(Table::Views, &key)?.map(<[u8]>::to_vec);
    let mut stored: StoredComputed<'_> = match &bytes {
        Some(bytes) => decode(bytes)?,
        None => StoredComputed::default(),
    };
    if index.is_empty() && stored.attributes.is_empty() && stored.scores.is_none() {
        return Ok(None);
    }
    let before_next = stored.next_change_ms;
    let rebuild = rebuild || event.is_some_and(|e| e.replaced);
    let event_ref = match (event, &parsed) {
        (Some(event), Some((value, _))) => Some(segments::EventRef {
            id: event.id,
            timestamp_ms: event.timestamp_ms,
            value,
        }),
        _ => None,
    };
    // Whether the values shown may differ from the stored ones.
    let mut changed = stored.attributes.len() != index.distinct_stamps
        || stored
            .attributes
            .iter()
            .any(|a| !index.attributes.iter().any(|c| c.stamp == a.stamp));
    // Whether the stored record must be written back.
    let mut dirty = changed;
    let mut updated: Vec<Updated> = Vec::new();
    // Attributes with no state for their current definition (or all, rebuilding), read from
    // the stored events together.
    let mut stale: Vec<&CompiledAttribute> = Vec::new();
    for (i, attribute) in index.attributes.iter().enumerate() {
        if index.attributes[..i]
            .iter()
            .any(|a| a.stamp == attribute.stamp)
        {
            // Two attributes computing the same thing share one state.
            continue;
        }
        let old = stored
            .attributes
            .iter()
            .find(|a| a.stamp == attribute.stamp);
        let old = match old {
            Some(old) if !rebuild => old,
            _ => {
                stale.push(attribute);
                continue;
            }
        };
        let touched = parsed
            .as_ref()
            .is_some_and(|(_, passed)| passed[index.same_filter[i]] == Some(true));
        if !touched && !due(old, now_ms) {
            continue;
        }
        let mut state: AttributeState = decode(old.state)?;
        if let (true, Some(event)) = (touched, &event_ref) {
            state.add(
                attribute.definition.lookback,
                attribute.entry_of(event),
                now_ms,
            );
        }
        let fresh = Updated::of(attribute, &mut state, now_ms)?;
        changed |= fresh.value != old.value;
        dirty = true;
        updated.push(fresh);
    }
    if !stale.is_empty() {
        let mut states: Vec<AttributeState> = vec![AttributeState::default(); stale.len()];
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
            for (attribute, state) in stale.iter().zip(states.iter_mut()) {
                if let Some(entry) = attribute.entry(&event) {
                    state.add(attribute.definition.lookback, entry, now_ms);
                }
            }
        }
        for (attribute, state) in stale.into_iter().zip(states.iter_mut()) {
            updated.push(Updated::of(attribute, state, now_ms)?);
        }
        changed = true;
        dirty = true;
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
    // The record as it now stands: one entry per distinct computation, in the index's order.
    let mut attributes: Vec<StoredAttribute<'_>> = Vec::with_capacity(index.distinct_stamps);
    for attribute in &index.attributes {
        if attributes.iter().any(|a| a.stamp == attribute.stamp) {
            continue;
        }
        let current = updated
            .iter()
            .find(|u| u.stamp == attribute.stamp)
            .map(Updated::stored)
            .or_else(|| {
                stored
                    .attributes
                    .iter()
                    .find(|a| a.stamp == attribute.stamp)
                    .copied()
            });
        attributes.extend(current);
    }
    let next = attributes.iter().filter_map(|a| a.next_change_ms).min();
    let record = StoredComputed {
        next_change_ms: next,
        scores: stored.scores,
        attributes,
    };
    if dirty || before_next != next {
        if record.attributes.is_empty() && record.scores.is_none() {
            txn.delete(Table::Views, &key)?;
        } else {
            txn.put(Table::Views, &key, &encode(&record)?)?;
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
    Ok(Some(render(index, &record, &[])?))
}

/// The values object of a profile's attributes, written straight as JSON from their stored
/// values or, for the stamps in `recomputed`, those; attributes without a value (a minimum of
/// nothing) are left out.
fn render(
    index: &ComputedIndex,
    record: &StoredComputed<'_>,
    recomputed: &[(u64, Vec<u8>)],
) -> Result<Values> {
    let mut json = Vec::with_capacity(48 * (index.attributes.len() + 1));
    json.push(b'{');
    for attribute in &index.attributes {
        let Some(stored) = record.attribute(attribute.stamp) else {
            continue;
        };
        let value = recomputed
            .iter()
            .find(|(stamp, _)| *stamp == stored.stamp)
            .map_or(stored.value, |(_, value)| value.as_slice());
        if value == b"null" {
            continue;
        }
        if json.len() > 1 {
            json.push(b',');
        }
        json.extend_from_slice(&attribute.rendered_name);
        json.extend_from_slice(value);
        json.push(b'}');
    }
    if let Some(scores) = &record.scores {
        for (name, value) in scores.values() {
            if json.len() > 1 {
                json.push(b',');
            }
            serde_json::to_writer(&mut json, &name).map_err(Error::internal)?;
            json.push(b':');
            serde_json::to_writer(&mut json, &value).map_err(Error::internal)?;
        }
    }
    json.push(b'}');
    Ok(Values { json })
}

/// A profile's values as of now, read without writing (lookups under another merge policy):
/// the stored values, and those whose window moved since recomputed from their state.
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
    let Some(bytes) = txn.get(Table::Views, &keys::computed(sandbox, profile_id))? else {
        return Ok(None);
    };
    let record: StoredComputed<'_> = decode(bytes)?;
    let now_ms = crate::catalog::now_ms();
    let mut moved: Vec<(u64, Vec<u8>)> = Vec::new();
    for attribute in &index.attributes {
        let Some(stored) = record.attribute(attribute.stamp) else {
            continue;
        };
        if due(stored, now_ms) && !moved.iter().any(|(stamp, _)| *stamp == stored.stamp) {
            let mut state: AttributeState = decode(stored.state)?;
            moved.push((
                stored.stamp,
                Updated::of(attribute, &mut state, now_ms)?.value,
            ));
        }
    }
    Ok(Some(render(index, &record, &moved)?.value()))
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
    txn.delete(Table::Views, &keys::computed(sandbox, profile_id))?;
    Ok(())
}
