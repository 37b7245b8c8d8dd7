//! The embedded backend: LMDB through heed, one named database per table.
//!
//! The environment is opened without thread-local read slots (`MDB_NOTLS`), so a read
//! transaction may move between tokio worker threads and one thread may hold several.

use std::ops::Bound;
use std::path::Path;

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};

use crate::{Direction, ReadTxn, Result, Scan, Store, StoreError, Table, WriteTxn};

/// Options of the LMDB environment.
#[derive(Debug, Clone)]
pub struct LmdbOptions {
    /// The largest the data file may grow to (virtual address space, not memory).
    pub map_size_bytes: usize,
}

pub struct LmdbStore {
    env: Env<WithoutTls>,
    /// One database per table of `Table::ALL`, `None` for those this environment does not hold.
    tables: [Option<Database<Bytes, Bytes>>; Table::ALL.len()],
}

fn backend(error: heed::Error) -> StoreError {
    match error {
        heed::Error::Mdb(heed::MdbError::MapFull) => StoreError::Full,
        other => StoreError::Backend(other.to_string()),
    }
}

impl LmdbStore {
    /// Opens (creating when needed) the main environment in `dir`, with `Table::MAIN`.
    pub fn open(dir: &Path, options: &LmdbOptions) -> Result<LmdbStore> {
        LmdbStore::open_tables(dir, options, &Table::MAIN)
    }

    /// Opens (creating when needed) an environment in `dir` holding only `tables`; using any
    /// other table through it is an error. The audit log's environment holds `Table::Audit`.
    pub fn open_tables(dir: &Path, options: &LmdbOptions, tables: &[Table]) -> Result<LmdbStore> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", dir.display())))?;
        let mut open_options = EnvOpenOptions::new().read_txn_without_tls();
        open_options
            .map_size(options.map_size_bytes)
            .max_dbs(Table::ALL.len() as u32 + 1)
            .max_readers(1024);
        // SAFETY: the data directory is owned by this process; `rapport` never opens the same
        // environment twice, and LMDB's own lock file refuses a second writer process.
        let env = unsafe { open_options.open(dir) }.map_err(backend)?;
        let mut wtxn = env.write_txn().map_err(backend)?;
        let mut databases = [None; Table::ALL.len()];
        for &table in tables {
            databases[table.index()] = Some(
                env.create_database::<Bytes, Bytes>(&mut wtxn, Some(table.name()))
                    .map_err(backend)?,
            );
        }
        wtxn.commit().map_err(backend)?;
        Ok(LmdbStore {
            env,
            tables: databases,
        })
    }

    fn table(&self, table: Table) -> Result<Database<Bytes, Bytes>> {
        self.tables[table.index()].ok_or_else(|| {
            StoreError::Backend(format!(
                "table {} is not open in this environment",
                table.name()
            ))
        })
    }
}

impl Table {
    /// Where the table is in `Table::ALL`.
    fn index(self) -> usize {
        Table::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

struct LmdbRead<'e> {
    store: &'e LmdbStore,
    txn: RoTxn<'e, WithoutTls>,
}

struct LmdbWrite<'e> {
    store: &'e LmdbStore,
    txn: RwTxn<'e>,
}

fn scan_in(
    db: Database<Bytes, Bytes>,
    txn: &RoTxn<'_>,
    start: &[u8],
    end: &[u8],
    direction: Direction,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> Scan,
) -> Result<()> {
    let upper = if end.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Excluded(end)
    };
    let lower = if start.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Included(start)
    };
    let range = (lower, upper);
    match direction {
        Direction::Forward => {
            for row in db.range(txn, &range).map_err(backend)? {
                let (key, value) = row.map_err(backend)?;
                if visit(key, value) == Scan::Stop {
                    break;
                }
            }
        }
        Direction::Backward => {
            for row in db.rev_range(txn, &range).map_err(backend)? {
                let (key, value) = row.map_err(backend)?;
                if visit(key, value) == Scan::Stop {
                    break;
                }
            }
        }
    }
    Ok(())
}

