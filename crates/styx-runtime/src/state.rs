//! State backends: where operators keep their keyed state while a job runs.
//!
//! - [`StateBackend::Memory`] (the default) keeps every key's state in hash maps on the
//!   heap: the fastest, bounded by memory.
//! - [`StateBackend::Disk`] keeps it in an embedded log-structured merge tree (fjall) in a
//!   working directory, for state larger than memory, as Flink's RocksDB backend does.
//!   Keys and values are stored as MessagePack; the tree's own block cache keeps the hot
//!   part in memory. Timers and the bookkeeping of windows (which slices exist) stay on
//!   the heap.
//!
//! The backend is the working copy only: checkpoints and savepoints are written to the
//! state directory in the same format whichever backend took them, so a job can change
//! its backend between runs and restore either one. The disk backend's working directory
//! is emptied when the job starts, and a snapshot of the tree at a barrier costs no copy:
//! the tree keeps the state as it was at the barrier while the snapshot is encoded.
//!
//! Operators hold their state in [`Table`]s made by the backend. A table maps keys to
//! values; on disk each table is a range of one shared tree, told apart by a prefix.

use std::collections::hash_map::{Entry, OccupiedEntry};
use std::collections::HashMap;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::checkpoint::{StateKey, StateValue};
use crate::error::BoxError;

/// Where operators keep their keyed state. See the [module documentation](self).
#[derive(Clone, Default)]
pub enum StateBackend {
    /// Hash maps on the heap.
    #[default]
    Memory,
    /// An embedded log-structured merge tree in a working directory.
    Disk(Arc<DiskStore>),
}

impl std::fmt::Debug for StateBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateBackend::Memory => write!(f, "Memory"),
            StateBackend::Disk(store) => write!(f, "Disk({})", store.dir.display()),
        }
    }
}

impl StateBackend {
    /// A disk backend working in `dir`, which is emptied first (the state a job starts
    /// from comes from its checkpoints, never from an earlier run's working copy).
    pub fn disk(dir: impl AsRef<Path>) -> Result<Self, BoxError> {
        Ok(StateBackend::Disk(Arc::new(DiskStore::open(dir.as_ref())?)))
    }

    /// A new, empty table.
    pub fn table<K: StateKey, V: StateValue>(&self) -> Table<K, V> {
        match self {
            StateBackend::Memory => Table::Memory(HashMap::default()),
            StateBackend::Disk(store) => Table::Disk(DiskTable::new(store.clone())),
        }
    }
}

/// The working tree of the disk backend, shared by every table of a job.
pub struct DiskStore {
    dir: PathBuf,
    // Declared before the keyspace: dropped first.
    tree: fjall::PartitionHandle,
    /// Kept open for as long as the tree is used (its journal and background work).
    _keyspace: fjall::Keyspace,
    next_table: AtomicU64,
}

impl DiskStore {
    fn open(dir: &Path) -> Result<Self, BoxError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| -> BoxError {
            format!("state backend in {}: {what}: {e}", dir.display()).into()
        };
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| fail("cannot empty it", &e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| fail("cannot create it", &e))?;
        // The tree is a working copy: nothing needs to survive a crash, so the journal
        // is never synced. Its memory is bounded: a block cache of 8 MiB and at most
        // 16 MiB of memory tables (4 MiB each) waiting to be written out.
        let keyspace = fjall::Config::new(dir)
            .manual_journal_persist(true)
            .cache_size(8 << 20)
            .max_write_buffer_size(16 << 20)
            .open()
            .map_err(|e| fail("cannot open it", &e))?;
        let tree = keyspace
            .open_partition(
                "state",
                fjall::PartitionCreateOptions::default().max_memtable_size(4 << 20),
            )
            .map_err(|e| fail("cannot open its tree", &e))?;
        Ok(DiskStore {
            dir: dir.to_path_buf(),
            tree,
            _keyspace: keyspace,
            next_table: AtomicU64::new(0),
        })
    }
}

/// Sets `buf` to a table's tree key for `key`: the first `prefix` bytes (the table's
/// prefix, already there) and the encoded key.
fn set_tree_key<K: StateKey>(buf: &mut Vec<u8>, prefix: usize, key: &K) -> Result<(), BoxError> {
    buf.truncate(prefix);
    rmp_serde::encode::write(buf, key).map_err(disk_error)
}

