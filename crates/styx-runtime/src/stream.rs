//! The typed DataStream API: build a dataflow, then run it with [`Environment::execute`].
//!
//! Building is single-threaded and lazy: each [`DataStream`] is a promise of records from
//! the instances of some operator. Stateless steps are chained onto the operator before
//! them; `key_by` followed by a stateful step starts a new operator whose instances run on
//! their own threads and receive records over a hash exchange.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::Hash;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::async_io::{AsyncSplitEmitter, Fetch, StartFn};
use crate::checkpoint::coordinator::{
    Ack, CheckpointConfig, Coordinator, CoordinatorHandle, TaskEndpoint,
};
use crate::checkpoint::store::Snapshot;
use crate::checkpoint::RestoredState;
use crate::emitter::{
    BatchFn, Discard, Emitter, FlatMapEmitter, FlatMapFn, SplitEmitter, SplitFn, Tee,
};
use crate::error::{BoxError, RuntimeError};
use crate::exchange::{
    key_hash, Channels, Envelope, ExchangeEmitter, Message, Partitioner, NOTIFY,
};
use crate::metrics::{Backpressure, Meter, MeteredEmitter};
use crate::operator::{run_operator, Operator, TaskContext};
use crate::sink::{Deliveries, Sink, SinkOperator};
use crate::source::{run_source, Source, StopHandle};
use crate::state::StateBackend;
use crate::watermark::{TimestampFn, WatermarkEmitter, WatermarkStrategy};

type ConsumerFactory<T> = Box<dyn Fn(usize) -> Box<dyn Emitter<T>>>;

/// The output of the instances of one operator, and the consumers that read it.
pub(crate) struct Port<T> {
    consumers: RefCell<Vec<ConsumerFactory<T>>>,
}

impl<T: Clone + Send + 'static> Port<T> {
    fn new() -> Rc<Self> {
        Rc::new(Port {
            consumers: RefCell::new(Vec::new()),
        })
    }

    fn add_consumer(&self, factory: ConsumerFactory<T>) {
        self.consumers.borrow_mut().push(factory);
    }

    /// The emitter of operator instance `instance`: every consumer's input, or a discard.
    pub(crate) fn build(&self, instance: usize) -> Box<dyn Emitter<T>> {
        let consumers = self.consumers.borrow();
        match consumers.len() {
            0 => Box::new(Discard),
            1 => consumers[0](instance),
            _ => Box::new(Tee::new(consumers.iter().map(|f| f(instance)).collect())),
        }
    }
}

/// The name of one instance of an operator, as errors and thread names show it.
fn instance_name(name: &str, instance: usize, parallelism: usize) -> String {
    if parallelism == 1 {
        name.to_string()
    } else {
        format!("{name}[{instance}]")
    }
}

/// One operator's output within a stream (a union of streams has several).
struct Part<T> {
    port: Rc<Port<T>>,
    parallelism: usize,
}

impl<T> Clone for Part<T> {
    fn clone(&self) -> Self {
        Part {
            port: self.port.clone(),
            parallelism: self.parallelism,
        }
    }
}

type Handles = Vec<(String, JoinHandle<Result<(), BoxError>>)>;

/// What launching an operator's instances needs from the job: the checkpoint wiring.
#[derive(Default)]
pub(crate) struct Launch {
    acks: Option<crossbeam_channel::Sender<Ack>>,
    cancelled: Arc<AtomicBool>,
    restore: Option<Arc<Snapshot>>,
    endpoints: Vec<TaskEndpoint>,
    stop: StopHandle,
}

impl Launch {
    fn task(&self, operator: &str, instance: usize, parallelism: usize) -> TaskContext {
        TaskContext {
            operator: operator.to_string(),
            instance,
            parallelism,
            acks: self.acks.clone(),
            cancelled: self.cancelled.clone(),
            stop: self.stop.clone(),
        }
    }

    fn restored(
        &self,
        operator: &str,
        instance: usize,
        parallelism: usize,
    ) -> Option<RestoredState> {
        self.restore
            .as_ref()
            .map(|s| s.restored(operator, instance, parallelism))
    }
}

type Launcher = Box<dyn FnOnce(&mut Launch) -> Handles>;

