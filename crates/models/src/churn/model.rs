//! The churn propensity model: a logistic regression (linfa) on standardised features giving
//! the probability that a customer makes no purchase within the horizon, its training,
//! scoring, reasons and holdout evaluation.

use linfa::traits::Fit;
use linfa::Dataset;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::evaluation::{area_under_roc_curve, calibration_by_decile, ChurnEvaluation};
use super::features::{ChurnFeature, ChurnFeatures};
use super::reasons::{ChurnReason, RiskDirection};
use crate::sample;
use crate::ModelError;

/// A customer's features and what happened next.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChurnExample {
    pub features: ChurnFeatures,
    /// No purchase within the horizon after the features were taken.
    pub churned: bool,
}

/// How to train a churn model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChurnTrainingConfig {
    /// The label's window: the examples say whether the customer purchased within this many days.
    pub horizon_days: u32,
    /// L2 penalty on the coefficients, added as `penalty/2 · |w|²` to the summed log-loss.
    pub l2_penalty: f64,
    /// L-BFGS iterations.
    pub max_iterations: u64,
    /// Above this many examples the model trains on a deterministic sample (each example kept
    /// when a hash of its position falls below the fraction).
    pub max_examples: usize,
}

impl ChurnTrainingConfig {
    /// A penalty of 1, 200 iterations, up to 500,000 examples.
    pub const fn standard(horizon_days: u32) -> ChurnTrainingConfig {
        ChurnTrainingConfig {
            horizon_days,
            l2_penalty: 1.0,
            max_iterations: 200,
            max_examples: 500_000,
        }
    }
}

/// One feature's place in the model: how it is standardised and its coefficient.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureWeight {
    pub feature: ChurnFeature,
    /// Mean and standard deviation of [`ChurnFeature::model_input`] over the training examples
    /// that knew it. A feature nobody knew, or with one value only, has deviation 0 and
    /// coefficient 0: it is not used.
    pub mean: f64,
    pub standard_deviation: f64,
    /// Change in the log-odds of churning per standard deviation.
    pub coefficient: f64,
}

/// A trained churn model, ready to store and to score with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChurnModel {
    pub horizon_days: u32,
    pub intercept: f64,
    pub weights: Vec<FeatureWeight>,
    pub training_examples: u64,
    /// The share of training examples that churned.
    pub training_base_rate: f64,
}

/// One customer's churn score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChurnScore {
    /// The probability of no purchase within `horizon_days`.
    pub probability_of_no_purchase: f64,
    pub horizon_days: u32,
    /// The features that moved the probability most, largest first.
    pub reasons: Vec<ChurnReason>,
}

impl ChurnModel {
    pub fn train(
        examples: &[ChurnExample],
        config: &ChurnTrainingConfig,
    ) -> Result<ChurnModel, ModelError> {
        let fraction = config.max_examples as f64 / examples.len().max(1) as f64;
        let training: Vec<&ChurnExample> = examples
            .iter()
            .enumerate()
            .filter(|(position, _)| sample::keeps(*position as u64, fraction))
            .map(|(_, example)| example)
            .collect();
        let churned = training.iter().filter(|example| example.churned).count() as u64;
        let retained = training.len() as u64 - churned;
        if churned == 0 || retained == 0 {
            return Err(ModelError::SingleClass {
                what: "training a churn model",
                churned,
                retained,
            });
        }

        let mut weights: Vec<FeatureWeight> = ChurnFeature::ALL
            .iter()
            .map(|&feature| standardisation(feature, &training))
            .collect();
        let used: Vec<usize> = (0..weights.len())
            .filter(|&index| weights[index].standard_deviation > 0.0)
            .collect();
        let mut design = Array2::<f64>::zeros((training.len(), used.len()));
        for (row, example) in training.iter().enumerate() {
            for (column, &index) in used.iter().enumerate() {
                design[[row, column]] = weights[index].standardised(&example.features);
            }
        }
        let targets: Array1<bool> = training.iter().map(|example| example.churned).collect();
        let fitted = LogisticRegression::default()
            .alpha(config.l2_penalty)
            .max_iterations(config.max_iterations)
            .fit(&Dataset::new(design, targets))
            .map_err(|error| ModelError::FitFailed {
                model: "churn logistic regression",
                reason: error.to_string(),
            })?;
        // linfa models the probability of its "positive" class, the larger one: turn the
        // coefficients round when that is "retained".
        let orientation = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        for (column, &index) in used.iter().enumerate() {
            weights[index].coefficient = orientation * fitted.params()[column];
        }
        Ok(ChurnModel {
            horizon_days: config.horizon_days,
            intercept: orientation * fitted.intercept(),
            weights,
            training_examples: training.len() as u64,
            training_base_rate: churned as f64 / training.len() as f64,
        })
    }

