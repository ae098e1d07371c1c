//! Count windows: fire every N records of a key (Flink's `countWindow`).
//!
//! A tumbling count window of `size` fires with the key's last `size` records and starts
//! over. A sliding count window of `size` and `slide` fires every `slide` records with the
//! key's last `size` records. Count windows are not time windows: a window that is not
//! full when the input ends does not fire.

use std::collections::VecDeque;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{
    encode_by_key_group, Barrier, KeyGroupWriter, RestoredState, SnapshotFn, StateKey, StateValue,
    TaskState,
};
use crate::emitter::{Collector, Emitter};
use crate::error::BoxError;
use crate::operator::Operator;
use crate::state::Table;
use crate::stream::{DataStream, KeyedStream};
use crate::time::{TimeWindow, Timestamp, MAX_WATERMARK, MIN_WATERMARK};
use crate::window::AggregateFunction;

/// The window that count windows report: all of time.
pub const GLOBAL_WINDOW: TimeWindow = TimeWindow {
    start: MIN_WATERMARK,
    end: MAX_WATERMARK,
};

/// A key's records since its window last started, and how many came since it fired.
/// Stored as a snapshot stores it: the records, then the count.
#[derive(Clone, Serialize, Deserialize)]
struct KeyState<T> {
    recent: VecDeque<T>,
    since_fire: u64,
}

/// The count window operator instance.
pub struct CountWindowOperator<K, T, A, O, F> {
    key: Arc<dyn Fn(&T) -> K + Send + Sync>,
    agg: Arc<A>,
    result: Arc<F>,
    size: usize,
    slide: u64,
    keys: Table<K, KeyState<T>>,
    out: Collector<O>,
}

