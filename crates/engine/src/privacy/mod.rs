//! Privacy requests and data hygiene: privacy jobs (access and delete, over every sandbox, at
//! profile level) and hygiene work orders (record deletes in one sandbox, at fragment level),
//! kept in the Privacy table and run by the [`PrivacyWorker`] thread.
//!
//! A job moves through `queued → resolved → accessed → erased → scrubbed → complete`, each
//! step persisted before the next starts; the worker resumes unfinished jobs at start-up. The
//! erasure itself is a writer job (`Job::Erase`, one profile per job, see [`erase`]); the
//! worker scrubs the files (batch error reports, earlier access results) and, when a job is
//! finished, replaces its user ids by one-way hashes so the record keeps no identity.
//!
//! Privacy table layout: `job \0 id` → [`PrivacyJob`] (JSON); `workorder \0 sandbox \0 id` →
//! [`WorkOrder`] (JSON); `queue \0 created(8) id` → what to run next ([`QueueEntry`], JSON).

pub mod access;
pub mod erase;
pub mod jobs;
pub mod scrub;
mod worker;
pub mod workorders;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rapport_types::{Code, ProfileId, SandboxName};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::{Direction, ReadTxn, Scan, Store, Table, WriteTxn};

pub use jobs::{
    JobStatus, PrivacyAction, PrivacyJob, PrivacyJobFilter, PrivacyJobPage, Product, Resolution,
    Step,
};
pub use worker::PrivacyWorker;
pub use workorders::{WorkOrder, WorkOrderStatus};

use crate::catalog::{now_ms, Catalog};
use crate::error::{Error, Result};
use crate::identity::namespace::IdType;
use crate::identity::IdentityKey;
use crate::keys;
use crate::lookup::{self, EntityRef};

