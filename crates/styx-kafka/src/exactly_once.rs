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
//!    offsets) to the state directory, in a folder named after the checkpoint and the
//!    job's incarnation (`chk-<N>-<incarnation>`). Only then is it complete.
//! 4. On completion the sink adds the sources' offsets of checkpoint `N` to the open
//!    transaction (`send_offsets_to_transaction`, with the offset metadata
//!    `styx:<millis>:cp:<N>:<incarnation>`) and commits it; then it opens the next
//!    transaction and sends what it held.
//! 5. At the end of the input (or a clean stop), the sink commits its last transaction
//!    with the sources' final offsets and the metadata `styx:<millis>:end`; the job's
//!    state is then empty (every window fired), and its checkpoints are discarded.
//!
//! Every run of the job is an *incarnation*, named by a random token
//! (see `styx_runtime::checkpoint::store`). A run starts in this order:
//!
//! 1. It takes the control socket of its state directory. If the job there answers, the
//!    run is refused ("another job is running") and touches nothing: neither the state
//!    directory nor the transactions of the running job. If a socket is there but nothing
//!    answers within a few seconds (the process is frozen, stopped or cut off), the run
//!    takes it over.
//! 2. It claims the state directory: the directory's `owner` file names the new
//!    incarnation from then on.
//! 3. Its sink's producer initialises transactions with the job's stable
//!    `transactional.id` (`styx-<job>-<sink>`). This fences every earlier producer with
//!    that id: the broker aborts the transaction such a producer left open, and rejects
//!    every later call it makes. Once this returns, no earlier incarnation can commit
//!    anything more, so the committed offsets are final.
//! 4. It reads the group's committed offsets and their metadata (see
//!    [`committed_marker`]). If the newest marker names checkpoint `N` of incarnation
//!    `I`, the job restores exactly the snapshot `N` written by `I` (a marker of an
//!    earlier version, `cp:<N>`, names snapshot `N` of no incarnation): its state is
//!    exactly the one after the records the committed output reflects. If it says `end`,
//!    or there is no marker (nothing was ever committed), the job starts with empty
//!    state from the committed offsets. Checkpoints written after the last commit are
//!    deleted (no resume can use them, and kept they would count towards the checkpoints
//!    the job retains), and their transactions were aborted in step 3.
//!
//! Whatever moment the process is killed at, a `read_committed` reader sees the output of
//! each input record once.
//!
//! # Zombies
//!
//! A zombie is an earlier incarnation that still runs once a newer one has taken over (a
//! process that was frozen, in a long pause, or on a machine cut off, and wakes up). It
//! is fenced twice, and stops with an error saying it was fenced by a newer incarnation
//! (the process exits non-zero):
//!
//! - by Kafka: its next transactional call (adding offsets, committing, or a send or
//!   flush of records) fails, because a newer producer initialised the same
//!   `transactional.id`. What it wrote since its last commit was aborted and is never
//!   visible to `read_committed` readers; the checkpoint it was about to commit is never
//!   restored, since no committed marker names it.
//! - by the state directory: before it writes a checkpoint (and again before the folder
//!   is renamed into place) it checks that `owner` still names it. Once a newer
//!   incarnation has claimed the directory, it writes and deletes no snapshot any more
//!   (so it neither adds a checkpoint nor prunes the new owner's), and its job fails.
//!
//! Whichever call the zombie makes first fails. Its checkpoint folders never collide
//! with the newer incarnation's, even with equal ids, because each names its
//! incarnation; and its control socket, when it ends, is left to the newer incarnation
//! that took it over.
//!
//! One transactional sink instance per job and process: the job's output goes out in
//! one transaction per checkpoint, with one `transactional.id`.

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
    /// The last transaction committed checkpoint (or savepoint) `id`, written by the
    /// incarnation of the job named here (`None` in markers of earlier versions).
    Checkpoint {
        /// The checkpoint's id.
        id: u64,
        /// The incarnation that wrote it.
        incarnation: Option<String>,
    },
    /// The last transaction was the job's final one: its state was empty.
    End,
}

fn marker_text(kind: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("styx:{millis}:{kind}")
}

