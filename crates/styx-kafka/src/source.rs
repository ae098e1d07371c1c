//! The Kafka source of the stream runtime: a [`Source`] of JSON events read by a member of
//! a consumer group, with event time and watermarks tracked per partition.
//!
//! # Partitions
//!
//! Every instance of a source is a member of the source's consumer group; the group
//! spreads the topic's partitions over the instances (and over the instances of other
//! processes running the same job with the same group). When the group takes partitions
//! away, their watermark state is dropped and their committed offsets are where the next
//! owner goes on; newly assigned partitions resume from the group's committed offsets
//! (or, the first time, where `start` says, or where a restored snapshot says). With
//! [`SourceOptions::partitions`] an instance reads the partitions it is given instead,
//! outside the group's rebalancing (what exactly-once jobs do).
//!
//! # Event time and watermarks
//!
//! As Flink's Kafka source with a bounded-out-of-orderness strategy, watermarks are kept
//! per partition: after an event the partition's watermark is `max timestamp seen in the
//! partition - max_out_of_orderness - 1 ms`, and the instance's watermark is the minimum
//! over its active partitions. `per_event` emits it after every event that raises it (in
//! order with the records, exactly as the file source does); `periodic` emits it on an
//! interval. A partition without records for the idle timeout (the event time's
//! `idle_timeout`, else [`DEFAULT_PARTITION_IDLE_TIMEOUT`]) stops holding the watermark
//! back until it has records again; an instance whose partitions are all idle is marked
//! idle, and so is one that has held no partition for the idle timeout (until then its
//! partitions are on their way, from joining the group or a rebalance, and it holds the
//! watermark back so that their records do not come late). Reading one partition therefore gives exactly the records
//! and watermarks that reading the same records from a file gives.
//!
//! # Dead letters
//!
//! Records that cannot be read (not JSON, not an object, no valid event time) go to the
//! dead-letter output when there is one, as objects with `reason`, `topic`, `partition`,
//! `offset` and `payload`; either way they are counted and logged, and the source goes on.
//!
//! # Offsets (at least once)
//!
//! Only offsets of records already handed downstream are committed:
//! [`CommitPolicy::HandedOn`] stores them as records are handed on and lets the consumer
//! commit them periodically, on revocation and when the source ends;
//! [`CommitPolicy::OnCheckpoint`] commits the offsets of a snapshot once its checkpoint
//! is complete (and, when the job ends cleanly, those of every record handed on). A
//! snapshot holds the next offset of each partition, one split per partition named
//! `topic/partition`; restoring it starts those partitions there.
//! [`CommitPolicy::InTransaction`] commits nothing: an exactly-once sink commits the
//! offsets inside its transactions.
//!
//! # Reading a process's group membership
//!
//! With [`SourceOptions::group`] the instance reads partitions a process-wide
//! [`GroupMember`](crate::group::GroupMember) holds, starting at the plan's offsets and
//! watermark, and commits through the member every [`COMMIT_INTERVAL`], held back to the
//! oldest record a window may still need (see [`crate::group`]). Each round commits what
//! the round before found, so that the results of the records it covers have had a round
//! to reach the sinks. When the member's assignment changes, the instance fails with
//! [`Reassigned`]: the process starts its dataflow again on the new assignment.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use styx_runtime::checkpoint::{
    decode as decode_state, encode as encode_state, Barrier, CompletedCheckpoint, RestoredState,
    SnapshotFn, TaskState,
};
use styx_runtime::emitter::{Collector, Emitter};
use styx_runtime::error::BoxError;
use styx_runtime::source::{Poll, Source, WatermarkMark};
use styx_runtime::time::{Timestamp, MAX_WATERMARK, MIN_WATERMARK};
use styx_runtime::watermark::{Emission, TimestampFn, WatermarkStrategy};

use crate::config::KafkaSourceConfig;
use crate::consumer::{KafkaConsumer, Partition, Polled, RebalanceEvent, StartPositions};
use crate::decode::{Decoder, Event};
use crate::exactly_once::TransactionLink;
use crate::group::{CommitPoint, GroupHandle, Horizon, Reassigned, WatermarkBoard};

/// How long a partition may go without records before it stops holding the watermark
/// back, when the event time sets no `idle_timeout`.
pub const DEFAULT_PARTITION_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often an instance reading a process's group membership commits.
pub const COMMIT_INTERVAL: Duration = Duration::from_secs(1);

