//! The way in: `Recorder` hands entries to the writer thread through a bounded channel, and
//! refuses them (`Unavailable`) when the channel is full, the writer has stopped or the log is
//! closed, so that no audited request is ever served without its entry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::entry::{AuditEntry, IdentityRef};
use crate::error::{Result, Unavailable};
use crate::identity::Pepper;

/// What the writer is told whether a transaction committed.
pub(crate) type Reply = Sender<Result<(), Unavailable>>;

/// What travels to the writer. Entries are boxed so the channel's slots stay small.
pub(crate) enum Message {
    /// An entry to commit at the next flush.
    Entry(Box<AuditEntry>),
    /// An entry to commit now; `Reply` hears when it has.
    Durable(Box<AuditEntry>, Reply),
    /// `Reply` hears when everything sent before has committed.
    Flush(Reply),
}

/// The sending side, shared by the log and every recorder.
pub(crate) struct Intake {
    messages: Sender<Message>,
    /// Wakes the writer before its next flush (a durable entry, a flush, closing).
    wake: Sender<()>,
    /// `true` once the log is closed. Every send happens under the read lock, so once closing
    /// has taken the write lock no entry can slip in behind the writer's last drain.
    closed: RwLock<bool>,
    /// Set by the writer thread when it ends, for whatever reason.
    writer_stopped: AtomicBool,
}

impl Intake {
    pub(crate) fn new(capacity: usize) -> (Intake, Receiver<Message>, Receiver<()>) {
        let (messages, message_receiver) = crossbeam_channel::bounded(capacity);
        let (wake, wake_receiver) = crossbeam_channel::bounded(1);
        let intake = Intake {
            messages,
            wake,
            closed: RwLock::new(false),
            writer_stopped: AtomicBool::new(false),
        };
        (intake, message_receiver, wake_receiver)
    }

    /// Refuses every later entry. Returns once no send is in flight.
    pub(crate) fn close(&self) {
        *self.closed.write().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake_writer();
    }

    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn mark_writer_stopped(&self) {
        self.writer_stopped.store(true, Ordering::Release);
    }

    /// After the writer failed: refuses every later send, and answers `Unavailable` to the
    /// durable entries and flushes already in the channel (whose senders wait for an answer),
    /// draining while sends in flight finish.
    pub(crate) fn refuse_all(&self, messages: &Receiver<Message>) {
        self.mark_writer_stopped();
        let refuse_waiting = || {
            for message in messages.try_iter() {
                if let Message::Durable(_, reply) | Message::Flush(reply) = message {
                    let _ = reply.send(Err(Unavailable));
                }
            }
        };
        loop {
            refuse_waiting();
            // A send in flight holds the read lock (and may wait for room): once the write
            // lock is had, none is left.
            match self.closed.try_write() {
                Ok(mut closed) => {
                    *closed = true;
                    refuse_waiting();
                    return;
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
    }

    fn wake_writer(&self) {
        // A full wake channel already holds a wake-up the writer has not seen yet.
        let _ = self.wake.try_send(());
    }

    /// Puts `message` in the channel without waiting, unless the log cannot take it.
    fn offer(&self, message: Message) -> Result<(), Unavailable> {
        let closed = self.closed.read().unwrap_or_else(|e| e.into_inner());
        if *closed || self.writer_stopped.load(Ordering::Acquire) {
            return Err(Unavailable);
        }
        self.messages
            .try_send(message)
            .map_err(|error| match error {
                TrySendError::Full(_) | TrySendError::Disconnected(_) => Unavailable,
            })
    }

    /// Sends `message`, waiting for room, unless the log is closed or its writer gone.
    fn send_waiting(&self, message: Message) -> Result<(), Unavailable> {
        let closed = self.closed.read().unwrap_or_else(|e| e.into_inner());
        if *closed || self.writer_stopped.load(Ordering::Acquire) {
            return Err(Unavailable);
        }
        // Wake the writer first, so a full channel drains while this waits.
        self.wake_writer();
        self.messages.send(message).map_err(|_| Unavailable)?;
        drop(closed);
        self.wake_writer();
        Ok(())
    }
}

/// Records entries in the log. Cheap to clone; share one per server.
#[derive(Clone)]
pub struct Recorder {
    intake: Arc<Intake>,
    pepper: Arc<Pepper>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("closed", &self.intake.is_closed())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    pub(crate) fn new(intake: Arc<Intake>, pepper: Arc<Pepper>) -> Recorder {
        Recorder { intake, pepper }
    }

    /// Queues `entry` for the next flush (every flush interval) and returns at once. A crash
    /// may lose what is queued. `Err(Unavailable)` when the queue is full, the writer has
    /// failed or the log is closed: the request must then be refused, not served unaudited.
    pub fn record(&self, entry: AuditEntry) -> Result<(), Unavailable> {
        self.intake.offer(Message::Entry(Box::new(entry)))
    }

    /// Queues `entry`, has it committed at once (with what else is queued), and returns when
    /// it is durable, so that a change is answered only once it is audited.
    /// `AuditError::Unavailable` when the log cannot take it or its transaction failed.
    pub fn record_durably(&self, entry: AuditEntry) -> Result<()> {
        let (reply, committed) = crossbeam_channel::bounded(1);
        self.intake
            .offer(Message::Durable(Box::new(entry), reply))?;
        self.intake.wake_writer();
        Ok(committed.recv().unwrap_or(Err(Unavailable))?)
    }

    /// The reference of an identity, as `AuditLog::identity_ref` makes it.
    pub fn identity_ref(&self, namespace: &str, value: &str) -> IdentityRef {
        self.pepper.identity_ref(namespace, value)
    }

    /// Returns once everything queued before the call has committed.
    pub(crate) fn flush(&self) -> Result<(), Unavailable> {
        let (reply, committed) = crossbeam_channel::bounded(1);
        self.intake.send_waiting(Message::Flush(reply))?;
        committed.recv().unwrap_or(Err(Unavailable))
    }
}
