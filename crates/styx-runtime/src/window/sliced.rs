//! Tumbling and sliding windows, aggregated per slice.
//!
//! Time is cut into slices of `gcd(size, slide)` milliseconds. A record is added to the
//! accumulator of its key in its slice only, never copied into each window it overlaps;
//! a window that fires merges the accumulators of its slices. A slice is dropped once the
//! newest window that holds it is past its allowed lateness.
//!
//! Lateness follows Flink's `WindowOperator`: a window is late once `end - 1 +
//! allowed_lateness <= watermark`. A record is added to its slice if at least one of its
//! windows is not late; each such window that has already fired fires again for the
//! record's key at once. A window that is late never fires again, so a record added to a
//! slice for the sake of a newer window never shows in an older one. A record in no
//! window that is not late goes to the late output if `ts + allowed_lateness <=
//! watermark`, and is otherwise dropped (it fell in a gap between windows).

use std::collections::{BTreeMap, HashMap};

use crate::checkpoint::{
    encode_by_key_group, group_by_key, Barrier, KeyGroupWriter, RestoredState, SnapshotFn,
    StateKey, StateValue, TaskState,
};
use crate::emitter::{Collector, Emitter};
use crate::error::BoxError;
use crate::operator::Operator;
use crate::state::{StateBackend, Table};
use crate::stream::KeyedStream;
use crate::time::{now_ms, window_start, TimeDomain, TimeWindow, Timestamp};
use crate::window::{AggregateFunction, OperatorSpec, Windowed};

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The accumulators of one slice, by key.
type SliceAccs<K, Acc> = Table<K, Acc>;

/// Accumulators merged over the slices of a window, by key, each with the number of the
/// firing it belongs to. Kept from one firing to the next, so that a key that fires again
/// reuses its entry (no key copied, no accumulator allocated).
type MergedAccs<K, Acc> = HashMap<K, (Acc, u64), ahash::RandomState>;

/// The slices in flight, ordered by start. Their accumulator maps live in a pool and are
/// reused once their slice is dropped.
struct Slices<K, Acc> {
    /// Slice start -> index in `pool`.
    index: BTreeMap<Timestamp, usize>,
    pool: Vec<SliceAccs<K, Acc>>,
    free: Vec<usize>,
    backend: StateBackend,
}

/// A slice that records went to lately, with what the hot path needs to know about it.
#[derive(Debug, Clone, Copy)]
struct HotSlice {
    start: Timestamp,
    end: Timestamp,
    /// The largest timestamp of the oldest window holding the slice.
    oldest_max: Timestamp,
    /// The slice's index in the pool.
    index: usize,
}

impl<K: StateKey, Acc: StateValue> Slices<K, Acc> {
    fn new(backend: StateBackend) -> Self {
        Slices {
            index: BTreeMap::new(),
            pool: Vec::new(),
            free: Vec::new(),
            backend,
        }
    }

    /// The index in the pool of the slice starting at `start`, created if needed.
    fn index_of(&mut self, start: Timestamp) -> usize {
        match self.index.get(&start) {
            Some(&i) => i,
            None => {
                let i = match self.free.pop() {
                    Some(i) => i,
                    None => {
                        self.pool.push(self.backend.table());
                        self.pool.len() - 1
                    }
                };
                self.index.insert(start, i);
                i
            }
        }
    }

    /// The accumulators of the slice starting at `start`, created if needed.
    fn get_or_insert(&mut self, start: Timestamp) -> &mut SliceAccs<K, Acc> {
        let i = self.index_of(start);
        &mut self.pool[i]
    }

    /// The slices starting in `range`, in order.
    fn range(
        &self,
        range: std::ops::Range<Timestamp>,
    ) -> impl Iterator<Item = (Timestamp, &SliceAccs<K, Acc>)> + '_ {
        self.index
            .range(range)
            .map(|(&start, &i)| (start, &self.pool[i]))
    }

    /// Every slice, in order.
    fn iter(&self) -> impl Iterator<Item = (Timestamp, &SliceAccs<K, Acc>)> + '_ {
        self.index.iter().map(|(&start, &i)| (start, &self.pool[i]))
    }

    /// The first slice starting at or after `from`.
    fn first_from(&self, from: Timestamp) -> Option<Timestamp> {
        self.index.range(from..).next().map(|(&s, _)| s)
    }

    /// The start of the oldest slice.
    fn first(&self) -> Option<Timestamp> {
        self.index.first_key_value().map(|(&s, _)| s)
    }

    /// Drops the oldest slice.
    fn pop_first(&mut self) -> Result<(), BoxError> {
        if let Some((_, i)) = self.index.pop_first() {
            self.pool[i].clear()?;
            self.free.push(i);
        }
        Ok(())
    }
}

