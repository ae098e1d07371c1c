//! The state directory: where checkpoints and savepoints are written and read.
//!
//! ```text
//! STATE_DIR/owner                                          the incarnation that owns it
//! STATE_DIR/checkpoints/chk-00000042-3f9a1c0b7d2e/_metadata.json   what the snapshot holds
//! STATE_DIR/checkpoints/chk-00000042-3f9a1c0b7d2e/window.2.state  one file per instance
//! STATE_DIR/savepoints/sp-00000043-1700000000000/...
//! ```
//!
//! A snapshot is written into a temporary folder ([`Store::begin`]), each instance's state
//! file as the instance's state is encoded, and renamed into place once complete
//! ([`PendingSnapshot::write`]), so a folder with a `_metadata.json` is always whole. Each
//! state file starts with a magic string and a format version.
//!
//! # Incarnations
//!
//! Every [`Store`] value is one *incarnation*: one run of a job, named by a random token
//! ([`Store::incarnation`]). Its checkpoint folders carry the token in their names and
//! every snapshot's metadata records it, so two runs that share a state directory (a
//! restarted job and the earlier run it replaced, still alive as a zombie) never write
//! into the same folder, even when their checkpoint ids coincide, and a snapshot can be
//! found by id *and* incarnation ([`Store::find_snapshot`]). Folders of earlier versions
//! (`chk-00000042`, no incarnation) are still listed and restored.
//!
//! A run that [claims](Store::claim) the directory writes its token into `owner`. From
//! then on it writes and deletes snapshots only while `owner` still names it: once a newer
//! incarnation has claimed the directory, [`Store::begin`] and [`PendingSnapshot::write`]
//! fail with [`Fenced`] and [`Store::retain`] deletes nothing.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::checkpoint::state_file::{self, TaskGroups};
use crate::checkpoint::{BarrierKind, RestoredState, Splits, StateTarget, TaskState};
use crate::error::BoxError;

/// The format of snapshot folders written now: their state files are of format 2 (see
/// the state file module). Folders of format 1 are still read.
const FORMAT: u32 = 2;
const METADATA: &str = "_metadata.json";
const OWNER: &str = "owner";

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
    /// The incarnation (run of the job) that wrote it; absent in snapshots written by
    /// earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incarnation: Option<String>,
    /// The instances whose state it holds.
    pub tasks: Vec<TaskEntry>,
    /// What the job says of itself at the checkpoint (for example the versions of the
    /// models and rules it used), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, serde_json::Value>,
}

/// Gives the annotations of a snapshot when it is written (see [`Store::annotate`]).
pub type Annotator = Arc<dyn Fn() -> BTreeMap<String, serde_json::Value> + Send + Sync>;

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

/// The state directory of a job, as one incarnation of the job writes it (see the
/// [module documentation](self)). Clones are the same incarnation.
#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    incarnation: String,
    /// Whether this incarnation has claimed the directory (and so checks that it still
    /// owns it before writing or deleting).
    claimed: Arc<AtomicBool>,
    /// What every snapshot's metadata says of the job, shared by the clones.
    annotator: Arc<std::sync::Mutex<Option<Annotator>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("incarnation", &self.incarnation)
            .finish_non_exhaustive()
    }
}

/// A newer incarnation of the job has claimed the state directory: this one may no
/// longer write or delete snapshots in it, and should stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced {
    /// The state directory.
    pub dir: PathBuf,
    /// This incarnation.
    pub incarnation: String,
    /// The incarnation that owns the directory now.
    pub owner: String,
}

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fenced by a newer incarnation of the job: state_dir {} now belongs to \
             incarnation {}, not to this one ({}); this incarnation writes nothing more \
             there and stops",
            self.dir.display(),
            self.owner,
            self.incarnation
        )
    }
}

impl std::error::Error for Fenced {}

