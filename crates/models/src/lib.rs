//! Statistics behind Rapport's built-in model scores, storage-free and HTTP-free: purchase
//! histories summarised for the models, the BG/NBD model of repeat purchasing, the Gamma–Gamma
//! model of spend per order, customer lifetime value built from the two, and churn propensity
//! from a logistic regression with reasons and a holdout evaluation.
//!
//! ```
//! use models::{BgNbdParams, Day, Purchase, PurchaseSummary, TimestampMs, Weeks};
//!
//! let day = |n: i64| TimestampMs(n * models::MILLIS_PER_DAY);
//! let purchases = [
//!     Purchase { at: day(0), value: 20.0 },
//!     Purchase { at: day(14), value: 30.0 },
//!     Purchase { at: day(14), value: 5.0 },
//! ];
//! let summary = PurchaseSummary::from_purchases(&purchases, Day::from_days_since_epoch(70))?
//!     .expect("purchases before the end");
//! assert_eq!((summary.frequency, summary.recency_days, summary.age_days), (1, 14, 70));
//! assert_eq!(summary.mean_repeat_value, Some(35.0));
//!
//! let model = BgNbdParams::new(0.243, 4.414, 0.793, 2.426)?;
//! let alive = model.probability_alive(&summary);
//! assert!(alive > 0.0 && alive < 1.0);
//! assert!(model.expected_purchases(&summary, Weeks::YEAR) > 0.0);
//! # Ok::<(), models::ModelError>(())
//! ```
//!
//! Time: purchase histories are counted in UTC days ([`Day`]); the BG/NBD model works in
//! weeks ([`Weeks`], days / 7). Fitting reads [`CompressedSummaries`] (distinct rows with
//! weights) and samples deterministically past a configured size; scoring one customer costs
//! a bounded amount of arithmetic, whatever the population.

mod bg_nbd;
pub mod churn;
mod error;
mod gamma_gamma;
mod lifetime_value;
mod optimise;
mod sample;
mod special;
mod summary;
mod time;

pub use bg_nbd::{BgNbdFit, BgNbdFitConfig, BgNbdParams};
pub use error::ModelError;
pub use gamma_gamma::{GammaGammaFit, GammaGammaFitConfig, GammaGammaParams};
pub use lifetime_value::{
    LifetimeValue, LifetimeValueFit, LifetimeValueModel, DEFAULT_LIFETIME_HORIZON,
};
pub use summary::{CompressedSummaries, Purchase, PurchaseSummary, WeightedRfm};
pub use time::{Day, TimestampMs, Weeks, MILLIS_PER_DAY};
