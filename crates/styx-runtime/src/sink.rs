//! Sinks: where records leave a dataflow.

use std::sync::{Arc, Mutex};

use crate::checkpoint::{no_state, Barrier, CompletedCheckpoint, RestoredState, SnapshotFn};
use crate::error::BoxError;
use crate::operator::Operator;
use crate::time::Timestamp;

/// One instance of a sink.
pub trait Sink<T>: Send {
    /// Writes a batch of records, taking them out of `batch`.
    fn write(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError>;
    /// Makes what was written durable or visible (called when input pauses and at the end).
    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
    /// The input has ended: flush and close.
    fn finish(&mut self) -> Result<(), BoxError> {
        self.flush()
    }

    /// A checkpoint barrier: make everything written so far durable (or part of the
    /// pending transaction) and copy the state to keep.
    fn snapshot(&mut self, _barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        self.flush()?;
        Ok(no_state())
    }

    /// Starts from the state of a snapshot.
    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        if state.key_groups.is_empty() && state.splits.is_empty() {
            Ok(())
        } else {
            Err("this sink cannot resume from a snapshot".into())
        }
    }

    /// A checkpoint is complete: commit what was written up to its barrier.
    fn on_checkpoint_complete(
        &mut self,
        _checkpoint: &CompletedCheckpoint,
    ) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Runs a sink as an operator.
pub struct SinkOperator<S> {
    sink: Result<S, Option<BoxError>>,
}

impl<S> SinkOperator<S> {
    /// Wraps a sink, or the error that creating it raised (reported when it first runs).
    pub fn new(sink: Result<S, BoxError>) -> Self {
        SinkOperator {
            sink: sink.map_err(Some),
        }
    }

    fn sink(&mut self) -> Result<&mut S, BoxError> {
        match &mut self.sink {
            Ok(s) => Ok(s),
            Err(e) => Err(e
                .take()
                .unwrap_or_else(|| "the sink could not be opened".into())),
        }
    }
}

impl<T, S: Sink<T>> Operator<T> for SinkOperator<S> {
    fn process(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError> {
        self.sink()?.write(batch)
    }
    fn on_watermark(&mut self, _: Timestamp) -> Result<(), BoxError> {
        Ok(())
    }
    fn on_idle(&mut self, idle: bool) -> Result<(), BoxError> {
        if idle {
            self.sink()?.flush()?;
        }
        Ok(())
    }
    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        self.sink()?.snapshot(barrier)
    }
    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        self.sink()?.restore(state)
    }
    fn on_checkpoint_complete(&mut self, checkpoint: &CompletedCheckpoint) -> Result<(), BoxError> {
        self.sink()?.on_checkpoint_complete(checkpoint)
    }
    fn finish(&mut self) -> Result<(), BoxError> {
        self.sink()?.finish()
    }
}

/// A sink that appends to a shared vector.
pub struct VecSink<T> {
    items: Arc<Mutex<Vec<T>>>,
}

impl<T> VecSink<T> {
    /// Appends to `items`.
    pub fn new(items: Arc<Mutex<Vec<T>>>) -> Self {
        VecSink { items }
    }
}

impl<T: Send> Sink<T> for VecSink<T> {
    fn write(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError> {
        self.items
            .lock()
            .map_err(|_| "collect sink poisoned")?
            .append(batch);
        Ok(())
    }
}
