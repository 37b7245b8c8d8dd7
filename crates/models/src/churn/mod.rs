//! Churn propensity: the probability that a customer makes no purchase in the next N days,
//! from a logistic regression on named features, with per-customer reasons and a holdout
//! evaluation against a recency-only baseline.

mod evaluation;
mod features;
mod model;
mod reasons;

pub use evaluation::{
    area_under_roc_curve, calibration_by_decile, CalibrationBin, ChurnEvaluation,
};
pub use features::{no_purchase_within, ChurnFeature, ChurnFeatures, TREND_WINDOW_DAYS};
pub use model::{ChurnExample, ChurnModel, ChurnScore, ChurnTrainingConfig, FeatureWeight};
pub use reasons::{ChurnReason, RiskDirection};
