//! Exchanges: how records cross from the instances of one operator to those of the next.
//!
//! Every downstream instance owns one bounded channel that all upstream instances write
//! to. A full channel blocks the writer, so a slow operator slows down everything before
//! it (backpressure). Records travel in batches; watermarks, idle marks and the end of
//! the stream travel in order with them, tagged with the upstream instance they come from.
//! The [`InputGate`] of a downstream instance combines its inputs' watermarks: the minimum
//! over the inputs that are neither idle nor finished.

use std::hash::Hash;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::checkpoint::{Barrier, CompletedCheckpoint};
use crate::emitter::{Emitter, BATCH_SIZE};
use crate::metrics::Slot;
use crate::time::{Timestamp, MAX_WATERMARK, MIN_WATERMARK};

/// How many batches a channel holds before its writers block.
pub const CHANNEL_CAPACITY: usize = 16;

/// The number of key groups: the unit in which keyed state is split across instances.
/// A job keeps its key groups when its parallelism changes, so state can be redistributed.
pub const MAX_PARALLELISM: usize = 128;

/// What travels over a channel.
#[derive(Debug)]
pub enum Message<T> {
    /// A batch of records.
    Data(Vec<T>),
    /// A watermark.
    Watermark(Timestamp),
    /// The sender became idle (`true`) or active again (`false`).
    Idle(bool),
    /// The sender has finished.
    End,
    /// A checkpoint barrier.
    Barrier(Barrier),
    /// A checkpoint is complete (sent by the coordinator, from [`NOTIFY`]).
    Complete(Arc<CompletedCheckpoint>),
}

/// The `from` of messages that come from the checkpoint coordinator, not an input.
pub const NOTIFY: usize = usize::MAX;

/// A message and the upstream instance that sent it.
#[derive(Debug)]
pub struct Envelope<T> {
    /// The index of the sending instance.
    pub from: usize,
    /// The message.
    pub message: Message<T>,
}

/// The channels into the instances of one operator.
pub struct Channels<T> {
    senders: Vec<Sender<Envelope<T>>>,
    receivers: Vec<Option<Receiver<Envelope<T>>>>,
}

impl<T> Channels<T> {
    /// One bounded channel per downstream instance.
    pub fn new(parallelism: usize) -> Self {
        let (senders, receivers) = (0..parallelism)
            .map(|_| {
                let (s, r) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
                (s, Some(r))
            })
            .unzip();
        Channels { senders, receivers }
    }

    /// The senders to every downstream instance.
    pub fn senders(&self) -> Vec<Sender<Envelope<T>>> {
        self.senders.clone()
    }

    /// Takes the receiving end of instance `index`.
    pub fn take_receiver(&mut self, index: usize) -> Receiver<Envelope<T>> {
        self.receivers[index]
            .take()
            .expect("each receiver is taken once")
    }
}

/// The hash of a key, stable across processes so that key groups mean the same thing in
/// every run.
pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    KEY_HASHER.hash_one(key)
}

/// The fixed-seed hasher of [`key_hash`].
static KEY_HASHER: ahash::RandomState = ahash::RandomState::with_seeds(
    0x5354_5958_0000_0001,
    0x5354_5958_0000_0002,
    0x5354_5958_0000_0003,
    0x5354_5958_0000_0004,
);

/// The key group of a key hash.
pub fn key_group(hash: u64) -> usize {
    (hash % MAX_PARALLELISM as u64) as usize
}

/// The operator instance that owns a key group at a given parallelism (as Flink assigns
/// key groups to subtasks: contiguous ranges).
pub fn instance_for_key_group(group: usize, parallelism: usize) -> usize {
    group * parallelism / MAX_PARALLELISM
}

/// How an exchange picks the downstream instance of a record.
pub enum Partitioner<T> {
    /// Always the instance with the sender's own index modulo the downstream parallelism.
    Forward,
    /// By the hash of the record's key.
    Hash(Arc<dyn Fn(&T) -> u64 + Send + Sync>),
}

/// The upstream end of an exchange: buffers a batch per downstream instance.
pub struct ExchangeEmitter<T> {
    from: usize,
    senders: Vec<Sender<Envelope<T>>>,
    buffers: Vec<Vec<T>>,
    partitioner: Partitioner<T>,
    ended: bool,
    /// Where the time spent waiting for room in a full channel is counted.
    blocked: Option<Arc<Slot>>,
}

