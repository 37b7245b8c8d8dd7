//! Ingestion: preparing records off the write path, and the single writer that applies them
//! with group commit.

pub mod apply;
pub mod prepare;
pub mod writer;

pub use prepare::{prepare, PreparedWrite};
pub use writer::{Job, Writer};
