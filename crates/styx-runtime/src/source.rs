//! Sources: where records enter a dataflow.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};

use crate::checkpoint::coordinator::{SourceControl, SyncTiming};
use crate::checkpoint::{
    no_state, Barrier, BarrierKind, CompletedCheckpoint, RestoredState, SnapshotFn,
};
use crate::emitter::{Emitter, BATCH_SIZE};
use crate::error::BoxError;
use crate::operator::TaskContext;

/// What a poll of a source found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// Records were added to the batch (possibly none, if the source wants to be asked
    /// again at once).
    Ready,
    /// Nothing is available now; the source may be asked again later.
    Idle,
    /// The source is exhausted; records added in this poll are the last.
    Finished,
}

/// One instance of a source.
pub trait Source<T>: Send {
    /// Adds up to `max` records to `out`. A source that can wait for input (a socket, a
    /// Kafka consumer) may block for a short while before answering [`Poll::Idle`].
    fn poll(&mut self, out: &mut Vec<T>, max: usize) -> Result<Poll, BoxError>;

    /// Watermarks the source tracks itself (for example per Kafka partition), to be sent
    /// after the records of the last poll. Sources whose watermarks are generated
    /// downstream return `None`.
    fn take_watermarks(&mut self, _out: &mut Vec<WatermarkMark>) {}

