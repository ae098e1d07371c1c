//! Keyed windows: tumbling, sliding, session and count windows with Flink's semantics.
//!
//! - Tumbling and sliding windows are aligned to epoch 0 (or an offset) and are `[start,
//!   end)`; one fires when the watermark reaches `end - 1`. Sliding windows keep one
//!   accumulator per key and *slice* (a pane of `gcd(size, slide)`), never one per window,
//!   and combine the slices of a window when it fires ([`sliced`]).
//! - Session windows open `[ts, ts + gap)` per event and merge windows that overlap or touch
//!   ([`session`]).
//! - Count windows fire every N records of a key ([`count`]).
//! - With allowed lateness, a late record whose window is still within the lateness fires
//!   the window again at once; a record too late for all its windows goes to the late
//!   side output.

pub mod aggregate;
pub mod count;
pub mod session;
pub mod sliced;

use crate::checkpoint::StateKey;
use std::sync::Arc;
use std::time::Duration;

pub use aggregate::{AggregateFunction, CollectAll, Count};

use crate::emitter::Collector;
use crate::stream::{DataStream, KeyedStream};
use crate::time::{TimeDomain, TimeWindow};

/// Which windows a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowAssigner {
    /// Fixed-size, non-overlapping windows.
    Tumbling {
        /// The window length in milliseconds.
        size: i64,
        /// Where windows are aligned, in milliseconds after epoch 0.
        offset: i64,
        /// The clock.
        domain: TimeDomain,
    },
    /// Fixed-size windows starting every `slide`.
    Sliding {
        /// The window length in milliseconds.
        size: i64,
        /// The distance between window starts in milliseconds.
        slide: i64,
        /// Where windows are aligned, in milliseconds after epoch 0.
        offset: i64,
        /// The clock.
        domain: TimeDomain,
    },
    /// Windows of activity separated by gaps of at least `gap` milliseconds.
    Session {
        /// The inactivity gap in milliseconds.
        gap: i64,
        /// The clock.
        domain: TimeDomain,
    },
}

fn millis(d: Duration) -> i64 {
    d.as_millis() as i64
}

impl WindowAssigner {
    /// Event-time tumbling windows of `size`.
    pub fn tumbling(size: Duration) -> Self {
        WindowAssigner::Tumbling {
            size: millis(size),
            offset: 0,
            domain: TimeDomain::EventTime,
        }
    }

    /// Event-time sliding windows of `size` every `slide`.
    pub fn sliding(size: Duration, slide: Duration) -> Self {
        WindowAssigner::Sliding {
            size: millis(size),
            slide: millis(slide),
            offset: 0,
            domain: TimeDomain::EventTime,
        }
    }

    /// Event-time session windows with `gap`.
    pub fn session(gap: Duration) -> Self {
        WindowAssigner::Session {
            gap: millis(gap),
            domain: TimeDomain::EventTime,
        }
    }

    /// The same windows over processing time.
    pub fn processing_time(self) -> Self {
        self.with_domain(TimeDomain::ProcessingTime)
    }

    /// The same windows over the given clock.
    pub fn with_domain(self, d: TimeDomain) -> Self {
        match self {
            WindowAssigner::Tumbling { size, offset, .. } => WindowAssigner::Tumbling {
                size,
                offset,
                domain: d,
            },
            WindowAssigner::Sliding {
                size,
                slide,
                offset,
                ..
            } => WindowAssigner::Sliding {
                size,
                slide,
                offset,
                domain: d,
            },
            WindowAssigner::Session { gap, .. } => WindowAssigner::Session { gap, domain: d },
        }
    }

    /// The clock of the windows.
    pub fn domain(&self) -> TimeDomain {
        match self {
            WindowAssigner::Tumbling { domain, .. }
            | WindowAssigner::Sliding { domain, .. }
            | WindowAssigner::Session { domain, .. } => *domain,
        }
    }
}

/// What a window operator produces: its results and the late records it dropped.
pub struct Windowed<O, T> {
    /// One record per window firing.
    pub results: DataStream<O>,
    /// Records too late for every window they belong to, unchanged.
    pub late: DataStream<T>,
}

/// Turns a fired window's accumulator into output records.
pub type EmitFn<K, Acc, O> = Arc<dyn Fn(&K, TimeWindow, &Acc, &mut Collector<O>) + Send + Sync>;

