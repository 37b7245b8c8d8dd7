//! Batch evaluation: segment jobs over every profile of a sandbox, previews and estimates of a
//! definition not saved yet, and the scheduler that re-evaluates profiles when time alone
//! changes their memberships.
//!
//! Jobs read profiles in parallel read transactions (one thread per core), and hand the
//! profiles whose memberships differ to the writer, which evaluates them again inside its
//! transaction: the stored result always comes from the writer, so a job never overwrites a
//! newer streaming evaluation.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};
use rapport_types::{Code, ProfileId, SandboxName};
use serde_json::{json, Value};
use store::{Direction, ReadTxn, Scan, Store, Table};

use super::index::{SegmentIndex, Trigger};
use super::membership::{self, Decoding, LoadedEvents, Memberships};
use crate::catalog::{now_ms, Catalog, SandboxCatalog};
use crate::error::{Error, Result};
use crate::ingest::Job;
use crate::keys;
use crate::records::{decode, decode_view, ProfileRecord};

/// Jobs and previews kept in memory (oldest forgotten first).
const KEPT: usize = 500;
/// Profiles handed to the writer per transaction.
const WRITER_CHUNK: usize = 1_000;
/// Profiles listed in a preview.
pub const PREVIEW_SAMPLE: usize = 100;
/// How often expired events are swept away.
const EXPIRE_EVERY_MS: i64 = 3_600_000;
/// How often the scheduler looks for due profiles.
const SCHEDULER_TICK: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Processing,
    Succeeded,
    Failed,
    Cancelling,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Processing => "PROCESSING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelling => "CANCELLING",
            JobStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        [
            JobStatus::Queued,
            JobStatus::Processing,
            JobStatus::Succeeded,
            JobStatus::Failed,
            JobStatus::Cancelling,
            JobStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| {
            s.as_str().eq_ignore_ascii_case(text)
                || (text.eq_ignore_ascii_case("NEW") && *s == JobStatus::Queued)
        })
    }
}

/// What a job counted.
#[derive(Debug, Clone, Default)]
pub struct JobMetrics {
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub segmentation_start_ms: Option<i64>,
    pub segmentation_end_ms: Option<i64>,
    pub total_profiles: u64,
    /// Profiles that qualify, per definition.
    pub qualified: BTreeMap<String, u64>,
    /// Profiles that entered / left, per definition.
    pub realized: BTreeMap<String, u64>,
    pub exited: BTreeMap<String, u64>,
    /// Profiles the writer evaluated again because their memberships changed.
    pub updated_profiles: u64,
}

/// A segment job.
#[derive(Debug, Clone)]
pub struct SegmentJob {
    pub id: String,
    pub sandbox: SandboxName,
    /// The definitions asked for; `None` means all of them (`"*"`).
    pub segment_ids: Option<Vec<String>>,
    /// `api` (asked for), or `definition` (a definition was created or changed).
    pub source: &'static str,
    pub status: JobStatus,
    pub creation_ms: i64,
    pub update_ms: i64,
    pub metrics: JobMetrics,
    pub error: Option<String>,
}

impl SegmentJob {
    /// The reference's job object.
    pub fn to_json(&self, catalog: &SandboxCatalog) -> Value {
        let segments: Vec<Value> = match &self.segment_ids {
            None => vec![json!({"segmentId": "*"})],
            Some(ids) => ids
                .iter()
                .map(|id| {
                    let definition = catalog.segments.get(id);
                    json!({
                        "segmentId": id,
                        "segment": {
                            "id": id,
                            "expression": definition.map(|d| json!({"type": "PQL", "format": "pql/text", "value": d.expression})),
                            "mergePolicyId": definition.and_then(|d| d.merge_policy_id.clone()).or_else(|| catalog.default_merge_policy().map(|p| p.id.clone())),
                        }
                    })
                })
                .collect(),
        };
        let m = &self.metrics;
        let span = |start: Option<i64>, end: Option<i64>| json!({"startTimeInMs": start, "endTimeInMs": end, "totalTimeInMs": match (start, end) { (Some(s), Some(e)) => Some(e - s), _ => None }});
        let by_status: BTreeMap<&String, Value> = m
            .qualified
            .keys()
            .chain(m.realized.keys())
            .chain(m.exited.keys())
            .map(|id| {
                (
                    id,
                    json!({"realized": m.realized.get(id).copied().unwrap_or(0), "exited": m.exited.get(id).copied().unwrap_or(0)}),
                )
            })
            .collect();
        let sandbox = self.sandbox.as_str();
        let mut object = json!({
            "id": self.id,
            "imsOrgId": "rapport@AdobeOrg",
            "sandbox": {"sandboxId": sandbox, "sandboxName": sandbox},
            "profileInstanceId": "ups",
            "source": self.source,
            "status": self.status.as_str(),
            "segments": segments,
            "metrics": {
                "totalTime": span(m.start_ms, m.end_ms),
                "profileSegmentationTime": span(m.segmentation_start_ms, m.segmentation_end_ms),
                "totalProfiles": m.total_profiles,
                "segmentedProfileCounter": m.qualified,
                "segmentedProfileByStatusCounter": by_status,
                "totalProfilesByMergePolicy": catalog.default_merge_policy().map(|p| json!({p.id.clone(): m.total_profiles})).unwrap_or(json!({})),
                "updatedProfiles": m.updated_profiles,
            },
            "_links": {
                "cancel": {"href": format!("/data/core/ups/segment/jobs/{}", self.id), "method": "DELETE"},
                "checkStatus": {"href": format!("/data/core/ups/segment/jobs/{}", self.id), "method": "GET"},
            },
            "creationTime": self.creation_ms,
            "updateTime": self.update_ms,
            "updateEpoch": self.update_ms / 1000,
        });
        if let Some(error) = &self.error {
            object["errors"] = json!([{"code": "SEG-9000", "msg": error}]);
        }
        object
    }
}