    /// The probability of no purchase within `horizon_days`.
    pub fn probability_of_no_purchase(&self, features: &ChurnFeatures) -> f64 {
        let log_odds = self.intercept
            + self
                .weights
                .iter()
                .map(|weight| weight.contribution(features))
                .sum::<f64>();
        logistic(log_odds)
    }

    /// The `limit` known features with the largest contributions (coefficient × standardised
    /// value), largest first; features that contribute nothing are left out.
    pub fn reasons(&self, features: &ChurnFeatures, limit: usize) -> Vec<ChurnReason> {
        let mut reasons: Vec<ChurnReason> = self
            .weights
            .iter()
            .filter_map(|weight| {
                let contribution = weight.contribution(features);
                if contribution == 0.0 || !contribution.is_finite() {
                    return None;
                }
                Some(ChurnReason {
                    feature: weight.feature,
                    contribution,
                    direction: if contribution > 0.0 {
                        RiskDirection::RaisesChurnRisk
                    } else {
                        RiskDirection::LowersChurnRisk
                    },
                    phrase: weight.feature.describe(features)?,
                })
            })
            .collect();
        reasons.sort_by(|left, right| right.contribution.abs().total_cmp(&left.contribution.abs()));
        reasons.truncate(limit);
        reasons
    }

    /// The probability and the top `reason_limit` reasons.
    pub fn score(&self, features: &ChurnFeatures, reason_limit: usize) -> ChurnScore {
        ChurnScore {
            probability_of_no_purchase: self.probability_of_no_purchase(features),
            horizon_days: self.horizon_days,
            reasons: self.reasons(features, reason_limit),
        }
    }

    /// AUC, calibration and the recency-only baseline on examples the model was not trained on.
    pub fn evaluate(&self, holdout: &[ChurnExample]) -> Result<ChurnEvaluation, ModelError> {
        let predicted: Vec<(f64, bool)> = holdout
            .iter()
            .map(|example| {
                (
                    self.probability_of_no_purchase(&example.features),
                    example.churned,
                )
            })
            .collect();
        let by_recency: Vec<(f64, bool)> = holdout
            .iter()
            .map(|example| {
                let days = example.features.days_since_last_purchase;
                (days.map_or(f64::INFINITY, f64::from), example.churned)
            })
            .collect();
        let churned = holdout.iter().filter(|example| example.churned).count() as u64;
        let customers = holdout.len() as u64;
        let single_class = || ModelError::SingleClass {
            what: "evaluating a churn model",
            churned,
            retained: customers - churned,
        };
        let auc = area_under_roc_curve(&predicted).ok_or_else(single_class)?;
        let recency_baseline_auc = area_under_roc_curve(&by_recency).ok_or_else(single_class)?;
        Ok(ChurnEvaluation {
            customers,
            churned,
            base_rate: churned as f64 / customers as f64,
            auc,
            recency_baseline_auc,
            beats_recency_baseline: auc > recency_baseline_auc,
            calibration: calibration_by_decile(&predicted),
        })
    }
}

impl FeatureWeight {
    /// `(input − mean) / deviation`; 0 when the feature is unknown or unused.
    fn standardised(&self, features: &ChurnFeatures) -> f64 {
        match self.feature.model_input(features) {
            Some(value) if self.standard_deviation > 0.0 => {
                (value - self.mean) / self.standard_deviation
            }
            _ => 0.0,
        }
    }

    fn contribution(&self, features: &ChurnFeatures) -> f64 {
        if self.coefficient == 0.0 {
            return 0.0;
        }
        self.coefficient * self.standardised(features)
    }
}

fn standardisation(feature: ChurnFeature, training: &[&ChurnExample]) -> FeatureWeight {
    let values: Vec<f64> = training
        .iter()
        .filter_map(|example| feature.model_input(&example.features))
        .collect();
    let (mean, standard_deviation) = if values.len() < 2 {
        (values.first().copied().unwrap_or(0.0), 0.0)
    } else {
        let count = values.len() as f64;
        let mean = values.iter().sum::<f64>() / count;
        let variance = values
            .iter()
            .map(|value| (value - mean).powi(2))
            .sum::<f64>()
            / count;
        let deviation = variance.sqrt();
        (mean, if deviation > 1e-12 { deviation } else { 0.0 })
    };
    FeatureWeight {
        feature,
        mean,
        standard_deviation,
        coefficient: 0.0,
    }
}

fn logistic(log_odds: f64) -> f64 {
    if log_odds >= 0.0 {
        1.0 / (1.0 + (-log_odds).exp())
    } else {
        let odds = log_odds.exp();
        odds / (1.0 + odds)
    }
}