/// Parses `styx:<millis>:cp:<N>:<incarnation>`, `styx:<millis>:cp:<N>` (earlier
/// versions) or `styx:<millis>:end`.
fn parse_marker(text: &str) -> Option<(u128, Marker)> {
    let rest = text.strip_prefix("styx:")?;
    let (millis, kind) = rest.split_once(':')?;
    let millis = millis.parse().ok()?;
    let marker = match kind.strip_prefix("cp:") {
        Some(cp) => {
            let (id, incarnation) = match cp.split_once(':') {
                Some((id, inc)) if !inc.is_empty() => (id, Some(inc.to_string())),
                Some(_) => return None,
                None => (cp, None),
            };
            Marker::Checkpoint {
                id: id.parse().ok()?,
                incarnation,
            }
        }
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

/// Whether an error code says that a newer producer with the same `transactional.id` has
/// fenced this one.
fn is_fenced_code(code: rdkafka::error::RDKafkaErrorCode) -> bool {
    use rdkafka::error::RDKafkaErrorCode as Code;
    matches!(
        code,
        Code::Fenced | Code::ProducerFenced | Code::InvalidProducerEpoch
    )
}

/// Whether a producer error says that a newer producer with the same `transactional.id`
/// has fenced this one.
fn is_fenced(e: &crate::Error) -> bool {
    let source = match e {
        crate::Error::Client { source, .. } | crate::Error::Delivery { source, .. } => source,
        _ => return false,
    };
    source.rdkafka_error_code().is_some_and(is_fenced_code)
        || source.to_string().to_lowercase().contains("fenced")
}

/// A sink instance writing events to a topic exactly once. See the
/// [module documentation](self).
pub struct TransactionalSink {
    name: String,
    transactional_id: String,
    producer: KafkaProducer,
    link: TransactionLink,
    /// The barrier passed whose transaction is not committed yet.
    pending: Option<u64>,
    /// Records after that barrier, for the next transaction.
    held: Vec<Event>,
    /// Records sent in the open transaction.
    in_transaction: u64,
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
        let producer = KafkaProducer::new(config, Some(transactional_id), TRANSACTION_TIMEOUT)?;
        Self::with_producer(producer, name, transactional_id, link)
    }

    /// A transactional sink writing with `producer`, whose transactions (with
    /// `transactional_id`) are initialised and none open.
    pub fn with_producer(
        mut producer: KafkaProducer,
        name: &str,
        transactional_id: &str,
        link: TransactionLink,
    ) -> crate::Result<Self> {
        producer.begin_transaction()?;
        Ok(TransactionalSink {
            name: name.to_string(),
            transactional_id: transactional_id.to_string(),
            producer,
            link,
            pending: None,
            held: Vec::new(),
            in_transaction: 0,
        })
    }

    fn fail(&self, e: impl std::fmt::Display) -> BoxError {
        format!("{}: {e}", self.name).into()
    }

    /// The error of a failed producer call: a clear one when the producer was fenced.
    fn fail_kafka(&self, e: crate::Error) -> BoxError {
        // Once fenced, librdkafka fails every later call (records purged from the queue,
        // transactional calls in a fatal state) with errors of their own; its first fatal
        // error says why.
        let fatal = self.producer.inner().client().fatal_error();
        if is_fenced(&e)
            || fatal
                .as_ref()
                .is_some_and(|(code, _)| is_fenced_code(*code))
        {
            return self.fail(format!(
                "fenced by a newer incarnation of the job: another producer has initialised \
                 transactions with transactional.id `{}`, so this incarnation stops; its open \
                 transaction is aborted and nothing it wrote since its last commit is ever \
                 visible to read_committed readers ({e})",
                self.transactional_id
            ));
        }
        self.fail(e)
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
                .map_err(|e| {
                    self.fail_kafka(crate::Error::client("adding offsets to the transaction", e))
                })?;
        }
        self.producer
            .commit_transaction(TRANSACTION_TIMEOUT)
            .map_err(|e| self.fail_kafka(e))?;
        tracing::debug!(
            records = self.in_transaction,
            marker,
            "transaction committed"
        );
        self.in_transaction = 0;
        self.producer
            .begin_transaction()
            .map_err(|e| self.fail_kafka(e))?;
        Ok(())
    }

    fn send(&mut self, event: &Event) -> Result<(), BoxError> {
        self.producer.send(event).map_err(|e| self.fail_kafka(e))?;
        self.in_transaction += 1;
        Ok(())
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
            .map_err(|e| self.fail_kafka(e))
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
        // ...or, with records to commit, it freezes there, as in a long pause, and goes on
        // when it is continued.
        if self.in_transaction > 0 {
            freeze_point();
        }
        self.commit(
            Some(checkpoint),
            &marker_text(&format!("cp:{}:{}", checkpoint.id, checkpoint.incarnation)),
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

/// Fault injection: the process stops itself (SIGSTOP) here, as a process frozen in a long
/// pause, and goes on once it is continued (SIGCONT).
fn freeze_point() {
    fail::fail_point!("eos-freeze-before-commit", |_| {
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .status();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let cp = marker_text("cp:12:3f9a1c0b7d2e");
        assert_eq!(
            parse_marker(&cp).unwrap().1,
            Marker::Checkpoint {
                id: 12,
                incarnation: Some("3f9a1c0b7d2e".into())
            }
        );
        // Markers of earlier versions name no incarnation.
        assert_eq!(
            parse_marker(&marker_text("cp:12")).unwrap().1,
            Marker::Checkpoint {
                id: 12,
                incarnation: None
            }
        );
        assert_eq!(parse_marker(&marker_text("end")).unwrap().1, Marker::End);
        assert_eq!(parse_marker(""), None);
        assert_eq!(parse_marker("styx:1:what"), None);
        assert_eq!(parse_marker("styx:1:cp:12:"), None);
    }
}
