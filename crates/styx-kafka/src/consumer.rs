//! Consumers: group membership, rebalancing, starting offsets, and decoded records.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, ConsumerGroupMetadata, RebalanceProtocol,
};
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::{ClientConfig, ClientContext};

use crate::config::{KafkaSourceConfig, StartOffset};
use crate::decode::{DeadLetter, Decoder, Event};
use crate::error::{Error, Result};

/// A partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    /// The topic.
    pub topic: String,
    /// The partition number.
    pub partition: i32,
}

impl Partition {
    /// The partition `partition` of `topic`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Partition {
            topic: topic.into(),
            partition,
        }
    }
}

/// A change of a consumer's partitions, as the group decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebalanceEvent {
    /// These partitions were given to the consumer.
    Assigned(Vec<Partition>),
    /// These partitions were taken from the consumer.
    Revoked(Vec<Partition>),
    /// The rebalance failed; the consumer lost its partitions.
    Failed(String),
}

/// Where partitions start, shared by all instances of one source in a process.
///
/// A partition's first assignment in the process starts at the offset restored for it
/// (from a checkpoint), else where the source's `start` says. When the group later
/// moves the partition between instances, the new owner goes on from the group's
/// committed offset, so `earliest` and `latest` apply once and not on every rebalance.
#[derive(Debug, Clone)]
pub struct StartPositions {
    inner: Arc<Mutex<StartState>>,
}

#[derive(Debug)]
struct StartState {
    start: StartOffset,
    restored: HashMap<Partition, i64>,
    started: HashSet<Partition>,
}

impl StartPositions {
    /// Partitions start as `start` says.
    pub fn new(start: StartOffset) -> Self {
        StartPositions {
            inner: Arc::new(Mutex::new(StartState {
                start,
                restored: HashMap::new(),
                started: HashSet::new(),
            })),
        }
    }

    /// Partitions start at these offsets (the next record to read), restored from a
    /// checkpoint; others as `start` says.
    pub fn restore(&self, offsets: impl IntoIterator<Item = (Partition, i64)>) {
        let mut state = lock(&self.inner);
        for (p, offset) in offsets {
            state.started.remove(&p);
            state.restored.insert(p, offset);
        }
    }

    /// Where a newly assigned partition starts, and it counts as started from now on.
    pub fn resolve(&self, partition: &Partition) -> Offset {
        let mut state = lock(&self.inner);
        if let Some(offset) = state.restored.remove(partition) {
            state.started.insert(partition.clone());
            return Offset::Offset(offset);
        }
        if !state.started.insert(partition.clone()) {
            return Offset::Stored;
        }
        match state.start {
            StartOffset::Earliest => Offset::Beginning,
            StartOffset::Latest => Offset::End,
            StartOffset::Committed => Offset::Stored,
        }
    }
}

/// The consumer lag of every partition a source's consumers read: how many records the
/// partition holds beyond the last one the consumer handed on, from the high watermark
/// librdkafka's statistics report (once a second). Shared by a source's consumers.
#[derive(Debug, Default)]
pub struct ConsumerLag {
    partitions: Mutex<BTreeMap<Partition, i64>>,
}

impl ConsumerLag {
    /// A board with no partition.
    pub fn new() -> Arc<ConsumerLag> {
        Arc::new(ConsumerLag::default())
    }

    /// The lag of every partition read now, by partition.
    pub fn all(&self) -> Vec<(Partition, i64)> {
        lock(&self.partitions)
            .iter()
            .map(|(p, l)| (p.clone(), *l))
            .collect()
    }

    fn set(&self, partition: Partition, lag: i64) {
        lock(&self.partitions).insert(partition, lag);
    }

    fn forget(&self, partitions: &[Partition]) {
        let mut all = lock(&self.partitions);
        for p in partitions {
            all.remove(p);
        }
    }
}

