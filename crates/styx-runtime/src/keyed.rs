//! Keyed state and timers: Flink's `KeyedProcessFunction`.
//!
//! A [`KeyedProcessFunction`] sees each record with the state of its key (any type with a
//! default value) and may register event-time and processing-time timers for the key.
//! Timers fire once the watermark (or the wall clock) reaches them; a timer registered
//! twice for the same key and time fires once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

use crate::checkpoint::{
    decode_key_groups, encode_by_key_group, Barrier, RestoredState, SnapshotFn, StateKey,
    StateValue, TaskState,
};
use crate::emitter::{Collector, Emitter};
use crate::error::BoxError;
use crate::operator::Operator;
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
    event: BTreeMap<Timestamp, HashSet<K>>,
    processing: BTreeMap<Timestamp, HashSet<K>>,
}

impl<K: Hash + Eq + Clone> Timers<K> {
    fn new() -> Self {
        Timers {
            event: BTreeMap::new(),
            processing: BTreeMap::new(),
        }
    }

    fn map(&mut self, domain: TimeDomain) -> &mut BTreeMap<Timestamp, HashSet<K>> {
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
            set.remove(key);
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
        let key = entry.get().iter().next().cloned()?;
        entry.get_mut().remove(&key);
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
    states: HashMap<K, F::State>,
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
    fn fire(&mut self, domain: TimeDomain, time: Timestamp) {
        while let Some((at, key)) = self.timers.pop_due(domain, time) {
            let mut state = self.states.remove(&key).unwrap_or_default();
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
                self.states.insert(key, state);
            }
        }
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
            let state = self.states.entry(key.clone()).or_default();
            let mut ctx = KeyedContext {
                key: &key,
                watermark: self.watermark,
                timestamp,
                timers: &mut self.timers,
                out: &mut self.out,
                clear: false,
            };
            self.function.process(item, state, &mut ctx);
            if ctx.clear {
                self.states.remove(&key);
            }
        }
        Ok(())
    }

    fn on_watermark(&mut self, watermark: Timestamp) -> Result<(), BoxError> {
        self.watermark = watermark;
        self.fire(TimeDomain::EventTime, watermark);
        self.out.watermark(watermark);
        Ok(())
    }

    fn on_idle(&mut self, idle: bool) -> Result<(), BoxError> {
        self.out.idle(idle);
        Ok(())
    }

    fn next_processing_timer(&self) -> Option<Timestamp> {
        self.timers.processing.keys().next().copied()
    }

    fn on_processing_time(&mut self, now: Timestamp) -> Result<(), BoxError> {
        self.fire(TimeDomain::ProcessingTime, now);
        self.out.flush();
        Ok(())
    }

    fn on_barrier(&mut self, barrier: Barrier) -> Result<SnapshotFn, BoxError> {
        let mut timers: HashMap<K, Vec<(bool, Timestamp)>> = HashMap::new();
        for (processing, map) in [(false, &self.timers.event), (true, &self.timers.processing)] {
            for (&at, keys) in map {
                for k in keys {
                    timers.entry(k.clone()).or_default().push((processing, at));
                }
            }
        }
        let mut entries: Vec<(K, KeyedEntry<F::State>)> = self
            .states
            .iter()
            .map(|(k, s)| {
                let t = timers.remove(k).unwrap_or_default();
                (k.clone(), (Some(s.clone()), t))
            })
            .collect();
        entries.extend(timers.into_iter().map(|(k, t)| (k, (None, t))));
        self.out.barrier(barrier);
        Ok(Box::new(move || {
            Ok(TaskState {
                key_groups: encode_by_key_group(entries)?,
                splits: Vec::new(),
            })
        }))
    }

    fn restore(&mut self, state: RestoredState) -> Result<(), BoxError> {
        for (key, (s, timers)) in decode_key_groups::<K, KeyedEntry<F::State>>(&state.key_groups)? {
            for (processing, at) in timers {
                let domain = if processing {
                    TimeDomain::ProcessingTime
                } else {
                    TimeDomain::EventTime
                };
                self.timers.register(domain, at, &key);
            }
            if let Some(s) = s {
                self.states.insert(key, s);
            }
        }
        Ok(())
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
        let function = Arc::new(function);
        let key = self.key_fn();
        let stream = self.stream();
        let timestamps = stream.timestamps();
        stream.operator(
            "keyed-process",
            stream.env().parallelism(),
            self.partitioner(),
            move |_, out: Box<dyn Emitter<O>>| KeyedProcessOperator {
                function: function.clone(),
                key: key.clone(),
                timestamps: timestamps.clone(),
                states: HashMap::new(),
                timers: Timers::new(),
                watermark: MIN_WATERMARK,
                out: Collector::new(out),
            },
        )
    }
}
