//! Built-in model scores: lifetime value (BG/NBD with Gamma–Gamma) and churn propensity
//! (logistic regression), fitted on the sandbox's own events, measured on a time split, and
//! written on every profile beside its computed attributes.
//!
//! Training reads every profile's purchases, email engagements and support contacts in one read
//! transaction (it never blocks the writer or lookups), fits on what happened up to a cutoff,
//! measures on what happened after it, then refits on everything up to the scoring date. The
//! models land in the catalog with their reports; scoring is the computed attributes' backfill:
//! each profile is scored in the writer when its stored scores are of another model version, and
//! again when one of its purchases, engagements or contacts arrives.

use std::collections::BTreeMap;

use models::churn::{
    ChurnEvaluation, ChurnExample, ChurnFeatures, ChurnModel, ChurnTrainingConfig,
};
use models::{
    BgNbdFitConfig, Day, GammaGammaFitConfig, LifetimeValueFit, LifetimeValueModel, Purchase,
    PurchaseSummary, TimestampMs, Weeks,
};
use rapport_types::{Code, ProfileId, SandboxName};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::ReadTxn;

use crate::error::{Error, Result};

const DAY_MS: i64 = 86_400_000;
/// Reasons given with each churn score.
pub const REASONS: usize = 3;

/// What counts as a purchase, an engagement and a contact, and the horizons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ScoreSettings {
    /// Event types that are purchases; empty: every event with a value in `valueField`.
    pub purchase_event_types: Vec<String>,
    /// The order value of a purchase.
    pub value_field: String,
    pub email_event_types: Vec<String>,
    pub support_event_types: Vec<String>,
    /// A support contact's satisfaction, 1 (worst) to 5 (best).
    pub satisfaction_field: String,
    /// Churn: no purchase within this many days.
    pub churn_horizon_days: u32,
    /// Lifetime value: predicted over this many weeks.
    pub lifetime_horizon_weeks: f64,
    /// The end of the calibration period (epoch ms); by default the scoring date minus the
    /// churn horizon.
    pub cutoff_ms: Option<i64>,
    /// The scoring date (epoch ms); by default now.
    pub as_of_ms: Option<i64>,
}

impl Default for ScoreSettings {
    fn default() -> ScoreSettings {
        ScoreSettings {
            purchase_event_types: vec!["commerce.purchases".into()],
            value_field: "commerce.order.priceTotal".into(),
            email_event_types: vec![
                "directMarketing.emailOpened".into(),
                "directMarketing.emailClicked".into(),
            ],
            support_event_types: vec!["support.call".into(), "support.chat".into()],
            satisfaction_field: "support.satisfaction".into(),
            churn_horizon_days: 90,
            lifetime_horizon_weeks: 52.0,
            cutoff_ms: None,
            as_of_ms: None,
        }
    }
}

impl ScoreSettings {
    /// What a history reads of an event: its type, the order value and the satisfaction.
    pub fn event_projection(&self) -> segments::EventProjection {
        let mut projection = segments::EventProjection::of([]);
        projection.also_keep([self.value_field.as_str(), self.satisfaction_field.as_str()]);
        projection
    }

    /// Reads a training request's body (every field optional).
    pub fn from_json(body: &Value) -> Result<ScoreSettings> {
        let invalid = |message: String| Error::user(Code::InvalidParameter, message);
        let settings: ScoreSettings = match body {
            Value::Null => ScoreSettings::default(),
            Value::Object(object) => serde_json::from_value(body.clone()).map_err(|e| {
                // Name the field: the first one that does not read on its own.
                let field = object.iter().find(|(key, value)| {
                    serde_json::from_value::<ScoreSettings>(json!({ key.as_str(): value })).is_err()
                });
                match field {
                    Some((key, _)) => invalid(format!("/{key}: {e}")),
                    None => invalid(format!("the training settings: {e}")),
                }
            })?,
            other => {
                return Err(invalid(format!(
                    "the body must be an object, found {other}"
                )))
            }
        };
        if !(1..=3650).contains(&settings.churn_horizon_days) {
            return Err(invalid("/churnHorizonDays: from 1 to 3650".into()));
        }
        if !(settings.lifetime_horizon_weeks > 0.0 && settings.lifetime_horizon_weeks <= 520.0) {
            return Err(invalid(
                "/lifetimeHorizonWeeks: above 0, at most 520".into(),
            ));
        }
        if settings.value_field.is_empty() {
            return Err(invalid("/valueField: required".into()));
        }
        if let (Some(cutoff), Some(as_of)) = (settings.cutoff_ms, settings.as_of_ms) {
            if cutoff >= as_of {
                return Err(invalid("/cutoffMs: must be before /asOfMs".into()));
            }
        }
        Ok(settings)
    }
}

