//! Batch ingestion: batches and their files (real files under the data directory), their life
//! from loading to success or failure, and the worker that reads, validates and applies them.
//!
//! A completed batch is processed in two passes: the first reads and validates every row and
//! writes the bad ones to the error report; only if the share of bad rows is within the batch's
//! threshold does the second pass apply the good rows through the writer. A batch being
//! processed when the server stops is processed again from the start after a restart: applying
//! the same rows again (same ingestion time, fragments replaced, events de-duplicated by `_id`)
//! gives the same state, so it is never half applied and never applied twice.

mod record;
mod worker;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rapport_types::{Code, SandboxName};
use serde_json::Value;
use store::{Direction, Scan, Store, Table};

pub use record::{Batch, BatchError, BatchFile, BatchFormat, BatchMetrics, BatchStatus};
pub use worker::BatchWorker;

use crate::catalog::{now_ms, SandboxCatalog};
use crate::error::{Error, Result};
use crate::keys;

const KIND: &str = "batch";
/// The largest file accepted in one PUT; larger files use the chunked upload.
pub const MAX_SINGLE_UPLOAD_BYTES: u64 = 256 << 20;

/// Live counters of a batch being processed, shown while it runs.
#[derive(Debug, Default)]
pub struct BatchProgress {
    /// 1 while validating, 2 while applying.
    pub phase: AtomicU64,
    pub rows: AtomicU64,
    pub failed_rows: AtomicU64,
    pub applied_rows: AtomicU64,
}

impl BatchProgress {
    pub fn to_json(&self) -> Value {
        let phase = match self.phase.load(Ordering::Relaxed) {
            1 => "validating",
            2 => "applying",
            _ => "starting",
        };
        serde_json::json!({
            "phase": phase,
            "rows": self.rows.load(Ordering::Relaxed),
            "failedRows": self.failed_rows.load(Ordering::Relaxed),
            "appliedRows": self.applied_rows.load(Ordering::Relaxed),
        })
    }
}

/// Every batch of every sandbox: persisted in the `Catalog` table, files on disk.
pub struct Batches {
    store: Arc<dyn Store>,
    root: PathBuf,
    batches: Mutex<HashMap<String, (SandboxName, Batch)>>,
    update_lock: Mutex<()>,
    progress: Mutex<HashMap<String, Arc<BatchProgress>>>,
    queue: Mutex<VecDeque<String>>,
    wake: Condvar,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::user(Code::InvalidBatch, message)
}

fn not_found(id: &str) -> Error {
    Error::user(
        Code::BatchNotFound,
        format!("no batch \"{id}\" exists in this sandbox"),
    )
}

