//! Standard input and output.

use std::io::{stdin, stdout, BufReader, LineWriter};

use crate::decode::DeadLetters;
use crate::file::{LineSink, LineSource};

/// Reads NDJSON events from standard input.
pub fn stdin_source(time_field: Option<String>, dead: DeadLetters) -> LineSource {
    LineSource::new(
        "<stdin>".into(),
        Box::new(BufReader::new(stdin())),
        time_field,
        dead,
    )
}

/// Writes NDJSON events to standard output, a line at a time so that results show as
/// they are produced.
pub fn stdout_sink() -> LineSink {
    LineSink::new("<stdout>".into(), Box::new(LineWriter::new(stdout())))
}
