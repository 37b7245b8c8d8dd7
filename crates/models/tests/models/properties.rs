//! Property tests of the invariants: AUC's fixed points, summaries independent of purchase
//! order, P(alive) in [0, 1] and 1 without repeat purchases, expected purchases monotone in t.

use models::churn::area_under_roc_curve;
use models::{BgNbdParams, Day, Purchase, PurchaseSummary, TimestampMs, Weeks, MILLIS_PER_DAY};
use proptest::prelude::*;

/// Labels with at least one positive and one negative.
fn labels() -> impl Strategy<Value = Vec<bool>> {
    prop::collection::vec(any::<bool>(), 2..200).prop_filter("both classes", |labels| {
        labels.contains(&true) && labels.contains(&false)
    })
}

fn bg_nbd_params() -> impl Strategy<Value = BgNbdParams> {
    (0.05f64..5.0, 0.5f64..50.0, 0.1f64..5.0, 0.1f64..10.0)
        .prop_map(|(r, alpha, a, b)| BgNbdParams::new(r, alpha, a, b).expect("in range"))
}

/// A summary with `recency ≤ age` and no recency without a repeat purchase.
fn summary() -> impl Strategy<Value = PurchaseSummary> {
    (0u32..60, 0u32..1500, 0.0f64..1.0).prop_map(|(frequency, age_days, recency_share)| {
        let recency_days = if frequency == 0 {
            0
        } else {
            (f64::from(age_days) * recency_share) as u32
        };
        PurchaseSummary {
            first_purchase_day: Day::from_days_since_epoch(10_000),
            frequency,
            recency_days,
            age_days,
            total_value: 0.0,
            mean_repeat_value: None,
        }
    })
}

fn brute_force_auc(scored: &[(f64, bool)]) -> f64 {
    let mut wins = 0.0;
    let mut pairs = 0.0;
    for &(positive_score, _) in scored.iter().filter(|(_, positive)| *positive) {
        for &(negative_score, _) in scored.iter().filter(|(_, positive)| !*positive) {
            pairs += 1.0;
            if positive_score > negative_score {
                wins += 1.0;
            } else if positive_score == negative_score {
                wins += 0.5;
            }
        }
    }
    wins / pairs
}

proptest! {
    #[test]
    fn auc_of_a_perfect_score_is_1_of_its_reverse_0_and_of_a_constant_one_half(
        labels in labels(),
        noise in prop::collection::vec(0.0f64..1.0, 200),
    ) {
        let perfect: Vec<(f64, bool)> = labels
            .iter()
            .zip(&noise)
            .map(|(&positive, &noise)| (if positive { 1.0 + noise } else { noise * 0.999 }, positive))
            .collect();
        let reversed: Vec<(f64, bool)> = perfect.iter().map(|&(score, label)| (-score, label)).collect();
        let constant: Vec<(f64, bool)> = labels.iter().map(|&label| (0.3, label)).collect();
        prop_assert_eq!(area_under_roc_curve(&perfect), Some(1.0));
        prop_assert_eq!(area_under_roc_curve(&reversed), Some(0.0));
        prop_assert_eq!(area_under_roc_curve(&constant), Some(0.5));
    }

    #[test]
    fn auc_with_ties_equals_the_share_of_correctly_ordered_pairs(
        labels in labels(),
        scores in prop::collection::vec(0u8..5, 200),
    ) {
        let scored: Vec<(f64, bool)> = labels
            .iter()
            .zip(&scores)
            .map(|(&label, &score)| (f64::from(score), label))
            .collect();
        let auc = area_under_roc_curve(&scored).expect("both classes");
        prop_assert!((auc - brute_force_auc(&scored)).abs() < 1e-12);
    }

    #[test]
    fn summaries_are_invariant_to_purchase_order(
        purchases in prop::collection::vec((0i64..400, 0u32..100_000, 0i64..MILLIS_PER_DAY), 1..40)
            .prop_map(|raw| raw.into_iter().map(|(day, cents, within_day)| Purchase {
                at: TimestampMs(day * MILLIS_PER_DAY + within_day),
                value: f64::from(cents) / 100.0,
            }).collect::<Vec<_>>())
            .prop_shuffle()
            .prop_flat_map(|purchases| (Just(purchases.clone()), Just(purchases).prop_shuffle())),
        end_day in 0i64..450,
    ) {
        let (one_order, another_order) = purchases;
        let end = Day::from_days_since_epoch(end_day);
        let one = PurchaseSummary::from_purchases(&one_order, end).expect("valid");
        let another = PurchaseSummary::from_purchases(&another_order, end).expect("valid");
        prop_assert_eq!(one, another);
        if let Some(summary) = one {
            prop_assert!(summary.recency_days <= summary.age_days);
            prop_assert_eq!(summary.frequency == 0, summary.mean_repeat_value.is_none());
            let kept = one_order.iter().filter(|p| Day::containing(p.at) <= end).count();
            prop_assert!((summary.frequency as usize) < kept);
        }
    }

    #[test]
    fn probability_alive_is_in_0_1_and_is_1_without_a_repeat_purchase(
        params in bg_nbd_params(),
        summary in summary(),
    ) {
        let alive = params.probability_alive(&summary);
        prop_assert!((0.0..=1.0).contains(&alive), "P(alive) = {}", alive);
        if summary.frequency == 0 {
            prop_assert_eq!(alive, 1.0);
        }
    }

    #[test]
    fn expected_purchases_grow_with_the_horizon(
        params in bg_nbd_params(),
        summary in summary(),
        shorter in 0.0f64..150.0,
        extra in 0.0f64..150.0,
    ) {
        let short = params.expected_purchases(&summary, Weeks::new(shorter).expect("weeks"));
        let long = params.expected_purchases(&summary, Weeks::new(shorter + extra).expect("weeks"));
        prop_assert!(short.is_finite() && long.is_finite());
        prop_assert!(short >= 0.0 || short.abs() < 1e-9, "E = {} at t = {}", short, shorter);
        prop_assert!(long >= short - 1e-9 * short.abs().max(1.0), "E({}) = {} > E({}) = {}",
            shorter, short, shorter + extra, long);
        let population_short = params.population_expected_purchases(Weeks::new(shorter).expect("weeks"));
        let population_long = params.population_expected_purchases(Weeks::new(shorter + extra).expect("weeks"));
        prop_assert!(population_long >= population_short - 1e-9 * population_short.max(1.0));
    }
}
