//! Computed attributes: aggregates of a profile's experience events (sum, count, min, max,
//! most recent over a lookback), kept exact inside the write that changes them and as their
//! windows slide, shown on the profile under `_{tenant}.SystemComputedAttributes.<name>.value`
//! and readable by segment definitions.
//!
//! Attributes over the same events share what is kept of them: one *stream* per event filter
//! and field, all time (one running aggregate serves SUM, COUNT, MIN, MAX and MOST_RECENT) or
//! over the union of its attributes' windows (the matching events still inside any of them).
//! Each profile keeps its streams' [`state::AttributeState`]s in one computed record, after its
//! events in the Events table ([`keys::computed`]); an event decodes and re-encodes only the
//! streams it matches. Values are not stored: a read computes them from the streams as of that
//! instant, so they are exact as windows slide with no work at all, and the view never changes
//! because of them. An event replaced, a merge or split, or a changed definition rebuilds a
//! stream from the stored events. When segment definitions read the values, the next instant a
//! window lets an event go is an entry in the Schedule table, so memberships change on time.

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

/// What a prepared view holds where the values go ([`crate::records::ComputedRange`]).
pub const PLACEHOLDER: &[u8] = b"{}";

/// One published attribute ready to maintain.
pub struct CompiledAttribute {
    pub definition: ComputedAttribute,
    /// The event filter (`None`: every event).
    filter: Option<segments::Definition>,
    /// The aggregated field's path.
    field: Vec<String>,
    /// Whether the field is a number in the event schema (`None` for `COUNT`).
    pub(crate) field_kind: Option<bool>,
    /// The stream its value is computed from (a position in [`ComputedIndex::streams`]).
    stream: usize,
    /// `"<name>":{"value":`, the start of its part of the values object.
    rendered_name: Vec<u8>,
}

impl CompiledAttribute {
    /// What the attribute's event filter reads (`None`: no filter, every event counts).
    pub fn filter_dependencies(&self) -> Option<&segments::Dependencies> {
        self.filter.as_ref().map(|filter| filter.dependencies())
    }

    /// The aggregated event field's path (empty for `COUNT`).
    pub fn field_path(&self) -> &[String] {
        &self.field
    }

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
            stream: 0,
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

