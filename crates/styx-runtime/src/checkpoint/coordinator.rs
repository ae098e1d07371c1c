//! The checkpoint coordinator: triggers snapshots, gathers acknowledgements, writes
//! completed snapshots and tells every instance when one is complete.
//!
//! With an instance's acknowledgement comes the second step of its snapshot; the
//! coordinator runs it at once, and it writes the instance's state file into the
//! snapshot's temporary folder as it encodes the state ([`Store::begin`]). Once every
//! instance has acknowledged, the metadata is written and the folder renamed into place.
//!
//! One snapshot is in flight at a time. Periodic checkpoints are triggered every
//! `interval`; savepoints are asked for through a [`CoordinatorHandle`]. A stop-with-
//! savepoint leaves the sources stopped at the barrier; once every instance has handled
//! the completion (sinks have committed), the sources end their streams and the job ends
//! without firing open windows.
//!
//! A coordinator whose state directory has been claimed by a newer incarnation of the job
//! ([`Fenced`]) writes nothing more and reports the failure on [`Coordinator::failures`]:
//! the job then fails.
//!
//! For every completed snapshot the coordinator gathers statistics ([`CheckpointStats`]):
//! how long each instance waited for barrier alignment and stopped processing to copy its
//! state, how long encoding the copy took, and the size written;
//! [`CoordinatorHandle::statistics`] delivers them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{after, never, select, Receiver, Sender};

use crate::checkpoint::store::{Fenced, PendingSnapshot, Snapshot, Store};
use crate::checkpoint::{Barrier, BarrierKind, CompletedCheckpoint, SnapshotFn, Splits};

/// How a job checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    /// Periodic checkpoints every `interval` (none if absent; savepoints still work).
    pub interval: Option<Duration>,
    /// The state directory.
    pub store: Store,
    /// How many completed checkpoints to keep.
    pub retain: usize,
    /// The snapshot to start from.
    pub restore: Option<Arc<Snapshot>>,
}

/// What the coordinator tells a source instance.
#[derive(Debug, Clone)]
pub enum SourceControl {
    /// Snapshot your position and send this barrier on.
    Barrier(Barrier),
    /// A snapshot is complete.
    Complete(Arc<CompletedCheckpoint>),
    /// After a stop-with-savepoint: end the stream (without a final watermark).
    Stop,
}

/// What taking a snapshot cost an instance on its own thread.
#[derive(Debug, Clone, Copy)]
pub struct SyncTiming {
    /// When the instance began its snapshot (the barrier had come from every input).
    pub started: Instant,
    /// From the barrier's arrival at the first input until it had come from every input
    /// (zero for sources): records of inputs that had sent it were held back meanwhile.
    pub alignment: Duration,
    /// How long the instance stopped processing to copy its state and forward the
    /// barrier (the synchronous part of the snapshot).
    pub sync: Duration,
}

/// What one instance's part of a completed snapshot cost.
#[derive(Debug, Clone)]
pub struct TaskStats {
    /// The operator's name.
    pub operator: String,
    /// The instance index.
    pub instance: usize,
    /// The instance's own part: alignment and synchronous copy.
    pub timing: SyncTiming,
    /// From the trigger until the coordinator had the instance's acknowledgement.
    pub acknowledged: Duration,
    /// How long encoding the copy and writing it took on the coordinator's thread, while
    /// the instance went on processing (the asynchronous part).
    pub encode: Duration,
    /// The size of the instance's state file in bytes.
    pub state_bytes: u64,
}

/// What a completed checkpoint or savepoint cost (as Flink's checkpoint statistics).
#[derive(Debug, Clone)]
pub struct CheckpointStats {
    /// The checkpoint's id.
    pub id: u64,
    /// Why it was taken.
    pub kind: BarrierKind,
    /// When the coordinator sent the barrier to the sources.
    pub triggered: Instant,
    /// From the trigger until the snapshot was written to the state directory.
    pub duration: Duration,
    /// The size of the snapshot's folder in the state directory, in bytes.
    pub bytes: u64,
    /// Every instance's part, in the order the acknowledgements came.
    pub tasks: Vec<TaskStats>,
}

impl CheckpointStats {
    /// The longest synchronous part of any instance: the longest that any instance
    /// stopped processing for this snapshot.
    pub fn max_sync(&self) -> Duration {
        self.tasks
            .iter()
            .map(|t| t.timing.sync)
            .max()
            .unwrap_or_default()
    }
}

