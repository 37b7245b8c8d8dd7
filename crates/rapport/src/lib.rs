//! The Rapport server: HTTP API on axum over the synchronous engine, the command line, and the demo data.

pub mod cli;
pub mod client;
pub mod data_dir;
pub mod demo;
pub mod http;
pub mod options;
pub mod state;
pub mod tls;
pub mod xdm_parquet;

use std::sync::Arc;

use engine::Engine;

/// Opens the engine and builds the shared state for the router.
pub fn build_state(settings: options::Settings) -> anyhow::Result<Arc<state::AppState>> {
    let engine =
        Engine::open_with(&settings.engine_config(), settings.guardrails).map_err(|e| {
            anyhow::anyhow!("opening the store in {}: {e}", settings.data_dir.display())
        })?;
    engine.set_privacy_result_retention(std::time::Duration::from_secs(
        86_400 * u64::from(settings.privacy_result_retention_days),
    ));
    let keys = auth::Keys::open(engine.store())
        .map_err(|e| anyhow::anyhow!("loading the API keys: {e}"))?;
    let user_settings = auth::UserSettings {
        session_idle_ms: i64::try_from(settings.access.session_idle.as_millis())
            .unwrap_or(i64::MAX),
        session_max_ms: i64::try_from(settings.access.session_max.as_millis()).unwrap_or(i64::MAX),
        ..auth::UserSettings::production()
    };
    let users = auth::Users::open(engine.store(), user_settings)
        .map_err(|e| anyhow::anyhow!("loading the console's users: {e}"))?;
    let audit = audit::AuditLog::open(
        &settings.data_dir.join("audit"),
        audit::AuditOptions {
            retention_days: settings.audit_retention_days,
            ..audit::AuditOptions::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("opening the audit log: {e}"))?;
    Ok(Arc::new(state::AppState {
        audit: Arc::new(audit),
        engine: Arc::new(engine),
        keys,
        users: Arc::new(users),
        recently_viewed: http::console::RecentlyViewed::default(),
        limits: http::limits::KeyLimits::new(settings.access.rate_limit),
        settings,
    }))
}
