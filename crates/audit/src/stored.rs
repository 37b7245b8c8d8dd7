//! How the log is laid out in `Table::Audit`: the key of each entry and of its index keys, and
//! the stored form of an entry (a layout version byte, then postcard).
//!
//! | key | value |
//! |---|---|
//! | `t <ms BE u64> <seq BE u32>` | the entry, without its time and sequence (they are the key) |
//! | `a <actor kind:id> \0 <ms> <seq>` | empty: entries by actor |
//! | `c <action> \0 <ms> <seq>` | empty: entries by action |
//! | `p <sandbox> \0 <profile id BE u64> <ms> <seq>` | empty: entries by profile (one key per distinct id) |
//! | `i <hmac16> <ms> <seq>` | empty: entries by the identity used |
//! | `meta \0 pepper` | the 32-byte HMAC key of identity references |
//! | `meta \0 indexed-until` | a stamp: every entry before it has its profile and identity keys |
//!
//! Every index key ends with the 12 bytes of its entry's stamp, so one index prefix is one
//! range in time order. The actor and action keys of an entry are written with it (they append
//! at the end of their prefix). Its profile and identity keys land at random places in their
//! B-trees, where each would dirty a page of its own at every flush: the writer holds them back
//! and writes them sorted, many at once (see `writer.rs`), and a query reads the entries after
//! `indexed-until` in time order instead of through those indexes. Texts in index keys are cut to `MAX_KEY_TEXT_BYTES` and a NUL in them is
//! written as 0x01, so a key always fits LMDB and a prefix always ends where it should; the index
//! only narrows a query, which checks every entry it reads against the whole filter.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use store::{Direction, ReadTxn, Scan, Table};

use crate::entry::{
    Actor, ActorKind, AuditAction, AuditEntry, Client, FieldsReturned, IdentityRef, Outcome,
    RequestedFields, Via,
};
use crate::error::{AuditError, Result};

pub(crate) const ENTRY_TAG: u8 = b't';
pub(crate) const ACTOR_TAG: u8 = b'a';
pub(crate) const ACTION_TAG: u8 = b'c';
pub(crate) const PROFILE_TAG: u8 = b'p';
pub(crate) const IDENTITY_TAG: u8 = b'i';
pub(crate) const PEPPER_KEY: &[u8] = b"meta\0pepper";
pub(crate) const INDEXED_UNTIL_KEY: &[u8] = b"meta\0indexed-until";

/// The most bytes of a text (actor, sandbox) kept in an index key.
const MAX_KEY_TEXT_BYTES: usize = 256;
/// The layout version byte in front of every stored entry.
const ENTRY_LAYOUT_V1: u8 = 1;

/// Where an entry sits in time: its millisecond, then its place within that millisecond. Every
/// key of the log ends with it, big-endian, so byte order is time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Stamp {
    pub(crate) ms: u64,
    pub(crate) seq: u32,
}

impl Stamp {
    pub(crate) const LEN: usize = 12;

    /// The first stamp of a millisecond; negative times count as 0.
    pub(crate) fn start_of(at_ms: i64) -> Stamp {
        Stamp {
            ms: millis(at_ms),
            seq: 0,
        }
    }

    pub(crate) fn bytes(self) -> [u8; Stamp::LEN] {
        let mut bytes = [0u8; Stamp::LEN];
        bytes[..8].copy_from_slice(&self.ms.to_be_bytes());
        bytes[8..].copy_from_slice(&self.seq.to_be_bytes());
        bytes
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Stamp> {
        let bytes: &[u8; Stamp::LEN] = bytes.try_into().ok()?;
        let (ms, seq) = bytes.split_at(8);
        Some(Stamp {
            ms: u64::from_be_bytes(ms.try_into().ok()?),
            seq: u32::from_be_bytes(seq.try_into().ok()?),
        })
    }

    /// The stamp at the end of any key of the log.
    pub(crate) fn of_key(key: &[u8]) -> Option<Stamp> {
        Stamp::from_bytes(key.get(key.len().checked_sub(Stamp::LEN)?..)?)
    }

    /// The stamp right after this one, or `None` at the end of time.
    pub(crate) fn successor(self) -> Option<Stamp> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(Stamp { ms: self.ms, seq }),
            None => Some(Stamp {
                ms: self.ms.checked_add(1)?,
                seq: 0,
            }),
        }
    }

    /// The entry's time as stored in `AuditEntry::at_ms`.
    pub(crate) fn at_ms(self) -> i64 {
        i64::try_from(self.ms).unwrap_or(i64::MAX)
    }
}

