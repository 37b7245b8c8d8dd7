//! The storage trait the engine talks to, and its embedded LMDB implementation.
//!
//! The store knows tables of ordered byte keys and byte values, nothing else: no profiles,
//! no JSON. The engine lays its keys out so that everything belonging to one profile shares a
//! key prefix (see `ARCHITECTURE.md`), which is what a distributed backend needs to keep one
//! profile's data in one hash slot.

mod lmdb;
mod rewrite;

pub use lmdb::{LmdbOptions, LmdbStore};
pub use rewrite::{rewrite, Rewritten};

/// The tables of the store. Each backend maps them to its own containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Sandbox configuration: schemas, datasets, namespaces, merge policies, counters.
    Catalog,
    /// Identity (sandbox, namespace, value) → profile id.
    Identities,
    /// Profile id → identity graph (or a forwarding entry after a merge).
    Profiles,
    /// (profile id, dataset, primary identity) → profile fragment.
    Fragments,
    /// (profile id, timestamp, event key) → experience event; and, after a profile's events,
    /// the state of its computed attributes, then where each of its events is filed by `_id`.
    Events,
    /// Retired: (dataset, event `_id`) → where the event was stored. Events are now filed by
    /// `_id` under their profile, in `Events`; the engine empties this table of a store written
    /// before, when it opens one.
    EventIds,
    /// Profile id → the merged profile under the default merge policy, encoded and ready to send;
    /// and, right after it (the same key and one more byte, so they share a leaf page and an
    /// event that changes both writes one page), the profile's segment memberships.
    Views,
    /// (due time, profile id) → nothing: profiles whose memberships change when time passes.
    Schedule,
    /// Server-wide access records: API keys (and later users, roles, sessions). Its keys begin
    /// with a kind word, not a sandbox.
    Auth,
    /// The audit log, in an environment of its own: entries by time, their indexes, and the
    /// pepper of identity references. Its keys begin with a kind letter or word.
    Audit,
    /// Privacy jobs and data hygiene work orders, and the queue of those unfinished. Its keys
    /// begin with a kind word (`job`, `workorder`, `queue`), not a sandbox: a privacy job
    /// spans every sandbox.
    Privacy,
}

impl Table {
    pub const ALL: [Table; 11] = [
        Table::Catalog,
        Table::Identities,
        Table::Profiles,
        Table::Fragments,
        Table::Events,
        Table::EventIds,
        Table::Views,
        Table::Schedule,
        Table::Auth,
        Table::Audit,
        Table::Privacy,
    ];

    /// The tables of the main environment (`<data-dir>/lmdb`), which `LmdbStore::open` opens:
    /// every table but `Audit`, which lives in an environment of its own.
    pub const MAIN: [Table; 10] = [
        Table::Catalog,
        Table::Identities,
        Table::Profiles,
        Table::Fragments,
        Table::Events,
        Table::EventIds,
        Table::Views,
        Table::Schedule,
        Table::Auth,
        Table::Privacy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Catalog => "catalog",
            Table::Identities => "identities",
            Table::Profiles => "profiles",
            Table::Fragments => "fragments",
            Table::Events => "events",
            Table::EventIds => "event-ids",
            Table::Views => "views",
            Table::Schedule => "schedule",
            Table::Auth => "auth",
            Table::Audit => "audit",
            Table::Privacy => "privacy",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("storage is full: raise the map size")]
    Full,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What a scan callback tells the scan to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    Continue,
    Stop,
}

/// Which way a range scan walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// A consistent snapshot for reading. Values borrow from the snapshot (zero-copy on LMDB).
pub trait ReadTxn {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>>;

    /// Calls `visit` for every key in `[start, end)` in the given direction, until it says stop.
    fn scan(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        direction: Direction,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> Scan,
    ) -> Result<()>;
}

/// A write transaction: reads see its own writes; nothing is visible to others before `commit`.
pub trait WriteTxn: ReadTxn {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()>;
    /// [`WriteTxn::put`] for a key that usually sorts after every key of the table (a new
    /// profile's): the B-tree then leaves the last leaf full when it splits, instead of moving
    /// its last entry to the new page, so keys written in order pack their pages. Any other key
    /// is put as usual.
    fn put_last(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<()>;
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<()>;
    /// Makes every write durable and visible. A transaction dropped without commit is rolled back.
    fn commit(self: Box<Self>) -> Result<()>;
}

/// A storage backend.
pub trait Store: Send + Sync + 'static {
    fn read(&self) -> Result<Box<dyn ReadTxn + '_>>;
    /// Starts the one write transaction; callers are serialised.
    fn write(&self) -> Result<Box<dyn WriteTxn + '_>>;
    /// Bytes used on disk.
    fn disk_bytes(&self) -> u64;
}

/// Every key that starts with `prefix` is in `[prefix, prefix_end(prefix))`.
///
/// Returns an empty vector (meaning "no upper bound") when the prefix is all `0xff`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    end
}

/// Collects every (key, value) under `prefix`, for callers that need owned copies.
pub fn collect_prefix(
    txn: &(impl ReadTxn + ?Sized),
    table: Table,
    prefix: &[u8],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    collect_range(txn, table, prefix, &prefix_end(prefix))
}

/// Collects every (key, value) in `[start, end)`, for callers that need owned copies.
pub fn collect_range(
    txn: &(impl ReadTxn + ?Sized),
    table: Table,
    start: &[u8],
    end: &[u8],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut rows = Vec::new();
    txn.scan(table, start, end, Direction::Forward, &mut |k, v| {
        rows.push((k.to_vec(), v.to_vec()));
        Scan::Continue
    })?;
    Ok(rows)
}