/// Called with the partitions a consumer is about to lose, before they go: the place
/// to flush what was read from them and commit its offsets.
pub type RevokeHandler = Box<dyn Fn(&BaseConsumer<GroupContext>, &[Partition]) + Send + Sync>;

/// The consumer context of a source instance: it applies starting offsets on
/// assignment, commits stored offsets on revocation (or hands the revocation to a
/// [`RevokeHandler`]), logs every change, and keeps the current assignment and the
/// history of changes for whoever drives the consumer.
pub struct GroupContext {
    name: String,
    starts: StartPositions,
    assignment: Mutex<BTreeSet<Partition>>,
    events: Mutex<Vec<RebalanceEvent>>,
    on_revoke: Mutex<Option<RevokeHandler>>,
    lag: Mutex<Option<Arc<ConsumerLag>>>,
}

impl GroupContext {
    /// A context named `name` in logs, starting partitions at `starts`.
    pub fn new(name: impl Into<String>, starts: StartPositions) -> Self {
        GroupContext {
            name: name.into(),
            starts,
            assignment: Mutex::new(BTreeSet::new()),
            events: Mutex::new(Vec::new()),
            on_revoke: Mutex::new(None),
            lag: Mutex::new(None),
        }
    }

    /// Reports the lag of the partitions the consumer holds on `lag`.
    pub fn report_lag(&self, lag: Arc<ConsumerLag>) {
        *lock(&self.lag) = Some(lag);
    }

    /// The partitions the consumer holds now.
    pub fn assignment(&self) -> BTreeSet<Partition> {
        lock(&self.assignment).clone()
    }

    /// Every rebalance change since the last call, oldest first.
    pub fn take_events(&self) -> Vec<RebalanceEvent> {
        std::mem::take(&mut *lock(&self.events))
    }

    /// Replaces the default handling of revocations (committing the stored offsets).
    pub fn set_revoke_handler(&self, handler: RevokeHandler) {
        *lock(&self.on_revoke) = Some(handler);
    }

    fn record(&self, event: RebalanceEvent) {
        lock(&self.events).push(event);
    }
}

/// The partitions of a list.
pub(crate) fn partitions(tpl: &TopicPartitionList) -> Vec<Partition> {
    tpl.elements()
        .iter()
        .map(|e| Partition::new(e.topic(), e.partition()))
        .collect()
}

/// Locks `m`, also after a panic of another holder.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the consumer's group rebalances incrementally (cooperative protocol).
pub(crate) fn is_cooperative<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> bool {
    matches!(
        consumer.rebalance_protocol(),
        RebalanceProtocol::Cooperative
    )
}

/// Takes the partitions of `tpl` the group gave, as the rebalance protocol wants.
pub(crate) fn take_assigned<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    tpl: &TopicPartitionList,
    cooperative: bool,
) -> rdkafka::error::KafkaResult<()> {
    if cooperative {
        consumer.incremental_assign(tpl)
    } else {
        consumer.assign(tpl)
    }
}

/// Gives up the partitions of `tpl` the group takes away (all of them when eager).
pub(crate) fn release_revoked<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    tpl: &TopicPartitionList,
    cooperative: bool,
) -> rdkafka::error::KafkaResult<()> {
    if cooperative {
        consumer.incremental_unassign(tpl)
    } else {
        consumer.unassign()
    }
}

