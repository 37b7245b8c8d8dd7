//! The privacy worker: one thread that runs queued privacy jobs and work orders in order, each
//! step persisted before the next, and removes access results past their retention. It
//! resumes whatever the queue holds when the engine opens.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use rapport_types::{ProfileId, SandboxName};
use serde_json::json;
use store::{Direction, Scan, Table};

use super::erase::{graph_names, EraseOutcome, EraseScope, ProfileErase};
use super::jobs::{
    hash_user_id, ErasedTotals, JobStatus, PrivacyAction, PrivacyJob, Product, Step,
};
use super::scrub::{self, Needles};
use super::workorders::WorkOrderStatus;
use super::{load_job, load_work_order, save_job, save_work_order, Privacy, QueueEntry};
use crate::catalog::now_ms;
use crate::error::{Error, Result};
use crate::identity::IdentityKey;
use crate::ingest::Job;
use crate::keys;
use crate::records::{decode, ProfileRecord};

/// How often results past their retention are looked for.
const PRUNE_EVERY_MS: i64 = 60_000;
/// Writer jobs a work order keeps in flight.
const ERASES_IN_FLIGHT: usize = 256;

/// The running worker thread; dropping it stops the thread between steps (the job resumes at
/// the next start).
pub struct PrivacyWorker {
    privacy: Arc<Privacy>,
    thread: Option<JoinHandle<()>>,
}

impl PrivacyWorker {
    pub fn start(privacy: Arc<Privacy>, writer: Sender<Job>) -> PrivacyWorker {
        let context = Context {
            privacy: privacy.clone(),
            writer,
        };
        let thread = std::thread::Builder::new()
            .name("rapport-privacy".into())
            .spawn(move || context.run())
            .ok();
        PrivacyWorker { privacy, thread }
    }
}

impl Drop for PrivacyWorker {
    fn drop(&mut self) {
        self.privacy.stop.store(true, Ordering::SeqCst);
        self.privacy.notify();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Context {
    privacy: Arc<Privacy>,
    writer: Sender<Job>,
}

/// The worker was asked to stop in the middle of a job.
struct Stopped;

type Reply = Receiver<Result<EraseOutcome>>;

impl Context {
    fn run(self) {
        let mut last_prune = i64::MIN;
        while !self.privacy.stopped() {
            let asked = self.privacy.prune_now.swap(false, Ordering::SeqCst);
            if asked || now_ms().saturating_sub(last_prune) >= PRUNE_EVERY_MS {
                last_prune = now_ms();
                if let Err(error) = self.prune_results() {
                    tracing::error!(%error, "removing expired access results failed");
                }
            }
            let next = match self.privacy.queue() {
                Ok(queue) => queue.into_iter().next(),
                Err(error) => {
                    tracing::error!(%error, "reading the privacy queue failed");
                    self.privacy.wait(Duration::from_secs(1));
                    continue;
                }
            };
            let Some((_, entry)) = next else {
                self.privacy.wait(Duration::from_secs(1));
                continue;
            };
            let outcome = match &entry {
                QueueEntry::Privacy { id, .. } => self.run_job(id),
                QueueEntry::WorkOrder { sandbox, id } => self.run_work_order(sandbox, id),
            };
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(Stopped)) => return,
                Err(error) => {
                    if self.privacy.stopped() {
                        return;
                    }
                    tracing::error!(%error, ?entry, "a privacy job failed");
                    let recorded = match &entry {
                        QueueEntry::Privacy { id, .. } => self.fail_job(id, &error),
                        QueueEntry::WorkOrder { sandbox, id } => {
                            self.fail_work_order(sandbox, id, &error)
                        }
                    };
                    if let Err(error) = recorded {
                        tracing::error!(%error, "recording a failed privacy job failed");
                        self.privacy.wait(Duration::from_secs(1));
                    }
                }
            }
        }
    }

    fn stopped(&self) -> bool {
        self.privacy.stopped()
    }