    /// Whether an event of this `eventType` may pass the filter (false only when the filter
    /// names the types it accepts and this is not one of them).
    fn may_match(&self, event_type: Option<&str>) -> bool {
        match self.filter.as_ref().map(|f| &f.dependencies().event_types) {
            Some(Some(types)) => event_type.is_some_and(|t| types.contains(t)),
            _ => true,
        }
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

/// What a profile keeps for a group of attributes: the events one filter matches, with one
/// field's value, all time or over the union of the attributes' windows.
struct Stream {
    /// A fingerprint of what it keeps: a changed filter, field or set of windows finds no
    /// state and starts again from the events.
    stamp: u64,
    /// The attribute whose filter and field the stream keeps.
    source: usize,
    span: state::Span,
}

impl Stream {
    /// The first instant after `now_ms` at which a value computed from `state` may change
    /// with no new event.
    /// (It depends on the lookbacks, not the functions: each window is looked at once.)
    fn next_change(&self, state: &AttributeState, now_ms: i64) -> Option<i64> {
        match &self.span {
            state::Span::AllTime => state.next_change(Lookback::AllTime, now_ms),
            state::Span::Windows(windows) => windows
                .iter()
                .filter_map(|window| state.next_change(*window, now_ms))
                .min(),
        }
    }
}

/// A stable fingerprint of some text parts (the standard hasher may change between compiler
/// releases, which would rebuild every stored state for nothing).
fn stamp_of(parts: &[&str]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("eight bytes"))
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
    streams: Vec<Stream>,
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
            .field("streams", &self.streams.len())
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
        index.group_into_streams();
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

    /// Groups the attributes into streams: by filter, field and whether they are all time; a
    /// `COUNT` (no field) joins a stream of the same filter and kind when there is one, since
    /// every kept event counts whatever its field holds.
    fn group_into_streams(&mut self) {
        let key = |a: &CompiledAttribute| {
            (
                a.definition.filter.clone(),
                a.definition.lookback == Lookback::AllTime,
            )
        };
        // Attributes with a field first, so a COUNT finds their stream.
        let mut order: Vec<usize> = (0..self.attributes.len()).collect();
        order.sort_by_key(|&i| self.attributes[i].field.is_empty());
        let mut streams: Vec<Stream> = Vec::new();
        // The stream of each attribute, by position.
        let mut stream_of = vec![0; self.attributes.len()];
        for i in order {
            let attribute = &self.attributes[i];
            let found = streams.iter().position(|stream| {
                let source = &self.attributes[stream.source];
                key(source) == key(attribute)
                    && (attribute.field.is_empty() || source.field == attribute.field)
            });
            let position = match found {
                Some(position) => position,
                None => {
                    streams.push(Stream {
                        stamp: 0,
                        source: i,
                        span: state::Span::of(attribute.definition.lookback),
                    });
                    streams.len() - 1
                }
            };
            stream_of[i] = position;
            if let (state::Span::Windows(windows), lookback @ Lookback::Last { .. }) =
                (&mut streams[position].span, attribute.definition.lookback)
            {
                if !windows.contains(&lookback) {
                    windows.push(lookback);
                }
            }
        }
        for stream in &mut streams {
            if let state::Span::Windows(windows) = &mut stream.span {
                windows.sort_by_key(|w| format!("{w:?}"));
            }
            let source = &self.attributes[stream.source];
            stream.stamp = stamp_of(&[
                &source.definition.filter,
                &source.field.join("."),
                &format!("{:?}", stream.span),
            ]);
        }
        for (attribute, position) in self.attributes.iter_mut().zip(stream_of) {
            attribute.stream = position;
        }
        self.streams = streams;
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

/// The record of one profile's computed attribute streams and scores (in the Events table,
/// after the profile's events: [`keys::computed`]). Each stream's state is bytes of its own, so
/// an event decodes and re-encodes only the streams it matches and copies the others as they
/// are.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredComputed<'a> {
    /// When a value next changes with no new data, as scheduled (only while segment
    /// definitions read the values: a read computes them as of its own instant).
    scheduled_ms: Option<i64>,
    /// The built-in models' scores.
    scores: Option<crate::scores::ProfileScores>,
    #[serde(borrow)]
    streams: Vec<StoredStream<'a>>,
}

impl<'a> StoredComputed<'a> {
    fn stream(&self, stamp: u64) -> Option<&StoredStream<'a>> {
        self.streams.iter().find(|s| s.stamp == stamp)
    }
}

/// One stream's part of a [`StoredComputed`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct StoredStream<'a> {
    stamp: u64,
    /// When a value computed from it next changes with no new data.
    next_change_ms: Option<i64>,
    /// The [`AttributeState`], encoded.
    #[serde(with = "serde_bytes")]
    state: &'a [u8],
}

