//! Retention, the only way anything leaves the log: entries older than the retention period
//! are deleted, oldest first, with their index keys, in transactions of bounded size.

use store::{Direction, Scan, Store, Table};

use crate::error::Result;
use crate::stored::{self, Stamp, ENTRY_TAG};

/// The most entries one pruning transaction deletes.
const MAX_ENTRIES_PER_TRANSACTION: usize = 10_000;
/// The most keys (entries and index keys) one pruning transaction deletes, so entries naming
/// many profiles never make a transaction too large.
const MAX_KEYS_PER_TRANSACTION: usize = 100_000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// How long entries are kept.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retention {
    pub(crate) days: u32,
}

impl Retention {
    /// Entries dated before this are past retention at `now_ms`.
    pub(crate) fn cutoff_ms(self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(i64::from(self.days).saturating_mul(DAY_MS))
    }

    /// Deletes every entry dated before `cutoff_ms(now_ms)` and its index keys; returns how
    /// many entries that was.
    pub(crate) fn prune(self, store: &dyn Store, now_ms: i64) -> Result<u64> {
        let mut deleted = 0u64;
        loop {
            match self.prune_one_transaction(store, now_ms)? {
                0 => return Ok(deleted),
                batch => deleted += batch as u64,
            }
        }
    }

    /// Deletes the oldest entries dated before `cutoff_ms(now_ms)` and their index keys, in
    /// one transaction of at most `MAX_ENTRIES_PER_TRANSACTION` entries; returns how many
    /// (0 when none is left). The writer calls this between flushes, so pruning a large
    /// backlog never holds up recording.
    pub(crate) fn prune_one_transaction(self, store: &dyn Store, now_ms: i64) -> Result<usize> {
        let cutoff_ms = self.cutoff_ms(now_ms);
        if cutoff_ms <= 0 {
            return Ok(0);
        }
        let cutoff = stored::entry_key(Stamp::start_of(cutoff_ms));
        let mut txn = store.write()?;
        let mut expired = Vec::new();
        let mut keys = 0;
        txn.scan(
            Table::Audit,
            &[ENTRY_TAG],
            &cutoff,
            Direction::Forward,
            &mut |key, value| {
                if expired.len() == MAX_ENTRIES_PER_TRANSACTION || keys >= MAX_KEYS_PER_TRANSACTION
                {
                    return Scan::Stop;
                }
                let index_keys = match stored::decode_entry(key, value) {
                    Ok(entry) => Stamp::of_key(key)
                        .map(|stamp| stored::index_keys(&entry, stamp))
                        .unwrap_or_default(),
                    Err(error) => {
                        // Its index keys cannot be found; the query skips index keys whose
                        // entry is gone.
                        tracing::warn!(%error, "deleting an unreadable audit entry past retention");
                        Vec::new()
                    }
                };
                keys += 1 + index_keys.len();
                expired.push((key.to_vec(), index_keys));
                Scan::Continue
            },
        )?;
        if expired.is_empty() {
            return Ok(0);
        }
        for (key, index_keys) in &expired {
            txn.delete(Table::Audit, key)?;
            for index_key in index_keys {
                txn.delete(Table::Audit, index_key)?;
            }
        }
        txn.commit()?;
        Ok(expired.len())
    }
}
