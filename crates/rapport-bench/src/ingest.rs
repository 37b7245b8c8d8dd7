//! Streaming ingestion measured on its own (1 and 16 clients, each phase with the writer's own
//! account of where its time went, from `/metrics`), and lookups measured while events stream
//! in at a fixed rate.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::load::{self, connect, event_entity_dated, Dating, Setup};
use crate::measure::{self, Request, Row};
use crate::Args;

/// The writer's counters (`rapport_writer_*` and `rapport_commits_total` on `/metrics`).
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterCounters {
    commits: f64,
    writes: f64,
    apply_seconds: f64,
    commit_seconds: f64,
}

impl WriterCounters {
    pub async fn read(address: &str) -> anyhow::Result<WriterCounters> {
        let mut connection = connect(address, None).await?;
        let (status, body) = connection.get("/metrics").await?;
        anyhow::ensure!(status == 200, "/metrics answered {status}");
        let text = String::from_utf8_lossy(&body);
        let values: HashMap<&str, f64> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (name, value) = line.split_once(' ')?;
                Some((name, value.trim().parse().ok()?))
            })
            .collect();
        let get = |name: &str| values.get(name).copied().unwrap_or(0.0);
        Ok(WriterCounters {
            commits: get("rapport_commits_total"),
            writes: get("rapport_writer_writes_total"),
            apply_seconds: get("rapport_writer_apply_seconds_total"),
            commit_seconds: get("rapport_writer_commit_seconds_total"),
        })
    }

    /// What happened between `self` (earlier) and `later`, over `seconds` of wall time.
    pub fn until(&self, later: &WriterCounters, seconds: f64) -> WriterShare {
        let writes = (later.writes - self.writes).max(1.0);
        let apply = later.apply_seconds - self.apply_seconds;
        let commit = later.commit_seconds - self.commit_seconds;
        WriterShare {
            writes_per_commit: writes / (later.commits - self.commits).max(1.0),
            apply_us_per_write: apply / writes * 1e6,
            commit_us_per_write: commit / writes * 1e6,
            busy: (apply + commit) / seconds.max(f64::EPSILON),
        }
    }
}

/// Where the writer's time went during one phase.
#[derive(Debug, Clone, Copy)]
pub struct WriterShare {
    pub writes_per_commit: f64,
    /// Applying writes inside transactions, per write.
    pub apply_us_per_write: f64,
    /// Committing (writing and syncing pages), per write.
    pub commit_us_per_write: f64,
    /// Share of the wall time the writer was applying or committing.
    pub busy: f64,
}

impl WriterShare {
    pub fn json(&self) -> Value {
        json!({"writes_per_commit": self.writes_per_commit, "apply_us_per_write": self.apply_us_per_write,
               "commit_us_per_write": self.commit_us_per_write, "writer_busy": self.busy})
    }

    /// Markdown cells: writes per commit, apply µs, commit µs, busy %.
    pub fn cells(&self) -> String {
        format!(
            "{:.0} | {:.1} | {:.1} | {:.0} %",
            self.writes_per_commit,
            self.apply_us_per_write,
            self.commit_us_per_write,
            self.busy * 100.0
        )
    }
}

/// Event numbers each phase gives its events (above the load's), so no phase re-sends an `_id`
/// another sent.
const STREAMING_BASE: usize = 1_000;
const UNDER_LOAD_BASE: usize = 2_000;

/// One streaming-ingestion phase.
pub struct Streamed {
    pub clients: usize,
    pub events: usize,
    pub seconds: f64,
    pub writer: WriterShare,
}

impl Streamed {
    pub fn json(&self) -> Value {
        json!({"clients": self.clients, "events": self.events, "seconds": self.seconds,
               "events_per_second": self.events as f64 / self.seconds, "writer": self.writer.json()})
    }
}

/// Streams `events` new events (one per profile in turn, dated now) with 1 and then 16
/// clients, into the store the load filled.
pub async fn streaming(
    args: &Args,
    address: &str,
    setup: &Setup,
    events: usize,
) -> anyhow::Result<Vec<Streamed>> {
    let profiles = args.profiles.max(1);
    let mut phases = Vec::new();
    for (phase, clients) in [1usize, 16].into_iter().enumerate() {
        let dataset = setup.event_dataset.clone();
        let base = STREAMING_BASE + phase * 100;
        let phase_args = Args {
            ingest_clients: clients,
            ..args.clone()
        };
        let before = WriterCounters::read(address).await?;
        let seconds = load::send_all(&phase_args, address, None, events, move |i| {
            load::envelope(
                &dataset,
                &event_entity_dated(i % profiles, base + i / profiles, Dating::Now),
            )
        })
        .await?;
        let after = WriterCounters::read(address).await?;
        phases.push(Streamed {
            clients,
            events,
            seconds,
            writer: before.until(&after, seconds),
        });
    }
    Ok(phases)
}