fn disk_error(e: impl std::fmt::Display) -> BoxError {
    format!("state backend: {e}").into()
}

/// Keyed state of an operator: a map from keys to values, in memory or on disk.
///
/// Every method that can touch the disk returns a `Result`; in memory they cannot fail.
pub enum Table<K, V> {
    /// A hash map on the heap.
    Memory(HashMap<K, V, ahash::RandomState>),
    /// A range of the disk backend's tree.
    Disk(DiskTable<K, V>),
}

impl<K: StateKey, V: StateValue> Table<K, V> {
    /// How many keys have a value.
    pub fn len(&self) -> usize {
        match self {
            Table::Memory(map) => map.len(),
            Table::Disk(t) => t.len,
        }
    }

    /// Whether no key has a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies `f` to the value of `key`, made by `create` first if it has none.
    #[inline]
    pub fn upsert<R>(
        &mut self,
        key: K,
        create: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> Result<R, BoxError> {
        match self {
            Table::Memory(map) => Ok(f(map.entry(key).or_insert_with(create))),
            Table::Disk(t) => t.upsert(key, create, f),
        }
    }

    /// The value of `key` to change in place (made by `create` if it has none); the
    /// change is kept by [`Slot::keep`], or the key is removed by [`Slot::remove`].
    pub fn slot(
        &mut self,
        key: &K,
        create: impl FnOnce() -> V,
    ) -> Result<Slot<'_, K, V>, BoxError> {
        match self {
            Table::Memory(map) => Ok(Slot::Memory(match map.entry(key.clone()) {
                Entry::Occupied(e) => e,
                Entry::Vacant(e) => e.insert_entry(create()),
            })),
            Table::Disk(t) => {
                let value = match t.take(key)? {
                    Some(v) => v,
                    None => {
                        t.len += 1;
                        create()
                    }
                };
                Ok(Slot::Disk(DiskSlot {
                    table: t,
                    key: key.clone(),
                    value: Some(value),
                }))
            }
        }
    }

    /// The value of `key` to change in place, if it has one (see [`Table::slot`]).
    pub fn existing(&mut self, key: K) -> Result<Option<Slot<'_, K, V>>, BoxError> {
        match self {
            Table::Memory(map) => Ok(match map.entry(key) {
                Entry::Occupied(e) => Some(Slot::Memory(e)),
                Entry::Vacant(_) => None,
            }),
            Table::Disk(t) => Ok(t.take(&key)?.map(|value| {
                Slot::Disk(DiskSlot {
                    table: t,
                    key,
                    value: Some(value),
                })
            })),
        }
    }

    /// Calls `f` with the value of `key`, if it has one.
    pub fn get_with<R>(&self, key: &K, f: impl FnOnce(&V) -> R) -> Result<Option<R>, BoxError> {
        match self {
            Table::Memory(map) => Ok(map.get(key).map(f)),
            Table::Disk(t) => {
                if let Some(c) = t.cache.get(key) {
                    return Ok(Some(f(&c.value)));
                }
                let mut bytes = t.prefix.clone();
                set_tree_key(&mut bytes, t.prefix.len(), key)?;
                Ok(t.read_at(&bytes)?.map(|v| f(&v)))
            }
        }
    }

    /// Sets the value of `key`.
    pub fn insert(&mut self, key: K, value: V) -> Result<(), BoxError> {
        match self {
            Table::Memory(map) => {
                map.insert(key, value);
                Ok(())
            }
            Table::Disk(t) => {
                if t.take(&key)?.is_none() {
                    t.len += 1;
                }
                t.put(key, value)
            }
        }
    }

    /// Removes the value of `key` and returns it.
    pub fn remove(&mut self, key: &K) -> Result<Option<V>, BoxError> {
        match self {
            Table::Memory(map) => Ok(map.remove(key)),
            Table::Disk(t) => {
                let value = t.take(key)?;
                if value.is_some() {
                    t.delete(key)?;
                }
                Ok(value)
            }
        }
    }

    /// Calls `f` with every key and value, in no particular order.
    pub fn for_each(&self, mut f: impl FnMut(&K, &V)) -> Result<(), BoxError> {
        match self {
            Table::Memory(map) => {
                for (k, v) in map {
                    f(k, v);
                }
                Ok(())
            }
            Table::Disk(t) => {
                for (k, c) in &t.cache {
                    f(k, &c.value);
                }
                for kv in t.store.tree.prefix(&t.prefix) {
                    let (k, v) = kv.map_err(disk_error)?;
                    let k: K = decode_key(t.prefix.len(), &k)?;
                    if !t.cache.contains_key(&k) {
                        f(&k, &decode_value(&v)?);
                    }
                }
                Ok(())
            }
        }
    }

    /// Every key and value, copied, in no particular order.
    pub fn entries(&self) -> Result<Vec<(K, V)>, BoxError> {
        let mut all = Vec::with_capacity(self.len());
        self.for_each(|k, v| all.push((k.clone(), v.clone())))?;
        Ok(all)
    }

    /// Removes every key.
    pub fn clear(&mut self) -> Result<(), BoxError> {
        match self {
            Table::Memory(map) => {
                map.clear();
                Ok(())
            }
            Table::Disk(t) => t.clear(),
        }
    }

    /// The table as it is now, to read later (at a checkpoint barrier). In memory the
    /// entries are copied now, side by side; on disk only the entries changed in the
    /// table's cache since they were last written are copied, and the tree keeps its
    /// version of the rest until the snapshot is dropped.
    pub fn snapshot(&self) -> TableSnapshot<K, V> {
        match self {
            Table::Memory(map) => {
                let mut entries = Vec::with_capacity(map.len());
                entries.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
                TableSnapshot::Memory(entries)
            }
            Table::Disk(t) => TableSnapshot::Disk {
                snapshot: t.store.tree.snapshot(),
                prefix: t.prefix.clone(),
                len: t.len,
                changed: t
                    .cache
                    .iter()
                    .filter(|(_, c)| c.dirty)
                    .map(|(k, c)| (k.clone(), c.value.clone()))
                    .collect(),
            },
        }
    }
}

