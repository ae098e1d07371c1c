//! One membership of a consumer group for a whole process, and the commits that let a
//! process that takes partitions over rebuild the windows of the one that had them.
//!
//! # Membership
//!
//! A [`GroupMember`] joins the source's group once per process and only holds the
//! partitions the group gives it: it fetches nothing (its partitions are paused). The
//! source's instances read those partitions with consumers of their own, outside the
//! group's rebalancing, and commit through the member, which is the one the group knows.
//! Every change of the assignment moves the member's [epoch](GroupHandle::epoch): the
//! dataflow that reads the partitions of an older epoch stops, and the process starts it
//! again on the new assignment, from the partitions' committed offsets.
//!
//! # Held-back commits
//!
//! A partition's committed offset is where its next owner starts, so it must not pass a
//! record whose windows are still open: their state lives only in this process, and would
//! be lost with it. A source commits, for each partition, the offset before which every
//! record is older than its *horizon* behind the job's watermark (all windows those
//! records belong to have fired), and only right after a record that is the newest of
//! the partition so far. The job's watermark counts here only as far as its sinks have
//! delivered (flushed) what it closed ([`styx_runtime::sink::Deliveries`]): a result that
//! fired but waits in a producer's queue is made again after a crash, never lost.
//! A process that starts reading the partition replays the records
//! from there, with its watermark starting at that record's time plus the horizon: the
//! windows that were open are rebuilt whole (their records all come after the commit),
//! windows that had fired stay closed, and windows that fired after the commit fire
//! again with the same results (at least once).
//!
//! A process that is given partitions of another member keeps reading its own partitions
//! too, but all of them restart together on one watermark (the dataflow has one); the
//! member keeps the recent commits of its own partitions with the watermark each went
//! with, so that each of them restarts from the commit that fits that watermark
//! ([`GroupHandle::plan`]).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::ClientContext;
use styx_runtime::sink::Deliveries;
use styx_runtime::time::{Timestamp, MIN_WATERMARK};

use crate::config::KafkaSourceConfig;
use crate::consumer::{
    committed_positions, is_cooperative, lock, offset_list, partitions, release_revoked,
    take_assigned, KafkaConsumer, Partition, Polled, StartPositions,
};
use crate::decode::Decoder;
use crate::error::{Error, Result};

/// How long the member waits in one poll of the group (its heartbeats and rebalances).
const MEMBER_POLL: Duration = Duration::from_millis(100);

/// How many commits of each partition the member remembers.
const HISTORY: usize = 512;

/// How much of a source's input a window may still need, behind the job's watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// Nothing downstream keeps records: each is done once handed on.
    Stateless,
    /// Records older than the watermark minus this many milliseconds are done.
    Bounded(i64),
    /// Some state downstream may need any record (session and count windows): offsets
    /// are committed only when the source ends.
    Unbounded,
}

/// Where the partitions of an assignment start, and the watermark they start at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartPlan {
    /// The offset each partition starts at (`None`: as the source's `start` says).
    pub offsets: Vec<(Partition, Option<i64>)>,
    /// The watermark the dataflow starts at ([`MIN_WATERMARK`]: none).
    pub watermark: Timestamp,
}

/// The assignment of the member changed: the dataflow reading the old one must stop and
/// start again on the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassigned {
    /// The member, in logs.
    pub member: String,
}

impl std::fmt::Display for Reassigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the group changed the partitions of {}: reading again from the committed offsets",
            self.member
        )
    }
}

impl std::error::Error for Reassigned {}

/// What an instance reports on a [`WatermarkBoard`]: its watermark, and whether it is
/// idle.
type Report = (Timestamp, bool);

/// Reads the event time of the records at (partition, offset) positions.
pub type TimestampReader<'a> =
    &'a dyn Fn(&[(Partition, i64)]) -> Result<HashMap<Partition, Timestamp>>;

/// The watermarks of a job's group-reading source instances, one slot each, and how far
/// its sinks have delivered: the job's input is done up to the lowest of them, which is
/// what held-back commits go by.
#[derive(Debug, Clone)]
pub struct WatermarkBoard {
    slots: Arc<Mutex<Vec<Option<Report>>>>,
    deliveries: Deliveries,
}

