//! The single writer thread: takes jobs from a channel, applies as many as are waiting in one
//! transaction (group commit), commits, and only then answers each job.
//!
//! A job is acknowledged only after the commit that holds it, so an acknowledged write is
//! durable and visible to the next read. Work over a whole sandbox (sweeps) runs in chunks of
//! its own transactions between groups, so it never holds up ingestion for long.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use rapport_types::{ProfileId, SandboxName};
use store::{Direction, Scan, Store, Table, WriteTxn};

use super::apply::{
    apply_write, delete_profile, expire_events, purge_dataset, refresh_view, ApplyContext,
};
use super::prepare::PreparedWrite;
use crate::catalog::{now_ms, Catalog};
use crate::error::{Error, Result};
use crate::guardrails::{Guardrail, GuardrailHit, Subject};
use crate::keys;
use crate::privacy::erase::{EraseOutcome, EraseScope};
use crate::records::encode_live;
use crate::segment::Trigger;

/// The most writes applied in one transaction.
const MAX_WRITES_PER_COMMIT: usize = 8192;
/// Profiles a sweep visits per transaction.
const SWEEP_CHUNK: usize = 1000;

pub type Reply<T> = Box<dyn FnOnce(Result<T>) + Send>;

/// What a sweep does to every profile of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepTask {
    /// Rebuild the prepared view (the default merge policy or namespace priorities changed).
    RebuildViews,
    /// Remove every fragment and event of a deleted dataset, then rebuild the view.
    PurgeDataset { dataset: String },
    /// Remove the events older than their dataset's `rapport:eventTtlDays`, rebuild the views
    /// of the profiles that lost some, and delete those left with neither events nor records.
    ExpireEvents,
}

/// One unit of work for the writer.
pub enum Job {
    /// Records and events; the reply gets one result per write, in order: the profile each
    /// landed in, or `None` for a dataset that feeds neither the profile nor the graph.
    Ingest {
        writes: Vec<PreparedWrite>,
        reply: Reply<Vec<Result<Option<ProfileId>>>>,
    },
    /// Deletes a profile and everything under it.
    DeleteProfile {
        sandbox: SandboxName,
        profile_id: ProfileId,
        reply: Reply<bool>,
    },
    /// Erases what a privacy job or a hygiene work order removes from one profile (the id may
    /// be merged away: its survivor is meant); idempotent, see `privacy::erase`.
    Erase {
        sandbox: SandboxName,
        profile_id: ProfileId,
        scope: EraseScope,
        reply: Reply<EraseOutcome>,
    },
    /// Re-evaluates the segment memberships of these profiles (time passed, or a segment job
    /// found them out of date), each with the Schedule entry that made it due, which goes;
    /// the reply gets how many were live.
    Reevaluate {
        sandbox: SandboxName,
        profiles: Vec<(ProfileId, Option<i64>)>,
        trigger: Trigger,
        reply: Reply<usize>,
    },
    /// Visits every profile of a sandbox; the reply gets the number of profiles visited.
    Sweep {
        sandbox: SandboxName,
        task: SweepTask,
        reply: Reply<usize>,
    },
}

impl Job {
    /// A sweep whose outcome is logged: visited profiles at `info`, a failure at `error`.
    pub fn logged_sweep(sandbox: &SandboxName, task: SweepTask) -> Job {
        let sandbox_name = sandbox.clone();
        let what = format!("{task:?}");
        Job::Sweep {
            sandbox: sandbox.clone(),
            task,
            reply: Box::new(move |result| match result {
                Ok(visited) => {
                    tracing::info!(sandbox = %sandbox_name, task = %what, visited, "sweep finished")
                }
                Err(error) => {
                    tracing::error!(%error, sandbox = %sandbox_name, task = %what, "sweep failed")
                }
            }),
        }
    }
}

/// A sweep in progress: where it stopped.
struct Sweep {
    sandbox: SandboxName,
    task: SweepTask,
    resume_at: Vec<u8>,
    visited: usize,
    reply: Reply<usize>,
}