/// A keyed stream with a window assigner, waiting for its window function.
pub struct WindowedStream<K, T> {
    keyed: KeyedStream<K, T>,
    assigner: WindowAssigner,
    allowed_lateness: i64,
    parallelism: Option<usize>,
    name: Option<String>,
}

impl<K, T> KeyedStream<K, T>
where
    K: StateKey,
    T: Clone + Send + 'static,
{
    /// Groups the keyed stream into windows.
    pub fn window(&self, assigner: WindowAssigner) -> WindowedStream<K, T> {
        WindowedStream {
            keyed: self.clone(),
            assigner,
            allowed_lateness: 0,
            parallelism: None,
            name: None,
        }
    }
}

impl<K, T> WindowedStream<K, T>
where
    K: StateKey,
    T: Clone + Send + 'static,
{
    /// Keeps windows for `lateness` after they fired; late records within it fire them again.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.allowed_lateness = millis(lateness);
        self
    }

    /// Names the window operator (its state is found by this name in snapshots).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Runs the window operator with `parallelism` instances (default: the environment's).
    pub fn parallelism(mut self, parallelism: usize) -> Self {
        self.parallelism = Some(parallelism);
        self
    }

    /// Aggregates each window incrementally with `agg`; `result` makes the output record
    /// from the key, the window and the aggregate's result.
    pub fn aggregate<A, O, F>(self, agg: A, result: F) -> Windowed<O, T>
    where
        A: AggregateFunction<T>,
        O: Clone + Send + 'static,
        F: Fn(&K, TimeWindow, A::Out) -> O + Send + Sync + 'static,
    {
        let agg = Arc::new(agg);
        let a = agg.clone();
        let emit: EmitFn<K, A::Acc, O> =
            Arc::new(move |k, w, acc, out| out.collect(result(k, w, a.result(acc))));
        self.build(agg, emit)
    }

    /// Calls `f` with all records of each window when it fires (Flink's
    /// `ProcessWindowFunction`); `f` may emit any number of records.
    pub fn process<O, F>(self, f: F) -> Windowed<O, T>
    where
        T: crate::checkpoint::StateValue,
        O: Clone + Send + 'static,
        F: Fn(&K, TimeWindow, &[T], &mut Collector<O>) + Send + Sync + 'static,
    {
        let emit: EmitFn<K, Vec<T>, O> = Arc::new(move |k, w, all, out| f(k, w, all, out));
        self.build(Arc::new(CollectAll), emit)
    }

    fn build<A, O>(self, agg: Arc<A>, emit: EmitFn<K, A::Acc, O>) -> Windowed<O, T>
    where
        A: AggregateFunction<T>,
        O: Clone + Send + 'static,
    {
        let stream = self.keyed.stream();
        let parallelism = self
            .parallelism
            .unwrap_or_else(|| stream.env().parallelism());
        let timestamps = match self.assigner.domain() {
            TimeDomain::EventTime => Some(stream.timestamps().expect(
                "event-time windows need timestamps: call assign_timestamps_and_watermarks first",
            )),
            TimeDomain::ProcessingTime => None,
        };
        let default_name = match self.assigner {
            WindowAssigner::Session { .. } => "session-window",
            _ => "window",
        };
        let spec = OperatorSpec {
            name: self.name.unwrap_or_else(|| default_name.to_string()),
            key: self.keyed.key_fn(),
            timestamps,
            agg,
            emit,
            allowed_lateness: self.allowed_lateness,
        };
        match self.assigner {
            WindowAssigner::Session { gap, domain } => {
                session::build(&self.keyed, parallelism, gap, domain, spec)
            }
            WindowAssigner::Tumbling {
                size,
                offset,
                domain,
            } => sliced::build(&self.keyed, parallelism, size, size, offset, domain, spec),
            WindowAssigner::Sliding {
                size,
                slide,
                offset,
                domain,
            } => sliced::build(&self.keyed, parallelism, size, slide, offset, domain, spec),
        }
    }
}

/// What every window operator needs, whatever its windows.
pub(crate) struct OperatorSpec<K, T, A: AggregateFunction<T>, O> {
    pub name: String,
    pub key: Arc<dyn Fn(&T) -> K + Send + Sync>,
    pub timestamps: Option<crate::watermark::TimestampFn<T>>,
    pub agg: Arc<A>,
    pub emit: EmitFn<K, A::Acc, O>,
    pub allowed_lateness: i64,
}

