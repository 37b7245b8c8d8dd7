//! The Gamma–Gamma model of spend per order (Fader & Hardie, "The Gamma-Gamma Model of
//! Monetary Value", 2013): a customer's order values are gamma(p, ν) around a personal mean
//! whose rate ν is gamma(q, γ) across customers. Fitted on the mean repeat-order value of
//! customers with at least one repeat purchase; gives each customer's expected spend per order.

use serde::{Deserialize, Serialize};

use crate::optimise::minimise;
use crate::sample;
use crate::special::ln_gamma;
use crate::summary::PurchaseSummary;
use crate::ModelError;

const MODEL: &str = "Gamma-Gamma";

/// The three Gamma–Gamma parameters: `p > 0`, `q > 1`, `gamma > 0`. `q` is kept above 1 so
/// that the population mean spend `p·γ/(q−1)` exists (the fit searches `q` on `(1, ∞)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawGammaGammaParams", into = "RawGammaGammaParams")]
pub struct GammaGammaParams {
    p: f64,
    q: f64,
    gamma: f64,
}

#[derive(Serialize, Deserialize)]
struct RawGammaGammaParams {
    p: f64,
    q: f64,
    gamma: f64,
}

impl TryFrom<RawGammaGammaParams> for GammaGammaParams {
    type Error = ModelError;
    fn try_from(raw: RawGammaGammaParams) -> Result<GammaGammaParams, ModelError> {
        GammaGammaParams::new(raw.p, raw.q, raw.gamma)
    }
}

impl From<GammaGammaParams> for RawGammaGammaParams {
    fn from(params: GammaGammaParams) -> RawGammaGammaParams {
        RawGammaGammaParams {
            p: params.p,
            q: params.q,
            gamma: params.gamma,
        }
    }
}

/// How a Gamma–Gamma fit may spend its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaFitConfig {
    /// Above this many repeat customers the fit reads a deterministic sample of them (kept
    /// when a hash of their frequency and mean value falls below the fraction).
    pub max_customers: usize,
    /// Nelder–Mead iterations per run.
    pub max_iterations: u64,
}

impl GammaGammaFitConfig {
    /// 250,000 customers, 2,000 iterations per run.
    pub const STANDARD: GammaGammaFitConfig = GammaGammaFitConfig {
        max_customers: 250_000,
        max_iterations: 2_000,
    };
}

/// A fitted model and what the fit saw.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GammaGammaFit {
    pub params: GammaGammaParams,
    /// The log-likelihood of the customers the fit read.
    pub log_likelihood: f64,
    /// Customers with at least one repeat purchase day and a positive mean repeat value.
    pub repeat_customers: u64,
    pub customers_fitted: u64,
    pub likelihood_evaluations: u64,
}

impl GammaGammaParams {
    pub fn new(p: f64, q: f64, gamma: f64) -> Result<GammaGammaParams, ModelError> {
        let checks = [
            ("p", p, p > 0.0, "finite and positive"),
            ("q", q, q > 1.0, "finite and greater than 1"),
            ("gamma", gamma, gamma > 0.0, "finite and positive"),
        ];
        for (name, value, in_range, rule) in checks {
            if !(value.is_finite() && in_range) {
                return Err(ModelError::InvalidParameter { name, value, rule });
            }
        }
        Ok(GammaGammaParams { p, q, gamma })
    }

    pub fn p(&self) -> f64 {
        self.p
    }

