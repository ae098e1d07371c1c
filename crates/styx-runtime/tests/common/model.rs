//! A reference model of Flink's `WindowOperator` with the `EventTimeTrigger`, written for
//! clarity, not speed: one state per key and window (never per slice), one timer per
//! (time, key, window) as Flink's timer service keeps them, and a per-key set of session
//! windows that merges as Flink's `MergingWindowSet` does.
//!
//! The watermark is generated after every event as Flink's bounded-out-of-orderness
//! generator does (`max timestamp - out_of_orderness - 1`); each event is checked against
//! the watermark from before it; the end of input is the watermark `i64::MAX`.

use std::collections::{BTreeMap, BTreeSet};

/// Which windows an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// `[start, start + size)` aligned to epoch 0.
    Tumbling(i64),
    /// `(size, slide)`: windows of `size` starting every `slide`, aligned to epoch 0.
    Sliding(i64, i64),
    /// `[ts, ts + gap)` per event, merged when they overlap or touch.
    Session(i64),
}

/// A window `[start, end)`.
pub type Window = (i64, i64);

/// A window firing: key, window and the payloads of the window's events in arrival order.
pub type Firing<K, P> = (K, Window, Vec<P>);

fn max_timestamp(w: Window) -> i64 {
    w.1 - 1
}

/// `end - 1 + lateness`, saturating at the end of time (Flink's `cleanupTime`).
fn cleanup_time(w: Window, lateness: i64) -> i64 {
    max_timestamp(w).saturating_add(lateness)
}

/// The start of the window of length `size` holding `ts` (floor alignment to epoch 0).
fn start_of(ts: i64, size: i64) -> i64 {
    ts - ts.rem_euclid(size)
}

/// Flink's `SlidingEventTimeWindows.assignWindows` (and tumbling as size == slide).
fn assign(spec: Spec, ts: i64) -> Vec<Window> {
    match spec {
        Spec::Tumbling(size) => {
            let s = start_of(ts, size);
            vec![(s, s + size)]
        }
        Spec::Sliding(size, slide) => {
            let mut out = Vec::new();
            let mut start = start_of(ts, slide);
            while start > ts - size {
                out.push((start, start + size));
                start -= slide;
            }
            out
        }
        Spec::Session(gap) => vec![(ts, ts.saturating_add(gap))],
    }
}

/// Flink's `TimeWindow.intersects`: overlapping or touching.
fn intersects(a: Window, b: Window) -> bool {
    a.0 <= b.1 && a.1 >= b.0
}

/// The model's state.
pub struct Model<K, P> {
    spec: Spec,
    lateness: i64,
    watermark: i64,
    /// Per key and window, the window's contents.
    state: BTreeMap<(K, Window), Vec<P>>,
    /// Per key, the session windows in flight (merging assigners only).
    sessions: BTreeMap<K, BTreeSet<Window>>,
    /// Event-time timers: (time, key, window), deduplicated as in Flink.
    timers: BTreeSet<(i64, K, Window)>,
    /// Window firings, in emission order.
    pub fired: Vec<Firing<K, P>>,
    /// The late side output.
    pub late: Vec<P>,
}

impl<K: Ord + Clone, P: Clone> Model<K, P> {
    /// An empty model.
    pub fn new(spec: Spec, lateness: i64) -> Self {
        Model {
            spec,
            lateness,
            watermark: i64::MIN,
            state: BTreeMap::new(),
            sessions: BTreeMap::new(),
            timers: BTreeSet::new(),
            fired: Vec::new(),
            late: Vec::new(),
        }
    }

    fn is_window_late(&self, w: Window) -> bool {
        cleanup_time(w, self.lateness) <= self.watermark
    }

    fn register_cleanup(&mut self, key: &K, w: Window) {
        let t = cleanup_time(w, self.lateness);
        if t != i64::MAX {
            self.timers.insert((t, key.clone(), w));
        }
    }

    fn emit(&mut self, key: &K, w: Window) {
        if let Some(contents) = self.state.get(&(key.clone(), w)) {
            self.fired.push((key.clone(), w, contents.clone()));
        }
    }

    /// Adds `payload` to window `w` of `key` and runs the trigger's `onElement`.
    fn add_to_window(&mut self, key: &K, w: Window, payload: &P) {
        self.state
            .entry((key.clone(), w))
            .or_default()
            .push(payload.clone());
        if max_timestamp(w) <= self.watermark {
            self.emit(key, w);
        } else {
            self.timers.insert((max_timestamp(w), key.clone(), w));
        }
        self.register_cleanup(key, w);
    }

