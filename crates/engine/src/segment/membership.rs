//! A profile's segment memberships: stored beside the profile, re-evaluated inside the write
//! that changes it, rendered into the prepared view as `segmentMembership`, and scheduled for
//! the moment time alone will change them.

use std::collections::{BTreeMap, BTreeSet};

use rapport_types::{ProfileId, SandboxName};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{ReadTxn, Table, WriteTxn};

use super::index::SegmentIndex;
use crate::error::Result;
use crate::keys;
use crate::records::{decode, encode};

/// Exited memberships are kept this long after they exit, as in the reference.
pub const EXITED_RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Realized,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Realized => "realized",
            Status::Exited => "exited",
        }
    }
}

/// One membership: its status and when it last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub status: Status,
    /// When the profile entered (realized) or left (exited) the segment.
    pub last_qualification_ms: i64,
}

/// A profile's memberships record (in the Views table, beside its view: [`keys::memberships`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memberships {
    pub segments: BTreeMap<String, Membership>,
    /// The Schedule entry of this profile: when time alone may change a membership.
    pub next_check_ms: Option<i64>,
    /// Per definition, the earliest instant its result may change without new data.
    pub changes_at: BTreeMap<String, i64>,
}

impl Memberships {
    /// The reference's `segmentMembership` object (`{"ups": {id: {status, lastQualificationTime}}}`)
    /// as JSON bytes, leaving out exited memberships older than the retention at `now_ms`.
    pub fn render(&self, now_ms: i64) -> Vec<u8> {
        let mut json = Vec::with_capacity(16 + 96 * self.segments.len());
        json.extend_from_slice(b"{\"ups\":{");
        let mut first = true;
        for (id, membership) in &self.segments {
            if membership.status == Status::Exited
                && membership.last_qualification_ms + EXITED_RETENTION_MS < now_ms
            {
                continue;
            }
            if !first {
                json.push(b',');
            }
            first = false;
            // Writing a string into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut json, id);
            json.extend_from_slice(b":{\"status\":\"");
            json.extend_from_slice(membership.status.as_str().as_bytes());
            json.extend_from_slice(b"\",\"lastQualificationTime\":\"");
            crate::time::write_rfc3339_seconds(&mut json, membership.last_qualification_ms);
            json.extend_from_slice(b"\"}");
        }
        json.extend_from_slice(b"}}");
        json
    }

    pub fn is_realized(&self, id: &str) -> bool {
        self.segments
            .get(id)
            .is_some_and(|m| m.status == Status::Realized)
    }
}

/// Reads a profile's stored memberships.
pub fn load(
    txn: &(impl ReadTxn + ?Sized),
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Result<Memberships> {
    match txn.get(Table::Views, &keys::memberships(sandbox, profile_id))? {
        Some(bytes) => decode(bytes),
        None => Ok(Memberships::default()),
    }
}

/// A profile's events, decoded for evaluation.
pub struct LoadedEvents {
    pub ids: Vec<String>,
    pub timestamps: Vec<i64>,
    pub values: Vec<Value>,
}

/// A stored event borrowed from the store's bytes: the same encoding as [`StoredEvent`].
#[derive(serde::Deserialize)]
struct StoredEventRef<'a> {
    #[serde(borrow)]
    _dataset: &'a str,
    event_id: &'a str,
    _primary: (&'a str, &'a str),
    timestamp_ms: i64,
    _ingested_ms: i64,
    #[serde(with = "serde_bytes")]
    json: &'a [u8],
}

/// Parses stored JSON for evaluation (a stored record is valid JSON; anything else reads as null).
pub fn parse_json(json: &[u8]) -> Value {
    serde_json::from_slice(json).unwrap_or(Value::Null)
}

/// How much of a profile's stored view and events an evaluation decodes: what its definitions
/// read, and nothing else (see [`segments::PathProjection`]), plus whether the view shows
/// memberships at all.
#[derive(Debug, Clone)]
pub struct Decoding {
    /// The prepared view (`{"entity": {...}}`): the profile fields read, and the marketing
    /// consent that `excludeOptOut` looks at.
    pub view: segments::PathProjection,
    pub events: segments::EventProjection,
    /// Whether a definition may read computed attribute values, which the view does not hold:
    /// they are placed in from the profile's computed record.
    pub reads_computed: bool,
}

