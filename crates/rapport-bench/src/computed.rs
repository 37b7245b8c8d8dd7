//! The computed attributes scenario: loads the same profiles and events into two sandboxes
//! through the batch API, defines 25 attributes in one of them (sums, counts, maxima and most
//! recent values over purchases and page views, lookbacks from a day to all time) and waits for
//! their backfill, then streams rounds of new events into each sandbox in turn: the difference
//! of the per-event times of a pair of rounds is what keeping 25 attributes exact costs each
//! event, and alternating the rounds keeps the machine's drift out of it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::load::{connect, setup_in, Dating, Setup};
use crate::segments::{
    load_profiles_and_events, median, median_of, streaming_round, ScenarioReport,
};
use crate::Args;

/// The streaming rounds: events as they happen, then late ones.
const DATINGS: [Dating; 2] = [Dating::Now, Dating::History];

/// Pairs of rounds (one per sandbox) for each dating.
const PAIRS: usize = 5;

/// The sandbox holding the 25 attributes.
const WITH_ATTRIBUTES: &str = "computed";

/// The `i`th attribute: (name, expression, duration).
fn attribute(i: usize) -> (String, String, Value) {
    let durations = [
        json!({"unit": "ALL_TIME"}),
        json!({"count": 6, "unit": "MONTHS"}),
        json!({"count": 4, "unit": "WEEKS"}),
        json!({"count": 7, "unit": "DAYS"}),
        json!({"count": 24, "unit": "HOURS"}),
    ];
    let purchases = r#"xEvent[eventType = "commerce.purchases"]"#;
    let views = r#"xEvent[eventType = "web.webpagedetails.pageViews"]"#;
    let expression = match i % 5 {
        0 => format!("{purchases}.sum(commerce.order.priceTotal)"),
        1 => format!("{purchases}.count()"),
        2 => format!("{purchases}.max(commerce.order.priceTotal)"),
        3 => format!("{views}.count()"),
        _ => format!("{views}.mostRecent(web.webPageDetails.name)"),
    };
    (
        format!("attribute{i}"),
        expression,
        durations[(i / 5) % 5].clone(),
    )
}

