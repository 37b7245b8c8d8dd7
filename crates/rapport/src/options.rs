//! Server options: flags, `RAPPORT_*` environment variables and an optional TOML file.
//!
//! Precedence: a flag or environment variable beats the file, which beats the default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Options of `rapport serve`. Every one can be a flag, a `RAPPORT_*` variable or a file key.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeOptions {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "RAPPORT_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Directory of the embedded store [default: ./rapport-data]
    #[arg(long, env = "RAPPORT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Largest accepted request body in bytes [default: 1048576]
    #[arg(long, env = "RAPPORT_MAX_PAYLOAD_BYTES")]
    pub max_payload_bytes: Option<usize>,
    /// Most identities one identity graph may hold [default: 50]
    #[arg(long, env = "RAPPORT_IDENTITY_GRAPH_LIMIT")]
    pub identity_graph_limit: Option<usize>,
    /// Largest experience event, in bytes of compact JSON; larger ones are refused (413
    /// `event_too_large`, or a batch row error) [default: 10240]
    #[arg(long, env = "RAPPORT_MAX_EVENT_BYTES")]
    pub max_event_bytes: Option<usize>,
    /// Largest profile record, in bytes of compact JSON; larger ones are refused (413
    /// `record_too_large`, or a batch row error) [default: 102400]
    #[arg(long, env = "RAPPORT_MAX_RECORD_BYTES")]
    pub max_record_bytes: Option<usize>,
    /// Most items of one array in an experience event; more is accepted and the profile gets
    /// the warning `event_array_items` [default: 10]
    #[arg(long, env = "RAPPORT_MAX_EVENT_ARRAY_ITEMS")]
    pub max_event_array_items: Option<usize>,
    /// Most items of one array in a profile record; more is accepted and the profile gets the
    /// warning `profile_array_items` [default: 500]
    #[arg(long, env = "RAPPORT_MAX_PROFILE_ARRAY_ITEMS")]
    pub max_profile_array_items: Option<usize>,
    /// Most experience events one profile keeps; the oldest beyond are removed and the profile
    /// gets the warning `events_trimmed` [default: 5000]
    #[arg(long, env = "RAPPORT_MAX_EVENTS_PER_PROFILE")]
    pub max_events_per_profile: Option<usize>,
    /// Most segment definitions one sandbox may hold (422
    /// `segment_definition_limit_reached` beyond) [default: 500]
    #[arg(long, env = "RAPPORT_MAX_SEGMENT_DEFINITIONS")]
    pub max_segment_definitions: Option<usize>,
    /// Identity values that never link anything, comma-separated (case-insensitive); an empty
    /// value turns the list off [default: test@test.com, null@null.com, noemail@example.com,
    /// none@none.com, 0000000000, 1111111111, 1234567890]
    #[arg(long, env = "RAPPORT_BLOCKED_IDENTITY_VALUES", value_delimiter = ',')]
    pub blocked_identity_values: Option<Vec<String>>,
    /// Largest size the store may grow to, in GiB [default: 64]
    #[arg(long, env = "RAPPORT_MAP_SIZE_GIB")]
    pub map_size_gib: Option<usize>,
    /// Tenant id under which custom fields live (`_<tenant>`) [default: rapport]
    #[arg(long, env = "RAPPORT_TENANT_ID")]
    pub tenant_id: Option<String>,
    /// Log filter, such as `info` or `rapport=debug` [default: info]
    #[arg(long, env = "RAPPORT_LOG")]
    pub log: Option<String>,
    /// The master key: every action in every sandbox (at least 32 characters; `rapport keys
    /// generate-master` prints one). Required unless `dev-mode` is on
    #[arg(long, env = "RAPPORT_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Development mode: requests without credentials may do anything (requests with
    /// credentials are still checked); only on a loopback address
    #[arg(long, env = "RAPPORT_DEV_MODE")]
    #[serde(default)]
    pub dev_mode: bool,
    /// Requests per second each API key may make, sustained (429 beyond) [default: no limit]
    #[arg(long, env = "RAPPORT_RATE_LIMIT_PER_SECOND")]
    pub rate_limit_per_second: Option<u32>,
    /// Requests an API key may make at once before the per-second rate applies [default: twice
    /// the rate]
    #[arg(long, env = "RAPPORT_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,
    /// Longest a request may take before it is answered 503 (file uploads get at least ten
    /// minutes) [default: 30000]
    #[arg(long, env = "RAPPORT_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<u64>,
    /// An access request's result is kept this many days after its job completed (default 7)
    #[arg(long, env = "RAPPORT_PRIVACY_RESULT_RETENTION_DAYS")]
    pub privacy_result_retention_days: Option<u32>,
    /// Audit entries older than this many days are deleted (default 365)
    #[arg(long, env = "RAPPORT_AUDIT_RETENTION_DAYS")]
    pub audit_retention_days: Option<u32>,
    /// A console session unused this many seconds ends (default 1800: 30 minutes)
    #[arg(long, env = "RAPPORT_SESSION_IDLE_SECONDS")]
    pub session_idle_seconds: Option<u64>,
    /// A console session ends this many hours after sign-in, however busy (default 12)
    #[arg(long, env = "RAPPORT_SESSION_MAX_HOURS")]
    pub session_max_hours: Option<u64>,
    /// Marks console cookies `Secure` (set it when TLS ends at a proxy in front of Rapport)
    #[arg(long, env = "RAPPORT_COOKIE_SECURE")]
    #[serde(default)]
    pub cookie_secure: bool,
    /// Serves HTTPS only, with this certificate chain (PEM, the server's own certificate
    /// first); needs `tls-key`. Responses then carry HSTS and console cookies are `Secure`
    #[arg(long, env = "RAPPORT_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1); needs `tls-cert`
    #[arg(long, env = "RAPPORT_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

