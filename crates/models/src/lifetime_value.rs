//! Customer lifetime value: what a customer has spent, and what the BG/NBD and Gamma–Gamma
//! models together expect them to spend over a horizon (expected purchases × expected spend
//! per order, undiscounted).

use serde::{Deserialize, Serialize};

use crate::bg_nbd::{BgNbdFit, BgNbdFitConfig, BgNbdParams};
use crate::gamma_gamma::{GammaGammaFit, GammaGammaFitConfig, GammaGammaParams};
use crate::summary::{CompressedSummaries, PurchaseSummary};
use crate::time::Weeks;
use crate::ModelError;

/// The usual horizon of a predicted lifetime value: 52 weeks, about 12 months.
pub const DEFAULT_LIFETIME_HORIZON: Weeks = Weeks::YEAR;

/// The two fitted models a lifetime value needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifetimeValueModel {
    pub purchases: BgNbdParams,
    pub spend: GammaGammaParams,
}

/// Both fits, with what each saw.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifetimeValueFit {
    pub purchases: BgNbdFit,
    pub spend: GammaGammaFit,
}

/// One customer's lifetime value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifetimeValue {
    /// What the customer has spent up to the observation end.
    pub historical_value: f64,
    pub horizon: Weeks,
    /// Expected purchase days within the horizon (BG/NBD).
    pub expected_purchases: f64,
    /// Expected value per purchase day (Gamma–Gamma).
    pub expected_spend_per_order: f64,
    /// `expected_purchases × expected_spend_per_order`.
    pub predicted_value: f64,
    /// The BG/NBD probability that the customer is still active.
    pub probability_alive: f64,
}

impl LifetimeValueModel {
    /// Fits both models on the same summaries.
    pub fn fit(
        summaries: &[PurchaseSummary],
        purchases_config: &BgNbdFitConfig,
        spend_config: &GammaGammaFitConfig,
    ) -> Result<LifetimeValueFit, ModelError> {
        let compressed = CompressedSummaries::from_summaries(summaries);
        Ok(LifetimeValueFit {
            purchases: BgNbdParams::fit(&compressed, purchases_config)?,
            spend: GammaGammaParams::fit(summaries, spend_config)?,
        })
    }

    /// The customer's lifetime value over `horizon` weeks after the summary's observation end.
    pub fn lifetime_value(&self, summary: &PurchaseSummary, horizon: Weeks) -> LifetimeValue {
        let expected_purchases = self.purchases.expected_purchases(summary, horizon);
        let expected_spend_per_order = self.spend.expected_spend_per_order(summary);
        LifetimeValue {
            historical_value: summary.total_value,
            horizon,
            expected_purchases,
            expected_spend_per_order,
            predicted_value: expected_purchases * expected_spend_per_order,
            probability_alive: self.purchases.probability_alive(summary),
        }
    }
}

impl LifetimeValueFit {
    pub fn model(&self) -> LifetimeValueModel {
        LifetimeValueModel {
            purchases: self.purchases.params,
            spend: self.spend.params,
        }
    }
}