/// A token naming one incarnation: 12 hexadecimal digits, random.
fn new_incarnation() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// The id and incarnation in a checkpoint folder's name: `chk-00000042-3f9a1c0b7d2e`,
/// or `chk-00000042` (earlier versions, no incarnation).
fn parse_checkpoint_name(name: &str) -> Option<(u64, Option<&str>)> {
    let rest = name.strip_prefix("chk-")?;
    let (id, incarnation) = match rest.split_once('-') {
        Some((id, inc)) if !inc.is_empty() => (id, Some(inc)),
        Some(_) => return None,
        None => (rest, None),
    };
    Some((id.parse().ok()?, incarnation))
}

fn read_metadata(folder: &Path) -> Option<Metadata> {
    serde_json::from_slice(&fs::read(folder.join(METADATA)).ok()?).ok()
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
    /// The state directory `dir` (created when first written), for a new incarnation.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Store {
            dir: dir.into(),
            incarnation: new_incarnation(),
            claimed: Arc::new(AtomicBool::new(false)),
            annotator: Arc::default(),
        }
    }

    /// Has every snapshot written from now on carry what `annotator` gives as its
    /// metadata's `annotations`.
    pub fn annotate(&self, annotator: Annotator) {
        *self.annotator.lock().unwrap_or_else(|e| e.into_inner()) = Some(annotator);
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The token naming this incarnation.
    pub fn incarnation(&self) -> &str {
        &self.incarnation
    }

    /// Makes this incarnation the owner of the directory: an earlier incarnation that
    /// still runs is fenced from it (its next write fails with [`Fenced`]), and this one
    /// checks before each write or deletion that no newer one has claimed it since.
    pub fn claim(&self) -> Result<(), BoxError> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let tmp = self.dir.join(format!(".{OWNER}.{}.tmp", self.incarnation));
        write_synced(&tmp, format!("{}\n", self.incarnation).as_bytes())?;
        let owner = self.dir.join(OWNER);
        fs::rename(&tmp, &owner).map_err(|e| format!("cannot write {}: {e}", owner.display()))?;
        self.claimed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// The incarnation that has claimed the directory last, if any did.
    pub fn owner(&self) -> Option<String> {
        let text = fs::read_to_string(self.dir.join(OWNER)).ok()?;
        let owner = text.trim();
        (!owner.is_empty()).then(|| owner.to_string())
    }

    /// Fails with [`Fenced`] when this incarnation has claimed the directory and a newer
    /// one has claimed it since. (An incarnation that never claimed it checks nothing.)
    pub fn check_owner(&self) -> Result<(), Fenced> {
        if !self.claimed.load(Ordering::SeqCst) {
            return Ok(());
        }
        match self.owner() {
            Some(owner) if owner != self.incarnation => Err(Fenced {
                dir: self.dir.clone(),
                incarnation: self.incarnation.clone(),
                owner,
            }),
            _ => Ok(()),
        }
    }

    fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// Begins writing snapshot `id`: creates its temporary folder, into which every
    /// instance's state file is written as it is encoded ([`PendingSnapshot::target`]).
    /// Fails with [`Fenced`] (boxed) when a newer incarnation owns the directory.
    pub fn begin(&self, id: u64, kind: BarrierKind) -> Result<PendingSnapshot, BoxError> {
        self.check_owner()?;
        let parent = match kind {
            BarrierKind::Checkpoint => self.checkpoints(),
            _ => self.dir.join("savepoints"),
        };
        fs::create_dir_all(&parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        // Checkpoint folders name their incarnation already; a savepoint's name has the
        // time it completes.
        let tmp = match kind {
            BarrierKind::Checkpoint => {
                parent.join(format!(".chk-{id:08}-{}.tmp", self.incarnation))
            }
            _ => parent.join(format!(".sp-{id:08}-{}.tmp", self.incarnation)),
        };
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        Ok(PendingSnapshot {
            store: self.clone(),
            id,
            kind,
            parent,
            tmp,
            entries: Vec::new(),
            done: false,
        })
    }

    /// The completed checkpoints and savepoints with `id`, whatever their incarnation,
    /// with the incarnation each names.
    fn snapshots_with_id(&self, id: u64) -> Vec<(Option<String>, PathBuf)> {
        let mut found: Vec<(Option<String>, PathBuf)> = self
            .list_checkpoints_with_incarnation()
            .into_iter()
            .filter(|(i, _, _)| *i == id)
            .map(|(_, inc, path)| (inc, path))
            .collect();
        let prefix = format!("sp-{id:08}-");
        let savepoints = fs::read_dir(self.dir.join("savepoints"))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
            });
        for path in savepoints {
            if let Some(metadata) = read_metadata(&path) {
                found.push((metadata.incarnation, path));
            }
        }
        found
    }

    /// The folder of a completed checkpoint or savepoint with `id`, if one is here (of
    /// any incarnation; see [`Store::find_snapshot`] to name one).
    pub fn snapshot_path(&self, id: u64) -> Option<PathBuf> {
        self.snapshots_with_id(id).pop().map(|(_, p)| p)
    }

    /// The folder of the completed checkpoint or savepoint with `id` written by
    /// `incarnation` (`None`: by an earlier version, which named no incarnation), if it
    /// is here. A snapshot of another incarnation with the same id is never returned.
    pub fn find_snapshot(&self, id: u64, incarnation: Option<&str>) -> Option<PathBuf> {
        self.snapshots_with_id(id)
            .into_iter()
            .find(|(inc, _)| inc.as_deref() == incarnation)
            .map(|(_, p)| p)
    }

    /// The completed checkpoints with the incarnation each names, oldest first.
    fn list_checkpoints_with_incarnation(&self) -> Vec<(u64, Option<String>, PathBuf)> {
        let Ok(read) = fs::read_dir(self.checkpoints()) else {
            return Vec::new();
        };
        let mut all: Vec<(u64, Option<String>, PathBuf)> = read
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (id, inc) = parse_checkpoint_name(&name)?;
                let inc = inc.map(str::to_string);
                e.path()
                    .join(METADATA)
                    .is_file()
                    .then(|| (id, inc, e.path()))
            })
            .collect();
        all.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2)));
        all
    }

    /// The completed checkpoints, oldest first (by id; several incarnations' checkpoints
    /// may share one).
    pub fn list_checkpoints(&self) -> Vec<(u64, PathBuf)> {
        self.list_checkpoints_with_incarnation()
            .into_iter()
            .map(|(id, _, path)| (id, path))
            .collect()
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

    /// Deletes every checkpoint with an id above `id`, of any incarnation; deletes nothing
    /// once a newer incarnation owns the directory.
    ///
    /// A job resuming from a snapshot that is not the newest (the one its last committed
    /// Kafka transaction names) calls this: the newer checkpoints were written by
    /// incarnations killed before they committed them, so no resume can ever use them,
    /// and left in place they would count towards [`Store::retain`] and push out the
    /// snapshot the job depends on until it commits a newer one.
    pub fn discard_newer_than(&self, id: u64) {
        if let Err(fenced) = self.check_owner() {
            tracing::warn!("{fenced}");
            return;
        }
        for (newer, path) in self.list_checkpoints().into_iter().filter(|(n, _)| *n > id) {
            tracing::info!(id = newer, path = %path.display(), "discarding a checkpoint no commit names");
            let _ = fs::remove_dir_all(&path);
        }
    }

    /// Keeps the newest `keep` checkpoints and deletes the others; deletes nothing once a
    /// newer incarnation owns the directory.
    pub fn retain(&self, keep: usize) {
        if let Err(fenced) = self.check_owner() {
            tracing::warn!("{fenced}");
            return;
        }
        let all = self.list_checkpoints();
        if all.len() > keep {
            for (_, path) in &all[..all.len() - keep] {
                let _ = fs::remove_dir_all(path);
            }
        }
    }
}

