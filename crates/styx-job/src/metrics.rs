//! The metrics of a running job, by the ids of its job file.
//!
//! Every source, transform and sink of the job file is an operator here, with the records
//! that came in, the records it handed on to its main output, the records it dropped by
//! reason (dead letters, late events, events that failed with no dead-letter output), and
//! the watermark of its main output (of its input, for a sink). The counting itself is
//! the runtime's [`Meter`]: one slot per instance, written once per batch.
//!
//! The same [`JobMetrics`] goes on counting when a job rebuilds its dataflow (a new
//! assignment of partitions): counts are since the job started.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use styx_kafka::ConsumerLag;
use styx_runtime::checkpoint::coordinator::CheckpointStats;
use styx_runtime::event::Event;
use styx_runtime::metrics::{Backpressure, CheckpointCounters, CheckpointSummary, Meter, Slot};
use styx_runtime::stream::DataStream;
use styx_runtime::time::Timestamp;

/// Why records were dropped: a label of `styx_records_dropped_total`.
pub mod reason {
    /// Sent to a dead-letter output.
    pub const DEAD_LETTER: &str = "dead_letter";
    /// Late for every window or pattern they belong to (sent to the `.late` output).
    pub const LATE: &str = "late";
    /// Failed with no dead-letter output, counted and summarised (`on_error`).
    pub const FAILED: &str = "failed";
}

/// The names of the counters operators keep beside their records.
pub mod counter {
    /// Keys a lookup looked up.
    pub const LOOKUPS: &str = "lookups";
    /// Keys a lookup read from the store (not in its cache, or aged): the rest were
    /// cache hits.
    pub const STORE_READS: &str = "store_reads";
    /// Events whose handling was timed (one in [`super::TIMING_EVERY`], or every event of
    /// a batch timed as a whole).
    pub const TIMED: &str = "timed";
    /// Nanoseconds the timed events took (scoring, for a score transform).
    pub const TIMED_NANOS: &str = "timed_nanos";
}

/// One event in this many is timed: timing every event would cost more than scoring some.
pub const TIMING_EVERY: u64 = 64;

/// Runs `work`, timed by `timing` when there is one.
pub(crate) fn timed<R>(timing: Option<&mut Timing>, work: impl FnOnce() -> R) -> R {
    match timing {
        Some(t) => t.time(work),
        None => work(),
    }
}

/// Makes the [`Timing`] of each instance of an operator.
#[derive(Clone)]
pub(crate) struct TimingSource {
    samples: Arc<Meter>,
    nanos: Arc<Meter>,
}

impl TimingSource {
    /// The timing of instance `instance`.
    pub(crate) fn timing(&self, instance: usize) -> Timing {
        Timing {
            samples: self.samples.slot(0, instance),
            nanos: self.nanos.slot(0, instance),
            n: 0,
        }
    }
}

/// Times one event in [`TIMING_EVERY`] of an instance's work.
pub(crate) struct Timing {
    samples: Arc<Slot>,
    nanos: Arc<Slot>,
    n: u64,
}

impl Timing {
    /// Runs `work`, timing it if it is the turn of this event.
    pub(crate) fn time<R>(&mut self, work: impl FnOnce() -> R) -> R {
        self.n += 1;
        if self.n % TIMING_EVERY != 0 {
            return work();
        }
        let started = Instant::now();
        let result = work();
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.samples.add(1);
        self.nanos.add(nanos);
        result
    }

    /// Runs `work` on a batch of `events` events, timing it (one clock reading for the
    /// batch) as that many events.
    pub(crate) fn time_batch<R>(&mut self, events: usize, work: impl FnOnce() -> R) -> R {
        let started = Instant::now();
        let result = work();
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.samples.add(events as u64);
        self.nanos.add(nanos);
        result
    }
}

/// What kind of step an operator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorKind {
    /// `[sources.ID]`.
    Source,
    /// `[transforms.ID]`.
    Transform,
    /// `[sinks.ID]`.
    Sink,
}

impl OperatorKind {
    /// `source`, `transform` or `sink`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorKind::Source => "source",
            OperatorKind::Transform => "transform",
            OperatorKind::Sink => "sink",
        }
    }
}