/// A time in milliseconds as keys hold it: negative times count as 0.
pub(crate) fn millis(at_ms: i64) -> u64 {
    u64::try_from(at_ms).unwrap_or(0)
}

/// `t <ms> <seq>`: the key of an entry.
pub(crate) fn entry_key(stamp: Stamp) -> Vec<u8> {
    with_stamp(vec![ENTRY_TAG], stamp)
}

/// `prefix` followed by `stamp`: a key, or a range bound, of one index prefix.
pub(crate) fn with_stamp(mut prefix: Vec<u8>, stamp: Stamp) -> Vec<u8> {
    prefix.extend_from_slice(&stamp.bytes());
    prefix
}

/// `a <kind:id> \0`: the prefix of an actor's index keys.
pub(crate) fn actor_prefix(kind: ActorKind, id: &str) -> Vec<u8> {
    let mut prefix = vec![ACTOR_TAG];
    push_key_text(&mut prefix, &format!("{}:{id}", kind.as_str()));
    prefix.push(0);
    prefix
}

/// `c <action> \0`: the prefix of an action's index keys.
pub(crate) fn action_prefix(action: &AuditAction) -> Vec<u8> {
    let mut prefix = vec![ACTION_TAG];
    push_key_text(&mut prefix, action.as_str());
    prefix.push(0);
    prefix
}

/// `p <sandbox> \0 <profile id>`: the prefix of a profile's index keys. Entries without a
/// sandbox use the empty name.
pub(crate) fn profile_prefix(sandbox: Option<&str>, profile: u64) -> Vec<u8> {
    let mut prefix = vec![PROFILE_TAG];
    push_key_text(&mut prefix, sandbox.unwrap_or(""));
    prefix.push(0);
    prefix.extend_from_slice(&profile.to_be_bytes());
    prefix
}

/// `i <hmac16>`: the prefix of an identity's index keys.
pub(crate) fn identity_prefix(hmac: &[u8; 16]) -> Vec<u8> {
    let mut prefix = vec![IDENTITY_TAG];
    prefix.extend_from_slice(hmac);
    prefix
}

fn push_key_text(key: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let kept = &bytes[..bytes.len().min(MAX_KEY_TEXT_BYTES)];
    key.extend(kept.iter().map(|&b| if b == 0 { 1 } else { b }));
}

/// Every index key of an entry written at `stamp`.
pub(crate) fn index_keys(entry: &AuditEntry, stamp: Stamp) -> Vec<Vec<u8>> {
    let mut keys = appended_index_keys(entry, stamp);
    keys.extend(deferred_index_keys(entry, stamp));
    keys
}

/// The index keys written with the entry: its actor's and its action's.
pub(crate) fn appended_index_keys(entry: &AuditEntry, stamp: Stamp) -> Vec<Vec<u8>> {
    vec![
        with_stamp(actor_prefix(entry.actor.kind, &entry.actor.id), stamp),
        with_stamp(action_prefix(&entry.action), stamp),
    ]
}

/// The index keys the writer holds back and writes sorted: its profiles' and its identity's.
pub(crate) fn deferred_index_keys(entry: &AuditEntry, stamp: Stamp) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut profiles = entry.profiles.clone();
    profiles.sort_unstable();
    profiles.dedup();
    keys.extend(
        profiles
            .into_iter()
            .map(|profile| with_stamp(profile_prefix(entry.sandbox.as_deref(), profile), stamp)),
    );
    if let Some(identity) = &entry.identity {
        keys.push(with_stamp(identity_prefix(&identity.hmac), stamp));
    }
    keys
}

