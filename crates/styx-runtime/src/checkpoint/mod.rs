//! Checkpoints and savepoints: consistent snapshots of a running dataflow.
//!
//! A checkpoint follows Flink's aligned barriers. The [`coordinator`] asks every source
//! instance to snapshot its position and send a [`Barrier`] downstream, in order with its
//! records. An operator instance that has received the barrier from one input holds that
//! input's later messages back until the barrier has come from all its inputs; then it
//! snapshots its state and forwards the barrier. A snapshot is taken in two steps: the
//! instance copies what it must keep while it stops processing (cheap: window operators and
//! keyed state copy their entries side by side into flat vectors, a time proportional to
//! the bytes of state), and the coordinator's thread gives the copy its per-key shape,
//! encodes and writes it while processing goes on.
//! What each step cost is reported in [`coordinator::CheckpointStats`]. Once every
//! instance has acknowledged, the checkpoint is written to the state directory ([`store`])
//! and every instance is told it is complete (sinks commit what they wrote up to it).
//!
//! Keyed state is saved per key group, so that a snapshot can be restored at another
//! parallelism: each instance takes the key groups it owns at the new parallelism. Source
//! state is saved per split (a file, a Kafka partition) and given to every instance of the
//! source, which takes the splits it reads.

pub mod coordinator;
pub mod store;

use std::collections::HashMap;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::BoxError;
use crate::exchange::{instance_for_key_group, key_group, key_hash};

/// Why a barrier was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BarrierKind {
    /// A periodic checkpoint.
    Checkpoint,
    /// A savepoint asked for by the user; the job goes on.
    Savepoint,
    /// A savepoint after which the job stops, without firing open windows.
    StopWithSavepoint,
}

/// A checkpoint barrier: every record before it belongs to the snapshot, none after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Barrier {
    /// The checkpoint's id, increasing.
    pub id: u64,
    /// Why it was taken.
    pub kind: BarrierKind,
}

/// Source state: one entry per split (file, partition), by split name.
pub type Splits = Vec<(String, Vec<u8>)>;

/// The state of one operator or source instance in a snapshot.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskState {
    /// Keyed state, one entry per key group that holds any.
    pub key_groups: Vec<(u16, Vec<u8>)>,
    /// Source state, one entry per split (file, partition).
    pub splits: Vec<(String, Vec<u8>)>,
}

impl TaskState {
    /// Whether there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.key_groups.is_empty() && self.splits.is_empty()
    }
}

/// The second step of a snapshot: encodes the state copied at the barrier. It runs on the
/// coordinator's thread, while the instance goes on processing.
pub type SnapshotFn = Box<dyn FnOnce() -> Result<TaskState, BoxError> + Send>;

/// A snapshot step for an instance without state.
pub fn no_state() -> SnapshotFn {
    Box::new(|| Ok(TaskState::default()))
}

/// The state an instance starts from: the key groups it owns and every split of its
/// operator.
#[derive(Debug, Clone, Default)]
pub struct RestoredState {
    /// Keyed state of the key groups this instance owns.
    pub key_groups: Vec<(u16, Vec<u8>)>,
    /// Every split of the operator, whichever instance saved it.
    pub splits: Vec<(String, Vec<u8>)>,
}

/// A checkpoint every instance has acknowledged.
#[derive(Debug, Clone)]
pub struct CompletedCheckpoint {
    /// Its id.
    pub id: u64,
    /// Why it was taken.
    pub kind: BarrierKind,
    /// The splits of every source, by operator name: what the sources had read.
    pub source_splits: Vec<(String, Splits)>,
    /// The incarnation of the job that wrote it ([`store::Store::incarnation`]): with the
    /// id, it names the snapshot's folder among those of other runs of the job.
    pub incarnation: String,
}

/// Encodes a piece of state as MessagePack (versioned by the file header of [`store`]).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, BoxError> {
    rmp_serde::to_vec(value).map_err(Into::into)
}