    /// Advances a job one persisted step at a time until it is complete.
    fn run_job(&self, id: &str) -> Result<Result<(), Stopped>> {
        let store = self.privacy.store.as_ref();
        let Some(mut job) = load_job(&*store.read()?, id)? else {
            // A queue entry without its job: nothing to run.
            let mut txn = store.write()?;
            let rows = store::collect_prefix(&*txn, Table::Privacy, keys::PRIVACY_QUEUE)?;
            for (key, _) in rows.iter().filter(|(k, _)| k.ends_with(id.as_bytes())) {
                txn.delete(Table::Privacy, key)?;
            }
            txn.commit()?;
            return Ok(Ok(()));
        };
        loop {
            if self.stopped() {
                return Ok(Err(Stopped));
            }
            let next = match job.step {
                Step::Queued => {
                    job.resolution = Some(super::resolve(store, &self.privacy.catalog, &job)?);
                    Step::Resolved
                }
                Step::Resolved => {
                    if job.action == PrivacyAction::Access {
                        self.write_access(&job)?;
                    }
                    Step::Accessed
                }
                Step::Accessed => {
                    if job.action == PrivacyAction::Delete {
                        match self.erase_job(&job)? {
                            Ok(totals) => job.erased = totals,
                            Err(Stopped) => return Ok(Err(Stopped)),
                        }
                    }
                    Step::Erased
                }
                Step::Erased => {
                    if job.action == PrivacyAction::Delete {
                        let (rows, results) = self.scrub_files(&job)?;
                        job.erased.error_rows = rows;
                        job.erased.access_results = results;
                    }
                    Step::Scrubbed
                }
                Step::Scrubbed => {
                    finish(&mut job);
                    Step::Complete
                }
                Step::Complete => {
                    // Already finished: make sure it left the queue.
                    save_job(store, &job)?;
                    return Ok(Ok(()));
                }
            };
            job.step = next;
            job.modified_ms = now_ms();
            save_job(store, &job)?;
        }
    }

