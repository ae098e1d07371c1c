//! NDJSON files: a source that reads one JSON object per line, a sink that writes one.
//!
//! Both take part in checkpoints. The source saves how far it has read (bytes and lines)
//! and resumes there. The sink saves how many bytes it had written at the barrier; a job
//! resumed from that snapshot cuts the file back to that length and appends, so the file
//! holds every result once.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use serde_json::{Map, Value};
use styx_runtime::checkpoint::{decode, encode, Barrier, RestoredState, SnapshotFn, TaskState};
use styx_runtime::error::BoxError;
use styx_runtime::event::{Event, Input, Numbering};
use styx_runtime::sink::Sink;
use styx_runtime::source::{Poll, Source};

use crate::decode::{decode_event_fields, DeadLetters};

/// How long a poll of a pipe waits for its first line before it reports that nothing came.
const PIPE_WAIT: Duration = Duration::from_millis(50);

/// How many lines a pipe's reader thread reads ahead.
const PIPE_READ_AHEAD: usize = 4096;

/// Where a [`LineSource`] gets its lines.
enum Lines {
    /// A reader whose reads never wait long (a file): read on the source's thread.
    Reader(Box<dyn BufRead + Send>),
    /// A reader that may wait for input without end (a pipe, a terminal): read on a
    /// thread of its own, so that the source goes on answering checkpoints and stops
    /// while no line comes. The channel closes at the end of the input.
    Pipe(Receiver<std::io::Result<Vec<u8>>>),
}

impl Lines {
    /// Reads `reader` on a thread of its own.
    fn pipe(name: &str, mut reader: Box<dyn BufRead + Send>) -> Lines {
        let (tx, rx) = sync_channel(PIPE_READ_AHEAD);
        let spawned = std::thread::Builder::new()
            .name(format!("read {name}"))
            .spawn(move || loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) => return,
                    Ok(_) => {
                        if tx.send(Ok(line)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            let (tx, rx) = sync_channel(1);
            let _ = tx.send(Err(e));
            return Lines::Pipe(rx);
        }
        Lines::Pipe(rx)
    }
}

/// What reading a line found.
enum Line {
    /// A line (with its end of line) is in the buffer.
    Read,
    /// No line is available yet (pipes only).
    Pending,
    /// The input has ended.
    End,
}

/// Reads events from lines of text (a file or stdin), one JSON object per line. Blank
/// lines are skipped.
pub struct LineSource {
    name: String,
    path: Option<PathBuf>,
    lines: Lines,
    offset: u64,
    line_number: u64,
    /// The origin of its events (see [`styx_runtime::event::Origin`]).
    input: Input,
    time_field: Option<String>,
    /// The fields kept of each event (all when `None`).
    only: Option<Vec<String>>,
    dead: DeadLetters,
    buffer: Vec<u8>,
}

impl LineSource {
    /// Reads the file at `path`.
    pub fn open(
        path: &Path,
        time_field: Option<String>,
        dead: DeadLetters,
    ) -> Result<Self, BoxError> {
        let mut source = Self::with_lines(
            path.display().to_string(),
            Lines::Reader(Box::new(BufReader::new(open_input(path)?))),
            time_field,
            dead,
        );
        source.path = Some(path.to_path_buf());
        Ok(source)
    }

    /// Reads `reader`, named `name` in messages, on a thread of its own: a reader that
    /// may wait for input (standard input, a pipe) does not hold the job up.
    pub fn new(
        name: String,
        reader: Box<dyn BufRead + Send>,
        time_field: Option<String>,
        dead: DeadLetters,
    ) -> Self {
        let lines = Lines::pipe(&name, reader);
        Self::with_lines(name, lines, time_field, dead)
    }

    fn with_lines(
        name: String,
        lines: Lines,
        time_field: Option<String>,
        dead: DeadLetters,
    ) -> Self {
        LineSource {
            input: Input::named(&name, Numbering::Lines),
            name,
            path: None,
            lines,
            offset: 0,
            line_number: 0,
            time_field,
            only: None,
            dead,
            buffer: Vec::new(),
        }
    }

    /// Keeps only the fields named in `fields` of each event (see
    /// [`decode_event_fields`]): for jobs that read a few fields and pass no event on.
    pub fn reading_only(mut self, fields: Option<Vec<String>>) -> Self {
        self.only = fields;
        self
    }

    fn split(&self) -> String {
        format!("file:{}", self.name)
    }

