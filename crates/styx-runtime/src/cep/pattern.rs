//! Patterns: named stages with conditions, quantifiers and contiguity, as FlinkCEP's
//! `Pattern` builds them, with the same rules for what may be combined.
//!
//! Misuse does not panic: the builder records the first problem of each call and
//! [`Pattern::problems`] (and compiling the pattern) reports them, naming the stage and
//! the setting.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Context;
use crate::time::TimeDomain;

/// A condition on a candidate event; the [`Context`] gives the events the partial match
/// has accepted so far (an iterative condition) and the event's timestamp.
pub type ConditionFn<T> = Arc<dyn Fn(&T, &Context<'_, T>) -> bool + Send + Sync>;

/// A condition of the automaton: the user's conditions and how the compiler combines them.
pub(crate) enum Cond<T> {
    True,
    User(ConditionFn<T>),
    Not(Arc<Cond<T>>),
    And(Arc<Cond<T>>, Arc<Cond<T>>),
    Or(Arc<Cond<T>>, Arc<Cond<T>>),
}

impl<T> Cond<T> {
    pub(crate) fn not(c: &Arc<Cond<T>>) -> Arc<Cond<T>> {
        Arc::new(Cond::Not(c.clone()))
    }

    pub(crate) fn and(a: &Arc<Cond<T>>, b: &Arc<Cond<T>>) -> Arc<Cond<T>> {
        Arc::new(Cond::And(a.clone(), b.clone()))
    }

    /// Evaluates the condition on `event`.
    pub(crate) fn holds(&self, event: &T, ctx: &Context<'_, T>) -> bool {
        match self {
            Cond::True => true,
            Cond::User(f) => f(event, ctx),
            Cond::Not(c) => !c.holds(event, ctx),
            Cond::And(a, b) => a.holds(event, ctx) && b.holds(event, ctx),
            Cond::Or(a, b) => a.holds(event, ctx) || b.holds(event, ctx),
        }
    }
}

/// How a stage follows the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follows {
    /// Strict contiguity: the very next event (Flink's `next`).
    Next,
    /// Relaxed contiguity: the next event that matches, skipping others (`followedBy`).
    FollowedBy,
    /// Non-deterministic relaxed contiguity: every later event that matches
    /// (`followedByAny`).
    FollowedByAny,
    /// The very next event must not match (`notNext`).
    NotNext,
    /// No matching event may come before the next stage, or, as the last stage, within
    /// the pattern's `within` (`notFollowedBy`).
    NotFollowedBy,
}

/// How events are consumed: between stages, or between the events of a looping stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    Strict,
    SkipTillNext,
    SkipTillAny,
    NotNext,
    NotFollow,
}

impl From<Follows> for Strategy {
    fn from(f: Follows) -> Self {
        match f {
            Follows::Next => Strategy::Strict,
            Follows::FollowedBy => Strategy::SkipTillNext,
            Follows::FollowedByAny => Strategy::SkipTillAny,
            Follows::NotNext => Strategy::NotNext,
            Follows::NotFollowedBy => Strategy::NotFollow,
        }
    }
}

/// How many events a stage takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantity {
    /// One event.
    Single,
    /// Between `times.0` and `times.1` events.
    Times,
    /// At least `times.0` events.
    Looping,
}

/// Which events `within` measures between (Flink's `WithinType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WithinType {
    /// The first and the last event of a match.
    #[default]
    FirstAndLast,
    /// Each event of the last stage and the event before it.
    PreviousAndCurrent,
}

/// Which partial matches survive a match (Flink's `AfterMatchSkipStrategy`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AfterMatchSkip {
    /// Every match is emitted.
    #[default]
    NoSkip,
    /// Drops the partial matches that started with the match's first event.
    SkipToNext,
    /// Drops the partial matches that started within the match.
    SkipPastLastEvent,
    /// Drops the partial matches that started before the first event of this stage.
    SkipToFirst(String),
    /// Drops the partial matches that started before the last event of this stage.
    SkipToLast(String),
}

/// A problem of a pattern: the stage and setting it concerns, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// The index of the stage, if the problem is one stage's.
    pub stage: Option<usize>,
    /// The setting: `name`, `follows`, `times`, `optional`, `greedy`, `inner`, `until`,
    /// `within` or `after_match`.
    pub setting: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stage {
            Some(i) => write!(f, "stage {i} ({}): {}", self.setting, self.message),
            None => write!(f, "{}: {}", self.setting, self.message),
        }
    }
}

