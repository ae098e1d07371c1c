//! The pattern operator: FlinkCEP's `CepOperator` as a keyed process function.
//!
//! In event time, an event after the watermark is buffered under its timestamp, with a
//! timer at the key's earliest buffered timestamp; when the watermark reaches the timer, the key's buffered events up to the
//! watermark are matched in timestamp order (after advancing time to each, so that runs
//! time out before a later event could extend them), then time advances to the
//! watermark. A run that starts sets a timer at its start plus `within`, so that it times
//! out even when its key sees no more events.

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use super::compiler::Nfa;
use super::nfa::{Found, Matcher};
use super::{Match, Pattern, PatternError};
use crate::checkpoint::{StateKey, StateValue};
use crate::keyed::{KeyedContext, KeyedProcessFunction};
use crate::stream::{DataStream, KeyedStream};
use crate::time::{TimeDomain, Timestamp};

/// What a pattern produces: matches, timed-out partial matches and late events.
pub struct PatternStreams<O, T> {
    /// One record per match.
    pub matches: DataStream<O>,
    /// One record per partial match whose `within` ran out.
    pub timed_out: DataStream<O>,
    /// The events that came after the watermark had passed them, unchanged.
    pub late: DataStream<T>,
}

/// A key's state: its matcher and the events waiting for the watermark.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>"))]
pub(crate) struct KeyState<T> {
    /// The version of the pattern the matcher runs (see [`LivePattern`]).
    #[serde(default)]
    version: u64,
    /// Events waiting for the watermark, in arrival order.
    waiting: Vec<(Timestamp, T)>,
    /// The earliest timestamp waiting (it has a timer).
    earliest: Option<Timestamp>,
    matcher: Option<Matcher<T>>,
}

impl<T> Default for KeyState<T> {
    fn default() -> Self {
        KeyState {
            version: 0,
            waiting: Vec::new(),
            earliest: None,
            matcher: None,
        }
    }
}

#[derive(Clone)]
enum Output<O, T> {
    Match(O),
    TimedOut(O),
    Late(T),
}

type SelectFn<K, T, O> = Arc<dyn Fn(&K, Match<T>) -> O + Send + Sync>;

/// A pattern that can be replaced while the job runs: events matched after
/// [`LivePattern::replace`] are matched by the new version, and each key's partial
/// matches of the old version are dropped. Its version is part of each key's state, so
/// that a job restored with the same version keeps its partial matches.
pub struct LivePattern<T> {
    current: Arc<ArcSwap<Versioned<T>>>,
}

struct Versioned<T> {
    version: u64,
    nfa: Nfa<T>,
    domain: TimeDomain,
}

impl<T> Clone for LivePattern<T> {
    fn clone(&self) -> Self {
        LivePattern {
            current: self.current.clone(),
        }
    }
}

impl<T> LivePattern<T> {
    /// Version `version` of a pattern, to be replaced later.
    pub fn new(pattern: &Pattern<T>, version: u64) -> Result<Self, Vec<PatternError>> {
        let nfa = Nfa::compile(pattern)?;
        Ok(LivePattern {
            current: Arc::new(ArcSwap::from_pointee(Versioned {
                version,
                nfa,
                domain: pattern.time_domain,
            })),
        })
    }

    /// Replaces the pattern by version `version` of another; refused (the pattern stays
    /// as it is) when it does not compile or changes the time domain.
    pub fn replace(&self, pattern: &Pattern<T>, version: u64) -> Result<(), Vec<PatternError>> {
        let nfa = Nfa::compile(pattern)?;
        if pattern.time_domain != self.current.load().domain {
            return Err(vec![PatternError {
                stage: None,
                setting: "time",
                message: "a running pattern keeps its time domain".into(),
            }]);
        }
        self.current.store(Arc::new(Versioned {
            version,
            nfa,
            domain: pattern.time_domain,
        }));
        Ok(())
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        self.current.load().version
    }
}

struct PatternFunction<K, T, O> {
    live: LivePattern<T>,
    select: SelectFn<K, T, O>,
    domain: TimeDomain,
}