/// A stream's state just brought up to date, encoded.
struct Updated {
    stamp: u64,
    next_change_ms: Option<i64>,
    state: Vec<u8>,
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

/// Encodes a value into a vector sized for it at once.
fn encode_sized<T: Serialize>(value: &T, size_hint: usize) -> Result<Vec<u8>> {
    postcard::to_extend(value, Vec::with_capacity(size_hint)).map_err(Error::internal)
}

/// Brings a profile's streams up to date at `now_ms` — `rebuild` from the stored events, or
/// from the stored state plus `event` — and its scores, stores them, and moves the schedule
/// when segment definitions read the values. Returns whether the values may have changed
/// (always with `rebuild`).
pub fn maintain(
    txn: &mut dyn WriteTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    event: Option<&NewEvent<'_>>,
    rebuild: bool,
    now_ms: i64,
) -> Result<bool> {
    let index = &catalog.computed_index;
    if index.is_empty() && event.is_some() && !rebuild {
        // Nothing to keep (what a deleted attribute left is cleared by its backfill).
        return Ok(false);
    }
    // The event's value and which filters it passes, before reading any state: an event no
    // attribute or model looks at leaves the state as it is (windows closing need no write,
    // and a new attribute's backfill reaches every profile).
    let parsed = match event {
        Some(e) if !rebuild && !e.replaced && !index.is_empty() => {
            let scored = index
                .models
                .as_ref()
                .is_some_and(|(m, _)| crate::scores::History::relevant(&m.settings, e.event_type));
            // Filters that name the event types they accept are checked without parsing.
            let may_match = index
                .streams
                .iter()
                .any(|s| index.attributes[s.source].may_match(e.event_type));
            if !scored && !may_match {
                return Ok(false);
            }
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
                for stream in &index.streams {
                    let first = index.same_filter[stream.source];
                    if passed[first].is_none() {
                        passed[first] = Some(index.attributes[stream.source].matches(&event));
                    }
                }
            }
            if !scored && passed.iter().all(|p| *p != Some(true)) {
                return Ok(false);
            }
            Some((value, passed))
        }
        _ => None,
    };
    let key = keys::computed(sandbox, profile_id);
    // A copy, so the record can be rewritten while its parts are still read.
    let bytes = txn.get(Table::Events, &key)?.map(<[u8]>::to_vec);
    let mut stored: StoredComputed<'_> = match &bytes {
        Some(bytes) => decode(bytes)?,
        None => StoredComputed::default(),
    };
    if index.is_empty() && stored.streams.is_empty() && stored.scores.is_none() {
        return Ok(false);
    }
    let rebuild = rebuild || event.is_some_and(|e| e.replaced);
    let event_ref = match (event, &parsed) {
        (Some(event), Some((value, _))) => Some(segments::EventRef {
            id: event.id,
            timestamp_ms: event.timestamp_ms,
            value,
        }),
        _ => None,
    };
    // Whether the record holds streams no attribute reads any more (or lacks some).
    let mut changed = stored.streams.len() != index.streams.len()
        || stored
            .streams
            .iter()
            .any(|s| !index.streams.iter().any(|c| c.stamp == s.stamp));
    let mut updated: Vec<Updated> = Vec::new();
    // Streams with no state for their current definition (or all, rebuilding), read from the
    // stored events together.
    let mut stale: Vec<&Stream> = Vec::new();
    for stream in &index.streams {
        let old = match stored.stream(stream.stamp) {
            Some(old) if !rebuild => old,
            _ => {
                stale.push(stream);
                continue;
            }
        };
        let touched = parsed
            .as_ref()
            .is_some_and(|(_, passed)| passed[index.same_filter[stream.source]] == Some(true));
        let due = old.next_change_ms.is_some_and(|at| at <= now_ms);
        if !touched && !due {
            continue;
        }
        let mut state: AttributeState = decode(old.state)?;
        if let (true, Some(event)) = (touched, &event_ref) {
            let entry = index.attributes[stream.source].entry_of(event);
            state.add_in(&stream.span, entry, now_ms);
        }
        state.advance_in(&stream.span, now_ms);
        updated.push(Updated {
            stamp: stream.stamp,
            next_change_ms: stream.next_change(&state, now_ms),
            state: encode_sized(&state, old.state.len() + 32)?,
        });
        changed = true;
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
            for (stream, state) in stale.iter().zip(states.iter_mut()) {
                if let Some(entry) = index.attributes[stream.source].entry(&event) {
                    state.add_in(&stream.span, entry, now_ms);
                }
            }
        }
        for (stream, state) in stale.into_iter().zip(states.iter_mut()) {
            state.advance_in(&stream.span, now_ms);
            updated.push(Updated {
                stamp: stream.stamp,
                next_change_ms: stream.next_change(state, now_ms),
                state: encode(&*state)?,
            });
        }
        changed = true;
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
            }
        }
        None => {
            if stored.scores.take().is_some() {
                changed = true;
            }
        }
    }
    // The record as it now stands: one entry per stream, in the index's order.
    let streams: Vec<StoredStream<'_>> = index
        .streams
        .iter()
        .filter_map(
            |stream| match updated.iter().find(|u| u.stamp == stream.stamp) {
                Some(u) => Some(StoredStream {
                    stamp: u.stamp,
                    next_change_ms: u.next_change_ms,
                    state: &u.state,
                }),
                None => stored.stream(stream.stamp).copied(),
            },
        )
        .collect();
    // Memberships change on time only if something wakes the profile when a value moves.
    let scheduled = match catalog.segment_index.any_reads_computed() {
        true => streams.iter().filter_map(|s| s.next_change_ms).min(),
        false => None,
    };
    let moved_schedule = scheduled != stored.scheduled_ms;
    if changed || moved_schedule {
        let record = StoredComputed {
            scheduled_ms: scheduled,
            scores: stored.scores,
            streams,
        };
        if record.streams.is_empty() && record.scores.is_none() {
            txn.delete(Table::Events, &key)?;
        } else {
            let size = bytes.as_ref().map_or(64, |b| b.len() + 64);
            txn.put(Table::Events, &key, &encode_sized(&record, size)?)?;
        }
        if moved_schedule {
            crate::segment::membership::set_scheduled_change(
                txn,
                sandbox,
                profile_id,
                SCHEDULE_KEY,
                scheduled,
            )?;
        }
    }
    Ok(changed || rebuild)
}

