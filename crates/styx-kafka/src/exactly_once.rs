//! Exactly-once from Kafka to Kafka: a sink that writes in transactions committed
//! together with the offsets the job's Kafka sources consumed.
//!
//! # The protocol
//!
//! librdkafka cannot resume a transaction that another producer (an earlier incarnation
//! of the job) left open, so a transaction is never carried across a crash. Instead, the
//! Kafka transaction itself is the commit point of each checkpoint, and a restarted job
//! learns from Kafka which checkpoint that was:
//!
//! 1. Between two checkpoint barriers, the sink's records go into one open transaction.
//! 2. At barrier `N` the sink flushes; records that arrive after the barrier are held in
//!    memory, not sent: they belong to the next transaction.
//! 3. The coordinator writes checkpoint `N` (every operator's state and the sources'
//!    offsets) to the state directory. Only then is it complete.
//! 4. On completion the sink adds the sources' offsets of checkpoint `N` to the open
//!    transaction (`send_offsets_to_transaction`, with the offset metadata
//!    `styx:<millis>:cp:<N>`) and commits it; then it opens the next transaction and sends
//!    what it held.
//! 5. At the end of the input (or a clean stop), the sink commits its last transaction
//!    with the sources' final offsets and the metadata `styx:<millis>:end`; the job's
//!    state is then empty (every window fired), and its checkpoints are discarded.
//!
//! On restart the job reads the group's committed offsets and their metadata (see
//! [`committed_marker`]). If the newest marker names checkpoint `N`, the job restores
//! checkpoint `N`: its state is exactly the one after the records the committed output
//! reflects. If it says `end`, or there is no marker (nothing was ever committed), the
//! job starts with empty state from the committed offsets. Checkpoints written after the
//! last commit are ignored, and their transactions were aborted: the restarted
//! producer, with the same `transactional.id`, fences its previous incarnation and aborts
//! its open transaction when it initialises. Whatever moment the process is killed at,
//! a `read_committed` reader sees the output of each input record once.
//!
//! A zombie (an earlier incarnation that still runs) is fenced by the same mechanism:
//! its next transactional call fails, and it stops with that error.
//!
//! One transactional sink instance per job and process: the job's output goes out in
//! one transaction per checkpoint, with one `transactional.id` (`styx-<job>-<sink>`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerGroupMetadata};
use rdkafka::producer::Producer;
use rdkafka::{Offset, TopicPartitionList};
use styx_runtime::checkpoint::{decode, no_state, Barrier, CompletedCheckpoint, SnapshotFn};
use styx_runtime::error::BoxError;
use styx_runtime::sink::Sink;

use crate::config::KafkaSinkConfig;
use crate::consumer::Partition;
use crate::decode::Event;
use crate::producer::KafkaProducer;
use crate::source::parse_split;

/// How long transactional calls (initialising, committing) may take.
pub const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// A consumer group and offsets to commit in it.
type GroupOffsets = (Arc<ConsumerGroupMetadata>, Vec<(Partition, i64)>);

/// What a job's Kafka sources tell its transactional sink: their consumer groups, and
/// where they ended. Shared by the instances of one process.
#[derive(Clone, Default)]
pub struct TransactionLink {
    inner: Arc<Mutex<LinkState>>,
}

#[derive(Default)]
struct LinkState {
    /// Per source operator (for example `sources.payments`).
    sources: BTreeMap<String, SourceEntry>,
}

#[derive(Default)]
struct SourceEntry {
    group: Option<Arc<ConsumerGroupMetadata>>,
    /// The next offset of each partition when the source ended.
    finals: BTreeMap<Partition, i64>,
}

impl TransactionLink {
    /// A link with no sources yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The source operator `operator` takes part: its offsets go into the transactions.
    pub fn add_source(&self, operator: &str) {
        self.lock().sources.entry(operator.to_string()).or_default();
    }

