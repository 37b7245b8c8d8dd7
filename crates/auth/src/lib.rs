//! API keys and the master key, and console users, roles and sessions: issuing, storing (only
//! hashes), rotating, revoking and checking the credentials callers present. No HTTP and no
//! async: the HTTP layer calls in.
//!
//! A key is shown once, as `rpk_<id>_<secret>` (see `docs/design/security.md`, "1. API keys").
//! The `<id>` is public; only `sha256("rapport-api-key-v1\0" ‖ secret)` is stored.
//!
//! A console user signs in with a password, of which only an Argon2id hash is stored, and gets
//! a session token, of which only the SHA-256 is stored (see "4. Console sign-in").

mod error;
mod keys;
mod master;
mod password;
mod record;
mod roles;
mod secret;
mod sessions;
mod stored;
mod users;

pub use error::{AuthError, Result};
pub use keys::{ApiKeyRecord, KeyId, KeyPatch, KeyRateLimit, Keys, NewKey, SandboxScope};
pub use master::MasterKey;
pub use password::PasswordParams;
pub use roles::{LabelGrant, Role, STANDARD_LABELS};
pub use sessions::{ActiveSession, SignedIn};
pub use users::{NewUser, UserPatch, UserRecord, UserSettings, Users};
