//! Sinks: where records leave a dataflow.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::checkpoint::{no_state, Barrier, CompletedCheckpoint, RestoredState, SnapshotFn};
use crate::error::BoxError;
use crate::operator::Operator;
use crate::time::{Timestamp, MIN_WATERMARK};

/// One instance of a sink.
pub trait Sink<T>: Send {
    /// Writes a batch of records, taking them out of `batch`.
    fn write(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError>;
    /// Makes what was written durable or visible (called when input pauses and at the end).
    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
    /// The input has ended: flush and close.
    fn finish(&mut self) -> Result<(), BoxError> {
        self.flush()
    }

    /// A checkpoint barrier: make everything written so far durable (or part of the
    /// pending transaction) and copy the state to keep.
    fn snapshot(&mut self, _barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        self.flush()?;
        Ok(no_state())
    }

    /// Starts from the state of a snapshot.
    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        if state.key_groups.is_empty() && state.splits.is_empty() {
            Ok(())
        } else {
            Err("this sink cannot resume from a snapshot".into())
        }
    }

    /// A checkpoint is complete: commit what was written up to its barrier.
    fn on_checkpoint_complete(
        &mut self,
        _checkpoint: &CompletedCheckpoint,
    ) -> Result<(), BoxError> {
        Ok(())
    }
}

/// How far the sinks of a dataflow have delivered their input: for each sink instance,
/// the watermark up to which everything it received is flushed (durable or visible, as
/// [`Sink::flush`] makes it).
///
/// A sink instance has received every result of the windows that end at or before a
/// watermark when that watermark reaches it, so a source that commits its input held
/// back behind the windows still open (Kafka's consumer groups) commits no further than
/// the lowest delivered watermark: results that were fired but not yet delivered are
/// made again from the input after a crash, never lost.
#[derive(Debug, Clone, Default)]
pub struct Deliveries {
    slots: Arc<Mutex<Vec<Timestamp>>>,
}

/// How often a tracked sink instance flushes while watermarks advance.
const DELIVERY_INTERVAL: Duration = Duration::from_millis(200);

impl Deliveries {
    /// Tracks no sink yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` sink instances that have delivered nothing; returns the first one's slot.
    fn register(&self, n: usize) -> usize {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let first = slots.len();
        slots.resize(first + n, MIN_WATERMARK);
        first
    }

    fn report(&self, slot: usize, watermark: Timestamp) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slots.get_mut(slot) {
            *s = (*s).max(watermark);
        }
    }

    /// The lowest watermark the tracked sink instances have delivered through (`None`
    /// when no sink is tracked).
    pub fn watermark(&self) -> Option<Timestamp> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.iter().copied().min()
    }

    /// The tracker of `parallelism` new sink instances.
    pub(crate) fn track(&self, parallelism: usize) -> TrackedSinks {
        TrackedSinks {
            deliveries: self.clone(),
            first: self.register(parallelism),
        }
    }
}

/// The slots of one sink's instances on a [`Deliveries`].
#[derive(Debug, Clone)]
pub(crate) struct TrackedSinks {
    deliveries: Deliveries,
    first: usize,
}

impl TrackedSinks {
    /// What instance `i` reports through.
    pub(crate) fn instance(&self, i: usize) -> Delivery {
        Delivery {
            deliveries: self.deliveries.clone(),
            slot: self.first + i,
            seen: MIN_WATERMARK,
            reported: MIN_WATERMARK,
            last_flush: Instant::now(),
        }
    }
}

/// A sink instance's part of a [`Deliveries`]: the newest watermark it received, and the
/// one it reported delivered.
#[derive(Debug)]
pub(crate) struct Delivery {
    deliveries: Deliveries,
    slot: usize,
    seen: Timestamp,
    reported: Timestamp,
    last_flush: Instant,
}

impl Delivery {
    /// Whether what was received up to the newest watermark is yet to be reported; with
    /// `eager`, even when the last flush was recent.
    fn due(&self, eager: bool) -> bool {
        self.seen > self.reported && (eager || self.last_flush.elapsed() >= DELIVERY_INTERVAL)
    }

    /// The sink has just flushed everything it received.
    fn flushed(&mut self) {
        self.last_flush = Instant::now();
        if self.seen > self.reported {
            self.reported = self.seen;
            self.deliveries.report(self.slot, self.seen);
        }
    }
}

/// Runs a sink as an operator.
pub struct SinkOperator<S> {
    sink: Result<S, Option<BoxError>>,
    delivery: Option<Delivery>,
}

impl<S> SinkOperator<S> {
    /// Wraps a sink, or the error that creating it raised (reported when it first runs).
    pub fn new(sink: Result<S, BoxError>) -> Self {
        SinkOperator {
            sink: sink.map_err(Some),
            delivery: None,
        }
    }

    /// Reports what the sink has delivered through `delivery`.
    pub(crate) fn tracked(mut self, delivery: Option<Delivery>) -> Self {
        self.delivery = delivery;
        self
    }

    fn sink(&mut self) -> Result<&mut S, BoxError> {
        match &mut self.sink {
            Ok(s) => Ok(s),
            Err(e) => Err(e
                .take()
                .unwrap_or_else(|| "the sink could not be opened".into())),
        }
    }
}

