//! The one error type of the crate: what can go wrong building summaries, fitting and evaluating.

/// Why a summary, a fit or an evaluation could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A purchase value was NaN, infinite or negative.
    #[error("purchase {index} has value {value}: a purchase value must be a finite, non-negative amount")]
    InvalidPurchaseValue { index: usize, value: f64 },
    /// A number of weeks was NaN, infinite or negative.
    #[error("{value} is not a number of weeks: it must be finite and non-negative")]
    InvalidWeeks { value: f64 },
    /// A model parameter was out of its range.
    #[error("model parameter {name} = {value} is out of range: it must be {rule}")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        rule: &'static str,
    },
    /// Too little data to fit a model.
    #[error("{model} needs at least {needed} customers to fit, got {got}")]
    TooFewCustomers {
        model: &'static str,
        needed: u64,
        got: u64,
    },
    /// A classifier was given examples of one class only.
    #[error("{what} needs both churned and retained customers, got {churned} churned and {retained} retained")]
    SingleClass {
        what: &'static str,
        churned: u64,
        retained: u64,
    },
    /// The optimiser failed or ended on a non-finite likelihood.
    #[error("fitting {model} failed: {reason}")]
    FitFailed { model: &'static str, reason: String },
}
