//! Guardrails, enforced loudly: the reference's limits on what one event, record, profile and
//! sandbox may hold, what each does when it bites, and how every hit is made visible.
//!
//! | guardrail | limit ([`Limits`]) | kind | effect |
//! |---|---|---|---|
//! | `identity_graph_limit` | the graph limit (50) | hard | identities isolated (`identity::graph::resolve`) |
//! | `event_too_large` | `max_event_bytes` (10240) | hard | the event is refused, 413 / a batch row error |
//! | `record_too_large` | `max_record_bytes` (102400) | hard | the record is refused, 413 / a batch row error |
//! | `event_array_items` | `max_event_array_items` (10) | soft | accepted and flagged |
//! | `profile_array_items` | `max_profile_array_items` (500) | soft | accepted and flagged |
//! | `events_trimmed` | `max_events_per_profile` (5000) | enforced | the oldest events go, in the same transaction |
//! | `segment_definition_limit_reached` | `max_segment_definitions` (500) | hard | 422 |
//! | `events_expired` | a dataset's `rapport:eventTtlDays` tag (none) | enforced | an event older than its dataset keeps is not stored; stored ones go within the hour ([`expire_events`]) |
//!
//! Every hit is counted ([`Guardrails::hits`], served as `rapport_guardrail_hits_total`), logged
//! at `warn` without any value of the data (at most once an hour per guardrail and profile, or
//! dataset, or sandbox), and, when it concerns a stored profile, kept in the profile's graph
//! record as a [`GuardrailHit`], which every lookup shows as an item-level `warnings` list.
//!
//! Each profile's event count is kept in memory by the writer ([`Guardrails`]; only the writer
//! thread writes events), so a new event costs a hash-map update, never a scan nor a store
//! access. A profile the writer has no count for (after a start, a merge, a split, a purge or an
//! erase, or a failed transaction) has its events counted once, by a key range scan.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use rapport_types::{ProfileId, SandboxName};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::{Direction, Scan, Table, WriteTxn};

use crate::error::Result;
use crate::keys;
use crate::records::{decode, StoredEvent};
use crate::time::format_rfc3339_ms;

/// The configurable limits (the reference's defaults; see the module's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest experience event, in bytes of compact JSON.
    pub max_event_bytes: usize,
    /// Largest profile record, in bytes of compact JSON.
    pub max_record_bytes: usize,
    /// Most items of any one array of an experience event before it is flagged.
    pub max_event_array_items: usize,
    /// Most items of any one array of a profile record before it is flagged.
    pub max_profile_array_items: usize,
    /// Most experience events one profile keeps; the oldest beyond it are trimmed.
    pub max_events_per_profile: usize,
    /// Most segment definitions one sandbox may hold.
    pub max_segment_definitions: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_event_bytes: 10 * 1024,
            max_record_bytes: 100 * 1024,
            max_event_array_items: 10,
            max_profile_array_items: 500,
            max_events_per_profile: 5000,
            max_segment_definitions: 500,
        }
    }
}

/// One guardrail. Stored in graph records by position: new ones go at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Guardrail {
    IdentityGraphLimit,
    EventTooLarge,
    RecordTooLarge,
    EventArrayItems,
    ProfileArrayItems,
    EventsTrimmed,
    SegmentDefinitionLimit,
    EventsExpired,
}

impl Guardrail {
    /// Every guardrail, in the order of their counters.
    pub const ALL: [Guardrail; 8] = [
        Guardrail::IdentityGraphLimit,
        Guardrail::EventTooLarge,
        Guardrail::RecordTooLarge,
        Guardrail::EventArrayItems,
        Guardrail::ProfileArrayItems,
        Guardrail::EventsTrimmed,
        Guardrail::SegmentDefinitionLimit,
        Guardrail::EventsExpired,
    ];