impl<T> ExchangeEmitter<T> {
    /// The emitter of upstream instance `from`.
    pub fn new(
        from: usize,
        senders: Vec<Sender<Envelope<T>>>,
        partitioner: Partitioner<T>,
    ) -> Self {
        let buffers = senders.iter().map(|_| Vec::new()).collect();
        ExchangeEmitter {
            from,
            senders,
            buffers,
            partitioner,
            ended: false,
            blocked: None,
        }
    }

    /// Counts the time this emitter waits for room in full channels in `slot`.
    pub fn counting_blocked(mut self, slot: Arc<Slot>) -> Self {
        self.blocked = Some(slot);
        self
    }

    fn send(&mut self, to: usize, message: Message<T>) {
        let envelope = Envelope {
            from: self.from,
            message,
        };
        // A closed channel means the downstream instance has stopped because the job is
        // failing; the failure is reported where it happened.
        let Some(slot) = &self.blocked else {
            let _ = self.senders[to].send(envelope);
            return;
        };
        if let Err(crossbeam_channel::TrySendError::Full(envelope)) =
            self.senders[to].try_send(envelope)
        {
            let waiting = std::time::Instant::now();
            let _ = self.senders[to].send(envelope);
            slot.add_blocked(waiting.elapsed());
        }
    }

    fn send_buffer(&mut self, to: usize) {
        if !self.buffers[to].is_empty() {
            let batch = std::mem::replace(&mut self.buffers[to], Vec::with_capacity(BATCH_SIZE));
            self.send(to, Message::Data(batch));
        }
    }

    fn send_all_buffers(&mut self) {
        for to in 0..self.senders.len() {
            self.send_buffer(to);
        }
    }

    fn broadcast(&mut self, make: impl Fn() -> Message<T>) {
        self.send_all_buffers();
        for to in 0..self.senders.len() {
            self.send(to, make());
        }
    }
}

impl<T: Send> Emitter<T> for ExchangeEmitter<T> {
    fn emit(&mut self, batch: &mut Vec<T>) {
        let n = self.senders.len();
        match &self.partitioner {
            // With one downstream instance every record goes to it: no hashing.
            Partitioner::Forward | Partitioner::Hash(_) if n == 1 => {
                self.buffers[0].append(batch);
                if self.buffers[0].len() >= BATCH_SIZE {
                    self.send_buffer(0);
                }
            }
            Partitioner::Forward => {
                let to = self.from % n;
                self.buffers[to].append(batch);
                if self.buffers[to].len() >= BATCH_SIZE {
                    self.send_buffer(to);
                }
            }
            Partitioner::Hash(hash) => {
                let hash = hash.clone();
                for item in batch.drain(..) {
                    let to = instance_for_key_group(key_group(hash(&item)), n);
                    self.buffers[to].push(item);
                    if self.buffers[to].len() >= BATCH_SIZE {
                        self.send_buffer(to);
                    }
                }
            }
        }
    }

    fn watermark(&mut self, watermark: Timestamp) {
        self.broadcast(|| Message::Watermark(watermark));
    }

    fn idle(&mut self, idle: bool) {
        self.broadcast(|| Message::Idle(idle));
    }

    fn barrier(&mut self, barrier: Barrier) {
        self.broadcast(|| Message::Barrier(barrier));
    }

    fn flush(&mut self) {
        self.send_all_buffers();
    }

    fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            self.broadcast(|| Message::End);
        }
    }
}

impl<T> Drop for ExchangeEmitter<T> {
    fn drop(&mut self) {
        // An instance that stops without ending its stream (it failed, or the job stopped
        // at a savepoint) still lets the instances after it finish instead of waiting
        // forever. A downstream instance that is gone makes the send fail at once.
        if !self.ended {
            self.send_all_buffers();
            for s in &self.senders {
                let _ = s.send(Envelope {
                    from: self.from,
                    message: Message::End,
                });
            }
        }
    }
}

/// The state of one input of an operator instance.
#[derive(Debug, Clone, Copy)]
struct InputState {
    watermark: Timestamp,
    idle: bool,
    ended: bool,
}

