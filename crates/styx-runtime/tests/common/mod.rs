//! Helpers shared by the runtime's integration tests.

#![allow(dead_code)]

pub mod model;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use styx_runtime::checkpoint::{decode, encode, Barrier, RestoredState, SnapshotFn, TaskState};
use styx_runtime::prelude::*;
pub use styx_runtime::state::StateBackend;
use styx_runtime::window::AggregateFunction;

pub use model::Spec;

/// A test record: a key, an event timestamp and a unique id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Rec {
    pub key: u8,
    pub ts: i64,
    pub id: u32,
}

/// Collects the ids of a window's records (in arrival order; merged accumulators are
/// concatenated).
pub struct Ids;

impl AggregateFunction<Rec> for Ids {
    type Acc = Vec<u32>;
    type Out = Vec<u32>;
    fn create(&self) -> Vec<u32> {
        Vec::new()
    }
    fn add(&self, acc: &mut Vec<u32>, r: &Rec) {
        acc.push(r.id);
    }
    fn merge(&self, acc: &mut Vec<u32>, other: &Vec<u32>) {
        acc.extend_from_slice(other);
    }
    fn result(&self, acc: &Vec<u32>) -> Vec<u32> {
        let mut ids = acc.clone();
        ids.sort_unstable();
        ids
    }
}

/// A window result: key, start, end and the sorted ids of the window's records.
pub type Fired = (u8, i64, i64, Vec<u32>);

/// The assigner of a model spec (event time).
pub fn assigner(spec: Spec) -> WindowAssigner {
    let ms = |v: i64| Duration::from_millis(v as u64);
    match spec {
        Spec::Tumbling(size) => WindowAssigner::tumbling(ms(size)),
        Spec::Sliding(size, slide) => WindowAssigner::sliding(ms(size), ms(slide)),
        Spec::Session(gap) => WindowAssigner::session(ms(gap)),
    }
}

/// How the engine job of [`run_engine`] computes its window results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// An incremental aggregate.
    Aggregate,
    /// A full-window process function.
    Process,
}

/// Runs `records` through a window job on the engine: one source read in order, per-event
/// bounded-out-of-orderness watermarks, key_by(key), the window with `parallelism`
/// instances. Returns the sorted results and the sorted ids of the late output.
pub fn run_engine(
    records: &[Rec],
    spec: Spec,
    out_of_orderness: i64,
    lateness: i64,
    parallelism: usize,
    function: Function,
) -> (Vec<Fired>, Vec<u32>) {
    run_engine_on(
        StateBackend::Memory,
        records,
        spec,
        out_of_orderness,
        lateness,
        parallelism,
        function,
    )
}

/// [`run_engine`] with the window state kept in `backend`.
pub fn run_engine_on(
    backend: StateBackend,
    records: &[Rec],
    spec: Spec,
    out_of_orderness: i64,
    lateness: i64,
    parallelism: usize,
    function: Function,
) -> (Vec<Fired>, Vec<u32>) {
    let env = Environment::new(parallelism);
    env.set_state_backend(backend);
    let windowed = env
        .from_iter(records.to_vec())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::bounded_out_of_orderness(
                Duration::from_millis(out_of_orderness as u64),
                |r: &Rec| r.ts,
            )
            .with_emission(Emission::PerEvent),
        )
        .key_by(|r: &Rec| r.key)
        .window(assigner(spec))
        .allowed_lateness(Duration::from_millis(lateness as u64));
    let windowed = match function {
        Function::Aggregate => windowed.aggregate(Ids, |k, w, ids| (*k, w.start, w.end, ids)),
        Function::Process => windowed.process(|k, w, records, out| {
            let mut ids: Vec<u32> = records.iter().map(|r| r.id).collect();
            ids.sort_unstable();
            out.collect((*k, w.start, w.end, ids));
        }),
    };
    let results = windowed.results.collect();
    let late = windowed.late.collect();
    env.execute().expect("the job runs");
    let mut results = results.take();
    results.sort();
    let mut late: Vec<u32> = late.take().iter().map(|r| r.id).collect();
    late.sort_unstable();
    (results, late)
}

/// Runs `records` through the reference model; sorted as [`run_engine`] sorts.
pub fn run_model(
    records: &[Rec],
    spec: Spec,
    out_of_orderness: i64,
    lateness: i64,
) -> (Vec<Fired>, Vec<u32>) {
    let events: Vec<(u8, i64, u32)> = records.iter().map(|r| (r.key, r.ts, r.id)).collect();
    let (fired, late) = model::run(&events, spec, out_of_orderness, lateness);
    let mut fired: Vec<Fired> = fired
        .into_iter()
        .map(|(k, (s, e), mut ids)| {
            ids.sort_unstable();
            (k, s, e, ids)
        })
        .collect();
    fired.sort();
    let mut late = late;
    late.sort_unstable();
    (fired, late)
}

/// Records from (key, timestamp) pairs, with ids in input order.
pub fn recs(items: &[(u8, i64)]) -> Vec<Rec> {
    items
        .iter()
        .enumerate()
        .map(|(i, &(key, ts))| Rec {
            key,
            ts,
            id: i as u32,
        })
        .collect()
}

/// A source driven by a closure: each poll calls it with the batch to fill.
pub struct FnSource<F>(pub F);

impl<T, F> Source<T> for FnSource<F>
where
    F: FnMut(&mut Vec<T>) -> Poll + Send,
{
    fn poll(&mut self, out: &mut Vec<T>, _max: usize) -> Result<Poll, BoxError> {
        Ok((self.0)(out))
    }
}

/// Emits `items` in order and holds at item `hold` until it is raised (telling in
/// `reached` where it holds); its position is its checkpointed state, so that a job
/// stopped with a savepoint resumes reading where it stopped.
pub struct Held<T> {
    pub items: Arc<Vec<T>>,
    pub next: u64,
    pub hold: Arc<AtomicU64>,
    pub reached: Arc<AtomicU64>,
}

impl<T> Held<T> {
    /// Reads `items` from the first, holding at `hold`.
    pub fn new(items: &Arc<Vec<T>>, hold: u64, reached: &Arc<AtomicU64>) -> Self {
        Held {
            items: items.clone(),
            next: 0,
            hold: Arc::new(AtomicU64::new(hold)),
            reached: reached.clone(),
        }
    }
}

impl<T: Clone + Send + Sync> Source<T> for Held<T> {
    fn poll(&mut self, out: &mut Vec<T>, max: usize) -> Result<Poll, BoxError> {
        for _ in 0..max {
            let Some(item) = self.items.get(self.next as usize) else {
                return Ok(Poll::Finished);
            };
            if self.next >= self.hold.load(Ordering::SeqCst) {
                self.reached.store(self.next, Ordering::SeqCst);
                return Ok(Poll::Idle);
            }
            out.push(item.clone());
            self.next += 1;
        }
        Ok(Poll::Ready)
    }

    fn snapshot(&mut self, _: Barrier) -> Result<SnapshotFn, BoxError> {
        let next = self.next;
        Ok(Box::new(move |_| {
            Ok(TaskState {
                splits: vec![("held".into(), encode(&next)?)],
            })
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        for (_, bytes) in state.splits {
            self.next = decode(&bytes)?;
        }
        Ok(())
    }
}

/// A bound on how long a test waits for something that must happen, so that a broken
/// engine fails the test instead of hanging it. It never decides a result by itself.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `f` on a thread and fails the test if it has not returned within [`PATIENCE`].
pub fn within_patience<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE)
        .expect("the job hung or its thread panicked")
}
