//! Purchase-history summaries: a customer's purchases reduced to the recency, frequency,
//! age and monetary numbers the BG/NBD and Gamma–Gamma models read, and their compression
//! into distinct rows with weights for fitting.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::time::{Day, TimestampMs, Weeks};
use crate::ModelError;

/// One purchase: when it happened and what the order was worth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Purchase {
    pub at: TimestampMs,
    /// The order value in the tenant's currency; finite and non-negative.
    pub value: f64,
}

/// A customer's purchase history up to an observation end, in the terms of the models.
///
/// Purchases are counted by UTC day: several purchases on one day are one purchase day whose
/// value is their sum. Built by [`PurchaseSummary::from_purchases`], which keeps the invariants
/// `recency_days <= age_days` and `frequency == 0 ⇒ recency_days == 0 && mean_repeat_value == None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseSummary {
    /// The day of the first purchase.
    pub first_purchase_day: Day,
    /// Repeat purchase days (`x` in the papers): purchase days after the first one.
    pub frequency: u32,
    /// Days from the first to the last purchase day (`t_x`, in days).
    pub recency_days: u32,
    /// Days from the first purchase day to the observation end (`T`, in days).
    pub age_days: u32,
    /// The value of every purchase up to the observation end (the historical value).
    pub total_value: f64,
    /// Mean value of the repeat purchase days (the first day excluded); `None` without one.
    pub mean_repeat_value: Option<f64>,
}

impl PurchaseSummary {
    /// Summarises the purchases made on or before `observation_end` (inclusive; later ones are
    /// left out, so one history gives a calibration summary and a holdout count). `None` when
    /// there is no purchase by then. The order of `purchases` does not matter.
    pub fn from_purchases(
        purchases: &[Purchase],
        observation_end: Day,
    ) -> Result<Option<PurchaseSummary>, ModelError> {
        let mut observed: Vec<(Day, f64)> = Vec::with_capacity(purchases.len());
        for (index, purchase) in purchases.iter().enumerate() {
            if !(purchase.value.is_finite() && purchase.value >= 0.0) {
                return Err(ModelError::InvalidPurchaseValue {
                    index,
                    value: purchase.value,
                });
            }
            let day = Day::containing(purchase.at);
            if day <= observation_end {
                observed.push((day, purchase.value));
            }
        }
        // Sorting by value too makes every sum below independent of the input order.
        observed.sort_by(|left, right| left.0.cmp(&right.0).then(left.1.total_cmp(&right.1)));
        let day_totals = totals_by_day(&observed);
        let Some(&(first_day, first_value)) = day_totals.first() else {
            return Ok(None);
        };
        let last_day = day_totals.last().map_or(first_day, |&(day, _)| day);
        let repeat_days = &day_totals[1..];
        let repeat_value: f64 = repeat_days.iter().map(|(_, value)| value).sum();
        let frequency = saturating_u32(repeat_days.len() as i64);
        Ok(Some(PurchaseSummary {
            first_purchase_day: first_day,
            frequency,
            recency_days: saturating_u32(first_day.days_until(last_day)),
            age_days: saturating_u32(first_day.days_until(observation_end)),
            total_value: first_value + repeat_value,
            mean_repeat_value: (frequency > 0).then(|| repeat_value / f64::from(frequency)),
        }))
    }

    /// `t_x` in weeks.
    pub fn recency(&self) -> Weeks {
        Weeks::from_days(self.recency_days)
    }

    /// `T` in weeks.
    pub fn age(&self) -> Weeks {
        Weeks::from_days(self.age_days)
    }
}

/// Purchase-day totals, in day order, from purchases sorted by day.
pub(crate) fn totals_by_day(sorted_by_day: &[(Day, f64)]) -> Vec<(Day, f64)> {
    let mut totals: Vec<(Day, f64)> = Vec::new();
    for &(day, value) in sorted_by_day {
        match totals.last_mut() {
            Some((last_day, total)) if *last_day == day => *total += value,
            _ => totals.push((day, value)),
        }
    }
    totals
}

pub(crate) fn saturating_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

/// One distinct `(frequency, recency, age)` triple and how many customers share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightedRfm {
    pub frequency: u32,
    pub recency_days: u32,
    pub age_days: u32,
    pub customers: u64,
}

/// Summaries reduced to their distinct `(frequency, recency, age)` rows, sorted, with the
/// number of customers per row: the BG/NBD likelihood reads nothing else, so a fit costs
/// per distinct row, not per customer.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressedSummaries {
    rows: Vec<WeightedRfm>,
    customers: u64,
}

impl CompressedSummaries {
    pub fn from_summaries<'a>(
        summaries: impl IntoIterator<Item = &'a PurchaseSummary>,
    ) -> CompressedSummaries {
        let mut counts: HashMap<(u32, u32, u32), u64> = HashMap::new();
        for summary in summaries {
            *counts
                .entry((summary.frequency, summary.recency_days, summary.age_days))
                .or_insert(0) += 1;
        }
        let mut rows: Vec<WeightedRfm> = counts
            .into_iter()
            .map(
                |((frequency, recency_days, age_days), customers)| WeightedRfm {
                    frequency,
                    recency_days,
                    age_days,
                    customers,
                },
            )
            .collect();
        rows.sort_unstable_by_key(|row| (row.frequency, row.recency_days, row.age_days));
        let customers = rows.iter().map(|row| row.customers).sum();
        CompressedSummaries { rows, customers }
    }

    /// The distinct rows, sorted by frequency, recency and age.
    pub fn rows(&self) -> &[WeightedRfm] {
        &self.rows
    }

    /// How many customers the rows stand for.
    pub fn customers(&self) -> u64 {
        self.customers
    }
}