    /// Writes the access result: every found profile, in every sandbox.
    fn write_access(&self, job: &PrivacyJob) -> Result<()> {
        let resolution = job.resolution.clone().unwrap_or_default();
        let mut response = Vec::new();
        {
            let txn = self.privacy.store.read()?;
            for (sandbox, ids) in Privacy::resolved_profiles(&resolution) {
                let catalog = self.privacy.catalog.sandbox(&sandbox)?;
                let mut seen = BTreeSet::new();
                for id in ids {
                    let Some((live, graph)) = super::erase::live_profile(&*txn, &sandbox, id)?
                    else {
                        continue;
                    };
                    if seen.insert(live) {
                        response.push(super::access::profile_json(
                            txn.as_ref(),
                            &catalog,
                            &sandbox,
                            live,
                            &graph,
                            &job.products,
                        )?);
                    }
                }
            }
        }
        let document = json!({"privacyResponse": {"jobId": job.id, "response": response}});
        let bytes = serde_json::to_vec_pretty(&document).map_err(Error::internal)?;
        let path = self.privacy.result_path(&job.id);
        if let Some(dir) = path.parent() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder
                .create(dir)
                .map_err(|e| Error::internal(format!("{}: {e}", dir.display())))?;
        }
        scrub::write_atomically(&path, &bytes)
    }

    /// Erases every resolved profile through the writer, one profile per writer job.
    fn erase_job(&self, job: &PrivacyJob) -> Result<Result<ErasedTotals, Stopped>> {
        let resolution = job.resolution.clone().unwrap_or_default();
        let identity = job.includes(Product::Identity);
        let mut totals = ErasedTotals::default();
        for (sandbox, ids) in Privacy::resolved_profiles(&resolution) {
            let identities = resolution
                .identities
                .get(sandbox.as_str())
                .cloned()
                .unwrap_or_default();
            for id in ids {
                if self.stopped() {
                    return Ok(Err(Stopped));
                }
                let plan = self.plan(&sandbox, id, &identities, identity)?;
                let reply = self.submit_erase(&sandbox, id, EraseScope::Profile(plan))?;
                let outcome = reply
                    .recv()
                    .map_err(|_| Error::internal("the writer stopped"))??;
                if outcome.profile.is_some() {
                    totals.profiles += 1;
                }
                totals.fragments += outcome.fragments;
                totals.events += outcome.events;
                totals.identities += outcome.identities;
                totals.neighbours += outcome.neighbours;
            }
        }
        Ok(Ok(totals))
    }

    /// What the writer needs besides the profile id, found in a read transaction: the
    /// profile's schedule entries, and (when the graph goes) the other graphs whose history
    /// names one of the person's identities.
    fn plan(
        &self,
        sandbox: &SandboxName,
        profile_id: ProfileId,
        identities: &[IdentityKey],
        identity: bool,
    ) -> Result<ProfileErase> {
        let txn = self.privacy.store.read()?;
        let prefix = keys::sandbox(sandbox);
        let end = store::prefix_end(&prefix);
        let own = profile_id.to_be_bytes();
        let mut schedule = Vec::new();
        txn.scan(
            Table::Schedule,
            &prefix,
            &end,
            Direction::Forward,
            &mut |key, _| {
                if key.ends_with(&own) {
                    if let Some(due) = key.get(prefix.len()..).and_then(keys::decode_time) {
                        schedule.push(due);
                    }
                }
                Scan::Continue
            },
        )?;
        let mut neighbours = Vec::new();
        if identity && !identities.is_empty() {
            let names: BTreeSet<IdentityKey> = identities.iter().cloned().collect();
            let values: Vec<&[u8]> = identities.iter().map(|k| k.value.as_bytes()).collect();
            let mut failure = None;
            txn.scan(
                Table::Profiles,
                &prefix,
                &end,
                Direction::Forward,
                &mut |key, value| {
                    // Only a live graph whose bytes hold one of the values is decoded.
                    let live = crate::records::is_live_record(value);
                    if !live || !values.iter().any(|v| contains(value, v)) {
                        return Scan::Continue;
                    }
                    match decode::<ProfileRecord>(value) {
                        Ok(ProfileRecord::Live(graph)) => {
                            if graph_names(&graph, &names) {
                                if let Some(id) = keys::profile_id_of(key) {
                                    if id != profile_id {
                                        neighbours.push(id);
                                    }
                                }
                            }
                            Scan::Continue
                        }
                        Ok(ProfileRecord::Forward(_)) => Scan::Continue,
                        Err(error) => {
                            failure = Some(error);
                            Scan::Stop
                        }
                    }
                },
            )?;
            if let Some(error) = failure {
                return Err(error);
            }
        }
        Ok(ProfileErase {
            identity,
            identities: identities.to_vec(),
            schedule,
            neighbours,
        })
    }

    fn submit_erase(
        &self,
        sandbox: &SandboxName,
        profile_id: ProfileId,
        scope: EraseScope,
    ) -> Result<Reply> {
        let (sender, receiver) = crossbeam_channel::bounded(1);
        self.writer
            .send(Job::Erase {
                sandbox: sandbox.clone(),
                profile_id,
                scope,
                reply: Box::new(move |result| {
                    let _ = sender.send(result);
                }),
            })
            .map_err(|_| Error::internal("the writer stopped"))?;
        Ok(receiver)
    }

    /// Drops the person's identity values from batch error reports and removes earlier access
    /// results naming them (the results of this request's own access job stay: the subject
    /// asked for them). Returns (error rows dropped, access results removed).
    fn scrub_files(&self, job: &PrivacyJob) -> Result<(u64, u64)> {
        let resolution = job.resolution.clone().unwrap_or_default();
        let mut values: BTreeSet<&str> = job.user_ids.iter().map(|u| u.value.as_str()).collect();
        values.extend(
            resolution
                .identities
                .values()
                .flatten()
                .map(|k| k.value.as_str()),
        );
        let needles = Needles::new(values);
        let rows = scrub::scrub_error_reports(&self.privacy.data_dir.join("batches"), &needles)?;
        let store = self.privacy.store.clone();
        let request = job.request_id.clone();
        let keep = move |other: &str| -> bool {
            // The access result of a job of the same request is what the subject asked for.
            store
                .read()
                .ok()
                .and_then(|txn| load_job(&*txn, other).ok().flatten())
                .is_some_and(|o| o.request_id == request && o.action == PrivacyAction::Access)
        };
        let results = scrub::remove_access_results(&self.privacy.results_dir(), &needles, &keep)?;
        Ok((rows, results))
    }

    fn fail_job(&self, id: &str, error: &Error) -> Result<()> {
        let store = self.privacy.store.as_ref();
        let Some(mut job) = load_job(&*store.read()?, id)? else {
            return Ok(());
        };
        let message = format!("Rapport could not complete the job ({error}); submit it again");
        forget_identities(&mut job);
        job.status = JobStatus::Error;
        job.error = Some(message.clone());
        job.modified_ms = now_ms();
        job.completed_ms = Some(job.modified_ms);
        for response in &mut job.product_responses {
            response.status = JobStatus::Error;
            response.message = message.clone();
            response.processed_ms = job.completed_ms;
        }
        save_job(store, &job)
    }

    /// Runs a work order: finds the profile of each identity, then erases their records
    /// through the writer, many profiles in flight at once.
    fn run_work_order(&self, sandbox: &str, id: &str) -> Result<Result<(), Stopped>> {
        let store = self.privacy.store.as_ref();
        let sandbox = SandboxName::parse(sandbox)
            .ok_or_else(|| Error::internal(format!("work order in sandbox {sandbox:?}")))?;
        let Some(mut order) = load_work_order(&*store.read()?, &sandbox, id)? else {
            return Ok(Ok(()));
        };
        if order.status.finished() {
            save_work_order(store, &order)?;
            return Ok(Ok(()));
        }
        if order.status == WorkOrderStatus::Received {
            order.status = WorkOrderStatus::Processing;
            order.updated_ms = now_ms();
            save_work_order(store, &order)?;
        }
        let mut by_profile: BTreeMap<ProfileId, Vec<IdentityKey>> = BTreeMap::new();
        let mut not_found = 0;
        {
            let txn = store.read()?;
            for identity in &order.identities {
                let owner = txn
                    .get(Table::Identities, &keys::identity(&sandbox, identity))?
                    .and_then(ProfileId::from_be_slice);
                match owner {
                    Some(profile_id) => by_profile
                        .entry(profile_id)
                        .or_default()
                        .push(identity.clone()),
                    None => not_found += 1,
                }
            }
        }
        let mut totals = order.totals;
        totals.not_found = not_found;
        let (mut fragments, mut events, mut profiles) = (0, 0, 0);
        let groups: Vec<(ProfileId, Vec<IdentityKey>)> = by_profile.into_iter().collect();
        for chunk in groups.chunks(ERASES_IN_FLIGHT) {
            if self.stopped() {
                return Ok(Err(Stopped));
            }
            let mut replies = Vec::with_capacity(chunk.len());
            for (profile_id, identities) in chunk {
                let scope = EraseScope::Records {
                    dataset: order.dataset.clone(),
                    identities: identities.clone(),
                };
                replies.push(self.submit_erase(&sandbox, *profile_id, scope)?);
            }
            for reply in replies {
                let outcome = reply
                    .recv()
                    .map_err(|_| Error::internal("the writer stopped"))??;
                fragments += outcome.fragments;
                events += outcome.events;
                if outcome.fragments + outcome.events > 0 {
                    profiles += 1;
                }
            }
        }
        totals.fragments = fragments;
        totals.events = events;
        totals.profiles = profiles;
        order.totals = totals;
        order.identities.clear();
        order.status = WorkOrderStatus::Completed;
        order.updated_ms = now_ms();
        save_work_order(store, &order)?;
        Ok(Ok(()))
    }

    fn fail_work_order(&self, sandbox: &str, id: &str, error: &Error) -> Result<()> {
        let store = self.privacy.store.as_ref();
        let Some(sandbox) = SandboxName::parse(sandbox) else {
            return Ok(());
        };
        let Some(mut order) = load_work_order(&*store.read()?, &sandbox, id)? else {
            return Ok(());
        };
        order.identities.clear();
        order.status = WorkOrderStatus::Failed;
        order.error = Some(format!(
            "Rapport could not complete the work order ({error}); submit it again"
        ));
        order.updated_ms = now_ms();
        save_work_order(store, &order)
    }

    /// Removes access results whose job completed longer ago than the retention, and
    /// directories no job owns.
    fn prune_results(&self) -> Result<()> {
        let root = self.privacy.results_dir();
        let Ok(entries) = std::fs::read_dir(&root) else {
            return Ok(());
        };
        let now = now_ms();
        let retention = self.privacy.retention_ms();
        let txn = self.privacy.store.read()?;
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let id = entry.file_name().to_string_lossy().into_owned();
            let expired = match load_job(&*txn, &id)? {
                None => true,
                Some(job) => job
                    .completed_ms
                    .is_some_and(|done| now.saturating_sub(done) >= retention),
            };
            if expired {
                std::fs::remove_dir_all(&path)
                    .map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
            }
        }
        Ok(())
    }
}