impl std::error::Error for PatternError {}

/// One stage of a pattern.
pub(crate) struct Stage<T> {
    pub name: String,
    pub strategy: Strategy,
    pub condition: Option<Arc<Cond<T>>>,
    pub quantity: Quantity,
    pub optional: bool,
    pub greedy: bool,
    pub inner: Strategy,
    pub times: (u32, u32),
    pub until: Option<Arc<Cond<T>>>,
}

impl<T> Stage<T> {
    fn new(name: &str, strategy: Strategy) -> Self {
        Stage {
            name: name.to_string(),
            strategy,
            condition: None,
            quantity: Quantity::Single,
            optional: false,
            greedy: false,
            inner: Strategy::SkipTillNext,
            times: (1, 1),
            until: None,
        }
    }

    pub(crate) fn is_negated(&self) -> bool {
        matches!(self.strategy, Strategy::NotNext | Strategy::NotFollow)
    }

    /// The stage's condition; a stage without one accepts every event.
    pub(crate) fn take_condition(&self) -> Arc<Cond<T>> {
        self.condition
            .clone()
            .unwrap_or_else(|| Arc::new(Cond::True))
    }
}

/// A pattern: a sequence of named stages, matched per key as FlinkCEP matches it.
///
/// ```
/// use std::time::Duration;
/// use styx_runtime::cep::{AfterMatchSkip, Pattern};
///
/// // Small payments, then a large one, within ten minutes.
/// let pattern = Pattern::<(String, f64)>::begin("small")
///     .condition(|p, _| p.1 < 5.0)
///     .times_or_more(3)
///     .followed_by("large")
///     .condition(|p, _| p.1 > 500.0)
///     .within(Duration::from_secs(600))
///     .after_match(AfterMatchSkip::SkipPastLastEvent);
/// assert!(pattern.problems().is_empty());
/// ```
pub struct Pattern<T> {
    pub(crate) stages: Vec<Stage<T>>,
    pub(crate) within: Option<(i64, WithinType)>,
    pub(crate) skip: AfterMatchSkip,
    pub(crate) time_domain: TimeDomain,
    problems: Vec<PatternError>,
}

impl<T> Pattern<T> {
    /// A pattern whose first stage is `name`.
    pub fn begin(name: &str) -> Self {
        Pattern {
            stages: vec![Stage::new(name, Strategy::Strict)],
            within: None,
            skip: AfterMatchSkip::NoSkip,
            time_domain: TimeDomain::EventTime,
            problems: Vec::new(),
        }
    }

    /// Appends a stage `name` that follows the last one as `follows` says.
    pub fn then(mut self, follows: Follows, name: &str) -> Self {
        if matches!(follows, Follows::NotNext | Follows::NotFollowedBy) && self.last().optional {
            self.problem(
                Some(self.stages.len()),
                "follows",
                "a negated stage cannot follow an optional stage",
            );
        }
        self.stages.push(Stage::new(name, follows.into()));
        self
    }

    /// Appends a stage that must be the very next event.
    pub fn next(self, name: &str) -> Self {
        self.then(Follows::Next, name)
    }

    /// Appends a stage that takes the next matching event.
    pub fn followed_by(self, name: &str) -> Self {
        self.then(Follows::FollowedBy, name)
    }

    /// Appends a stage that takes any later matching event.
    pub fn followed_by_any(self, name: &str) -> Self {
        self.then(Follows::FollowedByAny, name)
    }

    /// Appends a stage whose condition the very next event must not meet.
    pub fn not_next(self, name: &str) -> Self {
        self.then(Follows::NotNext, name)
    }

    /// Appends a stage whose condition no event may meet before the next stage.
    pub fn not_followed_by(self, name: &str) -> Self {
        self.then(Follows::NotFollowedBy, name)
    }