pub async fn run(
    args: &Args,
    address: &str,
    setup: &Setup,
    dir: &Path,
) -> anyhow::Result<ScenarioReport> {
    let n = args.profiles;
    let per = args.events_per_profile.max(1);
    let with_setup = setup_in(address, Some(WITH_ATTRIBUTES)).await?;
    let load_seconds = load_profiles_and_events(args, address, setup, dir).await?
        + load_profiles_and_events(args, address, &with_setup, dir).await?;

    let mut connection = connect(address, Some(WITH_ATTRIBUTES)).await?;
    let backfill_started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..25 {
        let (name, expression, duration) = attribute(i);
        let reply = connection
            .post_json(
                "/data/core/ca/attributes",
                &json!({"name": name, "expression": {"type": "PQL", "format": "pql/text", "value": expression}, "duration": duration}),
            )
            .await?;
        ids.push(
            reply["id"]
                .as_str()
                .with_context(|| format!("attribute {i}: {reply}"))?
                .to_owned(),
        );
    }
    for id in &ids {
        loop {
            let reply = connection
                .get_json(&format!("/data/core/ca/attributes/{id}"))
                .await?;
            match reply["status"]["job"].as_str() {
                Some("ENABLED") => break,
                Some("FAILED") => anyhow::bail!("backfill failed: {reply}"),
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
    let backfill_seconds = backfill_started.elapsed().as_secs_f64();

    let mut markdown = format!(
        "\n#### Computed attributes ({n} profiles, {per} events each, in each of two sandboxes; loaded in {load_seconds:.1} s)\n\n\
         backfill of 25 new attributes over every profile: {backfill_seconds:.1} s\n\n\
         | events | 0 attributes | 25 attributes | cost of 25 attributes (median of {PAIRS} pairs) |\n|---|---|---|---|\n"
    );
    let mut report = serde_json::Map::new();
    // Both sandboxes hold the same profiles, so their events are numbered alike.
    let (mut next_plain, mut next_with) = (per, per);
    for dating in DATINGS {
        let (mut plain, mut with_25, mut costs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..PAIRS {
            let a = streaming_round(args, address, setup, &mut next_plain, dating).await?;
            let b = streaming_round(args, address, &with_setup, &mut next_with, dating).await?;
            costs.push(b.micros_per_event() - a.micros_per_event());
            plain.push(a);
            with_25.push(b);
        }
        let (plain, with_25, cost) = (
            median_of(&plain),
            median_of(&with_25),
            median(costs.clone()),
        );
        let label = match dating {
            Dating::Now => "dated now (streamed as they happen)",
            Dating::History => "dated January to October (late and out of order)",
        };
        markdown.push_str(&format!(
            "| {label} | {:.0} events/s ({:.1} µs/event{}) | {:.0} events/s ({:.1} µs/event{}) | **+{cost:.1} µs** |\n",
            plain.events_per_second,
            plain.micros_per_event(),
            plain.written(),
            with_25.events_per_second,
            with_25.micros_per_event(),
            with_25.written(),
        ));
        report.insert(
            format!("{dating:?}").to_lowercase(),
            json!({"0": plain.json(), "25": with_25.json(), "extra_micros_per_event": cost, "pair_costs": costs}),
        );
    }
    Ok(ScenarioReport {
        json: json!({
            "profiles": n, "events_per_profile": per, "load_seconds": load_seconds,
            "backfill_seconds": backfill_seconds,
            "streaming": report,
        }),
        markdown,
    })
}

/// The models scenario: loads profiles and events, then trains both built-in models through
/// the API and waits until every profile is scored; reports the run's phases.
pub async fn run_models(
    args: &Args,
    address: &str,
    setup: &Setup,
    dir: &Path,
) -> anyhow::Result<ScenarioReport> {
    let n = args.profiles;
    let per = args.events_per_profile.max(1);
    load_profiles_and_events(args, address, setup, dir).await?;
    let mut connection = crate::load::connect(address, None).await?;
    let started = Instant::now();
    let run = connection
        .post_json("/data/rapport/models/train", &json!({}))
        .await?;
    let id = run["id"].as_str().context("no run id")?.to_owned();
    let mut phases: Vec<(String, f64)> = Vec::new();
    let run = loop {
        let run = connection
            .get_json(&format!("/data/rapport/models/train/{id}"))
            .await?;
        let phase = run["phase"].as_str().unwrap_or_default().to_owned();
        if phases.last().is_none_or(|(p, _)| *p != phase) {
            phases.push((phase, started.elapsed().as_secs_f64()));
        }
        match run["status"].as_str() {
            Some("SUCCEEDED") => break run,
            Some("FAILED") => anyhow::bail!("training failed: {run}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let total = started.elapsed().as_secs_f64();
    let models = connection.get_json("/data/rapport/models").await?;
    let auc = models["churn"]["report"]["evaluation"]["auc"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let baseline = models["churn"]["report"]["evaluation"]["recencyBaselineAuc"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let mut markdown = format!(
        "\n#### Models ({n} profiles, {per} events each)\n\n| phase | started at (s) |\n|---|---|\n"
    );
    for (phase, at) in &phases {
        markdown.push_str(&format!("| {phase} | {at:.1} |\n"));
    }
    let quality = if auc.is_finite() {
        format!("churn holdout AUC {auc:.3}, recency alone {baseline:.3}")
    } else {
        // The synthetic events all predate the churn cutoff: every customer "churned".
        "no churn model to judge: every synthetic customer's events predate the churn cutoff"
            .to_owned()
    };
    markdown.push_str(&format!(
        "\ntrain and score: **{total:.1} s** ({} profiles read); {quality}\n",
        run["profilesRead"]
    ));
    Ok(ScenarioReport {
        json: json!({"profiles": n, "events_per_profile": per, "seconds": total, "phases": phases, "auc": auc, "recency_auc": baseline}),
        markdown,
    })
}