/// What one profile's events say for the models.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub purchases: Vec<Purchase>,
    pub emails: Vec<i64>,
    /// (time, satisfaction) of each support contact.
    pub support: Vec<(i64, Option<f64>)>,
}

fn path<'v>(value: &'v Value, dotted: &str) -> Option<&'v Value> {
    dotted.split('.').try_fold(value, |v, name| v.get(name))
}

impl History {
    /// Adds one event.
    pub fn add(
        &mut self,
        settings: &ScoreSettings,
        event_type: Option<&str>,
        timestamp_ms: i64,
        event: &Value,
    ) {
        let is = |types: &[String]| event_type.is_some_and(|t| types.iter().any(|x| x == t));
        let value = path(event, &settings.value_field).and_then(Value::as_f64);
        let purchase = if settings.purchase_event_types.is_empty() {
            value.is_some()
        } else {
            is(&settings.purchase_event_types)
        };
        if purchase {
            self.purchases.push(Purchase {
                at: TimestampMs(timestamp_ms),
                value: value.filter(|v| v.is_finite() && *v >= 0.0).unwrap_or(0.0),
            });
        } else if is(&settings.email_event_types) {
            self.emails.push(timestamp_ms);
        } else if is(&settings.support_event_types) {
            let satisfaction = path(event, &settings.satisfaction_field).and_then(Value::as_f64);
            self.support.push((timestamp_ms, satisfaction));
        }
    }

    /// Whether an event of this type can move a score.
    pub fn relevant(settings: &ScoreSettings, event_type: Option<&str>) -> bool {
        let Some(t) = event_type else {
            return settings.purchase_event_types.is_empty();
        };
        settings.purchase_event_types.is_empty()
            || [
                &settings.purchase_event_types,
                &settings.email_event_types,
                &settings.support_event_types,
            ]
            .iter()
            .any(|types| types.iter().any(|x| x == t))
    }

    /// The churn model's features at the end of `as_of_ms`'s day.
    pub fn features(&self, as_of_ms: i64) -> ChurnFeatures {
        let as_of = Day::containing(TimestampMs(as_of_ms));
        let mut features =
            ChurnFeatures::from_purchases(&self.purchases, as_of).unwrap_or_default();
        let end = as_of.start().0 + DAY_MS;
        let recent = |t: i64| t < end && t >= end - 30 * DAY_MS;
        features.email_engagements_last_30_days =
            Some(self.emails.iter().filter(|t| recent(**t)).count() as u32);
        features.support_contacts_last_30_days =
            Some(self.support.iter().filter(|(t, _)| recent(*t)).count() as u32);
        let scores: Vec<f64> = self
            .support
            .iter()
            .filter(|(t, _)| *t < end)
            .filter_map(|(_, s)| *s)
            .collect();
        features.mean_support_satisfaction =
            (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64);
        features
    }

    fn summary(&self, as_of_ms: i64) -> Option<PurchaseSummary> {
        PurchaseSummary::from_purchases(&self.purchases, Day::containing(TimestampMs(as_of_ms)))
            .ok()
            .flatten()
    }
}

/// Reads the history of every live profile of a sandbox.
pub fn read_histories(
    txn: &dyn ReadTxn,
    sandbox: &SandboxName,
    settings: &ScoreSettings,
) -> Result<Vec<(ProfileId, History)>> {
    let profiles = crate::segment::jobs::live_profiles(txn, sandbox)?;
    let projection = settings.event_projection();
    let mut out = Vec::with_capacity(profiles.len());
    for profile_id in profiles {
        out.push((
            profile_id,
            read_history(txn, sandbox, profile_id, settings, &projection)?,
        ));
    }
    Ok(out)
}