/// What a job produced before commit, waiting to be answered.
enum Outcome {
    Ingest(
        Reply<Vec<Result<Option<ProfileId>>>>,
        Vec<Result<Option<ProfileId>>>,
    ),
    Delete(Reply<bool>, bool),
    Count(Reply<usize>, usize),
    Erase(Reply<EraseOutcome>, EraseOutcome),
}

impl Outcome {
    fn answer(self) {
        match self {
            Outcome::Ingest(reply, results) => reply(Ok(results)),
            Outcome::Delete(reply, found) => reply(Ok(found)),
            Outcome::Count(reply, count) => reply(Ok(count)),
            Outcome::Erase(reply, outcome) => reply(Ok(outcome)),
        }
    }

    fn fail(self, error: &Error) {
        match self {
            Outcome::Ingest(reply, _) => reply(Err(not_committed(error))),
            Outcome::Delete(reply, _) => reply(Err(not_committed(error))),
            Outcome::Count(reply, _) => reply(Err(not_committed(error))),
            Outcome::Erase(reply, _) => reply(Err(not_committed(error))),
        }
    }
}

fn not_committed(error: &Error) -> Error {
    Error::Internal(format!("the write was not committed: {error}"))
}

/// What the writer thread has done since it started, and where its time went: what a
/// throughput ceiling is made of (`/metrics` shows it).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Write transactions committed.
    pub commits: AtomicU64,
    /// Records and events applied by committed ingestion transactions.
    pub writes: AtomicU64,
    /// Nanoseconds spent applying jobs inside transactions (before their commit).
    pub apply_nanos: AtomicU64,
    /// Nanoseconds spent committing (writing pages and syncing them to disk).
    pub commit_nanos: AtomicU64,
}

