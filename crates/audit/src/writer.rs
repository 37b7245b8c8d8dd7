//! The writer thread: every flush interval (or at once, for a durable entry, a flush or
//! closing) it takes what waits in the channel and commits it in one write transaction, gives
//! each entry its sequence number, and now and then deletes what retention no longer keeps.
//! When a transaction fails it stops, and the log refuses entries from then on.
//!
//! An entry's profile and identity index keys are held back (`Deferred`) and written sorted,
//! many at once, when enough wait or the oldest has waited `DEFER_AT_MOST`, with the stamp
//! before which every entry has them (`indexed-until`). Until then queries find those entries
//! by time; after a crash the keys are made again from the entries at the next open.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use store::{LmdbStore, Store, Table, WriteTxn};

use crate::entry::{AuditEntry, MAX_PROFILES_PER_ENTRY};
use crate::error::{AuditError, Result, Unavailable};
use crate::recorder::{Intake, Message, Reply};
use crate::retention::Retention;
use crate::stored::{self, Stamp};

/// The most keys (entries and index keys) one write transaction puts, so a burst of entries
/// naming many profiles never makes a transaction too large for LMDB.
const MAX_KEYS_PER_TRANSACTION: usize = 100_000;
/// How long after opening the first pruning runs (unless pruning is more frequent than that),
/// so a server restarted often still prunes.
const FIRST_PRUNE_AFTER: Duration = Duration::from_secs(60);
/// The longest the profile and identity keys of an entry wait to be written.
const DEFER_AT_MOST: Duration = Duration::from_secs(10);
/// Held-back keys past which they are written whatever their age: enough that a busy log
/// writes several keys per page, few enough that a query reads the entries behind them in
/// time order quickly.
const DEFER_AT_MOST_KEYS: usize = 100_000;

/// The profile and identity index keys held back, and the stamp before which every entry has
/// its keys written.
pub(crate) struct Deferred {
    pub(crate) keys: Vec<Vec<u8>>,
    pub(crate) since: Option<Instant>,
    pub(crate) indexed_until: Stamp,
}

impl Deferred {
    /// What `open` finds: the log's `indexed-until` (or, for a log written before keys were
    /// held back, the stamp after its newest entry), and the keys of the entries after it.
    pub(crate) fn recover(store: &LmdbStore, newest: Option<Stamp>) -> Result<Deferred> {
        let stored_until = stored::indexed_until(&*store.read()?)?;
        let indexed_until = match stored_until {
            Some(stamp) => stamp,
            None => {
                // Said at once: entries written from now on hold their keys back.
                let stamp = newest
                    .and_then(Stamp::successor)
                    .unwrap_or(Stamp { ms: 0, seq: 0 });
                let mut txn = store.write()?;
                txn.put(Table::Audit, stored::INDEXED_UNTIL_KEY, &stamp.bytes())?;
                txn.commit()?;
                stamp
            }
        };
        let txn = store.read()?;
        let mut keys = Vec::new();
        let mut failure = None;
        txn.scan(
            Table::Audit,
            &stored::entry_key(indexed_until),
            &[stored::ENTRY_TAG + 1],
            store::Direction::Forward,
            &mut |key, value| match stored::decode_entry(key, value) {
                Ok(entry) => {
                    if let Some(stamp) = Stamp::of_key(key) {
                        keys.extend(stored::deferred_index_keys(&entry, stamp));
                    }
                    store::Scan::Continue
                }
                Err(error) => {
                    failure = Some(error);
                    store::Scan::Stop
                }
            },
        )?;
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(Deferred {
            since: (!keys.is_empty()).then(Instant::now),
            keys,
            indexed_until,
        })
    }
}

pub(crate) struct Writer {
    pub(crate) store: Arc<LmdbStore>,
    pub(crate) intake: Arc<Intake>,
    pub(crate) messages: Receiver<Message>,
    pub(crate) wake: Receiver<()>,
    pub(crate) flush_interval: Duration,
    /// The most messages taken from the channel per round: its capacity, so a steady stream
    /// cannot keep one round going forever.
    pub(crate) batch_limit: usize,
    pub(crate) retention: Retention,
    pub(crate) prune_every: Option<Duration>,
    pub(crate) sequencer: Sequencer,
    pub(crate) deferred: Deferred,
}

