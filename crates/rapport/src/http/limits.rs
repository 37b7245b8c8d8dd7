//! Per-key rate limits: a generic cell rate (GCRA, through `governor`) per API key, announced on
//! every keyed answer with the `RateLimit-Policy` and `RateLimit` headers of the IETF draft, and
//! a `429 rate_limited` with `Retry-After` beyond it. A key is held to its own limit when it has
//! one (`rateLimit` on the key), else to the server's (`--rate-limit-per-second`), else to none.
//! The master key and development mode are not limited: they are the operator's.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use auth::KeyRateLimit;
use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{NotUntil, Quota, RateLimiter};
use rapport_types::Code;

use super::error::ApiError;

type KeyedLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;
type DirectLimiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// What a limit announces: its burst and the seconds a key takes to earn it all back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    burst: u32,
    window_seconds: u64,
}

impl Policy {
    fn of(limit: KeyRateLimit) -> Option<(Policy, Quota)> {
        let rate = NonZeroU32::new(limit.per_second)?;
        let burst = NonZeroU32::new(limit.burst)?;
        Some((
            Policy {
                burst: limit.burst,
                window_seconds: u64::from(limit.burst)
                    .div_ceil(u64::from(limit.per_second))
                    .max(1),
            },
            Quota::per_second(rate).allow_burst(burst),
        ))
    }
}

/// A key with a limit of its own, and its bucket.
struct OwnLimit {
    limit: KeyRateLimit,
    policy: Policy,
    limiter: DirectLimiter,
}

/// The server's limiter of every key without its own limit, and the buckets of those with one.
pub struct KeyLimits {
    server: Option<(Policy, KeyedLimiter)>,
    own: Mutex<HashMap<String, Arc<OwnLimit>>>,
    clock: DefaultClock,
}

/// A request let through: what the key may still send at once, under which policy.
pub struct Allowance {
    policy: Policy,
    remaining: u32,
}

/// A request refused: the answer and when to retry.
pub struct Refusal {
    policy: Policy,
    error: ApiError,
    retry_after_seconds: u64,
}

/// The most keys with their own limit whose buckets are remembered; past it they are forgotten
/// (each starts again with a full burst).
const OWN_LIMITS_MEMORY: usize = 100_000;

impl KeyLimits {
    /// `server`: the limit of keys without their own (`None`, or a zero in it: none).
    pub fn new(server: Option<(u32, u32)>) -> KeyLimits {
        let server = server
            .and_then(|(per_second, burst)| Policy::of(KeyRateLimit { per_second, burst }))
            .map(|(policy, quota)| {
                (
                    policy,
                    RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
                )
            });
        KeyLimits {
            server,
            own: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of `key` (whose own limit is `own`): `None` when no limit applies,
    /// else its allowance or its refusal.
    pub fn check(
        &self,
        key: &str,
        own: Option<KeyRateLimit>,
    ) -> Option<Result<Allowance, Refusal>> {
        let (policy, outcome) = match own {
            Some(limit) => {
                let bucket = self.own_limit(key, limit)?;
                (bucket.policy, bucket.limiter.check())
            }
            None => {
                let (policy, limiter) = self.server.as_ref()?;
                (*policy, limiter.check_key(&key.to_owned()))
            }
        };
        Some(match outcome {
            Ok(snapshot) => Ok(Allowance {
                policy,
                remaining: snapshot.remaining_burst_capacity(),
            }),
            Err(not_until) => Err(self.refusal(key, policy, &not_until)),
        })
    }

    /// The bucket of a key with its own limit, made afresh when the limit changed.
    fn own_limit(&self, key: &str, limit: KeyRateLimit) -> Option<Arc<OwnLimit>> {
        let mut own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bucket) = own.get(key).filter(|b| b.limit == limit) {
            return Some(bucket.clone());
        }
        let (policy, quota) = Policy::of(limit)?;
        let bucket = Arc::new(OwnLimit {
            limit,
            policy,
            limiter: RateLimiter::direct(quota).with_middleware::<StateInformationMiddleware>(),
        });
        if own.len() >= OWN_LIMITS_MEMORY {
            own.clear();
        }
        own.insert(key.to_owned(), bucket.clone());
        Some(bucket)
    }

    fn refusal(
        &self,
        key: &str,
        policy: Policy,
        not_until: &NotUntil<<DefaultClock as Clock>::Instant>,
    ) -> Refusal {
        let wait = not_until.wait_time_from(self.clock.now());
        let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        Refusal {
            policy,
            error: ApiError::new(
                Code::RateLimited,
                format!(
                    "Authorization: key:{key} made more than its {} requests; retry in {seconds} s",
                    policy.burst
                ),
            ),
            retry_after_seconds: seconds,
        }
    }
}

impl Allowance {
    /// `RateLimit-Policy` (the quota and its window) and `RateLimit` (what remains, and when
    /// the whole quota is back).
    pub fn announce(&self, headers: &mut HeaderMap) {
        announce(headers, self.policy, self.remaining);
    }
}

impl axum::response::IntoResponse for Refusal {
    /// `429 rate_limited` with the policy, nothing remaining, and `Retry-After`.
    fn into_response(self) -> axum::response::Response {
        let mut response = self.error.into_response();
        let headers = response.headers_mut();
        announce(headers, self.policy, 0);
        if let Ok(value) = HeaderValue::from_str(&self.retry_after_seconds.to_string()) {
            headers.insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

fn announce(headers: &mut HeaderMap, policy: Policy, remaining: u32) {
    let quota = format!("\"per-key\";q={};w={}", policy.burst, policy.window_seconds);
    if let Ok(value) = HeaderValue::from_str(&quota) {
        headers.insert("ratelimit-policy", value);
    }
    let refill = Duration::from_secs(policy.window_seconds)
        .mul_f64(f64::from(policy.burst - remaining.min(policy.burst)) / f64::from(policy.burst));
    let status = format!(
        "\"per-key\";r={remaining};t={}",
        refill.as_secs() + u64::from(refill.subsec_nanos() > 0)
    );
    if let Ok(value) = HeaderValue::from_str(&status) {
        headers.insert("ratelimit", value);
    }
}
