//! Complex event processing: patterns over keyed streams, as FlinkCEP matches them.
//!
//! A [`Pattern`] is a sequence of named stages, each with a condition, a quantifier and a
//! contiguity to the stage before; [`KeyedStream::pattern`] runs it over every key of a
//! stream. In event time, each key's events are buffered until the watermark passes them
//! and matched in timestamp order (equal timestamps in arrival order); an event that is
//! not after the watermark when it arrives is late and goes to a side output. Matches,
//! timed-out partial matches (`within` ran out) and late events are three streams.
//!
//! The matcher is FlinkCEP's: the pattern is compiled into the same automaton
//! ([`compiler`]), runs branch and are versioned with Dewey numbers ([`dewey`]), partial
//! matches share their events in one buffer per key ([`buffer`]), and the after-match
//! skip strategies prune as Flink's do, so that every match, timeout and late event is
//! the one Flink 2.3 produces. The matcher of each key is keyed state: it is part of
//! checkpoints and savepoints and restores at any parallelism, in memory or on disk.
//!
//! ```
//! use std::time::Duration;
//! use styx_runtime::cep::Pattern;
//! use styx_runtime::prelude::*;
//!
//! let env = Environment::new(2);
//! // (player, button, ts): d = down, f = forward, p = punch
//! let presses = env.from_iter(vec![
//!     (1, 'd', 0), (1, 'f', 100), (1, 'p', 200),
//!     (2, 'd', 0), (2, 'p', 900),
//! ]);
//! let combo = Pattern::begin("down")
//!     .condition(|e: &(u32, char, i64), _| e.1 == 'd')
//!     .next("forward")
//!     .condition(|e, _| e.1 == 'f')
//!     .next("punch")
//!     .condition(|e, _| e.1 == 'p')
//!     .within(Duration::from_millis(300));
//! let found = presses
//!     .assign_timestamps_and_watermarks(WatermarkStrategy::bounded_out_of_orderness(
//!         Duration::ZERO,
//!         |e: &(u32, char, i64)| e.2,
//!     ))
//!     .key_by(|e| e.0)
//!     .pattern("combo", &combo, |player, m| (*player, m.end))
//!     .unwrap();
//! let combos = found.matches.collect();
//! env.execute().unwrap();
//! assert_eq!(combos.take(), vec![(1, 200)]);
//! ```

pub(crate) mod buffer;
pub(crate) mod compiler;
pub(crate) mod dewey;
pub(crate) mod nfa;
mod operator;
mod pattern;
pub(crate) mod queue;

use std::cell::OnceCell;

pub use operator::{LivePattern, PatternStreams};
pub use pattern::{AfterMatchSkip, ConditionFn, Follows, Pattern, PatternError, WithinType};

use crate::time::Timestamp;
use buffer::{NodeId, SharedBuffer};
use dewey::Dewey;

/// What a condition sees besides the candidate event: the events its partial match has
/// accepted so far, by stage (FlinkCEP's `IterativeCondition.Context`), read from the
/// shared buffer the first time a condition asks.
pub struct Context<'a, T> {
    stages: &'a [String],
    timestamp: Timestamp,
    partial: &'a OnceCell<Vec<(u16, Vec<T>)>>,
    source: Option<(&'a SharedBuffer<T>, Option<NodeId>, &'a Dewey)>,
}

impl<'a, T: Clone> Context<'a, T> {
    /// The candidate event's timestamp.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    fn partial(&self) -> &[(u16, Vec<T>)] {
        self.partial.get_or_init(|| match self.source {
            Some((buffer, Some(node), version)) => buffer
                .extract_first(node, version)
                .map(|p| buffer.materialize(&p))
                .unwrap_or_default(),
            _ => Vec::new(),
        })
    }

    /// The events the partial match accepted for `stage`, in order (empty for a stage
    /// not reached, or skipped).
    pub fn events(&self, stage: &str) -> &[T] {
        let Some(index) = self.stages.iter().position(|s| s == stage) else {
            return &[];
        };
        self.partial()
            .iter()
            .find(|(s, _)| *s as usize == index)
            .map_or(&[], |(_, events)| events.as_slice())
    }

    /// Every stage of the pattern with the events the partial match accepted for it.
    pub fn stages(&self) -> impl Iterator<Item = (&str, &[T])> {
        self.stages
            .iter()
            .map(move |name| (name.as_str(), self.events(name)))
    }
}

/// A match, or a partial match that timed out: its events by stage, in the order the
/// stages were reached (negated stages never appear).
#[derive(Debug, Clone, PartialEq)]
pub struct Match<T> {
    /// Each stage that took events, with its events in order.
    pub stages: Vec<(String, Vec<T>)>,
    /// The smallest timestamp of the match's events.
    pub start: Timestamp,
    /// The largest timestamp of the match's events.
    pub end: Timestamp,
    /// For a timed-out partial match, when it timed out.
    pub timed_out_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests;
