//! Sources: where records enter a dataflow.

use std::time::Duration;

use crate::emitter::{Emitter, BATCH_SIZE};
use crate::error::BoxError;

/// What a poll of a source found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// Records were added to the batch (possibly none, if the source wants to be asked
    /// again at once).
    Ready,
    /// Nothing is available now; the source may be asked again later.
    Idle,
    /// The source is exhausted; records added in this poll are the last.
    Finished,
}

/// One instance of a source.
pub trait Source<T>: Send {
    /// Adds up to `max` records to `out`. A source that can wait for input (a socket, a
    /// Kafka consumer) may block for a short while before answering [`Poll::Idle`].
    fn poll(&mut self, out: &mut Vec<T>, max: usize) -> Result<Poll, BoxError>;
}

/// A source over an iterator: for tests, generators and bounded in-memory inputs.
pub struct IterSource<I> {
    iter: I,
}

impl<I> IterSource<I> {
    /// Reads `iter` to its end.
    pub fn new(iter: I) -> Self {
        IterSource { iter }
    }
}

impl<T, I: Iterator<Item = T> + Send> Source<T> for IterSource<I> {
    fn poll(&mut self, out: &mut Vec<T>, max: usize) -> Result<Poll, BoxError> {
        for _ in 0..max {
            match self.iter.next() {
                Some(item) => out.push(item),
                None => return Ok(Poll::Finished),
            }
        }
        Ok(Poll::Ready)
    }
}

/// How long a source thread sleeps after a poll that found nothing, when the source
/// itself did not wait.
const IDLE_SLEEP: Duration = Duration::from_millis(5);

/// Runs a source instance to its end, sending its records into `out`.
pub fn run_source<T>(source: &mut dyn Source<T>, out: &mut dyn Emitter<T>) -> Result<(), BoxError> {
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    loop {
        let poll = source.poll(&mut batch, BATCH_SIZE)?;
        if !batch.is_empty() {
            out.emit(&mut batch);
        }
        match poll {
            Poll::Ready => {}
            Poll::Idle => {
                out.flush();
                std::thread::sleep(IDLE_SLEEP);
            }
            Poll::Finished => break,
        }
    }
    out.end();
    Ok(())
}