impl WatermarkBoard {
    /// A board of `slots` instances, none reported yet, and no sink tracked.
    pub fn new(slots: usize) -> Self {
        WatermarkBoard {
            slots: Arc::new(Mutex::new(vec![None; slots])),
            deliveries: Deliveries::new(),
        }
    }

    /// Where the job's sinks report what they have delivered (see
    /// [`styx_runtime::stream::Environment::track_deliveries`]).
    pub fn deliveries(&self) -> &Deliveries {
        &self.deliveries
    }

    /// Instance `slot` has emitted `watermark` and is idle or not.
    pub fn set(&self, slot: usize, watermark: Timestamp, idle: bool) {
        if let Some(s) = lock(&self.slots).get_mut(slot) {
            *s = Some((watermark, idle));
        }
    }

    /// The lowest watermark of the instances that are not idle (of all, when all are),
    /// once every instance has reported, and no higher than the tracked sinks have
    /// delivered through.
    pub fn watermark(&self) -> Option<Timestamp> {
        let emitted = {
            let slots = lock(&self.slots);
            let reported: Vec<(Timestamp, bool)> = slots.iter().copied().collect::<Option<_>>()?;
            let active = reported
                .iter()
                .filter(|(_, idle)| !idle)
                .map(|(w, _)| *w)
                .min();
            active.or_else(|| reported.iter().map(|(w, _)| *w).min())?
        };
        Some(match self.deliveries.watermark() {
            Some(delivered) => emitted.min(delivered),
            None => emitted,
        })
    }
}

/// A held-back commit of one partition: the next record to read, and the watermark
/// from which every window of the partition's records is whole after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPoint {
    /// The partition.
    pub partition: Partition,
    /// The next record to read.
    pub offset: i64,
    /// The newest record time before the offset plus the source's horizon.
    pub floor: Timestamp,
}

/// A process's membership of one consumer group (see the [module documentation](self)).
/// Dropping it leaves the group.
pub struct GroupMember {
    handle: GroupHandle,
    thread: Option<JoinHandle<()>>,
}

/// What the source instances share of a [`GroupMember`]: its assignment, epoch and
/// commits.
#[derive(Clone)]
pub struct GroupHandle {
    inner: Arc<Member>,
}

struct Member {
    consumer: BaseConsumer<MemberContext>,
    stop: AtomicBool,
    /// Recent held-back commits of each partition, oldest first: (watermark, offset).
    history: Mutex<HashMap<Partition, VecDeque<(Timestamp, i64)>>>,
}

struct MemberContext {
    name: String,
    state: Mutex<Assignment>,
    changed: Condvar,
    /// Moves with every change of the assignment.
    epoch: AtomicU64,
}

#[derive(Debug, Default)]
struct Assignment {
    partitions: BTreeSet<Partition>,
    /// Whether the group has given the member its partitions (after an eager
    /// revocation, not until the next assignment).
    settled: bool,
}

impl ClientContext for MemberContext {}

impl ConsumerContext for MemberContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: rdkafka::types::RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        use rdkafka::types::RDKafkaRespErr::*;
        let cooperative = is_cooperative(consumer);
        let parts = partitions(tpl);
        let mut state = lock(&self.state);
        match err {
            RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                // The member holds its partitions; the source instances read them.
                let result =
                    take_assigned(consumer, tpl, cooperative).and_then(|_| consumer.pause(tpl));
                if let Err(e) = result {
                    tracing::error!(member = %self.name, "assigning {parts:?} failed: {e}");
                }
                if !cooperative {
                    state.partitions.clear();
                }
                state.partitions.extend(parts.iter().cloned());
                state.settled = true;
                tracing::info!(member = %self.name, "the group gives {:?}", state.partitions);
            }
            RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(member = %self.name, "the group takes {parts:?} away");
                if let Err(e) = release_revoked(consumer, tpl, cooperative) {
                    tracing::error!(member = %self.name, "unassigning {parts:?} failed: {e}");
                }
                for p in &parts {
                    state.partitions.remove(p);
                }
                // An eager revocation takes everything; the new assignment follows.
                state.settled = cooperative;
            }
            other => {
                let code: rdkafka::error::RDKafkaErrorCode = other.into();
                tracing::error!(member = %self.name, "rebalance failed: {code}");
                let _ = release_revoked(consumer, tpl, cooperative);
                state.partitions.clear();
                state.settled = false;
            }
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        drop(state);
        self.changed.notify_all();
    }
}