impl ClientContext for GroupContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let Some(board) = lock(&self.lag).clone() else {
            return;
        };
        let held = self.assignment();
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                let part = Partition::new(topic.clone(), partition);
                if !held.contains(&part) || p.hi_offset < 0 {
                    continue;
                }
                // The position: after the last record handed to the source, else where
                // fetching starts (librdkafka says -1 for what it does not know yet).
                // Its own `consumer_lag` counts from the committed offset, which the
                // source commits later, or through the process's group member.
                let position = if p.app_offset >= 0 {
                    p.app_offset
                } else if p.next_offset >= 0 {
                    p.next_offset
                } else {
                    continue;
                };
                board.set(part, (p.hi_offset - position).max(0));
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: rdkafka::types::RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        use rdkafka::types::RDKafkaRespErr::*;
        let cooperative = is_cooperative(consumer);
        match err {
            RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let parts = partitions(tpl);
                for p in &parts {
                    let offset = self.starts.resolve(p);
                    if let Err(e) = tpl.set_partition_offset(&p.topic, p.partition, offset) {
                        tracing::warn!(consumer = %self.name, "cannot set start of {p:?}: {e}");
                    }
                }
                if let Err(e) = take_assigned(consumer, tpl, cooperative) {
                    tracing::error!(consumer = %self.name, "assigning {parts:?} failed: {e}");
                }
                tracing::info!(consumer = %self.name, "assigned {parts:?}");
                let mut assignment = lock(&self.assignment);
                if !cooperative {
                    assignment.clear();
                }
                assignment.extend(parts.iter().cloned());
                drop(assignment);
                self.record(RebalanceEvent::Assigned(parts));
            }
            RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let parts = partitions(tpl);
                tracing::info!(consumer = %self.name, "revoking {parts:?}");
                match &*lock(&self.on_revoke) {
                    Some(handler) => handler(consumer, &parts),
                    None => commit_stored(consumer, &self.name),
                }
                if let Err(e) = release_revoked(consumer, tpl, cooperative) {
                    tracing::error!(consumer = %self.name, "unassigning {parts:?} failed: {e}");
                }
                let mut assignment = lock(&self.assignment);
                for p in &parts {
                    assignment.remove(p);
                }
                drop(assignment);
                if let Some(board) = &*lock(&self.lag) {
                    board.forget(&parts);
                }
                self.record(RebalanceEvent::Revoked(parts));
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                tracing::error!(consumer = %self.name, "rebalance failed: {code}");
                let _ = release_revoked(consumer, tpl, cooperative);
                lock(&self.assignment).clear();
                self.record(RebalanceEvent::Failed(code.to_string()));
            }
        }
    }

    fn commit_callback(
        &self,
        result: rdkafka::error::KafkaResult<()>,
        offsets: &TopicPartitionList,
    ) {
        match result {
            Ok(()) => tracing::debug!(consumer = %self.name, "committed {offsets:?}"),
            Err(RdError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => tracing::warn!(consumer = %self.name, "commit failed: {e}"),
        }
    }
}

/// Whether a commit failed because the member no longer holds the partitions: the group
/// rebalanced (or is rebalancing) and their new owner, or the checkpoint the job resumes
/// from, decides where reading goes on.
pub(crate) fn assignment_lost(e: &RdError) -> bool {
    use RDKafkaErrorCode as Code;
    matches!(
        e.rdkafka_error_code(),
        Some(
            Code::AssignmentLost
                | Code::RebalanceInProgress
                | Code::IllegalGeneration
                | Code::UnknownMemberId
                | Code::FencedInstanceId
                | Code::StaleMemberEpoch
        )
    )
}

/// Commits the offsets stored so far, synchronously; having none is fine.
fn commit_stored(consumer: &BaseConsumer<GroupContext>, name: &str) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) | Err(RdError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => tracing::warn!(consumer = %name, "committing stored offsets failed: {e}"),
    }
}

/// What a poll found: an event, or a record refused as a dead letter.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// A record read as an event.
    Event {
        /// The record's topic.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// The event.
        event: Event,
    },
    /// A record that could not be read.
    Dead(DeadLetter),
}

impl Polled {
    /// The record's partition and offset.
    pub fn position(&self) -> (Partition, i64) {
        match self {
            Polled::Event {
                topic,
                partition,
                offset,
                ..
            } => (Partition::new(topic.clone(), *partition), *offset),
            Polled::Dead(d) => (Partition::new(d.topic.clone(), d.partition), d.offset),
        }
    }
}

/// A consumer of a source instance: it belongs to the source's group, reads its topics,
/// and turns records into events or dead letters.
pub struct KafkaConsumer {
    consumer: BaseConsumer<GroupContext>,
    decoder: Decoder,
}

