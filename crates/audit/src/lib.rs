//! The audit log: a durable, append-only record of who read or changed what, kept in an LMDB
//! environment of its own (`<data-dir>/audit`), with its own writer thread so audit writes never
//! contend with ingestion. No HTTP and no async: the server calls in (see
//! `docs/design/security.md`, "6. Audit log").
//!
//! - **Writing.** `Recorder::record` queues an entry in a bounded channel and returns at once;
//!   the writer commits what is queued every flush interval (50 ms by default), one fsync'd
//!   transaction per flush. When the queue is full or the writer has failed, `record` answers
//!   `Unavailable` and the server refuses the request: never a silently unaudited read.
//!   `Recorder::record_durably` returns only once its entry has committed, for changes.
//! - **Never the personal data.** The identity a lookup used is kept as
//!   `HMAC-SHA-256(pepper, namespace \0 value)` cut to 16 bytes (`AuditLog::identity_ref`); the
//!   pepper is 32 random bytes made at first open. Profile ids are internal pseudonyms.
//! - **Reading.** `AuditLog::query` answers a filter newest first, a page at a time, through
//!   the index that narrows most; `AuditLog::export` writes a time window as JSON Lines.
//! - **Append-only.** Nothing edits or deletes an entry except retention (`AuditLog::prune`,
//!   which the writer also runs hourly).
//!
//! The key layout is in `stored.rs`.

mod entry;
mod error;
mod identity;
mod log;
mod query;
mod recorder;
mod retention;
mod stored;
mod writer;

pub use entry::{
    Actor, ActorKind, AuditAction, AuditEntry, Client, FieldsReturned, IdentityRef, Outcome,
    RequestedFields, Via, MAX_ACTION_CHARS, MAX_PROFILES_PER_ENTRY,
};
pub use error::{AuditError, Result, Unavailable};
pub use log::{AuditLog, AuditOptions};
pub use query::{
    AuditPage, AuditQuery, IdentityFilter, DEFAULT_QUERY_LIMIT, EXPORT_ENTRIES_PER_READ,
    MAX_EXAMINED_PER_PAGE, MAX_QUERY_LIMIT, MAX_QUERY_PROFILES,
};
pub use recorder::Recorder;

/// The time now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