impl GroupMember {
    /// Joins the group of the source table `config` (subscribing to its topics); `name`
    /// tells the member apart in logs.
    pub fn join<E>(config: &KafkaSourceConfig<E>, name: &str) -> Result<GroupMember> {
        let mut client = config.client_config()?;
        client.set("enable.auto.commit", "false");
        let context = MemberContext {
            name: name.to_string(),
            state: Mutex::new(Assignment::default()),
            changed: Condvar::new(),
            epoch: AtomicU64::new(0),
        };
        let consumer: BaseConsumer<MemberContext> = client
            .create_with_context(context)
            .map_err(|e| Error::client("creating the group member", e))?;
        let topics = config.topic_list()?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| Error::client(format!("subscribing to {topics:?}"), e))?;
        let handle = GroupHandle {
            inner: Arc::new(Member {
                consumer,
                stop: AtomicBool::new(false),
                history: Mutex::new(HashMap::new()),
            }),
        };
        let member = handle.clone();
        let thread = std::thread::Builder::new()
            .name(format!("{name}.group"))
            .spawn(move || {
                let inner = &member.inner;
                while !inner.stop.load(Ordering::SeqCst) {
                    // Paused partitions bring no records; the poll serves the group.
                    if let Some(Err(e)) = inner.consumer.poll(MEMBER_POLL) {
                        tracing::warn!(member = %inner.consumer.context().name, "{e}");
                    }
                }
            })
            .map_err(|e| Error::Config {
                key: "group".into(),
                message: format!("cannot start the thread of the group's member: {e}"),
            })?;
        Ok(GroupMember {
            handle,
            thread: Some(thread),
        })
    }

    /// The handle the source instances share.
    pub fn handle(&self) -> GroupHandle {
        self.handle.clone()
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.handle.inner.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Closing the consumer (when the last handle goes) leaves the group.
        self.handle.inner.consumer.unsubscribe();
    }
}

impl GroupHandle {
    fn context(&self) -> &MemberContext {
        self.inner.consumer.context()
    }

    /// The member's name in logs.
    pub fn name(&self) -> &str {
        &self.context().name
    }

    /// The current epoch: it moves with every change of the assignment.
    pub fn epoch(&self) -> u64 {
        self.context().epoch.load(Ordering::SeqCst)
    }