struct EnvInner {
    parallelism: usize,
    launchers: Vec<Launcher>,
    names: HashSet<String>,
    checkpoints: Option<Coordinator>,
    stop: StopHandle,
    fail: FailHandle,
    state: StateBackend,
    start_watermark: crate::time::Timestamp,
    backpressure: Option<Arc<Backpressure>>,
    deliveries: Option<Deliveries>,
}

/// Fails a running job from inside user code (a map or filter function, which cannot
/// return an error): the job stops as when an operator fails, and
/// [`Environment::execute`] returns the first failure reported.
#[derive(Clone)]
pub struct FailHandle {
    failures: crossbeam_channel::Sender<RuntimeError>,
    receiver: crossbeam_channel::Receiver<RuntimeError>,
}

impl FailHandle {
    fn new() -> Self {
        let (failures, receiver) = crossbeam_channel::unbounded();
        FailHandle { failures, receiver }
    }

    /// Fails the job: `operator` names what failed, `message` says why.
    pub fn fail(&self, operator: &str, message: impl Into<String>) {
        let _ = self
            .failures
            .send(RuntimeError::new(operator.to_string(), message.into()));
    }
}

/// Where a dataflow is built and run.
#[derive(Clone)]
pub struct Environment {
    inner: Rc<RefCell<EnvInner>>,
}

impl Default for Environment {
    fn default() -> Self {
        Environment::new(1)
    }
}

impl Environment {
    /// An environment whose stateful operators run `parallelism` instances by default.
    pub fn new(parallelism: usize) -> Self {
        Environment {
            inner: Rc::new(RefCell::new(EnvInner {
                parallelism: parallelism.max(1),
                launchers: Vec::new(),
                names: HashSet::new(),
                checkpoints: None,
                stop: StopHandle::new(),
                fail: FailHandle::new(),
                state: StateBackend::Memory,
                start_watermark: crate::time::MIN_WATERMARK,
                backpressure: None,
                deliveries: None,
            })),
        }
    }

    /// The default parallelism.
    pub fn parallelism(&self) -> usize {
        self.inner.borrow().parallelism
    }

    fn add_launcher(&self, launcher: Launcher) {
        self.inner.borrow_mut().launchers.push(launcher);
    }