/// Whether `haystack` holds `needle` anywhere.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Replaces the user ids by their hashes and drops the identities the job had found.
fn forget_identities(job: &mut PrivacyJob) {
    for user_id in &mut job.user_ids {
        if !user_id.hashed {
            user_id.value = hash_user_id(&user_id.namespace, &user_id.value);
            user_id.hashed = true;
        }
    }
    if let Some(resolution) = &mut job.resolution {
        resolution.identities.clear();
    }
}

/// Marks a job complete with each product's message.
fn finish(job: &mut PrivacyJob) {
    let resolution = job.resolution.clone().unwrap_or_default();
    let profiles = resolution.profile_count();
    let sandboxes = resolution.profiles.len();
    let now = now_ms();
    let erased = job.erased;
    let products = job.products.clone();
    for response in &mut job.product_responses {
        response.status = JobStatus::Complete;
        response.processed_ms = Some(now);
        response.message = if profiles == 0 {
            "No profile matched these identities in any sandbox".to_owned()
        } else {
            match (job.action, response.product) {
                (PrivacyAction::Access, Product::ProfileService) => format!(
                    "Found {profiles} profile(s) in {sandboxes} sandbox(es): the result holds their merged attributes, fragments, events, computed attributes, scores and segment memberships"
                ),
                (PrivacyAction::Access, Product::Identity) => format!(
                    "Found the identity graphs of {profiles} profile(s) in {sandboxes} sandbox(es)"
                ),
                (PrivacyAction::Delete, Product::ProfileService) => {
                    let graph = if products.contains(&Product::Identity) {
                        ""
                    } else {
                        " The identity graph stays (include identity to delete it)."
                    };
                    format!(
                        "Deleted {} profile(s) in {sandboxes} sandbox(es): {} fragment(s), {} event(s), their views, memberships and computed attributes; {} row(s) of batch error reports and {} earlier access result(s) removed. Data that arrives after the job started forms a profile again; the bytes leave the store file at its next rewrite.{graph}",
                        erased.profiles, erased.fragments, erased.events, erased.error_rows, erased.access_results
                    )
                }
                (PrivacyAction::Delete, Product::Identity) => format!(
                    "Deleted {} identit(ies) and the identity graphs of {} profile(s); {} other graph(s) no longer name them",
                    erased.identities, erased.profiles, erased.neighbours
                ),
            }
        };
    }
    forget_identities(job);
    job.status = JobStatus::Complete;
    job.completed_ms = Some(now);
}