/// The meters of one operator.
#[derive(Debug)]
pub struct OperatorMetrics {
    /// The id in the job file.
    pub id: String,
    /// What kind of step it is.
    pub kind: OperatorKind,
    /// `type` in the job file (`kafka`, `window`, `file`...).
    pub type_name: String,
    /// The operators whose outputs it reads.
    pub inputs: Vec<String>,
    records_in: Arc<Meter>,
    records_out: Arc<Meter>,
    /// Side outputs by name (`timed_out`) that are neither the main output nor drops.
    side: Mutex<BTreeMap<String, Arc<Meter>>>,
    dropped: Mutex<BTreeMap<&'static str, Arc<Meter>>>,
    failed: Arc<AtomicU64>,
    /// The consumer lag of a Kafka source's partitions.
    lag: Arc<ConsumerLag>,
    /// Counts of what the operator does, by name (see [`counter`]).
    counters: Mutex<BTreeMap<&'static str, Arc<Meter>>>,
}

/// What an operator's meters say at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorSnapshot {
    /// The id in the job file.
    pub id: String,
    /// `source`, `transform` or `sink`.
    pub kind: &'static str,
    /// `type` in the job file.
    pub type_name: String,
    /// The operators whose outputs it reads.
    pub inputs: Vec<String>,
    /// Records that came in (for a source: read, handed on or dropped).
    pub records_in: u64,
    /// Records handed on to the main output (for a sink: written, as many as came in).
    pub records_out: u64,
    /// Records dropped, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Records sent to other side outputs, by output.
    pub side: BTreeMap<String, u64>,
    /// The watermark of the main output (a sink's: of its input).
    pub watermark: Option<Timestamp>,
    /// The time the instances feeding it spent waiting for room in its input (it was the
    /// slower side): backpressure. Zero for steps chained to the one before them.
    pub input_blocked: Duration,
    /// A Kafka source's consumer lag: records beyond its position, by partition
    /// (`topic`, partition, lag).
    pub lag: Vec<(String, i32, i64)>,
    /// Counts of what it does, by the names of [`counter`].
    pub counters: BTreeMap<String, u64>,
    /// The newest event time of its main output (a sink's: of its input), `None` for
    /// records without event time.
    pub newest_event_time: Option<Timestamp>,
}

