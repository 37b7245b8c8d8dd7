//! `AuditLog`: opens the log's own LMDB environment, starts its writer thread, and answers
//! queries, exports and pruning. Closing (or dropping) it commits everything queued first.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use store::{LmdbOptions, LmdbStore, Store, Table};

use crate::entry::IdentityRef;
use crate::error::{AuditError, Result, Unavailable};
use crate::identity::Pepper;
use crate::query::{self, AuditPage, AuditQuery};
use crate::recorder::{Intake, Recorder};
use crate::retention::Retention;
use crate::stored;
use crate::writer::{Deferred, Sequencer, Writer};

/// How the log is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// The largest the data file may grow to (virtual address space, not memory).
    pub map_size_bytes: usize,
    /// How often queued entries are committed (at least 1 ms).
    pub flush_interval: Duration,
    /// How many entries may wait for the writer before `record` refuses more (at least 1).
    pub channel_capacity: usize,
    /// Entries older than this many days are deleted by `prune`.
    pub retention_days: u32,
    /// How often the writer prunes by itself, one transaction between flushes (the first time
    /// a minute after opening, or sooner when this is shorter); `None` leaves pruning to
    /// `AuditLog::prune`.
    pub prune_every: Option<Duration>,
}

impl Default for AuditOptions {
    fn default() -> AuditOptions {
        AuditOptions {
            map_size_bytes: 16 << 30,
            flush_interval: Duration::from_millis(50),
            channel_capacity: 65_536,
            retention_days: 365,
            prune_every: Some(Duration::from_secs(60 * 60)),
        }
    }
}

/// The audit log. Share it (in an `Arc`) for queries; hand out `recorder()`s for writing.
pub struct AuditLog {
    store: Arc<LmdbStore>,
    pepper: Arc<Pepper>,
    intake: Arc<Intake>,
    recorder: Recorder,
    retention: Retention,
    /// The writer thread, which returns whether it stopped because the log was closed (rather
    /// than because a transaction failed).
    writer: Mutex<Option<JoinHandle<bool>>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("retention_days", &self.retention.days)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens the log in `dir` (created when missing; the server uses `<data-dir>/audit`), with
    /// its pepper made and stored on first open, and starts the writer thread.
    pub fn open(dir: &Path, options: AuditOptions) -> Result<AuditLog> {
        let store = Arc::new(LmdbStore::open_tables(
            dir,
            &LmdbOptions {
                map_size_bytes: options.map_size_bytes,
            },
            &[Table::Audit],
        )?);
        let pepper = Arc::new(Pepper::load_or_create(&*store)?);
        let newest = stored::newest_stamp(&*store.read()?)?;
        let capacity = options.channel_capacity.max(1);
        let (intake, messages, wake) = Intake::new(capacity);
        let intake = Arc::new(intake);
        let retention = Retention {
            days: options.retention_days,
        };
        let writer = Writer {
            store: Arc::clone(&store),
            intake: Arc::clone(&intake),
            messages,
            wake,
            flush_interval: options.flush_interval.max(Duration::from_millis(1)),
            batch_limit: capacity,
            retention,
            prune_every: options.prune_every,
            sequencer: Sequencer::new(newest),
            deferred: Deferred::recover(&store, newest)?,
        };
        let handle = std::thread::Builder::new()
            .name("audit-writer".to_owned())
            .spawn(move || writer.run())
            .map_err(|e| {
                AuditError::Storage(store::StoreError::Backend(format!(
                    "the audit writer thread could not start: {e}"
                )))
            })?;
        Ok(AuditLog {
            recorder: Recorder::new(Arc::clone(&intake), Arc::clone(&pepper)),
            store,
            pepper,
            intake,
            retention,
            writer: Mutex::new(Some(handle)),
        })
    }

    /// A handle for recording entries from any thread.
    pub fn recorder(&self) -> Recorder {
        self.recorder.clone()
    }

    /// The reference recorded for the identity `value` in `namespace`: the HMAC-SHA-256, keyed
    /// with this log's pepper, of the trimmed, lowercased namespace and value joined by a NUL,
    /// cut to 16 bytes. Nothing else of the value is kept.
    pub fn identity_ref(&self, namespace: &str, value: &str) -> IdentityRef {
        self.pepper.identity_ref(namespace, value)
    }

    /// Returns once everything recorded before the call has committed.
    /// `AuditError::Unavailable` when the writer has stopped (some entries may be lost).
    pub fn flush(&self) -> Result<()> {
        Ok(self.recorder.flush()?)
    }

    /// One page of the entries matching `query`, newest first (see `AuditQuery`).
    pub fn query(&self, query: &AuditQuery) -> Result<AuditPage> {
        query::query(&*self.store, &self.pepper, query)
    }

    /// Writes every entry dated in `[start_ms, end_ms)` to `out` as JSON Lines, oldest first,
    /// reading a thousand entries per read transaction; returns how many it wrote.
    pub fn export(&self, start_ms: i64, end_ms: i64, out: &mut impl Write) -> Result<u64> {
        query::export(&*self.store, start_ms, end_ms, out)
    }

    /// Deletes every entry dated more than the retention period before `now_ms`, and its index
    /// keys, oldest first in bounded transactions; returns how many entries. The writer also
    /// does this by itself (see `AuditOptions::prune_every`). Nothing else ever deletes or
    /// changes an entry.
    pub fn prune(&self, now_ms: i64) -> Result<u64> {
        self.retention.prune(&*self.store, now_ms)
    }

    /// Refuses new entries, commits everything queued, and stops the writer.
    /// `AuditError::Unavailable` when the writer had already failed, so entries may be lost.
    pub fn close(self) -> Result<()> {
        self.stop_writer()
    }

    fn stop_writer(&self) -> Result<()> {
        let handle = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(handle) = handle else {
            return Ok(());
        };
        self.intake.close();
        match handle.join() {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => Err(Unavailable.into()),
        }
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        if self.stop_writer().is_err() {
            tracing::warn!("the audit writer had stopped before the log was closed");
        }
    }
}