/// Combines the watermarks of an operator instance's inputs.
#[derive(Debug)]
pub struct InputGate {
    inputs: Vec<InputState>,
    current: Timestamp,
    idle: bool,
}

/// What an input event changes for the operator.
#[derive(Debug, PartialEq, Eq)]
pub enum GateEvent {
    /// Nothing to do.
    None,
    /// The combined watermark advanced to this value.
    Watermark(Timestamp),
    /// Every input is idle or ended.
    Idle,
    /// An input became active again after all were idle; the watermark may have advanced.
    Active(Option<Timestamp>),
}

impl InputGate {
    /// A gate over `inputs` upstream instances.
    pub fn new(inputs: usize) -> Self {
        InputGate {
            inputs: vec![
                InputState {
                    watermark: MIN_WATERMARK,
                    idle: false,
                    ended: false,
                };
                inputs
            ],
            current: MIN_WATERMARK,
            idle: false,
        }
    }

    /// The combined watermark.
    pub fn watermark(&self) -> Timestamp {
        self.current
    }

    fn recompute(&mut self) -> GateEvent {
        let active = self.inputs.iter().filter(|i| !i.idle && !i.ended);
        let min = active.map(|i| i.watermark).min();
        match min {
            Some(wm) => {
                if self.idle {
                    self.idle = false;
                    let advanced = (wm > self.current).then(|| {
                        self.current = wm;
                        wm
                    });
                    return GateEvent::Active(advanced);
                }
                if wm > self.current {
                    self.current = wm;
                    GateEvent::Watermark(wm)
                } else {
                    GateEvent::None
                }
            }
            None if self.inputs.iter().all(|i| i.ended) => {
                if self.current < MAX_WATERMARK {
                    self.current = MAX_WATERMARK;
                    GateEvent::Watermark(MAX_WATERMARK)
                } else {
                    GateEvent::None
                }
            }
            None => {
                if self.idle {
                    GateEvent::None
                } else {
                    self.idle = true;
                    GateEvent::Idle
                }
            }
        }
    }

    /// A watermark from input `from`.
    pub fn on_watermark(&mut self, from: usize, watermark: Timestamp) -> GateEvent {
        let input = &mut self.inputs[from];
        input.watermark = input.watermark.max(watermark);
        input.idle = false;
        self.recompute()
    }

    /// An idle mark from input `from`.
    pub fn on_idle(&mut self, from: usize, idle: bool) -> GateEvent {
        self.inputs[from].idle = idle;
        self.recompute()
    }

    /// The end of input `from`. Returns the watermark change it causes; check
    /// [`InputGate::all_ended`] afterwards.
    pub fn on_end(&mut self, from: usize) -> GateEvent {
        self.inputs[from].ended = true;
        self.recompute()
    }

    /// Whether input `input` has ended.
    pub fn has_ended(&self, input: usize) -> bool {
        self.inputs[input].ended
    }

    /// Whether every input has ended.
    pub fn all_ended(&self) -> bool {
        self.inputs.iter().all(|i| i.ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_takes_the_minimum_of_active_inputs() {
        let mut g = InputGate::new(2);
        assert_eq!(g.on_watermark(0, 10), GateEvent::None);
        assert_eq!(g.on_watermark(1, 5), GateEvent::Watermark(5));
        assert_eq!(g.on_watermark(1, 20), GateEvent::Watermark(10));
        // An idle input does not hold the watermark back.
        assert_eq!(g.on_idle(0, true), GateEvent::Watermark(20));
        assert_eq!(g.on_idle(1, true), GateEvent::Idle);
        assert_eq!(g.on_watermark(0, 30), GateEvent::Active(Some(30)));
        assert_eq!(g.watermark(), 30);
        assert_eq!(g.on_end(0), GateEvent::Idle);
        assert!(!g.all_ended());
        assert_eq!(g.on_end(1), GateEvent::Watermark(MAX_WATERMARK));
        assert!(g.all_ended());
    }

    #[test]
    fn key_groups_cover_all_instances() {
        for p in 1..=8 {
            let mut seen = vec![false; p];
            for g in 0..MAX_PARALLELISM {
                seen[instance_for_key_group(g, p)] = true;
            }
            assert!(seen.iter().all(|s| *s));
        }
    }
}
