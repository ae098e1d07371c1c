//! Emitters: where an operator instance sends its records, watermarks and end of stream.
//!
//! An emitter is the downstream end of an operator's output as seen from the operator's own
//! thread. Stateless steps (`map`, `filter`, `flat_map`) are chained into the emitter of the
//! operator before them, so they run on its thread with no channel in between; an exchange
//! emitter sends batches over bounded channels to the instances of the next operator.

use std::sync::Arc;

use crate::checkpoint::Barrier;
use crate::time::Timestamp;

/// The number of records a batch holds before it is sent on.
pub const BATCH_SIZE: usize = 1024;

/// The output side of an operator instance.
pub trait Emitter<T>: Send {
    /// Takes every record out of `batch` (leaving it empty) and sends them on.
    fn emit(&mut self, batch: &mut Vec<T>);
    /// Sends a watermark on: no record with a smaller timestamp will follow.
    fn watermark(&mut self, watermark: Timestamp);
    /// Marks the output idle (`true`) or active again (`false`); an idle input does not
    /// hold back the watermark of the operators after it.
    fn idle(&mut self, idle: bool);
    /// Sends buffered records on, then a checkpoint barrier.
    fn barrier(&mut self, barrier: Barrier);
    /// Sends buffered records on without waiting for a full batch.
    fn flush(&mut self);
    /// Ends the stream; nothing follows.
    fn end(&mut self);
}

/// An emitter for outputs nobody reads.
pub struct Discard;

impl<T> Emitter<T> for Discard {
    fn emit(&mut self, batch: &mut Vec<T>) {
        batch.clear();
    }
    fn watermark(&mut self, _: Timestamp) {}
    fn idle(&mut self, _: bool) {}
    fn barrier(&mut self, _: Barrier) {}
    fn flush(&mut self) {}
    fn end(&mut self) {}
}

/// Sends every record to several emitters (a stream read by more than one consumer).
pub struct Tee<T> {
    outputs: Vec<Box<dyn Emitter<T>>>,
    scratch: Vec<T>,
}

impl<T: Clone> Tee<T> {
    /// Sends to all of `outputs`.
    pub fn new(outputs: Vec<Box<dyn Emitter<T>>>) -> Self {
        Tee {
            outputs,
            scratch: Vec::new(),
        }
    }
}

impl<T: Clone + Send> Emitter<T> for Tee<T> {
    fn emit(&mut self, batch: &mut Vec<T>) {
        let (last, rest) = self.outputs.split_last_mut().expect("a tee has outputs");
        for out in rest {
            self.scratch.extend(batch.iter().cloned());
            out.emit(&mut self.scratch);
        }
        last.emit(batch);
    }
    fn watermark(&mut self, watermark: Timestamp) {
        self.outputs.iter_mut().for_each(|o| o.watermark(watermark));
    }
    fn idle(&mut self, idle: bool) {
        self.outputs.iter_mut().for_each(|o| o.idle(idle));
    }
    fn barrier(&mut self, barrier: Barrier) {
        self.outputs.iter_mut().for_each(|o| o.barrier(barrier));
    }
    fn flush(&mut self) {
        self.outputs.iter_mut().for_each(|o| o.flush());
    }
    fn end(&mut self) {
        self.outputs.iter_mut().for_each(|o| o.end());
    }
}

/// A function that turns a record into zero or more records, pushed into the vector.
pub type FlatMapFn<T, U> = Arc<dyn Fn(T, &mut Vec<U>) + Send + Sync>;

/// Applies a function that turns each record into zero or more records, then sends them on.
/// `map` and `filter` are special cases of it.
pub struct FlatMapEmitter<T, U> {
    f: FlatMapFn<T, U>,
    out: Vec<U>,
    next: Box<dyn Emitter<U>>,
}

impl<T, U> FlatMapEmitter<T, U> {
    /// Runs `f` on each record; `f` pushes its outputs into the vector it is given.
    pub fn new(f: FlatMapFn<T, U>, next: Box<dyn Emitter<U>>) -> Self {
        FlatMapEmitter {
            f,
            out: Vec::new(),
            next,
        }
    }
}

impl<T: Send, U: Send> Emitter<T> for FlatMapEmitter<T, U> {
    fn emit(&mut self, batch: &mut Vec<T>) {
        for item in batch.drain(..) {
            (self.f)(item, &mut self.out);
        }
        if !self.out.is_empty() {
            self.next.emit(&mut self.out);
        }
    }
    fn watermark(&mut self, watermark: Timestamp) {
        self.next.watermark(watermark);
    }
    fn idle(&mut self, idle: bool) {
        self.next.idle(idle);
    }
    fn barrier(&mut self, barrier: Barrier) {
        self.next.barrier(barrier);
    }
    fn flush(&mut self) {
        self.next.flush();
    }
    fn end(&mut self) {
        self.next.end();
    }
}

/// A function with per-instance state that turns a record into zero or more records of a
/// main output and of a side output (see [`crate::stream::DataStream::flat_map_split`]).
pub type SplitFn<S, T, U, V> = Arc<dyn Fn(&mut S, T, &mut Vec<U>, &mut Vec<V>) + Send + Sync>;

/// A function that sees a whole batch before its records are handled one by one (to
/// look up what the batch needs at once).
pub type BatchFn<S, T> = Arc<dyn Fn(&mut S, &[T]) + Send + Sync>;