/// A value of a [`Table`] being changed in place.
pub enum Slot<'a, K: StateKey, V: StateValue> {
    /// In memory: the map's own entry.
    Memory(OccupiedEntry<'a, K, V>),
    /// On disk: the value taken out of the table, put back by [`Slot::keep`] (or when
    /// the slot is dropped).
    Disk(DiskSlot<'a, K, V>),
}

/// A value taken out of a disk table to be changed. Dropped without [`Slot::keep`] or
/// [`Slot::remove`], it goes back to the table's cache as it is.
pub struct DiskSlot<'a, K: StateKey, V: StateValue> {
    table: &'a mut DiskTable<K, V>,
    key: K,
    /// `None` once kept or removed.
    value: Option<V>,
}

impl<K: StateKey, V: StateValue> Drop for DiskSlot<'_, K, V> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            // Back where it was taken from: the cache (which may go over its size until
            // the next entry comes in).
            self.table
                .cache
                .insert(self.key.clone(), Cached { value, dirty: true });
        }
    }
}

impl<K: StateKey, V: StateValue> Slot<'_, K, V> {
    /// The key.
    pub fn key(&self) -> &K {
        match self {
            Slot::Memory(entry) => entry.key(),
            Slot::Disk(d) => &d.key,
        }
    }

    /// The value, to read.
    pub fn get(&self) -> &V {
        match self {
            Slot::Memory(entry) => entry.get(),
            Slot::Disk(d) => d.value.as_ref().expect("a slot holds its value"),
        }
    }

    /// The value.
    #[inline]
    pub fn value(&mut self) -> &mut V {
        match self {
            Slot::Memory(entry) => entry.get_mut(),
            Slot::Disk(d) => d.value.as_mut().expect("a slot holds its value"),
        }
    }

    /// Keeps the value as changed.
    pub fn keep(self) -> Result<(), BoxError> {
        match self {
            Slot::Memory(_) => Ok(()),
            Slot::Disk(mut d) => match d.value.take() {
                Some(value) => {
                    let key = d.key.clone();
                    d.table.put(key, value)
                }
                None => Ok(()),
            },
        }
    }

    /// Removes the key.
    pub fn remove(self) -> Result<(), BoxError> {
        match self {
            Slot::Memory(entry) => {
                entry.remove();
                Ok(())
            }
            Slot::Disk(mut d) => {
                d.value = None;
                let key = d.key.clone();
                d.table.delete(&key)
            }
        }
    }
}

