//! Command-line tools that talk to a running server.

pub mod ingest;
pub mod keys;
pub mod models;
pub mod users;