/// The two outputs of a split step: the records a [`SplitFn`] makes for each, and the
/// emitters behind them; watermarks, idleness, barriers, flushes and the end go to both.
pub struct SplitOutputs<U, V> {
    main: Vec<U>,
    side: Vec<V>,
    next: Box<dyn Emitter<U>>,
    next_side: Box<dyn Emitter<V>>,
}

impl<U: Send, V: Send> SplitOutputs<U, V> {
    /// The outputs in front of `next` and `next_side`.
    pub fn new(next: Box<dyn Emitter<U>>, next_side: Box<dyn Emitter<V>>) -> Self {
        SplitOutputs {
            main: Vec::new(),
            side: Vec::new(),
            next,
            next_side,
        }
    }

    /// Runs `f` with `state` on every record of `batch` (leaving it empty) and sends what
    /// it made on.
    pub fn split<S, T>(&mut self, f: &SplitFn<S, T, U, V>, state: &mut S, batch: &mut Vec<T>) {
        for item in batch.drain(..) {
            f(state, item, &mut self.main, &mut self.side);
        }
        if !self.main.is_empty() {
            self.next.emit(&mut self.main);
        }
        if !self.side.is_empty() {
            self.next_side.emit(&mut self.side);
        }
    }

    /// Sends a watermark to both outputs.
    pub fn watermark(&mut self, watermark: Timestamp) {
        self.next.watermark(watermark);
        self.next_side.watermark(watermark);
    }

    /// Marks both outputs idle or active.
    pub fn idle(&mut self, idle: bool) {
        self.next.idle(idle);
        self.next_side.idle(idle);
    }

    /// Sends a barrier to both outputs.
    pub fn barrier(&mut self, barrier: Barrier) {
        self.next.barrier(barrier);
        self.next_side.barrier(barrier);
    }

    /// Flushes both outputs.
    pub fn flush(&mut self) {
        self.next.flush();
        self.next_side.flush();
    }

    /// Ends both outputs.
    pub fn end(&mut self) {
        self.next.end();
        self.next_side.end();
    }
}

/// Applies a [`SplitFn`] with the instance's state, then sends the records of each output
/// on (see [`SplitOutputs`]).
pub struct SplitEmitter<S, T, U, V> {
    state: S,
    before: Option<BatchFn<S, T>>,
    f: SplitFn<S, T, U, V>,
    outputs: SplitOutputs<U, V>,
}

impl<S, T, U: Send, V: Send> SplitEmitter<S, T, U, V> {
    /// Runs `f` with `state` on each record, in front of `next` and `next_side`.
    pub fn new(
        state: S,
        f: SplitFn<S, T, U, V>,
        next: Box<dyn Emitter<U>>,
        next_side: Box<dyn Emitter<V>>,
    ) -> Self {
        SplitEmitter {
            state,
            before: None,
            f,
            outputs: SplitOutputs::new(next, next_side),
        }
    }

    /// Calls `before` with each whole batch first.
    pub fn with_batches(mut self, before: BatchFn<S, T>) -> Self {
        self.before = Some(before);
        self
    }
}

impl<S: Send, T: Send, U: Send, V: Send> Emitter<T> for SplitEmitter<S, T, U, V> {
    fn emit(&mut self, batch: &mut Vec<T>) {
        if let Some(before) = &self.before {
            before(&mut self.state, batch);
        }
        self.outputs.split(&self.f, &mut self.state, batch);
    }
    fn watermark(&mut self, watermark: Timestamp) {
        self.outputs.watermark(watermark);
    }
    fn idle(&mut self, idle: bool) {
        self.outputs.idle(idle);
    }
    fn barrier(&mut self, barrier: Barrier) {
        self.outputs.barrier(barrier);
    }
    fn flush(&mut self) {
        self.outputs.flush();
    }
    fn end(&mut self) {
        self.outputs.end();
    }
}

/// Collects records one at a time and sends them on in batches: the way operators that
/// produce records one by one (windows, process functions) write their output.
pub struct Collector<T> {
    buffer: Vec<T>,
    next: Box<dyn Emitter<T>>,
}

impl<T: Send> Collector<T> {
    /// A collector in front of `next`.
    pub fn new(next: Box<dyn Emitter<T>>) -> Self {
        Collector {
            buffer: Vec::new(),
            next,
        }
    }

    /// Adds one record; a full batch is sent on.
    pub fn collect(&mut self, item: T) {
        self.buffer.push(item);
        if self.buffer.len() >= BATCH_SIZE {
            self.next.emit(&mut self.buffer);
        }
    }

    /// Sends what is buffered on.
    pub fn send(&mut self) {
        if !self.buffer.is_empty() {
            self.next.emit(&mut self.buffer);
        }
    }

    /// Sends what is buffered, then the watermark.
    pub fn watermark(&mut self, watermark: Timestamp) {
        self.send();
        self.next.watermark(watermark);
    }

    /// Sends what is buffered, then the idle status.
    pub fn idle(&mut self, idle: bool) {
        self.send();
        self.next.idle(idle);
    }

    /// Sends what is buffered, then the barrier.
    pub fn barrier(&mut self, barrier: Barrier) {
        self.send();
        self.next.barrier(barrier);
    }

    /// Sends what is buffered and flushes the emitter behind.
    pub fn flush(&mut self) {
        self.send();
        self.next.flush();
    }

    /// Sends what is buffered and ends the stream.
    pub fn end(&mut self) {
        self.send();
        self.next.end();
    }
}
