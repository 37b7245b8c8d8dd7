//! Churn on CDNOW: features at the end of the calibration period, label = no purchase in
//! weeks 40–78, trained on the odd customer ids and measured on the even ones.

use models::churn::{
    no_purchase_within, ChurnExample, ChurnFeatures, ChurnModel, ChurnTrainingConfig, RiskDirection,
};

use super::cdnow::{calibration_end, holdout_end, load};

fn examples_by_parity() -> (Vec<ChurnExample>, Vec<ChurnExample>) {
    let horizon_days = calibration_end().days_until(holdout_end()) as u32;
    let mut odd = Vec::new();
    let mut even = Vec::new();
    for (id, purchases) in load() {
        let example = ChurnExample {
            features: ChurnFeatures::from_purchases(&purchases, calibration_end()).expect("valid"),
            churned: no_purchase_within(&purchases, calibration_end(), horizon_days),
        };
        if id % 2 == 1 {
            odd.push(example);
        } else {
            even.push(example);
        }
    }
    (odd, even)
}

#[test]
fn churn_model_beats_the_recency_baseline_on_held_out_customers() {
    let (train, holdout) = examples_by_parity();
    let config = ChurnTrainingConfig::standard(273);
    let model = ChurnModel::train(&train, &config).expect("train");
    let evaluation = model.evaluate(&holdout).expect("evaluate");
    println!(
        "CDNOW churn holdout: {} customers, base rate {:.3}, AUC {:.4}, recency-only AUC {:.4}",
        evaluation.customers, evaluation.base_rate, evaluation.auc, evaluation.recency_baseline_auc
    );
    for bin in &evaluation.calibration {
        println!(
            "  decile {:2}: {:4} customers, predicted {:.3}, observed {:.3}",
            bin.decile, bin.customers, bin.mean_predicted, bin.observed_rate
        );
    }
    assert!(
        evaluation.auc > evaluation.recency_baseline_auc,
        "model AUC {} does not beat recency alone {}",
        evaluation.auc,
        evaluation.recency_baseline_auc
    );
    assert!(evaluation.beats_recency_baseline);

    let churned = holdout.iter().filter(|example| example.churned).count();
    assert_eq!(evaluation.churned, churned as u64);
    assert_eq!(evaluation.base_rate, churned as f64 / holdout.len() as f64);
    assert_eq!(evaluation.calibration.len(), 10);
    let binned: u64 = evaluation.calibration.iter().map(|bin| bin.customers).sum();
    assert_eq!(binned, holdout.len() as u64);
    // Calibrated on average: the mean prediction is near the observed rate.
    let mean_predicted: f64 = holdout
        .iter()
        .map(|example| model.probability_of_no_purchase(&example.features))
        .sum::<f64>()
        / holdout.len() as f64;
    assert!(
        (mean_predicted - evaluation.base_rate).abs() < 0.05,
        "mean prediction {mean_predicted} against base rate {}",
        evaluation.base_rate
    );
}

#[test]
fn churn_reasons_name_the_long_silence_of_a_lapsed_customer() {
    let (train, holdout) = examples_by_parity();
    let model = ChurnModel::train(&train, &ChurnTrainingConfig::standard(273)).expect("train");
    let lapsed = holdout
        .iter()
        .map(|example| example.features)
        .max_by_key(|features| features.days_since_last_purchase)
        .expect("a holdout customer");
    let score = model.score(&lapsed, 3);
    assert!(score.reasons.len() <= 3 && !score.reasons.is_empty());
    for pair in score.reasons.windows(2) {
        assert!(pair[0].contribution.abs() >= pair[1].contribution.abs());
    }
    let recency = score
        .reasons
        .iter()
        .find(|reason| reason.feature == models::churn::ChurnFeature::Recency)
        .expect("recency is among the top reasons of the longest-silent customer");
    assert_eq!(recency.direction, RiskDirection::RaisesChurnRisk);
    let days = lapsed.days_since_last_purchase.expect("known");
    assert_eq!(recency.phrase, format!("no purchase for {days} days"));
    assert!(score.probability_of_no_purchase > model.training_base_rate);
    // Unknown email and support features are never reasons.
    assert!(score
        .reasons
        .iter()
        .all(|reason| reason.contribution != 0.0));
}
