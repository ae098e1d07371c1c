//! Operators: the stateful steps of a dataflow, each instance on its own thread.
//!
//! An operator instance reads from one bounded channel (see [`crate::exchange`]) and owns
//! its outputs. Its life: [`Operator::restore`] when the job starts from a snapshot,
//! [`Operator::process`] for every batch, [`Operator::on_watermark`] whenever the combined
//! watermark of its inputs advances, [`Operator::on_processing_time`] when a
//! processing-time timer it asked for is due, [`Operator::on_barrier`] once a checkpoint
//! barrier has come from every input, and [`Operator::finish`] once every input has ended.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::checkpoint::coordinator::{Ack, SyncTiming};
use crate::checkpoint::{Barrier, BarrierKind, CompletedCheckpoint, RestoredState, SnapshotFn};
use crate::error::BoxError;
use crate::exchange::{Envelope, GateEvent, InputGate, Message, NOTIFY};
use crate::time::{now_ms, Timestamp, MAX_WATERMARK};

/// One instance of a stateful step.
pub trait Operator<In>: Send {
    /// Handles a batch of records, taking them out of `batch`.
    fn process(&mut self, batch: &mut Vec<In>) -> Result<(), BoxError>;

    /// The combined watermark of the inputs advanced: fire what is due, then forward it.
    fn on_watermark(&mut self, watermark: Timestamp) -> Result<(), BoxError>;

    /// Every input became idle (`true`) or one is active again (`false`). Forward it.
    fn on_idle(&mut self, idle: bool) -> Result<(), BoxError>;

    /// No input came for a while: send on what the outputs hold (the records of a
    /// chained asynchronous step whose reads are done, see [`crate::async_io`]).
    fn on_input_paused(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// The earliest processing-time timer, in epoch milliseconds, if there is one.
    fn next_processing_timer(&self) -> Option<Timestamp> {
        None
    }

    /// Fires the processing-time timers due at `now`.
    fn on_processing_time(&mut self, _now: Timestamp) -> Result<(), BoxError> {
        Ok(())
    }

    /// A checkpoint barrier came from every input: copy the state to keep, forward the
    /// barrier, and return the step that encodes the copy (run off this thread).
    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError>;

    /// Starts from the state of a snapshot (before any input).
    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        if state.key_groups.is_empty() && state.splits.is_empty() {
            Ok(())
        } else {
            Err("this operator keeps no state, but the snapshot has state for it".into())
        }
    }

    /// A checkpoint every instance took is complete (sinks commit here).
    fn on_checkpoint_complete(
        &mut self,
        _checkpoint: &CompletedCheckpoint,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    /// The inputs have all ended (after a final watermark): flush and end the outputs.
    fn finish(&mut self) -> Result<(), BoxError>;

    /// The job stops without draining ([`crate::source::StopHandle::stop_discarding`]):
    /// end the outputs, firing nothing more. Operators that fire on
    /// [`Operator::finish`] (processing-time windows) override it.
    fn finish_discarding(&mut self) -> Result<(), BoxError> {
        self.finish()
    }
}

/// Who an instance is, and its ties to the checkpoint coordinator.
#[derive(Clone, Default)]
pub struct TaskContext {
    /// The operator's name.
    pub operator: String,
    /// The instance index.
    pub instance: usize,
    /// The number of instances.
    pub parallelism: usize,
    /// Where acknowledgements go, when the job checkpoints.
    pub acks: Option<Sender<Ack>>,
    /// Raised when the job fails: every instance stops at once.
    pub cancelled: Arc<AtomicBool>,
    /// The job's stop handle: a stop that discards keeps the final watermark from
    /// firing open windows.
    pub stop: crate::source::StopHandle,
}

impl TaskContext {
    /// Sends the acknowledgement of a snapshot, with what taking it cost the instance.
    pub fn ack_snapshot(
        &self,
        id: u64,
        snapshot: Result<SnapshotFn, BoxError>,
        timing: SyncTiming,
    ) {
        if let Some(acks) = &self.acks {
            let _ = acks.send(Ack::Snapshot {
                id,
                operator: self.operator.clone(),
                instance: self.instance,
                snapshot: snapshot.map_err(|e| e.to_string()),
                timing,
            });
        }
    }

    /// Whether the job has failed and the instance should stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Sends the acknowledgement of a completion.
    pub fn ack_completed(&self, id: u64) {
        if let Some(acks) = &self.acks {
            let _ = acks.send(Ack::Completed { id });
        }
    }
}

/// How long a stage waits for input when it has no timer: long enough to cost nothing,
/// short enough that it notices buffered output to flush.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// Aligns checkpoint barriers: while a barrier is awaited from some inputs, the messages
/// of inputs that already sent it are held back.
struct Alignment<T> {
    blocked: Vec<bool>,
    barrier: Option<Barrier>,
    /// When the first input sent the barrier.
    started: Option<Instant>,
    held: VecDeque<Envelope<T>>,
    replay: VecDeque<Envelope<T>>,
}

impl<T> Alignment<T> {
    fn new(inputs: usize) -> Self {
        Alignment {
            blocked: vec![false; inputs],
            barrier: None,
            started: None,
            held: VecDeque::new(),
            replay: VecDeque::new(),
        }
    }