/// How many entries a disk table keeps decoded in memory. Changes to them are written to
/// the tree when the cache is full (all at once), so a key updated by many records in a
/// row costs one write.
const CACHE_ENTRIES: usize = 1 << 14;

/// How many keys a disk table removes per pass when it is cleared.
const CLEAR_CHUNK: usize = 4096;

/// The first key after every key that starts with `prefix` (the table prefixes are ids
/// below `u64::MAX`, so one of their bytes can always be raised).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return end;
        }
    }
    vec![u8::MAX; prefix.len() + 1]
}

/// A value in a disk table's cache.
struct Cached<V> {
    value: V,
    /// Whether it differs from the tree's.
    dirty: bool,
}

/// A table in the disk backend's tree: its entries are the tree's keys starting with the
/// table's prefix (eight bytes, unique in the job), followed by the encoded key, in front
/// of a cache of recently used entries.
pub struct DiskTable<K, V> {
    store: Arc<DiskStore>,
    prefix: Vec<u8>,
    /// The tree key worked on: the prefix and an encoded key.
    key: Vec<u8>,
    value: Vec<u8>,
    len: usize,
    cache: HashMap<K, Cached<V>, ahash::RandomState>,
}

impl<K: StateKey, V: StateValue> DiskTable<K, V> {
    fn new(store: Arc<DiskStore>) -> Self {
        let id = store.next_table.fetch_add(1, Ordering::Relaxed);
        let prefix = id.to_be_bytes().to_vec();
        DiskTable {
            store,
            key: prefix.clone(),
            prefix,
            value: Vec::new(),
            len: 0,
            cache: HashMap::default(),
        }
    }