/// A preview (and estimate) of an expression over every profile.
#[derive(Debug, Clone)]
pub struct Preview {
    pub id: String,
    pub sandbox: SandboxName,
    pub expression: String,
    pub state: PreviewState,
    pub profiles_read: u64,
    pub matched: u64,
    /// Up to `PREVIEW_SAMPLE` matching profiles: (profile id, primary identity).
    pub sample: Vec<(ProfileId, Option<crate::IdentityKey>)>,
    pub by_namespace: BTreeMap<String, u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewState {
    New,
    Running,
    ResultReady,
    Failed,
}

impl PreviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            PreviewState::New => "NEW",
            PreviewState::Running => "RUNNING",
            PreviewState::ResultReady => "RESULT_READY",
            PreviewState::Failed => "FAILED",
        }
    }
}

enum Work {
    Job(String),
    Preview(String, Arc<segments::Definition>),
    Backfill(SandboxName),
    Train(String),
}

/// One training of the built-in models: read the histories, fit, store, score every profile.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRun {
    pub id: String,
    pub sandbox: SandboxName,
    pub settings: crate::scores::ScoreSettings,
    pub status: JobStatus,
    /// What it is doing: QUEUED, READING, FITTING, SCORING, DONE.
    pub phase: &'static str,
    pub profiles_read: u64,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub model_version: Option<String>,
    pub error: Option<String>,
    /// Why it was started: "api" or "schedule".
    pub source: &'static str,
}

/// What a pass over every profile reports as it goes.
#[derive(Debug, Clone, Copy)]
enum Progress {
    Total(usize),
    Done(usize),
}

impl TrainingRun {
    fn queued(
        sandbox: &SandboxName,
        settings: crate::scores::ScoreSettings,
        source: &'static str,
    ) -> TrainingRun {
        TrainingRun {
            id: uuid::Uuid::new_v4().to_string(),
            sandbox: sandbox.clone(),
            settings,
            status: JobStatus::Queued,
            phase: "QUEUED",
            profiles_read: 0,
            start_ms: None,
            end_ms: None,
            model_version: None,
            error: None,
            source,
        }
    }
}

/// How often models are trained again on their last settings.
pub const RETRAIN_EVERY_MS: i64 = 7 * 86_400_000;

/// A pass over every profile of a sandbox that brings its computed attributes up to date with
/// their definitions (after one was published, changed or deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    pub status: JobStatus,
    /// The attributes it computes, with the update time of the definition it computes.
    pub attributes: BTreeMap<String, i64>,
    pub profiles_done: u64,
    pub profiles_total: u64,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub error: Option<String>,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<SegmentJob>,
    previews: VecDeque<Preview>,
    /// The latest backfill of each sandbox, and the one queued after it.
    backfills: BTreeMap<SandboxName, Vec<Backfill>>,
    trainings: VecDeque<TrainingRun>,
    queue: VecDeque<Work>,
    cancels: BTreeMap<String, Arc<AtomicBool>>,
    /// When each sandbox's old events were last swept away.
    expired_at_ms: BTreeMap<SandboxName, i64>,
}

/// Segment jobs, previews and the time scheduler.
pub struct SegmentJobs {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    writer: Sender<Job>,
    state: Mutex<State>,
    wake: Condvar,
    stop: AtomicBool,
}

