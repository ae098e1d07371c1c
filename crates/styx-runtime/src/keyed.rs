//! Keyed state and timers: Flink's `KeyedProcessFunction`.
//!
//! A [`KeyedProcessFunction`] sees each record with the state of its key (any type with a
//! default value) and may register event-time and processing-time timers for the key.
//! Timers fire once the watermark (or the wall clock) reaches them; a timer registered
//! twice for the same key and time fires once.

use std::collections::BTreeMap;

use indexmap::IndexSet;
use std::hash::Hash;
use std::sync::Arc;

use crate::checkpoint::{
    group_by_key, Barrier, KeyGroupWriter, RestoredState, SnapshotFn, StateKey, StateValue,
    TaskState,
};
use crate::emitter::{Collector, Emitter};
use crate::error::BoxError;
use crate::operator::Operator;
use crate::state::Table;
use crate::stream::{DataStream, KeyedStream};
use crate::time::{now_ms, TimeDomain, Timestamp, MIN_WATERMARK};

/// What a keyed process function can do besides reading its state.
pub struct KeyedContext<'a, K, O> {
    key: &'a K,
    watermark: Timestamp,
    timestamp: Option<Timestamp>,
    timers: &'a mut Timers<K>,
    out: &'a mut Collector<O>,
    clear: bool,
}

impl<K: Hash + Eq + Clone, O: Send> KeyedContext<'_, K, O> {
    /// The key of the current record or timer.
    pub fn key(&self) -> &K {
        self.key
    }

    /// The current event-time watermark.
    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    /// The event timestamp of the current record, if the stream has timestamps.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// The wall-clock time in epoch milliseconds.
    pub fn processing_time(&self) -> Timestamp {
        now_ms()
    }

    /// Sends a record on.
    pub fn collect(&mut self, item: O) {
        self.out.collect(item);
    }

    /// Fires [`KeyedProcessFunction::on_timer`] for this key once the watermark reaches
    /// `time`.
    pub fn register_event_time_timer(&mut self, time: Timestamp) {
        self.timers.register(TimeDomain::EventTime, time, self.key);
    }

    /// Fires [`KeyedProcessFunction::on_timer`] for this key at wall-clock `time`.
    pub fn register_processing_time_timer(&mut self, time: Timestamp) {
        self.timers
            .register(TimeDomain::ProcessingTime, time, self.key);
    }

    /// Deletes an event-time timer of this key.
    pub fn delete_event_time_timer(&mut self, time: Timestamp) {
        self.timers.delete(TimeDomain::EventTime, time, self.key);
    }

    /// Deletes a processing-time timer of this key.
    pub fn delete_processing_time_timer(&mut self, time: Timestamp) {
        self.timers
            .delete(TimeDomain::ProcessingTime, time, self.key);
    }

    /// Drops the key's state after this call.
    pub fn clear_state(&mut self) {
        self.clear = true;
    }
}

/// Processes the records of a keyed stream one at a time, with per-key state and timers.
pub trait KeyedProcessFunction<K, In, Out>: Send + Sync + 'static {
    /// The state kept per key (saved in checkpoints); it starts as `Default::default()`.
    type State: Default + StateValue;

    /// Handles one record.
    fn process(&self, value: In, state: &mut Self::State, ctx: &mut KeyedContext<'_, K, Out>);

    /// A timer of the key fired.
    fn on_timer(
        &self,
        _time: Timestamp,
        _domain: TimeDomain,
        _state: &mut Self::State,
        _ctx: &mut KeyedContext<'_, K, Out>,
    ) {
    }
}

/// The timers of an operator instance.
pub struct Timers<K> {
    // Per time, the keys with a timer then; an index set, so that taking any one of them
    // (firing) and deleting one are both constant time.
    event: BTreeMap<Timestamp, IndexSet<K>>,
    processing: BTreeMap<Timestamp, IndexSet<K>>,
}

impl<K: Hash + Eq + Clone> Timers<K> {
    fn new() -> Self {
        Timers {
            event: BTreeMap::new(),
            processing: BTreeMap::new(),
        }
    }