/// Window geometry: sizes in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    size: i64,
    slide: i64,
    offset: i64,
    slice: i64,
}

impl Geometry {
    /// The windows holding `ts`, newest first.
    fn windows(&self, ts: Timestamp) -> impl Iterator<Item = TimeWindow> + '_ {
        let last = window_start(ts, self.offset, self.slide);
        let mut start = last;
        std::iter::from_fn(move || {
            if start > ts - self.size {
                let w = TimeWindow::new(start, start + self.size);
                start -= self.slide;
                Some(w)
            } else {
                None
            }
        })
    }

    /// The start of the oldest window holding `ts`, or `None` if `ts` falls in a gap
    /// between windows (size < slide).
    #[inline]
    fn oldest_start(&self, ts: Timestamp) -> Option<Timestamp> {
        let last = window_start(ts, self.offset, self.slide);
        let after = ts.saturating_sub(self.size);
        if last <= after {
            return None;
        }
        // Window starts are last - j * slide for j >= 0 while they are > ts - size.
        Some(last - (last - after - 1) / self.slide * self.slide)
    }

    #[inline]
    fn slice_of(&self, ts: Timestamp) -> Timestamp {
        window_start(ts, self.offset, self.slice)
    }

    /// The end of the newest window holding the slice that starts at `slice`.
    fn newest_end(&self, slice: Timestamp) -> Timestamp {
        window_start(slice, self.offset, self.slide) + self.size
    }
}

/// The tumbling / sliding window operator instance.
pub struct SlicedWindowOperator<K, T, A: AggregateFunction<T>, O> {
    spec: OperatorSpec<K, T, A, O>,
    geometry: Geometry,
    domain: TimeDomain,
    slices: Slices<K, A::Acc>,
    /// The two slices records went to last, newest first (most records find their slice
    /// here without arithmetic or a tree lookup).
    hot: [Option<HotSlice>; 2],
    /// The time up to which windows have fired.
    watermark: Timestamp,
    scratch: MergedAccs<K, A::Acc>,
    /// The number of the current firing in `scratch`.
    firing: u64,
    out: Collector<O>,
    late: Collector<T>,
}

