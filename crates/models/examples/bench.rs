//! Times the models on 1,000,000 synthetic customers: summaries, BG/NBD and Gamma–Gamma fits,
//! lifetime values, churn features, training, scoring with reasons and evaluation.
//!
//! `cargo run --release -p models --example bench [customers] [BG/NBD row cap] [Gamma-Gamma cap]`
//!
//! Customers are drawn from the models themselves (CDNOW-like parameters) with a seeded
//! generator, so every run sees the same data: first purchases spread over the first 52 weeks,
//! observation to week 104, churn labels from the 13 weeks after.

use std::time::{Duration, Instant};

use models::churn::{
    no_purchase_within, ChurnExample, ChurnFeatures, ChurnModel, ChurnTrainingConfig,
};
use models::{
    BgNbdFitConfig, BgNbdParams, CompressedSummaries, Day, GammaGammaFitConfig, GammaGammaParams,
    LifetimeValueModel, Purchase, PurchaseSummary, TimestampMs, DEFAULT_LIFETIME_HORIZON,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const ACQUISITION_WEEKS: f64 = 52.0;
const OBSERVATION_DAYS: i64 = 728;
const CHURN_HORIZON_DAYS: u32 = 91;

fn main() -> Result<(), models::ModelError> {
    let customers: usize = std::env::args()
        .nth(1)
        .and_then(|count| count.parse().ok())
        .unwrap_or(1_000_000);
    // The second and third arguments override the BG/NBD row cap and the Gamma-Gamma
    // customer cap, to compare sampled fits with full ones.
    let purchases_config = BgNbdFitConfig {
        max_distinct_rows: std::env::args()
            .nth(2)
            .and_then(|rows| rows.parse().ok())
            .unwrap_or(BgNbdFitConfig::STANDARD.max_distinct_rows),
        ..BgNbdFitConfig::STANDARD
    };
    let spend_config = GammaGammaFitConfig {
        max_customers: std::env::args()
            .nth(3)
            .and_then(|customers| customers.parse().ok())
            .unwrap_or(GammaGammaFitConfig::STANDARD.max_customers),
        ..GammaGammaFitConfig::STANDARD
    };
    let mut timings: Vec<(&str, Duration)> = Vec::new();
    let mut time = |stage: &'static str, started: Instant| {
        let elapsed = started.elapsed();
        println!("{stage:<44} {:>8.2} s", elapsed.as_secs_f64());
        timings.push((stage, elapsed));
    };

    let started = Instant::now();
    let histories = generate(customers, 0x5EED);
    let purchases: usize = histories.iter().map(Vec::len).sum();
    println!(
        "generated {customers} customers, {purchases} purchases in {:.2} s (not counted)",
        started.elapsed().as_secs_f64()
    );

    let end = Day::from_days_since_epoch(OBSERVATION_DAYS);
    let started = Instant::now();
    let mut summaries = Vec::with_capacity(customers);
    for history in &histories {
        if let Some(summary) = PurchaseSummary::from_purchases(history, end)? {
            summaries.push(summary);
        }
    }
    time("purchase summaries", started);

    let started = Instant::now();
    let compressed = CompressedSummaries::from_summaries(&summaries);
    let purchases_fit = BgNbdParams::fit(&compressed, &purchases_config)?;
    time("BG/NBD fit (compress + Nelder-Mead)", started);
    let fitted = purchases_fit.params;
    println!(
        "  r {:.3} alpha {:.3} a {:.3} b {:.3} (drawn from 0.243 4.414 0.793 2.426); {} distinct rows, {} fitted, {} evaluations",
        fitted.r(), fitted.alpha(), fitted.a(), fitted.b(),
        purchases_fit.distinct_rows, purchases_fit.rows_fitted, purchases_fit.likelihood_evaluations
    );

    let started = Instant::now();
    let spend_fit = GammaGammaParams::fit(&summaries, &spend_config)?;
    time("Gamma-Gamma fit", started);
    let spend = spend_fit.params;
    println!(
        "  p {:.3} q {:.3} gamma {:.3} (drawn from 6.25 3.74 15.44); {} repeat customers, {} fitted",
        spend.p(), spend.q(), spend.gamma(), spend_fit.repeat_customers, spend_fit.customers_fitted
    );

    let model = LifetimeValueModel {
        purchases: fitted,
        spend,
    };
    let started = Instant::now();
    let mut predicted_total = 0.0;
    for summary in &summaries {
        predicted_total += model
            .lifetime_value(summary, DEFAULT_LIFETIME_HORIZON)
            .predicted_value;
    }
    time("lifetime value, 52 weeks, every customer", started);
    println!("  predicted value over 52 weeks: {predicted_total:.0}");

    let started = Instant::now();
    let mut examples = Vec::with_capacity(customers);
    for history in &histories {
        examples.push(ChurnExample {
            features: ChurnFeatures::from_purchases(history, end)?,
            churned: no_purchase_within(history, end, CHURN_HORIZON_DAYS),
        });
    }
    time("churn features and labels", started);

    let (train, holdout): (Vec<ChurnExample>, Vec<ChurnExample>) = {
        let mut train = Vec::with_capacity(customers / 2 + 1);
        let mut holdout = Vec::with_capacity(customers / 2 + 1);
        for (index, example) in examples.into_iter().enumerate() {
            if index % 2 == 0 {
                train.push(example)
            } else {
                holdout.push(example)
            }
        }
        (train, holdout)
    };
    let started = Instant::now();
    let churn = ChurnModel::train(&train, &ChurnTrainingConfig::standard(CHURN_HORIZON_DAYS))?;
    time("churn training (half the customers)", started);

    let started = Instant::now();
    let mut reasons = 0usize;
    for example in train.iter().chain(&holdout) {
        reasons += churn.score(&example.features, 3).reasons.len();
    }
    time("churn scores with 3 reasons, every customer", started);
    println!("  {reasons} reasons");

    let started = Instant::now();
    let evaluation = churn.evaluate(&holdout)?;
    time("churn evaluation (other half)", started);
    println!(
        "  AUC {:.4}, recency-only {:.4}, base rate {:.3}",
        evaluation.auc, evaluation.recency_baseline_auc, evaluation.base_rate
    );

    let total: Duration = timings.iter().map(|(_, elapsed)| *elapsed).sum();
    println!(
        "{:<44} {:>8.2} s",
        "total (fit + score, both models)",
        total.as_secs_f64()
    );
    Ok(())
}

