//! Session windows: merging windows per key, with Flink's `WindowOperator` semantics.
//!
//! Each record opens the window `[ts, ts + gap)`; windows of a key that overlap or touch
//! merge into one whose accumulator is the merge of theirs. As in Flink, merging happens
//! before the lateness check, so a late record can still join (and extend) a session
//! that has not been dropped, bridge two sessions that fired within the allowed lateness,
//! or open a session of its own that fires at once. The windows' event-time timers (fire
//! at `end - 1`, drop at `end - 1 + allowed_lateness`) are kept exactly as Flink's trigger
//! and cleanup timers are, including their removal when a window is merged away.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::checkpoint::{
    decode_key_groups, encode_by_key_group, Barrier, RestoredState, SnapshotFn, StateKey, TaskState,
};
use crate::emitter::{Collector, Emitter};
use crate::error::BoxError;
use crate::operator::Operator;
use crate::stream::{DataStream, KeyedStream};
use crate::time::{now_ms, TimeDomain, TimeWindow, Timestamp, MIN_WATERMARK};
use crate::window::{AggregateFunction, OperatorSpec, Windowed};

/// What a checkpoint keeps per key: the time windows have fired to, the key's windows
/// and its timers.
type SessionEntry<Acc> = (
    Timestamp,
    Vec<(TimeWindow, Acc)>,
    Vec<(Timestamp, TimeWindow)>,
);

/// The session window operator instance.
pub struct SessionWindowOperator<K, T, A: AggregateFunction<T>, O> {
    spec: OperatorSpec<K, T, A, O>,
    gap: i64,
    domain: TimeDomain,
    /// Per key, its windows sorted by start (never overlapping or touching).
    sessions: HashMap<K, Vec<(TimeWindow, A::Acc)>>,
    timers: BTreeMap<Timestamp, HashSet<(K, TimeWindow)>>,
    watermark: Timestamp,
    out: Collector<O>,
    late: Collector<T>,
}

impl<K, T, A, O> SessionWindowOperator<K, T, A, O>
where
    K: StateKey,
    T: Send,
    A: AggregateFunction<T>,
    O: Send,
{
    fn register(&mut self, time: Timestamp, key: &K, w: TimeWindow) {
        self.timers
            .entry(time)
            .or_default()
            .insert((key.clone(), w));
    }

    fn delete(&mut self, time: Timestamp, key: &K, w: TimeWindow) {
        if let Some(set) = self.timers.get_mut(&time) {
            set.remove(&(key.clone(), w));
            if set.is_empty() {
                self.timers.remove(&time);
            }
        }
    }

    fn cleanup_time(&self, w: &TimeWindow) -> Timestamp {
        w.cleanup_time(self.spec.allowed_lateness)
    }

    fn add(&mut self, item: T) {
        let ts = match &self.spec.timestamps {
            Some(f) => f(&item),
            None => now_ms().max(self.watermark.saturating_add(1)),
        };
        let key = (self.spec.key)(&item);
        let new = TimeWindow::new(ts, ts.saturating_add(self.gap));
        let wm = self.watermark;
        let windows = self.sessions.entry(key.clone()).or_default();
        let first = windows.partition_point(|(w, _)| w.end < new.start);
        let last = windows[first..]
            .iter()
            .take_while(|(w, _)| w.start <= new.end)
            .count()
            + first;
        let mut merged_away = Vec::new();
        let index = if first == last {
            // A window of its own.
            if new.cleanup_time(self.spec.allowed_lateness) <= wm {
                if windows.is_empty() {
                    self.sessions.remove(&key);
                }
                if ts.saturating_add(self.spec.allowed_lateness) <= wm {
                    self.late.collect(item);
                }
                return;
            }
            windows.insert(first, (new, self.spec.agg.create()));
            first
        } else if last - first == 1
            && windows[first].0.start <= new.start
            && windows[first].0.end >= new.end
        {
            // Inside an existing window: nothing merges.
            first
        } else {
            let mut drained = windows.drain(first..last);
            let (mut cover, mut acc) = drained.next().expect("at least one window");
            merged_away.push(cover);
            for (w, a) in drained {
                self.spec.agg.merge(&mut acc, &a);
                cover = cover.cover(&w);
                merged_away.push(w);
            }
            cover = cover.cover(&new);
            windows.insert(first, (cover, acc));
            first
        };
        let window = windows[index].0;
        self.spec.agg.add(&mut windows[index].1, &item);
        if !merged_away.is_empty() {
            // Flink's trigger onMerge, then the merged windows' trigger and cleanup timers
            // are deleted.
            if window.max_timestamp() > wm {
                self.register(window.max_timestamp(), &key, window);
            }
            for m in merged_away {
                self.delete(m.max_timestamp(), &key, m);
                let cleanup = self.cleanup_time(&m);
                self.delete(cleanup, &key, m);
            }
        }
        if window.max_timestamp() <= wm {
            let acc = &self.sessions[&key][index].1;
            (self.spec.emit)(&key, window, acc, &mut self.out);
        } else {
            self.register(window.max_timestamp(), &key, window);
        }
        let cleanup = self.cleanup_time(&window);
        if cleanup != Timestamp::MAX {
            self.register(cleanup, &key, window);
        }
    }

    fn advance(&mut self, time: Timestamp) {
        if time <= self.watermark {
            return;
        }
        self.watermark = time;
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > time {
                break;
            }
            let (at, due) = entry.remove_entry();
            for (key, window) in due {
                let Some(windows) = self.sessions.get_mut(&key) else {
                    continue;
                };
                let Ok(index) = windows.binary_search_by(|(w, _)| w.start.cmp(&window.start))
                else {
                    continue;
                };
                if windows[index].0 != window {
                    continue;
                }
                if at == window.max_timestamp() {
                    (self.spec.emit)(&key, window, &windows[index].1, &mut self.out);
                }
                if at == window.cleanup_time(self.spec.allowed_lateness) {
                    windows.remove(index);
                    if windows.is_empty() {
                        self.sessions.remove(&key);
                    }
                }
            }
        }
    }
}

