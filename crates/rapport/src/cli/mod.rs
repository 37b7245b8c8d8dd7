//! Command-line tools: those that talk to a running server, and `store`, which works on a
//! stopped one's data directory.

pub mod ingest;
pub mod keys;
pub mod models;
pub mod store;
pub mod users;
