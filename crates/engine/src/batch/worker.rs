//! The batch worker: one thread that takes completed batches in order, validates every row,
//! decides against the batch's threshold, and applies the good rows through the writer in
//! large jobs while it prepares the next ones.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use formats::{ColumnTypes, InputFormat, Row, ScalarKind};
use rapport_types::{ProfileId, SandboxName};
use serde_json::json;
use xdm::{FieldType, ObjectField};

use super::{Batch, BatchError, BatchFormat, BatchProgress, BatchStatus, Batches};
use crate::catalog::{now_ms, Catalog, SandboxCatalog};
use crate::error::{Error, Result};
use crate::guardrails::Guardrails;
use crate::identity::value::ValuePolicy;
use crate::ingest::{prepare, Job, PreparedWrite};

/// Writer jobs sent and not yet answered, oldest first.
type InFlight = std::collections::VecDeque<Receiver<Result<Vec<Result<Option<ProfileId>>>>>>;

/// Writes per writer job: large transactions amortise the commit.
const WRITES_PER_JOB: usize = 5_000;
/// Writer jobs in flight at once, so preparing the next overlaps applying the last.
const JOBS_IN_FLIGHT: usize = 2;
/// How much of the validated rows the first pass keeps for the second (record JSON plus overhead).
const KEEP_BUDGET_BYTES: usize = 512 << 20;
const KEPT_OVERHEAD_BYTES: usize = 512;

/// Where a batch row came from, as the identity graph remembers it.
fn row_source(batch: &str, file: &str, line: u64) -> String {
    format!("batch:{batch}:{file}:{line}")
}

/// The running worker thread; dropping it stops the thread (an unfinished batch is processed
/// again at the next start).
pub struct BatchWorker {
    stop: Arc<AtomicBool>,
    batches: Arc<Batches>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWorker {
    pub fn start(
        batches: Arc<Batches>,
        catalog: Arc<Catalog>,
        values: ValuePolicy,
        guardrails: Arc<Guardrails>,
        writer: Sender<Job>,
    ) -> BatchWorker {
        let stop = Arc::new(AtomicBool::new(false));
        let context = Context {
            batches: batches.clone(),
            catalog,
            values,
            guardrails,
            writer,
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("rapport-batches".into())
            .spawn(move || context.run())
            .ok();
        BatchWorker {
            stop,
            batches,
            thread,
        }
    }
}

impl Drop for BatchWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.batches.wake_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Context {
    batches: Arc<Batches>,
    catalog: Arc<Catalog>,
    values: ValuePolicy,
    guardrails: Arc<Guardrails>,
    writer: Sender<Job>,
    stop: Arc<AtomicBool>,
}

/// The worker was asked to stop in the middle of a batch.
struct Stopped;

/// Column types of a CSV file, from the dataset's schema.
struct SchemaTypes<'a>(&'a ObjectField);

impl ColumnTypes for SchemaTypes<'_> {
    fn kind_of(&self, dotted_path: &str) -> ScalarKind {
        match xdm::lookup(self.0, dotted_path).map(|f| &f.ty) {
            Some(FieldType::String(_)) => ScalarKind::String,
            Some(FieldType::Integer { .. }) => ScalarKind::Integer,
            Some(FieldType::Number { .. }) => ScalarKind::Number,
            Some(FieldType::Boolean) => ScalarKind::Boolean,
            _ => ScalarKind::Unknown,
        }
    }
}

fn input_format(format: &BatchFormat) -> InputFormat {
    match format {
        BatchFormat::JsonLines => InputFormat::JsonLines,
        BatchFormat::MultiLineJson => InputFormat::MultiLineJson,
        BatchFormat::Csv { delimiter, mapping } => InputFormat::Csv(formats::CsvOptions {
            delimiter: *delimiter,
            mapping: mapping.clone(),
        }),
        BatchFormat::Parquet => InputFormat::Parquet,
    }
}

/// The code of a row refused by `prepare` in the error report: the number of the error's
/// problem type for the size guardrails (`1562` for `event_too_large`, `1563` for
/// `record_too_large`, as the streaming API answers them), `1555` for every other refusal.
fn row_code(error: &Error) -> &'static str {
    match error.code() {
        rapport_types::Code::EventTooLarge => "1562",
        rapport_types::Code::RecordTooLarge => "1563",
        _ => "1555",
    }
}