impl ReadTxn for LmdbRead<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>> {
        self.store
            .table(table)?
            .get(&self.txn, key)
            .map_err(backend)
    }

    fn scan(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        direction: Direction,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> Scan,
    ) -> Result<()> {
        scan_in(
            self.store.table(table)?,
            &self.txn,
            start,
            end,
            direction,
            visit,
        )
    }
}

impl ReadTxn for LmdbWrite<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>> {
        self.store
            .table(table)?
            .get(&self.txn, key)
            .map_err(backend)
    }

    fn scan(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        direction: Direction,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> Scan,
    ) -> Result<()> {
        scan_in(
            self.store.table(table)?,
            &self.txn,
            start,
            end,
            direction,
            visit,
        )
    }
}

impl WriteTxn for LmdbWrite<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        self.store
            .table(table)?
            .put(&mut self.txn, key, value)
            .map_err(backend)
    }

    fn put_last(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()> {
        let database = self.store.table(table)?;
        // MDB_APPEND refuses, touching nothing, a key that is not past the table's last.
        match database.put_with_flags(&mut self.txn, heed::PutFlags::APPEND, key, value) {
            Err(heed::Error::Mdb(heed::MdbError::KeyExist)) => {
                database.put(&mut self.txn, key, value).map_err(backend)
            }
            result => result.map_err(backend),
        }
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<()> {
        self.store
            .table(table)?
            .delete(&mut self.txn, key)
            .map_err(backend)
            .map(|_| ())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        self.txn.commit().map_err(backend)
    }
}

impl Store for LmdbStore {
    fn read(&self) -> Result<Box<dyn ReadTxn + '_>> {
        let txn = self.env.read_txn().map_err(backend)?;
        Ok(Box::new(LmdbRead { store: self, txn }))
    }

    fn write(&self) -> Result<Box<dyn WriteTxn + '_>> {
        let txn = self.env.write_txn().map_err(backend)?;
        Ok(Box::new(LmdbWrite { store: self, txn }))
    }

    fn disk_bytes(&self) -> u64 {
        self.env.real_disk_size().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_pages(store: &LmdbStore, table: Table) -> usize {
        let txn = store.env.read_txn().expect("read");
        let database = store.table(table).expect("table");
        database.stat(&txn).expect("stat").leaf_pages
    }

    #[test]
    fn put_last_packs_pages_for_keys_in_order_and_still_puts_any_other_key() {
        let value = vec![7u8; 900];
        let mut pages = Vec::new();
        for appending in [false, true] {
            let dir = tempfile::tempdir().expect("dir");
            let options = LmdbOptions {
                map_size_bytes: 64 << 20,
            };
            let store = LmdbStore::open(dir.path(), &options).expect("open");
            let mut txn = store.write().expect("write");
            for i in 0..1_000u32 {
                let key = (i * 2).to_be_bytes();
                match appending {
                    true => txn.put_last(Table::Views, &key, &value),
                    false => txn.put(Table::Views, &key, &value),
                }
                .expect("put");
            }
            // Keys that do not sort last: one between two others, one already there.
            txn.put_last(Table::Views, &501u32.to_be_bytes(), b"between")
                .expect("between");
            txn.put_last(Table::Views, &1_998u32.to_be_bytes(), b"replaced")
                .expect("replaced");
            txn.commit().expect("commit");
            let txn = store.read().expect("read");
            let get = |key: u32| txn.get(Table::Views, &key.to_be_bytes()).expect("get");
            assert_eq!(get(501), Some(&b"between"[..]));
            assert_eq!(get(1_998), Some(&b"replaced"[..]));
            assert_eq!(get(1_000), Some(&value[..]));
            assert_eq!(get(1_001), None);
            drop(txn);
            pages.push(leaf_pages(&store, Table::Views));
        }
        // Four 900-byte entries fit a page; inserted in order one by one, pages keep three.
        let (put, put_last) = (pages[0], pages[1]);
        assert!(
            put >= 333 && put_last <= 252,
            "leaf pages: put {put}, put_last {put_last}"
        );
    }
}
