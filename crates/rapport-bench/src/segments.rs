//! The segments scenario: loads profiles and events through the batch API, then measures
//! (1) a segment job evaluating 50 definitions (the demo's and generated ones) over every
//! profile, and (2) what streaming evaluation adds to each ingested event with 0, 50 and 500
//! definitions, from the median streaming throughput of several rounds at each count.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use rapport::client::Connection;
use rapport::demo::segments::DEMO_SEGMENTS;
use serde_json::{json, Value};

use crate::batch::{run_one, write_lines};
use crate::load::{
    crm_entity, envelope, event_entity, event_entity_dated, send_all, Dating, Setup,
};
use crate::Args;

/// Events per streaming round, and rounds per definition count.
const ROUND_EVENTS: usize = 20_000;
const ROUNDS: usize = 3;

/// The `i`th generated definition: variations on the shapes real definitions take.
fn generated(i: usize) -> String {
    let tiers = ["bronze", "silver", "gold"];
    match i % 10 {
        0 => format!(
            r#"loyalty.tier = "{}" and loyalty.points > {}"#,
            tiers[i % 3],
            i * 37 % 5000
        ),
        1 => format!(
            r#"xEvent[eventType = "commerce.purchases"].count() >= {}"#,
            1 + i % 4
        ),
        2 => format!(
            r#"xEvent[eventType = "commerce.purchases" and timestamp occurs <= {} days before now].sum(commerce.order.priceTotal) > {}"#,
            30 + i,
            50 + i
        ),
        3 => format!(
            r#"xEvent[productListItems[SKU = "SKU-{}"]].count() > 0"#,
            i % 40
        ),
        4 => format!(
            r#"xEvent[eventType = "web.webpagedetails.pageViews" and web.webPageDetails.name = "page {}"].count() > 0"#,
            i % 30
        ),
        5 => format!(
            r#"homeAddress.city = "Seattle" and loyalty.points < {}"#,
            i * 50
        ),
        6 => format!("person.birthDate.getMonth() = {}", 1 + i % 12),
        7 => format!(
            r#"exists E from xEvent where (E.eventType = "commerce.purchases" and E.commerce.order.priceTotal > {})"#,
            60 + i % 20
        ),
        8 => format!(
            "not (xEvent[timestamp occurs <= {} days before now].count() > 0)",
            10 + i
        ),
        _ => format!(
            r#"xEvent[eventType = "commerce.purchases"].max(commerce.order.priceTotal) > {} and loyalty.tier != "bronze""#,
            55 + i % 10
        ),
    }
}

/// Defines segments until the sandbox has `target`: the demo's first, then generated ones.
async fn define_up_to(
    connection: &mut Connection,
    have: &mut usize,
    ids: &mut Vec<(String, String)>,
    target: usize,
) -> anyhow::Result<()> {
    while *have < target {
        let (name, pql) = match DEMO_SEGMENTS.get(*have) {
            Some((name, _, pql)) => {
                let mut text = (*pql).to_owned();
                for (other, id) in ids.iter() {
                    text = text.replace(&format!("{{{other}}}"), id);
                }
                ((*name).to_owned(), text)
            }
            None => (format!("generated {}", *have), generated(*have)),
        };
        let reply = connection
            .post_json(
                "/data/core/ups/segment/definitions",
                &json!({"name": name, "schema": {"name": "_xdm.context.profile"}, "expression": {"type": "PQL", "format": "pql/text", "value": pql}}),
            )
            .await?;
        let id = reply["id"]
            .as_str()
            .with_context(|| format!("definition {name}: {reply}"))?
            .to_owned();
        ids.push((name, id));
        *have += 1;
    }
    Ok(())
}

