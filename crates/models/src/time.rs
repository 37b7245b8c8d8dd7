//! Time in the units the models use: instants in milliseconds, UTC days for purchase history,
//! and weeks for the BG/NBD model.

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Milliseconds in one UTC day.
pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// An instant, in milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimestampMs(pub i64);

/// A UTC calendar day, counted in days since 1970-01-01 (day 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Day(i64);

impl Day {
    /// The day `days` days after 1970-01-01 (before it when negative).
    pub const fn from_days_since_epoch(days: i64) -> Day {
        Day(days)
    }

    /// The UTC day an instant falls on.
    pub const fn containing(instant: TimestampMs) -> Day {
        Day(instant.0.div_euclid(MILLIS_PER_DAY))
    }

    pub const fn days_since_epoch(self) -> i64 {
        self.0
    }

    /// The instant this day begins.
    pub const fn start(self) -> TimestampMs {
        TimestampMs(self.0.saturating_mul(MILLIS_PER_DAY))
    }

    /// Whole days from `self` to `later` (negative when `later` is earlier).
    pub const fn days_until(self, later: Day) -> i64 {
        later.0 - self.0
    }

    /// The day `days` days after this one.
    pub const fn plus_days(self, days: i64) -> Day {
        Day(self.0.saturating_add(days))
    }
}

/// A finite, non-negative number of weeks: the time unit of the BG/NBD model.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Weeks(f64);

impl Weeks {
    pub const ZERO: Weeks = Weeks(0.0);
    /// 52 weeks, the usual "next 12 months" horizon.
    pub const YEAR: Weeks = Weeks(52.0);

    pub fn new(weeks: f64) -> Result<Weeks, ModelError> {
        if weeks.is_finite() && weeks >= 0.0 {
            Ok(Weeks(weeks))
        } else {
            Err(ModelError::InvalidWeeks { value: weeks })
        }
    }

    /// `days / 7` weeks.
    pub fn from_days(days: u32) -> Weeks {
        Weeks(f64::from(days) / 7.0)
    }

    pub const fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Weeks {
    type Error = ModelError;
    fn try_from(weeks: f64) -> Result<Weeks, ModelError> {
        Weeks::new(weeks)
    }
}

impl From<Weeks> for f64 {
    fn from(weeks: Weeks) -> f64 {
        weeks.0
    }
}
