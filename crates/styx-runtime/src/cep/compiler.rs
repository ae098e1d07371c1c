//! Compiling a pattern into the automaton FlinkCEP's `NFACompiler` builds.
//!
//! The stages are turned into states from the last to the first: each state has
//! transitions that *take* the event (and move on), *ignore* it (and stay or move to a
//! state that waits), or *proceed* without consuming it (an epsilon move). Negations
//! become transitions into stop states, a trailing `not_followed_by` a pending state that
//! completes when `within` runs out, quantifiers chains and loops of states, `greedy` a
//! change of the next stage's conditions. The automaton has exactly Flink's states and
//! transitions, in Flink's order, so that runs branch, version and match as in Flink.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::pattern::{AfterMatchSkip, Cond, Pattern, PatternError, Quantity, Strategy, WithinType};

/// The name of the final state.
pub(crate) const END_STATE: &str = "$endState$";

/// The index of a state in [`Nfa::states`].
pub(crate) type StateId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateKind {
    Start,
    Normal,
    Final,
    Pending,
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Take,
    Ignore,
    Proceed,
}

pub(crate) struct Transition<T> {
    pub action: Action,
    pub source: StateId,
    pub target: StateId,
    pub condition: Arc<Cond<T>>,
}

pub(crate) struct State<T> {
    /// The unique internal name (the stage's name, with a suffix for its copies).
    pub name: String,
    /// The stage whose events the state takes.
    pub stage: u16,
    pub kind: StateKind,
    pub transitions: Vec<Transition<T>>,
    /// `within` between the previous event and the one taken here
    /// (`WithinType::PreviousAndCurrent`).
    pub window: Option<i64>,
}

/// What the after-match skip strategy prunes by, with its stage resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    Keep,
    ToNext,
    PastLastEvent,
    ToFirst(u16),
    ToLast(u16),
}

/// A compiled pattern.
pub(crate) struct Nfa<T> {
    pub states: Vec<State<T>>,
    /// The stages' names, by index.
    pub stages: Vec<String>,
    /// `within` between the first and the last event (0: none).
    pub window_time: i64,
    pub skip: Skip,
}

impl<T> Nfa<T> {
    /// Compiles `pattern`; the error lists every problem it has.
    pub(crate) fn compile(pattern: &Pattern<T>) -> Result<Nfa<T>, Vec<PatternError>> {
        let problems = pattern.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let stage_of = |name: &str| {
            pattern
                .stages
                .iter()
                .position(|s| s.name == name)
                .expect("checked") as u16
        };
        let skip = match &pattern.skip {
            AfterMatchSkip::NoSkip => Skip::Keep,
            AfterMatchSkip::SkipToNext => Skip::ToNext,
            AfterMatchSkip::SkipPastLastEvent => Skip::PastLastEvent,
            AfterMatchSkip::SkipToFirst(s) => Skip::ToFirst(stage_of(s)),
            AfterMatchSkip::SkipToLast(s) => Skip::ToLast(stage_of(s)),
        };
        let mut c = Compiler {
            pattern,
            states: Vec::new(),
            used_names: HashSet::new(),
            stop_states: HashMap::new(),
            greedy_copies: HashMap::new(),
            current: pattern.stages.len() - 1,
            following: None,
            window_time: match pattern.within {
                Some((ms, WithinType::FirstAndLast)) => ms,
                _ => 0,
            },
        };
        let end = c.create_named(END_STATE, u16::MAX, StateKind::Final);
        let sink = c.create_middle_states(end);
        let start = c.convert_stage(sink);
        c.states[start as usize].kind = StateKind::Start;
        Ok(Nfa {
            states: c.states,
            stages: pattern.stages.iter().map(|s| s.name.clone()).collect(),
            window_time: c.window_time,
            skip,
        })
    }

    /// The start state.
    pub(crate) fn start(&self) -> StateId {
        self.states
            .iter()
            .position(|s| s.kind == StateKind::Start)
            .expect("a compiled pattern has a start state") as StateId
    }

    pub(crate) fn state(&self, id: StateId) -> &State<T> {
        &self.states[id as usize]
    }
}

struct Compiler<'p, T> {
    pattern: &'p Pattern<T>,
    states: Vec<State<T>>,
    used_names: HashSet<String>,
    /// The stop state of each negated stage.
    stop_states: HashMap<usize, StateId>,
    /// For greedy stages with `until`: the copy of a state, by the original's name.
    greedy_copies: HashMap<String, StateId>,
    current: usize,
    following: Option<usize>,
    window_time: i64,
}

