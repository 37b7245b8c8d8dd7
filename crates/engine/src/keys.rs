//! The key layout of every table: each key starts with the sandbox name, and everything that
//! belongs to one profile shares the prefix `sandbox \0 profile-id`.

use rapport_types::{ProfileId, SandboxName};
use sha2::{Digest, Sha256};

use crate::identity::IdentityKey;

/// Identity values longer than this are hashed into the key (LMDB keys are at most 511 bytes).
const MAX_INLINE_VALUE: usize = 256;

fn sandbox_prefix(sandbox: &SandboxName) -> Vec<u8> {
    let mut key = Vec::with_capacity(64);
    key.extend_from_slice(sandbox.as_str().as_bytes());
    key.push(0);
    key
}

/// `sandbox \0` : the prefix of everything of a sandbox in any table.
pub fn sandbox(sandbox: &SandboxName) -> Vec<u8> {
    sandbox_prefix(sandbox)
}

/// Identities table: `sandbox \0 namespace \0 (= value | # sha256(value))`.
pub fn identity(sandbox: &SandboxName, identity: &IdentityKey) -> Vec<u8> {
    let mut key = sandbox_prefix(sandbox);
    key.extend_from_slice(identity.namespace.as_bytes());
    key.push(0);
    push_value(&mut key, &identity.value);
    key
}

/// Appends a value tagged `=` (inline) or `#` (sha-256 of a long value), so the two never collide.
fn push_value(key: &mut Vec<u8>, value: &str) {
    if value.len() <= MAX_INLINE_VALUE {
        key.push(b'=');
        key.extend_from_slice(value.as_bytes());
    } else {
        key.push(b'#');
        key.extend_from_slice(&Sha256::digest(value.as_bytes()));
    }
}

/// Profiles and Views tables, and the prefix of a profile's fragments and events: `sandbox \0 pid`.
pub fn profile(sandbox: &SandboxName, profile_id: ProfileId) -> Vec<u8> {
    let mut key = sandbox_prefix(sandbox);
    key.extend_from_slice(&profile_id.to_be_bytes());
    key
}

/// Events table: a profile's computed attribute state and scores, `sandbox \0 pid FF×16`. It
/// sorts after every event of the profile (no event is dated at the end of time), so the leaf
/// page a new event dirties usually holds it too: an event that changes the attributes writes
/// no page it would not write anyway. Event scans end before it ([`events_end`]).
pub fn computed(sandbox: &SandboxName, profile_id: ProfileId) -> Vec<u8> {
    let mut key = profile(sandbox, profile_id);
    key.extend_from_slice(&COMPUTED_TAIL);
    key
}

/// What follows `sandbox \0 pid` in a profile's [`computed`] key, where an event key has its
/// time and hash.
pub const COMPUTED_TAIL: [u8; 16] = [0xff; 16];

/// The byte after [`COMPUTED_TAIL`] that marks an [`event_id`] entry.
const EVENT_ID_TAG: u8 = b'i';

/// The exclusive end of a profile's events in the Events table: its [`computed`] record.
pub fn events_end(sandbox: &SandboxName, profile_id: ProfileId) -> Vec<u8> {
    computed(sandbox, profile_id)
}

/// Views table: a profile's segment memberships, `sandbox \0 pid m`. It sorts right after the
/// profile's view, so the two share a leaf page: an event that changes both writes one page,
/// not two.
pub fn memberships(sandbox: &SandboxName, profile_id: ProfileId) -> Vec<u8> {
    let mut key = profile(sandbox, profile_id);
    key.push(b'm');
    key
}

/// The profile id at the end of a `profile` key.
pub fn profile_id_of(key: &[u8]) -> Option<ProfileId> {
    key.len()
        .checked_sub(8)
        .and_then(|start| ProfileId::from_be_slice(&key[start..]))
}

fn short_hash(parts: &[&[u8]]) -> [u8; 8] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest[..8].try_into().unwrap_or([0; 8])
}

/// Fragments table: `sandbox \0 pid dataset \0 hash(primary identity)`.
pub fn fragment(
    sandbox: &SandboxName,
    profile_id: ProfileId,
    dataset: &str,
    primary: &IdentityKey,
) -> Vec<u8> {
    let mut key = profile(sandbox, profile_id);
    key.extend_from_slice(dataset.as_bytes());
    key.push(0);
    key.extend_from_slice(&short_hash(&[
        primary.namespace.as_bytes(),
        primary.value.as_bytes(),
    ]));
    key
}

/// The same fragment key moved under another profile id.
pub fn rekey_under(sandbox: &SandboxName, old_key: &[u8], profile_id: ProfileId) -> Vec<u8> {
    let tail_start = sandbox.as_str().len() + 1 + 8;
    let mut key = profile(sandbox, profile_id);
    key.extend_from_slice(&old_key[tail_start.min(old_key.len())..]);
    key
}