/// Where statistics of completed snapshots go.
type Listeners = Arc<Mutex<Vec<Sender<CheckpointStats>>>>;

/// An instance's acknowledgement of a barrier, or of a completion.
pub enum Ack {
    /// The instance took its snapshot (the function encodes it).
    Snapshot {
        /// The checkpoint id.
        id: u64,
        /// The operator's name.
        operator: String,
        /// The instance index.
        instance: usize,
        /// The second step of the snapshot, or why it failed.
        snapshot: Result<SnapshotFn, String>,
        /// What the snapshot cost the instance.
        timing: SyncTiming,
    },
    /// The instance handled the completion of a checkpoint.
    Completed {
        /// The checkpoint id.
        id: u64,
    },
}

/// Where the coordinator reaches one instance.
pub struct TaskEndpoint {
    /// The operator's name.
    pub operator: String,
    /// The instance index.
    pub instance: usize,
    /// The operator's parallelism.
    pub parallelism: usize,
    /// For sources: the control channel.
    pub source: Option<Sender<SourceControl>>,
    /// For operators: delivers a completion notice in order with its input.
    pub notify: Option<Box<dyn Fn(Arc<CompletedCheckpoint>) + Send>>,
}

/// Where the answer to a savepoint request goes.
type Reply = Sender<Result<PathBuf, String>>;

/// A request to the coordinator.
pub enum Request {
    /// Take a savepoint; with `stop`, stop the job after it.
    Savepoint {
        /// Stop the job once the savepoint is complete.
        stop: bool,
        /// Where the savepoint's folder (or the failure) is sent.
        reply: Reply,
    },
}

/// Asks a running job's coordinator for savepoints.
#[derive(Clone)]
pub struct CoordinatorHandle {
    requests: Sender<Request>,
    listeners: Listeners,
}

impl CoordinatorHandle {
    /// Takes a savepoint (and stops the job after it, with `stop`); waits for it and
    /// returns its folder.
    pub fn savepoint(&self, stop: bool) -> Result<PathBuf, String> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.requests
            .send(Request::Savepoint { stop, reply })
            .map_err(|_| "the job is no longer running".to_string())?;
        answer
            .recv()
            .map_err(|_| "the job ended before the savepoint completed".to_string())?
    }

    /// The statistics of every checkpoint and savepoint completed from now on, one
    /// message each; the channel closes when the job ends.
    pub fn statistics(&self) -> Receiver<CheckpointStats> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }
}

/// The channels of a coordinator, before it runs.
pub struct Coordinator {
    config: CheckpointConfig,
    acks: (Sender<Ack>, Receiver<Ack>),
    requests: (Sender<Request>, Receiver<Request>),
    listeners: Listeners,
    failures: (Sender<String>, Receiver<String>),
}

struct InFlight {
    barrier: Barrier,
    started: Instant,
    /// The snapshot's folder, begun with the first acknowledgement.
    pending: Option<PendingSnapshot>,
    /// The splits of every instance that has any.
    splits: Vec<(String, Splits)>,
    stats: Vec<TaskStats>,
    missing: usize,
    reply: Option<Reply>,
}

impl Coordinator {
    /// A coordinator for `config`.
    pub fn new(config: CheckpointConfig) -> Self {
        Coordinator {
            config,
            acks: crossbeam_channel::unbounded(),
            requests: crossbeam_channel::unbounded(),
            listeners: Listeners::default(),
            failures: crossbeam_channel::unbounded(),
        }
    }

    /// Where the coordinator reports a failure that must fail the job (a newer
    /// incarnation has claimed the state directory); it closes when the coordinator ends.
    pub fn failures(&self) -> Receiver<String> {
        self.failures.1.clone()
    }

    /// Where instances send acknowledgements.
    pub fn ack_sender(&self) -> Sender<Ack> {
        self.acks.0.clone()
    }

    /// A handle for savepoint requests.
    pub fn handle(&self) -> CoordinatorHandle {
        CoordinatorHandle {
            requests: self.requests.0.clone(),
            listeners: self.listeners.clone(),
        }
    }

    /// The snapshot the job starts from.
    pub fn restore(&self) -> Option<&Arc<Snapshot>> {
        self.config.restore.as_ref()
    }