impl<K, T, A: AggregateFunction<T>, O> Clone for OperatorSpec<K, T, A, O> {
    fn clone(&self) -> Self {
        OperatorSpec {
            name: self.name.clone(),
            key: self.key.clone(),
            timestamps: self.timestamps.clone(),
            agg: self.agg.clone(),
            emit: self.emit.clone(),
            allowed_lateness: self.allowed_lateness,
        }
    }
}

/// What the window operators' tests share: records, an output that keeps what it is sent,
/// and snapshots taken, encoded and split as the coordinator and the store do.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    use crate::checkpoint::state_file::{self, TaskGroups};
    use crate::checkpoint::{
        Barrier, BarrierKind, KeyGroups, RestoredState, SnapshotFn, StateTarget,
    };
    use crate::emitter::Emitter;
    use crate::exchange::{key_group, key_hash};
    use crate::time::Timestamp;

    /// Both state backends (the disk one in a temporary folder, kept as long as the
    /// returned folder).
    pub fn backends() -> (tempfile::TempDir, [crate::state::StateBackend; 2]) {
        let dir = tempfile::tempdir().unwrap();
        let disk = crate::state::StateBackend::disk(dir.path()).unwrap();
        (dir, [crate::state::StateBackend::Memory, disk])
    }

    /// A record: key, event time, id.
    pub type Rec = (u64, i64, u64);

    /// An output that keeps every record it is sent.
    pub struct Kept<T>(pub Arc<Mutex<Vec<T>>>);

    impl<T> Clone for Kept<T> {
        fn clone(&self) -> Self {
            Kept(self.0.clone())
        }
    }

    impl<T> Default for Kept<T> {
        fn default() -> Self {
            Kept(Arc::default())
        }
    }

    impl<T> Kept<T> {
        /// Everything sent so far.
        pub fn take(&self) -> Vec<T> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl<T: Send> Emitter<T> for Kept<T> {
        fn emit(&mut self, batch: &mut Vec<T>) {
            self.0.lock().unwrap().append(batch);
        }
        fn watermark(&mut self, _: Timestamp) {}
        fn idle(&mut self, _: bool) {}
        fn barrier(&mut self, _: Barrier) {}
        fn flush(&mut self) {}
        fn end(&mut self) {}
    }

    /// A checkpoint barrier.
    pub const BARRIER: Barrier = Barrier {
        id: 1,
        kind: BarrierKind::Checkpoint,
    };

    /// A snapshot's state file, as the coordinator writes it (kept as long as the value).
    pub struct Written {
        _dir: tempfile::TempDir,
        groups: TaskGroups,
    }

    /// Runs the second step of a snapshot into a state file whose writer spills often (so
    /// that key groups span many chunks), and checks that every chunk holds only keys of
    /// its own group (`keys_of` reads the keys of a group's entries encoded as a list).
    pub fn finish<K: std::hash::Hash>(
        snapshot: SnapshotFn,
        keys_of: impl Fn(&[u8]) -> Vec<K>,
    ) -> Written {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("op.0.state");
        let mut target = StateTarget::with_spill_bytes(&path, 512);
        let state = snapshot(&mut target).unwrap();
        target.finish(&state.splits).unwrap().expect("a state file");
        let (groups, _) = state_file::read(&path).unwrap();
        let TaskGroups::Chunks { chunks, .. } = &groups else {
            panic!("no keyed state");
        };
        let mut file = std::fs::File::open(&path).unwrap();
        let mut buf = Vec::new();
        for chunk in chunks {
            state_file::read_chunk(&mut file, &path, chunk, &mut buf).unwrap();
            let mut list = vec![0xdd];
            list.extend_from_slice(&chunk.entries.to_be_bytes());
            list.extend_from_slice(&buf);
            for k in keys_of(&list) {
                assert_eq!(
                    key_group(key_hash(&k)) as u16,
                    chunk.group,
                    "a key in a foreign group"
                );
            }
        }
        Written { _dir: dir, groups }
    }

    /// The part of a snapshot that instance `instance` of `parallelism` restores.
    pub fn part(state: &Written, instance: usize, parallelism: usize) -> RestoredState {
        let mut key_groups = KeyGroups::default();
        key_groups.add_owned(&state.groups, instance, parallelism);
        RestoredState {
            key_groups,
            splits: Vec::new(),
        }
    }
}