/// Customers drawn from the BG/NBD and Gamma–Gamma processes.
fn generate(customers: usize, seed: u64) -> Vec<Vec<Purchase>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let (r, alpha, a, b) = (0.243, 4.414, 0.793, 2.426);
    let (p, q, gamma) = (6.25, 3.74, 15.44);
    let last_week = (OBSERVATION_DAYS + i64::from(CHURN_HORIZON_DAYS)) as f64 / 7.0;
    let mut histories = Vec::with_capacity(customers);
    for _ in 0..customers {
        let rate = gamma_draw(&mut rng, r) / alpha;
        let dropout = {
            let x = gamma_draw(&mut rng, a);
            x / (x + gamma_draw(&mut rng, b))
        };
        let spend_rate = gamma_draw(&mut rng, q) / gamma;
        let mut week = rng.random::<f64>() * ACQUISITION_WEEKS;
        let mut history = Vec::new();
        loop {
            history.push(Purchase {
                at: TimestampMs((week * 7.0 * models::MILLIS_PER_DAY as f64) as i64),
                value: (gamma_draw(&mut rng, p) / spend_rate * 100.0).round() / 100.0,
            });
            week += -(1.0 - rng.random::<f64>()).ln() / rate;
            if week > last_week {
                break;
            }
            if history.len() > 1 && rng.random::<f64>() < dropout {
                break;
            }
        }
        histories.push(history);
    }
    histories
}

/// A gamma(shape, 1) draw: Marsaglia and Tsang's method, boosted for shapes below 1.
fn gamma_draw(rng: &mut SmallRng, shape: f64) -> f64 {
    if shape < 1.0 {
        let boosted = gamma_draw(rng, shape + 1.0);
        return boosted * rng.random::<f64>().powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let normal = {
            let u1 = 1.0 - rng.random::<f64>();
            let u2 = rng.random::<f64>();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        };
        let v = (1.0 + c * normal).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = rng.random::<f64>();
        if u.ln() < 0.5 * normal * normal + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}
