//! Counters of a running dataflow, cheap enough to leave on.
//!
//! A [`Meter`] counts the records and follows the watermark of one stream. Each instance
//! that writes to the stream gets a [`Slot`] of its own (on its own cache line), which
//! only that instance's thread writes, once per batch; readers sum the slots when they
//! read. Nothing on the path of records takes a lock or contends on an atomic.
//!
//! [`DataStream::metered`](crate::stream::DataStream::metered) puts a meter on a stream;
//! the meter outlives the dataflow, so a job that rebuilds its dataflow (on a new
//! assignment of partitions) keeps counting where it was.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::checkpoint::Barrier;
use crate::emitter::Emitter;
use crate::time::{Timestamp, MIN_WATERMARK};
use crate::watermark::TimestampFn;

/// What one instance wrote to a metered stream (or counted): written by that instance's
/// thread.
#[derive(Debug)]
#[repr(align(64))]
pub struct Slot {
    records: AtomicU64,
    watermark: AtomicI64,
    idle: AtomicBool,
    ended: AtomicBool,
    /// Nanoseconds spent waiting for room in a full channel.
    blocked_ns: AtomicU64,
    /// The newest event time seen (of the last record of each batch).
    newest: AtomicI64,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            records: AtomicU64::new(0),
            watermark: AtomicI64::new(MIN_WATERMARK),
            idle: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            blocked_ns: AtomicU64::new(0),
            newest: AtomicI64::new(MIN_WATERMARK),
        }
    }
}

impl Slot {
    /// Counts `n` more. The slot's cache line is its writer's own, so the add does not
    /// contend (a slot shared by the instances of a union's parts stays exact).
    pub fn add(&self, n: u64) {
        self.records.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `waited` more time blocked on a full channel.
    pub fn add_blocked(&self, waited: Duration) {
        let ns = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        let now = self.blocked_ns.load(Ordering::Relaxed);
        self.blocked_ns
            .store(now.saturating_add(ns), Ordering::Relaxed);
    }

    fn set_watermark(&self, watermark: Timestamp) {
        self.watermark.store(watermark, Ordering::Relaxed);
    }
}

/// The records and the watermark of one stream, over all the instances that write it.
#[derive(Debug, Default)]
pub struct Meter {
    slots: Mutex<BTreeMap<(usize, usize), Arc<Slot>>>,
}

impl Meter {
    /// A meter with nothing counted.
    pub fn new() -> Arc<Meter> {
        Arc::new(Meter::default())
    }

    fn slots(&self) -> MutexGuard<'_, BTreeMap<(usize, usize), Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The slot of instance `instance` of the stream's part `part` (a union has several
    /// parts). The same instance gets the same slot when the dataflow is built again.
    pub fn slot(&self, part: usize, instance: usize) -> Arc<Slot> {
        self.slots().entry((part, instance)).or_default().clone()
    }

    /// The records counted, over all instances.
    pub fn records(&self) -> u64 {
        self.slots()
            .values()
            .map(|s| s.records.load(Ordering::Relaxed))
            .sum()
    }

    /// The newest event time the stream has carried, `None` before any (or for a stream
    /// whose records have no event time). Read from the last record of each batch: one
    /// look at a timestamp per batch, not per record.
    pub fn newest_event_time(&self) -> Option<Timestamp> {
        let newest = self
            .slots()
            .values()
            .map(|s| s.newest.load(Ordering::Relaxed))
            .max()?;
        (newest > MIN_WATERMARK).then_some(newest)
    }

    /// The time all instances spent blocked on full channels, summed.
    pub fn blocked(&self) -> Duration {
        Duration::from_nanos(
            self.slots()
                .values()
                .map(|s| s.blocked_ns.load(Ordering::Relaxed))
                .sum(),
        )
    }

    /// The stream's watermark: the least over the instances that are neither idle nor
    /// ended (the greatest when all are), `None` before there is one.
    pub fn watermark(&self) -> Option<Timestamp> {
        let slots = self.slots();
        let active = slots
            .values()
            .filter(|s| !s.idle.load(Ordering::Relaxed) && !s.ended.load(Ordering::Relaxed))
            .map(|s| s.watermark.load(Ordering::Relaxed))
            .min();
        let watermark = active.or_else(|| {
            slots
                .values()
                .map(|s| s.watermark.load(Ordering::Relaxed))
                .max()
        })?;
        (watermark > MIN_WATERMARK).then_some(watermark)
    }
}

/// Backpressure by operator: for each operator stage (by its name), the time the
/// instances feeding it spent waiting for room in its full input channels. An operator
/// whose inputs wait is the slow side of its exchange (as Flink's back-pressure shows on
/// the senders).
#[derive(Debug, Default)]
pub struct Backpressure {
    stages: Mutex<BTreeMap<String, Arc<Meter>>>,
}

impl Backpressure {
    /// A registry with nothing measured.
    pub fn new() -> Arc<Backpressure> {
        Arc::new(Backpressure::default())
    }