impl<K, T, A, O> SlicedWindowOperator<K, T, A, O>
where
    K: StateKey,
    T: Send,
    A: AggregateFunction<T>,
    O: Send,
{
    fn is_late(&self, w: &TimeWindow) -> bool {
        w.cleanup_time(self.spec.allowed_lateness) <= self.watermark
    }

    fn add(&mut self, item: T) -> Result<(), BoxError> {
        let ts = match &self.spec.timestamps {
            Some(f) => f(&item),
            // Processing time: the record belongs to the windows open now.
            None => now_ms().max(self.watermark.saturating_add(1)),
        };
        if let Some(hot) = self.hot_slice(ts) {
            // The common case: none of the record's windows has fired yet.
            let key = (self.spec.key)(&item);
            let agg = &self.spec.agg;
            return self.slices.pool[hot.index].upsert(
                key,
                || agg.create(),
                |acc| agg.add(acc, &item),
            );
        }
        self.add_after_firing(item, ts)
    }

    /// The slice of `ts` if none of its windows has fired yet.
    #[inline]
    fn hot_slice(&mut self, ts: Timestamp) -> Option<HotSlice> {
        let hot = match self.hot {
            [Some(h), _] if h.start <= ts && ts < h.end => h,
            [first, Some(h)] if h.start <= ts && ts < h.end => {
                self.hot = [Some(h), first];
                h
            }
            _ => {
                let g = self.geometry;
                // Every window holding `ts` holds its whole slice.
                let oldest_max = g.oldest_start(ts)?.saturating_add(g.size - 1);
                if oldest_max <= self.watermark {
                    return None;
                }
                let start = g.slice_of(ts);
                let h = HotSlice {
                    start,
                    end: start.saturating_add(g.slice),
                    oldest_max,
                    index: self.slices.index_of(start),
                };
                self.hot = [Some(h), self.hot[0]];
                h
            }
        };
        (hot.oldest_max > self.watermark).then_some(hot)
    }

    /// Adds a record some of whose windows have fired (or that is in no window): windows
    /// past their lateness ignore it, fired ones fire again for its key.
    fn add_after_firing(&mut self, item: T, ts: Timestamp) -> Result<(), BoxError> {
        let mut in_window = false;
        let mut refire: [Option<TimeWindow>; 4] = [None; 4];
        let mut refire_more = Vec::new();
        let mut n = 0;
        for w in self.geometry.windows(ts) {
            if self.is_late(&w) {
                continue;
            }
            in_window = true;
            if w.max_timestamp() <= self.watermark {
                if n < refire.len() {
                    refire[n] = Some(w);
                } else {
                    refire_more.push(w);
                }
                n += 1;
            }
        }
        if !in_window {
            if ts.saturating_add(self.spec.allowed_lateness) <= self.watermark {
                self.late.collect(item);
            }
            return Ok(());
        }
        let key = (self.spec.key)(&item);
        let slice = self.geometry.slice_of(ts);
        let agg = &self.spec.agg;
        self.slices.get_or_insert(slice).upsert(
            key.clone(),
            || agg.create(),
            |acc| agg.add(acc, &item),
        )?;
        for w in refire.into_iter().flatten().chain(refire_more) {
            self.fire_key(&key, w)?;
        }
        Ok(())
    }

    /// Fires window `w` for one key (a late firing).
    fn fire_key(&mut self, key: &K, w: TimeWindow) -> Result<(), BoxError> {
        let mut merged: Option<A::Acc> = None;
        let agg = &self.spec.agg;
        for (_, accs) in self.slices.range(w.start..w.end) {
            accs.get_with(key, |acc| match &mut merged {
                None => merged = Some(acc.clone()),
                Some(m) => agg.merge(m, acc),
            })?;
        }
        if let Some(acc) = merged {
            (self.spec.emit)(key, w, &acc, &mut self.out);
        }
        Ok(())
    }

    /// Fires window `w` for every key that has records in it.
    fn fire_window(&mut self, w: TimeWindow) -> Result<(), BoxError> {
        let emit = &self.spec.emit;
        let out = &mut self.out;
        let mut range = self.slices.range(w.start..w.end);
        let Some((_, first)) = range.next() else {
            return Ok(());
        };
        let Some((_, _)) = range.next() else {
            // One slice: emit from it directly.
            return first.for_each(|k, acc| emit(k, w, acc, out));
        };
        let mut merged = std::mem::take(&mut self.scratch);
        self.firing += 1;
        let firing = self.firing;
        let agg = &self.spec.agg;
        let mut fired = 0;
        for (_, accs) in self.slices.range(w.start..w.end) {
            accs.for_each(|k, acc| match merged.get_mut(k) {
                Some((m, at)) if *at == firing => agg.merge(m, acc),
                Some((m, at)) => {
                    m.clone_from(acc);
                    *at = firing;
                    fired += 1;
                }
                None => {
                    merged.insert(k.clone(), (acc.clone(), firing));
                    fired += 1;
                }
            })?;
        }
        for (k, (acc, at)) in &merged {
            if *at == firing {
                emit(k, w, acc, out);
            }
        }
        // Keys that stopped firing are let go once they outnumber those that fire.
        if merged.len() > 2 * fired + 64 {
            merged.retain(|_, (_, at)| *at == firing);
        }
        self.scratch = merged;
        Ok(())
    }

    /// Fires every window whose end - 1 lies in (previous time, `time`], oldest first,
    /// then drops the slices no window needs any more.
    fn advance(&mut self, time: Timestamp) -> Result<(), BoxError> {
        if time <= self.watermark {
            return Ok(());
        }
        let previous = self.watermark;
        self.watermark = time;
        let g = self.geometry;
        // Windows with previous < end - 1 <= time start in [previous + 2 - size,
        // time + 1 - size]. Walk their starts in order, jumping over stretches without
        // slices.
        let lo = previous.saturating_add(2).saturating_sub(g.size);
        let hi = time.saturating_add(1).saturating_sub(g.size);
        let mut start = match self.slices.first_from(lo) {
            // No window before the first slice's can hold anything.
            Some(first) => {
                let from = lo.max(first.saturating_sub(g.size - 1));
                let start = window_start(from, g.offset, g.slide);
                if start < from {
                    start.saturating_add(g.slide)
                } else {
                    start
                }
            }
            None => hi.saturating_add(1),
        };
        while start <= hi {
            let Some(slice) = self.slices.first_from(start) else {
                break;
            };
            let end = start.saturating_add(g.size);
            if slice < end {
                self.fire_window(TimeWindow::new(start, end))?;
                start = start.saturating_add(g.slide);
            } else {
                // The first window after `start` that holds `slice`.
                let next = window_start(slice.saturating_sub(g.size), g.offset, g.slide)
                    .saturating_add(g.slide);
                start = next.max(start.saturating_add(g.slide));
            }
        }
        while let Some(slice) = self.slices.first() {
            let newest = TimeWindow::new(g.newest_end(slice) - g.size, g.newest_end(slice));
            if newest.cleanup_time(self.spec.allowed_lateness) <= time {
                self.slices.pop_first()?;
                self.hot = [None, None];
            } else {
                break;
            }
        }
        Ok(())
    }
}

