//! The BG/NBD model of repeat purchasing (Fader, Hardie & Lee, "Counting Your Customers the
//! Easy Way", Marketing Science 2005): while alive a customer buys at a Poisson rate λ
//! (gamma(r, α) across customers) and after each purchase drops out with probability p
//! (beta(a, b) across customers). Fitting by maximum likelihood, the likelihood itself,
//! and the per-customer and population expectations. Time is in weeks.

use serde::{Deserialize, Serialize};

use crate::optimise::minimise;
use crate::sample;
use crate::special::{hyp2f1, ln_gamma, log_add_exp};
use crate::summary::{CompressedSummaries, PurchaseSummary};
use crate::time::Weeks;
use crate::ModelError;

const MODEL: &str = "BG/NBD";

/// The four BG/NBD parameters, all positive: `r` and `alpha` (shape and rate of the gamma
/// distribution of purchase rates, per week), `a` and `b` (the beta distribution of dropout
/// probabilities).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawBgNbdParams", into = "RawBgNbdParams")]
pub struct BgNbdParams {
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
}

#[derive(Serialize, Deserialize)]
struct RawBgNbdParams {
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
}

impl TryFrom<RawBgNbdParams> for BgNbdParams {
    type Error = ModelError;
    fn try_from(raw: RawBgNbdParams) -> Result<BgNbdParams, ModelError> {
        BgNbdParams::new(raw.r, raw.alpha, raw.a, raw.b)
    }
}

impl From<BgNbdParams> for RawBgNbdParams {
    fn from(params: BgNbdParams) -> RawBgNbdParams {
        RawBgNbdParams {
            r: params.r,
            alpha: params.alpha,
            a: params.a,
            b: params.b,
        }
    }
}

/// How a BG/NBD fit may spend its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdFitConfig {
    /// Above this many distinct `(x, t_x, T)` rows the fit reads a deterministic sample of
    /// about this many: a row of `w` customers is kept with probability `min(1, c·w)` (`c`
    /// chosen so that the expected number kept is the cap), decided by a hash of the row, and
    /// a kept row counts for `w / probability` customers. Heavy rows are always kept and the
    /// sampled likelihood is an unbiased estimate of the full one (Horvitz–Thompson).
    pub max_distinct_rows: usize,
    /// Nelder–Mead iterations per run (a fit is a run and a few restarts).
    pub max_iterations: u64,
}

impl BgNbdFitConfig {
    /// 200,000 rows, 2,000 iterations per run.
    pub const STANDARD: BgNbdFitConfig = BgNbdFitConfig {
        max_distinct_rows: 200_000,
        max_iterations: 2_000,
    };
}

/// A fitted model and what the fit saw.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BgNbdFit {
    pub params: BgNbdParams,
    /// The log-likelihood of all the customers under `params`.
    pub log_likelihood: f64,
    pub customers: u64,
    pub distinct_rows: usize,
    /// Distinct rows the optimiser read (fewer than `distinct_rows` when sampled).
    pub rows_fitted: usize,
    pub likelihood_evaluations: u64,
}