    /// Runs the coordinator on its own thread, until `shutdown` is closed.
    pub fn spawn(self, tasks: Vec<TaskEndpoint>, shutdown: Receiver<()>) {
        std::thread::Builder::new()
            .name("checkpoint-coordinator".into())
            .spawn(move || self.run(tasks, shutdown))
            .expect("spawn the checkpoint coordinator");
    }

    fn run(self, tasks: Vec<TaskEndpoint>, shutdown: Receiver<()>) {
        let parallelism: HashMap<(String, usize), usize> = tasks
            .iter()
            .map(|t| ((t.operator.clone(), t.instance), t.parallelism))
            .collect();
        let store = self.config.store.clone();
        let mut next_id = store
            .last_id()
            .max(self.config.restore.as_ref().map_or(0, |s| s.metadata.id))
            + 1;
        let mut in_flight: Option<InFlight> = None;
        let mut queued: Vec<Request> = Vec::new();
        let mut next_periodic = self.config.interval.map(|i| Instant::now() + i);
        let mut stopping: Option<(u64, usize)> = None;
        let (_, acks) = &self.acks;
        let (_, requests) = &self.requests;
        loop {
            let tick = match (next_periodic, &in_flight) {
                (Some(at), None) => after(at.saturating_duration_since(Instant::now())),
                _ => never(),
            };
            let mut trigger: Option<(BarrierKind, Option<Reply>)> = None;
            select! {
                recv(shutdown) -> _ => return,
                recv(tick) -> _ => {
                    next_periodic = self.config.interval.map(|i| Instant::now() + i);
                    trigger = Some((BarrierKind::Checkpoint, None));
                }
                recv(requests) -> r => match r {
                    Ok(req) => queued.push(req),
                    Err(_) => return,
                },
                recv(acks) -> a => match a {
                    Err(_) => return,
                    Ok(Ack::Completed { id }) => {
                        if let Some((sid, left)) = &mut stopping {
                            if *sid == id {
                                *left -= 1;
                                if *left == 0 {
                                    // Every instance has handled the savepoint: the sources
                                    // end their streams and the job stops.
                                    for t in &tasks {
                                        if let Some(s) = &t.source { let _ = s.send(SourceControl::Stop); }
                                    }
                                    return;
                                }
                            }
                        }
                    }
                    Ok(Ack::Snapshot { id, operator, instance, snapshot, timing }) => {
                        let Some(flight) = in_flight.as_mut().filter(|f| f.barrier.id == id) else {
                            continue;
                        };
                        let acknowledged = flight.started.elapsed();
                        let p = parallelism.get(&(operator.clone(), instance)).copied().unwrap_or(1);
                        let encoding = Instant::now();
                        let pending = match flight.pending.take() {
                            Some(pending) => Ok(pending),
                            None => store.begin(id, flight.barrier.kind),
                        };
                        let mut pending = match pending {
                            Ok(pending) => pending,
                            Err(e) if e.downcast_ref::<Fenced>().is_some() => {
                                // A zombie: it must neither write nor commit anything more.
                                let msg = format!("checkpoint {id}: {e}");
                                tracing::error!("{msg}");
                                if let Some(reply) = &flight.reply { let _ = reply.send(Err(msg.clone())); }
                                let _ = self.failures.0.send(msg);
                                return;
                            }
                            Err(e) => {
                                let msg = format!("checkpoint {id} could not be written: {e}");
                                tracing::warn!("{msg}");
                                if let Some(reply) = &flight.reply { let _ = reply.send(Err(msg)); }
                                in_flight = None;
                                continue;
                            }
                        };
                        let mut target = pending.target(&operator, instance);
                        let written = snapshot
                            .and_then(|f| f(&mut target).map_err(|e| e.to_string()))
                            .and_then(|state| {
                                let splits = state.splits.clone();
                                pending
                                    .add(operator.clone(), instance, p, target, state)
                                    .map(|bytes| (bytes, splits))
                                    .map_err(|e| e.to_string())
                            });
                        flight.pending = Some(pending);
                        match written {
                            Ok((bytes, splits)) => {
                                flight.stats.push(TaskStats {
                                    operator: operator.clone(),
                                    instance,
                                    timing,
                                    acknowledged,
                                    encode: encoding.elapsed(),
                                    state_bytes: bytes,
                                });
                                if !splits.is_empty() {
                                    flight.splits.push((operator, splits));
                                }
                            }
                            Err(e) => {
                                let msg = format!("checkpoint {id} failed: {operator}[{instance}]: {e}");
                                tracing::warn!("{msg}");
                                if let Some(reply) = &flight.reply { let _ = reply.send(Err(msg)); }
                                in_flight = None;
                                continue;
                            }
                        }
                        flight.missing -= 1;
                        if flight.missing == 0 {
                            let flight = in_flight.take().expect("in flight");
                            let barrier = flight.barrier;
                            let source_splits = flight.splits.into_iter()
                                .fold(Vec::<(String, Splits)>::new(), |mut acc, (op, splits)| {
                                    match acc.iter_mut().find(|(o, _)| *o == op) {
                                        Some((_, v)) => v.extend(splits),
                                        None => acc.push((op, splits)),
                                    }
                                    acc
                                });
                            let written = match flight.pending {
                                Some(pending) => pending.write(),
                                // No instance at all: an empty snapshot.
                                None => store.begin(barrier.id, barrier.kind).and_then(PendingSnapshot::write),
                            };
                            match written {
                                Ok(path) => {
                                    if barrier.kind == BarrierKind::Checkpoint {
                                        store.retain(self.config.retain.max(1));
                                    }
                                    let stats = CheckpointStats {
                                        id: barrier.id,
                                        kind: barrier.kind,
                                        triggered: flight.started,
                                        duration: flight.started.elapsed(),
                                        bytes: folder_bytes(&path),
                                        tasks: flight.stats,
                                    };
                                    tracing::info!(id = barrier.id, took_ms = stats.duration.as_millis() as u64, max_sync_us = stats.max_sync().as_micros() as u64, bytes = stats.bytes, path = %path.display(), "snapshot complete");
                                    self.listeners.lock().unwrap_or_else(|e| e.into_inner()).retain(|l| l.send(stats.clone()).is_ok());
                                    let done = Arc::new(CompletedCheckpoint { id: barrier.id, kind: barrier.kind, source_splits, incarnation: store.incarnation().to_string() });
                                    if barrier.kind == BarrierKind::StopWithSavepoint {
                                        stopping = Some((barrier.id, tasks.len()));
                                    }
                                    for t in &tasks {
                                        if let Some(s) = &t.source { let _ = s.send(SourceControl::Complete(done.clone())); }
                                        if let Some(n) = &t.notify { n(done.clone()); }
                                    }
                                    if let Some(reply) = flight.reply { let _ = reply.send(Ok(path)); }
                                }
                                Err(e) if e.downcast_ref::<Fenced>().is_some() => {
                                    // A zombie: it must neither write nor commit anything more.
                                    let msg = format!("checkpoint {}: {e}", barrier.id);
                                    tracing::error!("{msg}");
                                    if let Some(reply) = flight.reply { let _ = reply.send(Err(msg.clone())); }
                                    let _ = self.failures.0.send(msg);
                                    return;
                                }
                                Err(e) => {
                                    let msg = format!("checkpoint {} could not be written: {e}", barrier.id);
                                    tracing::warn!("{msg}");
                                    if let Some(reply) = flight.reply { let _ = reply.send(Err(msg)); }
                                }
                            }
                        }
                    }
                },
            }
            if trigger.is_none() && in_flight.is_none() && stopping.is_none() && !queued.is_empty()
            {
                let Request::Savepoint { stop, reply } = queued.remove(0);
                let kind = if stop {
                    BarrierKind::StopWithSavepoint
                } else {
                    BarrierKind::Savepoint
                };
                trigger = Some((kind, Some(reply)));
            }
            if let Some((kind, reply)) = trigger {
                if in_flight.is_some() || stopping.is_some() {
                    continue;
                }
                let barrier = Barrier { id: next_id, kind };
                next_id += 1;
                let mut reached = true;
                for t in &tasks {
                    if let Some(s) = &t.source {
                        reached &= s.send(SourceControl::Barrier(barrier)).is_ok();
                    }
                }
                if !reached {
                    // A source has ended: the job is finishing and takes no more snapshots.
                    if let Some(reply) = reply {
                        let _ = reply.send(Err("the job's sources have ended".into()));
                    }
                    next_periodic = None;
                    continue;
                }
                in_flight = Some(InFlight {
                    barrier,
                    started: Instant::now(),
                    pending: None,
                    splits: Vec::new(),
                    stats: Vec::new(),
                    missing: tasks.len(),
                    reply,
                });
            }
        }
    }
}

/// The size of the files in a snapshot's folder in bytes.
fn folder_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