    fn map(&mut self, domain: TimeDomain) -> &mut BTreeMap<Timestamp, IndexSet<K>> {
        match domain {
            TimeDomain::EventTime => &mut self.event,
            TimeDomain::ProcessingTime => &mut self.processing,
        }
    }

    fn register(&mut self, domain: TimeDomain, time: Timestamp, key: &K) {
        self.map(domain)
            .entry(time)
            .or_default()
            .insert(key.clone());
    }

    fn delete(&mut self, domain: TimeDomain, time: Timestamp, key: &K) {
        let map = self.map(domain);
        if let Some(set) = map.get_mut(&time) {
            set.swap_remove(key);
            if set.is_empty() {
                map.remove(&time);
            }
        }
    }

    fn pop_due(&mut self, domain: TimeDomain, time: Timestamp) -> Option<(Timestamp, K)> {
        let map = self.map(domain);
        let mut entry = map.first_entry()?;
        if *entry.key() > time {
            return None;
        }
        let at = *entry.key();
        let key = entry.get_mut().pop()?;
        if entry.get().is_empty() {
            entry.remove();
        }
        Some((at, key))
    }
}

/// The keyed process operator instance.
pub struct KeyedProcessOperator<K, T, O, F: KeyedProcessFunction<K, T, O>> {
    function: Arc<F>,
    key: Arc<dyn Fn(&T) -> K + Send + Sync>,
    timestamps: Option<crate::watermark::TimestampFn<T>>,
    states: Table<K, F::State>,
    timers: Timers<K>,
    watermark: Timestamp,
    out: Collector<O>,
}

impl<K, T, O, F> KeyedProcessOperator<K, T, O, F>
where
    K: StateKey,
    O: Send,
    F: KeyedProcessFunction<K, T, O>,
{
    fn fire(&mut self, domain: TimeDomain, time: Timestamp) -> Result<(), BoxError> {
        while let Some((at, key)) = self.timers.pop_due(domain, time) {
            let mut state = self.states.remove(&key)?.unwrap_or_default();
            let mut ctx = KeyedContext {
                key: &key,
                watermark: self.watermark,
                timestamp: Some(at),
                timers: &mut self.timers,
                out: &mut self.out,
                clear: false,
            };
            self.function.on_timer(at, domain, &mut state, &mut ctx);
            if !ctx.clear {
                self.states.insert(key, state)?;
            }
        }
        Ok(())
    }
}