    /// Starts from the splits of a snapshot (before the first poll).
    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        if state.splits.is_empty() {
            Ok(())
        } else {
            Err("this source cannot resume from a snapshot".into())
        }
    }

    /// Copies the source's position at a barrier (every record polled so far is before it).
    fn snapshot(&mut self, _barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        Ok(no_state())
    }

    /// A snapshot is complete (sources that commit positions elsewhere do it here).
    fn on_checkpoint_complete(
        &mut self,
        _checkpoint: &CompletedCheckpoint,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    /// The source ends: its input is exhausted ([`Poll::Finished`]) or the job is stopping
    /// (see [`StopHandle`]). Called once, after the last poll and before the end of the
    /// stream is sent; watermarks reported by [`Source::take_watermarks`] afterwards still
    /// go out. Sources release what they hold here (a consumer leaves its group).
    fn finish(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Stops a running job cleanly. [`StopHandle::stop`] drains: as if every source had
/// reached the end of its input, the sources end their streams, open event-time windows
/// fire on the final watermark, the operators finish and the sinks flush.
/// [`StopHandle::stop_discarding`] stops as Flink's plain stop does: the sources end, the
/// sinks flush what they got, and open windows and partial matches are discarded, so
/// that the job stops at once however much state it holds. Shared by every source
/// instance of a job; see [`crate::stream::Environment::set_stop_handle`].
///
/// A handle can also stop the job by itself once its sources have had no new record for a
/// while ([`StopHandle::stop_when_idle`]).
#[derive(Clone, Debug)]
pub struct StopHandle {
    inner: Arc<StopState>,
}

#[derive(Debug)]
struct StopState {
    stopped: AtomicBool,
    /// Whether the stop discards open windows instead of firing them.
    discard: AtomicBool,
    /// Milliseconds without records after which the job stops; `u64::MAX`: never.
    idle_limit_ms: AtomicU64,
    epoch: Instant,
    /// Milliseconds after `epoch` of the last record any source produced.
    last_activity_ms: AtomicU64,
}

impl Default for StopHandle {
    fn default() -> Self {
        StopHandle::new()
    }
}

impl StopHandle {
    /// A handle that stops nothing until asked.
    pub fn new() -> Self {
        StopHandle {
            inner: Arc::new(StopState {
                stopped: AtomicBool::new(false),
                discard: AtomicBool::new(false),
                idle_limit_ms: AtomicU64::new(u64::MAX),
                epoch: Instant::now(),
                last_activity_ms: AtomicU64::new(0),
            }),
        }
    }

    /// Asks the job to stop and drain: open windows fire (safe from a signal handler's
    /// thread). Overrides an earlier [`StopHandle::stop_discarding`].
    pub fn stop(&self) {
        self.inner.discard.store(false, Ordering::SeqCst);
        self.inner.stopped.store(true, Ordering::SeqCst);
    }

    /// Asks the job to stop without draining: open windows and partial matches are
    /// discarded (safe from a signal handler's thread). Does not undo an earlier
    /// [`StopHandle::stop`].
    pub fn stop_discarding(&self) {
        if !self.inner.stopped.load(Ordering::SeqCst) {
            self.inner.discard.store(true, Ordering::SeqCst);
        }
        self.inner.stopped.store(true, Ordering::SeqCst);
    }

    /// Whether the job stops without draining.
    pub fn discards(&self) -> bool {
        self.inner.discard.load(Ordering::Relaxed) && self.inner.stopped.load(Ordering::Relaxed)
    }

    /// Stops the job once none of its sources has produced a record for `limit` (counted
    /// from the start of the job at first).
    pub fn stop_when_idle(&self, limit: Duration) {
        let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX - 1);
        self.inner.idle_limit_ms.store(ms, Ordering::SeqCst);
    }

    /// Whether the job was asked to stop, or has been idle for the limit.
    pub fn is_stopped(&self) -> bool {
        if self.inner.stopped.load(Ordering::Relaxed) {
            return true;
        }
        let limit = self.inner.idle_limit_ms.load(Ordering::Relaxed);
        if limit == u64::MAX {
            return false;
        }
        let quiet = self
            .now_ms()
            .saturating_sub(self.inner.last_activity_ms.load(Ordering::Relaxed));
        if quiet >= limit {
            self.stop();
            return true;
        }
        false
    }

    /// A source produced records just now.
    pub fn record_activity(&self) {
        self.inner
            .last_activity_ms
            .fetch_max(self.now_ms(), Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Progress a source reports between its records: the watermark after the record at
/// `after` (an index into the batch of the last poll), or an idle mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatermarkMark {
    /// The watermark rises to `watermark` after the first `after` records of the batch.
    Watermark {
        /// How many records of the batch come before it.
        after: usize,
        /// The watermark.
        watermark: crate::time::Timestamp,
    },
    /// The source became idle (`true`: after the rest of the batch) or active again
    /// (`false`: before the records of the batch not sent yet).
    Idle(bool),
}

/// A source over an iterator: for tests, generators and bounded in-memory inputs.
pub struct IterSource<I> {
    iter: I,
}

impl<I> IterSource<I> {
    /// Reads `iter` to its end.
    pub fn new(iter: I) -> Self {
        IterSource { iter }
    }
}

impl<T, I: Iterator<Item = T> + Send> Source<T> for IterSource<I> {
    fn poll(&mut self, out: &mut Vec<T>, max: usize) -> Result<Poll, BoxError> {
        for _ in 0..max {
            match self.iter.next() {
                Some(item) => out.push(item),
                None => return Ok(Poll::Finished),
            }
        }
        Ok(Poll::Ready)
    }
}

/// How long a source thread sleeps after a poll that found nothing, when the source
/// itself did not wait.
const IDLE_SLEEP: Duration = Duration::from_millis(5);

/// Sends a polled batch on, with the watermarks the source reported between its records.
fn emit_batch<T>(batch: &mut Vec<T>, marks: &mut Vec<WatermarkMark>, out: &mut dyn Emitter<T>) {
    if marks.is_empty() {
        if !batch.is_empty() {
            out.emit(batch);
        }
        return;
    }
    let mut rest = std::mem::take(batch);
    let mut sent = 0;
    for mark in marks.drain(..) {
        match mark {
            WatermarkMark::Watermark { after, watermark } => {
                let upto = after.clamp(sent, sent + rest.len());
                let mut head: Vec<T> = rest.drain(..upto - sent).collect();
                sent = upto;
                if !head.is_empty() {
                    out.emit(&mut head);
                }
                out.watermark(watermark);
            }
            WatermarkMark::Idle(idle) => {
                if idle && !rest.is_empty() {
                    sent += rest.len();
                    out.emit(&mut rest);
                }
                out.idle(idle);
            }
        }
    }
    if !rest.is_empty() {
        out.emit(&mut rest);
    }
    *batch = rest;
    batch.clear();
}

/// Runs a source instance to its end, sending its records into `out`, taking snapshots
/// when the coordinator asks. The source also ends, as at the end of its input, when
/// `stop` says so.
pub fn run_source<T>(
    source: &mut dyn Source<T>,
    out: &mut dyn Emitter<T>,
    task: &TaskContext,
    control: Option<Receiver<SourceControl>>,
    restore: Option<RestoredState>,
    stop: &StopHandle,
) -> Result<(), BoxError> {
    if let Some(state) = restore {
        source.restore(state)?;
    }
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    let mut marks = Vec::new();
    let mut stopping = false;
    loop {
        if task.is_cancelled() {
            // Another instance failed the job; its error is the one reported.
            return Ok(());
        }
        if let Some(control) = &control {
            loop {
                let message = if stopping {
                    // Stopped at a savepoint barrier: wait for the job to stop.
                    match control.recv() {
                        Ok(m) => m,
                        Err(_) => return Ok(()),
                    }
                } else {
                    match control.try_recv() {
                        Ok(m) => m,
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => break,
                    }
                };
                match message {
                    SourceControl::Barrier(barrier) => {
                        let started = Instant::now();
                        let snapshot = source.snapshot(barrier);
                        out.barrier(barrier);
                        out.flush();
                        let timing = SyncTiming {
                            started,
                            alignment: Duration::ZERO,
                            sync: started.elapsed(),
                        };
                        task.ack_snapshot(barrier.id, snapshot, timing);
                        if barrier.kind == BarrierKind::StopWithSavepoint {
                            stopping = true;
                        }
                    }
                    SourceControl::Complete(done) => {
                        source.on_checkpoint_complete(&done)?;
                        task.ack_completed(done.id);
                    }
                    SourceControl::Stop => return Ok(()),
                }
            }
        }
        if !stopping && stop.is_stopped() {
            break;
        }
        let poll = source.poll(&mut batch, BATCH_SIZE)?;
        if poll == Poll::Ready || !batch.is_empty() {
            stop.record_activity();
        }
        source.take_watermarks(&mut marks);
        emit_batch(&mut batch, &mut marks, out);
        match poll {
            Poll::Ready => {}
            Poll::Idle => {
                out.flush();
                std::thread::sleep(IDLE_SLEEP);
            }
            Poll::Finished => break,
        }
    }
    source.finish()?;
    source.take_watermarks(&mut marks);
    emit_batch(&mut batch, &mut marks, out);
    out.end();
    Ok(())
}