    /// The name in warnings, metrics and logs (the error code's name for the hard limits).
    pub fn name(self) -> &'static str {
        match self {
            Guardrail::IdentityGraphLimit => "identity_graph_limit",
            Guardrail::EventTooLarge => "event_too_large",
            Guardrail::RecordTooLarge => "record_too_large",
            Guardrail::EventArrayItems => "event_array_items",
            Guardrail::ProfileArrayItems => "profile_array_items",
            Guardrail::EventsTrimmed => "events_trimmed",
            Guardrail::SegmentDefinitionLimit => "segment_definition_limit_reached",
            Guardrail::EventsExpired => "events_expired",
        }
    }

    fn index(self) -> usize {
        Guardrail::ALL.iter().position(|g| *g == self).unwrap_or(0)
    }
}

/// What a guardrail did to one profile, kept in its graph record: the limit in force at the
/// last hit, how many items it acted on in all (events trimmed, identities isolated, events or
/// records flagged) and when it last did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardrailHit {
    pub guardrail: Guardrail,
    pub limit: u64,
    pub count: u64,
    pub last_at_ms: i64,
}

/// Adds `hit` to a profile's hits: one entry per guardrail, counts summed, the later limit and
/// time kept. Entries stay in guardrail order, so equal histories encode to equal bytes.
pub fn note(hits: &mut Vec<GuardrailHit>, hit: GuardrailHit) {
    match hits.iter_mut().find(|h| h.guardrail == hit.guardrail) {
        Some(existing) => {
            existing.count = existing.count.saturating_add(hit.count);
            if hit.last_at_ms >= existing.last_at_ms {
                existing.last_at_ms = hit.last_at_ms;
                existing.limit = hit.limit;
            }
        }
        None => {
            hits.push(hit);
            hits.sort_by_key(|h| h.guardrail);
        }
    }
}

/// The item-level `warnings` of a lookup: `[{"guardrail", "limit", "count", "lastAt"}]`.
pub fn warnings_json(hits: &[GuardrailHit]) -> Value {
    Value::Array(
        hits.iter()
            .map(|h| {
                json!({
                    "guardrail": h.guardrail.name(),
                    "limit": h.limit,
                    "count": h.count,
                    "lastAt": format_rfc3339_ms(h.last_at_ms, false),
                })
            })
            .collect(),
    )
}

/// What a hit concerns, for the log (never a value of the data).
#[derive(Debug, Clone)]
pub enum Subject<'a> {
    Profile(&'a SandboxName, ProfileId),
    Dataset(&'a SandboxName, &'a str),
    Sandbox(&'a SandboxName),
}

impl Subject<'_> {
    fn key(&self) -> String {
        match self {
            Subject::Profile(sandbox, id) => format!("p\0{sandbox}\0{id}"),
            Subject::Dataset(sandbox, dataset) => format!("d\0{sandbox}\0{dataset}"),
            Subject::Sandbox(sandbox) => format!("s\0{sandbox}"),
        }
    }
}

/// The most profiles whose event count the writer remembers; past it the counts are forgotten
/// and counted again as their profiles get events (about 20 bytes each).
const COUNTS_MEMORY: usize = 1_000_000;

/// The writer's count of each profile's events, by sandbox (a short list: sandboxes are few)
/// and profile id.
#[derive(Debug, Default)]
struct EventCounts {
    by_sandbox: Vec<(SandboxName, HashMap<u64, u64, ProfileIdHasher>)>,
    entries: usize,
}

impl EventCounts {
    fn profiles(&self, sandbox: &SandboxName) -> Option<&HashMap<u64, u64, ProfileIdHasher>> {
        self.by_sandbox
            .iter()
            .find(|(name, _)| name == sandbox)
            .map(|(_, profiles)| profiles)
    }

    fn profiles_mut(
        &mut self,
        sandbox: &SandboxName,
    ) -> Option<&mut HashMap<u64, u64, ProfileIdHasher>> {
        self.by_sandbox
            .iter_mut()
            .find(|(name, _)| name == sandbox)
            .map(|(_, profiles)| profiles)
    }
}

/// Builds [`IdHasher`]s for the count maps.
type ProfileIdHasher = BuildHasherDefault<IdHasher>;

