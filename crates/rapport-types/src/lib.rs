//! Types shared by the engine and the HTTP layer: newtype ids, the public error code table and
//! the actions callers are granted.

pub mod actions;
pub mod error;
pub mod ids;

pub use actions::{Action, ActionSet, Scope};
pub use error::{Code, ErrorKind};
pub use ids::{DatasetId, MergePolicyId, ProfileId, SandboxName};
