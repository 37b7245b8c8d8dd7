//! The CDNOW sample: loading it, and the published BG/NBD and Gamma–Gamma results reproduced.

use std::collections::BTreeMap;

use models::{
    BgNbdFitConfig, BgNbdParams, CompressedSummaries, Day, GammaGammaFitConfig, GammaGammaParams,
    LifetimeValueModel, Purchase, PurchaseSummary, TimestampMs, Weeks,
};

/// Customer id in the sample → purchases.
pub type Customers = BTreeMap<u32, Vec<Purchase>>;

pub fn load() -> Customers {
    let text = include_str!("../data/CDNOW_sample.txt");
    let mut customers = Customers::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let columns: Vec<&str> = line.split_whitespace().collect();
        let [_, id, date, _, value] = columns[..] else {
            panic!("a CDNOW line has five columns: {line:?}");
        };
        let id: u32 = id.parse().expect("customer id");
        let date: u32 = date.parse().expect("date");
        let day = civil_day(
            (date / 10_000) as i64,
            i64::from(date / 100 % 100),
            i64::from(date % 100),
        );
        let value: f64 = value.parse().expect("value");
        customers.entry(id).or_default().push(Purchase {
            at: TimestampMs(day.start().0 + 3_600_000),
            value,
        });
    }
    customers
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the era-based day count).
pub fn civil_day(year: i64, month: i64, day: i64) -> Day {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Day::from_days_since_epoch(era * 146_097 + day_of_era - 719_468)
}

pub fn calibration_end() -> Day {
    civil_day(1997, 9, 30)
}

pub fn holdout_end() -> Day {
    civil_day(1998, 6, 30)
}

pub fn calibration_summaries(customers: &Customers) -> Vec<PurchaseSummary> {
    customers
        .values()
        .map(|purchases| {
            PurchaseSummary::from_purchases(purchases, calibration_end())
                .expect("valid purchases")
                .expect("every CDNOW customer buys first in 1997 Q1")
        })
        .collect()
}

/// Distinct purchase days after the calibration end, up to the holdout end.
fn holdout_purchase_days(purchases: &[Purchase]) -> u32 {
    let mut days: Vec<Day> = purchases
        .iter()
        .map(|purchase| Day::containing(purchase.at))
        .filter(|day| *day > calibration_end() && *day <= holdout_end())
        .collect();
    days.sort();
    days.dedup();
    days.len() as u32
}

fn assert_within(name: &str, got: f64, expected: f64, relative: f64) {
    let error = (got - expected).abs() / expected.abs();
    assert!(
        error <= relative,
        "{name} = {got}, expected {expected} within {:.1} % (off by {:.2} %)",
        relative * 100.0,
        error * 100.0
    );
}

#[test]
fn calibration_summaries_count_2457_repeat_purchase_days_by_946_customers() {
    let summaries = calibration_summaries(&load());
    assert_eq!(summaries.len(), 2357);
    let repeat_days: u64 = summaries.iter().map(|s| u64::from(s.frequency)).sum();
    let repeat_customers = summaries.iter().filter(|s| s.frequency > 0).count();
    assert_eq!(repeat_days, 2457);
    assert_eq!(repeat_customers, 946);
    // Customer 1 bought first on 1997-01-01: T = 272 days = 38.86 weeks.
    assert_eq!(summaries[0].age_days, 272);
    assert_within("T of customer 1", summaries[0].age().get(), 38.86, 0.001);
}

#[test]
fn bg_nbd_fit_on_the_calibration_period_matches_the_paper_within_1_percent() {
    let summaries = calibration_summaries(&load());
    let fit = BgNbdParams::fit(
        &CompressedSummaries::from_summaries(&summaries),
        &BgNbdFitConfig::STANDARD,
    )
    .expect("fit");
    let params = fit.params;
    println!(
        "BG/NBD: r = {:.4}, alpha = {:.4}, a = {:.4}, b = {:.4}, LL = {:.2}, {} distinct rows",
        params.r(),
        params.alpha(),
        params.a(),
        params.b(),
        fit.log_likelihood,
        fit.distinct_rows
    );
    assert_within("r", params.r(), 0.243, 0.01);
    assert_within("alpha", params.alpha(), 4.414, 0.01);
    assert_within("a", params.a(), 0.793, 0.01);
    assert_within("b", params.b(), 2.426, 0.01);
    assert_eq!(fit.customers, 2357);
    assert_eq!(
        fit.rows_fitted, fit.distinct_rows,
        "CDNOW is small enough to fit whole"
    );
}