    /// Whether every input that has not ended has sent the barrier.
    fn complete(&self, gate: &InputGate) -> bool {
        self.barrier.is_some()
            && (0..self.blocked.len()).all(|i| self.blocked[i] || gate.has_ended(i))
    }

    fn release(&mut self) {
        self.barrier = None;
        self.started = None;
        self.blocked.iter_mut().for_each(|b| *b = false);
        while let Some(e) = self.held.pop_back() {
            self.replay.push_front(e);
        }
    }
}

/// Runs an operator instance until its inputs end.
pub fn run_operator<In, Op: Operator<In> + ?Sized>(
    op: &mut Op,
    input: Receiver<Envelope<In>>,
    inputs: usize,
    task: TaskContext,
    restore: Option<RestoredState>,
) -> Result<(), BoxError> {
    if let Some(state) = restore {
        op.restore(state)?;
    }
    let mut gate = InputGate::new(inputs);
    let mut align = Alignment::<In>::new(inputs);
    // After a stop-with-savepoint barrier the instance only waits for the job to stop.
    let mut stopped = false;
    loop {
        if task.is_cancelled() {
            // Another instance failed the job; its error is the one reported.
            return Ok(());
        }
        let envelope = if let Some(e) = align.replay.pop_front() {
            e
        } else {
            let deadline = match op.next_processing_timer() {
                Some(due) if !stopped => {
                    let now = now_ms();
                    if due <= now {
                        op.on_processing_time(now)?;
                        continue;
                    }
                    Instant::now() + Duration::from_millis((due - now) as u64)
                }
                _ => Instant::now() + IDLE_WAIT,
            };
            match input.recv_deadline(deadline) {
                Ok(e) => e,
                Err(RecvTimeoutError::Timeout) => {
                    if !stopped {
                        op.on_input_paused()?;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        if task.is_cancelled() {
            return Ok(());
        }
        if envelope.from == NOTIFY {
            if let Message::Complete(done) = &envelope.message {
                op.on_checkpoint_complete(done)?;
                task.ack_completed(done.id);
            }
            continue;
        }
        if align.blocked[envelope.from] {
            align.held.push_back(envelope);
            continue;
        }
        let from = envelope.from;
        let event = match envelope.message {
            Message::Data(mut batch) => {
                if !stopped {
                    op.process(&mut batch)?;
                }
                GateEvent::None
            }
            Message::Watermark(wm) => gate.on_watermark(from, wm),
            Message::Idle(idle) => gate.on_idle(from, idle),
            Message::End => gate.on_end(from),
            Message::Barrier(barrier) => {
                if align.barrier.is_none() {
                    align.barrier = Some(barrier);
                    align.started = Some(Instant::now());
                }
                align.blocked[from] = true;
                GateEvent::None
            }
            Message::Complete(_) => GateEvent::None,
        };
        // A stop without draining: the end of the input is no final watermark.
        let event = match event {
            GateEvent::Watermark(MAX_WATERMARK) if task.stop.discards() => GateEvent::None,
            GateEvent::Active(Some(MAX_WATERMARK)) if task.stop.discards() => {
                GateEvent::Active(None)
            }
            other => other,
        };
        if !stopped {
            match event {
                GateEvent::None => {}
                GateEvent::Watermark(wm) => op.on_watermark(wm)?,
                GateEvent::Idle => op.on_idle(true)?,
                GateEvent::Active(advanced) => {
                    op.on_idle(false)?;
                    if let Some(wm) = advanced {
                        op.on_watermark(wm)?;
                    }
                }
            }
        }
        if align.complete(&gate) {
            let barrier = align.barrier.expect("aligned on a barrier");
            let started = Instant::now();
            let alignment = align
                .started
                .map_or(Duration::ZERO, |s| started.saturating_duration_since(s));
            let snapshot = op.on_barrier(barrier);
            let timing = SyncTiming {
                started,
                alignment,
                sync: started.elapsed(),
            };
            task.ack_snapshot(barrier.id, snapshot, timing);
            if barrier.kind == BarrierKind::StopWithSavepoint {
                stopped = true;
            }
            align.release();
        }
        if gate.all_ended() && align.barrier.is_none() && align.replay.is_empty() {
            break;
        }
    }
    if stopped || task.is_cancelled() {
        // The job stops without draining: open windows live on in the savepoint (or the
        // job failed).
        return Ok(());
    }
    if task.stop.discards() {
        op.finish_discarding()
    } else {
        op.finish()
    }
}
