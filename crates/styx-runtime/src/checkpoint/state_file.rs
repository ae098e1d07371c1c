//! One instance's state file in a snapshot folder: written as the state is encoded, read
//! back a chunk at a time.
//!
//! Format 2 (written now):
//!
//! ```text
//! "STYXSNAP" | format: u32 LE = 2
//! chunk*   : key group: u16 LE | entries: u32 LE | length: u32 LE | the entries' encodings
//! splits   : MessagePack of [(split name, bytes)]
//! index    : MessagePack of [(key group, offset of the chunk's entries, entries, length)]
//! footer   : offset of splits: u64 LE | offset of index: u64 LE | "STYXEND2"
//! ```
//!
//! A key group may be in several chunks, in the order its entries were written; the index
//! lets a restoring instance read only the chunks of the groups it owns.
//!
//! Format 1 (read only): the header, then the MessagePack encoding of the whole state: a
//! list of (key group, encoded list of entries) and the splits.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::checkpoint::Splits;
use crate::error::BoxError;

const MAGIC: &[u8; 8] = b"STYXSNAP";
const END: &[u8; 8] = b"STYXEND2";
/// The format state files are written in.
pub(crate) const FORMAT: u32 = 2;
/// The first format, still read.
pub(crate) const FORMAT_1: u32 = 1;
const HEADER: u64 = 12;
const CHUNK_HEADER: u64 = 10;
const FOOTER: u64 = 24;

/// How many bytes of encoded entries a [`KeyGroupWriter`](crate::checkpoint::KeyGroupWriter)
/// keeps before it writes them out as chunks.
pub const SPILL_BYTES: usize = 8 << 20;

/// Where one chunk of a key group is in a state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Chunk {
    /// The key group.
    pub group: u16,
    /// The offset of its entries' encodings in the file.
    pub offset: u64,
    /// How many entries.
    pub entries: u32,
    /// The length of their encodings.
    pub len: u32,
}

/// Where the second step of an instance's snapshot writes its keyed state: the instance's
/// state file in the snapshot's temporary folder, written chunk by chunk as the state is
/// encoded (the file is created with the first chunk).
pub struct StateTarget {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    offset: u64,
    chunks: Vec<Chunk>,
    spill_bytes: usize,
}

impl std::fmt::Debug for StateTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateTarget")
            .field("path", &self.path)
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

fn io_error(path: &Path, e: &dyn std::fmt::Display) -> BoxError {
    format!("cannot write {}: {e}", path.display()).into()
}

impl StateTarget {
    /// A target writing the state file `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StateTarget::with_spill_bytes(path, SPILL_BYTES)
    }

    /// A target whose writers keep at most about `spill_bytes` of encoded entries before
    /// writing them out (tests use tiny bounds, so that groups span many chunks).
    pub fn with_spill_bytes(path: impl Into<PathBuf>, spill_bytes: usize) -> Self {
        StateTarget {
            path: path.into(),
            out: None,
            offset: HEADER,
            chunks: Vec::new(),
            spill_bytes: spill_bytes.max(1),
        }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many bytes of encoded entries a writer keeps before writing them out.
    pub fn spill_bytes(&self) -> usize {
        self.spill_bytes
    }

    fn out(&mut self) -> Result<&mut BufWriter<File>, BoxError> {
        if self.out.is_none() {
            let file = File::create(&self.path).map_err(|e| io_error(&self.path, &e))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            w.write_all(MAGIC)
                .and_then(|_| w.write_all(&FORMAT.to_le_bytes()))
                .map_err(|e| io_error(&self.path, &e))?;
            self.out = Some(w);
        }
        Ok(self.out.as_mut().expect("opened"))
    }

    /// Writes one chunk: `entries` entries of key group `group`, encoded one after the
    /// other in `bytes`.
    pub(crate) fn write_chunk(
        &mut self,
        group: u16,
        entries: u32,
        bytes: &[u8],
    ) -> Result<(), BoxError> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| format!("a chunk of key group {group} exceeds 4 GiB"))?;
        let path = self.path.clone();
        let out = self.out()?;
        let mut head = [0u8; CHUNK_HEADER as usize];
        head[..2].copy_from_slice(&group.to_le_bytes());
        head[2..6].copy_from_slice(&entries.to_le_bytes());
        head[6..].copy_from_slice(&len.to_le_bytes());
        out.write_all(&head)
            .and_then(|_| out.write_all(bytes))
            .map_err(|e| io_error(&path, &e))?;
        self.chunks.push(Chunk {
            group,
            offset: self.offset + CHUNK_HEADER,
            entries,
            len,
        });
        self.offset += CHUNK_HEADER + u64::from(len);
        Ok(())
    }

    /// Completes the file with the splits and the index, and makes it durable. `None`:
    /// there is no state at all, and no file.
    pub(crate) fn finish(mut self, splits: &Splits) -> Result<Option<u64>, BoxError> {
        if self.out.is_none() && splits.is_empty() {
            return Ok(None);
        }
        let path = self.path.clone();
        let fail = |e: &dyn std::fmt::Display| io_error(&path, e);
        let splits_bytes = crate::checkpoint::encode(splits)?;
        let index_bytes = crate::checkpoint::encode(&self.chunks)?;
        let splits_at = self.offset;
        let index_at = splits_at + splits_bytes.len() as u64;
        let out = self.out()?;
        out.write_all(&splits_bytes)
            .and_then(|_| out.write_all(&index_bytes))
            .and_then(|_| out.write_all(&splits_at.to_le_bytes()))
            .and_then(|_| out.write_all(&index_at.to_le_bytes()))
            .and_then(|_| out.write_all(END))
            .map_err(|e| fail(&e))?;
        let out = self.out.take().expect("opened");
        let file = out.into_inner().map_err(|e| fail(&e))?;
        file.sync_all().map_err(|e| fail(&e))?;
        Ok(Some(index_at + index_bytes.len() as u64 + FOOTER))
    }
}