/// Placeholder values people type into forms, blocked unless `blocked-identity-values` is given:
/// left to link, each would join every customer who typed it into one profile. (`null`,
/// `anonymous`, `invalid` and `undefined` are refused by the engine whatever the list.)
pub const DEFAULT_BLOCKED_IDENTITY_VALUES: &[&str] = &[
    "test@test.com",
    "null@null.com",
    "noemail@example.com",
    "none@none.com",
    "0000000000",
    "1111111111",
    "1234567890",
];

/// The options with every default filled in.
#[derive(Debug, Clone)]
pub struct Settings {
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub max_payload_bytes: usize,
    pub identity_graph_limit: usize,
    /// The other guardrails' limits (`max-event-bytes` and the rest).
    pub guardrails: engine::Limits,
    pub blocked_identity_values: Vec<String>,
    pub map_size_gib: usize,
    pub tenant_id: String,
    pub log: String,
    pub access: Access,
    /// Longest a request may take (uploads get at least [`LONG_REQUEST`]).
    pub request_timeout: std::time::Duration,
    /// How long audit entries are kept.
    pub audit_retention_days: u32,
    /// How long an access request's result is kept.
    pub privacy_result_retention_days: u32,
    /// The certificate and key HTTPS is served with; plain HTTP without them.
    pub tls: Option<TlsFiles>,
}

/// The PEM files of `--tls-cert` and `--tls-key` (read by [`crate::tls::server_config`]).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What a file upload may take at least.
pub const LONG_REQUEST: std::time::Duration = std::time::Duration::from_secs(600);

/// How callers are let in.
#[derive(Clone)]
pub struct Access {
    pub master_key: Option<std::sync::Arc<auth::MasterKey>>,
    pub dev_mode: bool,
    /// Per API key: (requests per second, burst).
    pub rate_limit: Option<(u32, u32)>,
    /// Whether console cookies are marked `Secure`.
    pub cookie_secure: bool,
    /// A console session unused this long ends.
    pub session_idle: std::time::Duration,
    /// A console session this old ends.
    pub session_max: std::time::Duration,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("master_key", &self.master_key.as_ref().map(|_| "***"))
            .field("dev_mode", &self.dev_mode)
            .field("rate_limit", &self.rate_limit)
            .field("cookie_secure", &self.cookie_secure)
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .finish()
    }
}

