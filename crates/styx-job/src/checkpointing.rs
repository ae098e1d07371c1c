//! Checkpoints of job files: `[job] checkpoint_interval` and `state_dir`.
//!
//! A job with a `state_dir` takes a checkpoint every `checkpoint_interval` (if set) and
//! savepoints on request through its control socket. Started again, it resumes from the
//! newest completed checkpoint in its `state_dir` (or from `--from-savepoint PATH`, at any
//! parallelism). A job that ends normally (its inputs ended, or it stopped with a
//! savepoint) leaves no checkpoint behind, so that the next run starts afresh; a job that
//! was killed leaves its checkpoints for the next run to resume from.
//!
//! Each run is an *incarnation* of the job (see [`styx_runtime::checkpoint::store`]): its
//! checkpoint folders are named after it, and once it has the control socket it claims
//! the state directory. A run started while an earlier one still holds the directory
//! either is refused (the earlier one answers on its control socket) or takes over (it
//! does not answer: a frozen or partitioned zombie). A zombie that wakes up again is
//! fenced: it writes and deletes no snapshot any more, and its job fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use styx_runtime::checkpoint::coordinator::{CheckpointConfig, CheckpointStats, CoordinatorHandle};
use styx_runtime::checkpoint::store::{Snapshot, Store};
use styx_runtime::stream::Environment;

use crate::control::ControlServer;

/// How many completed checkpoints a job keeps.
const RETAIN: usize = 3;

/// Where a job with a state directory starts, unless `--from-savepoint` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// From the newest completed checkpoint, if any.
    Latest,
    /// From the checkpoint or savepoint with this id written by the incarnation named
    /// (`None`: by an earlier version, which named none), which must be in the directory.
    Snapshot {
        /// The snapshot's id.
        id: u64,
        /// The incarnation that wrote it.
        incarnation: Option<String>,
    },
    /// From no snapshot.
    Afresh,
}

/// A job's checkpointing while it runs.
pub struct Checkpointing {
    store: Store,
    coordinator: CoordinatorHandle,
    _control: Option<ControlServer>,
}

/// A job's state directory, taken by this run before it decides where it resumes: the
/// control socket is this run's, and so is the directory (an earlier run still holding
/// it did not answer, and is fenced from it).
pub struct StateDir {
    dir: PathBuf,
    store: Store,
    control: ControlServer,
    savepoint: Option<Snapshot>,
}

impl StateDir {
    /// Takes the job's `state_dir` (absolute; with none, the folder of `from_savepoint`'s
    /// state directory, if given): reads `from_savepoint`, takes the control socket (see
    /// [`crate::control`]) and claims the directory for a new incarnation. `Ok(None)`:
    /// the job has no state directory.
    pub fn take(
        state_dir: Option<PathBuf>,
        from_savepoint: Option<&Path>,
    ) -> Result<Option<StateDir>, String> {
        let savepoint = match from_savepoint {
            Some(path) => Some(Snapshot::load(path).map_err(|e| format!("--from-savepoint: {e}"))?),
            None => None,
        };
        let dir = match (state_dir, &savepoint) {
            (Some(dir), _) => dir,
            // A savepoint restored without a state_dir keeps its own folder's.
            (None, Some(s)) => s
                .path
                .parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            (None, None) => return Ok(None),
        };
        let control = ControlServer::start(&dir)?;
        // Only a run that has the control socket claims the directory: a refused one
        // leaves the running job its own.
        let store = Store::new(&dir);
        store
            .claim()
            .map_err(|e| format!("cannot claim state_dir {}: {e}", dir.display()))?;
        tracing::info!(
            incarnation = store.incarnation(),
            state_dir = %dir.display(),
            "claimed the state directory"
        );
        Ok(Some(StateDir {
            dir,
            store,
            control,
            savepoint,
        }))
    }

    /// This run's incarnation.
    pub fn incarnation(&self) -> &str {
        self.store.incarnation()
    }

    /// Sets up checkpoints every `interval` (if set), restoring from the savepoint given
    /// to [`StateDir::take`], or else as `resume` says.
    pub fn enable(
        self,
        env: &Environment,
        interval: Option<std::time::Duration>,
        resume: Resume,
    ) -> Result<Checkpointing, String> {
        let StateDir {
            dir,
            store,
            control,
            savepoint,
        } = self;
        let path = match (&savepoint, resume) {
            (Some(_), _) | (None, Resume::Afresh) => None,
            (None, Resume::Latest) => store.latest_checkpoint(),
            (None, Resume::Snapshot { id, incarnation }) => {
                let path = store
                    .find_snapshot(id, incarnation.as_deref())
                    .ok_or_else(|| {
                        format!(
                            "the job's last committed Kafka transaction belongs to snapshot \
                             {id} of incarnation {}, which is not in state_dir {}",
                            incarnation.as_deref().unwrap_or("(unnamed)"),
                            dir.display()
                        )
                    })?;
                // Newer checkpoints were never committed: runs killed before their commit
                // wrote them. Kept, they would count towards the retained ones and could
                // push out this one before this run commits a newer one.
                store.discard_newer_than(id);
                Some(path)
            }
        };
        let restore = match (savepoint, path) {
            (Some(s), _) => Some(s),
            (None, Some(path)) => {
                let snapshot = Snapshot::load(&path).map_err(|e| e.to_string())?;
                tracing::info!(snapshot = %path.display(), "resuming");
                Some(snapshot)
            }
            (None, None) => None,
        };
        let handle = env.enable_checkpointing(CheckpointConfig {
            interval,
            store: store.clone(),
            retain: RETAIN,
            restore: restore.map(Arc::new),
        });
        control.serve(handle.clone(), env.stop_handle());
        Ok(Checkpointing {
            store,
            coordinator: handle,
            _control: Some(control),
        })
    }
}

impl Checkpointing {
    /// Sets up checkpoints for the job with `state_dir` (absolute) and
    /// `interval`, restoring from `from_savepoint` or else as `resume` says: both steps
    /// of [`StateDir`] at once.
    pub fn enable(
        env: &Environment,
        state_dir: Option<PathBuf>,
        interval: Option<std::time::Duration>,
        from_savepoint: Option<&Path>,
        resume: Resume,
    ) -> Result<Option<Checkpointing>, String> {
        StateDir::take(state_dir, from_savepoint)?
            .map(|s| s.enable(env, interval, resume))
            .transpose()
    }

    /// Has every snapshot record what `annotator` gives (see
    /// [`styx_runtime::checkpoint::store::Store::annotate`]).
    pub fn annotate(&self, annotator: styx_runtime::checkpoint::store::Annotator) {
        self.store.annotate(annotator);
    }

    /// The statistics of every checkpoint and savepoint completed from now on.
    pub fn statistics(&self) -> crossbeam_channel::Receiver<CheckpointStats> {
        self.coordinator.statistics()
    }

    /// Whether a newer incarnation of the job has claimed the state directory since this
    /// one did: this one is a zombie, fenced.
    pub fn fenced(&self) -> Option<styx_runtime::checkpoint::store::Fenced> {
        self.store.check_owner().err()
    }

    /// The job ended normally: its checkpoints are not needed to resume it. (A fenced
    /// incarnation deletes nothing: the directory is no longer its own.)
    pub fn finished(self) {
        self.store.retain(0);
    }
}
