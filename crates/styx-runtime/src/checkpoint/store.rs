//! The state directory: where checkpoints and savepoints are written and read.
//!
//! ```text
//! STATE_DIR/checkpoints/chk-00000042/_metadata.json   what the snapshot holds
//! STATE_DIR/checkpoints/chk-00000042/0003-window.2.state  one file per instance
//! STATE_DIR/savepoints/sp-00000043-1700000000000/...
//! ```
//!
//! A snapshot is written into a temporary folder and renamed into place once complete, so
//! a folder with a `_metadata.json` is always whole. Each state file starts with a magic
//! string and a format version.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checkpoint::{decode, encode, owns_key_group, BarrierKind, RestoredState, TaskState};
use crate::error::BoxError;

const MAGIC: &[u8; 8] = b"STYXSNAP";
const FORMAT: u32 = 1;
const METADATA: &str = "_metadata.json";

/// What a snapshot folder holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata {
    /// The format version of the folder.
    pub format: u32,
    /// The checkpoint id.
    pub id: u64,
    /// Why it was taken.
    pub kind: BarrierKind,
    /// When it was completed, in epoch milliseconds.
    pub created_ms: i64,
    /// The instances whose state it holds.
    pub tasks: Vec<TaskEntry>,
}

/// One instance's state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskEntry {
    /// The operator's name.
    pub operator: String,
    /// The instance index.
    pub instance: usize,
    /// The operator's parallelism when the snapshot was taken.
    pub parallelism: usize,
    /// The state file, in the snapshot's folder (absent for an instance without state).
    pub file: Option<String>,
}

/// The state directory of a job.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

fn file_name(operator: &str, instance: usize) -> String {
    let clean: String = operator
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{clean}.{instance}.state")
}

