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
//! encodes it and writes it into the instance's state file as it goes, while processing
//! goes on ([`KeyGroupWriter`] keeps a bounded part of the encoding in memory).
//! What each step cost is reported in [`coordinator::CheckpointStats`]. Once every
//! instance has acknowledged, the checkpoint is written to the state directory ([`store`])
//! and every instance is told it is complete (sinks commit what they wrote up to it).
//!
//! Keyed state is saved per key group, so that a snapshot can be restored at another
//! parallelism: each instance takes the key groups it owns at the new parallelism. Source
//! state is saved per split (a file, a Kafka partition) and given to every instance of the
//! source, which takes the splits it reads. A restore reads the keyed state from the
//! files only as the operator decodes it ([`KeyGroups`]), so neither writing nor reading
//! a snapshot holds the whole state in memory.

pub mod coordinator;
mod key_groups;
pub(crate) mod state_file;
pub mod store;

pub use key_groups::{encode_by_key_group, KeyGroupWriter, KeyGroups};
pub use state_file::{StateTarget, SPILL_BYTES};

use std::collections::HashMap;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::BoxError;
use crate::exchange::instance_for_key_group;

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

/// What the second step of an instance's snapshot returns besides the keyed state, which
/// it writes into its [`StateTarget`] as it encodes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskState {
    /// Source state, one entry per split (file, partition).
    pub splits: Vec<(String, Vec<u8>)>,
}

/// The second step of a snapshot: encodes the state copied at the barrier, writing its
/// keyed state into the target (with a [`KeyGroupWriter`]) as it goes. It runs on the
/// coordinator's thread, while the instance goes on processing.
pub type SnapshotFn = Box<dyn FnOnce(&mut StateTarget) -> Result<TaskState, BoxError> + Send>;

/// A snapshot step for an instance without state.
pub fn no_state() -> SnapshotFn {
    Box::new(|_| Ok(TaskState::default()))
}

/// The state an instance starts from: the key groups it owns and every split of its
/// operator.
#[derive(Debug, Clone, Default)]
pub struct RestoredState {
    /// Keyed state of the key groups this instance owns, read as it is decoded.
    pub key_groups: KeyGroups,
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