    /// A name for a new operator: `name`, or `name#2`, `name#3`... if it is taken. The
    /// names identify operators' state in snapshots, so a job built the same way gets the
    /// same names.
    fn operator_name(&self, name: &str) -> String {
        let mut inner = self.inner.borrow_mut();
        let mut candidate = name.to_string();
        let mut n = 1;
        while !inner.names.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{name}#{n}");
        }
        candidate
    }

    /// Takes checkpoints (periodically, and savepoints on request) as `config` says, and
    /// starts from `config.restore` if given. Returns the handle that asks for savepoints.
    pub fn enable_checkpointing(&self, config: CheckpointConfig) -> CoordinatorHandle {
        let coordinator = Coordinator::new(config);
        let handle = coordinator.handle();
        self.inner.borrow_mut().checkpoints = Some(coordinator);
        handle
    }

    /// Keeps the keyed state of the operators added from now on in `backend` (default:
    /// in memory).
    pub fn set_state_backend(&self, backend: StateBackend) {
        self.inner.borrow_mut().state = backend;
    }

    /// Where operators added now keep their keyed state.
    pub fn state_backend(&self) -> StateBackend {
        self.inner.borrow().state.clone()
    }

    /// Starts the event-time windows added from now on at `watermark` instead of before
    /// all time: windows that end at or before it count as fired already, and their
    /// records as late. A dataflow that replays input whose earlier windows have fired
    /// (another run emitted them) starts there.
    pub fn set_start_watermark(&self, watermark: crate::time::Timestamp) {
        self.inner.borrow_mut().start_watermark = watermark;
    }

    /// Reports on `deliveries` how far each instance of the sinks added from now on has
    /// delivered its input (see [`Deliveries`]).
    pub fn track_deliveries(&self, deliveries: Deliveries) {
        self.inner.borrow_mut().deliveries = Some(deliveries);
    }

    /// The watermark event-time windows added now start at.
    pub fn start_watermark(&self) -> crate::time::Timestamp {
        self.inner.borrow().start_watermark
    }

    /// Measures the backpressure of the operators added from now on in `backpressure`
    /// (see [`Backpressure`]).
    pub fn set_backpressure(&self, backpressure: Arc<Backpressure>) {
        self.inner.borrow_mut().backpressure = Some(backpressure);
    }

    fn backpressure_meter(&self, name: &str) -> Option<Arc<Meter>> {
        self.inner
            .borrow()
            .backpressure
            .as_ref()
            .map(|b| b.meter(name))
    }

    /// The handle that stops the job cleanly (see [`StopHandle`]).
    pub fn stop_handle(&self) -> StopHandle {
        self.inner.borrow().stop.clone()
    }

    /// The handle that fails the job from user code (see [`FailHandle`]).
    pub fn fail_handle(&self) -> FailHandle {
        self.inner.borrow().fail.clone()
    }

    /// Stops the job through `handle` (for example one a signal handler holds). Sources
    /// added before and after the call use it.
    pub fn set_stop_handle(&self, handle: StopHandle) {
        self.inner.borrow_mut().stop = handle;
    }

    /// A source with `parallelism` instances; `factory(instance, parallelism)` makes each.
    pub fn source<T, F>(&self, name: &str, parallelism: usize, factory: F) -> DataStream<T>
    where
        T: Clone + Send + 'static,
        F: Fn(usize, usize) -> Result<Box<dyn Source<T>>, BoxError> + 'static,
    {
        let port = Port::<T>::new();
        let launch_port = port.clone();
        let name = self.operator_name(name);
        let parallelism = parallelism.max(1);
        self.add_launcher(Box::new(move |launch: &mut Launch| {
            (0..parallelism)
                .map(|i| {
                    let out = launch_port.build(i);
                    let source = factory(i, parallelism);
                    let task = launch.task(&name, i, parallelism);
                    let restore = launch.restored(&name, i, parallelism);
                    let control = launch.acks.is_some().then(|| {
                        let (tx, rx) = crossbeam_channel::unbounded();
                        launch.endpoints.push(TaskEndpoint {
                            operator: name.clone(),
                            instance: i,
                            parallelism,
                            source: Some(tx),
                            notify: None,
                        });
                        rx
                    });
                    let thread_name = instance_name(&name, i, parallelism);
                    let stop = launch.stop.clone();
                    let handle = std::thread::Builder::new()
                        .name(thread_name.clone())
                        .spawn(move || {
                            let mut out = out;
                            // Dropped before `out`: a failure is known before the
                            // instances downstream see this one's output end.
                            let failed = CancelOnFailure::new(&task.cancelled);
                            let mut source = source?;
                            let result = run_source(
                                source.as_mut(),
                                out.as_mut(),
                                &task,
                                control,
                                restore,
                                &stop,
                            );
                            failed.finished(result.is_ok());
                            result
                        })
                        .expect("spawn a source thread");
                    (thread_name, handle)
                })
                .collect()
        }));
        DataStream {
            env: self.clone(),
            parts: vec![Part { port, parallelism }],
            timestamps: None,
        }
    }

    /// A single-instance source that reads an iterator: for tests and bounded inputs.
    pub fn from_iter<T, I>(&self, items: I) -> DataStream<T>
    where
        T: Clone + Send + 'static,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        let cell = RefCell::new(Some(items.into_iter()));
        self.source("collection", 1, move |_, _| {
            let iter = cell
                .borrow_mut()
                .take()
                .ok_or("the collection is read once")?;
            Ok(Box::new(crate::source::IterSource::new(iter)) as Box<dyn Source<T>>)
        })
    }

    /// Runs the dataflow until every source has ended and every operator has finished.
    /// The first operator failure is returned.
    pub fn execute(self) -> Result<(), RuntimeError> {
        let launchers = std::mem::take(&mut self.inner.borrow_mut().launchers);
        let coordinator = self.inner.borrow_mut().checkpoints.take();
        let stop = self.inner.borrow().stop.clone();
        let failures = self.inner.borrow().fail.receiver.clone();
        let mut failed = failures.clone();
        // The sources' idle time counts from the start of the job.
        stop.record_activity();
        let cancelled = Arc::new(AtomicBool::new(false));
        let mut launch = Launch {
            acks: coordinator.as_ref().map(Coordinator::ack_sender),
            cancelled: cancelled.clone(),
            restore: coordinator.as_ref().and_then(|c| c.restore().cloned()),
            endpoints: Vec::new(),
            stop,
        };
        let mut handles = Vec::new();
        for launcher in launchers {
            handles.extend(launcher(&mut launch));
        }
        drop(self);
        // The coordinator runs until this function returns; a failure it reports fails
        // the job like an instance's.
        let (_shutdown, shutdown_rx) = crossbeam_channel::bounded::<()>(0);
        let mut coordinator_failures = crossbeam_channel::never();
        if let Some(coordinator) = coordinator {
            coordinator_failures = coordinator.failures();
            coordinator.spawn(std::mem::take(&mut launch.endpoints), shutdown_rx);
        }
        drop(launch);
        // Each thread reports when it ends; the first failure fails the job at once, so
        // that an operator waiting on a failed one does not hold the job up.
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        let total = handles.len();
        for (name, handle) in handles {
            let done_tx = done_tx.clone();
            std::thread::spawn(move || {
                let result = match handle.join() {
                    Ok(r) => r.map_err(|e| RuntimeError::new(name, e)),
                    Err(panic) => {
                        let message = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panicked".into());
                        Err(RuntimeError::new(name, message))
                    }
                };
                let _ = done_tx.send(result);
            });
        }
        drop(done_tx);
        let mut failure = None;
        let mut ended = 0;
        while ended < total {
            let result = crossbeam_channel::select! {
                recv(done_rx) -> r => match r {
                    Ok(r) => {
                        ended += 1;
                        r
                    }
                    Err(_) => break,
                },
                recv(failed) -> f => match f {
                    Ok(failure) => Err(failure),
                    Err(_) => {
                        failed = crossbeam_channel::never();
                        continue;
                    }
                },
                recv(coordinator_failures) -> f => match f {
                    Ok(message) => Err(RuntimeError::new("checkpoint-coordinator", message)),
                    Err(_) => {
                        // The coordinator ended without a failure.
                        coordinator_failures = crossbeam_channel::never();
                        continue;
                    }
                },
            };
            if let Err(e) = result {
                // The first failure fails the job: the other instances stop, and are
                // given a while to do so (one blocked in user code is left behind).
                cancelled.store(true, Ordering::Relaxed);
                let deadline = Instant::now() + CANCEL_GRACE;
                while ended < total && done_rx.recv_deadline(deadline).is_ok() {
                    ended += 1;
                }
                failure = Some(e);
                break;
            }
        }
        // A failure reported by user code as the last instances ended.
        match failure.or_else(|| failures.try_recv().ok()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// How long a failing job waits for its other instances to stop.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Cancels the job when an instance ends with an error or a panic (it is dropped on the
/// instance's thread without [`CancelOnFailure::finished`] saying all went well).
struct CancelOnFailure {
    cancelled: Arc<AtomicBool>,
    ok: bool,
}

impl CancelOnFailure {
    fn new(cancelled: &Arc<AtomicBool>) -> Self {
        CancelOnFailure {
            cancelled: cancelled.clone(),
            ok: false,
        }
    }

    fn finished(mut self, ok: bool) {
        self.ok = ok;
    }
}

impl Drop for CancelOnFailure {
    fn drop(&mut self) {
        if !self.ok {
            self.cancelled.store(true, Ordering::SeqCst);
        }
    }
}

/// A stream of records of type `T`.
pub struct DataStream<T> {
    env: Environment,
    parts: Vec<Part<T>>,
    timestamps: Option<TimestampFn<T>>,
}

impl<T> Clone for DataStream<T> {
    fn clone(&self) -> Self {
        DataStream {
            env: self.env.clone(),
            parts: self.parts.clone(),
            timestamps: self.timestamps.clone(),
        }
    }
}

impl<T: Clone + Send + 'static> DataStream<T> {
    /// The environment the stream belongs to.
    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// The number of upstream instances producing the stream.
    pub fn parallelism(&self) -> usize {
        self.parts.iter().map(|p| p.parallelism).sum()
    }

    /// The timestamp extractor assigned by
    /// [`DataStream::assign_timestamps_and_watermarks`], if any.
    pub fn timestamps(&self) -> Option<TimestampFn<T>> {
        self.timestamps.clone()
    }

    /// Chains an emitter after every instance of the stream.
    fn chain<U: Clone + Send + 'static>(
        &self,
        make: impl Fn(Box<dyn Emitter<U>>) -> Box<dyn Emitter<T>> + 'static,
    ) -> DataStream<U> {
        let make = Rc::new(make);
        let parts = self
            .parts
            .iter()
            .map(|part| {
                let port = Port::<U>::new();
                let next = port.clone();
                let make = make.clone();
                part.port
                    .add_consumer(Box::new(move |i| make(next.build(i))));
                Part {
                    port,
                    parallelism: part.parallelism,
                }
            })
            .collect();
        DataStream {
            env: self.env.clone(),
            parts,
            timestamps: None,
        }
    }

    /// Counts the stream's records and follows its watermark (and, when its records have
    /// an event time, the newest one) in `meter` (see [`crate::metrics`]). The records
    /// pass unchanged, with their timestamps.
    pub fn metered(&self, meter: &Arc<Meter>) -> DataStream<T> {
        let parts = self
            .parts
            .iter()
            .enumerate()
            .map(|(n, part)| {
                let port = Port::<T>::new();
                let next = port.clone();
                let meter = meter.clone();
                let timestamps = self.timestamps.clone();
                part.port.add_consumer(Box::new(move |i| {
                    Box::new(MeteredEmitter::new(
                        meter.slot(n, i),
                        next.build(i),
                        timestamps.clone(),
                    ))
                }));
                Part {
                    port,
                    parallelism: part.parallelism,
                }
            })
            .collect();
        DataStream {
            env: self.env.clone(),
            parts,
            timestamps: self.timestamps.clone(),
        }
    }

    /// Turns each record into zero or more records.
    pub fn flat_map<U, F>(&self, f: F) -> DataStream<U>
    where
        U: Clone + Send + 'static,
        F: Fn(T, &mut Vec<U>) + Send + Sync + 'static,
    {
        let f: FlatMapFn<T, U> = Arc::new(f);
        self.chain(move |next| Box::new(FlatMapEmitter::new(f.clone(), next)))
    }

    /// Turns each record into zero or more records of a main and of a side output (for
    /// example results and records that could not be handled), with state of each
    /// instance's own: `init(instance)` makes it when the instance starts (a model's
    /// scratch buffers, a parser). Timestamps are not kept: the outputs get new records.
    pub fn flat_map_split<S, U, V, I, F>(&self, init: I, f: F) -> (DataStream<U>, DataStream<V>)
    where
        S: Send + 'static,
        U: Clone + Send + 'static,
        V: Clone + Send + 'static,
        I: Fn(usize) -> S + 'static,
        F: Fn(&mut S, T, &mut Vec<U>, &mut Vec<V>) + Send + Sync + 'static,
    {
        let f: SplitFn<S, T, U, V> = Arc::new(f);
        self.split_with(init, move |state, next, next_side| {
            Box::new(SplitEmitter::new(state, f.clone(), next, next_side))
        })
    }

    /// [`DataStream::flat_map_split`] where `before` sees each batch of records first,
    /// with the instance's state (to fetch what the batch needs in one request, as
    /// Flink's async I/O batches lookups).
    pub fn flat_map_split_batched<S, U, V, I, B, F>(
        &self,
        init: I,
        before: B,
        f: F,
    ) -> (DataStream<U>, DataStream<V>)
    where
        S: Send + 'static,
        U: Clone + Send + 'static,
        V: Clone + Send + 'static,
        I: Fn(usize) -> S + 'static,
        B: Fn(&mut S, &[T]) + Send + Sync + 'static,
        F: Fn(&mut S, T, &mut Vec<U>, &mut Vec<V>) + Send + Sync + 'static,
    {
        let (before, f): (BatchFn<S, T>, SplitFn<S, T, U, V>) = (Arc::new(before), Arc::new(f));
        self.split_with(init, move |state, next, next_side| {
            Box::new(
                SplitEmitter::new(state, f.clone(), next, next_side).with_batches(before.clone()),
            )
        })
    }

    /// [`DataStream::flat_map_split`] whose records need a read of an outside system
    /// first, done asynchronously as Flink's async I/O does (see [`crate::async_io`]):
    /// `start` looks at each batch with the instance's state and gives the read the batch
    /// needs, done on a worker thread while earlier batches go on; `f` sees each record
    /// once its batch's read is applied to the state. Order is kept.
    pub fn flat_map_split_async<S, U, V, I, B, F>(
        &self,
        init: I,
        start: B,
        f: F,
    ) -> (DataStream<U>, DataStream<V>)
    where
        S: Send + 'static,
        U: Clone + Send + 'static,
        V: Clone + Send + 'static,
        I: Fn(usize) -> S + 'static,
        B: Fn(&mut S, &[T]) -> Option<Fetch<S>> + Send + Sync + 'static,
        F: Fn(&mut S, T, &mut Vec<U>, &mut Vec<V>) + Send + Sync + 'static,
    {
        let (start, f): (StartFn<S, T>, SplitFn<S, T, U, V>) = (Arc::new(start), Arc::new(f));
        self.split_with(init, move |state, next, next_side| {
            Box::new(AsyncSplitEmitter::new(
                state,
                start.clone(),
                f.clone(),
                next,
                next_side,
            ))
        })
    }

    /// A step of two outputs: `make` builds each instance's emitter from its state (made
    /// by `init`) and the emitters of the two outputs.
    fn split_with<S, U, V, I, M>(&self, init: I, make: M) -> (DataStream<U>, DataStream<V>)
    where
        S: Send + 'static,
        U: Clone + Send + 'static,
        V: Clone + Send + 'static,
        I: Fn(usize) -> S + 'static,
        M: Fn(S, Box<dyn Emitter<U>>, Box<dyn Emitter<V>>) -> Box<dyn Emitter<T>> + 'static,
    {
        let (init, make) = (Rc::new(init), Rc::new(make));
        let mut main_parts = Vec::new();
        let mut side_parts = Vec::new();
        for part in &self.parts {
            let (main, side) = (Port::<U>::new(), Port::<V>::new());
            let (next, next_side) = (main.clone(), side.clone());
            let (init, make) = (init.clone(), make.clone());
            part.port.add_consumer(Box::new(move |i| {
                make(init(i), next.build(i), next_side.build(i))
            }));
            main_parts.push(Part {
                port: main,
                parallelism: part.parallelism,
            });
            side_parts.push(Part {
                port: side,
                parallelism: part.parallelism,
            });
        }
        let main = DataStream {
            env: self.env.clone(),
            parts: main_parts,
            timestamps: None,
        };
        let side = DataStream {
            env: self.env.clone(),
            parts: side_parts,
            timestamps: None,
        };
        (main, side)
    }

    /// Turns each record into another.
    pub fn map<U, F>(&self, f: F) -> DataStream<U>
    where
        U: Clone + Send + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.flat_map(move |t, out| out.push(f(t)))
    }

    /// Keeps the records for which `predicate` holds. Timestamps are kept.
    pub fn filter<F>(&self, predicate: F) -> DataStream<T>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        let mut s = self.flat_map(move |t, out| {
            if predicate(&t) {
                out.push(t)
            }
        });
        s.timestamps = self.timestamps.clone();
        s
    }

    /// Gives each record its event timestamp and generates watermarks by `strategy`.
    pub fn assign_timestamps_and_watermarks(
        &self,
        strategy: WatermarkStrategy<T>,
    ) -> DataStream<T> {
        let timestamps = strategy.timestamp_fn();
        let mut s = self.chain(move |next| Box::new(WatermarkEmitter::new(strategy.clone(), next)));
        s.timestamps = Some(timestamps);
        s
    }

    /// Merges streams of the same type. Each record keeps its event time: of inputs
    /// timed differently, the first whose timestamp function finds a time (not
    /// `Timestamp::MIN`) gives it.
    pub fn union(&self, other: &DataStream<T>) -> DataStream<T> {
        let mut parts = self.parts.clone();
        parts.extend(other.parts.iter().cloned());
        DataStream {
            env: self.env.clone(),
            parts,
            timestamps: match (&self.timestamps, &other.timestamps) {
                (Some(a), Some(b)) if !Arc::ptr_eq(a, b) => {
                    // Records of differently shaped inputs (a window's results and a
                    // pattern's matches) each carry their time where their own input
                    // puts it: the first function that finds one gives it.
                    let (a, b) = (a.clone(), b.clone());
                    Some(Arc::new(move |r: &T| match a(r) {
                        crate::time::Timestamp::MIN => b(r),
                        t => t,
                    }) as TimestampFn<T>)
                }
                (a, b) => a.clone().or_else(|| b.clone()),
            },
        }
    }

    /// Partitions the stream by key: records with equal keys go to the same instance of
    /// the next stateful operator.
    pub fn key_by<K, F>(&self, key: F) -> KeyedStream<K, T>
    where
        K: Hash + Eq + Clone + Send + 'static,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        KeyedStream {
            stream: self.clone(),
            key: Arc::new(key),
        }
    }

    /// Connects the stream to a new operator of `parallelism` instances over channels.
    /// Returns the channels' receiving ends and the number of inputs of each instance.
    /// With `blocked`, the time the senders wait for room in full channels is counted
    /// there (one slot per sending instance).
    pub(crate) fn exchange(
        &self,
        parallelism: usize,
        partitioner: impl Fn() -> Partitioner<T> + 'static,
        blocked: Option<Arc<Meter>>,
    ) -> (Channels<T>, usize) {
        let channels = Channels::new(parallelism);
        let partitioner = Rc::new(partitioner);
        let mut offset = 0;
        for part in &self.parts {
            let senders = channels.senders();
            let partitioner = partitioner.clone();
            let base = offset;
            let blocked = blocked.clone();
            part.port.add_consumer(Box::new(move |i| {
                let emitter = ExchangeEmitter::new(base + i, senders.clone(), partitioner());
                Box::new(match &blocked {
                    Some(meter) => emitter.counting_blocked(meter.slot(0, base + i)),
                    None => emitter,
                })
            }));
            offset += part.parallelism;
        }
        (channels, offset)
    }

    /// Adds an operator stage: `parallelism` instances, each made by `factory(instance,
    /// output)`, fed from this stream through `partitioner`.
    pub fn operator<U, F, Op>(
        &self,
        name: &str,
        parallelism: usize,
        partitioner: impl Fn() -> Partitioner<T> + 'static,
        factory: F,
    ) -> DataStream<U>
    where
        U: Clone + Send + 'static,
        Op: Operator<T> + 'static,
        F: Fn(usize, Box<dyn Emitter<U>>) -> Op + 'static,
    {
        let port = Port::<U>::new();
        self.stage(name, parallelism, partitioner, {
            let port = port.clone();
            move |i| factory(i, port.build(i))
        });
        DataStream {
            env: self.env.clone(),
            parts: vec![Part {
                port,
                parallelism: parallelism.max(1),
            }],
            timestamps: None,
        }
    }

    /// Adds a stage whose instances `factory(instance)` builds; the factory builds the
    /// instance's outputs itself (for operators with side outputs).
    pub(crate) fn stage<Op, F>(
        &self,
        name: &str,
        parallelism: usize,
        partitioner: impl Fn() -> Partitioner<T> + 'static,
        factory: F,
    ) where
        Op: Operator<T> + 'static,
        F: Fn(usize) -> Op + 'static,
    {
        let parallelism = parallelism.max(1);
        let name = self.env.operator_name(name);
        let blocked = self.env.backpressure_meter(&name);
        let (mut channels, inputs) = self.exchange(parallelism, partitioner, blocked);
        self.env.add_launcher(Box::new(move |launch: &mut Launch| {
            let senders = channels.senders();
            (0..parallelism)
                .map(|i| {
                    let op = factory(i);
                    let rx: crossbeam_channel::Receiver<Envelope<T>> = channels.take_receiver(i);
                    let task = launch.task(&name, i, parallelism);
                    let restore = launch.restored(&name, i, parallelism);
                    if launch.acks.is_some() {
                        let tx = senders[i].clone();
                        launch.endpoints.push(TaskEndpoint {
                            operator: name.clone(),
                            instance: i,
                            parallelism,
                            source: None,
                            notify: Some(Box::new(move |done| {
                                let _ = tx.send(Envelope {
                                    from: NOTIFY,
                                    message: Message::Complete(done),
                                });
                            })),
                        });
                    }
                    let thread_name = instance_name(&name, i, parallelism);
                    let handle = std::thread::Builder::new()
                        .name(thread_name.clone())
                        .spawn(move || {
                            let mut op = op;
                            // Dropped before `op` and its outputs: a failure is known before
                            // the instances downstream see this one's output end.
                            let failed = CancelOnFailure::new(&task.cancelled);
                            let result = run_operator(&mut op, rx, inputs, task, restore);
                            failed.finished(result.is_ok());
                            result
                        })
                        .expect("spawn an operator thread");
                    (thread_name, handle)
                })
                .collect()
        }));
    }

    /// Writes the stream to a sink of `parallelism` instances made by `factory(instance)`.
    pub fn sink<S, F>(&self, name: &str, parallelism: usize, factory: F)
    where
        S: Sink<T> + 'static,
        F: Fn(usize) -> Result<S, BoxError> + 'static,
    {
        let tracked = self
            .env
            .inner
            .borrow()
            .deliveries
            .as_ref()
            .map(|d| d.track(parallelism.max(1)));
        self.stage(
            name,
            parallelism,
            || Partitioner::Forward,
            move |i| SinkOperator::new(factory(i)).tracked(tracked.as_ref().map(|t| t.instance(i))),
        );
    }

    /// Declares how to read the event time of records whose watermarks were generated
    /// upstream (for example after a step that rebuilt the records but kept their time).
    pub fn with_timestamp_fn(mut self, timestamps: TimestampFn<T>) -> Self {
        self.timestamps = Some(timestamps);
        self
    }

    /// Declares that the records carry the event time of `input`'s, read the same way
    /// (for a step that passes records of `input` on, or rebuilds them keeping their
    /// time); nothing changes when `input` carries no event time.
    pub fn with_timestamps_of(mut self, input: &DataStream<T>) -> Self {
        if input.timestamps.is_some() {
            self.timestamps = input.timestamps.clone();
        }
        self
    }

    /// A stream that an operator still to be defined will produce with `parallelism`
    /// instances (a side output, such as a source's dead letters); the operator builds
    /// its emitters with [`DataStream::port_emitter`].
    pub fn new_port_stream(env: &Environment, parallelism: usize) -> DataStream<T> {
        DataStream {
            env: env.clone(),
            parts: vec![Part {
                port: Port::new(),
                parallelism: parallelism.max(1),
            }],
            timestamps: None,
        }
    }

    /// The emitter of instance `instance` of the operator producing a stream made by
    /// [`DataStream::new_port_stream`].
    pub fn port_emitter(&self, instance: usize) -> Box<dyn Emitter<T>> {
        self.parts[0].port.build(instance)
    }

    /// Collects the stream into memory; the records can be taken after
    /// [`Environment::execute`] returns.
    pub fn collect(&self) -> Collected<T> {
        let items = Arc::new(Mutex::new(Vec::new()));
        let shared = items.clone();
        self.sink("collect", 1, move |_| {
            Ok(crate::sink::VecSink::new(shared.clone()))
        });
        Collected { items }
    }
}