impl SegmentJobs {
    pub fn start(store: Arc<dyn Store>, catalog: Arc<Catalog>, writer: Sender<Job>) -> SegmentJobs {
        let shared = Arc::new(Shared {
            store,
            catalog,
            writer,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let mut threads = Vec::new();
        let worker = shared.clone();
        if let Ok(thread) = std::thread::Builder::new()
            .name("rapport-segment-jobs".into())
            .spawn(move || worker.run_jobs())
        {
            threads.push(thread);
        }
        let scheduler = shared.clone();
        if let Ok(thread) = std::thread::Builder::new()
            .name("rapport-segment-schedule".into())
            .spawn(move || scheduler.run_schedule())
        {
            threads.push(thread);
        }
        SegmentJobs { shared, threads }
    }

    /// Queues a backfill of computed attributes (`attributes`: id → definition update time).
    /// While one is still queued for the sandbox, later attributes join it.
    pub fn backfill_computed(&self, sandbox: &SandboxName, attributes: BTreeMap<String, i64>) {
        let mut state = self.shared.state.lock();
        let list = state.backfills.entry(sandbox.clone()).or_default();
        if let Some(queued) = list.iter_mut().find(|b| b.status == JobStatus::Queued) {
            queued.attributes.extend(attributes);
            return;
        }
        list.retain(|b| b.status == JobStatus::Processing);
        list.push(Backfill {
            status: JobStatus::Queued,
            attributes,
            profiles_done: 0,
            profiles_total: 0,
            start_ms: None,
            end_ms: None,
            error: None,
        });
        state.queue.push_back(Work::Backfill(sandbox.clone()));
        self.shared.wake.notify_all();
    }

    /// Queues a training of the built-in models.
    pub fn train(
        &self,
        sandbox: &SandboxName,
        settings: crate::scores::ScoreSettings,
        source: &'static str,
    ) -> TrainingRun {
        let run = TrainingRun::queued(sandbox, settings, source);
        let mut state = self.shared.state.lock();
        self.shared.enqueue_training(&mut state, run.clone());
        run
    }

    /// A training run by id.
    pub fn training(&self, sandbox: &SandboxName, id: &str) -> Option<TrainingRun> {
        let state = self.shared.state.lock();
        state
            .trainings
            .iter()
            .find(|r| r.id == id && r.sandbox == *sandbox)
            .cloned()
    }

    /// The newest backfill that computes this version of an attribute.
    pub fn backfill_of(&self, sandbox: &SandboxName, id: &str, update_ms: i64) -> Option<Backfill> {
        let state = self.shared.state.lock();
        state
            .backfills
            .get(sandbox)?
            .iter()
            .rev()
            .find(|b| b.attributes.get(id).is_some_and(|at| *at >= update_ms))
            .cloned()
    }

    /// Queues a job for some definitions (`None`: all).
    pub fn create_job(
        &self,
        sandbox: &SandboxName,
        segment_ids: Option<Vec<String>>,
    ) -> Result<SegmentJob> {
        self.queue_job(sandbox, segment_ids, "api")
    }

    /// Queues the job that evaluates a new or changed definition over every profile. While such
    /// a job is still queued, later definitions join it, so defining fifty segments in a row
    /// costs one pass over the profiles, not fifty.
    pub fn evaluate_definition(&self, sandbox: &SandboxName, id: &str) -> Result<SegmentJob> {
        {
            let mut state = self.shared.state.lock();
            if let Some(job) = state.jobs.iter_mut().rev().find(|j| {
                j.sandbox == *sandbox && j.status == JobStatus::Queued && j.source == "definition"
            }) {
                match &mut job.segment_ids {
                    Some(ids) if !ids.iter().any(|known| known == id) => ids.push(id.to_owned()),
                    _ => {}
                }
                job.update_ms = now_ms();
                return Ok(job.clone());
            }
        }
        self.queue_job(sandbox, Some(vec![id.to_owned()]), "definition")
    }

    fn queue_job(
        &self,
        sandbox: &SandboxName,
        segment_ids: Option<Vec<String>>,
        source: &'static str,
    ) -> Result<SegmentJob> {
        let catalog = self.shared.catalog.sandbox(sandbox)?;
        if let Some(ids) = &segment_ids {
            for (i, id) in ids.iter().enumerate() {
                if !catalog.segments.contains_key(id) {
                    return Err(Error::user(
                        Code::SegmentNotFound,
                        format!(
                            "/{i}/segmentId: no segment definition \"{id}\" exists in this sandbox"
                        ),
                    ));
                }
            }
        }
        let now = now_ms();
        let job = SegmentJob {
            id: uuid::Uuid::new_v4().to_string(),
            sandbox: sandbox.clone(),
            segment_ids,
            source,
            status: JobStatus::Queued,
            creation_ms: now,
            update_ms: now,
            metrics: JobMetrics::default(),
            error: None,
        };
        let mut state = self.shared.state.lock();
        state
            .cancels
            .insert(job.id.clone(), Arc::new(AtomicBool::new(false)));
        state.jobs.push_back(job.clone());
        while state.jobs.len() > KEPT {
            if let Some(old) = state.jobs.pop_front() {
                state.cancels.remove(&old.id);
            }
        }
        state.queue.push_back(Work::Job(job.id.clone()));
        self.shared.wake.notify_all();
        Ok(job)
    }

    pub fn job(&self, sandbox: &SandboxName, id: &str) -> Result<SegmentJob> {
        self.shared
            .state
            .lock()
            .jobs
            .iter()
            .find(|j| j.id == id && j.sandbox == *sandbox)
            .cloned()
            .ok_or_else(|| {
                Error::user(
                    Code::SegmentJobNotFound,
                    format!("no segment job \"{id}\" exists in this sandbox"),
                )
            })
    }

    /// The sandbox's jobs, newest first.
    pub fn jobs(&self, sandbox: &SandboxName) -> Vec<SegmentJob> {
        let state = self.shared.state.lock();
        state
            .jobs
            .iter()
            .rev()
            .filter(|j| j.sandbox == *sandbox)
            .cloned()
            .collect()
    }

    /// Cancels a queued or running job.
    pub fn cancel(&self, sandbox: &SandboxName, id: &str) -> Result<SegmentJob> {
        let mut state = self.shared.state.lock();
        let Some(job) = state
            .jobs
            .iter_mut()
            .find(|j| j.id == id && j.sandbox == *sandbox)
        else {
            return Err(Error::user(
                Code::SegmentJobNotFound,
                format!("no segment job \"{id}\" exists in this sandbox"),
            ));
        };
        match job.status {
            JobStatus::Queued => job.status = JobStatus::Cancelled,
            JobStatus::Processing => job.status = JobStatus::Cancelling,
            _ => {}
        }
        job.update_ms = now_ms();
        let job = job.clone();
        if let Some(flag) = state.cancels.get(id) {
            flag.store(true, Ordering::SeqCst);
        }
        Ok(job)
    }

    /// Starts a preview of `expression` (compiled against the sandbox's schemas).
    /// Queues a preview of an expression; a caller whose `clearance` lacks a label of what it
    /// reads is refused (403), as for a definition.
    pub fn create_preview(
        &self,
        sandbox: &SandboxName,
        expression: &str,
        clearance: crate::Clearance<'_>,
    ) -> Result<Preview> {
        let catalog = self.shared.catalog.sandbox(sandbox)?;
        let program = compile_adhoc(&catalog, expression)?;
        clearance.check(
            &catalog
                .label_index
                .expression_labels(program.dependencies()),
            "/predicateExpression",
            "the expression",
        )?;
        let preview = Preview {
            id: uuid::Uuid::new_v4().simple().to_string(),
            sandbox: sandbox.clone(),
            expression: expression.to_owned(),
            state: PreviewState::New,
            profiles_read: 0,
            matched: 0,
            sample: Vec::new(),
            by_namespace: BTreeMap::new(),
            error: None,
        };
        let mut state = self.shared.state.lock();
        state.previews.push_back(preview.clone());
        while state.previews.len() > KEPT {
            state.previews.pop_front();
        }
        state
            .queue
            .push_back(Work::Preview(preview.id.clone(), Arc::new(program)));
        self.shared.wake.notify_all();
        Ok(preview)
    }

    pub fn preview(&self, sandbox: &SandboxName, id: &str) -> Result<Preview> {
        self.shared
            .state
            .lock()
            .previews
            .iter()
            .find(|p| p.id == id && p.sandbox == *sandbox)
            .cloned()
            .ok_or_else(|| {
                Error::user(
                    Code::PreviewNotFound,
                    format!("no preview \"{id}\" exists in this sandbox"),
                )
            })
    }

    pub fn delete_preview(&self, sandbox: &SandboxName, id: &str) -> Result<()> {
        let mut state = self.shared.state.lock();
        let before = state.previews.len();
        state
            .previews
            .retain(|p| !(p.id == id && p.sandbox == *sandbox));
        if state.previews.len() == before {
            return Err(Error::user(
                Code::PreviewNotFound,
                format!("no preview \"{id}\" exists in this sandbox"),
            ));
        }
        Ok(())
    }
}

impl Drop for SegmentJobs {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let state = self.shared.state.lock();
            for flag in state.cancels.values() {
                flag.store(true, Ordering::SeqCst);
            }
        }
        self.shared.wake.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Compiles an expression that is not a saved definition (previews).
pub fn compile_adhoc(catalog: &SandboxCatalog, expression: &str) -> Result<segments::Definition> {
    let profile = crate::catalog::schemas::union_tree(catalog, xdm::Class::Profile)?;
    let event = crate::catalog::schemas::union_tree(catalog, xdm::Class::ExperienceEvent)?;
    let exists = |id: &str| catalog.segments.contains_key(id);
    let context = segments::SchemaContext {
        profile: &profile,
        event: &event,
        segment_exists: &exists,
    };
    segments::compile(expression, &context)
        .map_err(|e| Error::user(Code::InvalidPql, format!("/predicateExpression: {e}")))
}

/// Every live profile id of a sandbox.
pub fn live_profiles(txn: &dyn ReadTxn, sandbox: &SandboxName) -> Result<Vec<ProfileId>> {
    let prefix = keys::sandbox(sandbox);
    let mut ids = Vec::new();
    txn.scan(
        Table::Profiles,
        &prefix,
        &store::prefix_end(&prefix),
        Direction::Forward,
        &mut |key, value| {
            // postcard writes the variant index first, which tells live graphs from forwards.
            if crate::records::is_live_record(value) {
                if let Some(id) = keys::profile_id_of(key) {
                    ids.push(id);
                }
            }
            Scan::Continue
        },
    )?;
    Ok(ids)
}

/// A profile as evaluation reads it: the merged attributes of its prepared view, its
/// memberships and (when needed) its events.
pub struct ProfileForEvaluation {
    pub view: Value,
    pub memberships: Memberships,
    pub events: Option<LoadedEvents>,
}

impl ProfileForEvaluation {
    /// Reads one profile; `None` when it has no current view (being rebuilt) or is gone.
    pub fn read(
        txn: &dyn ReadTxn,
        catalog: &SandboxCatalog,
        sandbox: &SandboxName,
        profile_id: ProfileId,
        needed: &Option<Option<BTreeSet<String>>>,
        decoding: &Decoding,
    ) -> Result<Option<ProfileForEvaluation>> {
        let key = keys::profile(sandbox, profile_id);
        let mut view: Value = match txn.get(Table::Views, &key)?.and_then(decode_view) {
            Some(stored) if stored.stamp == catalog.view_stamp => {
                decoding.view.parse(&stored.json).map_err(Error::internal)?
            }
            _ => return Ok(None),
        };
        // The values are not in the view: they come from the computed record, as of now.
        if decoding.reads_computed {
            if let (Some(values), Some(Value::Object(entity))) = (
                crate::computed::read_values(txn, catalog, sandbox, profile_id)?,
                view.get_mut("entity"),
            ) {
                crate::computed::place_values(entity, &catalog.tenant_key, values);
            }
        }
        let memberships = membership::load(txn, sandbox, profile_id)?;
        let events = membership::load_needed(txn, sandbox, profile_id, needed, decoding)?;
        Ok(Some(ProfileForEvaluation {
            view,
            memberships,
            events,
        }))
    }

    pub fn attributes(&self) -> &Value {
        self.view.get("entity").unwrap_or(&Value::Null)
    }
}

/// The primary identity of a profile record (for preview samples).
fn primary_of(
    txn: &dyn ReadTxn,
    catalog: &SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
) -> Option<crate::IdentityKey> {
    let bytes = txn
        .get(Table::Profiles, &keys::profile(sandbox, profile_id))
        .ok()??;
    match decode::<ProfileRecord>(bytes).ok()? {
        ProfileRecord::Live(graph) => crate::merge::primary_identity(catalog, &graph).cloned(),
        ProfileRecord::Forward(_) => None,
    }
}

/// What a preview counted.
#[derive(Default)]
struct PreviewTally {
    read: u64,
    matched: u64,
    sample: Vec<(ProfileId, Option<crate::IdentityKey>)>,
    by_namespace: BTreeMap<String, u64>,
}

/// What one thread of a job found.
#[derive(Default)]
struct Partial {
    read: u64,
    qualified: BTreeMap<String, u64>,
    realized: BTreeMap<String, u64>,
    exited: BTreeMap<String, u64>,
    stale: Vec<ProfileId>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn run_jobs(&self) {
        loop {
            let work = {
                let mut state = self.state.lock();
                loop {
                    if self.stopped() {
                        return;
                    }
                    if let Some(work) = state.queue.pop_front() {
                        break work;
                    }
                    self.wake.wait_for(&mut state, Duration::from_millis(500));
                }
            };
            // The jobs thread outlives a bug in one job: the job is marked failed, the next runs.
            let run = std::panic::AssertUnwindSafe(|| match &work {
                Work::Job(id) => self.run_job(id),
                Work::Preview(id, program) => self.run_preview(id, program),
                Work::Backfill(sandbox) => self.run_backfill(sandbox),
                Work::Train(id) => self.run_training(id),
            });
            if std::panic::catch_unwind(run).is_err() {
                tracing::error!("a segment job or preview panicked");
                match &work {
                    Work::Job(id) => {
                        self.update_job(id, |job| {
                            job.status = JobStatus::Failed;
                            job.error = Some("the job stopped on an internal error".into());
                        });
                    }
                    Work::Preview(id, _) => self.update_preview(id, |p| {
                        p.state = PreviewState::Failed;
                        p.error = Some("the preview stopped on an internal error".into());
                    }),
                    Work::Backfill(sandbox) => self.update_backfill(sandbox, |b| {
                        b.status = JobStatus::Failed;
                        b.error = Some("the backfill stopped on an internal error".into());
                    }),
                    Work::Train(id) => {
                        self.update_training(id, |r| {
                            r.status = JobStatus::Failed;
                            r.error = Some("the training stopped on an internal error".into());
                        });
                    }
                }
            }
        }
    }

    fn update_training(
        &self,
        id: &str,
        edit: impl FnOnce(&mut TrainingRun),
    ) -> Option<TrainingRun> {
        let mut state = self.state.lock();
        let run = state.trainings.iter_mut().find(|r| r.id == id)?;
        edit(run);
        Some(run.clone())
    }

    /// Trains the models of a run's sandbox, stores them, and scores every profile. Reading
    /// happens in one read transaction: ingestion and lookups go on meanwhile.
    fn run_training(&self, id: &str) {
        let Some(run) = self.update_training(id, |r| {
            r.status = JobStatus::Processing;
            r.phase = "READING";
            r.start_ms = Some(now_ms());
        }) else {
            return;
        };
        let outcome = (|| -> Result<String> {
            let histories = {
                let txn = self.store.read()?;
                crate::scores::read_histories(txn.as_ref(), &run.sandbox, &run.settings)?
            };
            self.update_training(id, |r| {
                r.profiles_read = histories.len() as u64;
                r.phase = "FITTING";
            });
            let models = crate::scores::train(&histories, &run.settings, now_ms());
            drop(histories);
            let version = models.version.clone();
            self.catalog.change(&run.sandbox, |editor| {
                editor.record(crate::catalog::kind::MODELS, "current", &models)?;
                editor.catalog.models = Some(Arc::new(models));
                Ok(())
            })?;
            self.update_training(id, |r| r.phase = "SCORING");
            self.recompute_all(&run.sandbox, |_| {})?;
            Ok(version)
        })();
        self.update_training(id, |r| {
            r.end_ms = Some(now_ms());
            match outcome {
                Ok(version) => {
                    r.status = JobStatus::Succeeded;
                    r.phase = "DONE";
                    r.model_version = Some(version);
                }
                Err(error) => {
                    r.status = JobStatus::Failed;
                    r.error = Some(error.to_string());
                }
            }
        });
    }

    /// Brings every profile's computed attributes and scores up to date through the writer,
    /// a chunk at a time; `progress` hears of the total, then of each chunk done.
    fn recompute_all(
        &self,
        sandbox: &SandboxName,
        mut progress: impl FnMut(Progress),
    ) -> Result<()> {
        let profiles = {
            let txn = self.store.read()?;
            live_profiles(txn.as_ref(), sandbox)?
        };
        progress(Progress::Total(profiles.len()));
        let tenant = self.catalog.sandbox(sandbox)?.tenant_key.clone();
        for chunk in profiles.chunks(WRITER_CHUNK) {
            if self.stopped() {
                break;
            }
            let profiles = chunk.iter().map(|id| (*id, None)).collect();
            self.reevaluate_in_writer(sandbox, profiles, Trigger::Computed(tenant.clone()))?;
            progress(Progress::Done(chunk.len()));
        }
        Ok(())
    }

    /// Queues a training for every sandbox whose models are older than [`RETRAIN_EVERY_MS`].
    /// Queues a sweep expiring old events in each sandbox with a dataset that expires them, once
    /// an hour (and once at start-up, which catches up on time the server was down).
    fn expire_due(&self) {
        let now = now_ms();
        for sandbox in self.catalog.sandbox_names() {
            let expires = self
                .catalog
                .sandbox(&sandbox)
                .is_ok_and(|c| c.datasets.values().any(|d| d.event_ttl_days().is_some()));
            if !expires {
                continue;
            }
            {
                let mut state = self.state.lock();
                let last = state
                    .expired_at_ms
                    .entry(sandbox.clone())
                    .or_insert(i64::MIN);
                if now.saturating_sub(*last) < EXPIRE_EVERY_MS {
                    continue;
                }
                *last = now;
            }
            let task = crate::ingest::writer::SweepTask::ExpireEvents;
            if self.writer.send(Job::logged_sweep(&sandbox, task)).is_err() {
                return;
            }
        }
    }

    fn retrain_due(&self) {
        for sandbox in self.catalog.sandbox_names() {
            let Ok(catalog) = self.catalog.sandbox(&sandbox) else {
                continue;
            };
            let Some(models) = &catalog.models else {
                continue;
            };
            if models.trained_ms + RETRAIN_EVERY_MS > now_ms() {
                continue;
            }
            let mut state = self.state.lock();
            let pending = state.trainings.iter().any(|r| {
                r.sandbox == sandbox
                    && matches!(r.status, JobStatus::Queued | JobStatus::Processing)
            });
            if pending {
                continue;
            }
            // The same choices as last time, on today's data.
            let settings = crate::scores::ScoreSettings {
                cutoff_ms: None,
                as_of_ms: None,
                ..models.settings.clone()
            };
            let run = TrainingRun::queued(&sandbox, settings, "schedule");
            self.enqueue_training(&mut state, run);
        }
    }

    /// Queues a training run, keeping the last hundred runs.
    fn enqueue_training(&self, state: &mut State, run: TrainingRun) {
        state.queue.push_back(Work::Train(run.id.clone()));
        state.trainings.push_back(run);
        while state.trainings.len() > 100 {
            state.trainings.pop_front();
        }
        self.wake.notify_all();
    }

    /// Edits the running (or else the queued) backfill of a sandbox.
    fn update_backfill(&self, sandbox: &SandboxName, edit: impl FnOnce(&mut Backfill)) {
        let mut state = self.state.lock();
        if let Some(list) = state.backfills.get_mut(sandbox) {
            let running = list.iter().position(|b| b.status == JobStatus::Processing);
            let queued = list.iter().position(|b| b.status == JobStatus::Queued);
            if let Some(i) = running.or(queued) {
                edit(&mut list[i]);
            }
        }
    }

    /// Brings every profile's computed attributes up to date, in chunks through the writer.
    fn run_backfill(&self, sandbox: &SandboxName) {
        self.update_backfill(sandbox, |b| {
            b.status = JobStatus::Processing;
            b.start_ms = Some(now_ms());
        });
        let outcome = self.recompute_all(sandbox, |progress| {
            self.update_backfill(sandbox, |b| match progress {
                Progress::Total(n) => b.profiles_total = n as u64,
                Progress::Done(n) => b.profiles_done += n as u64,
            })
        });
        self.update_backfill(sandbox, |b| {
            b.end_ms = Some(now_ms());
            match outcome {
                Ok(()) => b.status = JobStatus::Succeeded,
                Err(error) => {
                    b.status = JobStatus::Failed;
                    b.error = Some(error.to_string());
                }
            }
        });
    }

    fn update_job(&self, id: &str, edit: impl FnOnce(&mut SegmentJob)) -> Option<SegmentJob> {
        let mut state = self.state.lock();
        let job = state.jobs.iter_mut().find(|j| j.id == id)?;
        edit(job);
        job.update_ms = now_ms();
        Some(job.clone())
    }

    fn run_job(&self, id: &str) {
        let Some(job) = self.update_job(id, |job| {
            if job.status == JobStatus::Queued {
                job.status = JobStatus::Processing;
                job.metrics.start_ms = Some(now_ms());
            }
        }) else {
            return;
        };
        if job.status != JobStatus::Processing {
            return;
        }
        let cancel = self
            .state
            .lock()
            .cancels
            .get(id)
            .cloned()
            .unwrap_or_default();
        let outcome = self.evaluate_job(&job, &cancel);
        self.update_job(id, |job| {
            job.metrics.end_ms = Some(now_ms());
            match outcome {
                Ok(metrics) => {
                    let start = job.metrics.start_ms;
                    job.metrics = metrics;
                    job.metrics.start_ms = start;
                    job.metrics.end_ms = Some(now_ms());
                    job.status = if cancel.load(Ordering::SeqCst) {
                        JobStatus::Cancelled
                    } else {
                        JobStatus::Succeeded
                    };
                }
                Err(error) => {
                    job.status = JobStatus::Failed;
                    job.error = Some(error.to_string());
                }
            }
        });
    }

    fn evaluate_job(&self, job: &SegmentJob, cancel: &AtomicBool) -> Result<JobMetrics> {
        let catalog = self.catalog.sandbox(&job.sandbox)?;
        let index = catalog.segment_index.clone();
        let ids: BTreeSet<String> = match &job.segment_ids {
            Some(ids) => ids.iter().cloned().collect(),
            None => index
                .ordered
                .iter()
                .map(|s| s.definition.id.clone())
                .collect(),
        };
        let mask = index.only(&ids);
        let needed = membership::events_needed(&index, &mask);
        let mut metrics = JobMetrics {
            segmentation_start_ms: Some(now_ms()),
            ..JobMetrics::default()
        };
        let profiles = {
            let txn = self.store.read()?;
            live_profiles(txn.as_ref(), &job.sandbox)?
        };
        let now = now_ms();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8);
        let chunk = profiles.len().div_ceil(threads).max(1);
        let partials: Vec<Result<Partial>> = std::thread::scope(|scope| {
            let handles: Vec<_> = profiles
                .chunks(chunk)
                .map(|part| {
                    let (catalog, index, mask, needed) = (&catalog, &index, &mask, &needed);
                    scope.spawn(move || {
                        self.evaluate_part(
                            catalog,
                            index,
                            mask,
                            needed,
                            &job.sandbox,
                            part,
                            now,
                            cancel,
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::internal("a segment job thread panicked")))
                })
                .collect()
        });
        let mut stale = Vec::new();
        for partial in partials {
            let partial = partial?;
            metrics.total_profiles += partial.read;
            for (target, source) in [
                (&mut metrics.qualified, partial.qualified),
                (&mut metrics.realized, partial.realized),
                (&mut metrics.exited, partial.exited),
            ] {
                for (id, n) in source {
                    *target.entry(id).or_default() += n;
                }
            }
            stale.extend(partial.stale);
        }
        for id in &ids {
            metrics.qualified.entry(id.clone()).or_default();
        }
        // The writer evaluates the profiles that changed again, in its own transaction.
        for chunk in stale.chunks(WRITER_CHUNK) {
            if cancel.load(Ordering::SeqCst) {
                break;
            }
            self.reevaluate_in_writer(
                &job.sandbox,
                chunk.iter().map(|id| (*id, None)).collect(),
                Trigger::Definitions(ids.clone()),
            )?;
            metrics.updated_profiles += chunk.len() as u64;
        }
        metrics.segmentation_end_ms = Some(now_ms());
        Ok(metrics)
    }

    #[allow(clippy::too_many_arguments)]
    fn evaluate_part(
        &self,
        catalog: &SandboxCatalog,
        index: &SegmentIndex,
        mask: &[bool],
        needed: &Option<Option<BTreeSet<String>>>,
        sandbox: &SandboxName,
        profiles: &[ProfileId],
        now: i64,
        cancel: &AtomicBool,
    ) -> Result<Partial> {
        let mut partial = Partial::default();
        let txn = self.store.read()?;
        for (i, profile_id) in profiles.iter().enumerate() {
            if i % 256 == 0 && (cancel.load(Ordering::SeqCst) || self.stopped()) {
                break;
            }
            let Some(profile) = ProfileForEvaluation::read(
                txn.as_ref(),
                catalog,
                sandbox,
                *profile_id,
                needed,
                &index.decoding,
            )?
            else {
                // No current view: the writer builds it and evaluates everything.
                partial.stale.push(*profile_id);
                continue;
            };
            partial.read += 1;
            let ProfileForEvaluation {
                view,
                memberships,
                events,
            } = profile;
            let refs = events.as_ref().map(LoadedEvents::refs);
            let was: Vec<bool> = mask
                .iter()
                .zip(&index.ordered)
                .map(|(selected, s)| *selected && memberships.is_realized(&s.definition.id))
                .collect();
            let evaluated = membership::evaluate(
                index,
                mask,
                view.get("entity").unwrap_or(&Value::Null),
                refs.as_deref(),
                memberships,
                now,
            );
            for ((selected, segment), was_in) in mask.iter().zip(&index.ordered).zip(was) {
                if !selected {
                    continue;
                }
                let id = &segment.definition.id;
                let now_in = evaluated.memberships.is_realized(id);
                if now_in {
                    *partial.qualified.entry(id.clone()).or_default() += 1;
                }
                match (was_in, now_in) {
                    (false, true) => *partial.realized.entry(id.clone()).or_default() += 1,
                    (true, false) => *partial.exited.entry(id.clone()).or_default() += 1,
                    _ => {}
                }
            }
            if evaluated.dirty {
                partial.stale.push(*profile_id);
            }
        }
        Ok(partial)
    }

    fn update_preview(&self, id: &str, edit: impl FnOnce(&mut Preview)) {
        let mut state = self.state.lock();
        if let Some(preview) = state.previews.iter_mut().find(|p| p.id == id) {
            edit(preview);
        }
    }

    fn run_preview(&self, id: &str, program: &segments::Definition) {
        let sandbox = {
            let state = self.state.lock();
            match state.previews.iter().find(|p| p.id == id) {
                Some(p) => p.sandbox.clone(),
                None => return,
            }
        };
        self.update_preview(id, |p| p.state = PreviewState::Running);
        let outcome = self.count_preview(&sandbox, program);
        self.update_preview(id, |p| match outcome {
            Ok(tally) => {
                p.profiles_read = tally.read;
                p.matched = tally.matched;
                p.sample = tally.sample;
                p.by_namespace = tally.by_namespace;
                p.state = PreviewState::ResultReady;
            }
            Err(error) => {
                p.state = PreviewState::Failed;
                p.error = Some(error.to_string());
            }
        });
    }

    /// Evaluates a preview's expression over every profile of the sandbox.
    fn count_preview(
        &self,
        sandbox: &SandboxName,
        program: &segments::Definition,
    ) -> Result<PreviewTally> {
        let catalog = self.catalog.sandbox(sandbox)?;
        let txn = self.store.read()?;
        let profiles = live_profiles(txn.as_ref(), sandbox)?;
        let deps = program.dependencies();
        let needed = deps.reads_events.then(|| deps.event_types.clone());
        let decoding = Decoding::of(&catalog.tenant_key, [program]);
        let now = now_ms();
        let mut tally = PreviewTally::default();
        for profile_id in profiles {
            if self.stopped() {
                break;
            }
            let Some(profile) = ProfileForEvaluation::read(
                txn.as_ref(),
                &catalog,
                sandbox,
                profile_id,
                &needed,
                &decoding,
            )?
            else {
                continue;
            };
            tally.read += 1;
            let refs = profile.events.as_ref().map(LoadedEvents::refs);
            let empty = [];
            let in_segment = |other: &str| profile.memberships.is_realized(other);
            let subject = segments::Subject {
                profile: profile.attributes(),
                events: refs.as_deref().unwrap_or(&empty),
                in_segment: &in_segment,
            };
            let qualified = program.evaluate(&subject, now).qualified
                && !membership::opted_out_of_marketing(profile.attributes());
            if qualified {
                tally.matched += 1;
                let primary = primary_of(txn.as_ref(), &catalog, sandbox, profile_id);
                if let Some(primary) = &primary {
                    *tally
                        .by_namespace
                        .entry(primary.namespace.clone())
                        .or_default() += 1;
                }
                if tally.sample.len() < PREVIEW_SAMPLE {
                    tally.sample.push((profile_id, primary));
                }
            }
        }
        Ok(tally)
    }

    /// Has the writer evaluate these profiles again in its transaction, and waits for the commit.
    fn reevaluate_in_writer(
        &self,
        sandbox: &SandboxName,
        profiles: Vec<(ProfileId, Option<i64>)>,
        trigger: Trigger,
    ) -> Result<()> {
        let (sender, receiver) = crossbeam_channel::bounded(1);
        self.writer
            .send(Job::Reevaluate {
                sandbox: sandbox.clone(),
                profiles,
                trigger,
                reply: Box::new(move |r| {
                    let _ = sender.send(r);
                }),
            })
            .map_err(|_| Error::internal("the writer stopped"))?;
        receiver
            .recv()
            .map_err(|_| Error::internal("the writer stopped"))??;
        Ok(())
    }

    /// Wakes every tick and hands profiles whose next check is due to the writer.
    fn run_schedule(&self) {
        while !self.stopped() {
            std::thread::sleep(SCHEDULER_TICK);
            self.retrain_due();
            self.expire_due();
            for sandbox in self.catalog.sandbox_names() {
                if let Err(error) = self.run_due(&sandbox) {
                    tracing::error!(%error, sandbox = %sandbox, "scheduled segment evaluation failed");
                }
            }
        }
    }

    fn run_due(&self, sandbox: &SandboxName) -> Result<()> {
        loop {
            let now = now_ms();
            let due: Vec<(ProfileId, Option<i64>)> = {
                let txn = self.store.read()?;
                let prefix = keys::sandbox(sandbox);
                let mut end = prefix.clone();
                end.extend_from_slice(&keys::encode_time(now.saturating_add(1)));
                let mut due = Vec::new();
                txn.scan(
                    Table::Schedule,
                    &prefix,
                    &end,
                    Direction::Forward,
                    &mut |key, _| {
                        let at = key
                            .get(prefix.len()..prefix.len() + 8)
                            .and_then(keys::decode_time);
                        if let Some(id) = keys::profile_id_of(key) {
                            due.push((id, at));
                        }
                        if due.len() >= WRITER_CHUNK {
                            Scan::Stop
                        } else {
                            Scan::Continue
                        }
                    },
                )?;
                due
            };
            if due.is_empty() || self.stopped() {
                return Ok(());
            }
            let count = due.len();
            self.reevaluate_in_writer(sandbox, due, Trigger::Time)?;
            if count < WRITER_CHUNK {
                return Ok(());
            }
        }
    }
}