/// A file name as a client may give it: one path segment of safe characters.
fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Batches {
    /// Loads every batch; those queued or interrupted mid-processing are queued again.
    pub fn load(store: Arc<dyn Store>, data_dir: &Path) -> Result<Batches> {
        let mut batches = HashMap::new();
        let mut queue = VecDeque::new();
        {
            let txn = store.read()?;
            let mut failure = None;
            txn.scan(
                Table::Catalog,
                b"",
                b"",
                Direction::Forward,
                &mut |key, value| {
                    let mut parts = key.splitn(3, |b| *b == 0);
                    let (Some(sandbox), Some(kind)) = (parts.next(), parts.next()) else {
                        return Scan::Continue;
                    };
                    if kind != KIND.as_bytes() {
                        return Scan::Continue;
                    }
                    let Some(sandbox) = std::str::from_utf8(sandbox)
                        .ok()
                        .and_then(SandboxName::parse)
                    else {
                        return Scan::Continue;
                    };
                    match serde_json::from_slice::<Batch>(value) {
                        Ok(batch) => {
                            if matches!(batch.status, BatchStatus::Queued | BatchStatus::Processing)
                            {
                                queue.push_back(batch.id.clone());
                            }
                            batches.insert(batch.id.clone(), (sandbox, batch));
                        }
                        Err(error) => {
                            failure = Some(Error::internal(format!("stored batch: {error}")))
                        }
                    }
                    Scan::Continue
                },
            )?;
            if let Some(error) = failure {
                return Err(error);
            }
        }
        let mut ordered: Vec<String> = queue.into_iter().collect();
        ordered.sort_by_key(|id| {
            batches
                .get(id)
                .map(|(_, b): &(SandboxName, Batch)| b.updated_ms)
        });
        Ok(Batches {
            store,
            root: data_dir.join("batches"),
            batches: Mutex::new(batches),
            update_lock: Mutex::new(()),
            progress: Mutex::new(HashMap::new()),
            queue: Mutex::new(ordered.into_iter().collect()),
            wake: Condvar::new(),
        })
    }

    fn persist(&self, sandbox: &SandboxName, batch: &Batch) -> Result<()> {
        let json = serde_json::to_vec(batch).map_err(Error::internal)?;
        let mut txn = self.store.write()?;
        txn.put(
            Table::Catalog,
            &keys::catalog(sandbox, KIND, &batch.id),
            &json,
        )?;
        txn.commit()?;
        Ok(())
    }

    /// Changes a batch of `sandbox` under the lock and persists it.
    fn update<T>(
        &self,
        sandbox: &SandboxName,
        id: &str,
        change: impl FnOnce(&mut Batch) -> Result<T>,
    ) -> Result<(T, Batch)> {
        // Updates are serialised among themselves, but readers only wait for the brief map
        // lookups, not for the durable write in between.
        let _one_update_at_a_time = self.update_lock.lock();
        let mut changed = match self.batches.lock().get(id) {
            Some((owner, batch)) if owner == sandbox => batch.clone(),
            _ => return Err(not_found(id)),
        };
        let outcome = change(&mut changed)?;
        changed.updated_ms = now_ms();
        self.persist(sandbox, &changed)?;
        self.batches
            .lock()
            .insert(id.to_owned(), (sandbox.clone(), changed.clone()));
        Ok((outcome, changed))
    }

    /// Creates a batch from the reference's body: `datasetId`, `inputFormat`, and optionally
    /// `enableErrorDiagnostics` and `partialIngestionPercent`.
    pub fn create(
        &self,
        sandbox: &SandboxName,
        catalog: &SandboxCatalog,
        body: &Value,
    ) -> Result<Batch> {
        if !body.is_object() {
            return Err(invalid(
                "#: the body must be an object with datasetId and inputFormat",
            ));
        }
        let dataset_ref = match body.get("datasetId") {
            Some(Value::String(id)) => id.as_str(),
            Some(other) => {
                return Err(invalid(format!(
                    "/datasetId: expected a string, found {other}"
                )))
            }
            None => {
                return Err(invalid(
                    "/datasetId: required: the dataset the batch is for",
                ))
            }
        };
        let Some(dataset) = catalog.dataset(dataset_ref) else {
            return Err(Error::user(
                Code::DatasetNotFound,
                format!("/datasetId: no dataset \"{dataset_ref}\" exists in this sandbox"),
            ));
        };
        let format = parse_format(body.get("inputFormat"))?;
        let error_diagnostics = match body.get("enableErrorDiagnostics") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid(format!(
                    "/enableErrorDiagnostics: expected true or false, found {other}"
                )))
            }
        };
        let partial_ingestion_percent = match body.get("partialIngestionPercent") {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_f64() {
                Some(p) if (0.0..=100.0).contains(&p) => Some(p),
                _ => {
                    return Err(invalid(format!(
                        "/partialIngestionPercent: expected a number from 0 to 100, found {value}"
                    )))
                }
            },
        };
        let now = now_ms();
        let batch = Batch {
            id: uuid::Uuid::new_v4().simple().to_string(),
            dataset_id: dataset.id.clone(),
            format,
            error_diagnostics,
            partial_ingestion_percent,
            status: BatchStatus::Loading,
            files: Vec::new(),
            metrics: BatchMetrics::default(),
            errors: Vec::new(),
            created_ms: now,
            updated_ms: now,
            started_ms: None,
            completed_ms: None,
            received_ms: None,
            attempts: 0,
        };
        self.persist(sandbox, &batch)?;
        self.batches
            .lock()
            .insert(batch.id.clone(), (sandbox.clone(), batch.clone()));
        Ok(batch)
    }

    pub fn get(&self, sandbox: &SandboxName, id: &str) -> Option<Batch> {
        let batches = self.batches.lock();
        batches
            .get(id)
            .filter(|(owner, _)| owner == sandbox)
            .map(|(_, b)| b.clone())
    }

    /// The Catalog representation of a batch, with its live progress while it is processed.
    pub fn to_json(&self, batch: &Batch) -> Value {
        let mut value = batch.to_json();
        if batch.status == BatchStatus::Processing {
            if let Some(progress) = self.progress.lock().get(&batch.id) {
                value["progress"] = progress.to_json();
            }
        }
        value
    }

    /// Starts fresh counters for a batch about to be processed.
    fn start_progress(&self, id: &str) -> Arc<BatchProgress> {
        let progress = Arc::new(BatchProgress::default());
        self.progress.lock().insert(id.to_owned(), progress.clone());
        progress
    }

    fn end_progress(&self, id: &str) {
        self.progress.lock().remove(id);
    }

    /// Every batch of a sandbox, newest first.
    pub fn list(&self, sandbox: &SandboxName) -> Vec<Batch> {
        let mut list: Vec<Batch> = self
            .batches
            .lock()
            .values()
            .filter(|(owner, _)| owner == sandbox)
            .map(|(_, b)| b.clone())
            .collect();
        list.sort_by(|a, b| {
            b.created_ms
                .cmp(&a.created_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        list
    }

    fn batch_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Where an uploaded file of a loading batch is kept; checks the batch, dataset and name.
    pub fn file_path(
        &self,
        sandbox: &SandboxName,
        id: &str,
        dataset: &str,
        name: &str,
    ) -> Result<PathBuf> {
        let batch = self.get(sandbox, id).ok_or_else(|| not_found(id))?;
        if batch.dataset_id != dataset {
            return Err(invalid(format!(
                "dataset: batch {id} is for dataset {}, not {dataset}",
                batch.dataset_id
            )));
        }
        if batch.status != BatchStatus::Loading {
            return Err(invalid(format!(
                "batch {id} is {} and takes no more files",
                batch.status.as_str()
            )));
        }
        if !valid_file_name(name) {
            return Err(invalid(format!(
                "file name \"{name}\": use 1 to 200 letters, digits, '.', '_' or '-'"
            )));
        }
        let dir = self.batch_dir(id).join("files");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::internal(format!("{}: {e}", dir.display())))?;
        Ok(dir.join(name))
    }

    /// Records a file's size after an upload step; `complete` once the whole file is there.
    pub fn file_written(
        &self,
        sandbox: &SandboxName,
        id: &str,
        name: &str,
        bytes: u64,
        complete: bool,
    ) -> Result<Batch> {
        self.update(sandbox, id, |batch| {
            match batch.files.iter_mut().find(|f| f.name == name) {
                Some(file) => {
                    file.bytes = bytes;
                    file.complete = complete;
                }
                None => batch.files.push(BatchFile {
                    name: name.to_owned(),
                    bytes,
                    complete,
                }),
            }
            Ok(())
        })
        .map(|(_, batch)| batch)
    }

    /// The client says the batch is whole: it is queued for processing.
    pub fn complete(&self, sandbox: &SandboxName, id: &str) -> Result<Batch> {
        let (_, batch) = self.update(sandbox, id, |batch| {
            if batch.status != BatchStatus::Loading {
                return Err(invalid(format!("batch {id} is {} and cannot be completed again", batch.status.as_str())));
            }
            if batch.files.is_empty() {
                return Err(invalid(format!("batch {id} has no files; upload at least one before completing it")));
            }
            if let Some(file) = batch.files.iter().find(|f| !f.complete) {
                return Err(invalid(format!(
                    "file \"{}\" of batch {id} is still being uploaded; finish it with action=COMPLETE first",
                    file.name
                )));
            }
            batch.status = BatchStatus::Queued;
            batch.received_ms = Some(now_ms());
            batch.metrics.input_files = batch.files.len() as u64;
            batch.metrics.input_bytes = batch.files.iter().map(|f| f.bytes).sum();
            Ok(())
        })?;
        self.queue.lock().push_back(id.to_owned());
        self.wake.notify_one();
        Ok(batch)
    }

    /// Stops a batch that is not finished; its files are removed. A batch already being
    /// processed cannot be aborted.
    pub fn abort(&self, sandbox: &SandboxName, id: &str) -> Result<Batch> {
        let (_, batch) = self.update(sandbox, id, |batch| {
            if batch.status != BatchStatus::Loading && batch.status != BatchStatus::Queued {
                return Err(invalid(format!(
                    "batch {id} is {} and cannot be aborted",
                    batch.status.as_str()
                )));
            }
            batch.status = BatchStatus::Aborted;
            batch.completed_ms = Some(now_ms());
            Ok(())
        })?;
        let _ = std::fs::remove_dir_all(self.batch_dir(id).join("files"));
        Ok(batch)
    }

    /// The error report files of a batch: (name, bytes).
    pub fn error_files(&self, sandbox: &SandboxName, id: &str) -> Result<Vec<(String, u64)>> {
        self.get(sandbox, id).ok_or_else(|| not_found(id))?;
        let dir = self.batch_dir(id).join("row_errors");
        let mut files = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                files.push((entry.file_name().to_string_lossy().into_owned(), size));
            }
        }
        files.sort();
        Ok(files)
    }

    /// The path of one error report file, by name.
    pub fn error_file(&self, sandbox: &SandboxName, id: &str, name: &str) -> Result<PathBuf> {
        let files = self.error_files(sandbox, id)?;
        if !files.iter().any(|(n, _)| n == name) {
            return Err(Error::user(
                Code::BatchNotFound,
                format!("batch {id} has no error report \"{name}\""),
            ));
        }
        Ok(self.batch_dir(id).join("row_errors").join(name))
    }

    /// Waits up to `timeout` for the next queued batch.
    fn next_queued(&self, timeout: Duration) -> Option<(SandboxName, String)> {
        let mut queue = self.queue.lock();
        if queue.is_empty() {
            self.wake.wait_for(&mut queue, timeout);
        }
        let id = queue.pop_front()?;
        let sandbox = self.batches.lock().get(&id).map(|(s, _)| s.clone())?;
        Some((sandbox, id))
    }

    fn wake_all(&self) {
        self.wake.notify_all();
    }
}