/// A snapshot being written: its temporary folder receives the instances' state files;
/// [`PendingSnapshot::write`] completes it. Dropped before, it is deleted.
#[derive(Debug)]
pub struct PendingSnapshot {
    store: Store,
    id: u64,
    kind: BarrierKind,
    parent: PathBuf,
    tmp: PathBuf,
    entries: Vec<TaskEntry>,
    done: bool,
}

impl PendingSnapshot {
    /// Where instance `instance` of `operator` writes its state.
    pub fn target(&self, operator: &str, instance: usize) -> StateTarget {
        StateTarget::new(self.tmp.join(file_name(operator, instance)))
    }

    /// Completes the state file of instance `instance` of `operator` (of `parallelism`
    /// instances), written into `target`, with the instance's `state`; returns its size in
    /// bytes (0 for an instance without state, which has no file).
    pub fn add(
        &mut self,
        operator: String,
        instance: usize,
        parallelism: usize,
        target: StateTarget,
        state: TaskState,
    ) -> Result<u64, BoxError> {
        let file = target
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string);
        let size = target.finish(&state.splits)?;
        self.entries.push(TaskEntry {
            operator,
            instance,
            parallelism,
            file: size.and(file),
        });
        Ok(size.unwrap_or(0))
    }

    /// Writes the metadata and renames the folder into place; returns its folder. Fails
    /// with [`Fenced`] (boxed) when a newer incarnation has claimed the directory since,
    /// and never replaces an existing folder.
    pub fn write(mut self) -> Result<PathBuf, BoxError> {
        let store = self.store.clone();
        store.check_owner()?;
        let created_ms = crate::time::now_ms();
        let name = match self.kind {
            BarrierKind::Checkpoint => format!("chk-{:08}-{}", self.id, store.incarnation),
            _ => format!("sp-{:08}-{created_ms}", self.id),
        };
        let annotations = store
            .annotator
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|f| f())
            .unwrap_or_default();
        let metadata = Metadata {
            format: FORMAT,
            id: self.id,
            kind: self.kind,
            created_ms,
            incarnation: Some(store.incarnation.clone()),
            tasks: std::mem::take(&mut self.entries),
            annotations,
        };
        write_synced(
            &self.tmp.join(METADATA),
            &serde_json::to_vec_pretty(&metadata)?,
        )?;
        let dest = self.parent.join(&name);
        // Checked again at the last moment: a newer incarnation may have claimed the
        // directory while the files were written.
        store.check_owner()?;
        if dest.exists() {
            return Err(format!("cannot complete snapshot {}: it exists", dest.display()).into());
        }
        fs::rename(&self.tmp, &dest)
            .map_err(|e| format!("cannot complete snapshot {}: {e}", dest.display()))?;
        self.done = true;
        Ok(dest)
    }
}