impl Store {
    /// The state directory `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Store { dir: dir.into() }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// Writes a snapshot; returns its folder.
    pub fn write(
        &self,
        id: u64,
        kind: BarrierKind,
        tasks: Vec<(String, usize, usize, TaskState)>,
    ) -> Result<PathBuf, BoxError> {
        let created_ms = crate::time::now_ms();
        let (parent, name) = match kind {
            BarrierKind::Checkpoint => (self.checkpoints(), format!("chk-{id:08}")),
            _ => (
                self.dir.join("savepoints"),
                format!("sp-{id:08}-{created_ms}"),
            ),
        };
        fs::create_dir_all(&parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        let tmp = parent.join(format!(".{name}.tmp"));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let mut entries = Vec::new();
        for (operator, instance, parallelism, state) in tasks {
            let file = if state.is_empty() {
                None
            } else {
                let file = file_name(&operator, instance);
                let mut bytes = Vec::with_capacity(64);
                bytes.extend_from_slice(MAGIC);
                bytes.extend_from_slice(&FORMAT.to_le_bytes());
                bytes.extend_from_slice(&encode(&state)?);
                write_synced(&tmp.join(&file), &bytes)?;
                Some(file)
            };
            entries.push(TaskEntry {
                operator,
                instance,
                parallelism,
                file,
            });
        }
        let metadata = Metadata {
            format: FORMAT,
            id,
            kind,
            created_ms,
            tasks: entries,
        };
        write_synced(&tmp.join(METADATA), &serde_json::to_vec_pretty(&metadata)?)?;
        let dest = parent.join(&name);
        let _ = fs::remove_dir_all(&dest);
        fs::rename(&tmp, &dest)
            .map_err(|e| format!("cannot complete snapshot {}: {e}", dest.display()))?;
        Ok(dest)
    }

    /// The folder of the completed checkpoint or savepoint with `id`, if it is here.
    pub fn snapshot_path(&self, id: u64) -> Option<PathBuf> {
        let checkpoint = self.checkpoints().join(format!("chk-{id:08}"));
        if checkpoint.join(METADATA).is_file() {
            return Some(checkpoint);
        }
        let prefix = format!("sp-{id:08}-");
        fs::read_dir(self.dir.join("savepoints"))
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
                    && p.join(METADATA).is_file()
            })
    }

    /// The completed checkpoints, oldest first.
    pub fn list_checkpoints(&self) -> Vec<(u64, PathBuf)> {
        let Ok(read) = fs::read_dir(self.checkpoints()) else {
            return Vec::new();
        };
        let mut all: Vec<(u64, PathBuf)> = read
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_prefix("chk-")?.parse().ok()?;
                e.path().join(METADATA).is_file().then(|| (id, e.path()))
            })
            .collect();
        all.sort();
        all
    }

    /// The newest completed checkpoint.
    pub fn latest_checkpoint(&self) -> Option<PathBuf> {
        self.list_checkpoints().pop().map(|(_, p)| p)
    }

    /// The largest checkpoint or savepoint id used so far in this directory.
    pub fn last_id(&self) -> u64 {
        let mut last = self.list_checkpoints().last().map_or(0, |(id, _)| *id);
        if let Ok(read) = fs::read_dir(self.dir.join("savepoints")) {
            for e in read.filter_map(|e| e.ok()) {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(id) = name
                    .strip_prefix("sp-")
                    .and_then(|r| r.split('-').next())
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    last = last.max(id);
                }
            }
        }
        last
    }

    /// Keeps the newest `keep` checkpoints and deletes the others.
    pub fn retain(&self, keep: usize) {
        let all = self.list_checkpoints();
        if all.len() > keep {
            for (_, path) in &all[..all.len() - keep] {
                let _ = fs::remove_dir_all(path);
            }
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BoxError> {
    let mut f =
        fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

/// A snapshot read back from its folder.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Its folder.
    pub path: PathBuf,
    /// What it holds.
    pub metadata: Metadata,
    states: BTreeMap<String, Vec<(usize, TaskState)>>,
}

impl Snapshot {
    /// Reads the snapshot in folder `path`.
    pub fn load(path: &Path) -> Result<Snapshot, BoxError> {
        let meta_path = path.join(METADATA);
        let text = fs::read(&meta_path)
            .map_err(|e| format!("{} is not a snapshot: {e}", path.display()))?;
        let metadata: Metadata =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", meta_path.display()))?;
        if metadata.format != FORMAT {
            return Err(format!(
                "{}: snapshot format {} is not supported (this build reads {FORMAT})",
                path.display(),
                metadata.format
            )
            .into());
        }
        let mut states: BTreeMap<String, Vec<(usize, TaskState)>> = BTreeMap::new();
        for task in &metadata.tasks {
            let state = match &task.file {
                None => TaskState::default(),
                Some(file) => {
                    let p = path.join(file);
                    let bytes =
                        fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                    if bytes.len() < 12 || &bytes[..8] != MAGIC {
                        return Err(format!("{} is not a state file", p.display()).into());
                    }
                    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
                    if version != FORMAT {
                        return Err(format!(
                            "{}: state format {version} is not supported",
                            p.display()
                        )
                        .into());
                    }
                    decode(&bytes[12..]).map_err(|e| format!("{}: {e}", p.display()))?
                }
            };
            states
                .entry(task.operator.clone())
                .or_default()
                .push((task.instance, state));
        }
        Ok(Snapshot {
            path: path.to_path_buf(),
            metadata,
            states,
        })
    }

    /// The state instance `instance` of `operator` starts from at `parallelism`.
    pub fn restored(&self, operator: &str, instance: usize, parallelism: usize) -> RestoredState {
        let mut restored = RestoredState::default();
        for (_, state) in self.states.get(operator).into_iter().flatten() {
            restored.key_groups.extend(
                state
                    .key_groups
                    .iter()
                    .filter(|(g, _)| owns_key_group(*g, instance, parallelism))
                    .cloned(),
            );
            restored.splits.extend(state.splits.iter().cloned());
        }
        restored
    }

    /// The splits of every instance of `operator`.
    pub fn splits(&self, operator: &str) -> Vec<(String, Vec<u8>)> {
        self.states
            .get(operator)
            .into_iter()
            .flatten()
            .flat_map(|(_, s)| s.splits.iter().cloned())
            .collect()
    }

    /// The operators that have state in the snapshot.
    pub fn operators(&self) -> impl Iterator<Item = &str> {
        self.states.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip_and_split_by_key_group() {
        let dir = std::env::temp_dir().join(format!("styx-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = Store::new(&dir);
        let state = TaskState {
            key_groups: (0..128u16).map(|g| (g, vec![g as u8])).collect(),
            splits: vec![("file".into(), vec![7])],
        };
        let path = store
            .write(
                3,
                BarrierKind::Checkpoint,
                vec![("win dow".into(), 0, 1, state)],
            )
            .unwrap();
        assert_eq!(store.latest_checkpoint(), Some(path.clone()));
        let snap = Snapshot::load(&path).unwrap();
        let a = snap.restored("win dow", 0, 2);
        let b = snap.restored("win dow", 1, 2);
        assert_eq!(a.key_groups.len() + b.key_groups.len(), 128);
        assert_eq!(a.splits, vec![("file".to_string(), vec![7])]);
        store.write(4, BarrierKind::Checkpoint, vec![]).unwrap();
        store.retain(1);
        assert_eq!(store.list_checkpoints().len(), 1);
        assert_eq!(store.last_id(), 4);
        let _ = fs::remove_dir_all(&dir);
    }
}