/// The bad rows of a batch, written as the reference's error files.
struct ErrorReport {
    dir: std::path::PathBuf,
    parsing: Option<BufWriter<File>>,
    conversion: Option<BufWriter<File>>,
}

impl ErrorReport {
    fn new(dir: std::path::PathBuf) -> ErrorReport {
        let _ = std::fs::remove_dir_all(&dir);
        ErrorReport {
            dir,
            parsing: None,
            conversion: None,
        }
    }

    fn write(
        &mut self,
        file_name: &str,
        line: u64,
        raw: &str,
        code: &str,
        message: &str,
    ) -> Result<()> {
        let (slot, name) = if code == "1401" {
            (&mut self.parsing, "parsing_errors_0.json")
        } else {
            (&mut self.conversion, "conversion_errors_0.json")
        };
        if slot.is_none() {
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| Error::internal(format!("{}: {e}", self.dir.display())))?;
            let file = File::create(self.dir.join(name))
                .map_err(|e| Error::internal(format!("{name}: {e}")))?;
            *slot = Some(BufWriter::new(file));
        }
        let row = json!({"_corrupt_record": raw, "_errors": [{"code": code, "message": message}], "_filename": file_name, "_line": line});
        if let Some(writer) = slot.as_mut() {
            serde_json::to_writer(&mut *writer, &row).map_err(Error::internal)?;
            writer.write_all(b"\n").map_err(Error::internal)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        for writer in [self.parsing, self.conversion].into_iter().flatten() {
            writer
                .into_inner()
                .map_err(|e| Error::internal(e.to_string()))?
                .sync_all()
                .map_err(Error::internal)?;
        }
        Ok(())
    }
}

impl Context {
    fn run(self) {
        while !self.stop.load(Ordering::SeqCst) {
            let Some((sandbox, id)) = self.batches.next_queued(Duration::from_millis(500)) else {
                continue;
            };
            let progress = self.batches.start_progress(&id);
            let outcome = self.process(&sandbox, &id, &progress);
            self.batches.end_progress(&id);
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(Stopped)) => return,
                Err(error) => {
                    tracing::error!(%error, batch = %id, "batch processing failed");
                    let _ = self.batches.update(&sandbox, &id, |batch| {
                        batch.status = BatchStatus::Failed;
                        batch.completed_ms = Some(now_ms());
                        batch.errors.push(BatchError { code: "INGEST-1500-500".into(), description: "Rapport could not process the batch; the server log has the details".into(), record_count: 0 });
                        Ok(())
                    });
                }
            }
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn finish(
        &self,
        sandbox: &SandboxName,
        id: &str,
        status: BatchStatus,
        update: impl FnOnce(&mut Batch),
    ) -> Result<()> {
        self.batches.update(sandbox, id, |batch| {
            batch.status = status;
            batch.completed_ms = Some(now_ms());
            update(batch);
            Ok(())
        })?;
        // A finished batch is never processed again: its uploaded files go, its error report stays.
        let _ = std::fs::remove_dir_all(self.batches.batch_dir(id).join("files"));
        Ok(())
    }