impl WriterStats {
    fn add(counter: &AtomicU64, elapsed: std::time::Duration) {
        counter.fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// The handle that submits jobs to the writer thread.
pub struct Writer {
    sender: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

/// Settings the writer applies to every write.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub graph_limit: usize,
    /// Counts the write transactions committed (a change signal for readers that poll), and
    /// where the writer's time goes.
    pub stats: Arc<WriterStats>,
    /// The guardrails' limits, and where their hits are counted.
    pub guardrails: Arc<crate::guardrails::Guardrails>,
}

impl Writer {
    pub fn start(store: Arc<dyn Store>, catalog: Arc<Catalog>, settings: WriterSettings) -> Writer {
        let (sender, receiver) = crossbeam_channel::bounded::<Job>(4096);
        let thread = std::thread::Builder::new()
            .name("rapport-writer".into())
            .spawn(move || WriterLoop::new(store.as_ref(), &catalog, &settings).run(receiver))
            .ok();
        Writer {
            sender: Some(sender),
            thread,
        }
    }

    /// A handle for another thread to submit jobs with. The holder must drop it before the
    /// writer is dropped, or the writer thread never sees the channel close.
    pub(crate) fn sender(&self) -> Option<Sender<Job>> {
        self.sender.clone()
    }

    /// Queues a job; fails only when the writer has stopped.
    pub fn submit(&self, job: Job) -> Result<()> {
        let sender = self
            .sender
            .as_ref()
            .ok_or_else(|| Error::internal("the writer has stopped"))?;
        sender
            .send(job)
            .map_err(|_| Error::internal("the writer has stopped"))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Hands out strictly increasing write sequence numbers: microseconds of the write's arrival,
/// bumped past the previous one, so the order of commits survives restarts and equal milliseconds.
struct Sequencer {
    last: u64,
}

impl Sequencer {
    fn next(&mut self, received_ms: i64) -> u64 {
        self.last = (received_ms.max(0) as u64 * 1000).max(self.last + 1);
        self.last
    }
}

struct WriterLoop<'a> {
    store: &'a dyn Store,
    catalog: &'a Catalog,
    settings: &'a WriterSettings,
    sequencer: Sequencer,
    sweeps: VecDeque<Sweep>,
}

impl<'a> WriterLoop<'a> {
    fn committed(&self) {
        self.settings.stats.commits.fetch_add(1, Ordering::Release);
    }

    fn new(
        store: &'a dyn Store,
        catalog: &'a Catalog,
        settings: &'a WriterSettings,
    ) -> WriterLoop<'a> {
        WriterLoop {
            store,
            catalog,
            settings,
            sequencer: Sequencer { last: 0 },
            sweeps: VecDeque::new(),
        }
    }

    fn run(mut self, receiver: Receiver<Job>) {
        loop {
            // Wait for work only when no sweep is pending; otherwise take what is queued and
            // give the sweep one chunk.
            let first = if self.sweeps.is_empty() {
                match receiver.recv() {
                    Ok(job) => Some(job),
                    Err(_) => return,
                }
            } else {
                receiver.try_recv().ok()
            };
            if let Some(first) = first {
                let mut jobs = vec![first];
                let mut writes = 0;
                while writes < MAX_WRITES_PER_COMMIT {
                    match receiver.try_recv() {
                        Ok(job) => {
                            if let Job::Ingest { writes: batch, .. } = &job {
                                writes += batch.len();
                            }
                            jobs.push(job);
                        }
                        Err(_) => break,
                    }
                }
                self.commit_group(jobs);
            }
            self.sweep_chunk();
        }
    }

    fn commit_group(&mut self, jobs: Vec<Job>) {
        let mut txn = match self.store.write() {
            Ok(txn) => txn,
            Err(error) => {
                let error = Error::from(error);
                jobs.into_iter().for_each(|job| fail_job(job, &error));
                return;
            }
        };
        let started = Instant::now();
        let writes: usize = jobs
            .iter()
            .map(|job| match job {
                Job::Ingest { writes, .. } => writes.len(),
                _ => 0,
            })
            .sum();
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut failure: Option<Error> = None;
        for job in jobs {
            if let Some(error) = &failure {
                fail_job(job, error);
                continue;
            }
            match self.run_job(txn.as_mut(), job) {
                Ok(Some(outcome)) => outcomes.push(outcome),
                Ok(None) => {}
                Err(error) => failure = Some(error),
            }
        }
        let applied = Instant::now();
        let result = match failure {
            Some(error) => Err(error),
            None => txn.commit().map_err(Error::from),
        };
        let stats = &self.settings.stats;
        WriterStats::add(&stats.apply_nanos, applied - started);
        WriterStats::add(&stats.commit_nanos, applied.elapsed());
        if result.is_ok() {
            stats.writes.fetch_add(writes as u64, Ordering::Relaxed);
            self.committed();
        }
        match result {
            Ok(()) => outcomes.into_iter().for_each(Outcome::answer),
            Err(error) => {
                // Event counts taken in the failed transaction may be wrong: count again.
                self.settings.guardrails.forget_event_counts();
                tracing::error!(%error, "write transaction failed; nothing in it was acknowledged");
                outcomes.into_iter().for_each(|o| o.fail(&error));
            }
        }
    }

    /// Applies one job. A user error stays with its write; a storage error aborts the group.
    fn run_job(&mut self, txn: &mut dyn WriteTxn, job: Job) -> Result<Option<Outcome>> {
        match job {
            Job::Ingest { writes, reply } => {
                let mut results = Vec::with_capacity(writes.len());
                for write in &writes {
                    let snapshot = self.catalog.sandbox(&write.sandbox)?;
                    let context = ApplyContext {
                        catalog: &snapshot,
                        graph_limit: self.settings.graph_limit,
                        guardrails: &self.settings.guardrails,
                        sequence: self.sequencer.next(write.received_ms),
                    };
                    match apply_write(txn, &context, write) {
                        Ok(profile_id) => results.push(Ok(profile_id)),
                        Err(error @ Error::User { .. }) => results.push(Err(error)),
                        Err(error) => return Err(error),
                    }
                }
                Ok(Some(Outcome::Ingest(reply, results)))
            }
            Job::DeleteProfile {
                sandbox,
                profile_id,
                reply,
            } => {
                let found = delete_profile(txn, &sandbox, profile_id)?;
                self.settings
                    .guardrails
                    .forget_event_count(&sandbox, profile_id);
                Ok(Some(Outcome::Delete(reply, found)))
            }
            Job::Erase {
                sandbox,
                profile_id,
                scope,
                reply,
            } => {
                let snapshot = self.catalog.sandbox(&sandbox)?;
                let outcome = crate::privacy::erase::erase(
                    txn,
                    &snapshot,
                    &sandbox,
                    profile_id,
                    &scope,
                    now_ms(),
                )?;
                if let Some(live) = outcome.profile {
                    self.settings.guardrails.forget_event_count(&sandbox, live);
                }
                Ok(Some(Outcome::Erase(reply, outcome)))
            }
            Job::Reevaluate {
                sandbox,
                profiles,
                trigger,
                reply,
            } => {
                let snapshot = self.catalog.sandbox(&sandbox)?;
                let mut live = 0;
                for (profile_id, due) in profiles {
                    if let Some(due) = due {
                        crate::segment::membership::clear_schedule_entry(
                            txn, &sandbox, profile_id, due,
                        )?;
                    }
                    if reevaluate_one(txn, &snapshot, &sandbox, profile_id, &trigger)? {
                        live += 1;
                    }
                }
                Ok(Some(Outcome::Count(reply, live)))
            }
            Job::Sweep {
                sandbox,
                task,
                reply,
            } => {
                let resume_at = keys::sandbox(&sandbox);
                self.sweeps.push_back(Sweep {
                    sandbox,
                    task,
                    resume_at,
                    visited: 0,
                    reply,
                });
                Ok(None)
            }
        }
    }

    /// Gives the oldest pending sweep one transaction of up to `SWEEP_CHUNK` profiles.
    fn sweep_chunk(&mut self) {
        let Some(mut sweep) = self.sweeps.pop_front() else {
            return;
        };
        match self.run_chunk(&mut sweep) {
            Ok(true) => {
                let visited = sweep.visited;
                (sweep.reply)(Ok(visited));
            }
            Ok(false) => self.sweeps.push_back(sweep),
            Err(error) => {
                tracing::error!(%error, sandbox = %sweep.sandbox, "a sweep failed; it stopped where it was");
                (sweep.reply)(Err(error));
            }
        }
    }

    /// Runs one chunk; returns whether the sweep is finished.
    fn run_chunk(&mut self, sweep: &mut Sweep) -> Result<bool> {
        let snapshot = self.catalog.sandbox(&sweep.sandbox)?;
        let mut txn = self.store.write()?;
        let end = store::prefix_end(&keys::sandbox(&sweep.sandbox));
        let mut profile_ids = Vec::with_capacity(SWEEP_CHUNK);
        let mut last_key = None;
        txn.scan(
            Table::Profiles,
            &sweep.resume_at,
            &end,
            Direction::Forward,
            &mut |key, _| {
                if profile_ids.len() == SWEEP_CHUNK {
                    return Scan::Stop;
                }
                if let Some(id) = keys::profile_id_of(key) {
                    profile_ids.push(id);
                }
                last_key = Some(key.to_vec());
                Scan::Continue
            },
        )?;
        let now = now_ms();
        // Dataset → (the instant before which its events have expired, its expiration in days).
        let cutoffs: BTreeMap<String, (i64, u32)> = match sweep.task {
            SweepTask::ExpireEvents => snapshot
                .datasets
                .values()
                .filter_map(|d| {
                    Some((
                        d.id.clone(),
                        (d.event_expiry_cutoff_ms(now)?, d.event_ttl_days()?),
                    ))
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        for profile_id in &profile_ids {
            if sweep.task == SweepTask::ExpireEvents {
                self.expire(
                    txn.as_mut(),
                    &snapshot,
                    &sweep.sandbox,
                    *profile_id,
                    &cutoffs,
                    now,
                )?;
                continue;
            }
            if let SweepTask::PurgeDataset { dataset } = &sweep.task {
                purge_dataset(txn.as_mut(), &sweep.sandbox, *profile_id, dataset)?;
                // Forgotten before the commit: a failed one leaves nothing to count again.
                self.settings
                    .guardrails
                    .forget_event_count(&sweep.sandbox, *profile_id);
            }
            refresh_view(
                txn.as_mut(),
                &snapshot,
                &sweep.sandbox,
                *profile_id,
                &Trigger::Everything,
                now_ms(),
            )?;
        }
        txn.commit()?;
        self.committed();
        sweep.visited += profile_ids.len();
        match last_key {
            Some(mut key) if profile_ids.len() == SWEEP_CHUNK => {
                key.push(0);
                sweep.resume_at = key;
                Ok(false)
            }
            _ => Ok(true),
        }
    }
}

impl WriterLoop<'_> {
    /// Expires one profile's old events (see [`SweepTask::ExpireEvents`]); each expiration
    /// that removed events is noted on the profile as an `events_expired` hit.
    fn expire(
        &self,
        txn: &mut dyn WriteTxn,
        catalog: &crate::catalog::SandboxCatalog,
        sandbox: &SandboxName,
        profile_id: ProfileId,
        cutoffs: &BTreeMap<String, (i64, u32)>,
        now: i64,
    ) -> Result<()> {
        let expired = expire_events(txn, sandbox, profile_id, cutoffs)?;
        if expired.is_empty() {
            return Ok(());
        }
        let guardrails = &self.settings.guardrails;
        guardrails.forget_event_count(sandbox, profile_id);
        let Some(mut graph) = super::apply::load_graph(txn, sandbox, profile_id)? else {
            return Ok(());
        };
        for (days, count) in &expired {
            guardrails.hit(
                Guardrail::EventsExpired,
                Subject::Profile(sandbox, profile_id),
                u64::from(*days),
                *count,
            );
        }
        if holds_nothing(txn, sandbox, profile_id)? {
            // The reference's rule: a profile goes when no event and no record remains.
            delete_profile(txn, sandbox, profile_id)?;
            return Ok(());
        }
        for (days, count) in expired {
            crate::guardrails::note(
                &mut graph.guardrails,
                GuardrailHit {
                    guardrail: Guardrail::EventsExpired,
                    limit: u64::from(days),
                    count,
                    last_at_ms: now,
                },
            );
        }
        txn.put(
            Table::Profiles,
            &keys::profile(sandbox, profile_id),
            &encode_live(&graph)?,
        )?;
        refresh_view(txn, catalog, sandbox, profile_id, &Trigger::Everything, now)
    }
}

/// Whether a profile has neither a fragment nor an event left.
fn holds_nothing(txn: &dyn WriteTxn, sandbox: &SandboxName, profile_id: ProfileId) -> Result<bool> {
    let start = keys::profile(sandbox, profile_id);
    let mut found = false;
    for (table, end) in [
        (Table::Fragments, store::prefix_end(&start)),
        (Table::Events, keys::events_end(sandbox, profile_id)),
    ] {
        txn.scan(table, &start, &end, Direction::Forward, &mut |_, _| {
            found = true;
            Scan::Stop
        })?;
        if found {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Re-evaluates one profile's memberships in the writer's transaction; false when it is gone.
fn reevaluate_one(
    txn: &mut dyn WriteTxn,
    catalog: &crate::catalog::SandboxCatalog,
    sandbox: &SandboxName,
    profile_id: ProfileId,
    trigger: &Trigger,
) -> Result<bool> {
    let now = now_ms();
    if super::apply::load_graph(txn, sandbox, profile_id)?.is_none() {
        // Merged away or deleted: nothing to evaluate, and no schedule entry may stay behind.
        crate::segment::membership::forget(txn, sandbox, profile_id)?;
        return Ok(false);
    }
    if !crate::segment::patch_view(txn, catalog, sandbox, profile_id, trigger, None, now)? {
        refresh_view(txn, catalog, sandbox, profile_id, &Trigger::Everything, now)?;
    }
    Ok(true)
}

fn fail_job(job: Job, error: &Error) {
    match job {
        Job::Ingest { reply, .. } => reply(Err(not_committed(error))),
        Job::DeleteProfile { reply, .. } => reply(Err(not_committed(error))),
        Job::Erase { reply, .. } => reply(Err(not_committed(error))),
        Job::Sweep { reply, .. } => reply(Err(not_committed(error))),
        Job::Reevaluate { reply, .. } => reply(Err(not_committed(error))),
    }
}