/// Timestamps are stored with the sign bit flipped so that byte order is time order.
pub fn encode_time(timestamp_ms: i64) -> [u8; 8] {
    ((timestamp_ms as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn decode_time(bytes: &[u8]) -> Option<i64> {
    let array: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(array) ^ (1 << 63)) as i64)
}

/// The 8 bytes that make an event key unique for its (dataset, `_id`).
pub fn event_suffix(dataset: &str, event_id: &str) -> [u8; 8] {
    short_hash(&[dataset.as_bytes(), event_id.as_bytes()])
}

/// Events table: `sandbox \0 pid time(8) hash(dataset, _id)(8)`.
pub fn event(
    sandbox: &SandboxName,
    profile_id: ProfileId,
    timestamp_ms: i64,
    suffix: [u8; 8],
) -> Vec<u8> {
    let mut key = profile(sandbox, profile_id);
    key.extend_from_slice(&encode_time(timestamp_ms));
    key.extend_from_slice(&suffix);
    key
}

/// The (time, suffix) tail of an event key: what a page cursor remembers.
pub fn event_tail(key: &[u8]) -> Option<[u8; 16]> {
    let start = key.len().checked_sub(16)?;
    key[start..].try_into().ok()
}

/// Events table: where a profile files its event of one (dataset, `_id`), `sandbox \0 pid FF×16 i
/// hash(dataset, _id)(8)`, holding the event's time: what finds the stored copy an event sent
/// again replaces. It sorts right after the profile's [`computed`] record, beside its newest
/// events, so storing an event writes one leaf page where a table of its own keyed by `_id`
/// wrote a second one at a random place. Event scans end before it ([`events_end`]).
pub fn event_id(sandbox: &SandboxName, profile_id: ProfileId, suffix: [u8; 8]) -> Vec<u8> {
    let mut key = computed(sandbox, profile_id);
    key.push(EVENT_ID_TAG);
    key.extend_from_slice(&suffix);
    key
}

/// The [`event_id`] entry of the event stored at `event_key` (an [`event`] key).
pub fn event_id_of(event_key: &[u8]) -> Option<Vec<u8>> {
    let tail = event_key.len().checked_sub(16)?;
    let mut key = event_key[..tail].to_vec();
    key.extend_from_slice(&COMPUTED_TAIL);
    key.push(EVENT_ID_TAG);
    key.extend_from_slice(&event_key[tail + 8..]);
    Some(key)
}

/// Schedule table: `sandbox \0 time(8) pid(8)`, so a range scan reads the due profiles in time order.
pub fn schedule(sandbox: &SandboxName, due_ms: i64, profile_id: ProfileId) -> Vec<u8> {
    let mut key = sandbox_prefix(sandbox);
    key.extend_from_slice(&encode_time(due_ms));
    key.extend_from_slice(&profile_id.to_be_bytes());
    key
}

/// Catalog table: `sandbox \0 kind \0 id`.
pub fn catalog(sandbox: &SandboxName, kind: &str, id: &str) -> Vec<u8> {
    let mut key = sandbox_prefix(sandbox);
    key.extend_from_slice(kind.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

/// The global profile id counter, outside every sandbox.
pub const PROFILE_COUNTER: &[u8] = b"\0counter\0profile-id";

/// Privacy table: the prefix of every privacy job, `job \0`.
pub const PRIVACY_JOBS: &[u8] = b"job\0";

/// Privacy table: the prefix of every unfinished privacy job and work order, `queue \0`.
pub const PRIVACY_QUEUE: &[u8] = b"queue\0";

/// Privacy table: one privacy job, `job \0 id`. Privacy jobs span every sandbox, so the key
/// begins with the kind word, not a sandbox.
pub fn privacy_job(id: &str) -> Vec<u8> {
    let mut key = PRIVACY_JOBS.to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

/// Privacy table: one data hygiene work order, `workorder \0 sandbox \0 id`.
pub fn work_order(sandbox: &SandboxName, id: &str) -> Vec<u8> {
    let mut key = b"workorder\0".to_vec();
    key.extend_from_slice(&sandbox_prefix(sandbox));
    key.extend_from_slice(id.as_bytes());
    key
}

/// Privacy table: an unfinished job or work order, `queue \0 time(8) id`, so a scan reads
/// them in the order they were created.
pub fn privacy_queue(created_ms: i64, id: &str) -> Vec<u8> {
    let mut key = PRIVACY_QUEUE.to_vec();
    key.extend_from_slice(&encode_time(created_ms));
    key.extend_from_slice(id.as_bytes());
    key
}
