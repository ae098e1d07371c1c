//! Session windows: merging windows per key, with Flink's `WindowOperator` semantics.
//!
//! Each record opens the window `[ts, ts + gap)`; windows of a key that overlap or touch
//! merge into one whose accumulator is the merge of theirs. As in Flink, merging happens
//! before the lateness check, so a late record can still join (and extend) a session
//! that has not been dropped, bridge two sessions that fired within the allowed lateness,
//! or open a session of its own that fires at once. The windows' event-time timers (fire
//! at `end - 1`, drop at `end - 1 + allowed_lateness`) are kept exactly as Flink's trigger
//! and cleanup timers are, including their removal when a window is merged away.

use std::collections::{BTreeMap, HashSet};

use smallvec::SmallVec;

use crate::checkpoint::{
    group_by_key, Barrier, KeyGroupWriter, RestoredState, SnapshotFn, StateKey, TaskState,
};
use crate::emitter::{Collector, Emitter};
use crate::error::BoxError;
use crate::operator::Operator;
use crate::state::Table;
use crate::stream::{DataStream, KeyedStream};
use crate::time::{now_ms, TimeDomain, TimeWindow, Timestamp};
use crate::window::{AggregateFunction, OperatorSpec, Windowed};

/// What a checkpoint keeps per key: the time windows have fired to, the key's windows
/// and its timers.
type SessionEntry<Acc> = (
    Timestamp,
    Vec<(TimeWindow, Acc)>,
    Vec<(Timestamp, TimeWindow)>,
);

/// The windows of one key, sorted by start (never overlapping or touching). Most keys have
/// one, kept in the map's own memory: reading every key's windows (as a snapshot does)
/// then follows no pointer.
type KeyWindows<Acc> = SmallVec<[(TimeWindow, Acc); 1]>;

/// The session window operator instance.
pub struct SessionWindowOperator<K, T, A: AggregateFunction<T>, O> {
    spec: OperatorSpec<K, T, A, O>,
    gap: i64,
    domain: TimeDomain,
    /// Per key, its windows.
    sessions: Table<K, KeyWindows<A::Acc>>,
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