impl<K, T, O> PatternFunction<K, T, O>
where
    K: StateKey,
    T: StateValue,
    O: Clone + Send + 'static,
{
    fn matcher<'s>(&self, nfa: &Nfa<T>, state: &'s mut KeyState<T>) -> &'s mut Matcher<T> {
        state.matcher.get_or_insert_with(|| Matcher::new(nfa))
    }

    /// The current pattern; a key whose matcher runs another version starts afresh.
    fn current(&self, state: &mut KeyState<T>) -> Arc<Versioned<T>> {
        let current = self.live.current.load_full();
        if state.version != current.version {
            state.matcher = None;
            state.version = current.version;
        }
        current
    }

    fn emit(
        &self,
        nfa: &Nfa<T>,
        found: Vec<Found<T>>,
        timed_out: bool,
        ctx: &mut KeyedContext<'_, K, Output<O, T>>,
    ) {
        for f in found {
            let mut start = Timestamp::MAX;
            let mut end = Timestamp::MIN;
            let stages = f
                .stages
                .into_iter()
                .map(|(stage, events)| {
                    let events = events
                        .into_iter()
                        .map(|(ts, e)| {
                            start = start.min(ts);
                            end = end.max(ts);
                            e
                        })
                        .collect();
                    (nfa.stages[stage as usize].clone(), events)
                })
                .collect();
            let m = Match {
                stages,
                start,
                end,
                timed_out_at: f.timed_out_at,
            };
            let out = (self.select)(ctx.key(), m);
            ctx.collect(if timed_out {
                Output::TimedOut(out)
            } else {
                Output::Match(out)
            });
        }
    }

    /// Advances the key's time to `ts`, emitting what completes or times out.
    fn advance(
        &self,
        nfa: &Nfa<T>,
        state: &mut KeyState<T>,
        ts: Timestamp,
        ctx: &mut KeyedContext<'_, K, Output<O, T>>,
    ) {
        let (mut matches, mut timed_out) = (Vec::new(), Vec::new());
        self.matcher(nfa, state)
            .advance_time(nfa, ts, &mut matches, Some(&mut timed_out));
        self.emit(nfa, matches, false, ctx);
        self.emit(nfa, timed_out, true, ctx);
    }

    /// Matches one event at `ts`.
    fn match_event(
        &self,
        nfa: &Nfa<T>,
        state: &mut KeyState<T>,
        event: &T,
        ts: Timestamp,
        ctx: &mut KeyedContext<'_, K, Output<O, T>>,
    ) {
        let mut matches = Vec::new();
        let started = self
            .matcher(nfa, state)
            .process(nfa, event, ts, &mut matches);
        // Each run times out at its start plus `within` even if its key sees no more
        // events. (Flink also sets this timer for the key's later events of the same
        // firing; those fire between events and find nothing new to time out.)
        if nfa.window_time > 0 && started {
            let due = ts.saturating_add(nfa.window_time);
            match self.domain {
                TimeDomain::EventTime => ctx.register_event_time_timer(due),
                TimeDomain::ProcessingTime => ctx.register_processing_time_timer(due + 1),
            }
        }
        self.emit(nfa, matches, false, ctx);
    }

    /// Stores the key's state, or drops it when it is as a new key's is.
    fn store(
        &self,
        nfa: &Nfa<T>,
        state: &mut KeyState<T>,
        ctx: &mut KeyedContext<'_, K, Output<O, T>>,
    ) {
        let idle =
            state.waiting.is_empty() && state.matcher.as_ref().is_none_or(|m| m.is_idle(nfa));
        if idle {
            ctx.clear_state();
        }
    }
}