/// Marks the writer stopped however its thread ends, a panic included.
struct StoppedOnDrop(Arc<Intake>);

impl Drop for StoppedOnDrop {
    fn drop(&mut self) {
        self.0.mark_writer_stopped();
    }
}

impl Writer {
    /// Runs until the log is closed (returning `true`) or a transaction fails (`false`).
    pub(crate) fn run(mut self) -> bool {
        let _stopped = StoppedOnDrop(Arc::clone(&self.intake));
        let started = Instant::now();
        let mut next_flush = started + self.flush_interval;
        let mut next_prune = self
            .prune_every
            .map(|every| started + every.min(FIRST_PRUNE_AFTER));
        // While a pruning round is under way: the time it prunes as of, and what it deleted.
        let mut pruning: Option<(i64, u64)> = None;
        loop {
            let deadline = match (pruning, next_prune) {
                (None, Some(prune)) => prune.min(next_flush),
                _ => next_flush,
            };
            // Woken early, timed out or (never, the intake holds the sender) disconnected: in
            // every case commit what waits.
            let _ = self.wake.recv_deadline(deadline);
            let closing = self.intake.is_closed();
            if let Err(error) = self
                .commit_waiting(closing)
                .and_then(|()| self.write_deferred(closing))
            {
                tracing::error!(%error, "the audit writer failed; audited requests are refused until restart");
                self.intake.refuse_all(&self.messages);
                return false;
            }
            if closing {
                return true;
            }
            let now = Instant::now();
            if now >= next_flush {
                next_flush = now + self.flush_interval;
            }
            if pruning.is_none() && next_prune.is_some_and(|due| now >= due) {
                pruning = Some((crate::now_ms(), 0));
            }
            // One pruning transaction per round, so recording goes on between them.
            if let Some((as_of_ms, deleted)) = pruning {
                match self.retention.prune_one_transaction(&*self.store, as_of_ms) {
                    Ok(0) => {
                        if deleted > 0 {
                            tracing::info!(deleted, "pruned audit entries past retention");
                        }
                        pruning = None;
                        next_prune = self.prune_every.map(|every| Instant::now() + every);
                    }
                    Ok(batch) => pruning = Some((as_of_ms, deleted + batch as u64)),
                    // Tried again at the next round, `prune_every` later.
                    Err(error) => {
                        tracing::warn!(%error, "pruning the audit log failed");
                        pruning = None;
                        next_prune = self.prune_every.map(|every| Instant::now() + every);
                    }
                }
            }
        }
    }

    /// Commits every message waiting (all of them when `until_empty`, else at most one
    /// channel's worth), then answers the flushes and durable entries among them.
    fn commit_waiting(&mut self, until_empty: bool) -> Result<()> {
        loop {
            let mut entries = Vec::new();
            let mut replies: Vec<Reply> = Vec::new();
            while entries.len() + replies.len() < self.batch_limit {
                match self.messages.try_recv() {
                    Ok(Message::Entry(entry)) => entries.push(*entry),
                    Ok(Message::Durable(entry, reply)) => {
                        entries.push(*entry);
                        replies.push(reply);
                    }
                    Ok(Message::Flush(reply)) => replies.push(reply),
                    Err(_) => break,
                }
            }
            let taken = entries.len() + replies.len();
            let written = self.write(entries);
            let answer = written.as_ref().map(|_| ()).map_err(|_| Unavailable);
            for reply in replies {
                let _ = reply.send(answer);
            }
            written?;
            if !until_empty || taken < self.batch_limit {
                return Ok(());
            }
        }
    }

