//! Types shared by the engine and the HTTP layer: newtype ids and the public error code table.

pub mod error;
pub mod ids;

pub use error::{Code, ErrorKind};
pub use ids::{DatasetId, MergePolicyId, ProfileId, SandboxName};