/// How many commit points an instance keeps per partition before it thins them out.
const MAX_POINTS: usize = 1024;

/// How long a poll waits for the first record before it reports that nothing came.
const POLL_WAIT: Duration = Duration::from_millis(100);

/// How long a source that has no partitions yet counts as busy joining its group.
const JOIN_GRACE: Duration = Duration::from_secs(60);

/// How many refused records are logged one by one before only every 1000th is.
const LOGGED_DEAD_LETTERS: u64 = 10;

/// When a Kafka source commits the offsets of what it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitPolicy {
    /// The offsets of records handed downstream are committed periodically (the
    /// consumer's `auto.commit.interval.ms`), when partitions are revoked, and when the
    /// source ends. For jobs without checkpoints.
    #[default]
    HandedOn,
    /// A snapshot's offsets are committed when its checkpoint is complete, and those of
    /// every record handed on when the job ends cleanly.
    OnCheckpoint,
    /// The source commits nothing itself: a transactional sink commits its offsets
    /// inside its transactions (see [`crate::exactly_once`]), learning of the group and
    /// of the final positions through the options' [`TransactionLink`].
    InTransaction,
}

/// What the instances of one Kafka source in a process share: where partitions start.
#[derive(Debug, Clone)]
pub struct SharedStarts {
    starts: StartPositions,
    restored: Arc<AtomicBool>,
}