    /// The consumer group metadata of `operator`'s consumers (the first one given stays).
    pub fn set_group(&self, operator: &str, group: ConsumerGroupMetadata) {
        let mut state = self.lock();
        let entry = state.sources.entry(operator.to_string()).or_default();
        if entry.group.is_none() {
            entry.group = Some(Arc::new(group));
        }
    }

    /// Where an instance of `operator` ended: the next offset of each of its partitions.
    pub fn add_final_positions(&self, operator: &str, positions: &[(Partition, i64)]) {
        let mut state = self.lock();
        let entry = state.sources.entry(operator.to_string()).or_default();
        for (p, o) in positions {
            entry.finals.insert(p.clone(), *o);
        }
    }

    /// Each source's group and offsets: of a completed checkpoint, or (`None`) where the
    /// sources ended.
    fn offsets(&self, done: Option<&CompletedCheckpoint>) -> Result<Vec<GroupOffsets>, BoxError> {
        let state = self.lock();
        let mut out = Vec::new();
        for (operator, entry) in &state.sources {
            let offsets: Vec<(Partition, i64)> = match done {
                Some(done) => {
                    let splits = done
                        .source_splits
                        .iter()
                        .find(|(op, _)| op == operator)
                        .map(|(_, s)| s.as_slice())
                        .unwrap_or_default();
                    splits
                        .iter()
                        .map(|(name, bytes)| {
                            let p = parse_split(name)
                                .ok_or_else(|| format!("`{name}` is no Kafka partition"))?;
                            Ok((p, decode::<i64>(bytes)?))
                        })
                        .collect::<Result<_, BoxError>>()?
                }
                None => entry.finals.iter().map(|(p, o)| (p.clone(), *o)).collect(),
            };
            if offsets.is_empty() {
                continue;
            }
            let group = entry.group.clone().ok_or_else(|| {
                format!("{operator}: no consumer group metadata to commit offsets with")
            })?;
            out.push((group, offsets));
        }
        Ok(out)
    }
}

/// What the newest committed offsets of a job say about its last commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// Nothing was committed by a transactional sink.
    None,
    /// The last transaction committed checkpoint `N`.
    Checkpoint(u64),
    /// The last transaction was the job's final one: its state was empty.
    End,
}

fn marker_text(kind: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("styx:{millis}:{kind}")
}

/// Parses `styx:<millis>:cp:<N>` or `styx:<millis>:end`.
fn parse_marker(text: &str) -> Option<(u128, Marker)> {
    let rest = text.strip_prefix("styx:")?;
    let (millis, kind) = rest.split_once(':')?;
    let millis = millis.parse().ok()?;
    let marker = match kind.strip_prefix("cp:") {
        Some(n) => Marker::Checkpoint(n.parse().ok()?),
        None if kind == "end" => Marker::End,
        None => return None,
    };
    Some((millis, marker))
}

/// The newest marker among the committed offsets of `partitions` in the group that
/// `consumer` belongs to (it need not be subscribed), and the committed offsets.
pub fn committed_marker(
    consumer: &BaseConsumer,
    partitions: &[Partition],
    timeout: Duration,
) -> crate::Result<(Marker, Vec<(Partition, i64)>)> {
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition(&p.topic, p.partition);
    }
    let committed = consumer
        .committed_offsets(tpl, timeout)
        .map_err(|e| crate::Error::client("fetching committed offsets", e))?;
    let mut newest: Option<(u128, Marker)> = None;
    let mut offsets = Vec::new();
    for elem in committed.elements() {
        if let Offset::Offset(o) = elem.offset() {
            offsets.push((Partition::new(elem.topic(), elem.partition()), o));
        }
        if let Some(found) = parse_marker(elem.metadata()) {
            if newest.as_ref().is_none_or(|(m, _)| found.0 > *m) {
                newest = Some(found);
            }
        }
    }
    Ok((newest.map_or(Marker::None, |(_, m)| m), offsets))
}

/// A sink instance writing events to a topic exactly once. See the
/// [module documentation](self).
pub struct TransactionalSink {
    name: String,
    producer: KafkaProducer,
    link: TransactionLink,
    /// The barrier passed whose transaction is not committed yet.
    pending: Option<u64>,
    /// Records after that barrier, for the next transaction.
    held: Vec<Event>,
}