impl<S> SinkOperator<S> {
    /// Flushes and reports the delivered watermark when one is due.
    fn deliver<T>(&mut self, eager: bool) -> Result<(), BoxError>
    where
        S: Sink<T>,
    {
        if !self.delivery.as_ref().is_some_and(|d| d.due(eager)) {
            return Ok(());
        }
        self.sink()?.flush()?;
        if let Some(d) = &mut self.delivery {
            d.flushed();
        }
        Ok(())
    }
}

impl<T, S: Sink<T>> Operator<T> for SinkOperator<S> {
    fn process(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError> {
        self.sink()?.write(batch)
    }
    fn on_watermark(&mut self, watermark: Timestamp) -> Result<(), BoxError> {
        if let Some(d) = &mut self.delivery {
            d.seen = d.seen.max(watermark);
        }
        self.deliver(false)
    }
    fn on_input_paused(&mut self) -> Result<(), BoxError> {
        self.deliver(true)
    }
    fn on_idle(&mut self, idle: bool) -> Result<(), BoxError> {
        if idle {
            self.sink()?.flush()?;
            if let Some(d) = &mut self.delivery {
                d.flushed();
            }
        }
        Ok(())
    }
    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        self.sink()?.snapshot(barrier)
    }
    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        self.sink()?.restore(state)
    }
    fn on_checkpoint_complete(&mut self, checkpoint: &CompletedCheckpoint) -> Result<(), BoxError> {
        self.sink()?.on_checkpoint_complete(checkpoint)
    }
    fn finish(&mut self) -> Result<(), BoxError> {
        self.sink()?.finish()?;
        if let Some(d) = &mut self.delivery {
            d.flushed();
        }
        Ok(())
    }
}

/// A sink that appends to a shared vector.
pub struct VecSink<T> {
    items: Arc<Mutex<Vec<T>>>,
}

impl<T> VecSink<T> {
    /// Appends to `items`.
    pub fn new(items: Arc<Mutex<Vec<T>>>) -> Self {
        VecSink { items }
    }
}

impl<T: Send> Sink<T> for VecSink<T> {
    fn write(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError> {
        self.items
            .lock()
            .map_err(|_| "collect sink poisoned")?
            .append(batch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts its flushes; what it was given is delivered only by one.
    #[derive(Default)]
    struct Counting {
        flushes: Arc<Mutex<usize>>,
    }

    impl Sink<u32> for Counting {
        fn write(&mut self, batch: &mut Vec<u32>) -> Result<(), BoxError> {
            batch.clear();
            Ok(())
        }
        fn flush(&mut self) -> Result<(), BoxError> {
            *self.flushes.lock().unwrap() += 1;
            Ok(())
        }
    }

    #[test]
    fn a_sink_reports_a_watermark_delivered_only_once_it_has_flushed() {
        let deliveries = Deliveries::new();
        assert_eq!(deliveries.watermark(), None);
        let tracked = deliveries.track(2);
        let flushes = Arc::new(Mutex::new(0));
        let sink = |flushes: &Arc<Mutex<usize>>| Counting {
            flushes: flushes.clone(),
        };
        let mut first = SinkOperator::new(Ok(sink(&flushes))).tracked(Some(tracked.instance(0)));
        let mut second = SinkOperator::new(Ok(sink(&flushes))).tracked(Some(tracked.instance(1)));
        assert_eq!(deliveries.watermark(), Some(MIN_WATERMARK));

        // A watermark right after the last flush is not delivered yet.
        first.process(&mut vec![1, 2]).unwrap();
        first.on_watermark(100).unwrap();
        assert_eq!(*flushes.lock().unwrap(), 0);
        assert_eq!(deliveries.watermark(), Some(MIN_WATERMARK));

        // A pause of the input flushes it.
        first.on_input_paused().unwrap();
        second.on_watermark(70).unwrap();
        second.on_input_paused().unwrap();
        assert_eq!(*flushes.lock().unwrap(), 2);
        assert_eq!(deliveries.watermark(), Some(70));

        // Nothing new: no flush.
        second.on_input_paused().unwrap();
        assert_eq!(*flushes.lock().unwrap(), 2);

        // While watermarks advance, a flush at most every interval.
        std::thread::sleep(DELIVERY_INTERVAL);
        second.on_watermark(150).unwrap();
        second.on_watermark(160).unwrap();
        assert_eq!(*flushes.lock().unwrap(), 3);
        assert_eq!(deliveries.watermark(), Some(100));
    }

    #[test]
    fn an_untracked_sink_flushes_only_when_asked() {
        let flushes = Arc::new(Mutex::new(0));
        let mut op = SinkOperator::new(Ok(Counting {
            flushes: flushes.clone(),
        }));
        op.on_watermark(100).unwrap();
        op.on_input_paused().unwrap();
        assert_eq!(*flushes.lock().unwrap(), 0);
        op.on_idle(true).unwrap();
        assert_eq!(*flushes.lock().unwrap(), 1);
    }
}