impl<K, T, O, F> Operator<T> for KeyedProcessOperator<K, T, O, F>
where
    K: StateKey,
    T: Send,
    O: Send,
    F: KeyedProcessFunction<K, T, O>,
{
    fn process(&mut self, batch: &mut Vec<T>) -> Result<(), BoxError> {
        for item in batch.drain(..) {
            let key = (self.key)(&item);
            let timestamp = self.timestamps.as_ref().map(|f| f(&item));
            let mut slot = self.states.slot(&key, Default::default)?;
            let mut ctx = KeyedContext {
                key: &key,
                watermark: self.watermark,
                timestamp,
                timers: &mut self.timers,
                out: &mut self.out,
                clear: false,
            };
            self.function.process(item, slot.value(), &mut ctx);
            if ctx.clear {
                slot.remove()?;
            } else {
                slot.keep()?;
            }
        }
        Ok(())
    }

    fn on_watermark(&mut self, watermark: Timestamp) -> Result<(), BoxError> {
        self.watermark = watermark;
        self.fire(TimeDomain::EventTime, watermark)?;
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

    fn next_processing_timer(&self) -> Option<Timestamp> {
        self.timers.processing.keys().next().copied()
    }

    fn on_processing_time(&mut self, now: Timestamp) -> Result<(), BoxError> {
        self.fire(TimeDomain::ProcessingTime, now)?;
        self.out.flush();
        Ok(())
    }

    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        // Copy now, shape and encode later: processing stops only for a flat copy of the
        // states and of the timers; the snapshot's second step gives each key its state
        // and timers and encodes them.
        let states = self.states.snapshot();
        let maps = [(false, &self.timers.event), (true, &self.timers.processing)];
        let total = maps
            .iter()
            .flat_map(|(_, map)| map.values())
            .map(IndexSet::len)
            .sum();
        let mut timers: Vec<(K, (bool, Timestamp))> = Vec::with_capacity(total);
        for (processing, map) in maps {
            for (&at, keys) in map {
                timers.extend(keys.iter().map(|k| (k.clone(), (processing, at))));
            }
        }
        self.out.barrier(barrier);
        Ok(Box::new(move |target| {
            let mut timers = group_by_key(timers.iter().map(|(k, t)| (k, t)));
            let mut groups = KeyGroupWriter::new(target);
            states.try_for_each(|k, s| {
                let t = timers.remove(&k).unwrap_or_default();
                groups.add(&k, &(Some(&s), t))
            })?;
            // Keys with timers but no state.
            for (k, t) in timers {
                groups.add(k, &(None::<&F::State>, t))?;
            }
            groups.finish()?;
            Ok(TaskState::default())
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        state
            .key_groups
            .for_each(|key: K, (s, timers): KeyedEntry<F::State>| {
                for (processing, at) in timers {
                    let domain = if processing {
                        TimeDomain::ProcessingTime
                    } else {
                        TimeDomain::EventTime
                    };
                    self.timers.register(domain, at, &key);
                }
                if let Some(s) = s {
                    self.states.insert(key, s)?;
                }
                Ok(())
            })
    }

    fn finish(&mut self) -> Result<(), BoxError> {
        self.out.end();
        Ok(())
    }
}

/// What a checkpoint keeps per key: its state and its timers (processing time?, time).
type KeyedEntry<S> = (Option<S>, Vec<(bool, Timestamp)>);

impl<K, T> KeyedStream<K, T>
where
    K: StateKey,
    T: Clone + Send + 'static,
{
    /// Runs a keyed process function over the stream.
    pub fn process<O, F>(&self, function: F) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        F: KeyedProcessFunction<K, T, O>,
    {
        self.process_named("keyed-process", function)
    }

    /// Runs a keyed process function over the stream as the operator `name`.
    pub fn process_named<O, F>(&self, name: &str, function: F) -> DataStream<O>
    where
        O: Clone + Send + 'static,
        F: KeyedProcessFunction<K, T, O>,
    {
        let function = Arc::new(function);
        let key = self.key_fn();
        let stream = self.stream();
        let timestamps = stream.timestamps();
        let backend = stream.env().state_backend();
        stream.operator(
            name,
            stream.env().parallelism(),
            self.partitioner(),
            move |_, out: Box<dyn Emitter<O>>| KeyedProcessOperator {
                function: function.clone(),
                key: key.clone(),
                timestamps: timestamps.clone(),
                states: backend.table(),
                timers: Timers::new(),
                watermark: MIN_WATERMARK,
                out: Collector::new(out),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::checkpoint::decode;
    use crate::state::StateBackend;
    use crate::window::testing::{backends, finish, part, Kept, Rec, BARRIER};

    /// Keeps the ids of a key's records; registers timers, and drops the state of some
    /// keys while their timers stay.
    struct Ids;

    impl KeyedProcessFunction<u64, Rec, (u64, Timestamp, Vec<u64>)> for Ids {
        type State = Vec<u64>;

        fn process(
            &self,
            r: Rec,
            ids: &mut Vec<u64>,
            ctx: &mut KeyedContext<'_, u64, (u64, Timestamp, Vec<u64>)>,
        ) {
            ids.push(r.2);
            if r.2 % 3 == 0 {
                ctx.register_event_time_timer(r.1 + 100);
            }
            if r.2 % 5 == 0 {
                ctx.register_processing_time_timer(Timestamp::MAX - r.1);
            }
            if r.2 % 7 == 0 {
                ctx.clear_state();
            }
        }

        fn on_timer(
            &self,
            time: Timestamp,
            _domain: TimeDomain,
            ids: &mut Vec<u64>,
            ctx: &mut KeyedContext<'_, u64, (u64, Timestamp, Vec<u64>)>,
        ) {
            let key = *ctx.key();
            ctx.collect((key, time, ids.clone()));
        }
    }

    type Out = (u64, Timestamp, Vec<u64>);
    type Op = KeyedProcessOperator<u64, Rec, Out, Ids>;
    /// One key's entry in a snapshot, as restores read it.
    type Entry = (u64, KeyedEntry<Vec<u64>>);

    fn operator() -> (Op, Kept<Out>) {
        operator_on(StateBackend::Memory)
    }

    fn operator_on(backend: StateBackend) -> (Op, Kept<Out>) {
        let kept = Kept::default();
        let op = KeyedProcessOperator {
            function: Arc::new(Ids),
            key: Arc::new(|r: &Rec| r.0),
            timestamps: Some(Arc::new(|r: &Rec| r.1)),
            states: backend.table(),
            timers: Timers::new(),
            watermark: MIN_WATERMARK,
            out: Collector::new(Box::new(kept.clone())),
        };
        (op, kept)
    }

    /// Every key's state and every timer (processing time?, time, key).
    type State = (BTreeMap<u64, Vec<u64>>, BTreeSet<(bool, Timestamp, u64)>);

    fn state(op: &Op) -> State {
        let states = op.states.entries().unwrap().into_iter().collect();
        let timers = [(false, &op.timers.event), (true, &op.timers.processing)]
            .into_iter()
            .flat_map(|(p, map)| {
                map.iter()
                    .flat_map(move |(at, keys)| keys.iter().map(move |k| (p, *at, *k)))
            })
            .collect();
        (states, timers)
    }

    fn feed(op: &mut Op, records: impl Iterator<Item = Rec>, watermark: Timestamp) {
        op.process(&mut records.collect()).unwrap();
        op.on_watermark(watermark).unwrap();
    }

    fn records(from: i64, first_id: u64) -> Vec<Rec> {
        (0..2000u64)
            .map(|i| (i.wrapping_mul(7919) % 300, from + i as i64, first_id + i))
            .collect()
    }

    /// Takes a snapshot with states, timers of both kinds and keys that only have timers,
    /// changes all of it after the barrier before the snapshot's second step runs, and
    /// checks that the snapshot restores, at parallelism 1 and split over 2 instances, to
    /// the state at the barrier, and that the restored operator then gives what an
    /// uninterrupted one gives.
    #[test]
    fn snapshot_restores_the_state_at_the_barrier() {
        let (_dir, backends) = backends();
        for backend in backends {
            snapshot_on_restores_the_state_at_the_barrier(backend);
        }
    }

    /// The snapshotted operator's state is in `backend`, the others' in memory.
    fn snapshot_on_restores_the_state_at_the_barrier(backend: StateBackend) {
        let (before, after) = (records(0, 0), records(1500, 10_000));
        let (mut snapshotted, _) = operator_on(backend);
        let (mut uninterrupted, uninterrupted_out) = operator();
        feed(&mut snapshotted, before.iter().copied(), 1000);
        feed(&mut uninterrupted, before.iter().copied(), 1000);
        uninterrupted_out.take();
        let expected = state(&uninterrupted);
        let timer_keys: BTreeSet<u64> = expected.1.iter().map(|t| t.2).collect();
        assert!(timer_keys.iter().any(|k| !expected.0.contains_key(k)));
        assert!(expected.1.iter().any(|t| t.0) && expected.1.iter().any(|t| !t.0));

        let snapshot = snapshotted.on_barrier(BARRIER).unwrap();
        feed(&mut snapshotted, after.iter().copied(), 3000);
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
            let (mut states, mut timers) = (BTreeMap::new(), BTreeSet::new());
            for instance in 0..parallelism {
                let (mut op, _) = operator();
                op.restore(part(&snapshot, instance, parallelism)).unwrap();
                let (s, t) = state(&op);
                states.extend(s);
                timers.extend(t);
            }
            assert_eq!((states, timers), expected);
        }

        for op in [&mut restored, &mut uninterrupted] {
            // The restored operator learns the watermark from its inputs again.
            op.on_watermark(1000).unwrap();
            feed(op, after.iter().copied(), 3000);
        }
        let mut got = restored_out.take();
        got.sort();
        assert!(!got.is_empty());
        let mut want = uninterrupted_out.take();
        want.sort();
        assert_eq!(got, want);
    }
}
