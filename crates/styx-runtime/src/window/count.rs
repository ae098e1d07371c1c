//! Count windows: fire every N records of a key (Flink's `countWindow`).
//!
//! A tumbling count window of `size` fires with the key's last `size` records and starts
//! over. A sliding count window of `size` and `slide` fires every `slide` records with the
//! key's last `size` records. Count windows are not time windows: a window that is not
//! full when the input ends does not fire.

use std::collections::{HashMap, VecDeque};

use std::sync::Arc;

use crate::checkpoint::{
    decode_key_groups, encode_by_key_group, Barrier, RestoredState, SnapshotFn, StateKey,
    StateValue, TaskState,
};
use crate::emitter::{Collector, Emitter};
use crate::error::BoxError;
use crate::operator::Operator;
use crate::stream::{DataStream, KeyedStream};
use crate::time::{TimeWindow, Timestamp, MAX_WATERMARK, MIN_WATERMARK};
use crate::window::AggregateFunction;

/// The window that count windows report: all of time.
pub const GLOBAL_WINDOW: TimeWindow = TimeWindow {
    start: MIN_WATERMARK,
    end: MAX_WATERMARK,
};

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
    keys: HashMap<K, KeyState<T>>,
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
            let state = self.keys.entry(key.clone()).or_insert_with(|| KeyState {
                recent: VecDeque::with_capacity(self.size),
                since_fire: 0,
            });
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

    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        let entries: Vec<(K, (Vec<T>, u64))> = self
            .keys
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    (s.recent.iter().cloned().collect(), s.since_fire),
                )
            })
            .collect();
        self.out.barrier(barrier);
        Ok(Box::new(move || {
            Ok(TaskState {
                key_groups: encode_by_key_group(entries)?,
                splits: Vec::new(),
            })
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        for (key, (recent, since_fire)) in decode_key_groups::<K, (Vec<T>, u64)>(&state.key_groups)?
        {
            self.keys.insert(
                key,
                KeyState {
                    recent: recent.into(),
                    since_fire,
                },
            );
        }
        Ok(())
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
                keys: HashMap::new(),
                out: Collector::new(out),
            },
        )
    }
}
