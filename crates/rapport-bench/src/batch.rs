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

pub(crate) fn write_lines(
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
pub(crate) async fn run_one(
    address: &str,
    dataset: &str,
    format: Value,
    path: &Path,
) -> anyhow::Result<f64> {
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

    let dataset = parquet_dataset(address).await?;
    let path = dir.join("crm.parquet");
    let bytes = write_parquet(&path, 2 * n..3 * n)?;
    let seconds = run_one(address, &dataset, json!({"format": "parquet"}), &path).await?;
    runs.push(BatchRun {
        label: "profile records, Parquet",
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

/// A dataset whose schema takes its primary identity from `personalEmail.address` (a
/// descriptor), as a CRM export in Parquet carries no identityMap.
async fn parquet_dataset(address: &str) -> anyhow::Result<String> {
    let mut connection = Connection::open(address).await?;
    let schema = connection
        .post_json("/data/foundation/schemaregistry/tenant/schemas", &json!({
            "title": "CRM export", "meta:immutableTags": ["union"],
            "allOf": [{"$ref": "https://ns.adobe.com/xdm/context/profile"}, {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                      {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"}, {"$ref": "https://ns.adobe.com/xdm/context/profile-loyalty-details"}]
        }))
        .await?;
    connection
        .post_json("/data/foundation/schemaregistry/tenant/descriptors", &json!({
            "@type": "xdm:descriptorIdentity", "xdm:sourceSchema": schema["$id"], "xdm:sourceVersion": 1,
            "xdm:sourceProperty": "/personalEmail/address", "xdm:namespace": "Email", "xdm:property": "xdm:code", "xdm:isPrimary": true
        }))
        .await?;
    let created = connection
        .post_json("/data/foundation/catalog/dataSets", &json!({"name": "crm-parquet", "schemaRef": {"id": schema["$id"]}, "tags": {"unifiedProfile": ["enabled:true"], "unifiedIdentity": ["enabled:true"]}}))
        .await?;
    Ok(created[0]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("@/dataSets/")
        .to_owned())
}

/// Writes CRM rows with nested groups (person.name, personalEmail, homeAddress, loyalty).
fn write_parquet(path: &Path, profiles: std::ops::Range<usize>) -> anyhow::Result<u64> {
    use std::sync::Arc;

    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    let schema = parse_message_type(
        "message crm {
            required group person { required group name { required binary firstName (UTF8); required binary lastName (UTF8); } }
            required group personalEmail { required binary address (UTF8); }
            required group homeAddress { required binary city (UTF8); required binary countryCode (UTF8); }
            required group loyalty { required binary tier (UTF8); required double points; }
        }",
    )?;
    let mut writer = SerializedFileWriter::new(
        std::fs::File::create(path)?,
        Arc::new(schema),
        Arc::new(WriterProperties::builder().build()),
    )?;
    let ids: Vec<usize> = profiles.collect();
    for chunk in ids.chunks(50_000) {
        let text = |f: &dyn Fn(usize) -> String| -> Vec<ByteArray> {
            chunk
                .iter()
                .map(|p| ByteArray::from(f(*p).as_str()))
                .collect()
        };
        let columns: Vec<Vec<ByteArray>> = vec![
            text(&|_| "Customer".to_owned()),
            text(&|p| format!("Number {p}")),
            text(&crate::load::email),
            text(&|_| "Seattle".to_owned()),
            text(&|_| "US".to_owned()),
            text(&|p| ["bronze", "silver", "gold"][p % 3].to_owned()),
        ];
        let points: Vec<f64> = chunk.iter().map(|p| (p % 5000) as f64).collect();
        let mut group = writer.next_row_group()?;
        for values in &columns {
            let mut column = group
                .next_column()?
                .ok_or_else(|| anyhow::anyhow!("schema has fewer columns"))?;
            column
                .typed::<ByteArrayType>()
                .write_batch(values, None, None)?;
            column.close()?;
        }
        let mut column = group
            .next_column()?
            .ok_or_else(|| anyhow::anyhow!("schema has fewer columns"))?;
        column
            .typed::<DoubleType>()
            .write_batch(&points, None, None)?;
        column.close()?;
        group.close()?;
    }
    writer.close()?;
    Ok(std::fs::metadata(path)?.len())
}