fn parse_format(value: Option<&Value>) -> Result<BatchFormat> {
    let Some(value) = value else {
        return Err(invalid(
            "/inputFormat: required, such as {\"format\": \"json\"}",
        ));
    };
    let format = match value.get("format") {
        Some(Value::String(f)) => f.to_ascii_lowercase(),
        _ => {
            return Err(invalid(
                "/inputFormat/format: expected \"json\", \"csv\" or \"parquet\"",
            ))
        }
    };
    match format.as_str() {
        "json" => match value.get("isMultiLineJson") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(BatchFormat::JsonLines),
            Some(Value::Bool(true)) => Ok(BatchFormat::MultiLineJson),
            Some(other) => Err(invalid(format!(
                "/inputFormat/isMultiLineJson: expected true or false, found {other}"
            ))),
        },
        "csv" => {
            let delimiter = match value.get("delimiter") {
                None | Some(Value::Null) => b',',
                Some(Value::String(d)) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
                Some(other) => {
                    return Err(invalid(format!(
                        "/inputFormat/delimiter: expected one ASCII character, found {other}"
                    )))
                }
            };
            let mapping = match value.get("mapping") {
                None | Some(Value::Null) => None,
                Some(Value::Object(pairs)) => {
                    let mut mapping = Vec::with_capacity(pairs.len());
                    for (column, path) in pairs {
                        let Some(path) = path.as_str() else {
                            return Err(invalid(format!(
                                "/inputFormat/mapping/{column}: expected an XDM path string"
                            )));
                        };
                        mapping.push((column.clone(), path.to_owned()));
                    }
                    Some(mapping)
                }
                Some(_) => {
                    return Err(invalid(
                        "/inputFormat/mapping: expected an object of CSV column → XDM path",
                    ))
                }
            };
            Ok(BatchFormat::Csv { delimiter, mapping })
        }
        "parquet" => Ok(BatchFormat::Parquet),
        other => Err(invalid(format!(
            "/inputFormat/format: \"{other}\" is not json, csv or parquet"
        ))),
    }
}