    /// Waits until the group has given the member its partitions, for at most
    /// `timeout`: the epoch and the partitions (`None`: not yet).
    pub fn wait_assignment(&self, timeout: Duration) -> Option<(u64, Vec<Partition>)> {
        let context = self.context();
        let deadline = Instant::now() + timeout;
        let mut state = lock(&context.state);
        loop {
            if state.settled {
                let epoch = context.epoch.load(Ordering::SeqCst);
                return Some((epoch, state.partitions.iter().cloned().collect()));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = context
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Commits held-back offsets (the next record to read), each with its *floor*: the
    /// watermark from which every window of the partition's records is whole after the
    /// offset. Only for the partitions the member holds in epoch `epoch`; nothing once the
    /// assignment has changed.
    pub fn commit_held(&self, epoch: u64, offsets: &[CommitPoint]) -> Result<()> {
        self.commit(epoch, offsets, true)
    }

    /// Commits the final offsets of a source that ended cleanly (every window fired).
    pub fn commit_end(&self, epoch: u64, offsets: &[(Partition, i64)]) -> Result<()> {
        let points: Vec<CommitPoint> = offsets
            .iter()
            .map(|(p, o)| CommitPoint {
                partition: p.clone(),
                offset: *o,
                floor: MIN_WATERMARK,
            })
            .collect();
        self.commit(epoch, &points, false)
    }

    fn commit(&self, epoch: u64, points: &[CommitPoint], held: bool) -> Result<()> {
        let points: Vec<&CommitPoint> = {
            let state = lock(&self.context().state);
            if !state.settled || self.epoch() != epoch {
                return Ok(());
            }
            points
                .iter()
                .filter(|c| state.partitions.contains(&c.partition))
                .collect()
        };
        if points.is_empty() {
            return Ok(());
        }
        let offsets: Vec<(Partition, i64)> = points
            .iter()
            .map(|c| (c.partition.clone(), c.offset))
            .collect();
        match self
            .inner
            .consumer
            .commit(&offset_list(&offsets)?, CommitMode::Sync)
        {
            Ok(()) => {}
            Err(e) if crate::consumer::assignment_lost(&e) => {
                tracing::info!("offsets not committed, the partitions moved on: {e}");
                return Ok(());
            }
            Err(e) => return Err(Error::client("committing offsets", e)),
        }
        let mut history = lock(&self.inner.history);
        for c in points {
            let entries = history.entry(c.partition.clone()).or_default();
            if !held {
                entries.clear();
            } else if entries.back().is_none_or(|(_, o)| *o != c.offset) {
                entries.push_back((c.floor, c.offset));
                if entries.len() > HISTORY {
                    // The first entry is where the process began reading the partition.
                    entries.remove(1);
                }
            }
        }
        Ok(())
    }

    /// Where `partitions` start and the watermark the dataflow starts at (see the
    /// [module documentation](self)), from the group's commits and the member's own.
    /// `horizon` is the source's; `newest` reads the event time of the record at an
    /// offset of a partition (the last one before another member's commit).
    pub fn plan(
        &self,
        partitions: &[Partition],
        horizon: Horizon,
        newest: TimestampReader<'_>,
        timeout: Duration,
    ) -> Result<StartPlan> {
        let committed = self.committed(partitions, timeout)?;
        let mut history = lock(&self.inner.history);

        // Partitions another member committed last: their floors, from the newest
        // record before each commit (the commit was taken right after it).
        let foreign: Vec<(Partition, i64)> = committed
            .iter()
            .filter_map(|(p, c)| c.map(|o| (p.clone(), o)))
            .filter(|(p, o)| !is_latest(&history, p, *o))
            .collect();
        let floors: HashMap<Partition, Timestamp> = match horizon {
            Horizon::Bounded(h) => {
                let before: Vec<(Partition, i64)> = foreign
                    .iter()
                    .filter(|(_, o)| *o > 0)
                    .map(|(p, o)| (p.clone(), o - 1))
                    .collect();
                let newest = if before.is_empty() {
                    HashMap::new()
                } else {
                    drop(history);
                    let got = newest(&before)?;
                    history = lock(&self.inner.history);
                    got
                };
                newest
                    .into_iter()
                    .map(|(p, ts)| (p, ts.saturating_add(h)))
                    .collect()
            }
            Horizon::Stateless | Horizon::Unbounded => HashMap::new(),
        };
        // From now on, a foreign commit is where this process began the partition.
        for (p, o) in &foreign {
            let floor = floors.get(p).copied().unwrap_or(MIN_WATERMARK);
            let entries = history.entry(p.clone()).or_default();
            entries.clear();
            entries.push_back((floor, *o));
        }
        for (p, c) in &committed {
            if c.is_none() {
                // Read from the start: every window is whole.
                let entries = history.entry(p.clone()).or_default();
                entries.clear();
                entries.push_back((MIN_WATERMARK, 0));
            }
        }
        let watermark = floors.values().max().copied();
        Ok(plan(partitions, watermark, |p| history.get(p)))
    }

    /// The group's committed offsets of `partitions` (the next record to read).
    fn committed(
        &self,
        partitions: &[Partition],
        timeout: Duration,
    ) -> Result<Vec<(Partition, Option<i64>)>> {
        let mut tpl = TopicPartitionList::with_capacity(partitions.len());
        for p in partitions {
            tpl.add_partition(&p.topic, p.partition);
        }
        let got = self
            .inner
            .consumer
            .committed_offsets(tpl, timeout)
            .map_err(|e| Error::client("fetching committed offsets", e))?;
        Ok(committed_positions(&got))
    }
}

/// The event time (field `field`) of the record at each of `at` (partition, offset),
/// read with a consumer of the source table `config` of its own; partitions whose record
/// is gone or has no valid time are left out.
pub fn timestamps_at<E>(
    config: &KafkaSourceConfig<E>,
    field: &str,
    at: &[(Partition, i64)],
    timeout: Duration,
) -> Result<HashMap<Partition, Timestamp>> {
    let starts = StartPositions::new(config.start);
    starts.restore(at.iter().cloned());
    let consumer = KafkaConsumer::unsubscribed(
        config,
        Decoder::for_source(config, Some(field)),
        starts,
        "the reader of commit points",
    )?;
    let partitions: Vec<Partition> = at.iter().map(|(p, _)| p.clone()).collect();
    consumer.assign_partitions(&partitions)?;
    let wanted: HashMap<&Partition, i64> = at.iter().map(|(p, o)| (p, *o)).collect();
    let mut found = HashMap::new();
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + timeout;
    while seen.len() < wanted.len() && Instant::now() < deadline {
        let Some(polled) = consumer.poll(MEMBER_POLL)? else {
            continue;
        };
        let (partition, offset) = polled.position();
        if wanted.get(&partition) != Some(&offset) || !seen.insert(partition.clone()) {
            continue;
        }
        if let Polled::Event { event, .. } = polled {
            if let Some(ts) = event.get(field).and_then(serde_json::Value::as_i64) {
                found.insert(partition, ts);
            }
        }
    }
    Ok(found)
}

/// Whether `offset` is the member's latest commit of `partition`.
fn is_latest(
    history: &HashMap<Partition, VecDeque<(Timestamp, i64)>>,
    partition: &Partition,
    offset: i64,
) -> bool {
    history
        .get(partition)
        .and_then(|h| h.back())
        .is_some_and(|(_, last)| *last == offset)
}

/// The start plan of `partitions`, each starting at one of its `history` entries
/// (floor, offset), oldest first: with `watermark` given (set by other members' commits),
/// the newest entry whose floor is not above it; else the newest entry of each, and the
/// dataflow starts at the highest of their floors.
fn plan<'h>(
    partitions: &[Partition],
    watermark: Option<Timestamp>,
    history: impl Fn(&Partition) -> Option<&'h VecDeque<(Timestamp, i64)>>,
) -> StartPlan {
    let watermark = watermark.unwrap_or_else(|| {
        partitions
            .iter()
            .filter_map(|p| history(p).and_then(|h| h.back()).map(|(f, _)| *f))
            .max()
            .unwrap_or(MIN_WATERMARK)
    });
    let offsets = partitions
        .iter()
        .map(|p| {
            let entries = history(p).into_iter().flatten();
            let fitting = entries.clone().rev().find(|(f, _)| *f <= watermark);
            // With none fitting, the oldest: its windows may come again only in part.
            let offset = fitting.or(entries.clone().next()).map(|(_, o)| *o);
            (p.clone(), offset)
        })
        .collect();
    StartPlan { offsets, watermark }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: i32) -> Partition {
        Partition::new("t", n)
    }

    #[test]
    fn the_watermark_of_other_members_commits_sends_own_partitions_back_to_it() {
        let history: HashMap<Partition, VecDeque<(Timestamp, i64)>> = HashMap::from([
            (p(0), VecDeque::from([(900, 50)])),
            (p(1), VecDeque::from([(0, 0), (800, 40), (2000, 70)])),
        ]);
        let plan = plan(&[p(0), p(1), p(2)], Some(900), |q| history.get(q));
        assert_eq!(plan.watermark, 900);
        assert_eq!(
            plan.offsets,
            vec![(p(0), Some(50)), (p(1), Some(40)), (p(2), None)]
        );
    }

    #[test]
    fn with_only_own_commits_each_partition_goes_on_from_its_newest() {
        let history: HashMap<Partition, VecDeque<(Timestamp, i64)>> = HashMap::from([
            (p(0), VecDeque::from([(300, 9)])),
            (p(1), VecDeque::from([(200, 30), (350, 60), (400, 70)])),
        ]);
        let plan = plan(&[p(0), p(1)], None, |q| history.get(q));
        assert_eq!(plan.watermark, 400);
        assert_eq!(plan.offsets, vec![(p(0), Some(9)), (p(1), Some(70))]);
    }
}