/// The keyed state of a state file, as a restore reads it.
#[derive(Debug, Clone, Default)]
pub(crate) enum TaskGroups {
    /// No keyed state.
    #[default]
    None,
    /// Chunks of a file of format 2, read when restored.
    Chunks {
        /// The state file.
        file: Arc<PathBuf>,
        /// Its chunks, in the file's order.
        chunks: Vec<Chunk>,
    },
    /// Groups of a file of format 1, each an encoded list of entries, read with the file.
    Encoded(Vec<(u16, Arc<Vec<u8>>)>),
}

/// A state file of format 1.
#[derive(Serialize, Deserialize)]
struct TaskStateV1 {
    key_groups: Vec<(u16, Vec<u8>)>,
    splits: Splits,
}

/// Reads a state file's splits and where its key groups are (only these are read from a
/// file of format 2; a file of format 1 is read whole).
pub(crate) fn read(path: &Path) -> Result<(TaskGroups, Splits), BoxError> {
    let fail = |e: &dyn std::fmt::Display| -> BoxError {
        format!("cannot read {}: {e}", path.display()).into()
    };
    let mut file = File::open(path).map_err(|e| fail(&e))?;
    let mut head = [0u8; HEADER as usize];
    if file.read_exact(&mut head).is_err() || &head[..8] != MAGIC {
        return Err(format!("{} is not a state file", path.display()).into());
    }
    let version = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
    match version {
        FORMAT_1 => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map_err(|e| fail(&e))?;
            let state: TaskStateV1 = crate::checkpoint::decode(&bytes)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let groups = state
                .key_groups
                .into_iter()
                .map(|(g, bytes)| (g, Arc::new(bytes)))
                .collect();
            Ok((TaskGroups::Encoded(groups), state.splits))
        }
        FORMAT => read_v2(path, &mut file),
        _ => Err(format!(
            "{}: state format {version} is not supported",
            path.display()
        )
        .into()),
    }
}

fn read_v2(path: &Path, file: &mut File) -> Result<(TaskGroups, Splits), BoxError> {
    let corrupt = |what: &str| -> BoxError {
        format!("{}: corrupt state file: {what}", path.display()).into()
    };
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if size < HEADER + FOOTER {
        return Err(corrupt("too short"));
    }
    let read_at = |file: &mut File, at: u64, len: u64| -> Result<Vec<u8>, BoxError> {
        let mut buf = vec![0u8; len as usize];
        file.seek(SeekFrom::Start(at))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(buf)
    };
    let footer = read_at(file, size - FOOTER, FOOTER)?;
    if &footer[16..] != END {
        return Err(corrupt("no footer (the file is incomplete)"));
    }
    let splits_at = u64::from_le_bytes(footer[..8].try_into().expect("8 bytes"));
    let index_at = u64::from_le_bytes(footer[8..16].try_into().expect("8 bytes"));
    if !(HEADER <= splits_at && splits_at <= index_at && index_at <= size - FOOTER) {
        return Err(corrupt("bad footer"));
    }
    let splits: Splits =
        crate::checkpoint::decode(&read_at(file, splits_at, index_at - splits_at)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    let chunks: Vec<Chunk> =
        crate::checkpoint::decode(&read_at(file, index_at, size - FOOTER - index_at)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    if chunks
        .iter()
        .any(|c| c.offset < HEADER + CHUNK_HEADER || c.offset + u64::from(c.len) > splits_at)
    {
        return Err(corrupt("a chunk outside the file"));
    }
    let groups = if chunks.is_empty() {
        TaskGroups::None
    } else {
        TaskGroups::Chunks {
            file: Arc::new(path.to_path_buf()),
            chunks,
        }
    };
    Ok((groups, splits))
}

/// Reads the entries' encodings of `chunk` from `file` into `buf`.
pub(crate) fn read_chunk(
    file: &mut File,
    path: &Path,
    chunk: &Chunk,
    buf: &mut Vec<u8>,
) -> Result<(), BoxError> {
    buf.clear();
    buf.resize(chunk.len as usize, 0);
    file.seek(SeekFrom::Start(chunk.offset))
        .and_then(|_| file.read_exact(buf))
        .map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

/// Writes a state file of format 1, as earlier versions did (for tests of reading it).
#[cfg(test)]
pub(crate) fn write_v1(
    path: &Path,
    key_groups: Vec<(u16, Vec<u8>)>,
    splits: Splits,
) -> Result<(), BoxError> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&FORMAT_1.to_le_bytes());
    bytes.extend(crate::checkpoint::encode(&TaskStateV1 {
        key_groups,
        splits,
    })?);
    std::fs::write(path, bytes).map_err(|e| io_error(path, &e))
}