impl ServeOptions {
    /// Combines flags and environment (`self`) with the file at `config_file`, if any.
    pub fn resolve(self, config_file: Option<&Path>) -> anyhow::Result<Settings> {
        let file = match config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<ServeOptions>(&text)
                    .with_context(|| format!("config file {}", path.display()))?
            }
            None => ServeOptions::default(),
        };
        let tls = match (
            self.tls_cert.or(file.tls_cert),
            self.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => anyhow::bail!(
                "--tls-cert is set but --tls-key is not: HTTPS needs both (--tls-key, RAPPORT_TLS_KEY or tls-key in the config file), or neither for plain HTTP"
            ),
            (None, Some(_)) => anyhow::bail!(
                "--tls-key is set but --tls-cert is not: HTTPS needs both (--tls-cert, RAPPORT_TLS_CERT or tls-cert in the config file), or neither for plain HTTP"
            ),
        };
        let settings = Settings {
            http_addr: self
                .http_addr
                .or(file.http_addr)
                .unwrap_or(([127, 0, 0, 1], 8080).into()),
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./rapport-data")),
            max_payload_bytes: self
                .max_payload_bytes
                .or(file.max_payload_bytes)
                .unwrap_or(1 << 20),
            identity_graph_limit: self
                .identity_graph_limit
                .or(file.identity_graph_limit)
                .unwrap_or(50),
            guardrails: {
                let reference = engine::Limits::default();
                engine::Limits {
                    max_event_bytes: self
                        .max_event_bytes
                        .or(file.max_event_bytes)
                        .unwrap_or(reference.max_event_bytes),
                    max_record_bytes: self
                        .max_record_bytes
                        .or(file.max_record_bytes)
                        .unwrap_or(reference.max_record_bytes),
                    max_event_array_items: self
                        .max_event_array_items
                        .or(file.max_event_array_items)
                        .unwrap_or(reference.max_event_array_items),
                    max_profile_array_items: self
                        .max_profile_array_items
                        .or(file.max_profile_array_items)
                        .unwrap_or(reference.max_profile_array_items),
                    max_events_per_profile: self
                        .max_events_per_profile
                        .or(file.max_events_per_profile)
                        .unwrap_or(reference.max_events_per_profile),
                    max_segment_definitions: self
                        .max_segment_definitions
                        .or(file.max_segment_definitions)
                        .unwrap_or(reference.max_segment_definitions),
                }
            },
            blocked_identity_values: match self
                .blocked_identity_values
                .or(file.blocked_identity_values)
            {
                // Given: exactly these (an empty value turns blocking off).
                Some(values) => values
                    .into_iter()
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect(),
                None => DEFAULT_BLOCKED_IDENTITY_VALUES
                    .iter()
                    .map(|v| (*v).to_owned())
                    .collect(),
            },
            map_size_gib: self.map_size_gib.or(file.map_size_gib).unwrap_or(64),
            tenant_id: self
                .tenant_id
                .or(file.tenant_id)
                .unwrap_or_else(|| "rapport".to_owned()),
            log: self.log.or(file.log).unwrap_or_else(|| "info".to_owned()),
            request_timeout: std::time::Duration::from_millis(
                self.request_timeout_ms
                    .or(file.request_timeout_ms)
                    .unwrap_or(30_000),
            ),
            privacy_result_retention_days: self
                .privacy_result_retention_days
                .or(file.privacy_result_retention_days)
                .unwrap_or(7),
            audit_retention_days: self
                .audit_retention_days
                .or(file.audit_retention_days)
                .unwrap_or(365),
            access: Access {
                master_key: match self.master_key.or(file.master_key) {
                    Some(key) => Some(std::sync::Arc::new(
                        auth::MasterKey::new(key.trim())
                            .map_err(|e| anyhow::anyhow!("master-key: {e}"))?,
                    )),
                    None => None,
                },
                dev_mode: self.dev_mode || file.dev_mode,
                rate_limit: match self.rate_limit_per_second.or(file.rate_limit_per_second) {
                    Some(rate) => {
                        let burst = self
                            .rate_limit_burst
                            .or(file.rate_limit_burst)
                            .unwrap_or(rate.saturating_mul(2));
                        anyhow::ensure!(
                            rate >= 1 && burst >= 1,
                            "rate-limit-per-second and rate-limit-burst must be at least 1"
                        );
                        Some((rate, burst))
                    }
                    None => None,
                },
                // Under TLS the cookies are `Secure` whatever `cookie-secure` says.
                cookie_secure: self.cookie_secure || file.cookie_secure || tls.is_some(),
                session_idle: std::time::Duration::from_secs(
                    self.session_idle_seconds
                        .or(file.session_idle_seconds)
                        .unwrap_or(30 * 60),
                ),
                session_max: std::time::Duration::from_secs(
                    3600 * self
                        .session_max_hours
                        .or(file.session_max_hours)
                        .unwrap_or(12),
                ),
            },
            tls,
        };
        anyhow::ensure!(
            !settings.access.session_idle.is_zero() && !settings.access.session_max.is_zero(),
            "session-idle-seconds and session-max-hours must be at least 1"
        );
        anyhow::ensure!(
            settings.access.master_key.is_some() || settings.access.dev_mode,
            "no master key: set RAPPORT_MASTER_KEY (rapport keys generate-master prints one), or pass --dev-mode on a loopback address for local development"
        );
        anyhow::ensure!(
            !settings.access.dev_mode || settings.http_addr.ip().is_loopback(),
            "dev-mode lets anyone do anything, so it only listens on a loopback address, not {}",
            settings.http_addr
        );
        anyhow::ensure!(
            settings.max_payload_bytes >= 1024,
            "max-payload-bytes must be at least 1024"
        );
        anyhow::ensure!(
            (1..=10_000).contains(&settings.identity_graph_limit),
            "identity-graph-limit must be between 1 and 10000"
        );
        check_guardrails(&settings.guardrails)?;
        anyhow::ensure!(
            settings.audit_retention_days >= 1,
            "audit-retention-days must be at least 1"
        );
        anyhow::ensure!(
            !settings.request_timeout.is_zero(),
            "request-timeout-ms must be at least 1"
        );
        anyhow::ensure!(
            settings.map_size_gib >= 1,
            "map-size-gib must be at least 1"
        );
        anyhow::ensure!(
            !settings.tenant_id.is_empty()
                && settings
                    .tenant_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric()),
            "tenant-id must be letters and digits"
        );
        Ok(settings)
    }
}