#[test]
fn gamma_gamma_fit_on_the_946_repeat_customers_matches_the_paper_within_1_percent() {
    let summaries = calibration_summaries(&load());
    let fit = GammaGammaParams::fit(&summaries, &GammaGammaFitConfig::STANDARD).expect("fit");
    let params = fit.params;
    println!(
        "Gamma-Gamma: p = {:.4}, q = {:.4}, gamma = {:.4}, LL = {:.2}",
        params.p(),
        params.q(),
        params.gamma(),
        fit.log_likelihood
    );
    assert_eq!(fit.repeat_customers, 946);
    assert_within("p", params.p(), 6.25, 0.01);
    assert_within("q", params.q(), 3.74, 0.01);
    assert_within("gamma", params.gamma(), 15.44, 0.01);
}

#[test]
fn expected_holdout_purchases_match_the_formula_and_the_actual_1882_within_15_percent() {
    let customers = load();
    let summaries = calibration_summaries(&customers);
    let fit = BgNbdParams::fit(
        &CompressedSummaries::from_summaries(&summaries),
        &BgNbdFitConfig::STANDARD,
    )
    .expect("fit");
    let holdout = Weeks::from_days(calibration_end().days_until(holdout_end()) as u32);
    assert_within("holdout length in weeks", holdout.get(), 39.0, 1e-9);

    let actual: u32 = customers.values().map(|p| holdout_purchase_days(p)).sum();
    assert_eq!(actual, 1882);
    let expected: f64 = summaries
        .iter()
        .map(|summary| fit.params.expected_purchases(summary, holdout))
        .sum();
    println!("expected holdout purchases {expected:.1}, actual {actual}");
    // The model itself falls short here: with the published parameters the paper's formula
    // sums to 1,653.9 (checked outside this crate with mpmath's hyp2f1), 12 % under the actual
    // count. The implementation is held to that value; the model to the actual within 15 %.
    let published = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).expect("valid");
    let expected_with_published: f64 = summaries
        .iter()
        .map(|summary| published.expected_purchases(summary, holdout))
        .sum();
    assert_within(
        "E[Y(39)] summed, published parameters",
        expected_with_published,
        1653.94,
        0.001,
    );
    assert_within(
        "expected holdout purchases",
        expected,
        f64::from(actual),
        0.15,
    );

    // The paper's tracking check: cumulative repeat purchases at the end of week 78, each
    // customer counted from their first purchase, from the population expectation alone.
    let ages_at_holdout_end: Vec<Weeks> = summaries
        .iter()
        .map(
            |summary| Weeks::from_days(summary.first_purchase_day.days_until(holdout_end()) as u32),
        )
        .collect();
    let expected_cumulative = fit
        .params
        .population_expected_cumulative_purchases(&ages_at_holdout_end);
    let actual_cumulative = 2457 + actual;
    println!(
        "expected cumulative repeat purchases {expected_cumulative:.1}, actual {actual_cumulative}"
    );
    assert_within(
        "cumulative repeat purchases at week 78",
        expected_cumulative,
        f64::from(actual_cumulative),
        0.05,
    );
}

#[test]
fn lifetime_value_is_expected_purchases_times_expected_spend() {
    let summaries = calibration_summaries(&load());
    let fit = LifetimeValueModel::fit(
        &summaries,
        &BgNbdFitConfig::STANDARD,
        &GammaGammaFitConfig::STANDARD,
    )
    .expect("fit");
    let model = fit.model();
    let horizon = models::DEFAULT_LIFETIME_HORIZON;
    assert_eq!(horizon.get(), 52.0);
    let mut total_predicted = 0.0;
    for summary in &summaries {
        let value = model.lifetime_value(summary, horizon);
        assert_eq!(value.historical_value, summary.total_value);
        assert!(
            (value.predicted_value - value.expected_purchases * value.expected_spend_per_order)
                .abs()
                < 1e-9
        );
        assert!(value.predicted_value >= 0.0);
        total_predicted += value.predicted_value;
    }
    let historical: f64 = summaries.iter().map(|s| s.total_value).sum();
    println!("historical value {historical:.0}, predicted next 52 weeks {total_predicted:.0}");
    // A one-off buyer is expected to spend the population mean per order.
    let one_off = summaries
        .iter()
        .find(|s| s.frequency == 0)
        .expect("a one-off buyer");
    let value = model.lifetime_value(one_off, horizon);
    assert!((value.expected_spend_per_order - model.spend.population_mean_spend()).abs() < 1e-9);
}
