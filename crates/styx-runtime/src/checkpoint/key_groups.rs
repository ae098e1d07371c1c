//! Keyed state by key group: written into a state file as it is encoded
//! ([`KeyGroupWriter`]), read back entry by entry as it is restored ([`KeyGroups`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::owns_key_group;
use crate::checkpoint::state_file::{read_chunk, Chunk, StateTarget, TaskGroups};
use crate::error::BoxError;
use crate::exchange::{key_group, key_hash};

/// Encodes keyed entries into their key groups as they come and writes them into a
/// [`StateTarget`]: each group's encodings are kept in a buffer of their own until all
/// the buffers together pass the target's bound, then every buffer is written out as a
/// chunk of its group. So a snapshot keeps a bounded part of its encoding in memory,
/// whatever the number of keys.
pub struct KeyGroupWriter<'a> {
    target: &'a mut StateTarget,
    /// Per key group: how many entries, and their encodings one after the other.
    groups: BTreeMap<u16, (u32, Vec<u8>)>,
    /// The bytes in the buffers.
    buffered: usize,
}

impl<'a> KeyGroupWriter<'a> {
    /// A writer with no entries, writing into `target`.
    pub fn new(target: &'a mut StateTarget) -> Self {
        KeyGroupWriter {
            target,
            groups: BTreeMap::new(),
            buffered: 0,
        }
    }

    /// Adds the entry of `key`.
    pub fn add<K, V>(&mut self, key: &K, value: &V) -> Result<(), BoxError>
    where
        K: std::hash::Hash + Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        let g = key_group(key_hash(key)) as u16;
        let (count, bytes) = self.groups.entry(g).or_default();
        let before = bytes.len();
        rmp_serde::encode::write(bytes, &(key, value)).map_err(|e| -> BoxError { e.into() })?;
        *count += 1;
        self.buffered += bytes.len() - before;
        if self.buffered >= self.target.spill_bytes() || *count == u32::MAX {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes every buffered group out as a chunk.
    fn spill(&mut self) -> Result<(), BoxError> {
        for (&g, (count, bytes)) in self.groups.iter_mut() {
            if *count > 0 {
                self.target.write_chunk(g, *count, bytes)?;
                *count = 0;
                bytes.clear();
            }
        }
        self.buffered = 0;
        Ok(())
    }

    /// Writes what is left.
    pub fn finish(mut self) -> Result<(), BoxError> {
        self.spill()
    }
}

/// Splits keyed entries into key groups and writes them into `target`.
pub fn encode_by_key_group<K, V, I>(target: &mut StateTarget, entries: I) -> Result<(), BoxError>
where
    K: std::hash::Hash + Serialize,
    V: Serialize,
    I: IntoIterator<Item = (K, V)>,
{
    let mut writer = KeyGroupWriter::new(target);
    for (k, v) in entries {
        writer.add(&k, &v)?;
    }
    writer.finish()
}

/// Where restored entries are read from.
#[derive(Debug, Clone)]
enum Source {
    /// Chunks of a state file.
    Chunks {
        file: Arc<PathBuf>,
        chunks: Vec<Chunk>,
    },
    /// A group encoded whole, as a list of entries.
    Encoded { group: u16, bytes: Arc<Vec<u8>> },
}

/// The keyed state an instance restores: the entries of the key groups it owns, read
/// from the snapshot's files only as [`KeyGroups::for_each`] decodes them, one chunk at a
/// time.
#[derive(Debug, Clone, Default)]
pub struct KeyGroups {
    sources: Vec<Source>,
}

impl KeyGroups {
    /// Key groups each given as the MessagePack encoding of a list of `(key, value)`
    /// entries (as state files of format 1 hold them).
    pub fn from_encoded(groups: Vec<(u16, Vec<u8>)>) -> Self {
        KeyGroups {
            sources: groups
                .into_iter()
                .map(|(group, bytes)| Source::Encoded {
                    group,
                    bytes: Arc::new(bytes),
                })
                .collect(),
        }
    }

    /// Adds the groups of `groups` that instance `instance` of `parallelism` owns.
    pub(crate) fn add_owned(&mut self, groups: &TaskGroups, instance: usize, parallelism: usize) {
        let owned = |g: u16| owns_key_group(g, instance, parallelism);
        match groups {
            TaskGroups::None => {}
            TaskGroups::Chunks { file, chunks } => {
                let chunks: Vec<Chunk> =
                    chunks.iter().filter(|c| owned(c.group)).copied().collect();
                if !chunks.is_empty() {
                    self.sources.push(Source::Chunks {
                        file: file.clone(),
                        chunks,
                    });
                }
            }
            TaskGroups::Encoded(encoded) => {
                self.sources
                    .extend(
                        encoded
                            .iter()
                            .filter(|(g, _)| owned(*g))
                            .map(|(group, bytes)| Source::Encoded {
                                group: *group,
                                bytes: bytes.clone(),
                            }),
                    );
            }
        }
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The key groups that have entries, in order.
    pub fn groups(&self) -> Vec<u16> {
        let mut groups: Vec<u16> = self
            .sources
            .iter()
            .flat_map(|s| match s {
                Source::Chunks { chunks, .. } => chunks.iter().map(|c| c.group).collect(),
                Source::Encoded { group, .. } => vec![*group],
            })
            .collect();
        groups.sort_unstable();
        groups.dedup();
        groups
    }

    /// Decodes every entry and hands it to `f` as it is decoded. A key's entries come in
    /// the order they were written.
    pub fn for_each<K, V>(
        &self,
        mut f: impl FnMut(K, V) -> Result<(), BoxError>,
    ) -> Result<(), BoxError>
    where
        K: DeserializeOwned,
        V: DeserializeOwned,
    {
        let mut buf = Vec::new();
        for source in &self.sources {
            match source {
                Source::Chunks { file, chunks } => {
                    let mut open = File::open(file.as_path())
                        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                    for chunk in chunks {
                        read_chunk(&mut open, file, chunk, &mut buf)?;
                        decode_entries(&buf, chunk.entries, &mut f)
                            .map_err(|e| format!("{}: {e}", file.display()))?;
                    }
                }
                Source::Encoded { bytes, .. } => {
                    let (count, start) = list_header(bytes)?;
                    decode_entries(&bytes[start..], count, &mut f)?;
                }
            }
        }
        Ok(())
    }
}

/// Decodes `count` entries encoded one after the other in `bytes`.
fn decode_entries<K, V>(
    bytes: &[u8],
    count: u32,
    f: &mut impl FnMut(K, V) -> Result<(), BoxError>,
) -> Result<(), BoxError>
where
    K: DeserializeOwned,
    V: DeserializeOwned,
{
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    for _ in 0..count {
        let (k, v) = <(K, V)>::deserialize(&mut de)
            .map_err(|e| -> BoxError { format!("corrupt state: {e}").into() })?;
        f(k, v)?;
    }
    Ok(())
}

/// The length of the MessagePack list `bytes` starts with, and where its elements start.
fn list_header(bytes: &[u8]) -> Result<(u32, usize), BoxError> {
    let be = |n: usize| -> Option<u32> {
        let b = bytes.get(1..1 + n)?;
        Some(b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)))
    };
    let header = match bytes.first() {
        Some(&m) if (0x90..=0x9f).contains(&m) => Some((u32::from(m & 0x0f), 1)),
        Some(0xdc) => be(2).map(|n| (n, 3)),
        Some(0xdd) => be(4).map(|n| (n, 5)),
        _ => None,
    };
    header.ok_or_else(|| "corrupt state: a key group is not a list".into())
}