/// Reads one profile's history; `projection` is [`ScoreSettings::event_projection`].
pub fn read_history(
    txn: &(impl ReadTxn + ?Sized),
    sandbox: &SandboxName,
    profile_id: ProfileId,
    settings: &ScoreSettings,
    projection: &segments::EventProjection,
) -> Result<History> {
    let events = crate::segment::LoadedEvents::load(txn, sandbox, profile_id, None, projection)?;
    let mut history = History::default();
    for event in events.refs() {
        let event_type = event.value.get("eventType").and_then(Value::as_str);
        history.add(settings, event_type, event.timestamp_ms, event.value);
    }
    Ok(history)
}

/// The lifetime value model's check on the holdout period, in total and by decile of
/// predicted value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifetimeValueReport {
    pub calibration: LifetimeValueFit,
    pub customers: u64,
    pub holdout_weeks: f64,
    pub predicted_purchases: f64,
    pub actual_purchases: u64,
    pub predicted_spend: f64,
    pub actual_spend: f64,
    pub deciles: Vec<LifetimeDecile>,
    /// The model refitted on everything up to the scoring date: what scores use.
    pub refit: LifetimeValueFit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifetimeDecile {
    pub decile: u8,
    pub customers: u64,
    pub predicted_purchases: f64,
    pub actual_purchases: u64,
    pub predicted_spend: f64,
    pub actual_spend: f64,
}

/// The churn model's check on the holdout customers, and whether it may be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChurnReport {
    pub evaluation: ChurnEvaluation,
    pub training_customers: u64,
    /// `false` when the model does not beat recency alone: scores are then not written.
    pub used: bool,
    pub note: Option<String>,
}

/// Both models of a sandbox, with their reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainedModels {
    pub version: String,
    pub trained_ms: i64,
    pub cutoff_ms: i64,
    pub as_of_ms: i64,
    pub settings: ScoreSettings,
    pub lifetime: Option<LifetimeValueModel>,
    pub lifetime_report: Option<LifetimeValueReport>,
    pub churn: Option<ChurnModel>,
    pub churn_report: Option<ChurnReport>,
    /// Why a model could not be fitted (too little data...).
    pub problems: Vec<String>,
}

/// Fits both models on `histories` (see the module's documentation).
pub fn train(
    histories: &[(ProfileId, History)],
    settings: &ScoreSettings,
    now_ms: i64,
) -> TrainedModels {
    let as_of = settings.as_of_ms.unwrap_or(now_ms);
    let horizon_days = settings.churn_horizon_days;
    let cutoff = settings
        .cutoff_ms
        .unwrap_or(as_of - i64::from(horizon_days) * DAY_MS);
    let mut problems = Vec::new();
    let (lifetime, lifetime_report) = match train_lifetime(histories, cutoff, as_of) {
        Ok((model, report)) => (Some(model), Some(report)),
        Err(problem) => {
            problems.push(format!("lifetime value: {problem}"));
            (None, None)
        }
    };
    let (churn, churn_report) = match train_churn(histories, horizon_days, cutoff) {
        Ok((model, report)) => (Some(model), Some(report)),
        Err(problem) => {
            problems.push(format!("churn: {problem}"));
            (None, None)
        }
    };
    TrainedModels {
        version: uuid::Uuid::new_v4().to_string(),
        trained_ms: now_ms,
        cutoff_ms: cutoff,
        as_of_ms: as_of,
        settings: settings.clone(),
        lifetime,
        lifetime_report,
        churn,
        churn_report,
        problems,
    }
}

