//! The batch scenario: writes JSON Lines and CSV files of profile records and JSON Lines of
//! events, sends each through the batch API, and times each from completion to success.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use rapport::client::Connection;
use serde_json::{json, Value};

use crate::load::{crm_csv_row, crm_entity, event_entity, Setup, CRM_CSV_HEADER};
use crate::Args;

pub struct BatchRun {
    pub label: &'static str,
    pub records: usize,
    pub bytes: u64,
    pub seconds: f64,
}

impl BatchRun {
    pub fn json(&self) -> Value {
        json!({"label": self.label, "records": self.records, "bytes": self.bytes, "seconds": self.seconds, "records_per_second": self.records as f64 / self.seconds})
    }
}

fn write_lines(
    path: &Path,
    header: Option<&str>,
    rows: impl Iterator<Item = String>,
) -> anyhow::Result<u64> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    if let Some(header) = header {
        writeln!(file, "{header}")?;
    }
    for row in rows {
        writeln!(file, "{row}")?;
    }
    file.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Uploads `path` as one batch and returns the seconds from COMPLETE to success.
async fn run_one(address: &str, dataset: &str, format: Value, path: &Path) -> anyhow::Result<f64> {
    let mut connection = Connection::open(address).await?;
    let batch = connection
        .post_json(
            "/data/foundation/import/batches",
            &json!({"datasetId": dataset, "inputFormat": format}),
        )
        .await?;
    let id = batch["id"].as_str().context("batch id")?.to_owned();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("file name")?;
    let bytes = std::fs::read(path)?;
    let url = format!("/data/foundation/import/batches/{id}/datasets/{dataset}/files/{name}");
    let (status, body) = connection
        .send(
            hyper::Method::PUT,
            &url,
            &[("content-type", "application/octet-stream")],
            Some(bytes.into()),
        )
        .await?;
    anyhow::ensure!(
        status == 200,
        "upload answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let started = Instant::now();
    connection
        .post_json(
            &format!("/data/foundation/import/batches/{id}?action=COMPLETE"),
            &json!({}),
        )
        .await?;
    loop {
        let state = connection
            .get_json(&format!("/data/foundation/catalog/batches/{id}"))
            .await?;
        match state[&id]["status"].as_str() {
            Some("success") => return Ok(started.elapsed().as_secs_f64()),
            Some("failed" | "aborted") => {
                anyhow::bail!("batch {id} failed: {}", state[&id]["errors"])
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

pub async fn run(
    args: &Args,
    address: &str,
    setup: &Setup,
    dir: &Path,
) -> anyhow::Result<Vec<BatchRun>> {
    let n = args.profiles;
    let mut runs = Vec::new();
    let jsonl = dir.join("crm.jsonl");
    let bytes = write_lines(&jsonl, None, (0..n).map(crm_entity))?;
    let seconds = run_one(
        address,
        &setup.crm_dataset,
        json!({"format": "json"}),
        &jsonl,
    )
    .await?;
    runs.push(BatchRun {
        label: "profile records, JSON Lines",
        records: n,
        bytes,
        seconds,
    });

    let csv = dir.join("crm.csv");
    let bytes = write_lines(&csv, Some(CRM_CSV_HEADER), (n..2 * n).map(crm_csv_row))?;
    let seconds = run_one(address, &setup.crm_dataset, json!({"format": "csv"}), &csv).await?;
    runs.push(BatchRun {
        label: "profile records, CSV",
        records: n,
        bytes,
        seconds,
    });

    let events = n * args.events_per_profile;
    let per = args.events_per_profile.max(1);
    let path = dir.join("events.jsonl");
    let bytes = write_lines(
        &path,
        None,
        (0..events).map(|i| event_entity(i % n.max(1), i / n.max(1) % per + 1000)),
    )?;
    let seconds = run_one(
        address,
        &setup.event_dataset,
        json!({"format": "json"}),
        &path,
    )
    .await?;
    runs.push(BatchRun {
        label: "experience events, JSON Lines",
        records: events,
        bytes,
        seconds,
    });
    Ok(runs)
}
