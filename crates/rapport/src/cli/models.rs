//! `rapport models train`: trains the built-in models (lifetime value, churn propensity) on a
//! running server, follows the run, and prints the models' quality. Fails when the run fails.

use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};

use crate::client::connect_command;

/// Options of `rapport models`.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelsOptions {
    #[command(subcommand)]
    pub action: ModelsAction,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ModelsAction {
    /// Fits both models on a time split, reports their quality, and scores every profile
    Train(TrainOptions),
}

#[derive(Debug, Clone, clap::Args)]
pub struct TrainOptions {
    /// The server's URL
    #[arg(long, env = "RAPPORT_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The sandbox
    #[arg(long, env = "RAPPORT_SANDBOX", default_value = "prod")]
    pub sandbox: String,
    /// The API key (or master key) to send as `Authorization: Bearer`
    #[arg(long, env = "RAPPORT_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Churn: no purchase within this many days [default: 90]
    #[arg(long)]
    pub churn_horizon_days: Option<u32>,
    /// Lifetime value: predicted over this many weeks [default: 52]
    #[arg(long)]
    pub lifetime_horizon_weeks: Option<f64>,
    /// The end of the calibration period, RFC 3339 [default: the scoring date minus the churn horizon]
    #[arg(long)]
    pub cutoff: Option<String>,
    /// The scoring date, RFC 3339 [default: now]
    #[arg(long)]
    pub as_of: Option<String>,
}

fn epoch_ms(text: &str, flag: &str) -> anyhow::Result<i64> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("{flag}: {text:?} is not an RFC 3339 date-time"))?;
    Ok((parsed.unix_timestamp_nanos() / 1_000_000) as i64)
}

pub async fn run(options: ModelsOptions) -> anyhow::Result<i32> {
    let ModelsAction::Train(train) = options.action;
    let mut body = json!({});
    if let Some(days) = train.churn_horizon_days {
        body["churnHorizonDays"] = json!(days);
    }
    if let Some(weeks) = train.lifetime_horizon_weeks {
        body["lifetimeHorizonWeeks"] = json!(weeks);
    }
    if let Some(cutoff) = &train.cutoff {
        body["cutoffMs"] = json!(epoch_ms(cutoff, "--cutoff")?);
    }
    if let Some(as_of) = &train.as_of {
        body["asOfMs"] = json!(epoch_ms(as_of, "--as-of")?);
    }
    let mut connection =
        connect_command(&train.server, Some(&train.sandbox), train.key.as_deref()).await?;
    let run = connection
        .post_json("/data/rapport/models/train", &body)
        .await?;
    let Some(id) = run["id"].as_str().map(str::to_owned) else {
        eprintln!("the server refused the training: {run}");
        return Ok(2);
    };
    let mut last_phase = String::new();
    let run = loop {
        let run = connection
            .get_json(&format!("/data/rapport/models/train/{id}"))
            .await?;
        let phase = run["phase"].as_str().unwrap_or_default().to_owned();
        if phase != last_phase {
            if !matches!(phase.as_str(), "QUEUED" | "DONE") {
                eprintln!("{}…", phase.to_lowercase());
            }
            last_phase = phase;
        }
        match run["status"].as_str() {
            Some("SUCCEEDED") | Some("FAILED") => break run,
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    if run["status"] == "FAILED" {
        eprintln!("training failed: {}", run["error"]);
        return Ok(1);
    }
    let models = connection.get_json("/data/rapport/models").await?;
    print!("{}", summary(&run, &models));
    Ok(0)
}

/// What the models are worth, in a few lines.
fn summary(run: &Value, models: &Value) -> String {
    let mut out = format!(
        "models {} trained on {} profiles (cutoff {}, scored as of {})\n",
        models["version"].as_str().unwrap_or("?"),
        run["profilesRead"],
        models["cutoff"].as_str().unwrap_or("?"),
        models["asOf"].as_str().unwrap_or("?"),
    );
    let lifetime = &models["lifetimeValue"]["report"];
    if lifetime.is_object() {
        out.push_str(&format!(
            "lifetime value: holdout purchases predicted {:.0}, actual {}; spend predicted {:.0}, actual {:.0}\n",
            lifetime["predictedPurchases"].as_f64().unwrap_or(f64::NAN),
            lifetime["actualPurchases"],
            lifetime["predictedSpend"].as_f64().unwrap_or(f64::NAN),
            lifetime["actualSpend"].as_f64().unwrap_or(f64::NAN),
        ));
    }
    let churn = &models["churn"]["report"];
    if churn.is_object() {
        let evaluation = &churn["evaluation"];
        out.push_str(&format!(
            "churn: holdout AUC {:.3} (recency alone {:.3}), base rate {:.3}{}\n",
            evaluation["auc"].as_f64().unwrap_or(f64::NAN),
            evaluation["recencyBaselineAuc"]
                .as_f64()
                .unwrap_or(f64::NAN),
            evaluation["baseRate"].as_f64().unwrap_or(f64::NAN),
            if churn["used"] == true {
                ""
            } else {
                " — NOT USED: it does not beat recency alone"
            },
        ));
    }
    for problem in models["problems"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "not fitted: {}\n",
            problem.as_str().unwrap_or_default()
        ));
    }
    out
}