    /// Reads the next line into the buffer; a pipe waits up to `wait` for it.
    fn next_line(&mut self, wait: Duration) -> Result<Line, BoxError> {
        self.buffer.clear();
        let cannot = |e: std::io::Error| format!("{}: cannot read: {e}", self.name);
        match &mut self.lines {
            Lines::Reader(reader) => match reader.read_until(b'\n', &mut self.buffer) {
                Ok(0) => Ok(Line::End),
                Ok(_) => Ok(Line::Read),
                Err(e) => Err(cannot(e).into()),
            },
            Lines::Pipe(rx) => {
                let got = if wait.is_zero() {
                    rx.try_recv().map_err(|e| match e {
                        TryRecvError::Empty => RecvTimeoutError::Timeout,
                        TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                    })
                } else {
                    rx.recv_timeout(wait)
                };
                match got {
                    Ok(Ok(line)) => {
                        self.buffer = line;
                        Ok(Line::Read)
                    }
                    Ok(Err(e)) => Err(cannot(e).into()),
                    Err(RecvTimeoutError::Timeout) => Ok(Line::Pending),
                    Err(RecvTimeoutError::Disconnected) => Ok(Line::End),
                }
            }
        }
    }
}

fn open_input(path: &Path) -> Result<File, BoxError> {
    File::open(path).map_err(|e| format!("cannot open input file {}: {e}", path.display()).into())
}

impl Source<Event> for LineSource {
    fn poll(&mut self, out: &mut Vec<Event>, max: usize) -> Result<Poll, BoxError> {
        let mut wait = PIPE_WAIT;
        while out.len() < max {
            match self.next_line(wait)? {
                Line::Read => wait = Duration::ZERO,
                Line::Pending if out.is_empty() => return Ok(Poll::Idle),
                Line::Pending => return Ok(Poll::Ready),
                Line::End => {
                    self.dead.end();
                    return Ok(Poll::Finished);
                }
            }
            self.offset += self.buffer.len() as u64;
            self.line_number += 1;
            let line = trim(&self.buffer);
            if line.is_empty() {
                continue;
            }
            match decode_event_fields(line, self.time_field.as_deref(), self.only.as_deref()) {
                Ok(mut event) => {
                    event.set_origin(self.input.at(0, self.line_number));
                    out.push(event)
                }
                Err(reason) => {
                    let mut origin = Map::new();
                    origin.insert("path".into(), Value::String(self.name.clone()));
                    origin.insert("line".into(), Value::from(self.line_number));
                    let (name, number) = (&self.name, self.line_number);
                    self.dead
                        .refuse(origin, reason, line, || format!("{name}:{number}"))?;
                }
            }
        }
        Ok(Poll::Ready)
    }

    fn snapshot(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        self.dead.barrier(barrier);
        let split = (self.split(), encode(&(self.offset, self.line_number))?);
        Ok(Box::new(move |_| {
            Ok(TaskState {
                splits: vec![split],
            })
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        let split = self.split();
        let Some((_, bytes)) = state.splits.iter().find(|(s, _)| *s == split) else {
            return Ok(());
        };
        let (offset, line_number): (u64, u64) = decode(bytes)?;
        self.line_number = line_number;
        let Some(path) = self.path.clone() else {
            // Standard input goes on with whatever the new process is given.
            return Ok(());
        };
        let mut file = open_input(&path)?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| format!("{}: cannot resume at byte {offset}: {e}", self.name))?;
        self.lines = Lines::Reader(Box::new(BufReader::new(file)));
        self.offset = offset;
        Ok(())
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let start = line[..end]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(end);
    &line[start..end]
}

/// Writes events as NDJSON to a file (replaced when the job starts afresh, cut back to
/// the snapshot's length when it resumes; parent folders are made) or to any writer.
pub struct LineSink {
    name: String,
    path: Option<PathBuf>,
    writer: Option<Box<dyn Write + Send>>,
    written: u64,
    /// The lines of the batch being written.
    lines: Vec<u8>,
}

impl LineSink {
    /// Writes the file at `path` (opened when the job starts).
    pub fn create(path: &Path) -> Result<Self, BoxError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create folder {}: {e}", parent.display()))?;
        }
        Ok(LineSink {
            name: path.display().to_string(),
            path: Some(path.to_path_buf()),
            writer: None,
            written: 0,
            lines: Vec::new(),
        })
    }

    /// Writes to `writer`, named `name` in messages.
    pub fn new(name: String, writer: Box<dyn Write + Send>) -> Self {
        LineSink {
            name,
            path: None,
            writer: Some(writer),
            written: 0,
            lines: Vec::new(),
        }
    }

    fn split(&self) -> String {
        format!("file:{}", self.name)
    }

    /// Opens the file: replaced, or kept up to `keep` bytes.
    fn open(&mut self, keep: Option<u64>) -> Result<(), BoxError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let err = |e: std::io::Error| format!("cannot write output file {}: {e}", path.display());
        let file = match keep {
            None => File::create(path).map_err(err)?,
            Some(len) => {
                let mut f = OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(path)
                    .map_err(err)?;
                f.set_len(len).map_err(err)?;
                f.seek(SeekFrom::End(0)).map_err(err)?;
                f
            }
        };
        self.written = keep.unwrap_or(0);
        self.writer = Some(Box::new(BufWriter::with_capacity(1 << 16, file)));
        Ok(())
    }

    fn writer(&mut self) -> Result<&mut Box<dyn Write + Send>, BoxError> {
        if self.writer.is_none() {
            self.open(None)?;
        }
        self.writer
            .as_mut()
            .ok_or_else(|| format!("{}: not open", self.name).into())
    }
}

impl Sink<Event> for LineSink {
    fn write(&mut self, batch: &mut Vec<Event>) -> Result<(), BoxError> {
        // The batch's lines are written at once.
        let mut lines = std::mem::take(&mut self.lines);
        lines.clear();
        for event in batch.drain(..) {
            event.write_json(&mut lines);
            lines.push(b'\n');
        }
        let name = self.name.clone();
        let written = self.writer().and_then(|writer| {
            writer
                .write_all(&lines)
                .map_err(|e| format!("{name}: cannot write: {e}").into())
        });
        if written.is_ok() {
            self.written += lines.len() as u64;
        }
        self.lines = lines;
        written
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        let name = self.name.clone();
        self.writer()?
            .flush()
            .map_err(|e| format!("{name}: cannot write: {e}").into())
    }

    fn snapshot(&mut self, _barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        self.flush()?;
        let splits = match self.path {
            Some(_) => vec![(self.split(), encode(&self.written)?)],
            None => Vec::new(),
        };
        Ok(Box::new(move |_| Ok(TaskState { splits })))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        let split = self.split();
        match state.splits.iter().find(|(s, _)| *s == split) {
            Some((_, bytes)) => self.open(Some(decode(bytes)?)),
            None => Ok(()),
        }
    }
}