impl KafkaConsumer {
    /// Builds a consumer from a source table and subscribes to its topics. `name` tells
    /// the instance apart in logs; `starts` is shared by the source's instances.
    pub fn new<E>(
        config: &KafkaSourceConfig<E>,
        decoder: Decoder,
        starts: StartPositions,
        name: &str,
    ) -> Result<Self> {
        Self::with_client_config(
            config.client_config()?,
            &config.topic_list()?,
            decoder,
            starts,
            name,
        )
    }

    /// Builds a consumer from a complete librdkafka configuration (with `group.id`)
    /// and subscribes to `topics`.
    pub fn with_client_config(
        config: ClientConfig,
        topics: &[String],
        decoder: Decoder,
        starts: StartPositions,
        name: &str,
    ) -> Result<Self> {
        let context = GroupContext::new(name, starts);
        let consumer: BaseConsumer<GroupContext> = config
            .create_with_context(context)
            .map_err(|e| Error::client("creating the Kafka consumer", e))?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| Error::client(format!("subscribing to {topics:?}"), e))?;
        Ok(KafkaConsumer { consumer, decoder })
    }

    /// Builds a consumer that will read partitions it is given itself
    /// ([`KafkaConsumer::assign_partitions`]), without joining its group's rebalancing
    /// (its `group.id` still names where offsets are committed).
    pub fn unsubscribed<E>(
        config: &KafkaSourceConfig<E>,
        decoder: Decoder,
        starts: StartPositions,
        name: &str,
    ) -> Result<Self> {
        let consumer: BaseConsumer<GroupContext> = config
            .client_config()?
            .create_with_context(GroupContext::new(name, starts))
            .map_err(|e| Error::client("creating the Kafka consumer", e))?;
        Ok(KafkaConsumer { consumer, decoder })
    }

    /// Reads `partitions`, each from where the start positions say; the assignment
    /// shows as one [`RebalanceEvent::Assigned`].
    pub fn assign_partitions(&self, partitions: &[Partition]) -> Result<()> {
        let context = self.consumer.context();
        let mut tpl = TopicPartitionList::with_capacity(partitions.len());
        for p in partitions {
            tpl.add_partition_offset(&p.topic, p.partition, context.starts.resolve(p))
                .map_err(|e| Error::client(format!("the start of {p:?}"), e))?;
        }
        self.consumer
            .assign(&tpl)
            .map_err(|e| Error::client(format!("assigning {partitions:?}"), e))?;
        tracing::info!(consumer = %context.name, "reading {partitions:?}");
        lock(&context.assignment).extend(partitions.iter().cloned());
        context.record(RebalanceEvent::Assigned(partitions.to_vec()));
        Ok(())
    }

    /// Waits up to `timeout` for the next record. `Ok(None)`: nothing came (also after
    /// a transient error, which is logged; librdkafka retries by itself). Errors are
    /// fatal ones.
    pub fn poll(&self, timeout: Duration) -> Result<Option<Polled>> {
        match self.consumer.poll(timeout) {
            None => Ok(None),
            Some(Ok(message)) => {
                let polled = match self.decoder.decode_message(&message) {
                    Ok(event) => Polled::Event {
                        topic: message.topic().to_string(),
                        partition: message.partition(),
                        offset: message.offset(),
                        event,
                    },
                    Err(dead) => Polled::Dead(dead),
                };
                Ok(Some(polled))
            }
            Some(Err(e)) if is_fatal(&e) => Err(Error::client("reading from Kafka", e)),
            Some(Err(e)) => {
                tracing::warn!(consumer = %self.consumer.context().name, "{e}");
                Ok(None)
            }
        }
    }

    /// Adds up to `max` records to `out`, waiting up to `timeout` for the first one and
    /// taking the others only while they are already there. Returns how many it added.
    pub fn poll_batch(
        &self,
        out: &mut Vec<Polled>,
        max: usize,
        timeout: Duration,
    ) -> Result<usize> {
        let mut n = 0;
        let mut wait = timeout;
        while n < max {
            match self.poll(wait)? {
                Some(p) => {
                    out.push(p);
                    n += 1;
                    wait = Duration::ZERO;
                }
                None => break,
            }
        }
        Ok(n)
    }

    /// Marks the record at `offset` as handled: the group's committed offset moves past
    /// it with the next commit (periodic, on revocation, or [`KafkaConsumer::commit`]).
    pub fn store_offset(&self, partition: &Partition, offset: i64) -> Result<()> {
        let tpl = offset_list(&[(partition.clone(), offset + 1)])?;
        self.consumer
            .store_offsets(&tpl)
            .map_err(|e| Error::client(format!("storing offset {offset} of {partition:?}"), e))
    }

    /// Commits the stored offsets now, waiting for the broker's answer. A commit that
    /// finds the partitions moved to another member (a rebalance) is left to their new
    /// owner: logged, not an error.
    pub fn commit(&self) -> Result<()> {
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(RdError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(e) if assignment_lost(&e) => {
                tracing::info!("offsets not committed, the partitions moved on: {e}");
                Ok(())
            }
            Err(e) => Err(Error::client("committing offsets", e)),
        }
    }

    /// Commits these offsets (the next record to read in each partition) now; as
    /// [`KafkaConsumer::commit`], a commit whose partitions moved on is not an error.
    pub fn commit_offsets(&self, offsets: &[(Partition, i64)]) -> Result<()> {
        let tpl = offset_list(offsets)?;
        match self.consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => Ok(()),
            Err(e) if assignment_lost(&e) => {
                tracing::info!("offsets not committed, the partitions moved on: {e}");
                Ok(())
            }
            Err(e) => Err(Error::client("committing offsets", e)),
        }
    }

    /// The group's committed offsets of the partitions held now (the next record to
    /// read; `None` where nothing was committed).
    pub fn committed(&self, timeout: Duration) -> Result<Vec<(Partition, Option<i64>)>> {
        let tpl = self
            .consumer
            .committed(timeout)
            .map_err(|e| Error::client("fetching committed offsets", e))?;
        Ok(committed_positions(&tpl))
    }

    /// The group's metadata, for committing offsets inside a producer's transaction.
    pub fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        self.consumer.group_metadata()
    }

    /// The partitions held now.
    pub fn assignment(&self) -> BTreeSet<Partition> {
        self.consumer.context().assignment()
    }

    /// The consumer's context (assignment, rebalance history, revoke handler).
    pub fn context(&self) -> &GroupContext {
        self.consumer.context()
    }

    /// The underlying librdkafka consumer.
    pub fn inner(&self) -> &BaseConsumer<GroupContext> {
        &self.consumer
    }

    /// Leaves the group cleanly: the stored offsets are committed and the partitions
    /// are handed to the other members at once.
    pub fn close(self) -> Result<()> {
        let result = self.commit();
        drop(self.consumer);
        result
    }
}

/// The committed offsets of a list librdkafka filled in (the next record to read; `None`
/// where nothing was committed).
pub(crate) fn committed_positions(tpl: &TopicPartitionList) -> Vec<(Partition, Option<i64>)> {
    tpl.elements()
        .iter()
        .map(|e| {
            (
                Partition::new(e.topic(), e.partition()),
                e.offset().to_raw().filter(|o| *o >= 0),
            )
        })
        .collect()
}

/// A list of partitions with offsets, as librdkafka wants it.
pub fn offset_list(offsets: &[(Partition, i64)]) -> Result<TopicPartitionList> {
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for (p, offset) in offsets {
        tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(*offset))
            .map_err(|e| Error::client(format!("offset {offset} of {p:?}"), e))?;
    }
    Ok(tpl)
}

fn is_fatal(e: &RdError) -> bool {
    e.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal)
}