/// Waits until every segment job has finished; returns the newest job.
async fn settle(connection: &mut Connection) -> anyhow::Result<Value> {
    loop {
        let list = connection
            .get_json("/data/core/ups/segment/jobs?limit=1000")
            .await?;
        let jobs = list["children"].as_array().cloned().unwrap_or_default();
        if jobs.iter().all(|j| {
            matches!(
                j["status"].as_str(),
                Some("SUCCEEDED" | "FAILED" | "CANCELLED")
            )
        }) {
            if let Some(failed) = jobs.iter().find(|j| j["status"] == "FAILED") {
                anyhow::bail!("a segment job failed: {failed}");
            }
            return Ok(jobs.first().cloned().unwrap_or(Value::Null));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What streaming rounds measured: the medians over `ROUNDS` rounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Streaming {
    pub events_per_second: f64,
    /// Bytes the server handed to write calls per event (`wchar` of `/proc/<pid>/io`: the
    /// store's pages and the replies), when the system tells.
    pub bytes_per_event: Option<f64>,
}

impl Streaming {
    pub fn micros_per_event(self) -> f64 {
        1e6 / self.events_per_second
    }

    /// `", 2.1 KB written"` when known.
    pub fn written(self) -> String {
        self.bytes_per_event
            .map(|b| format!(", {:.1} KB written", b / 1024.0))
            .unwrap_or_default()
    }

    pub fn json(self) -> Value {
        json!({"events_per_second": self.events_per_second, "micros_per_event": self.micros_per_event(), "bytes_written_per_event": self.bytes_per_event})
    }
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The medians of several [`streaming_round`]s.
pub(crate) fn median_of(rounds: &[Streaming]) -> Streaming {
    let written: Vec<f64> = rounds.iter().filter_map(|r| r.bytes_per_event).collect();
    Streaming {
        events_per_second: median(rounds.iter().map(|r| r.events_per_second).collect()),
        bytes_per_event: (!written.is_empty()).then(|| median(written)),
    }
}

/// `ROUNDS` streaming rounds of new events for existing profiles, dated as `dating` says.
pub(crate) async fn streaming_rate(
    args: &Args,
    address: &str,
    setup: &Setup,
    next_event: &mut usize,
    dating: Dating,
) -> anyhow::Result<Streaming> {
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        rounds.push(streaming_round(args, address, setup, next_event, dating).await?);
    }
    Ok(median_of(&rounds))
}

/// One round of `ROUND_EVENTS` new events for existing profiles, dated as `dating` says.
pub(crate) async fn streaming_round(
    args: &Args,
    address: &str,
    setup: &Setup,
    next_event: &mut usize,
    dating: Dating,
) -> anyhow::Result<Streaming> {
    let dataset = setup.event_dataset.clone();
    let profiles = args.profiles.max(1);
    let first = *next_event;
    let before = crate::server_write_bytes();
    let seconds = send_all(
        args,
        address,
        setup.sandbox.as_deref(),
        ROUND_EVENTS,
        move |i| {
            envelope(
                &dataset,
                &event_entity_dated(i % profiles, first + i / profiles, dating),
            )
        },
    )
    .await?;
    let after = crate::server_write_bytes();
    *next_event += ROUND_EVENTS.div_ceil(profiles) + 1;
    Ok(Streaming {
        events_per_second: ROUND_EVENTS as f64 / seconds,
        bytes_per_event: before
            .zip(after)
            .map(|(before, after)| after.saturating_sub(before) as f64 / ROUND_EVENTS as f64),
    })
}

/// Records per uploaded file: each stays well under the 256 MB of a single upload.
const FILE_RECORDS: usize = 400_000;

/// Sends `total` JSON Lines records made by `make` as batches of at most `FILE_RECORDS`.
async fn upload_in_files(
    address: &str,
    sandbox: Option<&str>,
    dataset: &str,
    dir: &Path,
    name: &str,
    total: usize,
    make: impl Fn(usize) -> String,
) -> anyhow::Result<()> {
    for (part, start) in (0..total).step_by(FILE_RECORDS).enumerate() {
        let path = dir.join(format!("{name}-{part}.jsonl"));
        let end = (start + FILE_RECORDS).min(total);
        write_lines(&path, None, (start..end).map(&make))?;
        run_one(address, sandbox, dataset, json!({"format": "json"}), &path).await?;
        std::fs::remove_file(&path)?;
    }
    Ok(())
}

/// Loads `args.profiles` CRM records and `events_per_profile` events for each through the
/// batch API; returns the seconds it took.
pub(crate) async fn load_profiles_and_events(
    args: &Args,
    address: &str,
    setup: &Setup,
    dir: &Path,
) -> anyhow::Result<f64> {
    let n = args.profiles;
    let per = args.events_per_profile.max(1);
    let started = Instant::now();
    let sandbox = setup.sandbox.as_deref();
    upload_in_files(
        address,
        sandbox,
        &setup.crm_dataset,
        dir,
        "crm",
        n,
        crm_entity,
    )
    .await?;
    upload_in_files(
        address,
        sandbox,
        &setup.event_dataset,
        dir,
        "events",
        n * per,
        |i| event_entity(i % n, i / n),
    )
    .await?;
    Ok(started.elapsed().as_secs_f64())
}

/// What a scenario measured: a JSON summary and a Markdown section for BENCHMARKS.md.
pub struct ScenarioReport {
    pub json: Value,
    pub markdown: String,
}

pub async fn run(
    args: &Args,
    address: &str,
    setup: &Setup,
    dir: &Path,
) -> anyhow::Result<ScenarioReport> {
    let n = args.profiles;
    let per = args.events_per_profile.max(1);
    let load_seconds = load_profiles_and_events(args, address, setup, dir).await?;
    let mut next_event = per;

    let mut connection = crate::load::connect(address, None).await?;
    let base_rate = streaming_rate(args, address, setup, &mut next_event, Dating::History)
        .await?
        .events_per_second;

    let (mut have, mut ids) = (0usize, Vec::new());
    define_up_to(&mut connection, &mut have, &mut ids, 50).await?;
    let first = settle(&mut connection).await?;
    let first_seconds = first["metrics"]["totalTime"]["totalTimeInMs"]
        .as_f64()
        .unwrap_or(f64::NAN)
        / 1000.0;

    // A job over everything, with nothing left to change: the pure batch evaluation.
    let job = connection
        .post_json("/data/core/ups/segment/jobs", &json!([{"segmentId": "*"}]))
        .await?;
    anyhow::ensure!(job["id"].is_string(), "job refused: {job}");
    let job = settle(&mut connection).await?;
    let job_seconds = job["metrics"]["totalTime"]["totalTimeInMs"]
        .as_f64()
        .unwrap_or(f64::NAN)
        / 1000.0;
    let evaluated = job["metrics"]["totalProfiles"].as_u64().unwrap_or(0);
    let qualified: u64 = job["metrics"]["segmentedProfileCounter"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);

    let rate_50 = streaming_rate(args, address, setup, &mut next_event, Dating::History)
        .await?
        .events_per_second;
    let rate_500 = if args.max_definitions >= 500 {
        define_up_to(&mut connection, &mut have, &mut ids, 500).await?;
        settle(&mut connection).await?;
        streaming_rate(args, address, setup, &mut next_event, Dating::History)
            .await?
            .events_per_second
    } else {
        f64::NAN
    };

    let micros = |rate: f64| 1e6 / rate;
    let mut markdown = format!(
        "\n#### Segments ({n} profiles, {per} events each; loaded in {load_seconds:.1} s)\n\n\
         | measure | value |\n|---|---|\n\
         | first evaluation of 50 new definitions (job, incl. writing memberships) | {first_seconds:.1} s |\n\
         | segment job, 50 definitions, {evaluated} profiles | {job_seconds:.1} s ({:.1} µs per profile) |\n\
         | memberships found by that job | {qualified} |\n\
         | streaming, 0 definitions | {base_rate:.0} events/s ({:.1} µs/event) |\n\
         | streaming, 50 definitions | {rate_50:.0} events/s ({:.1} µs/event, +{:.1} µs) |",
        job_seconds * 1e6 / evaluated.max(1) as f64,
        micros(base_rate),
        micros(rate_50),
        micros(rate_50) - micros(base_rate),
    );
    // The 500-definition phase runs only when --max-definitions asks for it.
    if rate_500.is_finite() {
        markdown.push_str(&format!(
            "\n| streaming, 500 definitions | {rate_500:.0} events/s ({:.1} µs/event, +{:.1} µs) |",
            micros(rate_500),
            micros(rate_500) - micros(base_rate),
        ));
    }
    Ok(ScenarioReport {
        json: json!({
            "profiles": n, "events_per_profile": per, "load_seconds": load_seconds,
            "first_evaluation_seconds": first_seconds,
            "job_seconds": job_seconds, "job_profiles": evaluated, "job_memberships": qualified,
            "streaming_events_per_second": {"0": base_rate, "50": rate_50, "500": rate_500},
            "streaming_extra_micros_per_event": {"50": micros(rate_50) - micros(base_rate), "500": micros(rate_500) - micros(base_rate)},
        }),
        markdown,
    })
}
