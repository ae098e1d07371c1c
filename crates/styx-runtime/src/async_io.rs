//! Asynchronous I/O, as Flink's `AsyncDataStream.orderedWait`: a step that must read an
//! outside system for its records (a lookup in a store) starts the read of each batch on
//! a worker thread and goes on with the batches whose reads are done, so the stream does
//! not stop while a read is under way.
//!
//! Order is kept: records, watermarks and idleness leave in the order they came. At most
//! [`IN_FLIGHT`] batches wait for their reads; a further batch waits for the oldest one
//! (backpressure). A barrier, a flush and the end of the stream wait for every read first,
//! so a checkpoint never holds a record that is half handled.

use std::collections::VecDeque;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use crate::checkpoint::Barrier;
use crate::emitter::{Emitter, SplitFn, SplitOutputs};
use crate::time::Timestamp;

/// The number of batches that may wait for their reads at once.
pub const IN_FLIGHT: usize = 4;

/// What a read gives back: applied to the step's state on the step's own thread.
pub type Apply<S> = Box<dyn FnOnce(&mut S) + Send>;

/// A read to do away from the step's thread.
pub type Fetch<S> = Box<dyn FnOnce() -> Apply<S> + Send>;

/// Looks at a batch with the step's state and says what must be read for it (`None`:
/// nothing, the state has it all).
pub type StartFn<S, T> = Arc<dyn Fn(&mut S, &[T]) -> Option<Fetch<S>> + Send + Sync>;

/// What waits in line: a batch (with the number of its read, if it has one), a
/// watermark or a change of idleness.
enum Queued<T> {
    Records(Vec<T>, Option<u64>),
    Watermark(Timestamp),
    Idle(bool),
}

/// The thread that does the reads, one at a time, in the order they were started.
struct Worker<S> {
    jobs: Sender<Fetch<S>>,
    done: Receiver<Apply<S>>,
}

impl<S: 'static> Worker<S> {
    fn spawn() -> Worker<S> {
        let (jobs, job_rx) = channel::<Fetch<S>>();
        let (done_tx, done) = channel::<Apply<S>>();
        std::thread::Builder::new()
            .name("async-io".into())
            .spawn(move || {
                for fetch in job_rx {
                    if done_tx.send(fetch()).is_err() {
                        return;
                    }
                }
            })
            .expect("starting the async I/O thread");
        Worker { jobs, done }
    }
}

/// A split step (see [`SplitFn`]) whose batches first have their reads done on a worker
/// thread (see the module's documentation).
pub struct AsyncSplitEmitter<S, T, U, V> {
    state: S,
    start: StartFn<S, T>,
    f: SplitFn<S, T, U, V>,
    worker: Option<Worker<S>>,
    /// The number the next read gets, and the number of reads applied so far.
    started: u64,
    applied: u64,
    queue: VecDeque<Queued<T>>,
    /// Batches in the queue whose reads are not applied yet.
    waiting: usize,
    outputs: SplitOutputs<U, V>,
}

impl<S: Send + 'static, T: Send, U: Send, V: Send> AsyncSplitEmitter<S, T, U, V> {
    /// Runs `f` with `state` on each record once `start`'s read for its batch is applied,
    /// in front of `next` and `next_side`.
    pub fn new(
        state: S,
        start: StartFn<S, T>,
        f: SplitFn<S, T, U, V>,
        next: Box<dyn Emitter<U>>,
        next_side: Box<dyn Emitter<V>>,
    ) -> Self {
        AsyncSplitEmitter {
            state,
            start,
            f,
            worker: None,
            started: 0,
            applied: 0,
            queue: VecDeque::new(),
            waiting: 0,
            outputs: SplitOutputs::new(next, next_side),
        }
    }

    /// Applies the reads that are done; with `block`, waits for one first.
    fn collect(&mut self, block: bool) {
        let Some(worker) = &self.worker else { return };
        let first = block.then(|| {
            worker
                .done
                .recv()
                .expect("the async I/O thread stopped with reads outstanding")
        });
        for apply in first.into_iter().chain(worker.done.try_iter()) {
            apply(&mut self.state);
            self.applied += 1;
        }
    }

    /// Sends on what is ready at the head of the line; with `all`, waits for every read.
    fn drain(&mut self, all: bool) {
        self.collect(false);
        loop {
            match self.queue.front() {
                None => break,
                Some(Queued::Records(_, Some(n))) if *n >= self.applied => {
                    if !all && self.waiting <= IN_FLIGHT {
                        break;
                    }
                    self.collect(true);
                    continue;
                }
                Some(_) => {}
            }
            match self.queue.pop_front().expect("a queued item") {
                Queued::Records(mut batch, read) => {
                    if read.is_some() {
                        self.waiting -= 1;
                    }
                    self.outputs.split(&self.f, &mut self.state, &mut batch);
                }
                Queued::Watermark(wm) => self.outputs.watermark(wm),
                Queued::Idle(idle) => self.outputs.idle(idle),
            }
        }
    }
}