fn train_lifetime(
    histories: &[(ProfileId, History)],
    cutoff: i64,
    as_of: i64,
) -> std::result::Result<(LifetimeValueModel, LifetimeValueReport), String> {
    let calibration: Vec<(&History, PurchaseSummary)> = histories
        .iter()
        .filter_map(|(_, h)| h.summary(cutoff).map(|s| (h, s)))
        .collect();
    if calibration.len() < 20 {
        return Err(format!(
            "{} customers purchased before the cutoff; at least 20 are needed",
            calibration.len()
        ));
    }
    let summaries: Vec<PurchaseSummary> = calibration.iter().map(|(_, s)| *s).collect();
    let fit = LifetimeValueModel::fit(
        &summaries,
        &BgNbdFitConfig::STANDARD,
        &GammaGammaFitConfig::STANDARD,
    )
    .map_err(|e| e.to_string())?;
    let model = fit.model();
    let holdout_weeks = (as_of - cutoff) as f64 / (7.0 * DAY_MS as f64);
    let weeks = Weeks::new(holdout_weeks).map_err(|e| e.to_string())?;
    let cutoff_day = Day::containing(TimestampMs(cutoff));
    let end_day = Day::containing(TimestampMs(as_of));
    // Per customer: predicted purchases and spend; actual purchase days and spend after.
    let mut rows: Vec<(f64, f64, u64, f64)> = calibration
        .iter()
        .map(|(history, summary)| {
            let value = model.lifetime_value(summary, weeks);
            let mut days: BTreeMap<Day, f64> = BTreeMap::new();
            for p in &history.purchases {
                let day = Day::containing(p.at);
                if day > cutoff_day && day <= end_day {
                    *days.entry(day).or_default() += p.value;
                }
            }
            (
                value.expected_purchases,
                value.predicted_value,
                days.len() as u64,
                days.values().sum::<f64>(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut deciles = Vec::new();
    for d in 0..10usize {
        let part = &rows[d * rows.len() / 10..(d + 1) * rows.len() / 10];
        deciles.push(LifetimeDecile {
            decile: d as u8 + 1,
            customers: part.len() as u64,
            predicted_purchases: part.iter().map(|r| r.0).sum(),
            actual_purchases: part.iter().map(|r| r.2).sum(),
            predicted_spend: part.iter().map(|r| r.1).sum(),
            actual_spend: part.iter().map(|r| r.3).sum(),
        });
    }
    let everything: Vec<PurchaseSummary> = histories
        .iter()
        .filter_map(|(_, h)| h.summary(as_of))
        .collect();
    let refit = LifetimeValueModel::fit(
        &everything,
        &BgNbdFitConfig::STANDARD,
        &GammaGammaFitConfig::STANDARD,
    )
    .map_err(|e| e.to_string())?;
    let report = LifetimeValueReport {
        calibration: fit,
        customers: rows.len() as u64,
        holdout_weeks,
        predicted_purchases: rows.iter().map(|r| r.0).sum(),
        actual_purchases: rows.iter().map(|r| r.2).sum(),
        predicted_spend: rows.iter().map(|r| r.1).sum(),
        actual_spend: rows.iter().map(|r| r.3).sum(),
        deciles,
        refit,
    };
    Ok((refit.model(), report))
}

fn train_churn(
    histories: &[(ProfileId, History)],
    horizon_days: u32,
    cutoff: i64,
) -> std::result::Result<(ChurnModel, ChurnReport), String> {
    let cutoff_day = Day::containing(TimestampMs(cutoff));
    let examples: Vec<(ProfileId, ChurnExample)> = histories
        .iter()
        .filter(|(_, h)| {
            h.purchases
                .iter()
                .any(|p| Day::containing(p.at) <= cutoff_day)
        })
        .map(|(id, h)| {
            (
                *id,
                ChurnExample {
                    features: h.features(cutoff),
                    churned: models::churn::no_purchase_within(
                        &h.purchases,
                        cutoff_day,
                        horizon_days,
                    ),
                },
            )
        })
        .collect();
    if examples.len() < 40 {
        return Err(format!(
            "{} customers purchased before the cutoff; at least 40 are needed",
            examples.len()
        ));
    }
    // Train on half the customers, measure on the other half (by profile id).
    let (train, holdout): (Vec<_>, Vec<_>) = examples.iter().partition(|(id, _)| id.0 % 2 == 0);
    let train: Vec<ChurnExample> = train.into_iter().map(|(_, e)| e).collect();
    let holdout: Vec<ChurnExample> = holdout.into_iter().map(|(_, e)| e).collect();
    let config = ChurnTrainingConfig::standard(horizon_days);
    let measured = ChurnModel::train(&train, &config).map_err(|e| e.to_string())?;
    let evaluation = measured.evaluate(&holdout).map_err(|e| e.to_string())?;
    let all: Vec<ChurnExample> = examples.iter().map(|(_, e)| *e).collect();
    let model = ChurnModel::train(&all, &config).map_err(|e| e.to_string())?;
    let used = evaluation.beats_recency_baseline;
    let note = (!used).then(|| {
        format!(
            "the model's holdout AUC {:.3} does not beat recency alone ({:.3}); its scores are not written",
            evaluation.auc, evaluation.recency_baseline_auc
        )
    });
    Ok((
        model,
        ChurnReport {
            evaluation,
            training_customers: all.len() as u64,
            used,
            note,
        },
    ))
}

/// A profile's scores, as kept beside its computed attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileScores {
    pub version: String,
    pub scored_ms: i64,
    /// The `lifetimeValue` and `churnPropensity` objects shown on the profile, as one JSON
    /// object's text (the store's encoding does not carry JSON values).
    pub values: String,
}

impl ProfileScores {
    /// The objects to show, by name.
    pub fn values(&self) -> serde_json::Map<String, Value> {
        serde_json::from_str(&self.values).unwrap_or_default()
    }
}

/// Scores one history with the sandbox's models at `now_ms`.
pub fn score(models: &TrainedModels, history: &History, now_ms: i64) -> ProfileScores {
    let mut values = BTreeMap::new();
    let scored_at = crate::time::format_rfc3339_ms(now_ms, true);
    if let (Some(model), Some(summary)) = (&models.lifetime, history.summary(now_ms)) {
        let horizon = Weeks::new(models.settings.lifetime_horizon_weeks).unwrap_or(Weeks::YEAR);
        let value = model.lifetime_value(&summary, horizon);
        values.insert(
            "lifetimeValue".to_owned(),
            json!({
                "value": round2(value.predicted_value),
                "historicalValue": round2(value.historical_value),
                "expectedPurchases": round4(value.expected_purchases),
                "expectedSpendPerOrder": round2(value.expected_spend_per_order),
                "probabilityAlive": round4(value.probability_alive),
                "horizonWeeks": models.settings.lifetime_horizon_weeks,
                "modelVersion": models.version,
                "scoredAt": scored_at,
            }),
        );
    }
    let usable = models.churn_report.as_ref().is_some_and(|r| r.used);
    if let (Some(model), true, false) = (&models.churn, usable, history.purchases.is_empty()) {
        let features = history.features(now_ms);
        let scored = model.score(&features, REASONS);
        values.insert(
            "churnPropensity".to_owned(),
            json!({
                "value": round4(scored.probability_of_no_purchase),
                "horizonDays": scored.horizon_days,
                "reasons": scored.reasons.iter().map(|r| json!({"feature": r.feature, "direction": r.direction, "text": r.phrase})).collect::<Vec<_>>(),
                "modelVersion": models.version,
                "scoredAt": scored_at,
            }),
        );
    }
    ProfileScores {
        version: models.version.clone(),
        scored_ms: now_ms,
        values: serde_json::to_string(&values).unwrap_or_default(),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The schema fields of the scores, for the profile union schema.
pub fn schema_fields() -> Vec<(&'static str, xdm::Field)> {
    let number = || {
        xdm::Field::new(xdm::FieldType::Number {
            minimum: None,
            maximum: None,
        })
    };
    let text = || xdm::Field::new(xdm::FieldType::String(Default::default()));
    let lifetime = xdm::ObjectField::new()
        .with("value", number())
        .with("historicalValue", number())
        .with("expectedPurchases", number())
        .with("expectedSpendPerOrder", number())
        .with("probabilityAlive", number())
        .with("horizonWeeks", number())
        .with("modelVersion", text())
        .with("scoredAt", text());
    let churn = xdm::ObjectField::new()
        .with("value", number())
        .with("horizonDays", number())
        .with("modelVersion", text())
        .with("scoredAt", text());
    let mut lifetime_field = xdm::Field::new(xdm::FieldType::Object(lifetime));
    lifetime_field.title = Some("Predicted lifetime value".into());
    let mut churn_field = xdm::Field::new(xdm::FieldType::Object(churn));
    churn_field.title = Some("Churn propensity".into());
    vec![
        ("lifetimeValue", lifetime_field),
        ("churnPropensity", churn_field),
    ]
}