/// The guardrails' ranges: each option named with its rule and the value given.
fn check_guardrails(limits: &engine::Limits) -> anyhow::Result<()> {
    let max_definitions = engine::segment::definitions::MAX_DEFINITIONS;
    let ranges: [(&str, usize, usize, usize, &str); 6] = [
        (
            "max-event-bytes",
            limits.max_event_bytes,
            256,
            64 << 20,
            "bytes of compact JSON",
        ),
        (
            "max-record-bytes",
            limits.max_record_bytes,
            256,
            64 << 20,
            "bytes of compact JSON",
        ),
        (
            "max-event-array-items",
            limits.max_event_array_items,
            1,
            1_000_000,
            "items",
        ),
        (
            "max-profile-array-items",
            limits.max_profile_array_items,
            1,
            1_000_000,
            "items",
        ),
        (
            "max-events-per-profile",
            limits.max_events_per_profile,
            1,
            1_000_000,
            "events",
        ),
        (
            "max-segment-definitions",
            limits.max_segment_definitions,
            1,
            max_definitions,
            "definitions per sandbox",
        ),
    ];
    for (option, value, low, high, unit) in ranges {
        anyhow::ensure!(
            (low..=high).contains(&value),
            "{option} must be between {low} and {high} ({unit}), not {value}"
        );
    }
    Ok(())
}

impl Settings {
    pub fn engine_config(&self) -> engine::EngineConfig {
        engine::EngineConfig {
            data_dir: self.data_dir.clone(),
            map_size_bytes: self.map_size_gib << 30,
            tenant_id: self.tenant_id.clone(),
            graph_limit: self.identity_graph_limit,
            blocked_identity_values: self.blocked_identity_values.clone(),
        }
    }
}