/// Hashes a profile id (a counter, not chosen by clients) with one multiplication: the writer
/// looks one up for every event, and SipHash would cost more than the rest of the count.
#[derive(Debug, Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        let product = u128::from(self.0 ^ value) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

/// A hit is logged at most once per guardrail and subject in this long.
const LOG_EVERY_MS: i64 = 3_600_000;
/// The log limiter forgets what it logged over an hour ago once it remembers this many.
const LOG_MEMORY: usize = 10_000;

/// The limits in force, the counters of hits since start-up, and the log limiter.
#[derive(Debug)]
pub struct Guardrails {
    limits: Limits,
    hits: [AtomicU64; Guardrail::ALL.len()],
    logged: Mutex<HashMap<(Guardrail, String), i64>>,
    /// Only the writer thread uses it: the lock is never contended.
    counts: Mutex<EventCounts>,
}

impl Default for Guardrails {
    fn default() -> Guardrails {
        Guardrails::new(Limits::default())
    }
}

impl Guardrails {
    pub fn new(limits: Limits) -> Guardrails {
        Guardrails {
            limits,
            hits: Default::default(),
            logged: Mutex::new(HashMap::new()),
            counts: Mutex::new(EventCounts::default()),
        }
    }

    fn known_count(&self, sandbox: &SandboxName, profile_id: ProfileId) -> Option<u64> {
        let counts = self.counts.lock();
        counts.profiles(sandbox)?.get(&profile_id.0).copied()
    }

    fn set_count(&self, sandbox: &SandboxName, profile_id: ProfileId, count: u64) {
        let mut counts = self.counts.lock();
        if counts.entries >= COUNTS_MEMORY {
            *counts = EventCounts::default();
        }
        let added = match counts.profiles_mut(sandbox) {
            Some(profiles) => profiles.insert(profile_id.0, count).is_none(),
            None => {
                let mut profiles = HashMap::default();
                profiles.insert(profile_id.0, count);
                counts.by_sandbox.push((sandbox.clone(), profiles));
                true
            }
        };
        if added {
            counts.entries += 1;
        }
    }

    /// Forgets a profile's event count (its events moved or went other than one by one: a
    /// merge, a split, a purge, an erase); the next event counts them again.
    pub fn forget_event_count(&self, sandbox: &SandboxName, profile_id: ProfileId) {
        let mut counts = self.counts.lock();
        let removed = counts
            .profiles_mut(sandbox)
            .and_then(|profiles| profiles.remove(&profile_id.0))
            .is_some();
        if removed {
            counts.entries -= 1;
        }
    }