impl BgNbdParams {
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<BgNbdParams, ModelError> {
        for (name, value) in [("r", r), ("alpha", alpha), ("a", a), ("b", b)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(ModelError::InvalidParameter {
                    name,
                    value,
                    rule: "finite and positive",
                });
            }
        }
        Ok(BgNbdParams { r, alpha, a, b })
    }

    pub fn r(&self) -> f64 {
        self.r
    }

    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    pub fn a(&self) -> f64 {
        self.a
    }

    pub fn b(&self) -> f64 {
        self.b
    }

    /// Maximum-likelihood estimates, found by Nelder–Mead over `ln r, ln α, ln a, ln b`.
    pub fn fit(
        data: &CompressedSummaries,
        config: &BgNbdFitConfig,
    ) -> Result<BgNbdFit, ModelError> {
        if data.customers() < 2 {
            return Err(ModelError::TooFewCustomers {
                model: MODEL,
                needed: 2,
                got: data.customers(),
            });
        }
        let fitted_rows = sample::weighted_sample(data.rows(), config.max_distinct_rows.max(1));
        let fitted = Likelihood::new(&fitted_rows);
        let fitted_customers: f64 = fitted_rows.iter().map(|row| row.weight).sum();
        let mean_age_weeks = fitted_rows
            .iter()
            .map(|row| row.weight * f64::from(row.age_days) / 7.0)
            .sum::<f64>()
            / fitted_customers;
        let start = [0.0, mean_age_weeks.max(1.0).ln(), 0.0, 0.0];
        let cost = |theta: &[f64]| -> f64 {
            match params_from_logs(theta) {
                Some(params) => -fitted.total(&params) / fitted_customers,
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
        Ok(BgNbdFit {
            params,
            log_likelihood: params.log_likelihood(data),
            customers: data.customers(),
            distinct_rows: data.rows().len(),
            rows_fitted: fitted_rows.len(),
            likelihood_evaluations: minimum.evaluations,
        })
    }

    /// The log-likelihood of the customers in `data` (each row counted once per customer).
    pub fn log_likelihood(&self, data: &CompressedSummaries) -> f64 {
        let rows: Vec<sample::SampledRow> =
            data.rows().iter().map(sample::SampledRow::whole).collect();
        Likelihood::new(&rows).total(self)
    }

    /// P(alive | x, t_x, T): the probability the customer has not dropped out by the
    /// observation end. 1 for a customer with no repeat purchase: in the BG/NBD a customer
    /// drops out only right after a repeat purchase.
    pub fn probability_alive(&self, summary: &PurchaseSummary) -> f64 {
        1.0 / (1.0 + self.dropout_odds(summary))
    }

    /// E[Y(t) | x, t_x, T]: the expected number of purchases (purchase days) in the `horizon`
    /// weeks after the observation end.
    pub fn expected_purchases(&self, summary: &PurchaseSummary, horizon: Weeks) -> f64 {
        let if_alive =
            self.expected_purchases_if_alive(summary.frequency, summary.age().get(), horizon.get());
        if_alive / (1.0 + self.dropout_odds(summary))
    }

    /// E[X(t)]: the expected number of repeat purchases a customer makes in the first `t`
    /// weeks after the first purchase, over the whole population.
    pub fn population_expected_purchases(&self, t: Weeks) -> f64 {
        self.expected_purchases_if_alive(0, 0.0, t.get())
    }

    /// The expected cumulative repeat purchases of a cohort: Σ E[X(tᵢ)] over its customers'
    /// times since their first purchase `tᵢ` (the paper's tracking curve, when evaluated at
    /// successive dates).
    pub fn population_expected_cumulative_purchases(&self, times_since_first: &[Weeks]) -> f64 {
        times_since_first
            .iter()
            .map(|&t| self.population_expected_purchases(t))
            .sum()
    }

    /// `δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)`: the odds of having dropped out at the last
    /// purchase against being alive at the observation end.
    fn dropout_odds(&self, summary: &PurchaseSummary) -> f64 {
        if summary.frequency == 0 {
            return 0.0;
        }
        let x = f64::from(summary.frequency);
        let age = summary.age().get();
        let recency = summary.recency().get();
        let log_ratio = (self.alpha + age).ln() - (self.alpha + recency).ln();
        self.a / (self.b + x - 1.0) * ((self.r + x) * log_ratio).exp()
    }

    /// The expected purchases in `t` more weeks of a customer known to be alive at age `age`
    /// after `x` repeat purchases:
    /// `(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x−1; z)]`,
    /// `z = t/(α+T+t)`. Euler's transformation turns the bracket into
    /// `1 − (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z)`, whose series has small terms for
    /// every `x`. At `a = 1` the formula is 0/0; there it is the mean of `a = 1 ± 10⁻⁶`.
    fn expected_purchases_if_alive(&self, x: u32, age: f64, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let at = |a: f64| {
            let x = f64::from(x);
            let z = t / (self.alpha + age + t);
            let c = a + self.b + x - 1.0;
            let bracket =
                1.0 - (1.0 - z).powf(a - 1.0) * hyp2f1(a + self.b - 1.0 - self.r, a - 1.0, c, z);
            c / (a - 1.0) * bracket
        };
        const STEP: f64 = 1e-6;
        if (self.a - 1.0).abs() < STEP {
            (at(1.0 - STEP) + at(1.0 + STEP)) / 2.0
        } else {
            at(self.a)
        }
    }
}

fn params_from_logs(theta: &[f64]) -> Option<BgNbdParams> {
    let [r, alpha, a, b] = theta else {
        return None;
    };
    BgNbdParams::new(r.exp(), alpha.exp(), a.exp(), b.exp()).ok()
}

/// The BG/NBD log-likelihood over weighted rows sorted by frequency. Per customer:
///
/// ```text
/// ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b)
///        + ln[ (α+T)^−(r+x) + δ(x>0) · a/(b+x−1) · (α+t_x)^−(r+x) ]
/// ```
///
/// The terms in `x` alone are computed once per distinct `x`, and `ln(α + d/7)` once per day
/// count `d`, so a row costs a table look-up or two, one `exp` and one `ln_1p`.
struct Likelihood<'a> {
    rows: &'a [sample::SampledRow],
    /// Where each run of equal frequency starts in `rows`, and that frequency.
    frequency_runs: Vec<(usize, u32)>,
    max_days: u32,
}