impl<K, T, A, O, F> Operator<T> for CountWindowOperator<K, T, A, O, F>
where
    K: StateKey,
    T: StateValue,
    A: AggregateFunction<T>,
    O: Send,
    F: Fn(&K, A::Out) -> O + Send + Sync,
{
    fn process(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError> {
        for item in batch.drain(..) {
            let key = (self.key)(&item);
            let size = self.size;
            let mut slot = self.keys.slot(&key, || KeyState {
                recent: VecDeque::with_capacity(size),
                since_fire: 0,
            })?;
            let state = slot.value();
            if state.recent.len() == self.size {
                state.recent.pop_front();
            }
            state.recent.push_back(item);
            state.since_fire += 1;
            if state.since_fire == self.slide {
                state.since_fire = 0;
                let mut acc = self.agg.create();
                for r in &state.recent {
                    self.agg.add(&mut acc, r);
                }
                self.out.collect((self.result)(&key, self.agg.result(&acc)));
                if self.slide as usize >= self.size {
                    state.recent.clear();
                }
            }
            slot.keep()?;
        }
        Ok(())
    }

    fn on_watermark(&mut self, watermark: Timestamp) -> Result<(), BoxError> {
        self.out.watermark(watermark);
        Ok(())
    }

    fn on_idle(&mut self, idle: bool) -> Result<(), BoxError> {
        self.out.idle(idle);
        Ok(())
    }

    fn on_input_paused(&mut self) -> Result<(), BoxError> {
        self.out.flush();
        Ok(())
    }

    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        let map = match &self.keys {
            Table::Memory(map) => map,
            Table::Disk(_) => {
                // The tree keeps its version at the barrier; the second step encodes it.
                let snapshot = self.keys.snapshot();
                self.out.barrier(barrier);
                return Ok(Box::new(move |target| {
                    let mut groups = KeyGroupWriter::new(target);
                    snapshot.try_for_each(|k, state| groups.add(&k, &state))?;
                    groups.finish()?;
                    Ok(TaskState::default())
                }));
            }
        };
        // Copy now, encode later: processing stops only for a flat copy of every key's
        // recent records (side by side); the snapshot's second step encodes each key's
        // records as a list of their own.
        let total = map.values().map(|s| s.recent.len()).sum();
        let mut records: Vec<T> = Vec::with_capacity(total);
        // Each key with the end of its records in `records` and its count since firing.
        let mut keys: Vec<(K, usize, u64)> = Vec::with_capacity(map.len());
        for (k, s) in map {
            let (front, back) = s.recent.as_slices();
            records.extend_from_slice(front);
            records.extend_from_slice(back);
            keys.push((k.clone(), records.len(), s.since_fire));
        }
        self.out.barrier(barrier);
        Ok(Box::new(move |target| {
            let mut start = 0;
            let entries = keys.iter().map(|(k, end, since_fire)| {
                let recent = &records[start..*end];
                start = *end;
                (k, (recent, *since_fire))
            });
            encode_by_key_group(target, entries)?;
            Ok(TaskState::default())
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        state
            .key_groups
            .for_each(|key: K, (recent, since_fire): (Vec<T>, u64)| {
                self.keys.insert(
                    key,
                    KeyState {
                        recent: recent.into(),
                        since_fire,
                    },
                )
            })
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        self.out.end();
        Ok(())
    }
}

impl<K, T> KeyedStream<K, T>
where
    K: StateKey,
    T: StateValue,
{
    /// Aggregates every `size` records of a key (a tumbling count window).
    pub fn count_window<A, O, F>(&self, size: usize, agg: A, result: F) -> DataStream<O>
    where
        A: AggregateFunction<T>,
        O: Clone + Send + 'static,
        F: Fn(&K, A::Out) -> O + Send + Sync + 'static,
    {
        self.sliding_count_window(size, size, agg, result)
    }

    /// Aggregates the last `size` records of a key every `slide` records.
    pub fn sliding_count_window<A, O, F>(
        &self,
        size: usize,
        slide: usize,
        agg: A,
        result: F,
    ) -> DataStream<O>
    where
        A: AggregateFunction<T>,
        O: Clone + Send + 'static,
        F: Fn(&K, A::Out) -> O + Send + Sync + 'static,
    {
        assert!(
            size > 0 && slide > 0,
            "count windows need a positive size and slide"
        );
        let key = self.key_fn();
        let agg = Arc::new(agg);
        let result = Arc::new(result);
        let stream = self.stream();
        let backend = stream.env().state_backend();
        stream.operator(
            "count-window",
            stream.env().parallelism(),
            self.partitioner(),
            move |_, out: Box<dyn Emitter<O>>| CountWindowOperator {
                key: key.clone(),
                agg: agg.clone(),
                result: result.clone(),
                size,
                slide: slide as u64,
                keys: backend.table(),
                out: Collector::new(out),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::checkpoint::decode;
    use crate::state::StateBackend;
    use crate::window::testing::{backends, finish, part, Kept, Rec, BARRIER};
    use crate::window::CollectAll;

    type Out = (u64, Vec<Rec>);
    type ResultFn = fn(&u64, Vec<Rec>) -> Out;
    type Op = CountWindowOperator<u64, Rec, CollectAll, Out, ResultFn>;

    fn operator(size: usize, slide: u64) -> (Op, Kept<Out>) {
        operator_on(StateBackend::Memory, size, slide)
    }

    fn operator_on(backend: StateBackend, size: usize, slide: u64) -> (Op, Kept<Out>) {
        let kept = Kept::default();
        let result: ResultFn = |k, recs| (*k, recs);
        let op = CountWindowOperator {
            key: Arc::new(|r: &Rec| r.0),
            agg: Arc::new(CollectAll),
            result: Arc::new(result),
            size,
            slide,
            keys: backend.table(),
            out: Collector::new(Box::new(kept.clone())),
        };
        (op, kept)
    }

    /// Every key's recent records and its count since it last fired.
    fn state(op: &Op) -> BTreeMap<u64, (Vec<Rec>, u64)> {
        op.keys
            .entries()
            .unwrap()
            .into_iter()
            .map(|(k, s)| (k, (s.recent.into_iter().collect(), s.since_fire)))
            .collect()
    }

    /// Records of 400 keys, a varying number each.
    fn records(first_id: u64, n: u64) -> Vec<Rec> {
        (0..n)
            .map(|i| ((i * 7919 + i / 7) % 400, i as i64, first_id + i))
            .collect()
    }

    /// Takes a snapshot, changes every key's records after the barrier (and adds keys)
    /// before the snapshot's second step runs, and checks that the snapshot restores, at
    /// parallelism 1 and split over 2 instances, to the state at the barrier, and that the
    /// restored operator then gives what an uninterrupted one gives.
    #[test]
    fn snapshot_restores_the_state_at_the_barrier() {
        let (_dir, backends) = backends();
        for (backend, (size, slide)) in backends
            .iter()
            .flat_map(|b| [(5, 5), (5, 2), (2, 3)].map(|geometry| (b.clone(), geometry)))
        {
            let (mut snapshotted, _) = operator_on(backend, size, slide);
            let (mut uninterrupted, uninterrupted_out) = operator(size, slide);
            snapshotted.process(&mut records(0, 3000)).unwrap();
            uninterrupted.process(&mut records(0, 3000)).unwrap();
            // Sends what fired so far.
            uninterrupted.on_watermark(0).unwrap();
            uninterrupted_out.take();
            let expected = state(&uninterrupted);
            assert!(expected.len() > 300);

            let snapshot = snapshotted.on_barrier(BARRIER).unwrap();
            snapshotted.process(&mut records(10_000, 3000)).unwrap();
            let mut new_keys: Vec<Rec> = (0..1000).map(|i| (1000 + i, 0, 20_000 + i)).collect();
            snapshotted.process(&mut new_keys).unwrap();
            assert_ne!(state(&snapshotted), expected);
            let snapshot = finish(snapshot, |bytes| {
                decode::<Vec<(u64, (Vec<Rec>, u64))>>(bytes)
                    .unwrap()
                    .into_iter()
                    .map(|e| e.0)
                    .collect()
            });

            let (mut restored, restored_out) = operator(size, slide);
            restored.restore(part(&snapshot, 0, 1)).unwrap();
            assert_eq!(state(&restored), expected, "size {size}, slide {slide}");
            for parallelism in 2..=3 {
                let mut split = BTreeMap::new();
                for instance in 0..parallelism {
                    let (mut op, _) = operator(size, slide);
                    op.restore(part(&snapshot, instance, parallelism)).unwrap();
                    split.extend(state(&op));
                }
                assert_eq!(split, expected);
            }

            for op in [&mut restored, &mut uninterrupted] {
                op.process(&mut records(10_000, 3000)).unwrap();
                op.finish().unwrap();
            }
            let mut got = restored_out.take();
            got.sort();
            assert!(!got.is_empty());
            let mut want = uninterrupted_out.take();
            want.sort();
            assert_eq!(got, want);
        }
    }
}