    fn add(&mut self, item: T) -> Result<(), BoxError> {
        let ts = match &self.spec.timestamps {
            Some(f) => f(&item),
            None => now_ms().max(self.watermark.saturating_add(1)),
        };
        let key = (self.spec.key)(&item);
        let new = TimeWindow::new(ts, ts.saturating_add(self.gap));
        let wm = self.watermark;
        let mut slot = self.sessions.slot(&key, KeyWindows::new)?;
        let windows = slot.value();
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
                    slot.remove()?;
                } else {
                    slot.keep()?;
                }
                if ts.saturating_add(self.spec.allowed_lateness) <= wm {
                    self.late.collect(item);
                }
                return Ok(());
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
        if window.max_timestamp() <= wm {
            (self.spec.emit)(&key, window, &slot.get()[index].1, &mut self.out);
        }
        slot.keep()?;
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
        if window.max_timestamp() > wm {
            self.register(window.max_timestamp(), &key, window);
        }
        let cleanup = self.cleanup_time(&window);
        if cleanup != Timestamp::MAX {
            self.register(cleanup, &key, window);
        }
        Ok(())
    }

    fn advance(&mut self, time: Timestamp) -> Result<(), BoxError> {
        if time <= self.watermark {
            return Ok(());
        }
        self.watermark = time;
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > time {
                break;
            }
            let (at, due) = entry.remove_entry();
            for (key, window) in due {
                let Some(mut slot) = self.sessions.existing(key)? else {
                    continue;
                };
                let windows = slot.get();
                let Ok(index) = windows.binary_search_by(|(w, _)| w.start.cmp(&window.start))
                else {
                    continue;
                };
                if windows[index].0 != window {
                    continue;
                }
                if at == window.max_timestamp() {
                    (self.spec.emit)(slot.key(), window, &windows[index].1, &mut self.out);
                }
                if at == window.cleanup_time(self.spec.allowed_lateness) {
                    let windows = slot.value();
                    windows.remove(index);
                    if windows.is_empty() {
                        slot.remove()?;
                    } else {
                        slot.keep()?;
                    }
                }
            }
        }
        Ok(())
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
            self.add(item)?;
        }
        Ok(())
    }

    fn on_watermark(&mut self, watermark: Timestamp) -> Result<(), BoxError> {
        if self.domain == TimeDomain::EventTime {
            self.advance(watermark)?;
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

    fn on_input_paused(&mut self) -> Result<(), BoxError> {
        self.out.flush();
        Ok(())
    }

    fn next_processing_timer(&self) -> Option<Timestamp> {
        match self.domain {
            TimeDomain::ProcessingTime => self.timers.keys().next().copied(),
            TimeDomain::EventTime => None,
        }
    }

    fn on_processing_time(&mut self, now: Timestamp) -> Result<(), BoxError> {
        self.advance(now)?;
        self.out.flush();
        Ok(())
    }

    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        // Copy now, shape and encode later: processing stops only for a flat copy of the
        // windows (each key's side by side) and of the timers; the snapshot's second step
        // gives each key its windows and timers and encodes them.
        // Most keys have one window. On disk the tree keeps its version at the barrier,
        // and the second step reads it.
        let mut windows: Vec<(TimeWindow, A::Acc)> = Vec::new();
        // Each key with the end of its windows in `windows`.
        let mut keys: Vec<(K, usize)> = Vec::new();
        let on_disk = match &self.sessions {
            Table::Memory(map) => {
                windows.reserve(map.len());
                keys.reserve(map.len());
                for (k, ws) in map {
                    windows.extend(ws.iter().cloned());
                    keys.push((k.clone(), windows.len()));
                }
                None
            }
            Table::Disk(_) => Some(self.sessions.snapshot()),
        };
        let total = self.timers.values().map(HashSet::len).sum();
        let mut timers: Vec<(K, (Timestamp, TimeWindow))> = Vec::with_capacity(total);
        for (&at, due) in &self.timers {
            timers.extend(due.iter().map(|(k, w)| (k.clone(), (at, *w))));
        }
        let watermark = self.watermark;
        self.out.barrier(barrier);
        self.late.barrier(barrier);
        Ok(Box::new(move |target| {
            let mut timers = group_by_key(timers.iter().map(|(k, t)| (k, t)));
            let mut groups = KeyGroupWriter::new(target);
            match on_disk {
                Some(snapshot) => snapshot.try_for_each(|k, ws| {
                    let t = timers.remove(&k).unwrap_or_default();
                    groups.add(&k, &(watermark, &ws[..], t))
                })?,
                None => {
                    let mut start = 0;
                    for (k, end) in &keys {
                        let t = timers.remove(k).unwrap_or_default();
                        groups.add(k, &(watermark, &windows[start..*end], t))?;
                        start = *end;
                    }
                }
            }
            // Keys with timers but no window.
            for (k, t) in timers {
                groups.add(k, &(watermark, &windows[..0], t))?;
            }
            groups.finish()?;
            Ok(TaskState::default())
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        state.key_groups.for_each(
            |key: K, (watermark, windows, timers): SessionEntry<A::Acc>| {
                self.watermark = self.watermark.max(watermark);
                for (at, w) in timers {
                    self.register(at, &key, w);
                }
                if !windows.is_empty() {
                    self.sessions.insert(key, SmallVec::from_vec(windows))?;
                }
                Ok(())
            },
        )
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if self.domain == TimeDomain::ProcessingTime {
            self.advance(Timestamp::MAX)?;
        }
        self.out.end();
        self.late.end();
        Ok(())
    }

    fn finish_discarding(&mut self) -> Result<(), BoxError> {
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
    let backend = stream.env().state_backend();
    let start = stream.env().start_watermark();
    let results = stream.operator(
        &name,
        parallelism,
        keyed.partitioner(),
        move |i, out: Box<dyn Emitter<O>>| SessionWindowOperator {
            spec: spec.clone(),
            gap,
            domain,
            sessions: backend.table(),
            timers: BTreeMap::new(),
            watermark: start,
            out: Collector::new(out),
            late: Collector::new(late_out.port_emitter(i)),
        },
    );
    Windowed { results, late }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use super::*;
    use crate::checkpoint::decode;
    use crate::emitter::Discard;
    use crate::state::StateBackend;
    use crate::time::MIN_WATERMARK;
    use crate::window::testing::{backends, finish, part, Kept, Rec, BARRIER};
    use crate::window::{CollectAll, EmitFn};

    type Out = (u64, TimeWindow, Vec<Rec>);
    type Op = SessionWindowOperator<u64, Rec, CollectAll, Out>;
    /// One key's entry in a snapshot, as restores read it.
    type Entry = (u64, SessionEntry<Vec<Rec>>);

    const GAP: i64 = 100;
    const LATENESS: i64 = 50;

    fn operator() -> (Op, Kept<Out>) {
        operator_on(StateBackend::Memory)
    }

    fn operator_on(backend: StateBackend) -> (Op, Kept<Out>) {
        let kept = Kept::default();
        let emit: EmitFn<u64, Vec<Rec>, Out> =
            Arc::new(|k, w, acc, out| out.collect((*k, w, acc.clone())));
        let op = SessionWindowOperator {
            spec: OperatorSpec {
                name: "session-window".into(),
                key: Arc::new(|r: &Rec| r.0),
                timestamps: Some(Arc::new(|r: &Rec| r.1)),
                agg: Arc::new(CollectAll),
                emit,
                allowed_lateness: LATENESS,
            },
            gap: GAP,
            domain: TimeDomain::EventTime,
            sessions: backend.table(),
            timers: BTreeMap::new(),
            watermark: MIN_WATERMARK,
            out: Collector::new(Box::new(kept.clone())),
            late: Collector::new(Box::new(Discard)),
        };
        (op, kept)
    }

    /// The watermark, every key's windows and every timer.
    type State = (
        Timestamp,
        BTreeMap<u64, Vec<(TimeWindow, Vec<Rec>)>>,
        BTreeSet<(Timestamp, u64, TimeWindow)>,
    );

    fn state(op: &Op) -> State {
        let sessions = op
            .sessions
            .entries()
            .unwrap()
            .into_iter()
            .map(|(k, ws)| (k, ws.to_vec()))
            .collect();
        let timers = op
            .timers
            .iter()
            .flat_map(|(at, due)| due.iter().map(move |(k, w)| (*at, *k, *w)))
            .collect();
        (op.watermark, sessions, timers)
    }

    fn feed(op: &mut Op, records: impl Iterator<Item = Rec>, watermark: Timestamp) {
        op.process(&mut records.collect()).unwrap();
        op.on_watermark(watermark).unwrap();
    }

    fn sorted(mut out: Vec<Out>) -> Vec<Out> {
        out.iter_mut().for_each(|(_, _, recs)| recs.sort_unstable());
        out.sort();
        out
    }

    /// Records of 50 keys over `[from, from + 4000)`: sessions that merge, some with a
    /// key's next record too far off to join them, some late.
    fn records(from: i64, first_id: u64) -> Vec<Rec> {
        (0..2000u64)
            .map(|i| {
                let ts = from + 2 * i as i64 + (i as i64 * 13 % 7) * 40 - 120;
                (i.wrapping_mul(7919) % 50, ts, first_id + i)
            })
            .collect()
    }

    /// Takes a snapshot with open, fired and merging sessions and their timers, changes
    /// the state after the barrier (merges, firings, cleanups, new keys) before the
    /// snapshot's second step runs, and checks that the snapshot restores, at parallelism
    /// 1 and split over 2 instances, to the state at the barrier, and that the restored
    /// operator then gives what an uninterrupted one gives.
    #[test]
    fn snapshot_restores_the_state_at_the_barrier() {
        let (_dir, backends) = backends();
        for backend in backends {
            snapshot_on_restores_the_state_at_the_barrier(backend);
        }
    }

    /// The snapshotted operator's state is in `backend`, the others' in memory.
    fn snapshot_on_restores_the_state_at_the_barrier(backend: StateBackend) {
        let (before, after) = (records(0, 0), records(2500, 10_000));
        let (mut snapshotted, _) = operator_on(backend);
        let (mut uninterrupted, uninterrupted_out) = operator();
        feed(&mut snapshotted, before.iter().copied(), 2000);
        feed(&mut uninterrupted, before.iter().copied(), 2000);
        uninterrupted_out.take();
        let expected = state(&uninterrupted);
        assert!(expected.1.values().any(|ws| ws.len() > 1));
        assert!(expected.2.len() > expected.1.len());

        let snapshot = snapshotted.on_barrier(BARRIER).unwrap();
        feed(&mut snapshotted, after.iter().copied(), 4000);
        feed(
            &mut snapshotted,
            after.iter().map(|r| (r.0 + 3, r.1, r.2)),
            5000,
        );
        assert_ne!(state(&snapshotted), expected);
        let snapshot = finish(snapshot, |bytes| {
            decode::<Vec<Entry>>(bytes)
                .unwrap()
                .into_iter()
                .map(|e| e.0)
                .collect()
        });

        let (mut restored, restored_out) = operator();
        restored.restore(part(&snapshot, 0, 1)).unwrap();
        assert_eq!(state(&restored), expected);
        for parallelism in 2..=3 {
            let (mut sessions, mut timers) = (BTreeMap::new(), BTreeSet::new());
            for instance in 0..parallelism {
                let (mut op, _) = operator();
                op.restore(part(&snapshot, instance, parallelism)).unwrap();
                let (watermark, s, t) = state(&op);
                assert_eq!(watermark, expected.0);
                sessions.extend(s);
                timers.extend(t);
            }
            assert_eq!((sessions, timers), (expected.1.clone(), expected.2.clone()));
        }

        for op in [&mut restored, &mut uninterrupted] {
            feed(op, after.iter().copied(), 4000);
            feed(op, after.iter().copied(), Timestamp::MAX);
        }
        let got = sorted(restored_out.take());
        assert!(!got.is_empty());
        assert_eq!(got, sorted(uninterrupted_out.take()));
    }
}