/// The stamp before which every entry has its deferred index keys, if the log says.
pub(crate) fn indexed_until(txn: &dyn ReadTxn) -> Result<Option<Stamp>> {
    match txn.get(Table::Audit, INDEXED_UNTIL_KEY)? {
        None => Ok(None),
        Some(bytes) => Stamp::from_bytes(bytes)
            .map(Some)
            .ok_or_else(|| AuditError::unreadable(INDEXED_UNTIL_KEY, "not a stamp")),
    }
}

/// The newest stamp written, if any entry is stored.
pub(crate) fn newest_stamp(txn: &dyn ReadTxn) -> Result<Option<Stamp>> {
    let mut newest = None;
    txn.scan(
        Table::Audit,
        &[ENTRY_TAG],
        &[ENTRY_TAG + 1],
        Direction::Backward,
        &mut |key, _| {
            newest = Stamp::of_key(key);
            Scan::Stop
        },
    )?;
    Ok(newest)
}

/// The highest sequence number stored for millisecond `ms`, if any.
pub(crate) fn newest_seq_in(txn: &dyn ReadTxn, ms: u64) -> Result<Option<u32>> {
    let start = entry_key(Stamp { ms, seq: 0 });
    let end = store::prefix_end(&start[..1 + 8]);
    let mut newest = None;
    txn.scan(
        Table::Audit,
        &start,
        &end,
        Direction::Backward,
        &mut |key, _| {
            newest = Stamp::of_key(key).map(|stamp| stamp.seq);
            Scan::Stop
        },
    )?;
    Ok(newest)
}

/// The stored layout of an entry (postcard is not self-describing: append fields only under a
/// new layout version). Time and sequence are not repeated: they are the key.
#[derive(Serialize, Deserialize)]
struct StoredEntryV1<'a> {
    actor_kind: u8,
    actor_id: Cow<'a, str>,
    actor_role: Option<Cow<'a, str>>,
    via: u8,
    client_address: Option<Cow<'a, str>>,
    client_api_key: Option<Cow<'a, str>>,
    action: Cow<'a, str>,
    sandbox: Option<Cow<'a, str>>,
    profiles: Cow<'a, [u64]>,
    identity: Option<(Cow<'a, str>, [u8; 16])>,
    object: Option<Cow<'a, str>>,
    fields: Option<StoredFieldsV1<'a>>,
    status: u16,
    code: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
struct StoredFieldsV1<'a> {
    all: bool,
    paths: Cow<'a, [String]>,
    redaction_stamp: Option<u64>,
    redacted: u16,
}

fn actor_kind_byte(kind: ActorKind) -> u8 {
    match kind {
        ActorKind::Master => 0,
        ActorKind::Dev => 1,
        ActorKind::Key => 2,
        ActorKind::User => 3,
        ActorKind::System => 4,
    }
}

fn actor_kind_of(byte: u8) -> Option<ActorKind> {
    ActorKind::ALL
        .into_iter()
        .find(|kind| actor_kind_byte(*kind) == byte)
}

fn via_byte(via: Via) -> u8 {
    match via {
        Via::Api => 0,
        Via::Console => 1,
        Via::Cli => 2,
    }
}

fn via_of(byte: u8) -> Option<Via> {
    [Via::Api, Via::Console, Via::Cli]
        .into_iter()
        .find(|via| via_byte(*via) == byte)
}

fn borrowed(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(Cow::Borrowed)
}