impl Drop for PendingSnapshot {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.tmp);
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

/// A snapshot read back from its folder: its metadata and splits; the keyed state stays
/// in the files until an instance restores it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Its folder.
    pub path: PathBuf,
    /// What it holds.
    pub metadata: Metadata,
    states: BTreeMap<String, Vec<(usize, TaskGroups, Splits)>>,
}

impl Snapshot {
    /// Reads the snapshot in folder `path` (the metadata, and the splits and index of
    /// each state file).
    pub fn load(path: &Path) -> Result<Snapshot, BoxError> {
        let meta_path = path.join(METADATA);
        let text = fs::read(&meta_path)
            .map_err(|e| format!("{} is not a snapshot: {e}", path.display()))?;
        let metadata: Metadata =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", meta_path.display()))?;
        if !(1..=FORMAT).contains(&metadata.format) {
            return Err(format!(
                "{}: snapshot format {} is not supported (this build reads 1 to {FORMAT})",
                path.display(),
                metadata.format
            )
            .into());
        }
        let mut states: BTreeMap<String, Vec<(usize, TaskGroups, Splits)>> = BTreeMap::new();
        for task in &metadata.tasks {
            let (groups, splits) = match &task.file {
                None => (TaskGroups::None, Splits::new()),
                Some(file) => state_file::read(&path.join(file))?,
            };
            states
                .entry(task.operator.clone())
                .or_default()
                .push((task.instance, groups, splits));
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
        for (_, groups, splits) in self.states.get(operator).into_iter().flatten() {
            restored.key_groups.add_owned(groups, instance, parallelism);
            restored.splits.extend(splits.iter().cloned());
        }
        restored
    }

    /// The splits of every instance of `operator`.
    pub fn splits(&self, operator: &str) -> Vec<(String, Vec<u8>)> {
        self.states
            .get(operator)
            .into_iter()
            .flatten()
            .flat_map(|(_, _, splits)| splits.iter().cloned())
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
    use crate::checkpoint::{encode_by_key_group, KeyGroupWriter, StateTarget};

    /// One instance's state: operator, instance, parallelism, keyed entries, splits.
    type Task = (String, usize, usize, Vec<(u64, u64)>, Splits);

    /// Writes a snapshot as the coordinator does.
    fn write(
        store: &Store,
        id: u64,
        kind: BarrierKind,
        tasks: Vec<Task>,
    ) -> Result<PathBuf, BoxError> {
        let mut pending = store.begin(id, kind)?;
        for (operator, instance, parallelism, entries, splits) in tasks {
            let mut target = pending.target(&operator, instance);
            encode_by_key_group(&mut target, entries)?;
            pending.add(
                operator,
                instance,
                parallelism,
                target,
                TaskState { splits },
            )?;
        }
        pending.write()
    }

    /// The keyed entries of a restored state, sorted.
    fn entries(state: &RestoredState) -> Vec<(u64, u64)> {
        let mut all = Vec::new();
        state
            .key_groups
            .for_each(|k: u64, v: u64| {
                all.push((k, v));
                Ok(())
            })
            .unwrap();
        all.sort_unstable();
        all
    }

    #[test]
    fn snapshots_round_trip_and_split_by_key_group() {
        let dir = std::env::temp_dir().join(format!("styx-store-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let store = Store::new(&dir);
        let keyed: Vec<(u64, u64)> = (0..1000).map(|k| (k, k * 3)).collect();
        let task = (
            "win dow".to_string(),
            0,
            1,
            keyed.clone(),
            vec![("file".to_string(), vec![7])],
        );
        let path = write(&store, 3, BarrierKind::Checkpoint, vec![task]).unwrap();
        assert_eq!(store.latest_checkpoint(), Some(path.clone()));
        let snap = Snapshot::load(&path).unwrap();
        let a = snap.restored("win dow", 0, 2);
        let b = snap.restored("win dow", 1, 2);
        assert_eq!(
            a.key_groups.groups().len() + b.key_groups.groups().len(),
            128
        );
        let mut both = entries(&a);
        both.extend(entries(&b));
        both.sort_unstable();
        assert_eq!(both, keyed);
        assert_eq!(entries(&snap.restored("win dow", 0, 1)), keyed);
        assert_eq!(a.splits, vec![("file".to_string(), vec![7])]);
        write(&store, 4, BarrierKind::Checkpoint, vec![]).unwrap();
        store.retain(1);
        assert_eq!(store.list_checkpoints().len(), 1);
        assert_eq!(store.last_id(), 4);
        let _ = fs::remove_dir_all(&dir);
    }

    fn one_task(value: u64) -> Vec<Task> {
        vec![("op".into(), 0, 1, vec![(0, value)], Vec::new())]
    }

    #[test]
    fn incarnations_sharing_a_directory_never_share_a_folder() {
        let dir = tempfile_dir("incarnations");
        let (a, b) = (Store::new(&dir), Store::new(&dir));
        assert_ne!(a.incarnation(), b.incarnation());
        let from_a = write(&a, 7, BarrierKind::Checkpoint, one_task(1)).unwrap();
        let from_b = write(&b, 7, BarrierKind::Checkpoint, one_task(2)).unwrap();
        assert_ne!(from_a, from_b);
        assert_eq!(
            a.find_snapshot(7, Some(a.incarnation())),
            Some(from_a.clone())
        );
        assert_eq!(
            a.find_snapshot(7, Some(b.incarnation())),
            Some(from_b.clone())
        );
        assert_eq!(a.find_snapshot(7, None), None);
        assert_eq!(a.find_snapshot(7, Some("000000000000")), None);
        let restored = Snapshot::load(&from_b).unwrap();
        assert_eq!(
            restored.metadata.incarnation.as_deref(),
            Some(b.incarnation())
        );
        assert_eq!(entries(&restored.restored("op", 0, 1)), vec![(0, 2)]);
        // A savepoint is found by its metadata's incarnation.
        let sp = write(&b, 8, BarrierKind::Savepoint, one_task(3)).unwrap();
        assert_eq!(a.find_snapshot(8, Some(b.incarnation())), Some(sp));
        assert_eq!(a.find_snapshot(8, Some(a.incarnation())), None);
        assert_eq!(a.last_id(), 8);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn folders_of_earlier_versions_are_listed_and_found_without_incarnation() {
        let dir = tempfile_dir("legacy");
        let store = Store::new(&dir);
        let written = write(&store, 5, BarrierKind::Checkpoint, one_task(9)).unwrap();
        // A folder as earlier versions named it, with metadata naming no incarnation.
        let legacy = dir.join("checkpoints/chk-00000005");
        fs::rename(&written, &legacy).unwrap();
        let meta_path = legacy.join(METADATA);
        let mut meta: serde_json::Value =
            serde_json::from_slice(&fs::read(&meta_path).unwrap()).unwrap();
        meta.as_object_mut().unwrap().remove("incarnation");
        fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
        assert_eq!(store.list_checkpoints(), vec![(5, legacy.clone())]);
        assert_eq!(store.find_snapshot(5, None), Some(legacy.clone()));
        assert_eq!(store.snapshot_path(5), Some(legacy.clone()));
        assert_eq!(store.find_snapshot(5, Some(store.incarnation())), None);
        assert_eq!(Snapshot::load(&legacy).unwrap().metadata.incarnation, None);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_newer_claim_fences_the_earlier_incarnation() {
        let dir = tempfile_dir("fenced");
        let a = Store::new(&dir);
        a.claim().unwrap();
        let kept = write(&a, 1, BarrierKind::Checkpoint, one_task(1)).unwrap();
        let b = Store::new(&dir);
        b.claim().unwrap();
        assert_eq!(b.owner().as_deref(), Some(b.incarnation()));
        let err = write(&a, 2, BarrierKind::Checkpoint, one_task(2)).unwrap_err();
        let fenced = err.downcast_ref::<Fenced>().expect("fenced");
        assert_eq!(fenced.owner, b.incarnation());
        assert!(err.to_string().contains("fenced by a newer incarnation"));
        let from_b = write(&b, 2, BarrierKind::Checkpoint, one_task(3)).unwrap();
        // The fenced incarnation deletes nothing; the owner still does.
        a.retain(0);
        assert_eq!(b.list_checkpoints().len(), 2);
        assert!(kept.is_dir() && from_b.is_dir());
        b.retain(1);
        assert_eq!(b.list_checkpoints(), vec![(2, from_b)]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn checkpoints_newer_than_a_resumed_one_are_discarded_and_no_longer_count() {
        let dir = tempfile_dir("discard");
        // Incarnation a commits checkpoint 1 and dies after writing 2; b resumes from 1,
        // writes 3 and dies before committing it; c resumes from 1 again.
        let a = Store::new(&dir);
        a.claim().unwrap();
        let committed = write(&a, 1, BarrierKind::Checkpoint, one_task(1)).unwrap();
        write(&a, 2, BarrierKind::Checkpoint, one_task(2)).unwrap();
        let b = Store::new(&dir);
        b.claim().unwrap();
        b.discard_newer_than(1);
        write(&b, 3, BarrierKind::Checkpoint, one_task(3)).unwrap();
        b.retain(3);
        let c = Store::new(&dir);
        c.claim().unwrap();
        // The fenced b deletes nothing.
        b.discard_newer_than(0);
        assert_eq!(c.list_checkpoints().len(), 2);
        c.discard_newer_than(1);
        assert_eq!(c.list_checkpoints(), vec![(1, committed.clone())]);
        // c's own checkpoints up to the retained number leave the resumed one in place.
        write(&c, 4, BarrierKind::Checkpoint, one_task(4)).unwrap();
        c.retain(3);
        let from_c = write(&c, 5, BarrierKind::Checkpoint, one_task(5)).unwrap();
        c.retain(3);
        assert_eq!(c.find_snapshot(1, Some(a.incarnation())), Some(committed));
        assert_eq!(c.list_checkpoints().last(), Some(&(5, from_c)));
        let _ = fs::remove_dir_all(&dir);
    }

    /// Keyed entries of many keys with values of different sizes.
    fn many_entries(keys: u64) -> Vec<(u64, Vec<u64>)> {
        (0..keys).map(|k| (k, (0..k % 7).collect())).collect()
    }

    /// The entries each instance of `parallelism` restores, checked to be of its own key
    /// groups, all together and sorted.
    fn restored_by_all(
        snap: &Snapshot,
        operator: &str,
        parallelism: usize,
    ) -> Vec<(u64, Vec<u64>)> {
        let mut all = Vec::new();
        for instance in 0..parallelism {
            let state = snap.restored(operator, instance, parallelism);
            state
                .key_groups
                .for_each(|k: u64, v: Vec<u64>| {
                    let g = crate::exchange::key_group(crate::exchange::key_hash(&k)) as u16;
                    assert!(crate::checkpoint::owns_key_group(g, instance, parallelism));
                    all.push((k, v));
                    Ok(())
                })
                .unwrap();
        }
        all.sort_unstable();
        all
    }

    #[test]
    fn a_state_written_in_many_chunks_restores_at_any_parallelism() {
        let dir = tempfile_dir("chunks");
        let store = Store::new(&dir);
        let keyed = many_entries(20_000);
        let mut pending = store.begin(1, BarrierKind::Checkpoint).unwrap();
        let path = pending.tmp.join(file_name("op", 0));
        // A tiny bound: every group is written in many chunks.
        let mut target = StateTarget::with_spill_bytes(path, 4096);
        let mut writer = KeyGroupWriter::new(&mut target);
        for (k, v) in &keyed {
            writer.add(k, v).unwrap();
        }
        writer.finish().unwrap();
        let splits = vec![("split".to_string(), vec![1, 2])];
        let bytes = pending
            .add(
                "op".into(),
                0,
                1,
                target,
                TaskState {
                    splits: splits.clone(),
                },
            )
            .unwrap();
        assert!(bytes > 0);
        let folder = pending.write().unwrap();
        let snap = Snapshot::load(&folder).unwrap();
        let Some((_, TaskGroups::Chunks { chunks, .. }, _)) =
            snap.states.get("op").and_then(|s| s.first())
        else {
            panic!("no chunks");
        };
        // Every group in several chunks.
        assert!(chunks.len() > 128 * 10, "{} chunks", chunks.len());
        for parallelism in 1..=3 {
            assert_eq!(
                restored_by_all(&snap, "op", parallelism),
                keyed,
                "at {parallelism}"
            );
            assert_eq!(
                snap.restored("op", parallelism - 1, parallelism).splits,
                splits
            );
        }
        // A key's entries come in the order they were written.
        let mut pending = store.begin(2, BarrierKind::Checkpoint).unwrap();
        let mut target = StateTarget::with_spill_bytes(pending.tmp.join("op.0.state"), 64);
        let mut writer = KeyGroupWriter::new(&mut target);
        for i in 0..5000u64 {
            writer.add(&(i % 10), &i).unwrap();
        }
        writer.finish().unwrap();
        pending
            .add("op".into(), 0, 1, target, TaskState::default())
            .unwrap();
        let snap = Snapshot::load(&pending.write().unwrap()).unwrap();
        let mut last: std::collections::HashMap<u64, u64> = Default::default();
        snap.restored("op", 0, 1)
            .key_groups
            .for_each(|k: u64, i: u64| {
                assert!(last.insert(k, i).is_none_or(|before| before < i));
                Ok(())
            })
            .unwrap();
        assert_eq!(last.len(), 10);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_instance_without_state_has_no_file_and_a_pending_snapshot_is_deleted_when_dropped() {
        let dir = tempfile_dir("empty");
        let store = Store::new(&dir);
        let mut pending = store.begin(1, BarrierKind::Savepoint).unwrap();
        let target = pending.target("op", 0);
        assert_eq!(
            pending
                .add("op".into(), 0, 1, target, TaskState::default())
                .unwrap(),
            0
        );
        let tmp = pending.tmp.clone();
        assert!(tmp.is_dir());
        drop(pending);
        assert!(!tmp.exists());
        let path = write(
            &store,
            2,
            BarrierKind::Savepoint,
            vec![("op".into(), 0, 1, vec![], vec![])],
        )
        .unwrap();
        let snap = Snapshot::load(&path).unwrap();
        assert_eq!(snap.metadata.tasks[0].file, None);
        assert!(snap.restored("op", 0, 1).key_groups.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn snapshots_of_format_1_are_read() {
        let dir = tempfile_dir("format-1");
        let folder = dir.join("savepoints/sp-00000003-1700000000000");
        fs::create_dir_all(&folder).unwrap();
        let keyed = many_entries(3000);
        // As format 1 wrote them: each group one encoded list of entries.
        let mut by_group: BTreeMap<u16, Vec<(u64, Vec<u64>)>> = BTreeMap::new();
        for (k, v) in &keyed {
            let g = crate::exchange::key_group(crate::exchange::key_hash(k)) as u16;
            by_group.entry(g).or_default().push((*k, v.clone()));
        }
        let groups = by_group
            .into_iter()
            .map(|(g, entries)| (g, crate::checkpoint::encode(&entries).unwrap()))
            .collect();
        let splits = vec![("file".to_string(), vec![9])];
        state_file::write_v1(&folder.join("win_dow.0.state"), groups, splits.clone()).unwrap();
        let metadata = serde_json::json!({
            "format": 1,
            "id": 3,
            "kind": "Savepoint",
            "created_ms": 1_700_000_000_000i64,
            "tasks": [
                {"operator": "win dow", "instance": 0, "parallelism": 1, "file": "win_dow.0.state"},
                {"operator": "sink", "instance": 0, "parallelism": 1, "file": null}
            ]
        });
        fs::write(
            folder.join(METADATA),
            serde_json::to_vec(&metadata).unwrap(),
        )
        .unwrap();
        let snap = Snapshot::load(&folder).unwrap();
        assert_eq!(snap.metadata.format, 1);
        for parallelism in 1..=3 {
            assert_eq!(restored_by_all(&snap, "win dow", parallelism), keyed);
        }
        assert_eq!(snap.splits("win dow"), splits);
        assert!(snap.restored("sink", 0, 1).key_groups.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_incomplete_state_file_is_an_error() {
        let dir = tempfile_dir("incomplete");
        let store = Store::new(&dir);
        let task = ("op".to_string(), 0, 1, vec![(1, 2), (3, 4)], Vec::new());
        let path = write(&store, 1, BarrierKind::Checkpoint, vec![task]).unwrap();
        let file = path.join(file_name("op", 0));
        let bytes = fs::read(&file).unwrap();
        fs::write(&file, &bytes[..bytes.len() - 3]).unwrap();
        let err = Snapshot::load(&path).unwrap_err().to_string();
        assert!(err.contains("corrupt state file"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("styx-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }
}