impl Decoding {
    /// What any of `programs` may read (`tenant_key`: where computed attribute values live).
    pub fn of<'d>(
        tenant_key: &str,
        programs: impl IntoIterator<Item = &'d segments::Definition> + Clone,
    ) -> Decoding {
        Decoding {
            view: segments::PathProjection::of_profile(programs.clone(), &["consents.marketing"])
                .with_present("segmentMembership")
                .under("entity"),
            events: segments::EventProjection::of(programs.clone()),
            reads_computed: programs
                .into_iter()
                .any(|program| super::index::reads_computed_values(program, tenant_key)),
        }
    }

    /// Everything (explanations show what they compared).
    pub fn everything() -> Decoding {
        Decoding {
            view: segments::PathProjection::everything(),
            events: segments::EventProjection::everything(),
            reads_computed: true,
        }
    }

    /// Parses a stored view (anything that is not JSON reads as null).
    pub fn parse_view(&self, json: &[u8]) -> Value {
        self.view.parse(json).unwrap_or(Value::Null)
    }
}

impl Default for Decoding {
    fn default() -> Decoding {
        Decoding::everything()
    }
}

impl LoadedEvents {
    /// Reads a profile's events through the `events` projection; with `types`, only the events of those
    /// types are kept (the definitions being evaluated cannot see the others).
    pub fn load(
        txn: &(impl ReadTxn + ?Sized),
        sandbox: &SandboxName,
        profile_id: ProfileId,
        types: Option<&BTreeSet<String>>,
        events: &segments::EventProjection,
    ) -> Result<LoadedEvents> {
        let mut loaded = LoadedEvents {
            ids: Vec::new(),
            timestamps: Vec::new(),
            values: Vec::new(),
        };
        let mut failure = None;
        txn.scan(
            Table::Events,
            &keys::profile(sandbox, profile_id),
            &keys::events_end(sandbox, profile_id),
            store::Direction::Forward,
            &mut |_, bytes| {
                let event: StoredEventRef = match postcard::from_bytes(bytes) {
                    Ok(event) => event,
                    Err(error) => {
                        failure = Some(crate::error::Error::internal(error));
                        return store::Scan::Stop;
                    }
                };
                let value = events.parse(event.json).unwrap_or(Value::Null);
                if let Some(types) = types {
                    let wanted = value
                        .get("eventType")
                        .and_then(Value::as_str)
                        .is_some_and(|t| types.contains(t));
                    if !wanted {
                        return store::Scan::Continue;
                    }
                }
                loaded.values.push(value);
                loaded.ids.push(event.event_id.to_owned());
                loaded.timestamps.push(event.timestamp_ms);
                store::Scan::Continue
            },
        )?;
        match failure {
            Some(error) => Err(error),
            None => Ok(loaded),
        }
    }

    pub fn refs(&self) -> Vec<segments::EventRef<'_>> {
        self.ids
            .iter()
            .zip(&self.timestamps)
            .zip(&self.values)
            .map(|((id, timestamp_ms), value)| segments::EventRef {
                id,
                timestamp_ms: *timestamp_ms,
                value,
            })
            .collect()
    }
}

/// Whether a profile opted out of marketing: `consents.marketing.any.val` is `n`, or every
/// channel it answered under `consents.marketing` is `n`.
pub fn opted_out_of_marketing(profile: &Value) -> bool {
    let Some(marketing) = profile
        .get("consents")
        .and_then(|c| c.get("marketing"))
        .and_then(Value::as_object)
    else {
        return false;
    };
    if let Some(any) = marketing
        .get("any")
        .and_then(|a| a.get("val"))
        .and_then(Value::as_str)
    {
        return any.eq_ignore_ascii_case("n");
    }
    let answers: Vec<&str> = marketing
        .iter()
        .filter(|(channel, _)| channel.as_str() != "preferred")
        .filter_map(|(_, choice)| choice.get("val").and_then(Value::as_str))
        .collect();
    !answers.is_empty() && answers.iter().all(|v| v.eq_ignore_ascii_case("n"))
}