/// Lookups measured while events stream in at a fixed rate.
pub struct UnderIngestion {
    /// Events a second asked for, and achieved.
    pub events_rate: u64,
    pub events_achieved: f64,
    /// Each batch's acknowledgement, timed from its intended send time: p50, p99 µs.
    pub ack_p50: u64,
    pub ack_p99: u64,
    /// The floor and the lookup, 1 connection, measured while the events streamed.
    pub rows: Vec<Row>,
}

impl UnderIngestion {
    pub fn json(&self) -> Value {
        json!({"events_per_second_asked": self.events_rate, "events_per_second": self.events_achieved,
               "ack_p50_us": self.ack_p50, "ack_p99_us": self.ack_p99,
               "lookups": self.rows.iter().map(Row::json).collect::<Vec<_>>()})
    }
}

/// Events per streaming request while lookups are measured.
const UNDER_LOAD_BATCH: usize = 100;

/// Streams `rate` events a second (batches of 100, open loop over 4 connections) while the
/// floor and then the lookup are measured on one connection.
pub async fn lookups_under_ingestion(
    args: &Args,
    address: &str,
    setup: &Setup,
    rate: u64,
) -> anyhow::Result<UnderIngestion> {
    let profiles = args.profiles.max(1);
    let dataset = setup.event_dataset.clone();
    let batches_per_second = (rate / UNDER_LOAD_BATCH as u64).max(1);
    // Long enough to cover the warm-up and both measured runs.
    let ingest_seconds = 2 * args.seconds + 2;
    let make_batch = move |i: usize| {
        let messages = (0..UNDER_LOAD_BATCH).map(|k| {
            let n = i * UNDER_LOAD_BATCH + k;
            load::envelope(
                &dataset,
                &event_entity_dated(n % profiles, UNDER_LOAD_BASE + n / profiles, Dating::Now),
            )
        });
        Request::post(load::STREAMING_BATCH_PATH, load::streaming_batch(messages))
    };
    let ingest_address = address.to_owned();
    let ingestion = tokio::spawn(async move {
        measure::open_loop(
            &ingest_address,
            batches_per_second,
            4,
            ingest_seconds,
            make_batch,
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let lookup = move |i: usize| Request::Get(load::lookup_path(i % profiles));
    let rows = measure::beside_floor_at(address, 1, args.seconds, "lookup while ingesting", lookup)
        .await?;
    let ingested = ingestion.await??;
    Ok(UnderIngestion {
        events_rate: rate,
        events_achieved: ingested.achieved_per_second * UNDER_LOAD_BATCH as f64,
        ack_p50: ingested.histogram.value_at_quantile(0.5),
        ack_p99: ingested.histogram.value_at_quantile(0.99),
        rows,
    })
}

/// Events the first 1,000 profiles get on top of the load's, so an events page has more than
/// the 50 it asks for.
pub const EXTRA_EVENTS: usize = 40;

/// The last 50 events of a profile that has [`EXTRA_EVENTS`] more than the load gave it, and
/// batch lookups of 100 profiles by email in one POST, each beside the floor.
pub async fn events_and_batch_lookups(
    args: &Args,
    address: &str,
    setup: &Setup,
) -> anyhow::Result<Vec<Row>> {
    let busy = args.profiles.clamp(1, 1_000);
    let dataset = setup.event_dataset.clone();
    let base = args.events_per_profile;
    load::send_all(args, address, None, busy * EXTRA_EVENTS, move |i| {
        load::envelope(&dataset, &load::event_entity(i % busy, base + i / busy))
    })
    .await?;
    let mut rows = measure::beside_floor(address, args.seconds, "last 50 events", move |i| {
        Request::Get(load::events_path(i % busy, 50))
    })
    .await?;
    let profiles = args.profiles.max(1);
    rows.extend(
        measure::beside_floor(address, args.seconds, "batch of 100 profiles", move |i| {
            Request::post(
                "/data/core/ups/access/entities",
                load::batch_lookup_body(
                    (0..100).map(|k| (i.wrapping_mul(104_729) + k * 7_919) % profiles),
                ),
            )
        })
        .await?,
    );
    Ok(rows)
}
