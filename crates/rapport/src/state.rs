//! `AppState`: what every handler shares.

use std::sync::Arc;

use engine::Engine;

use crate::options::Settings;

pub struct AppState {
    pub engine: Arc<Engine>,
    /// The API keys.
    pub keys: auth::Keys,
    /// The console's users, their roles and sessions.
    pub users: Arc<auth::Users>,
    /// The customers each console user opened last.
    pub recently_viewed: crate::http::console::RecentlyViewed,
    /// The audit log (its own LMDB environment).
    pub audit: Arc<audit::AuditLog>,
    /// Per-key rate limits: the server's, and keys' own.
    pub limits: crate::http::limits::KeyLimits,
    pub settings: Settings,
}