impl TransactionalSink {
    /// A transactional sink named `name` (in errors) writing as `config` says, with the
    /// stable `transactional_id`; `link` tells it the sources' offsets.
    pub fn new(
        config: &KafkaSinkConfig,
        name: &str,
        transactional_id: &str,
        link: TransactionLink,
    ) -> crate::Result<Self> {
        let mut producer = KafkaProducer::new(config, Some(transactional_id), TRANSACTION_TIMEOUT)?;
        producer.begin_transaction()?;
        Ok(TransactionalSink {
            name: name.to_string(),
            producer,
            link,
            pending: None,
            held: Vec::new(),
        })
    }

    fn fail(&self, e: impl std::fmt::Display) -> BoxError {
        format!("{}: {e}", self.name).into()
    }

    /// Adds the offsets to the open transaction with `marker`, commits it and opens
    /// the next.
    fn commit(&mut self, done: Option<&CompletedCheckpoint>, marker: &str) -> Result<(), BoxError> {
        for (group, offsets) in self.link.offsets(done)? {
            let mut tpl = TopicPartitionList::with_capacity(offsets.len());
            for (p, o) in &offsets {
                tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(*o))
                    .map_err(|e| self.fail(e))?;
                if let Some(mut elem) = tpl.find_partition(&p.topic, p.partition) {
                    elem.set_metadata(marker);
                }
            }
            self.producer
                .inner()
                .send_offsets_to_transaction(&tpl, &group, TRANSACTION_TIMEOUT)
                .map_err(|e| self.fail(format!("adding offsets to the transaction: {e}")))?;
        }
        self.producer
            .commit_transaction(TRANSACTION_TIMEOUT)
            .map_err(|e| self.fail(e))?;
        self.producer
            .begin_transaction()
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    fn send(&mut self, event: &Event) -> Result<(), BoxError> {
        self.producer.send(event).map_err(|e| self.fail(e))
    }
}

impl Sink<Event> for TransactionalSink {
    fn write(&mut self, batch: &mut Vec<Event>) -> Result<(), BoxError> {
        if self.pending.is_some() {
            self.held.append(batch);
            return Ok(());
        }
        for event in batch.drain(..) {
            self.send(&event)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        self.producer
            .flush(TRANSACTION_TIMEOUT)
            .map_err(|e| self.fail(e))
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        // The last checkpoint's transaction is committed first, if its completion was
        // not seen (the job ended before it): no record of the held ones is lost.
        if self.pending.take().is_some() {
            let held = std::mem::take(&mut self.held);
            for event in &held {
                self.send(event)?;
            }
        }
        self.flush()?;
        self.commit(None, &marker_text("end"))
    }

    fn snapshot(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        self.flush()?;
        self.pending = Some(barrier.id);
        Ok(no_state())
    }

    fn on_checkpoint_complete(&mut self, checkpoint: &CompletedCheckpoint) -> Result<(), BoxError> {
        if self.pending != Some(checkpoint.id) {
            return Ok(());
        }
        // Fault injection: the process dies with the checkpoint written, uncommitted...
        fail::fail_point!("eos-before-commit", |_| std::process::abort());
        self.commit(
            Some(checkpoint),
            &marker_text(&format!("cp:{}", checkpoint.id)),
        )?;
        // ...or right after the commit, before the records held since the barrier go.
        fail::fail_point!("eos-after-commit", |_| std::process::abort());
        self.pending = None;
        let held = std::mem::take(&mut self.held);
        for event in &held {
            self.send(event)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let cp = marker_text("cp:12");
        assert_eq!(parse_marker(&cp).unwrap().1, Marker::Checkpoint(12));
        assert_eq!(parse_marker(&marker_text("end")).unwrap().1, Marker::End);
        assert_eq!(parse_marker(""), None);
        assert_eq!(parse_marker("styx:1:what"), None);
    }
}