/// The stored value of an entry: the layout version byte, then postcard.
pub(crate) fn encode_entry(entry: &AuditEntry) -> Result<Vec<u8>> {
    let stored = StoredEntryV1 {
        actor_kind: actor_kind_byte(entry.actor.kind),
        actor_id: Cow::Borrowed(&entry.actor.id),
        actor_role: borrowed(&entry.actor.role),
        via: via_byte(entry.via),
        client_address: borrowed(&entry.client.address),
        client_api_key: borrowed(&entry.client.api_key),
        action: Cow::Borrowed(entry.action.as_str()),
        sandbox: borrowed(&entry.sandbox),
        profiles: Cow::Borrowed(&entry.profiles),
        identity: entry
            .identity
            .as_ref()
            .map(|identity| (Cow::Borrowed(identity.namespace.as_str()), identity.hmac)),
        object: borrowed(&entry.object),
        fields: entry.fields.as_ref().map(|fields| StoredFieldsV1 {
            all: fields.requested == RequestedFields::All,
            paths: match &fields.requested {
                RequestedFields::All => Cow::Borrowed(&[]),
                RequestedFields::Paths(paths) => Cow::Borrowed(paths),
            },
            redaction_stamp: fields.redaction_stamp,
            redacted: fields.redacted,
        }),
        status: entry.outcome.status,
        code: borrowed(&entry.outcome.code),
    };
    let mut value = vec![ENTRY_LAYOUT_V1];
    let body = postcard::to_stdvec(&stored).map_err(|e| {
        AuditError::unreadable(
            &entry_key(Stamp::start_of(entry.at_ms)),
            format!("cannot be encoded: {e}"),
        )
    })?;
    value.extend_from_slice(&body);
    Ok(value)
}

/// The entry stored under `key` (a `t` key) with `value`.
pub(crate) fn decode_entry(key: &[u8], value: &[u8]) -> Result<AuditEntry> {
    let stamp =
        Stamp::of_key(key).ok_or_else(|| AuditError::unreadable(key, "not an entry key"))?;
    let Some((&ENTRY_LAYOUT_V1, body)) = value.split_first() else {
        return Err(AuditError::unreadable(key, "unknown layout version"));
    };
    let stored: StoredEntryV1<'_> =
        postcard::from_bytes(body).map_err(|e| AuditError::unreadable(key, e.to_string()))?;
    let owned = |text: Option<Cow<'_, str>>| text.map(Cow::into_owned);
    let kind = actor_kind_of(stored.actor_kind)
        .ok_or_else(|| AuditError::unreadable(key, "unknown actor kind"))?;
    let via = via_of(stored.via).ok_or_else(|| AuditError::unreadable(key, "unknown channel"))?;
    let action = AuditAction::parse(&stored.action)
        .ok_or_else(|| AuditError::unreadable(key, "not an action name"))?;
    Ok(AuditEntry {
        at_ms: stamp.at_ms(),
        seq: stamp.seq,
        actor: Actor {
            kind,
            id: stored.actor_id.into_owned(),
            role: owned(stored.actor_role),
        },
        via,
        client: Client {
            address: owned(stored.client_address),
            api_key: owned(stored.client_api_key),
        },
        action,
        sandbox: owned(stored.sandbox),
        profiles: stored.profiles.into_owned(),
        identity: stored.identity.map(|(namespace, hmac)| IdentityRef {
            namespace: namespace.into_owned(),
            hmac,
        }),
        object: owned(stored.object),
        fields: stored.fields.map(|fields| FieldsReturned {
            requested: if fields.all {
                RequestedFields::All
            } else {
                RequestedFields::Paths(fields.paths.into_owned())
            },
            redaction_stamp: fields.redaction_stamp,
            redacted: fields.redacted,
        }),
        outcome: Outcome {
            status: stored.status,
            code: owned(stored.code),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_order_as_their_bytes_do() {
        let stamps = [
            Stamp { ms: 0, seq: 0 },
            Stamp { ms: 0, seq: 1 },
            Stamp {
                ms: 0,
                seq: u32::MAX,
            },
            Stamp { ms: 1, seq: 0 },
            Stamp { ms: 256, seq: 7 },
            Stamp {
                ms: u64::MAX,
                seq: 0,
            },
        ];
        for pair in stamps.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].bytes() < pair[1].bytes());
            assert_eq!(pair[0].successor().map(|s| s <= pair[1]), Some(true));
            assert_eq!(Stamp::from_bytes(&pair[0].bytes()), Some(pair[0]));
        }
    }

    #[test]
    fn a_nul_or_a_long_text_never_breaks_an_index_prefix() {
        let prefix = actor_prefix(ActorKind::User, "a\0b");
        assert_eq!(prefix, b"auser:a\x01b\0");
        let long = "x".repeat(10_000);
        assert_eq!(
            profile_prefix(Some(&long), 7).len(),
            1 + MAX_KEY_TEXT_BYTES + 1 + 8
        );
    }
}