impl OperatorSnapshot {
    /// How far the watermark is behind the newest event time (milliseconds).
    pub fn watermark_lag(&self) -> Option<i64> {
        let (newest, watermark) = (self.newest_event_time?, self.watermark?);
        (watermark < i64::MAX).then(|| (newest - watermark).max(0))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl OperatorMetrics {
    fn new(id: &str, kind: OperatorKind, type_name: &str, inputs: Vec<String>) -> Self {
        OperatorMetrics {
            id: id.to_string(),
            kind,
            type_name: type_name.to_string(),
            inputs,
            records_in: Meter::new(),
            records_out: Meter::new(),
            side: Mutex::new(BTreeMap::new()),
            dropped: Mutex::new(BTreeMap::new()),
            failed: Arc::new(AtomicU64::new(0)),
            lag: ConsumerLag::new(),
            counters: Mutex::new(BTreeMap::new()),
        }
    }

    /// The counter `name` of the operator (one of [`counter`]), made the first time.
    pub(crate) fn counter(&self, name: &'static str) -> Arc<Meter> {
        lock(&self.counters).entry(name).or_default().clone()
    }

    /// What times the operator's instances' work on single events.
    pub(crate) fn timing_source(&self) -> TimingSource {
        TimingSource {
            samples: self.counter(counter::TIMED),
            nanos: self.counter(counter::TIMED_NANOS),
        }
    }

    /// Where a Kafka source's consumers report the lag of their partitions.
    pub(crate) fn consumer_lag(&self) -> Arc<ConsumerLag> {
        self.lag.clone()
    }

    /// Counts the records of `input` as coming in.
    pub fn count_in(&self, input: &DataStream<Event>) -> DataStream<Event> {
        input.metered(&self.records_in)
    }

    /// Counts the records of `output` as handed on to the main output.
    pub fn count_out(&self, output: &DataStream<Event>) -> DataStream<Event> {
        output.metered(&self.records_out)
    }

    /// Counts the records of `output` as dropped for `reason`.
    pub fn count_dropped(
        &self,
        output: &DataStream<Event>,
        reason: &'static str,
    ) -> DataStream<Event> {
        let meter = lock(&self.dropped).entry(reason).or_default().clone();
        output.metered(&meter)
    }

    /// Counts the records of the side output `name`.
    pub fn count_side(&self, output: &DataStream<Event>, name: &str) -> DataStream<Event> {
        let meter = lock(&self.side)
            .entry(name.to_string())
            .or_default()
            .clone();
        output.metered(&meter)
    }

    /// The counter of events that failed with no dead-letter output.
    pub(crate) fn failed_counter(&self) -> Arc<AtomicU64> {
        self.failed.clone()
    }

    /// What the meters say now.
    pub fn snapshot(&self) -> OperatorSnapshot {
        let mut dropped: BTreeMap<String, u64> = lock(&self.dropped)
            .iter()
            .map(|(r, m)| (r.to_string(), m.records()))
            .collect();
        let failed = self.failed.load(Ordering::Relaxed);
        if failed > 0 {
            *dropped.entry(reason::FAILED.to_string()).or_default() += failed;
        }
        let out = match self.kind {
            // A sink writes what comes in.
            OperatorKind::Sink => self.records_in.records(),
            _ => self.records_out.records(),
        };
        let records_in = match self.kind {
            // What a source read: handed on, or dropped as unreadable.
            OperatorKind::Source => out + dropped.values().sum::<u64>(),
            _ => self.records_in.records(),
        };
        let watermark = match self.kind {
            OperatorKind::Sink => self.records_in.watermark(),
            _ => self.records_out.watermark(),
        };
        OperatorSnapshot {
            id: self.id.clone(),
            kind: self.kind.as_str(),
            type_name: self.type_name.clone(),
            inputs: self.inputs.clone(),
            records_in,
            records_out: out,
            dropped,
            side: lock(&self.side)
                .iter()
                .map(|(n, m)| (n.clone(), m.records()))
                .collect(),
            watermark,
            input_blocked: Duration::ZERO,
            lag: self
                .lag
                .all()
                .into_iter()
                .map(|(p, lag)| (p.topic, p.partition, lag))
                .collect(),
            newest_event_time: match self.kind {
                OperatorKind::Sink => self.records_in.newest_event_time(),
                _ => self.records_out.newest_event_time(),
            },
            counters: lock(&self.counters)
                .iter()
                .map(|(name, m)| (name.to_string(), m.records()))
                .collect(),
        }
    }

    /// The name of its stage in the runtime, where its backpressure is measured.
    fn stage_name(&self) -> Option<String> {
        match self.kind {
            OperatorKind::Source => None,
            OperatorKind::Transform => Some(format!("transforms.{}", self.id)),
            OperatorKind::Sink => Some(format!("sinks.{}", self.id)),
        }
    }
}

/// A job's records as a whole (see [`JobMetrics::totals`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Records its sources read and handed on.
    pub read: u64,
    /// Records its sinks wrote.
    pub written: u64,
    /// Records its operators dropped, for any reason.
    pub dropped: u64,
    /// The least watermark of its sinks' inputs.
    pub watermark: Option<Timestamp>,
}

/// What a job uses of the store, by name, as the store's live view keeps it.
type InUse = Arc<Mutex<BTreeMap<String, serde_json::Value>>>;

/// The metrics of a job: its operators in the order of the job file's graph (sources,
/// transforms in dataflow order, sinks), and its checkpoints.
#[derive(Debug)]
pub struct JobMetrics {
    operators: Mutex<Vec<Arc<OperatorMetrics>>>,
    checkpoints: Arc<CheckpointCounters>,
    statistics: Mutex<Vec<crossbeam_channel::Receiver<CheckpointStats>>>,
    backpressure: Arc<Backpressure>,
    /// What the job uses of the store now (model and pattern versions, revisions).
    store: Mutex<Option<InUse>>,
}

impl Default for JobMetrics {
    fn default() -> Self {
        JobMetrics {
            operators: Mutex::new(Vec::new()),
            checkpoints: CheckpointCounters::new(),
            statistics: Mutex::new(Vec::new()),
            backpressure: Backpressure::new(),
            store: Mutex::new(None),
        }
    }
}

impl JobMetrics {
    /// Metrics with nothing counted yet.
    pub fn new() -> Arc<JobMetrics> {
        Arc::new(JobMetrics::default())
    }