    fn upsert<R>(
        &mut self,
        key: K,
        create: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> Result<R, BoxError> {
        if let Some(c) = self.cache.get_mut(&key) {
            c.dirty = true;
            return Ok(f(&mut c.value));
        }
        let mut value = match self.load(&key)? {
            Some(v) => v,
            None => {
                self.len += 1;
                create()
            }
        };
        let r = f(&mut value);
        self.put(key, value)?;
        Ok(r)
    }

    /// The value of `key`, taken out of the cache or read from the tree.
    fn take(&mut self, key: &K) -> Result<Option<V>, BoxError> {
        match self.cache.remove(key) {
            Some(c) => Ok(Some(c.value)),
            None => self.load(key),
        }
    }

    /// Reads the value of `key` from the tree.
    fn load(&mut self, key: &K) -> Result<Option<V>, BoxError> {
        set_tree_key(&mut self.key, self.prefix.len(), key)?;
        self.read_at(&self.key)
    }

    fn read_at(&self, key: &[u8]) -> Result<Option<V>, BoxError> {
        match self.store.tree.get(key).map_err(disk_error)? {
            Some(bytes) => Ok(Some(decode_value(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Keeps `value` as the value of `key` (not in the cache now), in the cache.
    fn put(&mut self, key: K, value: V) -> Result<(), BoxError> {
        if self.cache.len() >= CACHE_ENTRIES {
            self.write_back()?;
            self.cache.clear();
        }
        self.cache.insert(key, Cached { value, dirty: true });
        Ok(())
    }

    /// Writes the cache's changed entries to the tree.
    fn write_back(&mut self) -> Result<(), BoxError> {
        for (k, c) in self.cache.iter_mut().filter(|(_, c)| c.dirty) {
            set_tree_key(&mut self.key, self.prefix.len(), k)?;
            self.value.clear();
            rmp_serde::encode::write(&mut self.value, &c.value).map_err(disk_error)?;
            self.store
                .tree
                .insert(self.key.as_slice(), self.value.as_slice())
                .map_err(disk_error)?;
            c.dirty = false;
        }
        Ok(())
    }

    /// Removes `key` (not in the cache now) from the tree.
    fn delete(&mut self, key: &K) -> Result<(), BoxError> {
        self.len = self.len.saturating_sub(1);
        set_tree_key(&mut self.key, self.prefix.len(), key)?;
        self.store
            .tree
            .remove(self.key.as_slice())
            .map_err(disk_error)
    }

    fn clear(&mut self) -> Result<(), BoxError> {
        self.cache.clear();
        // In chunks: an open iterator keeps the tree's memory tables alive, and with them
        // every removal written while it is open.
        let mut from = self.prefix.clone();
        let end = prefix_end(&self.prefix);
        loop {
            let keys: Vec<fjall::Slice> = self
                .store
                .tree
                .range(from.clone()..end.clone())
                .take(CLEAR_CHUNK)
                .map(|kv| kv.map(|(k, _)| k))
                .collect::<Result<_, _>>()
                .map_err(disk_error)?;
            let Some(last) = keys.last() else {
                break;
            };
            // The next chunk starts just after the last key.
            from = last.to_vec();
            from.push(0);
            let done = keys.len() < CLEAR_CHUNK;
            for key in keys {
                self.store.tree.remove(key).map_err(disk_error)?;
            }
            if done {
                break;
            }
        }
        self.len = 0;
        Ok(())
    }
}

fn decode_key<K: StateKey>(prefix: usize, key: &[u8]) -> Result<K, BoxError> {
    rmp_serde::from_slice(&key[prefix..]).map_err(disk_error)
}

fn decode_value<V: StateValue>(value: &[u8]) -> Result<V, BoxError> {
    rmp_serde::from_slice(value).map_err(disk_error)
}

/// A [`Table`] as it was at a barrier, read by the snapshot's second step.
pub enum TableSnapshot<K, V> {
    /// The entries, copied.
    Memory(Vec<(K, V)>),
    /// A version of the disk backend's tree, and the entries that differed from it.
    Disk {
        /// The tree at the barrier.
        snapshot: fjall::Snapshot,
        /// The table's prefix.
        prefix: Vec<u8>,
        /// How many keys the table had.
        len: usize,
        /// The entries of the table's cache that were newer than the tree's.
        changed: Vec<(K, V)>,
    },
}

impl<K: StateKey, V: StateValue> TableSnapshot<K, V> {
    /// How many keys the table had.
    pub fn len(&self) -> usize {
        match self {
            TableSnapshot::Memory(entries) => entries.len(),
            TableSnapshot::Disk { len, .. } => *len,
        }
    }

    /// Whether the table was empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with every entry.
    pub fn for_each(self, mut f: impl FnMut(K, V)) -> Result<(), BoxError> {
        self.try_for_each(|k, v| {
            f(k, v);
            Ok(())
        })
    }

    /// Calls `f` with every entry, until it fails.
    pub fn try_for_each(
        self,
        mut f: impl FnMut(K, V) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        match self {
            TableSnapshot::Memory(entries) => entries.into_iter().try_for_each(|(k, v)| f(k, v)),
            TableSnapshot::Disk {
                snapshot,
                prefix,
                changed,
                ..
            } => {
                let mut changed: HashMap<K, V, ahash::RandomState> = changed.into_iter().collect();
                for kv in snapshot.prefix(&prefix) {
                    let (k, v) = kv.map_err(disk_error)?;
                    let k: K = decode_key(prefix.len(), &k)?;
                    match changed.remove(&k) {
                        Some(newer) => f(k, newer)?,
                        None => f(k, decode_value(&v)?)?,
                    }
                }
                changed.into_iter().try_for_each(|(k, v)| f(k, v))
            }
        }
    }

    /// Every entry.
    pub fn into_entries(self) -> Result<Vec<(K, V)>, BoxError> {
        match self {
            TableSnapshot::Memory(entries) => Ok(entries),
            disk => {
                let mut entries = Vec::with_capacity(disk.len());
                disk.for_each(|k, v| entries.push((k, v)))?;
                Ok(entries)
            }
        }
    }
}

impl<K: Hash + Eq, V> Default for Table<K, V> {
    fn default() -> Self {
        Table::Memory(HashMap::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends() -> (tempfile::TempDir, Vec<StateBackend>) {
        let dir = tempfile::tempdir().unwrap();
        let disk = StateBackend::disk(dir.path().join("lsm")).unwrap();
        (dir, vec![StateBackend::Memory, disk])
    }

    #[test]
    fn tables_keep_values_by_key_in_both_backends() {
        let (_dir, backends) = backends();
        for backend in backends {
            let mut t: Table<String, u64> = backend.table();
            let mut other: Table<String, u64> = backend.table();
            for i in 0..100u64 {
                t.upsert(format!("k{}", i % 10), || 0, |v| *v += i).unwrap();
            }
            other.insert("k1".into(), 7).unwrap();
            assert_eq!(t.len(), 10, "{backend:?}");
            assert_eq!(other.len(), 1);
            let expected: u64 = (0..100).filter(|i| i % 10 == 3).sum();
            assert_eq!(t.get_with(&"k3".into(), |v| *v).unwrap(), Some(expected));
            let snap = t.snapshot();
            assert_eq!(t.remove(&"k3".into()).unwrap(), Some(expected));
            assert_eq!(t.remove(&"k3".into()).unwrap(), None);
            let mut slot = t.slot(&"k4".into(), || 0).unwrap();
            *slot.value() += 1000;
            slot.keep().unwrap();
            t.slot(&"k5".into(), || 0).unwrap().remove().unwrap();
            assert_eq!(t.len(), 8);
            let mut now = Vec::new();
            t.for_each(|k, v| now.push((k.clone(), *v))).unwrap();
            now.sort();
            assert_eq!(now.len(), 8);
            assert!(now.contains(&(
                "k4".into(),
                (0..100).filter(|i| i % 10 == 4).sum::<u64>() + 1000
            )));
            // The snapshot still shows the table before the changes.
            let mut then = snap.into_entries().unwrap();
            then.sort();
            assert_eq!(then.len(), 10);
            assert!(then.contains(&("k3".into(), expected)));
            t.clear().unwrap();
            assert!(t.is_empty());
            let mut left = 0;
            t.for_each(|_, _| left += 1).unwrap();
            assert_eq!(left, 0);
            assert_eq!(other.get_with(&"k1".into(), |v| *v).unwrap(), Some(7));
        }
    }

    #[test]
    fn disk_tables_larger_than_their_cache_keep_every_value() {
        let dir = tempfile::tempdir().unwrap();
        let backend = StateBackend::disk(dir.path()).unwrap();
        let mut t: Table<u64, u64> = backend.table();
        let n = 3 * CACHE_ENTRIES as u64 + 17;
        for round in 0..3u64 {
            for k in 0..n {
                t.upsert(k, || 0, |v| *v += k + round).unwrap();
            }
        }
        assert_eq!(t.len(), n as usize);
        let before = t.snapshot();
        // A slot dropped without keep or remove leaves the value as it was.
        drop(t.existing(5).unwrap().unwrap());
        assert_eq!(t.get_with(&5, |v| *v).unwrap(), Some(3 * 5 + 3));
        for k in (0..n).step_by(3) {
            assert_eq!(t.remove(&k).unwrap(), Some(3 * k + 3));
        }
        t.upsert(n + 1, || 1, |_| ()).unwrap();
        let mut now = t.entries().unwrap();
        now.sort_unstable();
        let expected: Vec<(u64, u64)> = (0..n)
            .filter(|k| k % 3 != 0)
            .map(|k| (k, 3 * k + 3))
            .chain([(n + 1, 1)])
            .collect();
        assert_eq!(now, expected);
        assert_eq!(t.len(), expected.len());
        let mut then = before.into_entries().unwrap();
        then.sort_unstable();
        assert_eq!(then, (0..n).map(|k| (k, 3 * k + 3)).collect::<Vec<_>>());
        // Clearing (in several chunks) leaves the other tables alone.
        let mut other: Table<u64, u64> = backend.table();
        other.insert(1, 1).unwrap();
        t.clear().unwrap();
        assert!(t.is_empty());
        assert!(t.entries().unwrap().is_empty());
        assert_eq!(other.entries().unwrap(), vec![(1, 1)]);
    }

    #[test]
    fn the_disk_backend_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        {
            let backend = StateBackend::disk(dir.path()).unwrap();
            let mut t: Table<u64, u64> = backend.table();
            t.insert(1, 1).unwrap();
        }
        let backend = StateBackend::disk(dir.path()).unwrap();
        let t: Table<u64, u64> = backend.table();
        let mut n = 0;
        t.for_each(|_, _| n += 1).unwrap();
        assert_eq!(n, 0);
    }
}