impl<K, T, A, O> Operator<T> for SessionWindowOperator<K, T, A, O>
where
    K: StateKey,
    T: Send,
    A: AggregateFunction<T>,
    O: Send,
{
    fn process(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError> {
        for item in batch.drain(..) {
            self.add(item);
        }
        Ok(())
    }

    fn on_watermark(&mut self, watermark: Timestamp) -> Result<(), BoxError> {
        if self.domain == TimeDomain::EventTime {
            self.advance(watermark);
        }
        self.out.watermark(watermark);
        self.late.watermark(watermark);
        Ok(())
    }

    fn on_idle(&mut self, idle: bool) -> Result<(), BoxError> {
        self.out.idle(idle);
        self.late.idle(idle);
        Ok(())
    }

    fn next_processing_timer(&self) -> Option<Timestamp> {
        match self.domain {
            TimeDomain::ProcessingTime => self.timers.keys().next().copied(),
            TimeDomain::EventTime => None,
        }
    }

    fn on_processing_time(&mut self, now: Timestamp) -> Result<(), BoxError> {
        self.advance(now);
        self.out.flush();
        Ok(())
    }

    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        // Per key: its windows with their accumulators, and its pending timers.
        let mut timers: HashMap<K, Vec<(Timestamp, TimeWindow)>> = HashMap::new();
        for (&at, due) in &self.timers {
            for (k, w) in due {
                timers.entry(k.clone()).or_default().push((at, *w));
            }
        }
        let mut entries: Vec<(K, SessionEntry<A::Acc>)> = self
            .sessions
            .iter()
            .map(|(k, windows)| {
                let t = timers.remove(k).unwrap_or_default();
                (k.clone(), (self.watermark, windows.clone(), t))
            })
            .collect();
        entries.extend(
            timers
                .into_iter()
                .map(|(k, t)| (k, (self.watermark, Vec::new(), t))),
        );
        self.out.barrier(barrier);
        self.late.barrier(barrier);
        Ok(Box::new(move || {
            Ok(TaskState {
                key_groups: encode_by_key_group(entries)?,
                splits: Vec::new(),
            })
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        for (key, (watermark, windows, timers)) in
            decode_key_groups::<K, SessionEntry<A::Acc>>(&state.key_groups)?
        {
            self.watermark = self.watermark.max(watermark);
            for (at, w) in timers {
                self.register(at, &key, w);
            }
            if !windows.is_empty() {
                self.sessions.insert(key, windows);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if self.domain == TimeDomain::ProcessingTime {
            self.advance(Timestamp::MAX);
        }
        self.out.end();
        self.late.end();
        Ok(())
    }
}

pub(crate) fn build<K, T, A, O>(
    keyed: &KeyedStream<K, T>,
    parallelism: usize,
    gap: i64,
    domain: TimeDomain,
    spec: OperatorSpec<K, T, A, O>,
) -> Windowed<O, T>
where
    K: StateKey,
    T: Clone + Send + 'static,
    A: AggregateFunction<T>,
    O: Clone + Send + 'static,
{
    assert!(gap > 0, "a session gap must be positive");
    let stream = keyed.stream();
    let name = spec.name.clone();
    let late = DataStream::<T>::new_port_stream(stream.env(), parallelism);
    let late_out = late.clone();
    let results = stream.operator(
        &name,
        parallelism,
        keyed.partitioner(),
        move |i, out: Box<dyn Emitter<O>>| SessionWindowOperator {
            spec: spec.clone(),
            gap,
            domain,
            sessions: HashMap::new(),
            timers: BTreeMap::new(),
            watermark: MIN_WATERMARK,
            out: Collector::new(out),
            late: Collector::new(late_out.port_emitter(i)),
        },
    );
    Windowed { results, late }
}