/// How long an access result is kept after its job completed, unless set otherwise.
pub const DEFAULT_RESULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the worker runs next, stored under `queue \0 created(8) id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum QueueEntry {
    Privacy { id: String, action: PrivacyAction },
    WorkOrder { sandbox: String, id: String },
}

fn decode_json<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::internal(format!("stored {what}: {e}")))
}

fn encode_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(Error::internal)
}

/// Reads one privacy job.
pub fn load_job(txn: &(impl ReadTxn + ?Sized), id: &str) -> Result<Option<PrivacyJob>> {
    txn.get(Table::Privacy, &keys::privacy_job(id))?
        .map(|bytes| decode_json("privacy job", bytes))
        .transpose()
}

/// Visits every stored privacy job, in id order; a job that does not decode stops the visit
/// with its error.
fn each_job(txn: &(impl ReadTxn + ?Sized), mut visit: impl FnMut(PrivacyJob)) -> Result<()> {
    let mut failure = None;
    txn.scan(
        Table::Privacy,
        keys::PRIVACY_JOBS,
        &store::prefix_end(keys::PRIVACY_JOBS),
        Direction::Forward,
        &mut |_, value| match decode_json::<PrivacyJob>("privacy job", value) {
            Ok(job) => {
                visit(job);
                Scan::Continue
            }
            Err(error) => {
                failure = Some(error);
                Scan::Stop
            }
        },
    )?;
    failure.map_or(Ok(()), Err)
}

/// Notes on every completed delete job not yet noted that the data file was rewritten at
/// `at_ms` (by `rapport store rewrite`, with the store held exclusively); returns how many.
pub fn note_rewrite(store: &dyn Store, at_ms: i64) -> Result<usize> {
    let mut pending = Vec::new();
    each_job(&*store.read()?, |job| {
        if job.action == PrivacyAction::Delete
            && job.status == JobStatus::Complete
            && job.physically_erased_ms.is_none()
        {
            pending.push(job);
        }
    })?;
    let mut txn = store.write()?;
    for job in &mut pending {
        job.physically_erased_ms = Some(at_ms);
        put_job(txn.as_mut(), job)?;
    }
    txn.commit()?;
    Ok(pending.len())
}

/// Stores new jobs and queues them, in one transaction.
pub fn insert_jobs(store: &dyn Store, jobs: &[PrivacyJob]) -> Result<()> {
    let mut txn = store.write()?;
    for job in jobs {
        put_job(txn.as_mut(), job)?;
    }
    txn.commit()?;
    Ok(())
}

fn put_job(txn: &mut dyn WriteTxn, job: &PrivacyJob) -> Result<()> {
    txn.put(
        Table::Privacy,
        &keys::privacy_job(&job.id),
        &encode_json(job)?,
    )?;
    let queue = keys::privacy_queue(job.created_ms, &job.id);
    if job.status == JobStatus::Processing {
        let entry = QueueEntry::Privacy {
            id: job.id.clone(),
            action: job.action,
        };
        txn.put(Table::Privacy, &queue, &encode_json(&entry)?)?;
    } else {
        txn.delete(Table::Privacy, &queue)?;
    }
    Ok(())
}

/// Stores a job as it now is; a finished job leaves the queue in the same transaction.
pub fn save_job(store: &dyn Store, job: &PrivacyJob) -> Result<()> {
    let mut txn = store.write()?;
    put_job(txn.as_mut(), job)?;
    txn.commit()?;
    Ok(())
}

/// Reads one work order.
pub fn load_work_order(
    txn: &(impl ReadTxn + ?Sized),
    sandbox: &SandboxName,
    id: &str,
) -> Result<Option<WorkOrder>> {
    txn.get(Table::Privacy, &keys::work_order(sandbox, id))?
        .map(|bytes| decode_json("work order", bytes))
        .transpose()
}

/// Stores a work order as it now is, queued while unfinished.
pub fn save_work_order(store: &dyn Store, order: &WorkOrder) -> Result<()> {
    let sandbox = SandboxName::parse(&order.sandbox)
        .ok_or_else(|| Error::internal(format!("work order in sandbox {:?}", order.sandbox)))?;
    let mut txn = store.write()?;
    txn.put(
        Table::Privacy,
        &keys::work_order(&sandbox, &order.id),
        &encode_json(order)?,
    )?;
    let queue = keys::privacy_queue(order.created_ms, &order.id);
    if order.status.finished() {
        txn.delete(Table::Privacy, &queue)?;
    } else {
        let entry = QueueEntry::WorkOrder {
            sandbox: order.sandbox.clone(),
            id: order.id.clone(),
        };
        txn.put(Table::Privacy, &queue, &encode_json(&entry)?)?;
    }
    txn.commit()?;
    Ok(())
}

/// Every sandbox that holds profiles or has a catalog: the catalog's, and the sandbox prefixes
/// found in the Identities table (one seek per sandbox).
pub fn sandboxes(txn: &(impl ReadTxn + ?Sized), catalog: &Catalog) -> Result<Vec<SandboxName>> {
    let mut found: BTreeSet<SandboxName> = catalog.sandbox_names().into_iter().collect();
    let mut start: Vec<u8> = Vec::new();
    loop {
        let mut first: Option<Vec<u8>> = None;
        txn.scan(
            Table::Identities,
            &start,
            b"",
            Direction::Forward,
            &mut |key, _| {
                first = Some(key.to_vec());
                Scan::Stop
            },
        )?;
        let Some(key) = first else { break };
        let Some(end) = key.iter().position(|b| *b == 0) else {
            break;
        };
        if let Some(name) = std::str::from_utf8(&key[..end])
            .ok()
            .and_then(SandboxName::parse)
        {
            found.insert(name);
        }
        start = store::prefix_end(&key[..=end]);
        if start.is_empty() {
            break;
        }
    }
    Ok(found.into_iter().collect())
}

/// The values an identity may be stored under: as given, trimmed, and for email namespaces
/// lowercased (a request often spells an address differently from the data).
fn value_variants(value: &str, id_type: Option<IdType>) -> Vec<String> {
    let mut variants = vec![value.to_owned()];
    let trimmed = value.trim();
    if trimmed != value {
        variants.push(trimmed.to_owned());
    }
    if id_type == Some(IdType::Email) {
        let lowered = trimmed.to_lowercase();
        if !variants.contains(&lowered) {
            variants.push(lowered);
        }
    }
    variants
}

/// Resolves a job's user ids to their stitched profiles in every sandbox, with every identity
/// of those profiles' graphs.
pub fn resolve(store: &dyn Store, catalog: &Catalog, job: &PrivacyJob) -> Result<Resolution> {
    let txn = store.read()?;
    let mut resolution = Resolution::default();
    for sandbox in sandboxes(&*txn, catalog)? {
        let snapshot = catalog.sandbox(&sandbox)?;
        let mut profiles: BTreeSet<ProfileId> = BTreeSet::new();
        let mut identities: BTreeSet<IdentityKey> = BTreeSet::new();
        for user_id in &job.user_ids {
            let Some(namespace) = snapshot.namespace(&user_id.namespace) else {
                continue;
            };
            for value in value_variants(&user_id.value, Some(namespace.id_type)) {
                let key = IdentityKey::new(namespace.code.clone(), value);
                let Some((profile_id, graph)) =
                    lookup::resolve(txn.as_ref(), &sandbox, &EntityRef::Identity(key.clone()))?
                else {
                    continue;
                };
                identities.insert(key);
                identities.extend(graph.nodes.iter().map(|n| n.identity.clone()));
                profiles.insert(profile_id);
            }
        }
        if !profiles.is_empty() {
            resolution
                .profiles
                .insert(sandbox.as_str().to_owned(), profiles.into_iter().collect());
            resolution.identities.insert(
                sandbox.as_str().to_owned(),
                identities.into_iter().collect(),
            );
        }
    }
    Ok(resolution)
}

/// Privacy jobs and work orders: their records, and the wake-up of the worker.
pub struct Privacy {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    data_dir: PathBuf,
    retention_ms: AtomicI64,
    /// Look for expired access results at the worker's next turn (the retention changed).
    prune_now: AtomicBool,
    pending: Mutex<bool>,
    wake: Condvar,
    stop: AtomicBool,
}

impl Privacy {
    pub fn new(store: Arc<dyn Store>, catalog: Arc<Catalog>, data_dir: &Path) -> Privacy {
        Privacy {
            store,
            catalog,
            data_dir: data_dir.to_path_buf(),
            retention_ms: AtomicI64::new(DEFAULT_RESULT_RETENTION.as_millis() as i64),
            prune_now: AtomicBool::new(true),
            pending: Mutex::new(true),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        }
    }

    /// `<data-dir>/privacy`: one directory per access job, holding its result.
    pub fn results_dir(&self) -> PathBuf {
        self.data_dir.join("privacy")
    }

    /// Where an access job's result is written.
    pub fn result_path(&self, job_id: &str) -> PathBuf {
        self.results_dir().join(job_id).join(scrub::ACCESS_FILE)
    }

    /// How long access results are kept after their job completed.
    pub fn set_result_retention(&self, retention: Duration) {
        self.retention_ms
            .store(retention.as_millis() as i64, Ordering::Relaxed);
        self.prune_now.store(true, Ordering::SeqCst);
        self.notify();
    }

    fn retention_ms(&self) -> i64 {
        self.retention_ms.load(Ordering::Relaxed)
    }

    fn notify(&self) {
        *self.pending.lock() = true;
        self.wake.notify_all();
    }

    /// Waits until something was queued (or `timeout` passed).
    fn wait(&self, timeout: Duration) {
        let mut pending = self.pending.lock();
        if !*pending && !self.stopped() {
            self.wake.wait_for(&mut pending, timeout);
        }
        *pending = false;
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Checks a request and queues its jobs (one per data subject and action).
    pub fn create_jobs(&self, body: &Value, submitted_by: &str) -> Result<Vec<PrivacyJob>> {
        let jobs = jobs::parse_request(body, submitted_by, now_ms())?;
        insert_jobs(self.store.as_ref(), &jobs)?;
        self.notify();
        Ok(jobs)
    }

    pub fn job(&self, id: &str) -> Result<PrivacyJob> {
        let txn = self.store.read()?;
        load_job(&*txn, id)?.ok_or_else(|| job_not_found(id))
    }

    /// The jobs the filter matches, newest first, one page of them.
    pub fn jobs(&self, filter: &PrivacyJobFilter) -> Result<PrivacyJobPage> {
        let mut matching = Vec::new();
        each_job(&*self.store.read()?, |job| {
            if filter.matches(&job) {
                matching.push(job);
            }
        })?;
        matching.sort_by(|a, b| {
            b.created_ms
                .cmp(&a.created_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        let total = matching.len();
        let jobs = matching
            .into_iter()
            .skip(filter.page.saturating_mul(filter.size))
            .take(filter.size)
            .collect();
        Ok(PrivacyJobPage {
            jobs,
            total,
            page: filter.page,
            size: filter.size,
        })
    }

    /// The result of a completed access job: `{"privacyResponse": {"jobId", "response": [..]}}`.
    pub fn access_result(&self, id: &str) -> Result<Value> {
        let job = self.job(id)?;
        if job.action != PrivacyAction::Access {
            return Err(Error::user(
                Code::InvalidPrivacyJob,
                format!("job {id} is a delete job: only access jobs have a result"),
            ));
        }
        match job.status {
            JobStatus::Processing => {
                return Err(Error::user(
                    Code::PrivacyJobNotFound,
                    format!(
                        "job {id} has no result yet: it is at step {}; the result is ready when its status is complete",
                        job.step.as_str()
                    ),
                ))
            }
            JobStatus::Error => {
                return Err(Error::user(
                    Code::PrivacyJobNotFound,
                    format!(
                        "job {id} failed and has no result: {}",
                        job.error.as_deref().unwrap_or("see the server log")
                    ),
                ))
            }
            JobStatus::Complete => {}
        }
        let path = self.result_path(&job.id);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let days = self.retention_ms() / 86_400_000;
                return Err(Error::user(
                    Code::PrivacyJobNotFound,
                    format!("the result of job {id} is no longer kept: results are removed {days} day(s) after their job completes, or by a later delete job for the same person"),
                ));
            }
            Err(error) => return Err(Error::internal(format!("{}: {error}", path.display()))),
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::internal(format!("{}: {e}", path.display())))
    }

    /// Checks a work order for `sandbox` and queues it.
    pub fn create_work_order(
        &self,
        sandbox: &SandboxName,
        body: &Value,
        created_by: &str,
    ) -> Result<WorkOrder> {
        let catalog = self.catalog.sandbox(sandbox)?;
        let order = workorders::parse(sandbox, &catalog, body, created_by, now_ms())?;
        save_work_order(self.store.as_ref(), &order)?;
        self.notify();
        Ok(order)
    }

    pub fn work_order(&self, sandbox: &SandboxName, id: &str) -> Result<WorkOrder> {
        let txn = self.store.read()?;
        load_work_order(&*txn, sandbox, id)?.ok_or_else(|| {
            Error::user(
                Code::WorkOrderNotFound,
                format!("no work order \"{id}\" exists in this sandbox"),
            )
        })
    }

    /// The unfinished jobs and work orders, in the order they run.
    pub fn queue(&self) -> Result<Vec<(i64, QueueEntry)>> {
        let txn = self.store.read()?;
        let rows = store::collect_prefix(&*txn, Table::Privacy, keys::PRIVACY_QUEUE)?;
        let mut entries = Vec::with_capacity(rows.len());
        for (key, value) in rows {
            let created = key
                .get(keys::PRIVACY_QUEUE.len()..)
                .and_then(keys::decode_time)
                .unwrap_or(0);
            entries.push((created, decode_json::<QueueEntry>("queue entry", &value)?));
        }
        // Within one instant a subject's access runs before their delete.
        entries.sort_by_key(|(created, entry)| {
            let rank = match entry {
                QueueEntry::Privacy {
                    action: PrivacyAction::Access,
                    ..
                } => 0,
                QueueEntry::Privacy { .. } => 1,
                QueueEntry::WorkOrder { .. } => 2,
            };
            (*created, rank)
        });
        Ok(entries)
    }

    /// Profiles per sandbox of a resolution, parsed.
    fn resolved_profiles(resolution: &Resolution) -> BTreeMap<SandboxName, Vec<ProfileId>> {
        resolution
            .profiles
            .iter()
            .filter_map(|(name, ids)| SandboxName::parse(name).map(|s| (s, ids.clone())))
            .collect()
    }
}

fn job_not_found(id: &str) -> Error {
    Error::user(
        Code::PrivacyJobNotFound,
        format!("no privacy job \"{id}\" exists"),
    )
}