impl<K, T, O> KeyedProcessFunction<K, T, Output<O, T>> for PatternFunction<K, T, O>
where
    K: StateKey,
    T: StateValue,
    O: Clone + Send + 'static,
{
    type State = KeyState<T>;

    fn process(
        &self,
        event: T,
        state: &mut KeyState<T>,
        ctx: &mut KeyedContext<'_, K, Output<O, T>>,
    ) {
        let current = self.current(state);
        let nfa = &current.nfa;
        match self.domain {
            TimeDomain::EventTime => {
                let ts = ctx.timestamp().unwrap_or(Timestamp::MIN);
                if ts > ctx.watermark() {
                    // A timer at the earliest waiting timestamp is enough: when it fires,
                    // every event the watermark passed is matched, and the next earliest
                    // gets its timer (Flink sets one per timestamp; the extra ones fire in
                    // the same watermark and find nothing to do).
                    if state.earliest.is_none_or(|first| ts < first) {
                        ctx.register_event_time_timer(ts);
                        state.earliest = Some(ts);
                    }
                    state.waiting.push((ts, event));
                } else {
                    ctx.collect(Output::Late(event));
                    self.store(nfa, state, ctx);
                }
            }
            TimeDomain::ProcessingTime => {
                let now = ctx.processing_time();
                self.advance(nfa, state, now, ctx);
                self.match_event(nfa, state, &event, now, ctx);
                self.store(nfa, state, ctx);
            }
        }
    }

    fn on_timer(
        &self,
        _time: Timestamp,
        domain: TimeDomain,
        state: &mut KeyState<T>,
        ctx: &mut KeyedContext<'_, K, Output<O, T>>,
    ) {
        let current = self.current(state);
        let nfa = &current.nfa;
        let now = match domain {
            TimeDomain::EventTime => ctx.watermark(),
            TimeDomain::ProcessingTime => ctx.processing_time(),
        };
        if state.earliest.is_some_and(|first| first <= now) {
            // Timestamp order; equal timestamps in arrival order (the sort is stable).
            state.waiting.sort_by_key(|(ts, _)| *ts);
            let due = state.waiting.partition_point(|(ts, _)| *ts <= now);
            let rest = state.waiting.split_off(due);
            let due = std::mem::replace(&mut state.waiting, rest);
            let mut last = None;
            for (ts, event) in &due {
                if last != Some(*ts) {
                    self.advance(nfa, state, *ts, ctx);
                    last = Some(*ts);
                }
                self.match_event(nfa, state, event, *ts, ctx);
            }
            state.earliest = state.waiting.first().map(|(ts, _)| *ts);
            if let Some(next) = state.earliest {
                ctx.register_event_time_timer(next);
            }
        }
        self.advance(nfa, state, now, ctx);
        self.store(nfa, state, ctx);
    }
}

impl<K, T> KeyedStream<K, T>
where
    K: StateKey,
    T: StateValue,
{
    /// Matches `pattern` on each key of the stream, in event time (the stream needs
    /// timestamps) unless the pattern runs in processing time. `select` makes the output
    /// record of a match or timed-out partial match from its key and events. The operator
    /// is named `name` (names tie checkpointed state to operators).
    pub fn pattern<O, F>(
        &self,
        name: &str,
        pattern: &Pattern<T>,
        select: F,
    ) -> Result<PatternStreams<O, T>, Vec<PatternError>>
    where
        O: Clone + Send + 'static,
        F: Fn(&K, Match<T>) -> O + Send + Sync + 'static,
    {
        self.live_pattern(name, &LivePattern::new(pattern, 0)?, select)
    }

    /// Matches a pattern that may be replaced while the job runs (see [`LivePattern`]).
    pub fn live_pattern<O, F>(
        &self,
        name: &str,
        live: &LivePattern<T>,
        select: F,
    ) -> Result<PatternStreams<O, T>, Vec<PatternError>>
    where
        O: Clone + Send + 'static,
        F: Fn(&K, Match<T>) -> O + Send + Sync + 'static,
    {
        let domain = live.current.load().domain;
        if domain == TimeDomain::EventTime && self.stream().timestamps().is_none() {
            return Err(vec![PatternError {
                stage: None,
                setting: "time",
                message: "an event-time pattern needs a stream with timestamps \
                          (assign_timestamps_and_watermarks)"
                    .into(),
            }]);
        }
        let function = PatternFunction {
            live: live.clone(),
            select: Arc::new(select),
            domain,
        };
        let all = self.process_named(name, function);
        let (matches, rest) = all.flat_map_split(
            |_| (),
            |_, out: Output<O, T>, matches: &mut Vec<O>, rest: &mut Vec<Output<O, T>>| match out {
                Output::Match(m) => matches.push(m),
                other => rest.push(other),
            },
        );
        let (timed_out, late) = rest.flat_map_split(
            |_| (),
            |_, out: Output<O, T>, timed_out: &mut Vec<O>, late: &mut Vec<T>| match out {
                Output::TimedOut(m) => timed_out.push(m),
                Output::Late(e) => late.push(e),
                Output::Match(_) => {}
            },
        );
        let late = match self.stream().timestamps() {
            Some(ts) => late.with_timestamp_fn(ts),
            None => late,
        };
        Ok(PatternStreams {
            matches,
            timed_out,
            late,
        })
    }
}