impl SharedStarts {
    /// Partitions start where `starts` says (until a snapshot is restored).
    pub fn new(starts: StartPositions) -> Self {
        SharedStarts {
            starts,
            restored: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The starting positions.
    pub fn positions(&self) -> &StartPositions {
        &self.starts
    }
}

/// How a Kafka source instance runs, beyond its job-file table.
pub struct SourceOptions {
    /// The instance's name in logs (for example `sources.payments[1]`).
    pub name: String,
    /// Event time and watermarks (timestamps from the strategy's extractor); `None`:
    /// the events have no event time.
    pub watermarks: Option<WatermarkStrategy<Event>>,
    /// When offsets are committed.
    pub commit: CommitPolicy,
    /// With [`CommitPolicy::InTransaction`]: the link to the transactional sink, and the
    /// source operator's name in it.
    pub link: Option<(TransactionLink, String)>,
    /// Partitions the instance reads by itself, outside the group's rebalancing
    /// (`None`: the group assigns them).
    pub partitions: Option<Vec<Partition>>,
    /// The process's group membership whose partitions the instance reads (given in
    /// `partitions`), and how it commits through it.
    pub group: Option<GroupReading>,
    /// Where the consumer lag of the instance's partitions is reported.
    pub lag: Option<Arc<crate::consumer::ConsumerLag>>,
    /// The fields kept of each JSON record (all when `None`; see [`Decoder::only`]).
    pub only: Option<Vec<String>>,
}

/// How an instance reads partitions of a process's group membership.
#[derive(Clone)]
pub struct GroupReading {
    /// The member, through which the instance commits.
    pub member: GroupHandle,
    /// The member's epoch the partitions belong to.
    pub epoch: u64,
    /// How far behind the job's watermark records may still be needed.
    pub horizon: Horizon,
    /// The watermarks of the job's group-reading instances.
    pub board: WatermarkBoard,
    /// This instance's slot on the board.
    pub slot: usize,
    /// The watermark the dataflow starts at.
    pub floor: Timestamp,
}

/// Where a partition's records are done: after each poll that read some, the next
/// offset and the highest timestamp before it, oldest first.
#[derive(Debug, Default)]
struct CommitPoints {
    points: std::collections::VecDeque<(i64, Timestamp)>,
}

impl CommitPoints {
    fn push(&mut self, next: i64, max_ts: Timestamp) {
        if self.points.back().is_some_and(|(o, _)| *o == next) {
            return;
        }
        self.points.push_back((next, max_ts));
        if self.points.len() > MAX_POINTS {
            // Every other point goes: commits get coarser, never wrong.
            let mut keep = false;
            let last = self.points.len() - 1;
            let mut i = 0;
            self.points.retain(|_| {
                keep = !keep || i == last;
                i += 1;
                keep
            });
        }
    }

    /// The last point before which every record is older than `threshold` (its offset
    /// and newest time); the points before it go.
    fn done_before(&mut self, threshold: Timestamp) -> Option<(i64, Timestamp)> {
        let n = self
            .points
            .iter()
            .take_while(|(_, ts)| *ts < threshold)
            .count();
        if n == 0 {
            return None;
        }
        self.points.drain(..n - 1);
        self.points.front().copied()
    }
}

/// The watermark state of one partition.
#[derive(Debug)]
struct PartitionState {
    max_ts: Timestamp,
    /// Whether the last record read holds `max_ts` (a commit point of a group reading
    /// is only taken after such a record, so that its next owner learns from that record
    /// which windows are whole after it).
    last_is_max: bool,
    last_record: Instant,
    idle: bool,
}

impl PartitionState {
    fn new() -> Self {
        PartitionState {
            max_ts: MIN_WATERMARK,
            last_is_max: false,
            last_record: Instant::now(),
            idle: false,
        }
    }
}

/// Event time of a source: the extractor and how watermarks go.
struct EventTime {
    timestamp: TimestampFn<Event>,
    delay: i64,
    emission: Emission,
    idle_timeout: Duration,
}

/// One instance of a Kafka source. See the [module documentation](self).
pub struct KafkaSource {
    name: String,
    consumer: Option<KafkaConsumer>,
    shared: SharedStarts,
    time: Option<EventTime>,
    commit: CommitPolicy,
    link: Option<(TransactionLink, String)>,
    /// Partitions to assign at the first poll (after a snapshot is restored).
    to_assign: Option<Vec<Partition>>,
    partitions: HashMap<Partition, PartitionState>,
    /// The next offset of every partition after the records handed on.
    handed: BTreeMap<Partition, i64>,
    /// Positions restored from a snapshot, for partitions that have had no record since.
    restored: HashMap<Partition, i64>,
    /// Offsets of snapshots waiting for their checkpoint to complete, by checkpoint id.
    snapshots: BTreeMap<u64, Vec<(Partition, i64)>>,
    emitted: Timestamp,
    last_emit: Instant,
    idle: bool,
    marks: Vec<WatermarkMark>,
    dead: Option<Collector<Event>>,
    refused: u64,
    finished: bool,
    /// Partitions whose handed-on offsets are not stored yet.
    touched: Vec<Partition>,
    /// Whether the group has assigned partitions to the source yet.
    joined: bool,
    created: Instant,
    /// Since when the instance has held no partition after a rebalance (`None`: it holds
    /// some, or the group has not assigned anything yet). For the idle timeout it still
    /// holds the watermark back: partitions are on their way (a rebalance), and their
    /// records must not come late. Before its first assignment it holds the watermark
    /// back for as long as joining may take ([`JOIN_GRACE`]): joining a group can take
    /// longer than any idle timeout, and an instance marked idle while its partitions
    /// are still being assigned would let the others' watermark run ahead of them.
    unassigned_since: Option<Instant>,
    group: Option<GroupReading>,
    points: HashMap<Partition, CommitPoints>,
    /// What the last commit round found, for the next to commit.
    pending: Vec<CommitPoint>,
    last_round: Instant,
}

impl KafkaSource {
    /// A source instance reading the topics of `config` as a member of its group. The
    /// event-time field (checked by the decoder) is `time_field`; `dead` is the emitter of
    /// the dead-letter output, if the source has one.
    pub fn new<E>(
        config: &KafkaSourceConfig<E>,
        time_field: Option<&str>,
        shared: SharedStarts,
        options: SourceOptions,
        dead: Option<Box<dyn Emitter<Event>>>,
    ) -> crate::Result<Self> {
        let mut decoder = Decoder::for_source(config, time_field);
        decoder.only = options.only.clone();
        let consumer = match &options.partitions {
            Some(_) => {
                KafkaConsumer::unsubscribed(config, decoder, shared.starts.clone(), &options.name)?
            }
            None => KafkaConsumer::new(config, decoder, shared.starts.clone(), &options.name)?,
        };
        if let Some(lag) = &options.lag {
            consumer.context().report_lag(lag.clone());
        }
        let time = options.watermarks.map(|s| EventTime {
            timestamp: s.timestamp_fn(),
            delay: i64::try_from(s.max_out_of_orderness().as_millis()).unwrap_or(i64::MAX),
            emission: s.emission(),
            idle_timeout: s.idle_timeout().unwrap_or(DEFAULT_PARTITION_IDLE_TIMEOUT),
        });
        let floor = options.group.as_ref().map_or(MIN_WATERMARK, |g| g.floor);
        let mut marks = Vec::new();
        let floor = if time.is_some() { floor } else { MIN_WATERMARK };
        if floor > MIN_WATERMARK {
            // Windows that had fired before the plan's commits stay closed.
            marks.push(WatermarkMark::Watermark {
                after: 0,
                watermark: floor,
            });
        }
        Ok(KafkaSource {
            name: options.name,
            consumer: Some(consumer),
            shared,
            time,
            commit: options.commit,
            link: options.link,
            to_assign: options.partitions,
            partitions: HashMap::new(),
            handed: BTreeMap::new(),
            restored: HashMap::new(),
            snapshots: BTreeMap::new(),
            emitted: floor,
            last_emit: Instant::now(),
            idle: false,
            marks,
            dead: dead.map(Collector::new),
            refused: 0,
            finished: false,
            touched: Vec::new(),
            // A group member's partitions are known from the start.
            joined: options.group.is_some(),
            created: Instant::now(),
            unassigned_since: options.group.is_some().then(Instant::now),
            group: options.group,
            points: HashMap::new(),
            pending: Vec::new(),
            last_round: Instant::now(),
        })
    }

    /// How many records were refused so far (sent to the dead-letter output, or skipped).
    pub fn refused(&self) -> u64 {
        self.refused
    }

    fn consumer(&self) -> Result<&KafkaConsumer, BoxError> {
        self.consumer
            .as_ref()
            .ok_or_else(|| "the Kafka source has already ended".into())
    }

    /// The instance's watermark now: the minimum over active partitions, or `None` when
    /// no partition is active.
    fn current(&self) -> Option<Timestamp> {
        let delay = self.time.as_ref().map_or(0, |t| t.delay);
        self.partitions
            .values()
            .filter(|p| !p.idle)
            .map(|p| {
                if p.max_ts == MIN_WATERMARK {
                    MIN_WATERMARK
                } else {
                    p.max_ts.saturating_sub(delay).saturating_sub(1)
                }
            })
            .min()
    }

    /// Emits the instance's watermark after the first `after` records of the batch if it
    /// has risen, or marks the instance idle when no partition is active.
    fn update_watermark(&mut self, after: usize) {
        if self.time.is_none() {
            return;
        }
        match self.current() {
            None if self.waiting_for_partitions() => {}
            None => {
                if !self.idle {
                    self.idle = true;
                    self.marks.push(WatermarkMark::Idle(true));
                }
            }
            Some(wm) => {
                if wm > self.emitted {
                    self.emitted = wm;
                    self.marks.push(WatermarkMark::Watermark {
                        after,
                        watermark: wm,
                    });
                }
                self.last_emit = Instant::now();
            }
        }
    }

    /// Whether the instance holds no partition, but some may still be on their way: it
    /// has not been through its first assignment yet (for at most [`JOIN_GRACE`]), or has
    /// held none only for less than the idle timeout.
    fn waiting_for_partitions(&self) -> bool {
        if !self.partitions.is_empty() {
            return false;
        }
        match self.unassigned_since {
            None => self.created.elapsed() < JOIN_GRACE,
            Some(since) => {
                let timeout = self
                    .time
                    .as_ref()
                    .map_or(Duration::ZERO, |t| t.idle_timeout);
                since.elapsed() < timeout
            }
        }
    }

    /// Applies the group's changes of assignment since the last look.
    fn apply_rebalances(&mut self, batch_len: usize) -> Result<(), BoxError> {
        let events = self.consumer()?.context().take_events();
        if events.is_empty() {
            return Ok(());
        }
        for event in events {
            match event {
                RebalanceEvent::Assigned(parts) => {
                    if parts.is_empty() {
                        continue;
                    }
                    for p in parts {
                        self.partitions.entry(p).or_insert_with(PartitionState::new);
                    }
                    self.unassigned_since = None;
                    if let Some((link, operator)) = &self.link {
                        if let Some(group) = self.consumer()?.group_metadata() {
                            link.set_group(operator, group);
                        }
                    }
                    if self.idle && self.time.is_some() {
                        // The new partitions hold the watermark back from now on (until
                        // their records come, or their idle timeout).
                        self.idle = false;
                        self.marks.push(WatermarkMark::Idle(false));
                    }
                }
                RebalanceEvent::Revoked(parts) => {
                    for p in &parts {
                        self.partitions.remove(p);
                        self.handed.remove(p);
                        self.restored.remove(p);
                    }
                }
                RebalanceEvent::Failed(reason) => {
                    tracing::warn!(source = %self.name, "the group took every partition: {reason}");
                    self.partitions.clear();
                    self.handed.clear();
                }
            }
        }
        if self.partitions.is_empty() && self.unassigned_since.is_none() {
            self.unassigned_since = Some(Instant::now());
        }
        // Partitions that went away no longer hold the watermark back.
        self.update_watermark(batch_len);
        Ok(())
    }

    /// Hands a record on (or refuses it) and advances the partition's watermark.
    fn handle(&mut self, polled: Polled, out: &mut Vec<Event>) -> Result<(), BoxError> {
        let (partition, offset) = polled.position();
        match polled {
            Polled::Event { event, .. } => {
                if self.idle {
                    // Active again before this record (the batch holds none yet: an idle
                    // instance had nothing to hand on).
                    self.idle = false;
                    self.marks.push(WatermarkMark::Idle(false));
                }
                let ts = self.time.as_ref().map(|t| (t.timestamp)(&event));
                let state = self
                    .partitions
                    .entry(partition.clone())
                    .or_insert_with(PartitionState::new);
                state.last_record = Instant::now();
                state.idle = false;
                state.last_is_max = ts.is_some_and(|ts| ts >= state.max_ts);
                out.push(event);
                if let Some(ts) = ts {
                    if ts > state.max_ts {
                        state.max_ts = ts;
                        let per_event = self
                            .time
                            .as_ref()
                            .is_some_and(|t| t.emission == Emission::PerEvent);
                        if per_event {
                            self.update_watermark(out.len());
                        }
                    }
                }
            }
            Polled::Dead(dead) => {
                if let Some(state) = self.partitions.get_mut(&partition) {
                    state.last_is_max = false;
                }
                self.refused += 1;
                if self.refused <= LOGGED_DEAD_LETTERS || self.refused % 1000 == 0 {
                    tracing::warn!(
                        source = %self.name,
                        "record {}/{}@{} refused ({} refused so far{}): {}",
                        dead.topic,
                        dead.partition,
                        dead.offset,
                        self.refused,
                        if self.dead.is_some() { ", sent to the dead-letter output" } else { ", skipped" },
                        dead.reason
                    );
                }
                if let Some(out) = &mut self.dead {
                    out.collect(dead.to_event());
                }
            }
        }
        self.hand_on(partition, offset);
        Ok(())
    }

    /// Records that the record at `offset` was handed on.
    fn hand_on(&mut self, partition: Partition, offset: i64) {
        self.restored.remove(&partition);
        let tracked = self.commit == CommitPolicy::HandedOn || self.group.is_some();
        if tracked && !self.touched.contains(&partition) {
            self.touched.push(partition.clone());
        }
        self.handed.insert(partition, offset + 1);
    }

    /// Stores the offsets of the records this poll handed on, for the consumer to commit
    /// (or, reading a group membership, notes them as commit points).
    fn store_touched(&mut self) {
        if self.group.is_some() {
            for p in self.touched.drain(..) {
                if let (Some(next), Some(state)) = (self.handed.get(&p), self.partitions.get(&p)) {
                    if state.last_is_max {
                        self.points.entry(p).or_default().push(*next, state.max_ts);
                    }
                }
            }
            return;
        }
        let Some(consumer) = &self.consumer else {
            return;
        };
        for p in self.touched.drain(..) {
            if let Some(next) = self.handed.get(&p) {
                if let Err(e) = consumer.store_offset(&p, next - 1) {
                    tracing::warn!(source = %self.name, "{e}");
                }
            }
        }
    }

    /// Marks partitions idle after their timeout, and the instance idle if none is
    /// active; emits periodic watermarks.
    fn check_time(&mut self, batch_len: usize) {
        let Some(time) = &self.time else {
            return;
        };
        let timeout = time.idle_timeout;
        let periodic = match time.emission {
            Emission::Periodic(interval) => Some(interval),
            Emission::PerEvent => None,
        };
        let mut changed = false;
        for state in self.partitions.values_mut() {
            if !state.idle && state.last_record.elapsed() >= timeout {
                state.idle = true;
                changed = true;
            }
        }
        let due = periodic.is_some_and(|i| self.last_emit.elapsed() >= i);
        if changed || due || (self.partitions.is_empty() && !self.idle) {
            self.update_watermark(batch_len);
        }
    }

    /// The offsets handed on, for the partitions held now (with restored positions of
    /// partitions that have had no record since).
    fn positions(&self) -> Vec<(Partition, i64)> {
        let mut positions: BTreeMap<Partition, i64> = self
            .restored
            .iter()
            .filter(|(p, _)| self.partitions.contains_key(*p))
            .map(|(p, o)| (p.clone(), *o))
            .collect();
        for (p, o) in &self.handed {
            if self.partitions.contains_key(p) {
                positions.insert(p.clone(), *o);
            }
        }
        positions.into_iter().collect()
    }

    /// A commit round of an instance reading a group membership: commits what the last
    /// round found, and finds what the next commits.
    fn commit_round(&mut self) {
        let Some(group) = &self.group else {
            return;
        };
        if self.last_round.elapsed() < COMMIT_INTERVAL {
            return;
        }
        self.last_round = Instant::now();
        group.board.set(group.slot, self.emitted, self.idle);
        if !self.pending.is_empty() {
            tracing::debug!(source = %self.name, points = ?self.pending, "committing");
            if let Err(e) = group.member.commit_held(group.epoch, &self.pending) {
                tracing::warn!(source = %self.name, "{e}");
            }
        }
        let watermark = group.board.watermark().unwrap_or(MIN_WATERMARK);
        self.pending = match group.horizon {
            Horizon::Unbounded => Vec::new(),
            Horizon::Stateless => self
                .positions()
                .into_iter()
                .map(|(partition, offset)| CommitPoint {
                    partition,
                    offset,
                    floor: MIN_WATERMARK,
                })
                .collect(),
            Horizon::Bounded(_) if watermark == MIN_WATERMARK => Vec::new(),
            Horizon::Bounded(h) => {
                let threshold = watermark.saturating_sub(h);
                let held = &self.partitions;
                self.points
                    .iter_mut()
                    .filter(|(p, _)| held.contains_key(*p))
                    .filter_map(|(p, points)| {
                        let (offset, newest) = points.done_before(threshold)?;
                        Some(CommitPoint {
                            partition: p.clone(),
                            offset,
                            floor: newest.saturating_add(h),
                        })
                    })
                    .collect()
            }
        };
    }

    fn commit_positions(&self, positions: &[(Partition, i64)]) -> Result<(), BoxError> {
        let held: Vec<(Partition, i64)> = positions
            .iter()
            .filter(|(p, _)| self.partitions.contains_key(p))
            .cloned()
            .collect();
        if held.is_empty() {
            return Ok(());
        }
        self.consumer()?
            .commit_offsets(&held)
            .map_err(|e| format!("committing offsets {held:?}: {e}").into())
    }
}

/// The split name of a partition: `topic/partition`.
pub fn split_name(partition: &Partition) -> String {
    format!("{}/{}", partition.topic, partition.partition)
}

/// The partition a split name stands for.
pub fn parse_split(name: &str) -> Option<Partition> {
    let (topic, partition) = name.rsplit_once('/')?;
    Some(Partition::new(topic, partition.parse().ok()?))
}

impl Source<Event> for KafkaSource {
    fn poll(&mut self, out: &mut Vec<Event>, max: usize) -> Result<Poll, BoxError> {
        if let Some(group) = &self.group {
            if group.member.epoch() != group.epoch {
                return Err(Reassigned {
                    member: group.member.name().to_string(),
                }
                .into());
            }
        }
        if let Some(parts) = self.to_assign.take() {
            self.consumer()?.assign_partitions(&parts)?;
        }
        let mut wait = POLL_WAIT;
        let mut got = 0usize;
        while got < max {
            let polled = self.consumer()?.poll(wait)?;
            // Changes of assignment happened before the record the poll returned.
            self.apply_rebalances(out.len())?;
            match polled {
                None => break,
                Some(p) => {
                    got += 1;
                    wait = Duration::ZERO;
                    self.handle(p, out)?;
                }
            }
        }
        if let Some(dead) = &mut self.dead {
            dead.send();
        }
        self.store_touched();
        self.check_time(out.len());
        self.commit_round();
        if got > 0 {
            return Ok(Poll::Ready);
        }
        // Joining the group takes a while: until the first partitions are assigned (for at
        // most JOIN_GRACE) the source counts as busy, not as idle.
        if !self.joined {
            self.joined = !self.partitions.is_empty() || self.created.elapsed() >= JOIN_GRACE;
            if !self.joined {
                return Ok(Poll::Ready);
            }
        }
        Ok(Poll::Idle)
    }

    fn take_watermarks(&mut self, out: &mut Vec<WatermarkMark>) {
        out.append(&mut self.marks);
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        let mut offsets = Vec::new();
        for (name, bytes) in &state.splits {
            let partition = parse_split(name).ok_or_else(|| {
                format!("the snapshot has a split `{name}` that is no Kafka partition")
            })?;
            let offset: i64 = decode_state(bytes)?;
            offsets.push((partition, offset));
        }
        self.restored = offsets.iter().cloned().collect();
        // Every instance is given every split; the shared start positions take them once.
        if !offsets.is_empty() && !self.shared.restored.swap(true, Ordering::SeqCst) {
            self.shared.starts.restore(offsets);
        }
        Ok(())
    }

    fn snapshot(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        if let Some(dead) = &mut self.dead {
            dead.barrier(barrier);
        }
        let positions = self.positions();
        if self.commit == CommitPolicy::OnCheckpoint {
            self.snapshots.insert(barrier.id, positions.clone());
        }
        Ok(Box::new(move |_| {
            let splits = positions
                .iter()
                .map(|(p, offset)| Ok((split_name(p), encode_state(offset)?)))
                .collect::<Result<Vec<_>, BoxError>>()?;
            Ok(TaskState { splits })
        }))
    }

    fn on_checkpoint_complete(&mut self, checkpoint: &CompletedCheckpoint) -> Result<(), BoxError> {
        let mut latest = None;
        while let Some(entry) = self.snapshots.first_entry() {
            if *entry.key() > checkpoint.id {
                break;
            }
            latest = Some(entry.remove());
        }
        match latest {
            Some(positions) => self.commit_positions(&positions),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if let Some(mut dead) = self.dead.take() {
            dead.end();
        }
        if self.time.is_some() && self.emitted < MAX_WATERMARK {
            self.emitted = MAX_WATERMARK;
            self.marks.push(WatermarkMark::Watermark {
                after: usize::MAX,
                watermark: MAX_WATERMARK,
            });
        }
        if self.refused > 0 {
            tracing::warn!(source = %self.name, "{} records refused in all", self.refused);
        }
        let positions = self.positions();
        let result = match self.commit {
            _ if self.group.is_some() => self.group.as_ref().map_or(Ok(()), |g| {
                // Every window has fired: everything read is done.
                g.member
                    .commit_end(g.epoch, &positions)
                    .map_err(|e| format!("committing offsets at the end: {e}").into())
            }),
            CommitPolicy::OnCheckpoint => self.commit_positions(&positions),
            CommitPolicy::HandedOn => Ok(()),
            CommitPolicy::InTransaction => {
                if let Some((link, operator)) = &self.link {
                    link.add_final_positions(operator, &positions);
                }
                Ok(())
            }
        };
        // Leaving the group commits the stored offsets and hands the partitions over.
        if let Some(consumer) = self.consumer.take() {
            consumer
                .close()
                .map_err(|e| format!("committing offsets on leaving the group: {e}"))?;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_point_is_the_last_before_the_threshold() {
        let mut points = CommitPoints::default();
        for (offset, newest) in [(10, 5), (20, 15), (20, 16), (30, 25)] {
            points.push(offset, newest);
        }
        assert_eq!(points.done_before(5), None);
        assert_eq!(points.done_before(16), Some((20, 15)));
        assert_eq!(points.done_before(100), Some((30, 25)));
        assert_eq!(points.points.len(), 1);
    }

    #[test]
    fn thinned_commit_points_keep_the_newest() {
        let mut points = CommitPoints::default();
        for n in 0..(MAX_POINTS as i64 + 1) {
            points.push(n, n);
        }
        assert!(points.points.len() <= MAX_POINTS / 2 + 1);
        assert_eq!(
            points.points.back(),
            Some(&(MAX_POINTS as i64, MAX_POINTS as i64))
        );
        assert_eq!(
            points.done_before(MAX_POINTS as i64 + 1).map(|p| p.0),
            Some(MAX_POINTS as i64)
        );
    }
}