/// Above this many days the `ln(α + d/7)` table would be larger than it is worth.
const MAX_TABLED_DAYS: u32 = 1_000_000;

impl<'a> Likelihood<'a> {
    fn new(rows: &'a [sample::SampledRow]) -> Likelihood<'a> {
        let mut frequency_runs = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            if frequency_runs
                .last()
                .is_none_or(|&(_, x)| x != row.frequency)
            {
                frequency_runs.push((index, row.frequency));
            }
        }
        let max_days = rows
            .iter()
            .map(|row| row.age_days.max(row.recency_days))
            .max()
            .unwrap_or(0);
        Likelihood {
            rows,
            frequency_runs,
            max_days,
        }
    }

    fn total(&self, params: &BgNbdParams) -> f64 {
        let BgNbdParams { r, alpha, a, b } = *params;
        let table: Vec<f64> = if self.max_days <= MAX_TABLED_DAYS {
            (0..=self.max_days)
                .map(|days| (alpha + f64::from(days) / 7.0).ln())
                .collect()
        } else {
            Vec::new()
        };
        let ln_alpha_plus = |days: u32| -> f64 {
            match table.get(days as usize) {
                Some(&value) => value,
                None => (alpha + f64::from(days) / 7.0).ln(),
            }
        };
        let shared = r * alpha.ln() - ln_gamma(r) + ln_gamma(a + b) - ln_gamma(b);
        let mut total = 0.0;
        for (run, &(start, frequency)) in self.frequency_runs.iter().enumerate() {
            let end = self
                .frequency_runs
                .get(run + 1)
                .map_or(self.rows.len(), |&(next, _)| next);
            let x = f64::from(frequency);
            let base = shared + ln_gamma(r + x) + ln_gamma(b + x) - ln_gamma(a + b + x);
            let ln_dropped = if frequency > 0 {
                a.ln() - (b + x - 1.0).ln()
            } else {
                f64::NEG_INFINITY
            };
            let mut run_total = 0.0;
            let mut run_customers = 0.0;
            for row in &self.rows[start..end] {
                let weight = row.weight;
                let ln_alive = -(r + x) * ln_alpha_plus(row.age_days);
                let ln_dropped_at_last = ln_dropped - (r + x) * ln_alpha_plus(row.recency_days);
                run_total += weight * log_add_exp(ln_alive, ln_dropped_at_last);
                run_customers += weight;
            }
            total += run_total + base * run_customers;
        }
        total
    }
}