    /// Writes `entries` in as few transactions as `MAX_KEYS_PER_TRANSACTION` allows.
    fn write(&mut self, entries: Vec<AuditEntry>) -> Result<()> {
        let store = Arc::clone(&self.store);
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            let mut txn = store.write()?;
            let mut keys = 0;
            while keys < MAX_KEYS_PER_TRANSACTION {
                let Some(mut entry) = entries.next() else {
                    break;
                };
                entry.profiles.truncate(MAX_PROFILES_PER_ENTRY);
                keys += self.put(&mut *txn, &entry)?;
            }
            txn.commit()?;
        }
        Ok(())
    }

    /// Puts one entry and its actor and action keys, and holds back its profile and identity
    /// keys (written at once for an entry dated before `indexed-until`, which queries would
    /// otherwise look for in the indexes); returns how many keys it put.
    fn put(&mut self, txn: &mut dyn WriteTxn, entry: &AuditEntry) -> Result<usize> {
        let stamp = self.sequencer.next(&*txn, entry.at_ms)?;
        txn.put(
            Table::Audit,
            &stored::entry_key(stamp),
            &stored::encode_entry(entry)?,
        )?;
        let mut index_keys = stored::appended_index_keys(entry, stamp);
        let deferred = stored::deferred_index_keys(entry, stamp);
        if stamp < self.deferred.indexed_until {
            index_keys.extend(deferred);
        } else if !deferred.is_empty() {
            self.deferred.since.get_or_insert_with(Instant::now);
            self.deferred.keys.extend(deferred);
        }
        for key in &index_keys {
            txn.put(Table::Audit, key, &[])?;
        }
        Ok(1 + index_keys.len())
    }

    /// Writes the held-back keys, sorted so they fill pages in order, when enough wait, the
    /// oldest has waited long enough, or the log is closing; then moves `indexed-until` past
    /// every entry committed so far, in the last transaction.
    fn write_deferred(&mut self, closing: bool) -> Result<()> {
        let due = closing
            || self.deferred.keys.len() >= DEFER_AT_MOST_KEYS
            || self
                .deferred
                .since
                .is_some_and(|since| since.elapsed() >= DEFER_AT_MOST);
        if !due {
            return Ok(());
        }
        let Some(until) = self.sequencer.newest.and_then(Stamp::successor) else {
            return Ok(());
        };
        let mut keys = std::mem::take(&mut self.deferred.keys);
        keys.sort_unstable();
        keys.dedup();
        let mut chunks = keys.chunks(MAX_KEYS_PER_TRANSACTION).peekable();
        loop {
            let mut txn = self.store.write()?;
            for key in chunks.next().unwrap_or_default() {
                txn.put(Table::Audit, key, &[])?;
            }
            if chunks.peek().is_none() {
                txn.put(Table::Audit, stored::INDEXED_UNTIL_KEY, &until.bytes())?;
                txn.commit()?;
                break;
            }
            txn.commit()?;
        }
        self.deferred.indexed_until = until;
        self.deferred.since = None;
        Ok(())
    }
}

/// Gives each entry a stamp no other entry has: its millisecond and the next free number in it.
pub(crate) struct Sequencer {
    /// The newest stamp given (or found stored when the log was opened).
    pub(crate) newest: Option<Stamp>,
}

impl Sequencer {
    pub(crate) fn new(newest: Option<Stamp>) -> Sequencer {
        Sequencer { newest }
    }

    fn next(&mut self, txn: &dyn WriteTxn, at_ms: i64) -> Result<Stamp> {
        let ms = stored::millis(at_ms);
        let seq = match self.newest {
            None => 0,
            Some(newest) if ms > newest.ms => 0,
            Some(newest) if ms == newest.ms => newest.seq.checked_add(1).ok_or_else(overflow)?,
            // An entry dated before the newest one: look up what its millisecond already holds
            // (the transaction sees its own writes).
            Some(_) => match stored::newest_seq_in(txn, ms)? {
                None => 0,
                Some(seq) => seq.checked_add(1).ok_or_else(overflow)?,
            },
        };
        let stamp = Stamp { ms, seq };
        if self.newest.is_none_or(|newest| stamp > newest) {
            self.newest = Some(stamp);
        }
        Ok(stamp)
    }
}

fn overflow() -> AuditError {
    AuditError::Storage(store::StoreError::Backend(
        "more than 2^32 audit entries in one millisecond".to_owned(),
    ))
}