impl<T> Compiler<'_, T> {
    fn stage(&self) -> &super::pattern::Stage<T> {
        &self.pattern.stages[self.current]
    }

    fn is_final(&self, id: StateId) -> bool {
        self.states[id as usize].kind == StateKind::Final
    }

    /// A state for the current stage; a state that takes events gets the pattern's
    /// previous-and-current window when the stage is the last, unquantified one.
    fn create(&mut self, kind: StateKind, takes: bool) -> StateId {
        let name = self.stage().name.clone();
        let id = self.create_named(&name, self.current as u16, kind);
        let last = self.current == self.pattern.stages.len() - 1;
        if takes && last && self.stage().quantity == Quantity::Single {
            if let Some((ms, WithinType::PreviousAndCurrent)) = self.pattern.within {
                self.states[id as usize].window = Some(ms);
            }
        }
        id
    }

    fn create_named(&mut self, base: &str, stage: u16, kind: StateKind) -> StateId {
        let mut name = base.to_string();
        let mut counter = 0;
        while self.used_names.contains(&name) {
            name = format!("{base}:{counter}");
            counter += 1;
        }
        self.used_names.insert(name.clone());
        self.states.push(State {
            name,
            stage,
            kind,
            transitions: Vec::new(),
            window: None,
        });
        (self.states.len() - 1) as StateId
    }

    fn add(&mut self, from: StateId, action: Action, to: StateId, condition: Arc<Cond<T>>) {
        self.states[from as usize].transitions.push(Transition {
            action,
            source: from,
            target: to,
            condition,
        });
    }

    fn create_middle_states(&mut self, sink: StateId) -> StateId {
        let mut last_sink = sink;
        while self.current > 0 {
            match self.stage().strategy {
                Strategy::NotFollow => {
                    let windowed = self.pattern.within.is_some();
                    if windowed && self.is_final(last_sink) {
                        let pending = self.create(StateKind::Pending, true);
                        let not = self.stage().take_condition();
                        let stop = self.stop_state(self.current, &not);
                        self.add(pending, Action::Proceed, stop, not.clone());
                        self.add(pending, Action::Ignore, pending, Cond::not(&not));
                        last_sink = pending;
                    }
                }
                Strategy::NotNext => {
                    let not_next = self.create(StateKind::Normal, true);
                    let not = self.stage().take_condition();
                    let stop = self.stop_state(self.current, &not);
                    if self.is_final(last_sink) {
                        self.add(not_next, Action::Ignore, last_sink, Cond::not(&not));
                    } else {
                        self.add(not_next, Action::Proceed, last_sink, Cond::not(&not));
                    }
                    self.add(not_next, Action::Proceed, stop, not);
                    last_sink = not_next;
                }
                _ => last_sink = self.convert_stage(last_sink),
            }
            self.following = Some(self.current);
            self.current -= 1;
        }
        last_sink
    }

    fn convert_stage(&mut self, sink: StateId) -> StateId {
        let stage = self.stage();
        let (quantity, times) = (stage.quantity, stage.times);
        let last = match quantity {
            Quantity::Looping => {
                let copy = self.copy_without_transitive_nots(sink);
                let looping = self.create_looping(copy);
                self.create_times_state(looping, sink, times)
            }
            Quantity::Times => self.create_times_state(sink, sink, times),
            Quantity::Single => {
                let (take, ignore, optional) = (
                    self.stage().take_condition(),
                    self.ignore_condition(),
                    self.stage().optional,
                );
                self.create_singleton_state(sink, Some(sink), take, ignore, optional)
            }
        };
        self.add_stop_states(last);
        last
    }

    /// The negated stages whose stop transitions the current stage's states need: those
    /// right before it, through optional stages.
    fn current_not_conditions(&self) -> Vec<(usize, Arc<Cond<T>>)> {
        let mut nots = Vec::new();
        let mut i = self.current;
        while i > 0 {
            let previous = &self.pattern.stages[i - 1];
            if !(previous.optional || previous.strategy == Strategy::NotFollow) {
                break;
            }
            i -= 1;
            if previous.strategy == Strategy::NotFollow {
                nots.push((i, previous.take_condition()));
            }
        }
        nots
    }

    fn stop_state(&mut self, stage: usize, not: &Arc<Cond<T>>) -> StateId {
        if let Some(&stop) = self.stop_states.get(&stage) {
            return stop;
        }
        let name = self.pattern.stages[stage].name.clone();
        let stop = self.create_named(&name, stage as u16, StateKind::Stop);
        self.add(stop, Action::Take, stop, not.clone());
        self.stop_states.insert(stage, stop);
        stop
    }

    /// A copy of `sink` without the stop transitions of the negations before the current
    /// (optional) stage: once that stage took an event, those negations no longer apply.
    fn copy_without_transitive_nots(&mut self, sink: StateId) -> StateId {
        let nots = self.current_not_conditions();
        if nots.is_empty() || !self.stage().optional {
            return sink;
        }
        let (name, stage, kind) = {
            let s = &self.states[sink as usize];
            (s.name.clone(), s.stage, s.kind)
        };
        let copy = self.create_named(&name, stage, kind);
        let transitions: Vec<(Action, StateId, StateId, Arc<Cond<T>>)> = self.states[sink as usize]
            .transitions
            .iter()
            .map(|t| (t.action, t.source, t.target, t.condition.clone()))
            .collect();
        for (action, source, target, condition) in transitions {
            if action == Action::Proceed {
                let target_state = &self.states[target as usize];
                let remove = target_state.kind == StateKind::Stop
                    && nots
                        .iter()
                        .any(|(i, _)| self.pattern.stages[*i].name == target_state.name);
                let target = if target_state.kind == StateKind::Stop {
                    target
                } else {
                    self.copy_without_transitive_nots(target)
                };
                if !remove {
                    self.add(copy, action, target, condition);
                }
            } else {
                let target = if target == source { copy } else { target };
                self.add(copy, action, target, condition);
            }
        }
        copy
    }

    /// A copy of `state` with the same transitions (its loops onto the copy).
    fn copy(&mut self, state: StateId) -> StateId {
        let (stage, kind) = {
            let s = &self.states[state as usize];
            (s.stage, s.kind)
        };
        let base = self.original_name(state);
        let copy = self.create_named(&base, stage, kind);
        let transitions: Vec<(Action, StateId, StateId, Arc<Cond<T>>)> = self.states
            [state as usize]
            .transitions
            .iter()
            .map(|t| (t.action, t.source, t.target, t.condition.clone()))
            .collect();
        for (action, source, target, condition) in transitions {
            let target = if target == source { copy } else { target };
            self.add(copy, action, target, condition);
        }
        copy
    }

    fn original_name(&self, state: StateId) -> String {
        let s = &self.states[state as usize];
        if s.stage == u16::MAX {
            END_STATE.to_string()
        } else {
            self.pattern.stages[s.stage as usize].name.clone()
        }
    }

    fn add_stop_states(&mut self, state: StateId) {
        for (stage, not) in self.current_not_conditions() {
            let stop = self.stop_state(stage, &not);
            self.add(state, Action::Proceed, stop, not);
        }
    }

    fn add_stop_state_to_looping(&mut self, state: StateId) {
        if let Some(following) = self.following {
            let f = &self.pattern.stages[following];
            if f.strategy == Strategy::NotFollow {
                let not = f.take_condition();
                let stop = self.stop_state(following, &not);
                self.add(state, Action::Proceed, stop, not);
            }
        }
    }

    fn create_times_state(
        &mut self,
        sink: StateId,
        proceed: StateId,
        times: (u32, u32),
    ) -> StateId {
        let mut last = sink;
        let until = self.stage().until.clone();
        let inner_ignore = extend_with_until(self.inner_ignore_condition(), until.as_ref(), false);
        let take = extend_with_until(Some(self.stage().take_condition()), until.as_ref(), true)
            .expect("a take condition");
        if self.stage().greedy && times.0 != times.1 {
            if until.is_some() {
                let name = self.states[sink as usize].name.clone();
                let copy = self.copy(sink);
                self.greedy_copies.insert(name, copy);
            }
            self.update_with_greedy_condition(sink, &take);
        }
        for _ in times.0..times.1 {
            last = self.create_singleton_state(
                last,
                Some(proceed),
                take.clone(),
                inner_ignore.clone(),
                true,
            );
            self.add_stop_state_to_looping(last);
        }
        for _ in 0..times.0.saturating_sub(1) {
            last =
                self.create_singleton_state(last, None, take.clone(), inner_ignore.clone(), false);
            self.add_stop_state_to_looping(last);
        }
        let (ignore, optional) = (self.ignore_condition(), self.stage().optional);
        self.create_singleton_state(last, Some(proceed), take, ignore, optional)
    }

    fn create_singleton_state(
        &mut self,
        sink: StateId,
        proceed: Option<StateId>,
        take: Arc<Cond<T>>,
        ignore: Option<Arc<Cond<T>>>,
        optional: bool,
    ) -> StateId {
        let singleton = self.create(StateKind::Normal, true);
        let sink = self.copy_without_transitive_nots(sink);
        self.add(singleton, Action::Take, sink, take.clone());
        let proceed_condition: Arc<Cond<T>> = Arc::new(Cond::True);
        if optional {
            let proceed = proceed.expect("an optional state proceeds");
            if self.stage().greedy {
                match self.stage().until.clone() {
                    Some(until) => {
                        let name = self.states[proceed as usize].name.clone();
                        if let Some(&copy) = self.greedy_copies.get(&name) {
                            self.add(
                                singleton,
                                Action::Proceed,
                                copy,
                                Cond::and(&proceed_condition, &until),
                            );
                        }
                        let not_until = Cond::not(&until);
                        self.add(
                            singleton,
                            Action::Proceed,
                            proceed,
                            Cond::and(&proceed_condition, &not_until),
                        );
                    }
                    None => self.add(singleton, Action::Proceed, proceed, proceed_condition),
                }
            } else {
                self.add(singleton, Action::Proceed, proceed, proceed_condition);
            }
        }
        if let Some(ignore) = ignore {
            let ignore_state = if optional {
                let state = self.create(StateKind::Normal, false);
                self.add(state, Action::Take, sink, take);
                self.add(state, Action::Ignore, state, ignore.clone());
                self.add_stop_states(state);
                state
            } else {
                singleton
            };
            self.add(singleton, Action::Ignore, ignore_state, ignore);
        }
        singleton
    }

    fn create_looping(&mut self, sink: StateId) -> StateId {
        let until = self.stage().until.clone();
        let ignore = extend_with_until(self.inner_ignore_condition(), until.as_ref(), false);
        let take = extend_with_until(Some(self.stage().take_condition()), until.as_ref(), true)
            .expect("a take condition");
        let proceed_condition: Arc<Cond<T>> = Arc::new(Cond::True);
        let looping = self.create(StateKind::Normal, true);
        if self.stage().greedy {
            if let Some(until) = &until {
                let copy = self.copy(sink);
                self.add(
                    looping,
                    Action::Proceed,
                    copy,
                    Cond::and(&proceed_condition, until),
                );
                let name = self.states[sink as usize].name.clone();
                self.greedy_copies.insert(name, copy);
            }
            let condition = match &until {
                Some(until) => Cond::and(&proceed_condition, &Cond::not(until)),
                None => proceed_condition,
            };
            self.add(looping, Action::Proceed, sink, condition);
            let plain_take = self.stage().take_condition();
            self.update_with_greedy_condition(sink, &plain_take);
        } else {
            self.add(looping, Action::Proceed, sink, proceed_condition);
        }
        self.add(looping, Action::Take, looping, take.clone());
        self.add_stop_state_to_looping(looping);
        if let Some(ignore) = ignore {
            let ignore_state = self.create(StateKind::Normal, false);
            self.add(ignore_state, Action::Take, looping, take);
            self.add(ignore_state, Action::Ignore, ignore_state, ignore.clone());
            self.add(looping, Action::Ignore, ignore_state, ignore);
            self.add_stop_state_to_looping(ignore_state);
        }
        looping
    }

    fn update_with_greedy_condition(&mut self, state: StateId, take: &Arc<Cond<T>>) {
        let not_take = Cond::not(take);
        for t in &mut self.states[state as usize].transitions {
            t.condition = Cond::and(&t.condition, &not_take);
        }
    }

    /// What ignores an event between the events of a quantified stage.
    fn inner_ignore_condition(&self) -> Option<Arc<Cond<T>>> {
        strategy_ignore(self.stage().inner, &self.stage().take_condition())
    }

    /// What ignores an event before the stage's first event.
    fn ignore_condition(&self) -> Option<Arc<Cond<T>>> {
        strategy_ignore(self.stage().strategy, &self.stage().take_condition())
    }
}

fn strategy_ignore<T>(strategy: Strategy, take: &Arc<Cond<T>>) -> Option<Arc<Cond<T>>> {
    match strategy {
        Strategy::SkipTillNext => Some(Cond::not(take)),
        Strategy::SkipTillAny => Some(Arc::new(Cond::True)),
        Strategy::Strict | Strategy::NotNext | Strategy::NotFollow => None,
    }
}

fn extend_with_until<T>(
    condition: Option<Arc<Cond<T>>>,
    until: Option<&Arc<Cond<T>>>,
    is_take: bool,
) -> Option<Arc<Cond<T>>> {
    match (until, condition) {
        (Some(until), Some(c)) => Some(Cond::and(&Cond::not(until), &c)),
        (Some(until), None) if is_take => Some(Cond::not(until)),
        (_, c) => c,
    }
}