/// A profile's values as of now, read without writing (lookups, segment evaluation), as a
/// JSON value; `None` when the sandbox keeps no attribute and no model.
pub fn read_values(
    txn: &dyn store::ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<Option<Value>> {
    read_values_at(txn, catalog, sandbox, profile_id, crate::catalog::now_ms())
}

/// [`read_values`] as of `now_ms`.
pub fn read_values_at(
    txn: &dyn store::ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    now_ms: i64,
) -> Result<Option<Value>> {
    Ok(values_at(txn, catalog, sandbox, profile_id, now_ms)?
        .map(|json| serde_json::from_slice(&json).unwrap_or(Value::Null)))
}

/// [`read_values`] as the JSON text of the values object (`{}` for a profile with none yet),
/// computed from the profile's streams as of now; attributes without a value (the minimum of
/// nothing) are left out.
pub fn values_json(
    txn: &dyn store::ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<Option<Vec<u8>>> {
    values_at(txn, catalog, sandbox, profile_id, crate::catalog::now_ms())
}

/// [`values_json`] as of `now_ms`.
fn values_at(
    txn: &dyn store::ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    now_ms: i64,
) -> Result<Option<Vec<u8>>> {
    let index = &catalog.computed_index;
    if index.is_empty() {
        return Ok(None);
    }
    let Some(bytes) = txn.get(Table::Events, &keys::computed(sandbox, profile_id))? else {
        return Ok(Some(PLACEHOLDER.to_vec()));
    };
    let record: StoredComputed<'_> = decode(bytes)?;
    let states: Vec<Option<AttributeState>> = index
        .streams
        .iter()
        .map(|stream| {
            record
                .stream(stream.stamp)
                .map(|stored| decode::<AttributeState>(stored.state))
                .transpose()
        })
        .collect::<Result<_>>()?;
    let mut json = Vec::with_capacity(48 * (index.attributes.len() + 1));
    json.push(b'{');
    for attribute in &index.attributes {
        let Some(state) = &states[attribute.stream] else {
            continue;
        };
        let definition = &attribute.definition;
        let value = state.value(definition.lookback, definition.function, now_ms);
        if value.is_null() {
            continue;
        }
        if json.len() > 1 {
            json.push(b',');
        }
        json.extend_from_slice(&attribute.rendered_name);
        serde_json::to_writer(&mut json, &value).map_err(Error::internal)?;
        json.push(b'}');
    }
    // The scores are kept as one JSON object's text: its members go in as they are.
    let scores = record.scores.as_ref().map_or("", |s| s.values.trim());
    let members = scores
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or_default();
    if !members.trim().is_empty() {
        if json.len() > 1 {
            json.push(b',');
        }
        json.extend_from_slice(members.as_bytes());
    }
    json.push(b'}');
    Ok(Some(json))
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
    txn.delete(Table::Events, &keys::computed(sandbox, profile_id))?;
    Ok(())
}
