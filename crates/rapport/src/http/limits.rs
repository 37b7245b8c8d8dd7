//! Per-key rate limits: a generic cell rate (GCRA, through `governor`) per API key, announced on
//! every keyed answer with the `RateLimit-Policy` and `RateLimit` headers of the IETF draft, and
//! a `429 rate_limited` with `Retry-After` beyond it. The master key and development mode are
//! not limited: they are the operator's.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use rapport_types::Code;

use super::error::ApiError;

type KeyedLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The limiter of every API key, with the policy it announces.
pub struct KeyLimits {
    limiter: KeyedLimiter,
    clock: DefaultClock,
    burst: u32,
    /// Seconds a key takes to earn its whole burst back.
    window_seconds: u64,
}

/// What a request that was let through may still do.
pub struct Allowance {
    remaining: u32,
}

impl KeyLimits {
    /// `per_second` sustained, `burst` at once; `None` when either is zero.
    pub fn new(per_second: u32, burst: u32) -> Option<KeyLimits> {
        let rate = NonZeroU32::new(per_second)?;
        let burst_size = NonZeroU32::new(burst)?;
        let quota = Quota::per_second(rate).allow_burst(burst_size);
        Some(KeyLimits {
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            clock: DefaultClock::default(),
            burst,
            window_seconds: u64::from(burst).div_ceil(u64::from(per_second)).max(1),
        })
    }

    /// Counts one request of `key`: its allowance, or `429 rate_limited` saying when to retry.
    pub fn check(&self, key: &str) -> Result<Allowance, (ApiError, u64)> {
        match self.limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => Ok(Allowance {
                remaining: snapshot.remaining_burst_capacity(),
            }),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err((
                    ApiError::new(
                        Code::RateLimited,
                        format!(
                            "Authorization: key:{key} made more than its {} requests; retry in {} s",
                            self.burst,
                            seconds.max(1)
                        ),
                    ),
                    seconds.max(1),
                ))
            }
        }
    }

    /// `RateLimit-Policy` (the quota and its window), and `RateLimit` (what remains, and when
    /// the whole quota is back) when the request was let through.
    pub fn announce(&self, headers: &mut HeaderMap, allowance: Option<&Allowance>) {
        let policy = format!("\"per-key\";q={};w={}", self.burst, self.window_seconds);
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert("ratelimit-policy", value);
        }
        let remaining = allowance.map_or(0, |a| a.remaining);
        let refill = Duration::from_secs(self.window_seconds)
            .mul_f64(f64::from(self.burst - remaining.min(self.burst)) / f64::from(self.burst));
        let status = format!(
            "\"per-key\";r={remaining};t={}",
            refill.as_secs() + u64::from(refill.subsec_nanos() > 0)
        );
        if let Ok(value) = HeaderValue::from_str(&status) {
            headers.insert("ratelimit", value);
        }
    }
}