    /// Forgets every count: a write transaction failed, so counts taken in it may be wrong.
    pub fn forget_event_counts(&self) {
        *self.counts.lock() = EventCounts::default();
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Hits of every guardrail since start-up, by name, in a fixed order.
    pub fn hits(&self) -> Vec<(&'static str, u64)> {
        Guardrail::ALL
            .iter()
            .map(|g| (g.name(), self.hits[g.index()].load(Ordering::Relaxed)))
            .collect()
    }

    /// Counts one hit of `guardrail` and logs it at `warn` unless this subject's hit of it was
    /// logged within the hour. `items` is what it acted on, for the log (events trimmed,
    /// identities isolated, items of the longest array; 0 for a refusal).
    pub fn hit(&self, guardrail: Guardrail, subject: Subject<'_>, limit: u64, items: u64) {
        self.hits[guardrail.index()].fetch_add(1, Ordering::Relaxed);
        let now = crate::catalog::now_ms();
        {
            let mut logged = self.logged.lock();
            let key = (guardrail, subject.key());
            if logged.get(&key).is_some_and(|at| now - *at < LOG_EVERY_MS) {
                return;
            }
            if logged.len() >= LOG_MEMORY {
                logged.retain(|_, at| now - *at < LOG_EVERY_MS);
                if logged.len() >= LOG_MEMORY {
                    logged.clear();
                }
            }
            logged.insert(key, now);
        }
        let name = guardrail.name();
        match subject {
            Subject::Profile(sandbox, profile) => tracing::warn!(
                guardrail = name, limit, items, sandbox = %sandbox, profile = %profile,
                "guardrail hit (logged at most once an hour per profile)"
            ),
            Subject::Dataset(sandbox, dataset) => tracing::warn!(
                guardrail = name, limit, items, sandbox = %sandbox, dataset,
                "guardrail hit (logged at most once an hour per dataset)"
            ),
            Subject::Sandbox(sandbox) => tracing::warn!(
                guardrail = name, limit, items, sandbox = %sandbox,
                "guardrail hit (logged at most once an hour per sandbox)"
            ),
        }
    }

    /// Counts and logs a refusal by a hard size limit (`error` is what `prepare` answered;
    /// other errors are not guardrails and are ignored).
    pub fn refused(&self, error: &crate::Error, sandbox: &SandboxName, dataset: &str) {
        let guardrail = match error.code() {
            rapport_types::Code::EventTooLarge => Guardrail::EventTooLarge,
            rapport_types::Code::RecordTooLarge => Guardrail::RecordTooLarge,
            _ => return,
        };
        let limit = match guardrail {
            Guardrail::EventTooLarge => self.limits.max_event_bytes,
            _ => self.limits.max_record_bytes,
        };
        self.hit(
            guardrail,
            Subject::Dataset(sandbox, dataset),
            limit as u64,
            0,
        );
    }
}

/// The most items of any array in `value`, nested arrays included.
pub fn longest_array(value: &Value) -> usize {
    match value {
        Value::Array(items) => items
            .iter()
            .map(longest_array)
            .max()
            .unwrap_or(0)
            .max(items.len()),
        Value::Object(members) => members.values().map(longest_array).max().unwrap_or(0),
        _ => 0,
    }
}

/// Counts a profile's stored events (a key range scan).
fn count_events(txn: &dyn WriteTxn, sandbox: &SandboxName, profile_id: ProfileId) -> Result<u64> {
    let mut count = 0u64;
    txn.scan(
        Table::Events,
        &keys::profile(sandbox, profile_id),
        &keys::events_end(sandbox, profile_id),
        Direction::Forward,
        &mut |_, _| {
            count += 1;
            Scan::Continue
        },
    )?;
    Ok(count)
}

/// Removes one stored event (its key in the Events table) and its [`keys::event_id`] entry,
/// which goes only when it files this very event (the event a later copy with the same `_id`
/// replaced is gone already).
pub(crate) fn remove_event(txn: &mut dyn WriteTxn, key: &[u8], event: &StoredEvent) -> Result<()> {
    let id_key = id_entry_of(key)?;
    let files_this_one = txn
        .get(Table::Events, &id_key)?
        .and_then(keys::decode_time)
        .is_some_and(|filed_at| filed_at == event.timestamp_ms);
    if files_this_one {
        txn.delete(Table::Events, &id_key)?;
    }
    txn.delete(Table::Events, key)?;
    Ok(())
}

/// The [`keys::event_id`] entry of the event stored at `key`.
pub(crate) fn id_entry_of(key: &[u8]) -> Result<Vec<u8>> {
    keys::event_id_of(key)
        .ok_or_else(|| crate::error::Error::internal("an event key without its time and hash"))
}

/// Accounts for `added` events just stored under a profile (0 for an event that replaced one of
/// its own) and trims the oldest beyond `max`, with their id entries; returns how many
/// were trimmed. A profile the writer has no count for has its events counted once.
pub fn count_and_trim(
    txn: &mut dyn WriteTxn,
    guardrails: &Guardrails,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    added: u64,
    max: usize,
) -> Result<u64> {
    // A count taken from the range already includes what was just written.
    let mut count = match guardrails.known_count(sandbox, profile_id) {
        Some(known) => known + added,
        None => count_events(txn, sandbox, profile_id)?,
    };
    let max = max.max(1) as u64;
    let mut trimmed = 0u64;
    if count > max {
        let excess = count - max;
        let mut oldest: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(excess as usize);
        txn.scan(
            Table::Events,
            &keys::profile(sandbox, profile_id),
            &keys::events_end(sandbox, profile_id),
            Direction::Forward,
            &mut |key, value| {
                if oldest.len() as u64 == excess {
                    return Scan::Stop;
                }
                oldest.push((key.to_vec(), value.to_vec()));
                Scan::Continue
            },
        )?;
        for (key, value) in &oldest {
            let event: StoredEvent = decode(value)?;
            remove_event(txn, key, &event)?;
            trimmed += 1;
        }
        count -= trimmed;
    }
    guardrails.set_count(sandbox, profile_id, count);
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_of_one_guardrail_add_up_and_keep_the_latest_limit() {
        let mut hits = Vec::new();
        let hit = |guardrail, limit, count, last_at_ms| GuardrailHit {
            guardrail,
            limit,
            count,
            last_at_ms,
        };
        note(&mut hits, hit(Guardrail::EventsTrimmed, 5, 2, 10));
        note(&mut hits, hit(Guardrail::IdentityGraphLimit, 50, 1, 5));
        note(&mut hits, hit(Guardrail::EventsTrimmed, 6, 3, 20));
        note(&mut hits, hit(Guardrail::EventsTrimmed, 4, 1, 15));
        assert_eq!(
            hits,
            vec![
                hit(Guardrail::IdentityGraphLimit, 50, 1, 5),
                hit(Guardrail::EventsTrimmed, 6, 6, 20),
            ]
        );
        let shown = warnings_json(&hits);
        assert_eq!(shown[1]["guardrail"], json!("events_trimmed"));
        assert_eq!(shown[1]["count"], json!(6));
        assert_eq!(shown[1]["limit"], json!(6));
        assert_eq!(shown[1]["lastAt"], json!("1970-01-01T00:00:00Z"));
    }

    #[test]
    fn the_longest_array_is_found_at_any_depth() {
        assert_eq!(longest_array(&json!({"a": 1})), 0);
        assert_eq!(
            longest_array(&json!({"a": [1, 2], "b": {"c": [[1, 2, 3, 4], 5]}})),
            4
        );
    }

    #[test]
    fn counters_count_every_hit_and_names_are_distinct() {
        let guardrails = Guardrails::default();
        let sandbox = SandboxName::default_sandbox();
        for _ in 0..3 {
            guardrails.hit(
                Guardrail::EventsTrimmed,
                Subject::Profile(&sandbox, ProfileId(7)),
                5000,
                1,
            );
        }
        let hits = guardrails.hits();
        assert_eq!(hits.len(), Guardrail::ALL.len());
        assert!(hits.contains(&("events_trimmed", 3)));
        assert!(hits.contains(&("event_too_large", 0)));
        let mut names: Vec<&str> = hits.iter().map(|(n, _)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Guardrail::ALL.len());
    }

    #[test]
    fn event_counts_are_remembered_until_forgotten() {
        let guardrails = Guardrails::default();
        let (prod, dev) = (
            SandboxName::default_sandbox(),
            SandboxName::parse("dev").expect("name"),
        );
        assert_eq!(guardrails.known_count(&prod, ProfileId(1)), None);
        guardrails.set_count(&prod, ProfileId(1), 4);
        guardrails.set_count(&prod, ProfileId(1), 5);
        guardrails.set_count(&dev, ProfileId(1), 9);
        assert_eq!(guardrails.known_count(&prod, ProfileId(1)), Some(5));
        assert_eq!(guardrails.known_count(&dev, ProfileId(1)), Some(9));
        assert_eq!(guardrails.counts.lock().entries, 2);
        guardrails.forget_event_count(&prod, ProfileId(1));
        guardrails.forget_event_count(&prod, ProfileId(2));
        assert_eq!(guardrails.known_count(&prod, ProfileId(1)), None);
        assert_eq!(guardrails.counts.lock().entries, 1);
        guardrails.forget_event_counts();
        assert_eq!(guardrails.known_count(&dev, ProfileId(1)), None);
    }
}
