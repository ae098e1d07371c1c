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

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::checkpoint::{
    decode_key_groups, encode_by_key_group, Barrier, RestoredState, SnapshotFn, StateKey, TaskState,
};
use crate::emitter::{Collector, Emitter};
use crate::error::BoxError;
use crate::operator::Operator;
use crate::stream::KeyedStream;
use crate::time::{now_ms, window_start, TimeDomain, TimeWindow, Timestamp, MIN_WATERMARK};
use crate::window::{AggregateFunction, OperatorSpec, Windowed};

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
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
    slices: BTreeMap<Timestamp, HashMap<K, A::Acc>>,
    /// The time up to which windows have fired.
    watermark: Timestamp,
    scratch: HashMap<K, A::Acc>,
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

    fn add(&mut self, item: T) {
        let ts = match &self.spec.timestamps {
            Some(f) => f(&item),
            // Processing time: the record belongs to the windows open now.
            None => now_ms().max(self.watermark.saturating_add(1)),
        };
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
            return;
        }
        let key = (self.spec.key)(&item);
        let slice = self.geometry.slice_of(ts);
        let agg = &self.spec.agg;
        let accs = self.slices.entry(slice).or_default();
        match accs.get_mut(&key) {
            Some(acc) => agg.add(acc, &item),
            None => {
                let mut acc = agg.create();
                agg.add(&mut acc, &item);
                accs.insert(key.clone(), acc);
            }
        }
        for w in refire.into_iter().flatten().chain(refire_more) {
            self.fire_key(&key, w);
        }
    }

    /// Fires window `w` for one key (a late firing).
    fn fire_key(&mut self, key: &K, w: TimeWindow) {
        let mut merged: Option<A::Acc> = None;
        for (_, accs) in self.slices.range(w.start..w.end) {
            if let Some(acc) = accs.get(key) {
                match &mut merged {
                    None => merged = Some(acc.clone()),
                    Some(m) => self.spec.agg.merge(m, acc),
                }
            }
        }
        if let Some(acc) = merged {
            (self.spec.emit)(key, w, &acc, &mut self.out);
        }
    }

    /// Fires window `w` for every key that has records in it.
    fn fire_window(&mut self, w: TimeWindow) {
        let mut range = self.slices.range(w.start..w.end);
        let Some((_, first)) = range.next() else {
            return;
        };
        let Some((_, _)) = range.next() else {
            // One slice: emit from it directly.
            for (k, acc) in first {
                (self.spec.emit)(k, w, acc, &mut self.out);
            }
            return;
        };
        let mut merged = std::mem::take(&mut self.scratch);
        for (_, accs) in self.slices.range(w.start..w.end) {
            for (k, acc) in accs {
                match merged.get_mut(k) {
                    Some(m) => self.spec.agg.merge(m, acc),
                    None => {
                        merged.insert(k.clone(), acc.clone());
                    }
                }
            }
        }
        for (k, acc) in &merged {
            (self.spec.emit)(k, w, acc, &mut self.out);
        }
        merged.clear();
        self.scratch = merged;
    }

    /// Fires every window whose end - 1 lies in (previous time, `time`], then drops the
    /// slices no window needs any more.
    fn advance(&mut self, time: Timestamp) {
        if time <= self.watermark {
            return;
        }
        let previous = self.watermark;
        self.watermark = time;
        let g = self.geometry;
        // Windows with previous < end - 1 <= time hold slices starting in
        // [previous + 2 - size, time + 1).
        let lo = previous.saturating_add(2).saturating_sub(g.size);
        let hi = time.saturating_add(1);
        let mut ends = BTreeSet::new();
        if lo < hi {
            for &slice in self.slices.range(lo..hi).map(|(s, _)| s) {
                for w in g.windows(slice) {
                    let max = w.max_timestamp();
                    if max > previous && max <= time && w.start <= slice {
                        ends.insert(w.end);
                    }
                }
            }
        }
        for end in ends {
            self.fire_window(TimeWindow::new(end - g.size, end));
        }
        while let Some((&slice, _)) = self.slices.first_key_value() {
            let newest = TimeWindow::new(g.newest_end(slice) - g.size, g.newest_end(slice));
            if newest.cleanup_time(self.spec.allowed_lateness) <= time {
                self.slices.pop_first();
            } else {
                break;
            }
        }
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
        if self.domain != TimeDomain::ProcessingTime {
            return None;
        }
        let g = self.geometry;
        let lo = self.watermark.saturating_add(2).saturating_sub(g.size);
        let (&slice, _) = self.slices.range(lo..).next()?;
        g.windows(slice)
            .map(|w| w.max_timestamp())
            .filter(|&m| m > self.watermark)
            .min()
    }

    fn on_processing_time(&mut self, now: Timestamp) -> Result<(), BoxError> {
        self.advance(now);
        self.out.flush();
        Ok(())
    }

    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        // Copy now, encode later: per key, its slices and the time windows have fired to.
        let mut by_key: HashMap<K, Vec<(Timestamp, A::Acc)>> = HashMap::new();
        for (&slice, accs) in &self.slices {
            for (k, acc) in accs {
                by_key
                    .entry(k.clone())
                    .or_default()
                    .push((slice, acc.clone()));
            }
        }
        let fired_to = self.watermark;
        self.out.barrier(barrier);
        self.late.barrier(barrier);
        Ok(Box::new(move || {
            Ok(TaskState {
                key_groups: encode_by_key_group(
                    by_key
                        .into_iter()
                        .map(|(k, slices)| (k, (fired_to, slices))),
                )?,
                splits: Vec::new(),
            })
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        type Entry<Acc> = (Timestamp, Vec<(Timestamp, Acc)>);
        for (key, (fired_to, slices)) in decode_key_groups::<K, Entry<A::Acc>>(&state.key_groups)? {
            self.watermark = self.watermark.max(fired_to);
            for (slice, acc) in slices {
                self.slices
                    .entry(slice)
                    .or_default()
                    .insert(key.clone(), acc);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        if self.domain == TimeDomain::ProcessingTime {
            // A bounded input ends: processing-time windows fire as Flink fires them at
            // the end of a bounded job.
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
    let late_port = crate::stream::DataStream::<T>::new_port_stream(stream.env(), parallelism);
    let late_out = late_port.clone();
    let results = stream.operator(
        "window",
        parallelism,
        keyed.partitioner(),
        move |i, out: Box<dyn Emitter<O>>| SlicedWindowOperator {
            spec: spec.clone(),
            geometry,
            domain,
            slices: BTreeMap::new(),
            watermark: MIN_WATERMARK,
            scratch: HashMap::new(),
            out: Collector::new(out),
            late: Collector::new(late_out.port_emitter(i)),
        },
    );
    Windowed {
        results,
        late: late_port,
    }
}