    pub fn q(&self) -> f64 {
        self.q
    }

    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// Maximum-likelihood estimates over `ln p, ln(q−1), ln γ`, from the customers with at
    /// least one repeat purchase day and a positive mean repeat value (others are skipped).
    pub fn fit<'a>(
        summaries: impl IntoIterator<Item = &'a PurchaseSummary>,
        config: &GammaGammaFitConfig,
    ) -> Result<GammaGammaFit, ModelError> {
        let repeaters = repeat_spend(summaries);
        let repeat_customers = repeaters.len() as u64;
        if repeat_customers < 2 {
            return Err(ModelError::TooFewCustomers {
                model: MODEL,
                needed: 2,
                got: repeat_customers,
            });
        }
        let fraction = config.max_customers.max(2) as f64 / repeaters.len() as f64;
        let fitted: Vec<RepeatSpend> = repeaters
            .into_iter()
            .filter(|spend| {
                let key = spend.mean_value.to_bits() ^ (u64::from(spend.frequency) << 52);
                sample::keeps(key, fraction)
            })
            .collect();
        let likelihood = Likelihood::new(fitted);
        let customers = likelihood.rows.len() as f64;
        let mean_value = likelihood
            .rows
            .iter()
            .map(|row| row.mean_value)
            .sum::<f64>()
            / customers;
        let start = [0.0, 0.0, mean_value.ln()];
        let cost = |theta: &[f64]| -> f64 {
            match params_from_logs(theta) {
                Some(params) => -likelihood.total(&params) / customers,
                None => f64::INFINITY,
            }
        };
        let minimum = minimise(MODEL, &cost, &start, 1.0, config.max_iterations, 4)?;
        let params = params_from_logs(&minimum.point).ok_or_else(|| ModelError::FitFailed {
            model: MODEL,
            reason: format!(
                "the estimates left the parameter range: {:?}",
                minimum.point
            ),
        })?;
        Ok(GammaGammaFit {
            params,
            log_likelihood: likelihood.total(&params),
            repeat_customers,
            customers_fitted: likelihood.rows.len() as u64,
            likelihood_evaluations: minimum.evaluations,
        })
    }

    /// The log-likelihood of the mean repeat values of the customers with at least one repeat
    /// purchase day and a positive mean repeat value.
    pub fn log_likelihood<'a>(
        &self,
        summaries: impl IntoIterator<Item = &'a PurchaseSummary>,
    ) -> f64 {
        Likelihood::new(repeat_spend(summaries)).total(self)
    }

    /// `p·γ/(q−1)`: the expected spend per order of a customer the model knows nothing about.
    pub fn population_mean_spend(&self) -> f64 {
        self.p * self.gamma / (self.q - 1.0)
    }

    /// E[M | p, q, γ, m_x, x] = `p(γ + x·m_x) / (p·x + q − 1)`: a weighted mean of the population
    /// mean and the customer's own mean repeat value, the weight on the latter growing with
    /// the number of repeat purchase days `x`. The population mean without a repeat purchase.
    pub fn expected_spend_per_order(&self, summary: &PurchaseSummary) -> f64 {
        match summary.mean_repeat_value {
            Some(mean_value) if summary.frequency > 0 => {
                let x = f64::from(summary.frequency);
                self.p * (self.gamma + x * mean_value) / (self.p * x + self.q - 1.0)
            }
            _ => self.population_mean_spend(),
        }
    }
}

fn params_from_logs(theta: &[f64]) -> Option<GammaGammaParams> {
    let [p, q_minus_one, gamma] = theta else {
        return None;
    };
    GammaGammaParams::new(p.exp(), 1.0 + q_minus_one.exp(), gamma.exp()).ok()
}

struct RepeatSpend {
    frequency: u32,
    mean_value: f64,
}

fn repeat_spend<'a>(summaries: impl IntoIterator<Item = &'a PurchaseSummary>) -> Vec<RepeatSpend> {
    summaries
        .into_iter()
        .filter(|summary| summary.frequency > 0)
        .filter_map(|summary| {
            let mean_value = summary.mean_repeat_value?;
            (mean_value.is_finite() && mean_value > 0.0).then_some(RepeatSpend {
                frequency: summary.frequency,
                mean_value,
            })
        })
        .collect()
}

/// The Gamma–Gamma log-likelihood of mean repeat values. Per customer with `x` repeat purchase
/// days of mean value `m`:
///
/// ```text
/// ln f = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln m + px ln x − (px+q) ln(γ + m·x)
/// ```
///
/// Rows are sorted by `x` so the gamma functions are computed once per distinct `x`.
struct Likelihood {
    rows: Vec<Row>,
}

struct Row {
    frequency: u32,
    mean_value: f64,
    ln_mean_value: f64,
}

impl Likelihood {
    fn new(spend: Vec<RepeatSpend>) -> Likelihood {
        let mut rows: Vec<Row> = spend
            .into_iter()
            .map(|spend| Row {
                frequency: spend.frequency,
                mean_value: spend.mean_value,
                ln_mean_value: spend.mean_value.ln(),
            })
            .collect();
        rows.sort_by(|left, right| {
            left.frequency
                .cmp(&right.frequency)
                .then(left.mean_value.total_cmp(&right.mean_value))
        });
        Likelihood { rows }
    }

    fn total(&self, params: &GammaGammaParams) -> f64 {
        let GammaGammaParams { p, q, gamma } = *params;
        let shared = q * gamma.ln() - ln_gamma(q);
        let mut total = 0.0;
        let mut current: Option<(u32, f64, f64, f64)> = None;
        for row in &self.rows {
            let (_, px, q_plus_px, constant) = match current {
                Some(terms) if terms.0 == row.frequency => terms,
                _ => {
                    let x = f64::from(row.frequency);
                    let px = p * x;
                    let constant = shared + ln_gamma(px + q) - ln_gamma(px) + px * x.ln();
                    let terms = (row.frequency, px, px + q, constant);
                    current = Some(terms);
                    terms
                }
            };
            total += constant + (px - 1.0) * row.ln_mean_value
                - q_plus_px * (gamma + row.mean_value * f64::from(row.frequency)).ln();
        }
        total
    }
}