/// Decodes a piece of state written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BoxError> {
    rmp_serde::from_slice(bytes).map_err(|e| format!("corrupt state: {e}").into())
}

/// Splits keyed entries into key groups and encodes each group.
pub fn encode_by_key_group<K, V, I>(entries: I) -> Result<Vec<(u16, Vec<u8>)>, BoxError>
where
    K: std::hash::Hash + Serialize,
    V: Serialize,
    I: IntoIterator<Item = (K, V)>,
{
    let mut writer = KeyGroupWriter::new();
    for (k, v) in entries {
        writer.add(&k, &v)?;
    }
    Ok(writer.finish())
}

/// Encodes keyed entries into their key groups as they come, so that no copy of the
/// entries themselves is kept: each group is the encoding of a list of `(key, value)`
/// pairs, as [`decode_key_groups`] reads it.
#[derive(Default)]
pub struct KeyGroupWriter {
    /// Per key group: how many entries, and their encodings one after the other.
    groups: std::collections::BTreeMap<u16, (u32, Vec<u8>)>,
}

impl KeyGroupWriter {
    /// A writer with no entries.
    pub fn new() -> Self {
        KeyGroupWriter::default()
    }

    /// Adds the entry of `key`.
    pub fn add<K, V>(&mut self, key: &K, value: &V) -> Result<(), BoxError>
    where
        K: std::hash::Hash + Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        let g = key_group(key_hash(key)) as u16;
        // Room for the list's header, written by `finish`.
        let (count, bytes) = self.groups.entry(g).or_insert_with(|| (0, vec![0; 5]));
        *count += 1;
        rmp_serde::encode::write(bytes, &(key, value)).map_err(|e| -> BoxError { e.into() })
    }

    /// The encoded groups, in order.
    pub fn finish(self) -> Vec<(u16, Vec<u8>)> {
        self.groups
            .into_iter()
            .map(|(g, (count, mut bytes))| {
                // A MessagePack array of `count` elements (the 32-bit form, whatever the
                // count), then the elements.
                bytes[0] = 0xdd;
                bytes[1..5].copy_from_slice(&count.to_be_bytes());
                (g, bytes)
            })
            .collect()
    }
}

/// Groups values by key, in the order they come (each key's values keep their order).
///
/// Operators copy their state flat at a barrier, which is cheap, and give it the per-key
/// shape of its encoding with this in the snapshot's second step, off their thread.
pub fn group_by_key<K, V, I>(entries: I) -> HashMap<K, Vec<V>, ahash::RandomState>
where
    K: std::hash::Hash + Eq,
    I: IntoIterator<Item = (K, V)>,
{
    let mut groups: HashMap<K, Vec<V>, ahash::RandomState> = HashMap::default();
    for (k, v) in entries {
        groups.entry(k).or_default().push(v);
    }
    groups
}

/// Decodes the key groups written by [`encode_by_key_group`].
pub fn decode_key_groups<K: DeserializeOwned, V: DeserializeOwned>(
    groups: &[(u16, Vec<u8>)],
) -> Result<Vec<(K, V)>, BoxError> {
    let mut all = Vec::new();
    for (_, bytes) in groups {
        all.extend(decode::<Vec<(K, V)>>(bytes)?);
    }
    Ok(all)
}

/// Whether instance `instance` of `parallelism` owns key group `group`.
pub fn owns_key_group(group: u16, instance: usize, parallelism: usize) -> bool {
    instance_for_key_group(group as usize, parallelism) == instance
}

/// Types that can live in checkpointed state.
pub trait StateValue: Serialize + DeserializeOwned + Clone + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Clone + Send + 'static> StateValue for T {}

/// Types that can key checkpointed state.
pub trait StateKey: StateValue + std::hash::Hash + Eq {}

impl<T: StateValue + std::hash::Hash + Eq> StateKey for T {}
