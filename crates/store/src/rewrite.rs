//! Rewriting an environment offline: every live entry copied, in key order, into a fresh data
//! file that replaces the old one, so no byte of a deleted entry survives in free pages or in
//! the unused room of a page (LMDB zeroes the pages it allocates; only live entries are
//! written to them).
//!
//! The caller must hold the environment exclusively: no other process or handle may have it
//! open while it is rewritten.

use std::path::Path;

use heed::types::Bytes;
use heed::{Database, EnvOpenOptions, PutFlags};

use crate::{LmdbOptions, Result, StoreError, Table};

/// Entries written per transaction of the copy.
const ENTRIES_PER_COMMIT: usize = 50_000;
/// The folder, inside the environment's, where the copy is built.
const FRESH_DIR: &str = "rewrite.partial";

/// What a rewrite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// Live entries copied, over every table.
    pub entries: u64,
    /// The data file's size before and after, in bytes.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

fn io(path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Backend(format!("{}: {error}", path.display()))
}

fn backend(error: heed::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn open_env(dir: &Path, options: &LmdbOptions) -> Result<heed::Env<heed::WithoutTls>> {
    let mut open_options = EnvOpenOptions::new().read_txn_without_tls();
    open_options
        .map_size(options.map_size_bytes)
        .max_dbs(Table::ALL.len() as u32 + 1);
    // SAFETY: the caller holds the environment exclusively (see the module's documentation),
    // and the fresh one is a folder only this function writes.
    unsafe { open_options.open(dir) }.map_err(backend)
}

/// Rewrites the environment in `dir` holding `tables`. An interrupted rewrite leaves the old
/// data file in place (the copy is built beside it and renamed over it at the end), and the
/// next rewrite starts again.
pub fn rewrite(dir: &Path, options: &LmdbOptions, tables: &[Table]) -> Result<Rewritten> {
    let data_file = dir.join("data.mdb");
    let bytes_before = std::fs::metadata(&data_file)
        .map_err(|e| io(&data_file, e))?
        .len();
    let fresh_dir = dir.join(FRESH_DIR);
    if fresh_dir.exists() {
        std::fs::remove_dir_all(&fresh_dir).map_err(|e| io(&fresh_dir, e))?;
    }
    std::fs::create_dir_all(&fresh_dir).map_err(|e| io(&fresh_dir, e))?;

    let mut entries = 0u64;
    {
        let old = open_env(dir, options)?;
        let fresh = open_env(&fresh_dir, options)?;
        for &table in tables {
            let read = old.read_txn().map_err(backend)?;
            let Some(source) = old
                .open_database::<Bytes, Bytes>(&read, Some(table.name()))
                .map_err(backend)?
            else {
                continue;
            };
            let mut write = fresh.write_txn().map_err(backend)?;
            let target: Database<Bytes, Bytes> = fresh
                .create_database(&mut write, Some(table.name()))
                .map_err(backend)?;
            let mut in_txn = 0usize;
            for row in source.iter(&read).map_err(backend)? {
                let (key, value) = row.map_err(backend)?;
                // Keys come in order: appending fills pages without splitting them.
                target
                    .put_with_flags(&mut write, PutFlags::APPEND, key, value)
                    .map_err(backend)?;
                entries += 1;
                in_txn += 1;
                if in_txn == ENTRIES_PER_COMMIT {
                    write.commit().map_err(backend)?;
                    write = fresh.write_txn().map_err(backend)?;
                    in_txn = 0;
                }
            }
            write.commit().map_err(backend)?;
        }
        fresh.force_sync().map_err(backend)?;
        let closing = [old.prepare_for_closing(), fresh.prepare_for_closing()];
        for event in closing {
            event.wait();
        }
    }

    // The fresh file takes the old one's place in one rename; the old lock file goes with the
    // old data (LMDB makes a new one at the next open).
    let fresh_file = fresh_dir.join("data.mdb");
    std::fs::rename(&fresh_file, &data_file).map_err(|e| io(&data_file, e))?;
    let lock_file = dir.join("lock.mdb");
    if lock_file.exists() {
        std::fs::remove_file(&lock_file).map_err(|e| io(&lock_file, e))?;
    }
    std::fs::File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(|e| io(dir, e))?;
    std::fs::remove_dir_all(&fresh_dir).map_err(|e| io(&fresh_dir, e))?;
    let bytes_after = std::fs::metadata(&data_file)
        .map_err(|e| io(&data_file, e))?
        .len();
    Ok(Rewritten {
        entries,
        bytes_before,
        bytes_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LmdbStore, Store};

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_rewrite_keeps_every_live_entry_and_no_byte_of_a_deleted_one() {
        let dir = tempfile::tempdir().expect("dir");
        let options = LmdbOptions {
            map_size_bytes: 64 << 20,
        };
        let secret = b"erased-person@example.com";
        {
            let store = LmdbStore::open(dir.path(), &options).expect("open");
            let mut txn = store.write().expect("write");
            for i in 0..2_000u32 {
                let value = format!("customer {i} with a long enough value to fill pages");
                txn.put(Table::Fragments, &i.to_be_bytes(), value.as_bytes())
                    .expect("put");
            }
            txn.put(Table::Identities, b"email", secret).expect("put");
            txn.commit().expect("commit");
            let mut txn = store.write().expect("write");
            txn.delete(Table::Identities, b"email").expect("delete");
            for i in 0..1_000u32 {
                txn.delete(Table::Fragments, &i.to_be_bytes())
                    .expect("delete");
            }
            txn.commit().expect("commit");
        }
        // Before: the deleted value's old page is a free page, still in the file.
        let bytes = std::fs::read(dir.path().join("data.mdb")).expect("read");
        assert!(
            contains(&bytes, secret),
            "LMDB keeps old pages until reused"
        );
        let rewritten = rewrite(dir.path(), &options, &Table::MAIN).expect("rewrite");
        assert_eq!(rewritten.entries, 1_000);
        assert!(rewritten.bytes_after <= rewritten.bytes_before);
        let bytes = std::fs::read(dir.path().join("data.mdb")).expect("read");
        assert!(
            !contains(&bytes, secret),
            "the deleted value is in the file"
        );
        assert!(
            !contains(&bytes, b"customer 999 "),
            "a deleted row is in the file"
        );
        assert!(!dir.path().join(FRESH_DIR).exists());

        let store = LmdbStore::open(dir.path(), &options).expect("reopen");
        let txn = store.read().expect("read");
        assert_eq!(txn.get(Table::Identities, b"email").expect("get"), None);
        for i in [1_000u32, 1_500, 1_999] {
            let value = txn
                .get(Table::Fragments, &i.to_be_bytes())
                .expect("get")
                .expect("kept");
            assert_eq!(
                value,
                format!("customer {i} with a long enough value to fill pages").as_bytes()
            );
        }
        drop(txn);
        // The rewritten environment takes writes as before.
        let mut txn = store.write().expect("write");
        txn.put(Table::Identities, b"new", b"1").expect("put");
        txn.commit().expect("commit");
    }
}
