//! The batch scenario: writes JSON Lines, CSV and Parquet files of profile records and JSON Lines
//! of events, sends each through the batch API, and times each from completion to success.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
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

/// The largest file sent in one PUT (the reference's limit); larger ones go in chunks of
/// [`CHUNK_BYTES`].
const SINGLE_UPLOAD_BYTES: usize = 256 << 20;
const CHUNK_BYTES: usize = 64 << 20;

/// Uploads `path` as one batch and returns the seconds from COMPLETE to success.
pub(crate) async fn run_one(
    address: &str,
    sandbox: Option<&str>,
    dataset: &str,
    format: Value,
    path: &Path,
) -> anyhow::Result<f64> {
    let mut connection = crate::load::connect(address, sandbox).await?;
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
    let bytes = hyper::body::Bytes::from(std::fs::read(path)?);
    let url = format!("/data/foundation/import/batches/{id}/datasets/{dataset}/files/{name}");
    let octets = [("content-type", "application/octet-stream")];
    if bytes.len() <= SINGLE_UPLOAD_BYTES {
        let (status, body) = connection
            .send(hyper::Method::PUT, &url, &octets, Some(bytes))
            .await?;
        anyhow::ensure!(
            status == 200,
            "upload answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    } else {
        // Larger files go in chunks, as the reference asks of files over 256 MB.
        connection
            .post_json(&format!("{url}?action=INITIALIZE"), &json!({}))
            .await?;
        for start in (0..bytes.len()).step_by(CHUNK_BYTES) {
            let end = (start + CHUNK_BYTES).min(bytes.len());
            let range = format!("bytes {start}-{}/{}", end - 1, bytes.len());
            let (status, body) = connection
                .send(
                    hyper::Method::PATCH,
                    &url,
                    &[octets[0], ("content-range", &range)],
                    Some(bytes.slice(start..end)),
                )
                .await?;
            anyhow::ensure!(
                status == 200,
                "chunk {range} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        connection
            .post_json(&format!("{url}?action=COMPLETE"), &json!({}))
            .await?;
    }
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
        None,
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
    let seconds = run_one(
        address,
        None,
        &setup.crm_dataset,
        json!({"format": "csv"}),
        &csv,
    )
    .await?;
    runs.push(BatchRun {
        label: "profile records, CSV",
        records: n,
        bytes,
        seconds,
    });

    let dataset = parquet_dataset(address).await?;
    let path = dir.join("crm.parquet");
    let bytes = write_parquet(&path, 2 * n..3 * n)?;
    let seconds = run_one(address, None, &dataset, json!({"format": "parquet"}), &path).await?;
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
        None,
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
    let mut connection = crate::load::connect(address, None).await?;
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

/// Writes CRM rows with nested groups (person.name, personalEmail, homeAddress, loyalty), every
/// field required, through Rapport's XDM-to-Parquet writer.
fn write_parquet(path: &Path, profiles: std::ops::Range<usize>) -> anyhow::Result<u64> {
    use rapport::xdm_parquet::ParquetRecordWriter;
    use xdm::{Field, ObjectField};

    let text = Field::string;
    let group = |fields: &[(&str, Field)]| {
        let object = fields.iter().fold(ObjectField::new(), |o, (name, field)| {
            o.with_required(name, field.clone())
        });
        Field::object(object)
    };
    let schema = ObjectField::new()
        .with_required(
            "person",
            group(&[(
                "name",
                group(&[("firstName", text()), ("lastName", text())]),
            )]),
        )
        .with_required("personalEmail", group(&[("address", text())]))
        .with_required(
            "homeAddress",
            group(&[("city", text()), ("countryCode", text())]),
        )
        .with_required(
            "loyalty",
            group(&[("tier", text()), ("points", Field::number())]),
        );
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut writer = ParquetRecordWriter::new(file, &schema)?;
    for p in profiles {
        let tier = ["bronze", "silver", "gold"][p % 3];
        writer.write(&json!({
            "person": {"name": {"firstName": "Customer", "lastName": format!("Number {p}")}},
            "personalEmail": {"address": crate::load::email(p)},
            "homeAddress": {"city": "Seattle", "countryCode": "US"},
            "loyalty": {"tier": tier, "points": (p % 5000) as f64},
        }))?;
    }
    writer.finish()?.flush()?;
    Ok(std::fs::metadata(path)?.len())
}
