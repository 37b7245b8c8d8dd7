//! Why a customer scored as they did: the features that moved their churn probability most,
//! with the direction and a plain-words phrase built from the raw value.

use serde::{Deserialize, Serialize};

use super::features::{ChurnFeature, ChurnFeatures, TREND_WINDOW_DAYS};

/// Which way a feature moved the churn probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RiskDirection {
    RaisesChurnRisk,
    LowersChurnRisk,
}

/// One reason behind a churn score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChurnReason {
    pub feature: ChurnFeature,
    /// Coefficient × standardised value: this feature's share of the log-odds of churning.
    pub contribution: f64,
    pub direction: RiskDirection,
    /// The raw value in plain words, e.g. "no purchase for 94 days".
    pub phrase: String,
}

impl ChurnFeature {
    /// The feature's raw value in plain words; `None` when it is unknown.
    pub fn describe(self, features: &ChurnFeatures) -> Option<String> {
        let phrase = match self {
            ChurnFeature::Recency => match features.days_since_last_purchase? {
                0 => "purchased today".to_owned(),
                days => format!("no purchase for {}", counted(days, "day", "days")),
            },
            ChurnFeature::Frequency => match features.purchases? {
                0 => "no purchase yet".to_owned(),
                count => format!("{} in total", counted(count, "purchase", "purchases")),
            },
            ChurnFeature::Monetary => {
                let value = features
                    .mean_order_value
                    .filter(|value| value.is_finite())?;
                format!("average order value {value:.2}")
            }
            ChurnFeature::Trend => {
                let last = features.purchases_last_90_days?;
                let previous = features.purchases_previous_90_days?;
                format!(
                    "{} in the last {TREND_WINDOW_DAYS} days against {previous} in the \
                     {TREND_WINDOW_DAYS} days before",
                    counted(last, "purchase", "purchases")
                )
            }
            ChurnFeature::EmailEngagement => format!(
                "{} in the last 30 days",
                counted(
                    features.email_engagements_last_30_days?,
                    "email engagement",
                    "email engagements"
                )
            ),
            ChurnFeature::SupportContacts => format!(
                "{} in the last 30 days",
                counted(
                    features.support_contacts_last_30_days?,
                    "support contact",
                    "support contacts"
                )
            ),
            ChurnFeature::SupportSatisfaction => {
                let score = features
                    .mean_support_satisfaction
                    .filter(|value| value.is_finite())?;
                format!("mean support satisfaction {score:.1} out of 5")
            }
            ChurnFeature::Tenure => match features.tenure_days? {
                0 => "first purchase today".to_owned(),
                days => format!("customer for {}", counted(days, "day", "days")),
            },
        };
        Some(phrase)
    }
}

/// "no email engagement", "1 support contact", "3 support contacts".
fn counted(count: u32, one: &str, many: &str) -> String {
    match count {
        0 => format!("no {one}"),
        1 => format!("1 {one}"),
        _ => format!("{count} {many}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phrase(feature: ChurnFeature, features: ChurnFeatures) -> Option<String> {
        feature.describe(&features)
    }

    #[test]
    fn recency_phrase_counts_days_since_the_last_purchase() {
        let with = |days| ChurnFeatures {
            days_since_last_purchase: Some(days),
            ..ChurnFeatures::default()
        };
        assert_eq!(
            phrase(ChurnFeature::Recency, with(94)).as_deref(),
            Some("no purchase for 94 days")
        );
        assert_eq!(
            phrase(ChurnFeature::Recency, with(1)).as_deref(),
            Some("no purchase for 1 day")
        );
        assert_eq!(
            phrase(ChurnFeature::Recency, with(0)).as_deref(),
            Some("purchased today")
        );
    }

    #[test]
    fn support_contact_phrase_names_the_30_day_window_and_pluralises() {
        let with = |contacts| ChurnFeatures {
            support_contacts_last_30_days: Some(contacts),
            ..ChurnFeatures::default()
        };
        assert_eq!(
            phrase(ChurnFeature::SupportContacts, with(3)).as_deref(),
            Some("3 support contacts in the last 30 days")
        );
        assert_eq!(
            phrase(ChurnFeature::SupportContacts, with(1)).as_deref(),
            Some("1 support contact in the last 30 days")
        );
        assert_eq!(
            phrase(ChurnFeature::SupportContacts, with(0)).as_deref(),
            Some("no support contact in the last 30 days")
        );
    }

    #[test]
    fn trend_phrase_gives_both_windows() {
        let features = ChurnFeatures {
            purchases_last_90_days: Some(1),
            purchases_previous_90_days: Some(5),
            ..ChurnFeatures::default()
        };
        assert_eq!(
            phrase(ChurnFeature::Trend, features).as_deref(),
            Some("1 purchase in the last 90 days against 5 in the 90 days before")
        );
    }

    #[test]
    fn remaining_phrases_use_the_raw_values() {
        let features = ChurnFeatures {
            purchases: Some(12),
            mean_order_value: Some(29.333),
            email_engagements_last_30_days: Some(0),
            mean_support_satisfaction: Some(2.38),
            tenure_days: Some(412),
            ..ChurnFeatures::default()
        };
        let described = |feature| phrase(feature, features);
        assert_eq!(
            described(ChurnFeature::Frequency).as_deref(),
            Some("12 purchases in total")
        );
        assert_eq!(
            described(ChurnFeature::Monetary).as_deref(),
            Some("average order value 29.33")
        );
        assert_eq!(
            described(ChurnFeature::EmailEngagement).as_deref(),
            Some("no email engagement in the last 30 days")
        );
        assert_eq!(
            described(ChurnFeature::SupportSatisfaction).as_deref(),
            Some("mean support satisfaction 2.4 out of 5")
        );
        assert_eq!(
            described(ChurnFeature::Tenure).as_deref(),
            Some("customer for 412 days")
        );
    }

    #[test]
    fn unknown_features_have_no_phrase() {
        for feature in ChurnFeature::ALL {
            assert_eq!(
                phrase(feature, ChurnFeatures::default()),
                None,
                "{feature:?}"
            );
        }
        let half_a_trend = ChurnFeatures {
            purchases_last_90_days: Some(2),
            ..ChurnFeatures::default()
        };
        assert_eq!(phrase(ChurnFeature::Trend, half_a_trend), None);
    }
}
