//! The writer thread: every flush interval (or at once, for a durable entry, a flush or
//! closing) it takes what waits in the channel and commits it in one write transaction, gives
//! each entry its sequence number, and now and then deletes what retention no longer keeps.
//! When a transaction fails it stops, and the log refuses entries from then on.

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
            if let Err(error) = self.commit_waiting(closing) {
                tracing::error!(%error, "the audit writer failed; audited requests are refused until restart");
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

    /// Puts one entry and its index keys; returns how many keys that was.
    fn put(&mut self, txn: &mut dyn WriteTxn, entry: &AuditEntry) -> Result<usize> {
        let stamp = self.sequencer.next(&*txn, entry.at_ms)?;
        txn.put(
            Table::Audit,
            &stored::entry_key(stamp),
            &stored::encode_entry(entry)?,
        )?;
        let index_keys = stored::index_keys(entry, stamp);
        for key in &index_keys {
            txn.put(Table::Audit, key, &[])?;
        }
        Ok(1 + index_keys.len())
    }
}

/// Gives each entry a stamp no other entry has: its millisecond and the next free number in it.
pub(crate) struct Sequencer {
    /// The newest stamp given (or found stored when the log was opened).
    newest: Option<Stamp>,
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
