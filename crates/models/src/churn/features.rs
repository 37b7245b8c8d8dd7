//! The churn model's inputs: a customer's features with named fields (`None` = unknown), the
//! feature list the model reads and how each value enters it, and the purchase-derived
//! features and churn label computed from a purchase history.

use serde::{Deserialize, Serialize};

use crate::summary::Purchase;
use crate::time::Day;
use crate::ModelError;

/// Days in each of the two windows of the purchase trend.
pub const TREND_WINDOW_DAYS: u32 = 90;

/// What is known of one customer at the scoring date.
///
/// Missing-value convention: `None` means unknown. A missing feature enters the model as the
/// training average (a standardised value of 0), so it contributes nothing to the score and is
/// never given as a reason. `ChurnFeatures::default()` knows nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChurnFeatures {
    /// Recency: whole days since the last purchase.
    pub days_since_last_purchase: Option<u32>,
    /// Frequency: purchases (orders) so far.
    pub purchases: Option<u32>,
    /// Monetary: the mean value of those purchases.
    pub mean_order_value: Option<f64>,
    /// Purchases in the 90 days up to the scoring date.
    pub purchases_last_90_days: Option<u32>,
    /// Purchases in the 90 days before those.
    pub purchases_previous_90_days: Option<u32>,
    /// Email opens and clicks in the last 30 days.
    pub email_engagements_last_30_days: Option<u32>,
    /// Support contacts (tickets, chats, calls) in the last 30 days.
    pub support_contacts_last_30_days: Option<u32>,
    /// The mean satisfaction score of the customer's support contacts, 1 (worst) to 5 (best).
    pub mean_support_satisfaction: Option<f64>,
    /// Whole days since the first purchase.
    pub tenure_days: Option<u32>,
}

/// One input of the churn model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChurnFeature {
    Recency,
    Frequency,
    Monetary,
    /// Purchases in the last 90 days minus those in the 90 days before.
    Trend,
    EmailEngagement,
    SupportContacts,
    SupportSatisfaction,
    Tenure,
}

impl ChurnFeature {
    pub const ALL: [ChurnFeature; 8] = [
        ChurnFeature::Recency,
        ChurnFeature::Frequency,
        ChurnFeature::Monetary,
        ChurnFeature::Trend,
        ChurnFeature::EmailEngagement,
        ChurnFeature::SupportContacts,
        ChurnFeature::SupportSatisfaction,
        ChurnFeature::Tenure,
    ];

    /// The value the model reads, before standardisation: days as they are (the chance of a
    /// purchase fades about exponentially with time, so the log-odds are close to linear in
    /// days), `ln(1 + v)` for counts and money (their spread is skewed), sign-preserving
    /// `±ln(1 + |d|)` for the trend difference `d`, the score itself for satisfaction. `None`
    /// when the feature is unknown (for the trend: when either count is) or not a finite
    /// non-negative amount.
    pub fn model_input(self, features: &ChurnFeatures) -> Option<f64> {
        let count = |value: Option<u32>| value.map(|count| f64::from(count).ln_1p());
        match self {
            ChurnFeature::Recency => features.days_since_last_purchase.map(f64::from),
            ChurnFeature::Frequency => count(features.purchases),
            ChurnFeature::Monetary => features
                .mean_order_value
                .filter(|value| value.is_finite() && *value >= 0.0)
                .map(f64::ln_1p),
            ChurnFeature::Trend => {
                let last = features.purchases_last_90_days?;
                let previous = features.purchases_previous_90_days?;
                let difference = f64::from(last) - f64::from(previous);
                Some(difference.signum() * difference.abs().ln_1p())
            }
            ChurnFeature::EmailEngagement => count(features.email_engagements_last_30_days),
            ChurnFeature::SupportContacts => count(features.support_contacts_last_30_days),
            ChurnFeature::SupportSatisfaction => features
                .mean_support_satisfaction
                .filter(|value| value.is_finite()),
            ChurnFeature::Tenure => features.tenure_days.map(f64::from),
        }
    }
}

impl ChurnFeatures {
    /// The purchase-derived features (recency, frequency, monetary, trend, tenure) at the end
    /// of `as_of`, from the purchases made on or before it; the others stay unknown. Without a
    /// purchase by then: 0 purchases, 0 in both trend windows, recency, monetary and tenure
    /// unknown.
    pub fn from_purchases(purchases: &[Purchase], as_of: Day) -> Result<ChurnFeatures, ModelError> {
        let mut first_day: Option<Day> = None;
        let mut last_day: Option<Day> = None;
        let mut count: u32 = 0;
        let mut total_value = 0.0;
        let mut last_window: u32 = 0;
        let mut previous_window: u32 = 0;
        for (index, purchase) in purchases.iter().enumerate() {
            if !(purchase.value.is_finite() && purchase.value >= 0.0) {
                return Err(ModelError::InvalidPurchaseValue {
                    index,
                    value: purchase.value,
                });
            }
            let day = Day::containing(purchase.at);
            if day > as_of {
                continue;
            }
            first_day = Some(first_day.map_or(day, |first| first.min(day)));
            last_day = Some(last_day.map_or(day, |last| last.max(day)));
            count = count.saturating_add(1);
            total_value += purchase.value;
            let days_before = day.days_until(as_of);
            let window = i64::from(TREND_WINDOW_DAYS);
            if days_before < window {
                last_window += 1;
            } else if days_before < 2 * window {
                previous_window += 1;
            }
        }
        let days_to_end = |day: Day| crate::summary::saturating_u32(day.days_until(as_of));
        Ok(ChurnFeatures {
            days_since_last_purchase: last_day.map(days_to_end),
            purchases: Some(count),
            mean_order_value: (count > 0).then(|| total_value / f64::from(count)),
            purchases_last_90_days: Some(last_window),
            purchases_previous_90_days: Some(previous_window),
            tenure_days: first_day.map(days_to_end),
            ..ChurnFeatures::default()
        })
    }
}

/// The churn label: `true` when there is no purchase in the `horizon_days` days after `as_of`
/// (days `as_of + 1` to `as_of + horizon_days`, inclusive).
pub fn no_purchase_within(purchases: &[Purchase], as_of: Day, horizon_days: u32) -> bool {
    let last_day = as_of.plus_days(i64::from(horizon_days));
    !purchases.iter().any(|purchase| {
        let day = Day::containing(purchase.at);
        day > as_of && day <= last_day
    })
}
