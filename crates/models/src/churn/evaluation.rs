//! Measuring a churn score on customers it was not trained on: AUC with ties, calibration by
//! decile, the base rate, and the recency-only baseline the model has to beat.

use serde::{Deserialize, Serialize};

/// One group of customers with similar predicted probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalibrationBin {
    /// 1 for the tenth with the lowest predicted probabilities, 10 for the highest.
    pub decile: u8,
    pub customers: u64,
    pub mean_predicted: f64,
    /// The share of those customers who did churn.
    pub observed_rate: f64,
}

/// How well a churn model did on a holdout set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChurnEvaluation {
    pub customers: u64,
    pub churned: u64,
    /// The share of customers who churned.
    pub base_rate: f64,
    /// Area under the ROC curve of the model's probabilities.
    pub auc: f64,
    /// The AUC of days since the last purchase used as the score (unknown recency, a customer
    /// who never purchased, ranks highest).
    pub recency_baseline_auc: f64,
    /// `false` when the model does no better than recency alone: its extra features buy
    /// nothing on this data.
    pub beats_recency_baseline: bool,
    pub calibration: Vec<CalibrationBin>,
}

/// The area under the ROC curve of `(score, is_positive)` pairs: the probability that a random
/// positive scores above a random negative, ties counting one half (the Mann–Whitney statistic
/// with mid-ranks). `None` unless there is at least one positive and one negative.
pub fn area_under_roc_curve(scored: &[(f64, bool)]) -> Option<f64> {
    let positives = scored.iter().filter(|(_, positive)| *positive).count();
    let negatives = scored.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<(f64, bool)> = scored.to_vec();
    order.sort_by(|left, right| left.0.total_cmp(&right.0));
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order[end].0.total_cmp(&order[start].0).is_eq() {
            end += 1;
        }
        // Ranks start + 1 ..= end share their mean.
        let mid_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end]
            .iter()
            .filter(|(_, positive)| *positive)
            .count();
        positive_rank_sum += mid_rank * tied_positives as f64;
        start = end;
    }
    let positives = positives as f64;
    let negatives = negatives as f64;
    Some((positive_rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// `(predicted probability, churned)` pairs sorted by prediction and cut into ten groups of
/// equal size (sizes differ by at most one); empty groups (fewer than ten customers) are left out.
pub fn calibration_by_decile(predicted: &[(f64, bool)]) -> Vec<CalibrationBin> {
    let mut order: Vec<(f64, bool)> = predicted.to_vec();
    order.sort_by(|left, right| left.0.total_cmp(&right.0));
    let total = order.len();
    let mut bins = Vec::with_capacity(10);
    for decile in 0..10 {
        let group = &order[decile * total / 10..(decile + 1) * total / 10];
        if group.is_empty() {
            continue;
        }
        let customers = group.len() as f64;
        bins.push(CalibrationBin {
            decile: decile as u8 + 1,
            customers: group.len() as u64,
            mean_predicted: group
                .iter()
                .map(|(probability, _)| probability)
                .sum::<f64>()
                / customers,
            observed_rate: group.iter().filter(|(_, churned)| *churned).count() as f64 / customers,
        });
    }
    bins
}