/// What one evaluation of a profile decided.
pub struct Evaluated {
    pub memberships: Memberships,
    /// Whether a membership changed (what the view shows).
    pub changed: bool,
    /// Whether anything stored changed (memberships or their next changes).
    pub dirty: bool,
    /// The profile's Schedule entry before the evaluation.
    pub previous_check: Option<i64>,
}

/// Evaluates the definitions `mask` selects over one profile at `now_ms`, starting from (and
/// consuming) its `previous` memberships. `events` may be `None` when no selected definition reads events.
pub fn evaluate<'e>(
    index: &SegmentIndex,
    mask: &[bool],
    profile: &Value,
    events: Option<&[segments::EventRef<'e>]>,
    previous: Memberships,
    now_ms: i64,
) -> Evaluated {
    let previous_check = previous.next_check_ms;
    let mut memberships = previous;
    let (mut changed, mut dirty) = (false, false);
    let opted_out = opted_out_of_marketing(profile);
    let empty: [segments::EventRef<'e>; 0] = [];
    let events = events.unwrap_or(&empty);
    let shared = segments::SharedWork::with_profile(profile, events);
    for (i, segment) in index.ordered.iter().enumerate() {
        if !mask.get(i).copied().unwrap_or(false) {
            continue;
        }
        let id = &segment.definition.id;
        let outcome = {
            let in_segment = |other: &str| memberships.is_realized(other);
            let subject = segments::Subject {
                profile,
                events,
                in_segment: &in_segment,
            };
            // Evaluation runs in the writer: a bug in it must cost one membership, never the
            // writer thread. A panicking definition counts as not qualifying, and is logged.
            let evaluation = std::panic::AssertUnwindSafe(|| {
                segment.program.evaluate_shared(&subject, &shared, now_ms)
            });
            std::panic::catch_unwind(evaluation).unwrap_or_else(|_| {
                tracing::error!(segment = %id, "evaluating a segment definition panicked; it counts as not qualifying");
                segments::Outcome {
                    qualified: false,
                    next_change_ms: None,
                }
            })
        };
        let qualified = outcome.qualified && !(segment.definition.exclude_opt_out && opted_out);
        match outcome.next_change_ms {
            Some(at) if at > now_ms => {
                if memberships.changes_at.get(id) != Some(&at) {
                    memberships.changes_at.insert(id.clone(), at);
                    dirty = true;
                }
            }
            _ => {
                dirty |= memberships.changes_at.remove(id).is_some();
            }
        }
        let was = memberships.segments.get(id).map(|m| m.status);
        match (was, qualified) {
            (Some(Status::Realized), true) | (None, false) | (Some(Status::Exited), false) => {}
            (_, true) => {
                changed = true;
                memberships.segments.insert(
                    id.clone(),
                    Membership {
                        status: Status::Realized,
                        last_qualification_ms: now_ms,
                    },
                );
            }
            (Some(Status::Realized), false) => {
                changed = true;
                memberships.segments.insert(
                    id.clone(),
                    Membership {
                        status: Status::Exited,
                        last_qualification_ms: now_ms,
                    },
                );
            }
        }
    }
    // Memberships of definitions that no longer exist, and exits past retention, go.
    let (segments_before, changes_before) =
        (memberships.segments.len(), memberships.changes_at.len());
    memberships.segments.retain(|id, m| {
        index.position(id).is_some()
            && !(m.status == Status::Exited
                && m.last_qualification_ms + EXITED_RETENTION_MS < now_ms)
    });
    memberships
        .changes_at
        .retain(|id, _| id.starts_with('\0') || index.position(id).is_some());
    changed |= memberships.segments.len() != segments_before;
    dirty |= changed || memberships.changes_at.len() != changes_before;
    Evaluated {
        memberships,
        changed,
        dirty,
        previous_check,
    }
}

/// The next instant this profile needs a look without new data: the earliest window change,
/// or the moment an exited membership passes its retention.
pub fn next_check(memberships: &Memberships) -> Option<i64> {
    let windows = memberships.changes_at.values().copied().min();
    let retention = memberships
        .segments
        .values()
        .filter(|m| m.status == Status::Exited)
        .map(|m| m.last_qualification_ms + EXITED_RETENTION_MS + 1)
        .min();
    match (windows, retention) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Sets (or, with `None`, clears) one of a profile's scheduled changes that is not a segment's
/// (`key` starts with a NUL, as [`crate::computed::SCHEDULE_KEY`]), moving its Schedule entry.
pub fn set_scheduled_change(
    txn: &mut dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    key: &str,
    at: Option<i64>,
) -> Result<()> {
    let mut memberships = load(&*txn, sandbox, profile_id)?;
    let previous = memberships.next_check_ms;
    match at {
        Some(at) => memberships.changes_at.insert(key.to_owned(), at),
        None => memberships.changes_at.remove(key),
    };
    store(txn, sandbox, profile_id, memberships, previous)
}

/// Stores memberships and moves the profile's Schedule entry to its next check.
pub fn store(
    txn: &mut dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    mut memberships: Memberships,
    previous_check: Option<i64>,
) -> Result<()> {
    let next = next_check(&memberships);
    if previous_check != next {
        if let Some(at) = previous_check {
            txn.delete(Table::Schedule, &keys::schedule(sandbox, at, profile_id))?;
        }
        if let Some(at) = next {
            txn.put(
                Table::Schedule,
                &keys::schedule(sandbox, at, profile_id),
                &[],
            )?;
        }
    }
    memberships.next_check_ms = next;
    let key = keys::memberships(sandbox, profile_id);
    if memberships.segments.is_empty() && memberships.changes_at.is_empty() {
        txn.delete(Table::Views, &key)?;
    } else {
        txn.put(Table::Views, &key, &encode(&memberships)?)?;
    }
    Ok(())
}

/// Which events the selected definitions need: `None` when none reads events,
/// `Some(None)` when any event may matter, `Some(Some(types))` when only those types do.
pub fn events_needed(index: &SegmentIndex, mask: &[bool]) -> Option<Option<BTreeSet<String>>> {
    let mut needed: Option<Option<BTreeSet<String>>> = None;
    for (segment, selected) in index.ordered.iter().zip(mask) {
        let deps = segment.program.dependencies();
        if !*selected || !deps.reads_events {
            continue;
        }
        needed = match (needed, &deps.event_types) {
            (Some(None), _) | (_, None) => Some(None),
            (None, Some(types)) => Some(Some(types.clone())),
            (Some(Some(mut known)), Some(types)) => {
                known.extend(types.iter().cloned());
                Some(Some(known))
            }
        };
    }
    needed
}

/// Reads the events `needed` asks for (see [`events_needed`]).
pub fn load_needed(
    txn: &(impl ReadTxn + ?Sized),
    sandbox: &SandboxName,
    profile_id: ProfileId,
    needed: &Option<Option<BTreeSet<String>>>,
    decoding: &Decoding,
) -> Result<Option<LoadedEvents>> {
    match needed {
        None => Ok(None),
        Some(types) => {
            LoadedEvents::load(txn, sandbox, profile_id, types.as_ref(), &decoding.events).map(Some)
        }
    }
}

/// Removes a profile's memberships and its Schedule entry (the profile was deleted or merged
/// into another, whose own evaluation takes over).
pub fn forget(txn: &mut dyn WriteTxn, sandbox: &SandboxName, profile_id: ProfileId) -> Result<()> {
    let previous = load(&*txn, sandbox, profile_id)?;
    if let Some(at) = previous.next_check_ms {
        txn.delete(Table::Schedule, &keys::schedule(sandbox, at, profile_id))?;
    }
    txn.delete(Table::Views, &keys::memberships(sandbox, profile_id))?;
    Ok(())
}

/// Removes the Schedule entry at `due` of a profile, and forgets it in the profile's record
/// when it is the one the record points to, so the next evaluation schedules afresh.
pub fn clear_schedule_entry(
    txn: &mut dyn WriteTxn,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    due: i64,
) -> Result<()> {
    txn.delete(Table::Schedule, &keys::schedule(sandbox, due, profile_id))?;
    let mut memberships = load(&*txn, sandbox, profile_id)?;
    if memberships.next_check_ms == Some(due) {
        memberships.next_check_ms = None;
        txn.put(
            Table::Views,
            &keys::memberships(sandbox, profile_id),
            &encode(&memberships)?,
        )?;
    }
    Ok(())
}
