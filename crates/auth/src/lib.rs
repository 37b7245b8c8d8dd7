//! API keys and the master key: issuing, storing (only hashes), rotating, revoking and
//! checking the tokens callers present. No HTTP and no async: the HTTP layer calls in.
//!
//! A key is shown once, as `rpk_<id>_<secret>` (see `docs/design/security.md`, "1. API keys").
//! The `<id>` is public; only `sha256("rapport-api-key-v1\0" ‖ secret)` is stored.

mod error;
mod keys;
mod master;
mod record;
mod secret;

pub use error::{AuthError, Result};
pub use keys::{ApiKeyRecord, KeyId, KeyPatch, Keys, NewKey, SandboxScope};
pub use master::MasterKey;