    fn process(
        &self,
        sandbox: &SandboxName,
        id: &str,
        progress: &BatchProgress,
    ) -> Result<Result<(), Stopped>> {
        let (_, batch) = self.batches.update(sandbox, id, |batch| {
            batch.status = BatchStatus::Processing;
            batch.started_ms = Some(now_ms());
            batch.attempts += 1;
            batch.errors.clear();
            Ok(())
        })?;
        let catalog = self.catalog.sandbox(sandbox)?;
        let Some(dataset) = catalog.dataset(&batch.dataset_id).cloned() else {
            self.finish(sandbox, id, BatchStatus::Failed, |b| {
                b.errors.push(BatchError {
                    code: "INGEST-1404-400".into(),
                    description: format!(
                        "dataset {} was deleted before the batch was processed",
                        b.dataset_id
                    ),
                    record_count: 0,
                });
            })?;
            return Ok(Ok(()));
        };
        let Some(schema) = catalog.compiled.get(&dataset.schema_id).cloned() else {
            return Err(Error::internal(format!(
                "dataset {} references a missing schema",
                dataset.id
            )));
        };
        let types = SchemaTypes(&schema.tree);
        let format = input_format(&batch.format);
        let files_dir = self.batches.batch_dir(id).join("files");
        let received_ms = batch.received_ms.unwrap_or_else(now_ms);

        // Pass 1: read and validate every row; bad rows go to the error report.
        progress.phase.store(1, Ordering::Relaxed);
        let mut report = ErrorReport::new(self.batches.batch_dir(id).join("row_errors"));
        let (mut rows, mut bad) = (0u64, 0u64);
        // Good rows are kept from the first pass while they fit in memory, so the second pass
        // does not read and validate them again.
        let mut kept: Option<Vec<PreparedWrite>> = Some(Vec::new());
        let mut kept_bytes = 0usize;
        for file in &batch.files {
            let path = files_dir.join(&file.name);
            let mut failure = None;
            let outcome = formats::read_file(&path, &format, &types, &mut |row: Row| {
                if self.stopped() {
                    return ControlFlow::Break(());
                }
                rows += 1;
                progress.rows.store(rows, Ordering::Relaxed);
                let problem = match row.value {
                    Err(error) => Some((error.code, error.message)),
                    Ok(value) => match prepare(
                        &catalog,
                        &self.values,
                        self.guardrails.limits(),
                        &dataset.id,
                        value,
                        row_source(&batch.id, &file.name, row.number),
                        received_ms,
                    ) {
                        Ok(write) => {
                            kept_bytes += write.json.len() + KEPT_OVERHEAD_BYTES;
                            match kept.as_mut() {
                                Some(_) if kept_bytes > KEEP_BUDGET_BYTES => kept = None,
                                Some(list) => list.push(write),
                                None => {}
                            }
                            None
                        }
                        Err(error) => {
                            // Refused by a size guardrail: counted (once, in this first pass)
                            // and reported with its own code; any other refusal is a 1555.
                            self.guardrails.refused(&error, sandbox, &dataset.id);
                            Some((row_code(&error), error.to_string()))
                        }
                    },
                };
                if let Some((code, message)) = problem {
                    bad += 1;
                    progress.failed_rows.store(bad, Ordering::Relaxed);
                    if let Err(error) =
                        report.write(&file.name, row.number, &row.raw, code, &message)
                    {
                        failure = Some(error);
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            });
            if let Some(error) = failure {
                return Err(error);
            }
            if self.stopped() {
                return Ok(Err(Stopped));
            }
            if let Err(error) = outcome {
                report.finish()?;
                self.finish(sandbox, id, BatchStatus::Failed, |b| {
                    b.metrics.input_records = rows;
                    b.metrics.failed_records = bad;
                    b.errors.push(BatchError {
                        code: "INGEST-1401-400".into(),
                        description: format!("file \"{}\" could not be read: {error}", file.name),
                        record_count: 0,
                    });
                })?;
                return Ok(Ok(()));
            }
        }
        report.finish()?;
        let allowed = batch
            .partial_ingestion_percent
            .map_or(0.0, |percent| rows as f64 * percent / 100.0);
        if bad as f64 > allowed {
            let description = match batch.partial_ingestion_percent {
                Some(percent) => format!("Encountered {bad} errors in {rows} rows, more than the batch allows ({percent}%). Nothing was ingested. Review the error report at /data/foundation/export/batches/{id}/meta?path=row_errors."),
                None => format!("Encountered {bad} errors in {rows} rows and the batch allows none (set partialIngestionPercent to ingest the good rows). Nothing was ingested. Review the error report at /data/foundation/export/batches/{id}/meta?path=row_errors."),
            };
            let code = if batch.error_diagnostics || batch.partial_ingestion_percent.is_some() {
                "INGEST-1212-400"
            } else {
                "INGEST-1211-400"
            };
            self.finish(sandbox, id, BatchStatus::Failed, |b| {
                b.metrics.input_records = rows;
                b.metrics.failed_records = bad;
                b.errors.push(BatchError {
                    code: code.into(),
                    description,
                    record_count: bad,
                });
            })?;
            return Ok(Ok(()));
        }

        // Pass 2: apply the good rows.
        progress.phase.store(2, Ordering::Relaxed);
        let applied = match self.apply(
            &batch,
            &catalog,
            &dataset.id,
            &format,
            &types,
            &files_dir,
            received_ms,
            progress,
            kept,
        )? {
            Ok(applied) => applied,
            Err(Stopped) => return Ok(Err(Stopped)),
        };
        self.finish(sandbox, id, BatchStatus::Success, |b| {
            b.metrics.input_records = rows;
            b.metrics.failed_records = bad;
            b.metrics.output_records = applied;
            if bad > 0 {
                b.errors.push(BatchError {
                    code: "INGEST-1212-400".into(),
                    description: format!("Encountered {bad} errors in the data. Successfully ingested {applied} rows. Review the error report at /data/foundation/export/batches/{id}/meta?path=row_errors."),
                    record_count: bad,
                });
            }
        })?;
        Ok(Ok(()))
    }

    /// Reads the files again and sends the good rows to the writer; returns how many landed.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        batch: &Batch,
        catalog: &SandboxCatalog,
        dataset: &str,
        format: &InputFormat,
        types: &SchemaTypes<'_>,
        files_dir: &Path,
        received_ms: i64,
        progress: &BatchProgress,
        kept: Option<Vec<PreparedWrite>>,
    ) -> Result<Result<u64, Stopped>> {
        let mut in_flight: InFlight = Default::default();
        let mut pending: Vec<PreparedWrite> = Vec::with_capacity(WRITES_PER_JOB);
        let mut applied = 0u64;
        let mut failure: Option<Error> = None;
        let wait_one = |in_flight: &mut InFlight, applied: &mut u64| -> Result<()> {
            if let Some(receiver) = in_flight.pop_front() {
                let results = receiver
                    .recv()
                    .map_err(|_| Error::internal("the writer stopped"))??;
                *applied += results.iter().filter(|r| r.is_ok()).count() as u64;
                progress.applied_rows.store(*applied, Ordering::Relaxed);
            }
            Ok(())
        };
        let submit = |writes: Vec<PreparedWrite>,
                      in_flight: &mut std::collections::VecDeque<_>,
                      applied: &mut u64|
         -> Result<()> {
            while in_flight.len() >= JOBS_IN_FLIGHT {
                wait_one(in_flight, applied)?;
            }
            let (sender, receiver) = crossbeam_channel::bounded(1);
            self.writer
                .send(Job::Ingest {
                    writes,
                    reply: Box::new(move |r| {
                        let _ = sender.send(r);
                    }),
                })
                .map_err(|_| Error::internal("the writer stopped"))?;
            in_flight.push_back(receiver);
            Ok(())
        };
        if let Some(writes) = kept {
            let mut writes = writes.into_iter().peekable();
            while writes.peek().is_some() {
                if self.stopped() {
                    return Ok(Err(Stopped));
                }
                let chunk: Vec<PreparedWrite> = writes.by_ref().take(WRITES_PER_JOB).collect();
                submit(chunk, &mut in_flight, &mut applied)?;
            }
            while !in_flight.is_empty() {
                wait_one(&mut in_flight, &mut applied)?;
            }
            return Ok(Ok(applied));
        }
        for file in &batch.files {
            let path = files_dir.join(&file.name);
            let outcome = formats::read_file(&path, format, types, &mut |row: Row| {
                if self.stopped() {
                    return ControlFlow::Break(());
                }
                let Ok(value) = row.value else {
                    return ControlFlow::Continue(());
                };
                let source = row_source(&batch.id, &file.name, row.number);
                if let Ok(write) = prepare(
                    catalog,
                    &self.values,
                    self.guardrails.limits(),
                    dataset,
                    value,
                    source,
                    received_ms,
                ) {
                    pending.push(write);
                }
                if pending.len() == WRITES_PER_JOB {
                    let writes =
                        std::mem::replace(&mut pending, Vec::with_capacity(WRITES_PER_JOB));
                    if let Err(error) = submit(writes, &mut in_flight, &mut applied) {
                        failure = Some(error);
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            });
            if let Some(error) = failure.take() {
                return Err(error);
            }
            if self.stopped() {
                return Ok(Err(Stopped));
            }
            outcome.map_err(|e| {
                Error::internal(format!(
                    "file \"{}\" changed between passes: {e}",
                    file.name
                ))
            })?;
        }
        if !pending.is_empty() {
            submit(std::mem::take(&mut pending), &mut in_flight, &mut applied)?;
        }
        while !in_flight.is_empty() {
            wait_one(&mut in_flight, &mut applied)?;
        }
        Ok(Ok(applied))
    }
}
