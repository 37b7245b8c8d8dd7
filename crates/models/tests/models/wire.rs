//! The wire format the engine stores and serves: camelCase JSON, parameters checked on the way
//! in, and the errors user data can cause.

use models::churn::{ChurnFeature, ChurnFeatures, ChurnModel, FeatureWeight};
use models::{
    BgNbdParams, Day, GammaGammaParams, LifetimeValueModel, ModelError, Purchase, PurchaseSummary,
    TimestampMs, Weeks,
};
use serde_json::json;

#[test]
fn parameters_round_trip_and_out_of_range_ones_are_refused() {
    let params = BgNbdParams::new(0.243, 4.414, 0.793, 2.426).expect("valid");
    let text = serde_json::to_value(params).expect("serialise");
    assert_eq!(
        text,
        json!({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    );
    let back: BgNbdParams = serde_json::from_value(text).expect("deserialise");
    assert_eq!(back, params);
    assert!(serde_json::from_value::<BgNbdParams>(
        json!({"r": -1.0, "alpha": 1.0, "a": 1.0, "b": 1.0})
    )
    .is_err());
    assert!(serde_json::from_value::<GammaGammaParams>(
        json!({"p": 6.25, "q": 0.5, "gamma": 15.44})
    )
    .is_err());
    assert!(serde_json::from_value::<Weeks>(json!(-3.0)).is_err());
    assert!(matches!(
        Weeks::new(f64::NAN),
        Err(ModelError::InvalidWeeks { .. })
    ));
}

#[test]
fn lifetime_value_serialises_in_camel_case() {
    let model = LifetimeValueModel {
        purchases: BgNbdParams::new(0.243, 4.414, 0.793, 2.426).expect("valid"),
        spend: GammaGammaParams::new(6.25, 3.74, 15.44).expect("valid"),
    };
    let summary = PurchaseSummary {
        first_purchase_day: Day::from_days_since_epoch(9_862),
        frequency: 2,
        recency_days: 30,
        age_days: 272,
        total_value: 90.0,
        mean_repeat_value: Some(30.0),
    };
    let value =
        serde_json::to_value(model.lifetime_value(&summary, Weeks::YEAR)).expect("serialise");
    for key in [
        "historicalValue",
        "horizon",
        "expectedPurchases",
        "expectedSpendPerOrder",
        "predictedValue",
        "probabilityAlive",
    ] {
        assert!(value.get(key).is_some(), "{key} missing from {value}");
    }
    let summary_json = serde_json::to_value(summary).expect("serialise");
    assert_eq!(summary_json["firstPurchaseDay"], json!(9_862));
    assert_eq!(summary_json["meanRepeatValue"], json!(30.0));
}

#[test]
fn churn_model_round_trips_and_scores_the_same_after() {
    let model = ChurnModel {
        horizon_days: 90,
        intercept: -0.5,
        weights: vec![FeatureWeight {
            feature: ChurnFeature::SupportContacts,
            mean: 0.2,
            standard_deviation: 0.4,
            coefficient: 0.8,
        }],
        training_examples: 10,
        training_base_rate: 0.4,
    };
    let text = serde_json::to_string(&model).expect("serialise");
    assert!(text.contains("\"supportContacts\"") && text.contains("\"standardDeviation\""));
    let back: ChurnModel = serde_json::from_str(&text).expect("deserialise");
    let features = ChurnFeatures {
        support_contacts_last_30_days: Some(3),
        ..ChurnFeatures::default()
    };
    assert_eq!(
        back.probability_of_no_purchase(&features),
        model.probability_of_no_purchase(&features)
    );
    let score = serde_json::to_value(back.score(&features, 3)).expect("serialise");
    assert_eq!(score["reasons"][0]["direction"], json!("raisesChurnRisk"));
    assert_eq!(
        score["reasons"][0]["phrase"],
        json!("3 support contacts in the last 30 days")
    );
    assert!(score.get("probabilityOfNoPurchase").is_some());
}

#[test]
fn a_negative_or_non_finite_purchase_value_is_an_error_naming_the_purchase() {
    let purchases = [
        Purchase {
            at: TimestampMs(0),
            value: 10.0,
        },
        Purchase {
            at: TimestampMs(1),
            value: f64::NAN,
        },
    ];
    let error = PurchaseSummary::from_purchases(&purchases, Day::from_days_since_epoch(5))
        .expect_err("NaN value");
    assert!(matches!(
        error,
        ModelError::InvalidPurchaseValue { index: 1, .. }
    ));
    let negative = [Purchase {
        at: TimestampMs(0),
        value: -1.0,
    }];
    assert!(ChurnFeatures::from_purchases(&negative, Day::from_days_since_epoch(5)).is_err());
}

#[test]
fn no_purchase_by_the_end_means_no_summary() {
    let later = [Purchase {
        at: TimestampMs(10 * models::MILLIS_PER_DAY),
        value: 5.0,
    }];
    let summary =
        PurchaseSummary::from_purchases(&later, Day::from_days_since_epoch(9)).expect("valid");
    assert_eq!(summary, None);
}