impl<K, T, A, O> Operator<T> for SlicedWindowOperator<K, T, A, O>
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
        if self.domain != TimeDomain::ProcessingTime {
            return None;
        }
        let g = self.geometry;
        let lo = self.watermark.saturating_add(2).saturating_sub(g.size);
        let slice = self.slices.first_from(lo)?;
        g.windows(slice)
            .map(|w| w.max_timestamp())
            .filter(|&m| m > self.watermark)
            .min()
    }

    fn on_processing_time(&mut self, now: Timestamp) -> Result<(), BoxError> {
        self.advance(now)?;
        self.out.flush();
        Ok(())
    }

    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        // Copy now, shape and encode later: processing stops only for one flat copy of
        // every (key, slice, accumulator); the snapshot's second step groups the copy by
        // key (each key with its slices and the time windows have fired to) and encodes it.
        // On disk, the tree keeps its version at the barrier and the second step reads it.
        // Room for the slices in memory only: those on disk are read by the second step.
        let total = self
            .slices
            .iter()
            .filter(|(_, accs)| matches!(accs, Table::Memory(_)))
            .map(|(_, accs)| accs.len())
            .sum();
        let mut entries: Vec<(K, (Timestamp, A::Acc))> = Vec::with_capacity(total);
        let mut on_disk = Vec::new();
        let mut slices = 0usize;
        for (slice, accs) in self.slices.iter() {
            if accs.is_empty() {
                continue;
            }
            slices += 1;
            match accs {
                Table::Memory(map) => {
                    entries.extend(map.iter().map(|(k, acc)| (k.clone(), (slice, acc.clone()))))
                }
                Table::Disk(_) => on_disk.push((slice, accs.snapshot())),
            }
        }
        let fired_to = self.watermark;
        self.out.barrier(barrier);
        self.late.barrier(barrier);
        Ok(Box::new(move |target| {
            if !on_disk.is_empty() {
                // On disk, each (key, slice) is encoded as it is read, one entry each (a
                // restore adds a key's entries up), so that no copy of the state is made.
                let mut groups = KeyGroupWriter::new(target);
                for (k, slice) in &entries {
                    groups.add(k, &(fired_to, std::slice::from_ref(slice)))?;
                }
                for (slice, snapshot) in on_disk {
                    snapshot.try_for_each(|k, acc| {
                        groups.add(&k, &(fired_to, std::slice::from_ref(&(slice, acc))))
                    })?;
                }
                groups.finish()?;
                return Ok(TaskState::default());
            }
            if slices <= 1 {
                // Each key is in the copy once: its slices are that one entry.
                encode_by_key_group(
                    target,
                    entries
                        .iter()
                        .map(|(k, slice)| (k, (fired_to, std::slice::from_ref(slice)))),
                )?;
            } else {
                let by_key = group_by_key(entries.iter().map(|(k, slice)| (k, slice)));
                encode_by_key_group(
                    target,
                    by_key
                        .into_iter()
                        .map(|(k, slices)| (k, (fired_to, slices))),
                )?;
            }
            Ok(TaskState::default())
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        type Entry<Acc> = (Timestamp, Vec<(Timestamp, Acc)>);
        state
            .key_groups
            .for_each(|key: K, (fired_to, slices): Entry<A::Acc>| {
                self.watermark = self.watermark.max(fired_to);
                for (slice, acc) in slices {
                    self.slices.get_or_insert(slice).insert(key.clone(), acc)?;
                }
                Ok(())
            })?;
        self.hot = [None, None];
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if self.domain == TimeDomain::ProcessingTime {
            // A bounded input ends: processing-time windows fire as Flink fires them at
            // the end of a bounded job.
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
    size: i64,
    slide: i64,
    offset: i64,
    domain: TimeDomain,
    spec: OperatorSpec<K, T, A, O>,
) -> Windowed<O, T>
where
    K: StateKey,
    T: Clone + Send + 'static,
    A: AggregateFunction<T>,
    O: Clone + Send + 'static,
{
    assert!(
        size > 0 && slide > 0,
        "window size and slide must be positive"
    );
    let geometry = Geometry {
        size,
        slide,
        offset,
        slice: gcd(size, slide),
    };
    let stream = keyed.stream();
    let name = spec.name.clone();
    let late_port = crate::stream::DataStream::<T>::new_port_stream(stream.env(), parallelism);
    let late_out = late_port.clone();
    let backend = stream.env().state_backend();
    let start = stream.env().start_watermark();
    let results = stream.operator(
        &name,
        parallelism,
        keyed.partitioner(),
        move |i, out: Box<dyn Emitter<O>>| SlicedWindowOperator {
            spec: spec.clone(),
            geometry,
            domain,
            slices: Slices::new(backend.clone()),
            hot: [None, None],
            watermark: start,
            scratch: HashMap::default(),
            firing: 0,
            out: Collector::new(out),
            late: Collector::new(late_out.port_emitter(i)),
        },
    );
    Windowed {
        results,
        late: late_port,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::checkpoint::decode;
    use crate::emitter::Discard;
    use crate::time::MIN_WATERMARK;
    use crate::window::testing::{finish, part, Kept, Rec, BARRIER};
    use crate::window::{CollectAll, EmitFn};

    type Out = (u64, TimeWindow, Vec<Rec>);
    type Op = SlicedWindowOperator<u64, Rec, CollectAll, Out>;
    /// One key's entry in a snapshot, as restores read it.
    type Entry = (u64, (Timestamp, Vec<(Timestamp, Vec<Rec>)>));

    fn operator(size: i64, slide: i64, lateness: i64) -> (Op, Kept<Out>) {
        operator_on(StateBackend::Memory, size, slide, lateness)
    }

    fn operator_on(backend: StateBackend, size: i64, slide: i64, lateness: i64) -> (Op, Kept<Out>) {
        let kept = Kept::default();
        let emit: EmitFn<u64, Vec<Rec>, Out> =
            Arc::new(|k, w, acc, out| out.collect((*k, w, acc.clone())));
        let op = SlicedWindowOperator {
            spec: OperatorSpec {
                name: "window".into(),
                key: Arc::new(|r: &Rec| r.0),
                timestamps: Some(Arc::new(|r: &Rec| r.1)),
                agg: Arc::new(CollectAll),
                emit,
                allowed_lateness: lateness,
            },
            geometry: Geometry {
                size,
                slide,
                offset: 0,
                slice: gcd(size, slide),
            },
            domain: TimeDomain::EventTime,
            slices: Slices::new(backend),
            hot: [None, None],
            watermark: MIN_WATERMARK,
            scratch: HashMap::default(),
            firing: 0,
            out: Collector::new(Box::new(kept.clone())),
            late: Collector::new(Box::new(Discard)),
        };
        (op, kept)
    }

    /// The time windows have fired to, and every accumulator by slice and key.
    type State = (Timestamp, BTreeMap<(Timestamp, u64), Vec<Rec>>);

    fn state(op: &Op) -> State {
        let accs = op
            .slices
            .iter()
            .flat_map(|(s, accs)| {
                accs.entries()
                    .unwrap()
                    .into_iter()
                    .map(move |(k, a)| ((s, k), a))
            })
            .collect();
        (op.watermark, accs)
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

    /// Takes a snapshot after `before`, changes the state in every way after the barrier
    /// (`after`: new and late records, windows firing and slices dropped and reused)
    /// before the snapshot's second step runs, and checks that the snapshot restores, at
    /// parallelism 1 and split over 2 instances, to the state at the barrier, and that
    /// the restored operator then gives what an uninterrupted one gives.
    fn snapshot_restores_the_state_at_the_barrier(
        (size, slide, lateness): (i64, i64, i64),
        before: &[Rec],
        at: Timestamp,
        after: &[Rec],
        slices_at_barrier: usize,
    ) {
        let dir = tempfile::tempdir().unwrap();
        for backend in [
            StateBackend::Memory,
            StateBackend::disk(dir.path()).unwrap(),
        ] {
            snapshot_on_restores_the_state_at_the_barrier(
                backend,
                (size, slide, lateness),
                before,
                at,
                after,
                slices_at_barrier,
            );
        }
    }

    /// [`snapshot_restores_the_state_at_the_barrier`] with the snapshotted operator's
    /// state in `backend` (the others' in memory).
    fn snapshot_on_restores_the_state_at_the_barrier(
        backend: StateBackend,
        (size, slide, lateness): (i64, i64, i64),
        before: &[Rec],
        at: Timestamp,
        after: &[Rec],
        slices_at_barrier: usize,
    ) {
        let (mut snapshotted, _) = operator_on(backend, size, slide, lateness);
        let (mut uninterrupted, uninterrupted_out) = operator(size, slide, lateness);
        feed(&mut snapshotted, before.iter().copied(), at);
        feed(&mut uninterrupted, before.iter().copied(), at);
        uninterrupted_out.take();
        let expected = state(&uninterrupted);
        assert_eq!(
            snapshotted
                .slices
                .iter()
                .filter(|(_, a)| !a.is_empty())
                .count(),
            slices_at_barrier
        );

        let snapshot = snapshotted.on_barrier(BARRIER).unwrap();
        feed(&mut snapshotted, after.iter().copied(), at + 1500);
        feed(
            &mut snapshotted,
            after.iter().map(|r| (r.0 + 7, r.1 + 1500, r.2)),
            at + 3000,
        );
        assert_ne!(state(&snapshotted), expected);
        let snapshot = finish(snapshot, |bytes| {
            decode::<Vec<Entry>>(bytes)
                .unwrap()
                .into_iter()
                .map(|e| e.0)
                .collect()
        });

        let (mut restored, restored_out) = operator(size, slide, lateness);
        restored.restore(part(&snapshot, 0, 1)).unwrap();
        assert_eq!(state(&restored), expected);
        for parallelism in 2..=3 {
            let mut split = BTreeMap::new();
            for instance in 0..parallelism {
                let (mut op, _) = operator(size, slide, lateness);
                op.restore(part(&snapshot, instance, parallelism)).unwrap();
                let (watermark, accs) = state(&op);
                assert_eq!(watermark, expected.0);
                split.extend(accs);
            }
            assert_eq!(split, expected.1);
        }

        for op in [&mut restored, &mut uninterrupted] {
            feed(op, after.iter().copied(), at + 1500);
            feed(op, after.iter().copied(), Timestamp::MAX);
        }
        let got = sorted(restored_out.take());
        assert!(!got.is_empty());
        assert_eq!(got, sorted(uninterrupted_out.take()));
    }

    /// Records of 300 keys over `[from, to)`, a little out of order.
    fn records(from: i64, to: i64, first_id: u64) -> Vec<Rec> {
        (0..2000u64)
            .map(|i| {
                let ts = from + (i as i64 * (to - from) / 2000 - (i as i64 * 37) % 200).max(0);
                (i.wrapping_mul(7919) % 300, ts, first_id + i)
            })
            .collect()
    }

    #[test]
    fn tumbling_snapshot_of_one_slice_restores_the_state_at_the_barrier() {
        snapshot_restores_the_state_at_the_barrier(
            (1000, 1000, 0),
            &records(0, 4000, 0),
            3000,
            &records(2500, 6000, 10_000),
            1,
        );
    }

    #[test]
    fn sliding_snapshot_of_many_slices_restores_the_state_at_the_barrier() {
        snapshot_restores_the_state_at_the_barrier(
            (3000, 1000, 500),
            &records(0, 6000, 0),
            3500,
            &records(2000, 8000, 10_000),
            5,
        );
    }
}
