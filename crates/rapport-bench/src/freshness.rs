//! Freshness: how soon an acknowledged write is visible. Each round streams a CRM record that
//! gives one customer a loyalty point count no earlier round used (and so puts the customer in
//! a streaming segment of the counts above any the load wrote), and, the moment the
//! acknowledgement arrives, looks the customer up by email on another connection; a lookup
//! that does not show the new count and the segment membership is stale.

use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::load::{connect, envelope, Setup};
use crate::Args;

/// Rounds in one run.
const ROUNDS: usize = 1000;

pub struct Freshness {
    pub rounds: usize,
    /// Lookups right after the acknowledgement that did not show the write.
    pub stale: usize,
    /// From sending the record to its acknowledgement.
    pub acknowledged: Histogram<u64>,
    /// From sending the record to a lookup showing it.
    pub visible: Histogram<u64>,
}

impl Freshness {
    pub fn markdown(&self) -> String {
        let q = |h: &Histogram<u64>, p: f64| h.value_at_quantile(p);
        format!(
            "| rounds | stale lookups | acknowledged p50 / p99 µs | visible p50 / p99 µs |\n|---|---|---|---|\n| {} | {} | {} / {} | {} / {} |",
            self.rounds,
            self.stale,
            q(&self.acknowledged, 0.5),
            q(&self.acknowledged, 0.99),
            q(&self.visible, 0.5),
            q(&self.visible, 0.99),
        )
    }

    pub fn json(&self) -> Value {
        json!({
            "rounds": self.rounds, "stale": self.stale,
            "acknowledged_p50_us": self.acknowledged.value_at_quantile(0.5),
            "acknowledged_p99_us": self.acknowledged.value_at_quantile(0.99),
            "visible_p50_us": self.visible.value_at_quantile(0.5),
            "visible_p99_us": self.visible.value_at_quantile(0.99),
        })
    }
}

/// The CRM record of `profile` as the load wrote it, but with `points` loyalty points: the
/// record replaces the loaded one, and the profile keeps every other attribute.
fn record(dataset: &str, profile: usize, points: u64) -> String {
    envelope(
        dataset,
        &crate::load::crm_entity_with_points(profile, points),
    )
}

/// Whether a lookup's answer shows `points` loyalty points and the profile in `segment`.
fn shows(body: &[u8], points: u64, segment: &str) -> bool {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    answer.as_object().is_some_and(|profiles| {
        profiles.values().any(|profile| {
            let entity = &profile["entity"];
            entity["loyalty"]["points"].as_f64() == Some(points as f64)
                && entity["segmentMembership"]["ups"][segment]["status"] == "realized"
        })
    })
}

pub async fn run(args: &Args, address: &str, setup: &Setup) -> anyhow::Result<Freshness> {
    let mut writer = connect(address, setup.sandbox.as_deref()).await?;
    let mut reader = connect(address, setup.sandbox.as_deref()).await?;
    let mut acknowledged = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut visible = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut stale = 0;
    let profiles = args.profiles.max(1);
    let segment = writer
        .post_json(
            "/data/core/ups/segment/definitions",
            &json!({"name": "freshness: points above a million", "schema": {"name": "_xdm.context.profile"},
                    "expression": {"type": "PQL", "format": "pql/text", "value": "loyalty.points >= 1000000"},
                    "evaluationInfo": {"continuous": {"enabled": true}}}),
        )
        .await?;
    let segment = segment["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the freshness segment has no id: {segment}"))?
        .to_owned();
    for round in 0..ROUNDS {
        let profile = round.wrapping_mul(7_919) % profiles;
        // A count no load and no earlier round wrote (the load's are below 5000).
        let points = 1_000_000 + round as u64;
        let message = record(&setup.crm_dataset, profile, points);
        let sent = Instant::now();
        writer
            .post_raw("/collection/freshness-inlet", message.into_bytes())
            .await?;
        acknowledged.record((sent.elapsed().as_micros() as u64).max(1))?;
        let path = crate::load::lookup_path(profile);
        let mut first = true;
        loop {
            let (status, body) = reader.get(&path).await?;
            anyhow::ensure!(status == 200, "GET {path} answered {status}");
            if shows(&body, points, &segment) {
                visible.record((sent.elapsed().as_micros() as u64).max(1))?;
                break;
            }
            if first {
                stale += 1;
                first = false;
            }
            anyhow::ensure!(
                sent.elapsed().as_secs() < 10,
                "round {round}: the write never became visible"
            );
        }
    }
    Ok(Freshness {
        rounds: ROUNDS,
        stale,
        acknowledged,
        visible,
    })
}
