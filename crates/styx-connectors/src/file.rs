//! NDJSON files: a source that reads one JSON object per line, a sink that writes one.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde_json::{Map, Value};
use styx_runtime::error::BoxError;
use styx_runtime::event::Event;
use styx_runtime::sink::Sink;
use styx_runtime::source::{Poll, Source};

use crate::decode::{decode_event, DeadLetters};

/// Reads events from lines of text (a file or stdin), one JSON object per line. Blank
/// lines are skipped.
pub struct LineSource {
    name: String,
    reader: Box<dyn BufRead + Send>,
    line_number: u64,
    time_field: Option<String>,
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
        let file = File::open(path)
            .map_err(|e| format!("cannot open input file {}: {e}", path.display()))?;
        Ok(Self::new(
            path.display().to_string(),
            Box::new(BufReader::with_capacity(1 << 16, file)),
            time_field,
            dead,
        ))
    }

    /// Reads `reader`, named `name` in messages.
    pub fn new(
        name: String,
        reader: Box<dyn BufRead + Send>,
        time_field: Option<String>,
        dead: DeadLetters,
    ) -> Self {
        LineSource {
            name,
            reader,
            line_number: 0,
            time_field,
            dead,
            buffer: Vec::new(),
        }
    }
}

impl Source<Event> for LineSource {
    fn poll(&mut self, out: &mut Vec<Event>, max: usize) -> Result<Poll, BoxError> {
        while out.len() < max {
            self.buffer.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buffer)
                .map_err(|e| format!("{}: cannot read: {e}", self.name))?;
            if n == 0 {
                self.dead.end();
                return Ok(Poll::Finished);
            }
            self.line_number += 1;
            let line = trim(&self.buffer);
            if line.is_empty() {
                continue;
            }
            match decode_event(line, self.time_field.as_deref()) {
                Ok(event) => out.push(event),
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

/// Writes events as NDJSON to a file (replaced if it exists; parent folders are made) or
/// to any writer.
pub struct LineSink {
    name: String,
    writer: Box<dyn Write + Send>,
}

impl LineSink {
    /// Creates (or replaces) the file at `path`.
    pub fn create(path: &Path) -> Result<Self, BoxError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create folder {}: {e}", parent.display()))?;
        }
        let file = File::create(path)
            .map_err(|e| format!("cannot create output file {}: {e}", path.display()))?;
        Ok(Self::new(
            path.display().to_string(),
            Box::new(BufWriter::with_capacity(1 << 16, file)),
        ))
    }

    /// Writes to `writer`, named `name` in messages.
    pub fn new(name: String, writer: Box<dyn Write + Send>) -> Self {
        LineSink { name, writer }
    }
}

impl Sink<Event> for LineSink {
    fn write(&mut self, batch: &mut Vec<Event>) -> Result<(), BoxError> {
        for event in batch.drain(..) {
            serde_json::to_writer(&mut self.writer, &event)
                .and_then(|_| self.writer.write_all(b"\n").map_err(serde_json::Error::io))
                .map_err(|e| format!("{}: cannot write: {e}", self.name))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        self.writer
            .flush()
            .map_err(|e| format!("{}: cannot write: {e}", self.name).into())
    }
}
