//! The single writer thread: takes jobs from a channel, applies as many as are waiting in one
//! transaction (group commit), commits, and only then answers each job.
//!
//! A job is acknowledged only after the commit that holds it, so an acknowledged write is
//! durable and visible to the next read.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use rapport_types::{ProfileId, SandboxName};
use store::{Store, WriteTxn};

use super::apply::{apply_write, delete_profile, refresh_view, ApplyContext};
use super::prepare::PreparedWrite;
use crate::catalog::Catalog;
use crate::error::{Error, Result};

/// The most writes applied in one transaction.
const MAX_WRITES_PER_COMMIT: usize = 8192;

pub type Reply<T> = Box<dyn FnOnce(Result<T>) + Send>;

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
    /// Rebuilds every prepared view of a sandbox (after its default merge policy changed).
    RebuildViews {
        sandbox: SandboxName,
        reply: Reply<usize>,
    },
}

impl Job {
    fn weight(&self) -> usize {
        match self {
            Job::Ingest { writes, .. } => writes.len().max(1),
            Job::DeleteProfile { .. } => 1,
            Job::RebuildViews { .. } => MAX_WRITES_PER_COMMIT,
        }
    }
}

/// What a job produced before commit, waiting to be answered.
enum Outcome {
    Ingest(Reply<Vec<Result<Option<ProfileId>>>>, Vec<Result<Option<ProfileId>>>),
    Delete(Reply<bool>, bool),
    Rebuild(Reply<usize>, usize),
}

impl Outcome {
    fn answer(self) {
        match self {
            Outcome::Ingest(reply, results) => reply(Ok(results)),
            Outcome::Delete(reply, found) => reply(Ok(found)),
            Outcome::Rebuild(reply, count) => reply(Ok(count)),
        }
    }

    fn fail(self, error: &Error) {
        let internal = || Error::Internal(format!("the write was not committed: {error}"));
        match self {
            Outcome::Ingest(reply, _) => reply(Err(internal())),
            Outcome::Delete(reply, _) => reply(Err(internal())),
            Outcome::Rebuild(reply, _) => reply(Err(internal())),
        }
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
}

impl Writer {
    pub fn start(store: Arc<dyn Store>, catalog: Arc<Catalog>, settings: WriterSettings) -> Writer {
        let (sender, receiver) = crossbeam_channel::bounded::<Job>(4096);
        let thread = std::thread::Builder::new()
            .name("rapport-writer".into())
            .spawn(move || run(store.as_ref(), &catalog, &settings, receiver))
            .ok();
        Writer {
            sender: Some(sender),
            thread,
        }
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

fn run(store: &dyn Store, catalog: &Catalog, settings: &WriterSettings, receiver: Receiver<Job>) {
    let mut sequencer = Sequencer { last: 0 };
    while let Ok(first) = receiver.recv() {
        let mut jobs = vec![first];
        let mut weight = jobs[0].weight();
        while weight < MAX_WRITES_PER_COMMIT {
            match receiver.try_recv() {
                Ok(job) => {
                    weight += job.weight();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        commit_group(store, catalog, settings, &mut sequencer, jobs);
    }
}

fn commit_group(
    store: &dyn Store,
    catalog: &Catalog,
    settings: &WriterSettings,
    sequencer: &mut Sequencer,
    jobs: Vec<Job>,
) {
    let mut txn = match store.write() {
        Ok(txn) => txn,
        Err(error) => {
            let error = Error::from(error);
            for job in jobs {
                fail_job(job, &error);
            }
            return;
        }
    };
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut failure: Option<Error> = None;
    for job in jobs {
        if let Some(error) = &failure {
            fail_job(job, error);
            continue;
        }
        match run_job(txn.as_mut(), catalog, settings, sequencer, job) {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => failure = Some(error),
        }
    }
    let result = match failure {
        Some(error) => Err(error),
        None => txn.commit().map_err(Error::from),
    };
    match result {
        Ok(()) => outcomes.into_iter().for_each(Outcome::answer),
        Err(error) => {
            tracing::error!(%error, "write transaction failed; nothing in it was acknowledged");
            outcomes.into_iter().for_each(|o| o.fail(&error));
        }
    }
}

fn fail_job(job: Job, error: &Error) {
    let internal = || Error::Internal(format!("the write was not committed: {error}"));
    match job {
        Job::Ingest { reply, .. } => reply(Err(internal())),
        Job::DeleteProfile { reply, .. } => reply(Err(internal())),
        Job::RebuildViews { reply, .. } => reply(Err(internal())),
    }
}

/// Applies one job. A user error stays with its write; a storage error aborts the group.
fn run_job(
    txn: &mut dyn WriteTxn,
    catalog: &Catalog,
    settings: &WriterSettings,
    sequencer: &mut Sequencer,
    job: Job,
) -> Result<Outcome> {
    match job {
        Job::Ingest { writes, reply } => {
            let mut results = Vec::with_capacity(writes.len());
            for write in &writes {
                let snapshot = catalog.sandbox(&write.sandbox)?;
                let context = ApplyContext {
                    catalog: &snapshot,
                    graph_limit: settings.graph_limit,
                    sequence: sequencer.next(write.received_ms),
                };
                match apply_write(txn, &context, write) {
                    Ok(profile_id) => results.push(Ok(profile_id)),
                    Err(error @ Error::User { .. }) => results.push(Err(error)),
                    Err(error) => return Err(error),
                }
            }
            Ok(Outcome::Ingest(reply, results))
        }
        Job::DeleteProfile {
            sandbox,
            profile_id,
            reply,
        } => {
            let found = delete_profile(txn, &sandbox, profile_id)?;
            Ok(Outcome::Delete(reply, found))
        }
        Job::RebuildViews { sandbox, reply } => {
            let snapshot = catalog.sandbox(&sandbox)?;
            let prefix = crate::keys::sandbox(&sandbox);
            let mut profile_ids = Vec::new();
            txn.scan(
                store::Table::Profiles,
                &prefix,
                &store::prefix_end(&prefix),
                store::Direction::Forward,
                &mut |key, _| {
                    if let Some(id) = crate::keys::profile_id_of(key) {
                        profile_ids.push(id);
                    }
                    store::Scan::Continue
                },
            )?;
            for profile_id in &profile_ids {
                refresh_view(txn, &snapshot, &sandbox, *profile_id)?;
            }
            Ok(Outcome::Rebuild(reply, profile_ids.len()))
        }
    }
}
