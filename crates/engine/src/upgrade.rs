//! Bringing a store written by an earlier key layout up to this one, once, when the engine opens.
//!
//! Each step finds out for itself whether it has work (so a store already upgraded costs one
//! read), works in transactions of bounded size, and can be interrupted and run again.

use store::{Direction, Scan, Store, Table};

use crate::error::Result;
use crate::keys;

/// Writes at most this many keys a transaction.
const KEYS_A_COMMIT: usize = 50_000;

/// Runs every step that has work.
pub(crate) fn upgrade(store: &dyn Store) -> Result<()> {
    file_event_ids_under_their_profiles(store)
}

/// Until 2026-11-29 an event's (dataset, `_id`) was filed in the `event-ids` table, at a random
/// place per event; it is now filed under the event's profile ([`keys::event_id`]). The entries
/// are made again from the events themselves, then the old table is emptied.
fn file_event_ids_under_their_profiles(store: &dyn Store) -> Result<()> {
    let has_old_entries = |store: &dyn Store| -> Result<bool> {
        let txn = store.read()?;
        let mut found = false;
        txn.scan(
            Table::EventIds,
            &[],
            &[],
            Direction::Forward,
            &mut |_, _| {
                found = true;
                Scan::Stop
            },
        )?;
        Ok(found)
    };
    if !has_old_entries(store)? {
        return Ok(());
    }
    // Each event's id entry, a transaction at a time, resuming after the last event filed.
    let mut resume: Vec<u8> = Vec::new();
    loop {
        let mut txn = store.write()?;
        let mut entries: Vec<(Vec<u8>, [u8; 8])> = Vec::new();
        let mut last = None;
        txn.scan(
            Table::Events,
            &resume,
            &[],
            Direction::Forward,
            &mut |key, _| {
                if entries.len() == KEYS_A_COMMIT {
                    return Scan::Stop;
                }
                last = Some(key.to_vec());
                if let Some((id_key, filed_at)) = event_id_entry(key) {
                    entries.push((id_key, filed_at));
                }
                Scan::Continue
            },
        )?;
        for (id_key, filed_at) in &entries {
            txn.put(Table::Events, id_key, filed_at)?;
        }
        txn.commit()?;
        match last {
            Some(mut key) if entries.len() == KEYS_A_COMMIT => {
                key.push(0);
                resume = key;
            }
            _ => break,
        }
    }
    // Then the old table goes.
    loop {
        let mut txn = store.write()?;
        let mut old: Vec<Vec<u8>> = Vec::new();
        txn.scan(
            Table::EventIds,
            &[],
            &[],
            Direction::Forward,
            &mut |key, _| {
                old.push(key.to_vec());
                if old.len() == KEYS_A_COMMIT {
                    Scan::Stop
                } else {
                    Scan::Continue
                }
            },
        )?;
        for key in &old {
            txn.delete(Table::EventIds, key)?;
        }
        txn.commit()?;
        if old.len() < KEYS_A_COMMIT {
            return Ok(());
        }
    }
}

/// The id entry (key, and the event's time as its value) of the Events table key `key` when it
/// is an event's: `sandbox \0 pid time hash`, not a computed record (`FF×16` in place of the
/// time and hash) nor an id entry (longer).
fn event_id_entry(key: &[u8]) -> Option<(Vec<u8>, [u8; 8])> {
    let sandbox_end = key.iter().position(|b| *b == 0)?;
    if key.len() != sandbox_end + 1 + 8 + 16 || key.ends_with(&keys::COMPUTED_TAIL) {
        return None;
    }
    let time_start = key.len() - 16;
    let filed_at: [u8; 8] = key[time_start..time_start + 8].try_into().ok()?;
    Some((keys::event_id_of(key)?, filed_at))
}