    /// The meters of operator `id`, made the first time it is asked for.
    pub(crate) fn operator(
        &self,
        id: &str,
        kind: OperatorKind,
        type_name: &str,
        inputs: &[String],
    ) -> Arc<OperatorMetrics> {
        let mut operators = lock(&self.operators);
        if let Some(op) = operators.iter().find(|o| o.id == id && o.kind == kind) {
            return op.clone();
        }
        let op = Arc::new(OperatorMetrics::new(id, kind, type_name, inputs.to_vec()));
        operators.push(op.clone());
        op
    }

    /// The counter of failed events of component `component` (`transforms.ID`,
    /// `sources.ID`, `sinks.ID`), once its operator is known.
    pub(crate) fn failed_counter(&self, component: &str) -> Option<Arc<AtomicU64>> {
        let (kind, id) = component.split_once('.')?;
        let kind = match kind {
            "sources" => OperatorKind::Source,
            "transforms" => OperatorKind::Transform,
            "sinks" => OperatorKind::Sink,
            _ => return None,
        };
        lock(&self.operators)
            .iter()
            .find(|o| o.id == id && o.kind == kind)
            .map(|o| o.failed_counter())
    }

    /// Follows the checkpoints whose statistics come through `statistics`.
    pub(crate) fn follow_checkpoints(
        &self,
        statistics: crossbeam_channel::Receiver<CheckpointStats>,
    ) {
        lock(&self.statistics).push(statistics);
    }

    /// What every operator's meters say now, in the graph's order.
    pub fn operators(&self) -> Vec<OperatorSnapshot> {
        lock(&self.operators)
            .iter()
            .map(|o| {
                let mut snapshot = o.snapshot();
                if let Some(stage) = o.stage_name() {
                    snapshot.input_blocked = self.backpressure.blocked(&stage);
                }
                snapshot
            })
            .collect()
    }

    /// Follows what the job uses of the store in `in_use` (see [`JobMetrics::store`]).
    pub(crate) fn follow_store(&self, in_use: InUse) {
        *lock(&self.store) = Some(in_use);
    }

    /// What the job uses of the store now: `transforms.ID.model_version`,
    /// `transforms.ID.pattern_version`, `store.revisions` (by kind), `store.url`. Empty
    /// for a job that reads no store.
    pub fn store(&self) -> BTreeMap<String, serde_json::Value> {
        lock(&self.store)
            .as_ref()
            .map(|in_use| lock(in_use).clone())
            .unwrap_or_default()
    }

    /// Where the runtime measures the backpressure of the job's operators.
    pub fn backpressure(&self) -> Arc<Backpressure> {
        self.backpressure.clone()
    }

    /// The job's checkpoints so far.
    pub fn checkpoints(&self) -> CheckpointSummary {
        for rx in lock(&self.statistics).iter() {
            for stats in rx.try_iter() {
                self.checkpoints
                    .completed(stats.id, stats.duration, stats.bytes);
            }
        }
        self.checkpoints.summary()
    }

    /// The job as a whole: records its sources read, its sinks wrote, its operators
    /// dropped, and the least watermark its sinks have seen.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        let mut watermark: Option<Timestamp> = None;
        for o in self.operators() {
            match o.kind {
                "source" => totals.read += o.records_out,
                "sink" => {
                    totals.written += o.records_in;
                    if let Some(w) = o.watermark {
                        watermark = Some(watermark.map_or(w, |m| m.min(w)));
                    }
                }
                _ => {}
            }
            totals.dropped += o.dropped.values().sum::<u64>();
        }
        totals.watermark = watermark;
        totals
    }
}
