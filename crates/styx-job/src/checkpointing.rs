//! Checkpoints of job files: `[job] checkpoint_interval` and `state_dir`.
//!
//! A job with a `state_dir` takes a checkpoint every `checkpoint_interval` (if set) and
//! savepoints on request through its control socket. Started again, it resumes from the
//! newest completed checkpoint in its `state_dir` (or from `--from-savepoint PATH`, at any
//! parallelism). A job that ends normally (its inputs ended, or it stopped with a
//! savepoint) leaves no checkpoint behind, so that the next run starts afresh; a job that
//! was killed leaves its checkpoints for the next run to resume from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use styx_runtime::checkpoint::coordinator::CheckpointConfig;
use styx_runtime::checkpoint::store::{Snapshot, Store};
use styx_runtime::stream::Environment;

use crate::control::ControlServer;

/// How many completed checkpoints a job keeps.
const RETAIN: usize = 3;

/// Where a job with a state directory starts, unless `--from-savepoint` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// From the newest completed checkpoint, if any.
    Latest,
    /// From the checkpoint or savepoint with this id, which must be in the directory.
    Snapshot(u64),
    /// From no snapshot.
    Afresh,
}

/// A job's checkpointing while it runs.
pub struct Checkpointing {
    store: Store,
    _control: Option<ControlServer>,
}

impl Checkpointing {
    /// Sets up checkpoints for the job with `state_dir` (absolute) and
    /// `interval`, restoring from `from_savepoint` or else the newest checkpoint.
    pub fn enable(
        env: &Environment,
        state_dir: Option<PathBuf>,
        interval: Option<std::time::Duration>,
        from_savepoint: Option<&Path>,
        resume: Resume,
    ) -> Result<Option<Checkpointing>, String> {
        let restore = match from_savepoint {
            Some(path) => Some(Snapshot::load(path).map_err(|e| format!("--from-savepoint: {e}"))?),
            None => None,
        };
        let state_dir = match (state_dir, &restore) {
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
        let store = Store::new(&state_dir);
        let path = match (&restore, resume) {
            (Some(_), _) | (None, Resume::Afresh) => None,
            (None, Resume::Latest) => store.latest_checkpoint(),
            (None, Resume::Snapshot(id)) => Some(store.snapshot_path(id).ok_or_else(|| {
                format!(
                    "the job's last committed Kafka transaction belongs to snapshot {id}, \
                     which is not in state_dir {}",
                    state_dir.display()
                )
            })?),
        };
        let restore = match (restore, path) {
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
        let control = ControlServer::start(&state_dir, handle)?;
        Ok(Some(Checkpointing {
            store,
            _control: Some(control),
        }))
    }

    /// The job ended normally: its checkpoints are not needed to resume it.
    pub fn finished(self) {
        self.store.retain(0);
    }
}