impl<S: Send + 'static, T: Send, U: Send, V: Send> Emitter<T> for AsyncSplitEmitter<S, T, U, V> {
    fn emit(&mut self, batch: &mut Vec<T>) {
        let read = (self.start)(&mut self.state, batch).map(|fetch| {
            let worker = self.worker.get_or_insert_with(Worker::spawn);
            worker
                .jobs
                .send(fetch)
                .expect("the async I/O thread stopped");
            self.started += 1;
            self.started - 1
        });
        if read.is_none() && self.queue.is_empty() {
            // Everything the batch needs is at hand and nothing waits before it.
            self.outputs.split(&self.f, &mut self.state, batch);
            return;
        }
        if read.is_some() {
            self.waiting += 1;
        }
        self.queue
            .push_back(Queued::Records(std::mem::take(batch), read));
        self.drain(false);
    }
    fn watermark(&mut self, watermark: Timestamp) {
        if self.queue.is_empty() {
            self.outputs.watermark(watermark);
        } else {
            self.queue.push_back(Queued::Watermark(watermark));
            self.drain(false);
        }
    }
    fn idle(&mut self, idle: bool) {
        if self.queue.is_empty() {
            self.outputs.idle(idle);
        } else {
            self.queue.push_back(Queued::Idle(idle));
        }
    }
    fn barrier(&mut self, barrier: Barrier) {
        self.drain(true);
        self.outputs.barrier(barrier);
    }
    fn flush(&mut self) {
        self.drain(true);
        self.outputs.flush();
    }
    fn end(&mut self) {
        self.drain(true);
        self.outputs.end();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    use super::*;

    /// Writes what reaches it into a shared log.
    struct Log(Shared);

    impl Emitter<u64> for Log {
        fn emit(&mut self, batch: &mut Vec<u64>) {
            let mut log = self.0.lock().unwrap();
            log.extend(batch.drain(..).map(|x| x.to_string()));
        }
        fn watermark(&mut self, wm: Timestamp) {
            self.0.lock().unwrap().push(format!("wm{wm}"));
        }
        fn idle(&mut self, idle: bool) {
            self.0.lock().unwrap().push(format!("idle{idle}"));
        }
        fn barrier(&mut self, _: Barrier) {}
        fn flush(&mut self) {}
        fn end(&mut self) {
            self.0.lock().unwrap().push("end".into());
        }
    }

    /// What reached an output, in order.
    type Shared = Arc<Mutex<Vec<String>>>;

    /// A gate the reads wait at until the test opens it.
    type Gate = Arc<(Mutex<bool>, Condvar)>;

    /// A step that passes on the records whose numbers it has read (others go to the
    /// side output), reading unknown numbers behind `gate`; and its two logs.
    fn step(gate: Gate) -> (AsyncSplitEmitter<HashSet<u64>, u64, u64, u64>, [Shared; 2]) {
        let logs = [
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(Mutex::new(Vec::new())),
        ];
        let start: StartFn<HashSet<u64>, u64> = Arc::new(move |known, batch| {
            let unknown: Vec<u64> = batch
                .iter()
                .copied()
                .filter(|x| !known.contains(x))
                .collect();
            if unknown.is_empty() {
                return None;
            }
            let gate = gate.clone();
            Some(Box::new(move || {
                let (open, changed) = &*gate;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = changed.wait(open).unwrap();
                }
                Box::new(move |known: &mut HashSet<u64>| known.extend(unknown)) as Apply<_>
            }))
        });
        let f: SplitFn<HashSet<u64>, u64, u64, u64> = Arc::new(|known, x, out, side| {
            if known.contains(&x) {
                out.push(x)
            } else {
                side.push(x)
            }
        });
        let emitter = AsyncSplitEmitter::new(
            HashSet::new(),
            start,
            f,
            Box::new(Log(logs[0].clone())),
            Box::new(Log(logs[1].clone())),
        );
        (emitter, logs)
    }

    #[test]
    fn batches_go_on_while_their_reads_run_and_leave_in_order() {
        let gate: Gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (mut emitter, [out, side]) = step(gate.clone());
        // Three batches and a watermark are taken while every read is held at the gate.
        let (taken, taken_rx) = std::sync::mpsc::channel();
        let feeder = std::thread::spawn(move || {
            emitter.emit(&mut vec![1, 2]);
            emitter.watermark(10);
            emitter.emit(&mut vec![2, 3]);
            emitter.idle(true);
            emitter.emit(&mut vec![1]);
            taken.send(()).unwrap();
            emitter
        });
        taken_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("batches within the in-flight bound are taken without waiting");
        assert!(
            out.lock().unwrap().is_empty(),
            "nothing leaves before its read"
        );
        let (open, changed) = &*gate;
        *open.lock().unwrap() = true;
        changed.notify_all();
        let mut emitter = feeder.join().unwrap();
        emitter.end();
        assert_eq!(
            *out.lock().unwrap(),
            ["1", "2", "wm10", "2", "3", "idletrue", "1", "end"]
        );
        assert_eq!(*side.lock().unwrap(), ["wm10", "idletrue", "end"]);
    }

    #[test]
    fn more_batches_than_the_bound_wait_for_the_oldest_read() {
        let gate: Gate = Arc::new((Mutex::new(true), Condvar::new()));
        let (mut emitter, [out, _]) = step(gate);
        for x in 0..(IN_FLIGHT as u64 * 3) {
            emitter.emit(&mut vec![x]);
            assert!(emitter.waiting <= IN_FLIGHT);
        }
        emitter.flush();
        let expected: Vec<String> = (0..(IN_FLIGHT as u64 * 3)).map(|x| x.to_string()).collect();
        assert_eq!(*out.lock().unwrap(), expected);
    }
}
