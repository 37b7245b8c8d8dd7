//! `rapport ingest`: sends files through the batch API of a running server, shows progress,
//! and ends with a summary and where the error report is. Fails when the batch fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hyper::Method;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

use crate::client::{connect_command, Connection};

/// Files at most this large go up in one request; larger ones in chunks of this size.
const CHUNK_BYTES: u64 = 32 << 20;

/// Options of `rapport ingest`.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestOptions {
    /// The dataset, by id or by name
    #[arg(long)]
    pub dataset: String,
    /// The server's URL
    #[arg(long, env = "RAPPORT_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The sandbox
    #[arg(long, env = "RAPPORT_SANDBOX", default_value = "prod")]
    pub sandbox: String,
    /// The API key (or master key) to send as `Authorization: Bearer`
    #[arg(long, env = "RAPPORT_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// json (JSON Lines), multiline-json, csv or parquet [default: from the first file's extension]
    #[arg(long)]
    pub format: Option<String>,
    /// Ingest the good rows when at most this percent of rows is bad [default: no bad row allowed]
    #[arg(long)]
    pub partial_percent: Option<f64>,
    /// The files (all of one format); gzip or zstd compressed files are fine
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// The batch input format for the API, from the option or the file name.
fn input_format(options: &IngestOptions) -> anyhow::Result<Value> {
    let named = match &options.format {
        Some(format) => format.to_ascii_lowercase(),
        None => {
            let name = options.files[0]
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            let name = name
                .trim_end_matches(".gz")
                .trim_end_matches(".zst")
                .trim_end_matches(".zstd");
            match name.rsplit('.').next().unwrap_or("") {
                "jsonl" | "ndjson" => "json".to_owned(),
                "json" => "multiline-json".to_owned(),
                "csv" => "csv".to_owned(),
                "parquet" => "parquet".to_owned(),
                other => anyhow::bail!("cannot tell the format of {} from \".{other}\"; give --format json, multiline-json, csv or parquet", options.files[0].display()),
            }
        }
    };
    Ok(match named.as_str() {
        "json" | "jsonl" | "json-lines" => json!({"format": "json"}),
        "multiline-json" => json!({"format": "json", "isMultiLineJson": true}),
        "csv" => json!({"format": "csv"}),
        "parquet" => json!({"format": "parquet"}),
        other => anyhow::bail!("--format: \"{other}\" is not json, multiline-json, csv or parquet"),
    })
}

/// Runs the command; returns the process exit code.
pub async fn run(options: IngestOptions) -> anyhow::Result<i32> {
    let format = input_format(&options)?;
    let mut connection = connect_command(
        &options.server,
        Some(&options.sandbox),
        options.key.as_deref(),
    )
    .await?;
    let datasets = connection
        .get_json("/data/foundation/catalog/dataSets")
        .await?;
    let dataset_id = datasets
        .as_object()
        .and_then(|all| {
            all.iter()
                .find(|(id, d)| **id == options.dataset || d["name"] == json!(options.dataset))
        })
        .map(|(id, _)| id.clone())
        .with_context(|| {
            format!(
                "no dataset \"{}\" in sandbox {}",
                options.dataset, options.sandbox
            )
        })?;
    let mut body =
        json!({"datasetId": dataset_id, "inputFormat": format, "enableErrorDiagnostics": true});
    if let Some(percent) = options.partial_percent {
        body["partialIngestionPercent"] = json!(percent);
    }
    let batch = connection
        .post_json("/data/foundation/import/batches", &body)
        .await?;
    let batch_id = batch["id"]
        .as_str()
        .context("the server answered no batch id")?
        .to_owned();
    eprintln!("batch {batch_id} for dataset {dataset_id}");

    let total: u64 = options
        .files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let upload = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("uploading {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for path in &options.files {
        upload_file(&mut connection, &batch_id, &dataset_id, path, &upload).await?;
    }
    upload.finish();
    connection
        .post_json(
            &format!("/data/foundation/import/batches/{batch_id}?action=COMPLETE"),
            &json!({}),
        )
        .await?;

    let processing = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let started = Instant::now();
    let final_batch = loop {
        let status = connection
            .get_json(&format!("/data/foundation/catalog/batches/{batch_id}"))
            .await?;
        let batch = status[&batch_id].clone();
        let state = batch["status"].as_str().unwrap_or("").to_owned();
        let progress = &batch["progress"];
        let rows = progress["rows"].as_u64().unwrap_or(0);
        let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
        processing.set_message(format!(
            "{state} {} rows read, {} applied, {} errors so far ({rate:.0} rows/s)",
            rows,
            progress["appliedRows"].as_u64().unwrap_or(0),
            progress["failedRows"].as_u64().unwrap_or(0)
        ));
        processing.tick();
        if matches!(state.as_str(), "success" | "failed" | "aborted") {
            break batch;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    processing.finish_and_clear();
    let metrics = &final_batch["metrics"];
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "batch {batch_id}: {}\n  records read: {}\n  records ingested: {}\n  records failed: {}\n  processing time: {seconds:.1} s",
        final_batch["status"].as_str().unwrap_or("?"),
        metrics["inputRecordCount"],
        metrics["outputRecordCount"],
        metrics["failedRecordCount"],
    );
    for error in final_batch["errors"].as_array().into_iter().flatten() {
        println!(
            "  {}: {}",
            error["code"].as_str().unwrap_or(""),
            error["description"].as_str().unwrap_or("")
        );
    }
    if metrics["failedRecordCount"].as_u64().unwrap_or(0) > 0 {
        println!(
            "  error report: {}/data/foundation/export/batches/{batch_id}/meta?path=row_errors",
            options.server.trim_end_matches('/')
        );
    }
    Ok(if final_batch["status"] == json!("success") {
        0
    } else {
        1
    })
}

async fn upload_file(
    connection: &mut Connection,
    batch_id: &str,
    dataset_id: &str,
    path: &Path,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no usable file name", path.display()))?;
    let url =
        format!("/data/foundation/import/batches/{batch_id}/datasets/{dataset_id}/files/{name}");
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata().await?.len();
    let octets = [("content-type", "application/octet-stream")];
    if size <= CHUNK_BYTES {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).await?;
        let (status, body) = connection
            .send(Method::PUT, &url, &octets, Some(Bytes::from(bytes)))
            .await?;
        anyhow::ensure!(
            status == 200,
            "uploading {name} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        bar.inc(size);
        return Ok(());
    }
    let (status, body) = connection
        .send(Method::POST, &format!("{url}?action=INITIALIZE"), &[], None)
        .await?;
    anyhow::ensure!(
        status == 201,
        "starting the upload of {name} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let mut offset = 0u64;
    while offset < size {
        let length = CHUNK_BYTES.min(size - offset);
        let mut chunk = vec![0u8; length as usize];
        file.read_exact(&mut chunk).await?;
        let range = format!("bytes {offset}-{}/{size}", offset + length - 1);
        let headers = [
            ("content-type", "application/octet-stream"),
            ("content-range", range.as_str()),
        ];
        let (status, body) = connection
            .send(Method::PATCH, &url, &headers, Some(Bytes::from(chunk)))
            .await?;
        anyhow::ensure!(
            status == 200,
            "uploading bytes {range} of {name} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        offset += length;
        bar.inc(length);
    }
    let (status, body) = connection
        .send(Method::POST, &format!("{url}?action=COMPLETE"), &[], None)
        .await?;
    anyhow::ensure!(
        status == 201,
        "finishing the upload of {name} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(())
}
