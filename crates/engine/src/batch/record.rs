//! A batch as stored and shown: its dataset, input format, files, status and metrics.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Where a batch is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchStatus {
    /// Accepting files.
    Loading,
    /// Completed by the client, waiting for the worker.
    Queued,
    /// Being read, validated and applied.
    Processing,
    Success,
    Failed,
    Aborted,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Loading => "loading",
            BatchStatus::Queued => "queued",
            BatchStatus::Processing => "processing",
            BatchStatus::Success => "success",
            BatchStatus::Failed => "failed",
            BatchStatus::Aborted => "aborted",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            BatchStatus::Success | BatchStatus::Failed | BatchStatus::Aborted
        )
    }
}

/// The input format of a batch, as given when it was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchFormat {
    JsonLines,
    MultiLineJson,
    Csv {
        delimiter: u8,
        mapping: Option<Vec<(String, String)>>,
    },
    Parquet,
}

impl BatchFormat {
    pub fn name(&self) -> &'static str {
        match self {
            BatchFormat::JsonLines | BatchFormat::MultiLineJson => "json",
            BatchFormat::Csv { .. } => "csv",
            BatchFormat::Parquet => "parquet",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchFile {
    pub name: String,
    pub bytes: u64,
    /// A chunked upload is complete once the client says so; a single PUT is complete at once.
    pub complete: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMetrics {
    pub input_bytes: u64,
    pub input_files: u64,
    pub input_records: u64,
    pub output_records: u64,
    pub failed_records: u64,
}

/// A batch-level error in the reference's shape (`code`, `description`, `recordCount`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchError {
    pub code: String,
    pub description: String,
    pub record_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub id: String,
    pub dataset_id: String,
    pub format: BatchFormat,
    pub error_diagnostics: bool,
    /// Fail the whole batch when more than this share (percent) of rows is bad; `None` means any bad row fails it.
    pub partial_ingestion_percent: Option<f64>,
    pub status: BatchStatus,
    pub files: Vec<BatchFile>,
    pub metrics: BatchMetrics,
    pub errors: Vec<BatchError>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub started_ms: Option<i64>,
    pub completed_ms: Option<i64>,
    /// The time every record of the batch is ingested at, fixed when the batch is completed, so
    /// that processing it again after a restart gives the very same result.
    pub received_ms: Option<i64>,
    /// How many times processing started (more than one after a restart mid-way).
    pub attempts: u32,
}

impl Batch {
    /// The Catalog representation of `GET /data/foundation/catalog/batches/{id}` (the value under the id key).
    pub fn to_json(&self) -> Value {
        let mut tags = json!({});
        if self.error_diagnostics {
            tags["acp_enableErrorDiagnostics"] = json!(true);
        }
        if let Some(percent) = self.partial_ingestion_percent {
            tags["acp_partialIngestionPercent"] = json!(percent);
        }
        let mut input_format = json!({"format": self.format.name()});
        if self.format == BatchFormat::MultiLineJson {
            input_format["isMultiLineJson"] = json!(true);
        }
        json!({
            "id": self.id,
            "status": self.status.as_str(),
            "tags": tags,
            "relatedObjects": [{"type": "dataSet", "id": self.dataset_id}],
            "inputFormat": input_format,
            "imsOrg": "rapport@AdobeOrg",
            "created": self.created_ms,
            "updated": self.updated_ms,
            "started": self.started_ms,
            "completed": self.completed_ms,
            "createdClient": "rapport",
            "createdUser": "rapport",
            "updatedUser": "rapport",
            "version": "1.0.0",
            "attempts": self.attempts,
            "metrics": {
                "inputByteSize": self.metrics.input_bytes,
                "inputFileCount": self.metrics.input_files,
                "inputRecordCount": self.metrics.input_records,
                "outputRecordCount": self.metrics.output_records,
                "failedRecordCount": self.metrics.failed_records,
            },
            "errors": self.errors.iter().map(|e| json!({"code": e.code, "description": e.description, "recordCount": e.record_count})).collect::<Vec<_>>(),
            "files": self.files.iter().map(|f| json!({"name": f.name, "size": f.bytes, "complete": f.complete})).collect::<Vec<_>>(),
        })
    }
}