    /// Sets the last stage's condition (again: both must hold).
    pub fn condition<F>(mut self, f: F) -> Self
    where
        F: Fn(&T, &Context<'_, T>) -> bool + Send + Sync + 'static,
    {
        let c: Arc<Cond<T>> = Arc::new(Cond::User(Arc::new(f)));
        let last = self.last_mut();
        last.condition = Some(match &last.condition {
            Some(old) => Cond::and(old, &c),
            None => c,
        });
        self
    }

    /// Adds an alternative to the last stage's condition.
    pub fn or<F>(mut self, f: F) -> Self
    where
        F: Fn(&T, &Context<'_, T>) -> bool + Send + Sync + 'static,
    {
        let c: Arc<Cond<T>> = Arc::new(Cond::User(Arc::new(f)));
        let last = self.last_mut();
        last.condition = Some(match &last.condition {
            Some(old) => Arc::new(Cond::Or(old.clone(), c)),
            None => c,
        });
        self
    }

    /// The last stage takes exactly `n` events.
    pub fn times(self, n: u32) -> Self {
        self.quantify("times", Quantity::Times, n, n)
    }

    /// The last stage takes from `from` to `to` events (`from = 0` makes it optional).
    pub fn times_range(mut self, from: u32, to: u32) -> Self {
        let mut from = from;
        if from == 0 && !self.last().is_negated() {
            self = self.optional_unchecked("times");
            from = 1;
        }
        if to < from {
            let i = self.stages.len() - 1;
            self.problem(
                Some(i),
                "times",
                &format!("to ({to}) is less than from ({from})"),
            );
            return self;
        }
        self.quantify("times", Quantity::Times, from, to)
    }

    /// The last stage takes `n` or more events.
    pub fn times_or_more(self, n: u32) -> Self {
        self.quantify("times_or_more", Quantity::Looping, n, n)
    }

    /// The last stage takes one or more events.
    pub fn one_or_more(self) -> Self {
        self.quantify("one_or_more", Quantity::Looping, 1, 1)
    }

    fn quantify(mut self, setting: &'static str, quantity: Quantity, from: u32, to: u32) -> Self {
        let i = self.stages.len() - 1;
        if self.last().is_negated() {
            self.problem(Some(i), setting, "a negated stage takes no quantifier");
        } else if self.last().quantity != Quantity::Single {
            self.problem(Some(i), setting, "the stage already has a quantifier");
        } else if from == 0 {
            self.problem(Some(i), setting, "must be at least 1");
        } else {
            let last = self.last_mut();
            last.quantity = quantity;
            last.times = (from, to);
        }
        self
    }

    /// The last stage may be skipped.
    pub fn optional(mut self) -> Self {
        let i = self.stages.len() - 1;
        if i > 0 && self.stages[i - 1].greedy {
            self.problem(
                Some(i),
                "optional",
                "an optional stage cannot follow a greedy one",
            );
            return self;
        }
        self.optional_unchecked("optional")
    }

    fn optional_unchecked(mut self, setting: &'static str) -> Self {
        let i = self.stages.len() - 1;
        if self.last().is_negated() {
            self.problem(Some(i), setting, "a negated stage cannot be optional");
        } else if self.last().optional {
            self.problem(Some(i), setting, "the stage is optional already");
        } else {
            self.last_mut().optional = true;
        }
        self
    }

    /// The last (quantified) stage takes as many events as it can.
    pub fn greedy(mut self) -> Self {
        let i = self.stages.len() - 1;
        let last = self.last();
        if last.is_negated() {
            self.problem(Some(i), "greedy", "a negated stage cannot be greedy");
        } else if last.quantity == Quantity::Single {
            self.problem(
                Some(i),
                "greedy",
                "only a stage with a quantifier can be greedy",
            );
        } else if last.inner == Strategy::SkipTillAny {
            self.problem(
                Some(i),
                "greedy",
                "a stage with combinations cannot be greedy",
            );
        } else {
            self.last_mut().greedy = true;
        }
        self
    }

    /// The events of the last (quantified) stage must be contiguous.
    pub fn consecutive(self) -> Self {
        self.inner(Strategy::Strict)
    }

    /// The last (quantified) stage takes any combination of its matching events.
    pub fn allow_combinations(self) -> Self {
        self.inner(Strategy::SkipTillAny)
    }

    fn inner(mut self, strategy: Strategy) -> Self {
        let i = self.stages.len() - 1;
        let last = self.last();
        if last.quantity == Quantity::Single {
            self.problem(
                Some(i),
                "inner",
                "only a stage with a quantifier has an inner contiguity",
            );
        } else if last.inner != Strategy::SkipTillNext {
            self.problem(Some(i), "inner", "the inner contiguity is set already");
        } else if strategy == Strategy::SkipTillAny && last.greedy {
            self.problem(Some(i), "inner", "a greedy stage cannot take combinations");
        } else {
            self.last_mut().inner = strategy;
        }
        self
    }

    /// Ends the last (looping) stage at the first event that meets `f`.
    pub fn until<F>(mut self, f: F) -> Self
    where
        F: Fn(&T, &Context<'_, T>) -> bool + Send + Sync + 'static,
    {
        let i = self.stages.len() - 1;
        if self.last().quantity != Quantity::Looping {
            self.problem(
                Some(i),
                "until",
                "only a looping stage (one_or_more, times_or_more) can have until",
            );
        } else if self.last().until.is_some() {
            self.problem(Some(i), "until", "the stage has an until condition already");
        } else {
            self.last_mut().until = Some(Arc::new(Cond::User(Arc::new(f))));
        }
        self
    }

    /// A match must end less than `d` after its first event.
    pub fn within(self, d: Duration) -> Self {
        self.within_between(d, WithinType::FirstAndLast)
    }

    /// `within` measured as `between` says.
    pub fn within_between(mut self, d: Duration, between: WithinType) -> Self {
        let ms = d.as_millis().min(i64::MAX as u128) as i64;
        if ms <= 0 {
            self.problem(None, "within", "must be at least 1ms");
        } else {
            self.within = Some((ms, between));
        }
        self
    }

    /// What a match does to the other partial matches.
    pub fn after_match(mut self, skip: AfterMatchSkip) -> Self {
        self.skip = skip;
        self
    }

    /// Matches events as they arrive, timed by the wall clock (Flink's
    /// `inProcessingTime`), instead of in event-time order.
    pub fn in_processing_time(mut self) -> Self {
        self.time_domain = TimeDomain::ProcessingTime;
        self
    }

    /// The names of the stages, in order.
    pub fn stage_names(&self) -> impl Iterator<Item = &str> {
        self.stages.iter().map(|s| s.name.as_str())
    }

    /// Whether the last stage is a `not_followed_by` (its matches complete when `within`
    /// has passed since their first event).
    pub fn ends_with_absence(&self) -> bool {
        self.last().strategy == Strategy::NotFollow
    }

    /// The pattern's `within`, in milliseconds, and how it is measured.
    pub fn window(&self) -> Option<(i64, WithinType)> {
        self.within
    }

    /// Every problem of the pattern: those of the builder's calls, then those of the
    /// whole (duplicate names, an unknown skip target, a trailing `not_followed_by`
    /// without `within`).
    pub fn problems(&self) -> Vec<PatternError> {
        let mut problems = self.problems.clone();
        for (i, s) in self.stages.iter().enumerate() {
            if s.name == super::compiler::END_STATE {
                problems.push(PatternError {
                    stage: Some(i),
                    setting: "name",
                    message: format!("\"{}\" is reserved", s.name),
                });
            }
            if self.stages[..i].iter().any(|o| o.name == s.name) {
                problems.push(PatternError {
                    stage: Some(i),
                    setting: "name",
                    message: format!("the name \"{}\" is used by another stage", s.name),
                });
            }
        }
        if let AfterMatchSkip::SkipToFirst(target) | AfterMatchSkip::SkipToLast(target) = &self.skip
        {
            if !self.stages.iter().any(|s| &s.name == target) {
                problems.push(PatternError {
                    stage: None,
                    setting: "after_match",
                    message: format!("skips to \"{target}\", which is no stage of the pattern"),
                });
            }
        }
        if self.stages.len() > 1
            && self.last().strategy == Strategy::NotFollow
            && self.within.is_none()
        {
            problems.push(PatternError {
                stage: Some(self.stages.len() - 1),
                setting: "follows",
                message: "a pattern can end with not_followed_by only when it has within".into(),
            });
        }
        if self.stages.len() > u16::MAX as usize / 2 {
            problems.push(PatternError {
                stage: None,
                setting: "name",
                message: "too many stages".into(),
            });
        }
        problems
    }

    fn last(&self) -> &Stage<T> {
        self.stages.last().expect("a pattern has a first stage")
    }

    fn last_mut(&mut self) -> &mut Stage<T> {
        self.stages.last_mut().expect("a pattern has a first stage")
    }

    fn problem(&mut self, stage: Option<usize>, setting: &'static str, message: &str) {
        self.problems.push(PatternError {
            stage,
            setting,
            message: message.to_string(),
        });
    }
}