/// The records a [`DataStream::collect`] sink gathered.
pub struct Collected<T> {
    items: Arc<Mutex<Vec<T>>>,
}

impl<T> Collected<T> {
    /// Takes the records gathered so far.
    pub fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.items.lock().expect("collect sink lock"))
    }
}

/// A stream partitioned by key.
pub struct KeyedStream<K, T> {
    pub(crate) stream: DataStream<T>,
    pub(crate) key: Arc<dyn Fn(&T) -> K + Send + Sync>,
}

impl<K, T> Clone for KeyedStream<K, T> {
    fn clone(&self) -> Self {
        KeyedStream {
            stream: self.stream.clone(),
            key: self.key.clone(),
        }
    }
}

impl<K, T> KeyedStream<K, T>
where
    K: Hash + Eq + Clone + Send + 'static,
    T: Clone + Send + 'static,
{
    /// The stream before keying.
    pub fn stream(&self) -> &DataStream<T> {
        &self.stream
    }

    /// The key extractor.
    pub fn key_fn(&self) -> Arc<dyn Fn(&T) -> K + Send + Sync> {
        self.key.clone()
    }

    /// A partitioner that sends each record to the instance owning its key group.
    pub fn partitioner(&self) -> impl Fn() -> Partitioner<T> + 'static {
        let key = self.key.clone();
        move || {
            let key = key.clone();
            Partitioner::Hash(Arc::new(move |t: &T| key_hash(&key(t))))
        }
    }
}