    /// Flink's `MergingWindowSet.addWindow` with the `WindowOperator`'s merge function.
    /// Returns the window the new window ended up in.
    fn add_session_window(&mut self, key: &K, new: Window) -> Window {
        let set = self.sessions.entry(key.clone()).or_default();
        // TimeWindow.mergeWindows: sort by start, sweep, group what intersects.
        let mut all: Vec<Window> = set.iter().copied().collect();
        all.push(new);
        all.sort_by_key(|w| w.0);
        let mut groups: Vec<(Window, BTreeSet<Window>)> = Vec::new();
        for w in all {
            match groups.last_mut() {
                Some((cover, members)) if intersects(*cover, w) => {
                    *cover = (cover.0.min(w.0), cover.1.max(w.1));
                    members.insert(w);
                }
                _ => groups.push((w, BTreeSet::from([w]))),
            }
        }
        let mut result = new;
        let mut merged_new = false;
        for (cover, mut members) in groups.into_iter().filter(|(_, m)| m.len() > 1) {
            if members.remove(&new) {
                merged_new = true;
                result = cover;
            }
            let set = self.sessions.get_mut(key).expect("the key's windows");
            for m in &members {
                set.remove(m);
            }
            set.insert(cover);
            if members.contains(&cover) && members.len() == 1 {
                continue;
            }
            // The merge function: a merge may never make a window late.
            assert!(
                cleanup_time(cover, self.lateness) > self.watermark,
                "Flink refuses a merge that makes a window late"
            );
            // EventTimeTrigger.onMerge.
            if max_timestamp(cover) > self.watermark {
                self.timers
                    .insert((max_timestamp(cover), key.clone(), cover));
            }
            let mut contents = Vec::new();
            for m in &members {
                // EventTimeTrigger.clear, then deleteCleanupTimer.
                self.timers.remove(&(max_timestamp(*m), key.clone(), *m));
                let t = cleanup_time(*m, self.lateness);
                if t != i64::MAX {
                    self.timers.remove(&(t, key.clone(), *m));
                }
                if let Some(c) = self.state.remove(&(key.clone(), *m)) {
                    contents.extend(c);
                }
            }
            self.state
                .entry((key.clone(), cover))
                .or_default()
                .extend(contents);
        }
        if result == new && !merged_new {
            self.sessions
                .get_mut(key)
                .expect("the key's windows")
                .insert(new);
        }
        result
    }

    /// Flink's `WindowOperator.processElement`.
    pub fn element(&mut self, key: K, ts: i64, payload: P) {
        let mut skipped = true;
        for w in assign(self.spec, ts) {
            let actual = match self.spec {
                Spec::Session(_) => self.add_session_window(&key, w),
                _ => w,
            };
            if self.is_window_late(actual) {
                if let Spec::Session(_) = self.spec {
                    self.sessions
                        .get_mut(&key)
                        .expect("the key's windows")
                        .remove(&actual);
                }
                continue;
            }
            skipped = false;
            self.add_to_window(&key, actual, &payload);
        }
        if skipped && ts.saturating_add(self.lateness) <= self.watermark {
            self.late.push(payload);
        }
    }

    /// Advances the watermark and fires the timers due (Flink's `onEventTime`).
    pub fn watermark(&mut self, watermark: i64) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        while let Some(first) = self.timers.first().cloned() {
            if first.0 > watermark {
                break;
            }
            self.timers.remove(&first);
            let (time, key, w) = first;
            if let Spec::Session(_) = self.spec {
                let in_flight = self.sessions.get(&key).is_some_and(|s| s.contains(&w));
                if !in_flight {
                    continue;
                }
            }
            if time == max_timestamp(w) {
                self.emit(&key, w);
            }
            if time == cleanup_time(w, self.lateness) {
                self.state.remove(&(key.clone(), w));
                self.timers.remove(&(max_timestamp(w), key.clone(), w));
                if let Some(set) = self.sessions.get_mut(&key) {
                    set.remove(&w);
                }
            }
        }
    }
}

/// Runs the model over `events` (key, timestamp, payload) with a watermark after every
/// event, then the end of input. Returns the firings and the late side output.
pub fn run<K: Ord + Clone, P: Clone>(
    events: &[(K, i64, P)],
    spec: Spec,
    out_of_orderness: i64,
    lateness: i64,
) -> (Vec<Firing<K, P>>, Vec<P>) {
    let mut model = Model::new(spec, lateness);
    let mut max_ts = i64::MIN;
    for (key, ts, payload) in events {
        model.element(key.clone(), *ts, payload.clone());
        max_ts = max_ts.max(*ts);
        model.watermark(max_ts.saturating_sub(out_of_orderness).saturating_sub(1));
    }
    model.watermark(i64::MAX);
    (model.fired, model.late)
}