    /// The meter of the stage named `name` (made the first time).
    pub fn meter(&self, name: &str) -> Arc<Meter> {
        self.stages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// The time the inputs of stage `name` spent blocked (zero for a stage unknown).
    pub fn blocked(&self, name: &str) -> Duration {
        let stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        stages.get(name).map_or(Duration::ZERO, |m| m.blocked())
    }
}

/// Counts what passes into the next emitter.
pub(crate) struct MeteredEmitter<T> {
    slot: Arc<Slot>,
    next: Box<dyn Emitter<T>>,
    timestamps: Option<TimestampFn<T>>,
}

impl<T> MeteredEmitter<T> {
    /// Counts in `slot`; with `timestamps`, follows the newest event time too.
    pub(crate) fn new(
        slot: Arc<Slot>,
        next: Box<dyn Emitter<T>>,
        timestamps: Option<TimestampFn<T>>,
    ) -> Self {
        slot.ended.store(false, Ordering::Relaxed);
        MeteredEmitter {
            slot,
            next,
            timestamps,
        }
    }
}

impl<T: Send> Emitter<T> for MeteredEmitter<T> {
    fn emit(&mut self, batch: &mut Vec<T>) {
        self.slot.add(batch.len() as u64);
        if let (Some(ts), Some(last)) = (&self.timestamps, batch.last()) {
            let t = ts(last);
            if t > self.slot.newest.load(Ordering::Relaxed) {
                self.slot.newest.store(t, Ordering::Relaxed);
            }
        }
        self.next.emit(batch);
    }
    fn watermark(&mut self, watermark: Timestamp) {
        self.slot.set_watermark(watermark);
        self.next.watermark(watermark);
    }
    fn idle(&mut self, idle: bool) {
        self.slot.idle.store(idle, Ordering::Relaxed);
        self.next.idle(idle);
    }
    fn barrier(&mut self, barrier: Barrier) {
        self.next.barrier(barrier);
    }
    fn flush(&mut self) {
        self.next.flush();
    }
    fn end(&mut self) {
        self.slot.ended.store(true, Ordering::Relaxed);
        self.next.end();
    }
}

/// The checkpoints of a job: how many completed, how long and how large the last was.
#[derive(Debug, Default)]
pub struct CheckpointCounters {
    completed: AtomicU64,
    last_id: AtomicU64,
    last_duration_us: AtomicU64,
    last_bytes: AtomicU64,
    last_completed_ms: AtomicI64,
    duration_sum_us: AtomicU64,
}

/// A copy of [`CheckpointCounters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckpointSummary {
    /// Checkpoints (and savepoints) completed.
    pub completed: u64,
    /// The id of the last completed one.
    pub last_id: u64,
    /// How long the last completed one took, from trigger to completion.
    pub last_duration: Duration,
    /// How many bytes of state it wrote.
    pub last_bytes: u64,
    /// When it completed (epoch milliseconds; 0: never).
    pub last_completed_ms: i64,
    /// The total time of all completed ones.
    pub duration_sum: Duration,
}

impl CheckpointCounters {
    /// Stats with nothing completed.
    pub fn new() -> Arc<CheckpointCounters> {
        Arc::new(CheckpointCounters::default())
    }

    /// Checkpoint `id` completed after `duration`, with `bytes` of state.
    pub fn completed(&self, id: u64, duration: Duration, bytes: u64) {
        let us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.last_id.store(id, Ordering::Relaxed);
        self.last_duration_us.store(us, Ordering::Relaxed);
        self.last_bytes.store(bytes, Ordering::Relaxed);
        self.last_completed_ms
            .store(crate::time::now_ms(), Ordering::Relaxed);
        self.duration_sum_us.fetch_add(us, Ordering::Relaxed);
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    /// What the stats say now.
    pub fn summary(&self) -> CheckpointSummary {
        CheckpointSummary {
            completed: self.completed.load(Ordering::Relaxed),
            last_id: self.last_id.load(Ordering::Relaxed),
            last_duration: Duration::from_micros(self.last_duration_us.load(Ordering::Relaxed)),
            last_bytes: self.last_bytes.load(Ordering::Relaxed),
            last_completed_ms: self.last_completed_ms.load(Ordering::Relaxed),
            duration_sum: Duration::from_micros(self.duration_sum_us.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Environment;

    #[test]
    fn a_meter_counts_records_and_follows_the_watermark_of_every_instance() {
        let env = Environment::new(1);
        let meter = Meter::new();
        let events = env.from_iter(0..1000u32);
        let kept = events.filter(|n| n % 3 == 0).metered(&meter);
        let out = kept.collect();
        env.execute().unwrap();
        assert_eq!(out.take().len(), 334);
        assert_eq!(meter.records(), 334);
    }

    /// A sink that takes a millisecond per batch: slower than its source.
    struct Slow;

    impl crate::sink::Sink<u32> for Slow {
        fn write(&mut self, batch: &mut Vec<u32>) -> Result<(), crate::error::BoxError> {
            std::thread::sleep(Duration::from_millis(1));
            batch.clear();
            Ok(())
        }
    }

    #[test]
    fn the_inputs_of_a_slow_operator_wait_and_the_wait_is_counted() {
        let env = Environment::new(1);
        let backpressure = Backpressure::new();
        env.set_backpressure(backpressure.clone());
        env.from_iter(0..500_000u32).sink("slow", 1, |_| Ok(Slow));
        env.execute().unwrap();
        assert!(
            backpressure.blocked("slow") > Duration::from_millis(100),
            "{:?}",
            backpressure.blocked("slow")
        );
        assert_eq!(backpressure.blocked("unknown"), Duration::ZERO);
    }

    #[test]
    fn the_watermark_is_the_least_of_the_active_instances() {
        let meter = Meter::new();
        let (a, b, c) = (meter.slot(0, 0), meter.slot(0, 1), meter.slot(1, 0));
        assert_eq!(meter.watermark(), None);
        a.set_watermark(50);
        b.set_watermark(20);
        assert_eq!(meter.watermark(), None, "one instance has none yet");
        c.set_watermark(30);
        assert_eq!(meter.watermark(), Some(20));
        b.idle.store(true, Ordering::Relaxed);
        assert_eq!(meter.watermark(), Some(30));
        a.ended.store(true, Ordering::Relaxed);
        c.idle.store(true, Ordering::Relaxed);
        assert_eq!(meter.watermark(), Some(50));
        a.add(3);
        c.add(4);
        assert_eq!(meter.records(), 7);
    }
}
