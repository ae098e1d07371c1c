//! Running the automaton over one key's events (FlinkCEP's `NFA`).
//!
//! A *run* (Flink's computation state) is a partial match waiting in a state: where it
//! is, the buffer node of its last event, its version and when it started. Each event
//! moves every run along the transitions whose conditions it meets, branching where
//! several apply; runs that reach the final state are matches, runs whose `within` runs
//! out are timed out. Matches are released in the order of their first events and prune
//! other runs as the after-match skip strategy says.

use std::cell::OnceCell;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use super::buffer::{EventId, NodeId, Path, SharedBuffer};
use super::compiler::{Action, Nfa, Skip, StateId, StateKind, Transition};
use super::dewey::Dewey;
use super::queue::RunQueue;
use super::Context;
use crate::time::Timestamp;

/// A partial match waiting in a state (FlinkCEP's `ComputationState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Run {
    pub state: StateId,
    pub previous: Option<NodeId>,
    pub version: Dewey,
    /// The timestamp of the first event (-1 before the run took one).
    pub start_ts: Timestamp,
    /// The timestamp of the last event taken.
    pub previous_ts: Timestamp,
    pub start_event: Option<EventId>,
}

impl Run {
    fn start(state: StateId, version: Dewey) -> Run {
        Run {
            state,
            previous: None,
            version,
            start_ts: -1,
            previous_ts: -1,
            start_event: None,
        }
    }
}

/// The matcher's state for one key: its runs, the matches waiting for earlier runs to
/// end, and the shared buffer of their events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Matcher<T> {
    partial: RunQueue,
    completed: RunQueue,
    buffer: SharedBuffer<T>,
    /// The next event's place among the key's events.
    seq: u64,
}

impl<T> Default for Matcher<T> {
    fn default() -> Self {
        Matcher {
            partial: RunQueue::new(),
            completed: RunQueue::new(),
            buffer: SharedBuffer::default(),
            seq: 0,
        }
    }
}

/// A match or a timed-out partial match: per stage, its events with their timestamps.
pub(crate) struct Found<T> {
    pub stages: Vec<(u16, Vec<(Timestamp, T)>)>,
    /// When a timed-out partial match timed out.
    pub timed_out_at: Option<Timestamp>,
}

/// The event being matched, stored in the buffer once a run takes it.
struct Current<'e, T> {
    event: &'e T,
    ts: Timestamp,
    id: Option<EventId>,
}

impl<T: Clone> Matcher<T> {
    /// The matcher of a key before its first event: one run in the start state.
    pub(crate) fn new(nfa: &Nfa<T>) -> Self {
        let mut m = Matcher::default();
        m.partial.add(Run::start(nfa.start(), Dewey::new(1)));
        m
    }

    /// Whether the matcher is as a new one is: nothing buffered, no run but the start.
    pub(crate) fn is_idle(&self, nfa: &Nfa<T>) -> bool {
        self.completed.is_empty()
            && self.buffer.is_empty()
            && self.partial.len() == 1
            && self
                .partial
                .iter()
                .all(|r| nfa.state(r.state).kind == StateKind::Start)
    }

    /// Matches `event`, at `ts`, against every run; whether the event started a run.
    pub(crate) fn process(
        &mut self,
        nfa: &Nfa<T>,
        event: &T,
        ts: Timestamp,
        out: &mut Vec<Found<T>>,
    ) -> bool {
        let mut started = false;
        let mut current = Current {
            event,
            ts,
            id: None,
        };
        let mut next_partial = RunQueue::new();
        let mut potential = RunQueue::new();
        let partial = std::mem::take(&mut self.partial);
        for run in partial.iter() {
            let next = self.next_runs(nfa, run, &mut current);
            let from_start = nfa.state(run.state).kind == StateKind::Start;
            let mut retained: SmallVec<[Run; 4]> = SmallVec::new();
            let mut discard = false;
            for n in next {
                if from_start && n.start_ts > 0 {
                    started = true;
                }
                match nfa.state(n.state).kind {
                    StateKind::Final => potential.add(n),
                    StateKind::Stop => {
                        discard = true;
                        self.buffer.release_node(n.previous, &n.version);
                    }
                    _ => retained.push(n),
                }
            }
            if discard {
                for r in retained {
                    self.buffer.release_node(r.previous, &r.version);
                }
            } else {
                for r in retained {
                    next_partial.add(r);
                }
            }
        }
        self.release_matches(nfa, potential, &mut next_partial, out);
        self.partial = next_partial;
        if let Some(id) = current.id {
            self.buffer.release_event(id);
        }
        started
    }

    /// No event before `ts` will come: times out the runs whose `within` ran out (pending
    /// runs of a trailing `not_followed_by` complete instead).
    pub(crate) fn advance_time(
        &mut self,
        nfa: &Nfa<T>,
        ts: Timestamp,
        matches: &mut Vec<Found<T>>,
        timed_out: Option<&mut Vec<Found<T>>>,
    ) {
        let mut timed_out = timed_out;
        let mut next_partial = RunQueue::new();
        let mut potential = RunQueue::new();
        let partial = std::mem::take(&mut self.partial);
        for run in partial.iter() {
            let state = nfa.state(run.state);
            if state.kind == StateKind::Start {
                next_partial.add(run.clone());
                continue;
            }
            let previous_window = state
                .window
                .filter(|&w| w > 0 && ts.saturating_sub(run.previous_ts) >= w);
            let first_window =
                nfa.window_time > 0 && ts.saturating_sub(run.start_ts) >= nfa.window_time;
            if previous_window.is_none() && !first_window {
                next_partial.add(run.clone());
                continue;
            }
            if state.kind == StateKind::Pending {
                potential.add(run.clone());
                continue;
            }
            if let Some(out) = timed_out.as_deref_mut() {
                let at = match previous_window {
                    Some(w) => run.previous_ts + w,
                    None => run.start_ts + nfa.window_time,
                };
                let mut found = self.current_match(run);
                found.timed_out_at = Some(at);
                out.push(found);
            }
            self.buffer.release_node(run.previous, &run.version);
        }
        self.release_matches(nfa, potential, &mut next_partial, matches);
        self.partial = next_partial;
    }

    /// Emits the completed matches that no earlier partial match can still precede, in
    /// the order of their first events, pruning as the skip strategy says.
    fn release_matches(
        &mut self,
        nfa: &Nfa<T>,
        potential: RunQueue,
        partial: &mut RunQueue,
        out: &mut Vec<Found<T>>,
    ) {
        for run in potential.iter() {
            self.completed.add(run.clone());
        }
        while let Some(earliest) = self.completed.peek() {
            if nfa.skip != Skip::Keep {
                if let Some(first_partial) = partial.peek() {
                    if queue_key(earliest) > queue_key(first_partial) {
                        break;
                    }
                }
            }
            let earliest = self.completed.poll().expect("peeked");
            let paths = match earliest.previous {
                Some(node) => self.buffer.extract(node, &earliest.version),
                None => Vec::new(),
            };
            self.prune(nfa.skip, partial, &paths);
            let mut completed = std::mem::take(&mut self.completed);
            self.prune(nfa.skip, &mut completed, &paths);
            self.completed = completed;
            if let Some(path) = paths.first() {
                out.push(self.found(path));
            }
            self.buffer
                .release_node(earliest.previous, &earliest.version);
        }
    }

    fn prune(&mut self, skip: Skip, runs: &mut RunQueue, paths: &[Path]) {
        let Some(pruning) = pruning_id(skip, paths) else {
            return;
        };
        let inclusive = matches!(skip, Skip::ToNext | Skip::PastLastEvent);
        let mut discarded = Vec::new();
        for run in runs.iter() {
            let Some(start) = run.start_event else {
                continue;
            };
            if start < pruning || (inclusive && start == pruning) {
                self.buffer.release_node(run.previous, &run.version);
                discarded.push(run.clone());
            }
        }
        runs.remove_all(&discarded);
    }

    /// The runs `run` moves to on the current event.
    fn next_runs(
        &mut self,
        nfa: &Nfa<T>,
        run: &Run,
        current: &mut Current<'_, T>,
    ) -> SmallVec<[Run; 4]> {
        let partial = OnceCell::new();
        let run_state = nfa.state(run.state);
        let from_start = run_state.kind == StateKind::Start;

        // Every transition the event takes, through the epsilon moves.
        let mut edges: SmallVec<[&Transition<T>; 8]> = SmallVec::new();
        let (mut takes, mut ignores) = (0i32, 0i32);
        {
            let ctx = self.context(nfa, run, current.ts, &partial);
            let mut stack = vec![run.state];
            while let Some(s) = stack.pop() {
                for t in &nfa.state(s).transitions {
                    if !t.condition.holds(current.event, &ctx) {
                        continue;
                    }
                    match t.action {
                        Action::Proceed => stack.push(t.target),
                        Action::Ignore => {
                            if t.target != run.state {
                                ignores += 1;
                            }
                            edges.push(t);
                        }
                        Action::Take => {
                            takes += 1;
                            edges.push(t);
                        }
                    }
                }
            }
        }

        let mut take_to_visit = (takes - 1).max(0);
        let mut ignore_to_visit = ignores;
        let take_to_skip = (takes - 1).max(0);
        let mut next = SmallVec::new();
        for edge in edges {
            match edge.action {
                Action::Ignore => {
                    if from_start {
                        continue;
                    }
                    let version = if edge.target == run.state {
                        run.version.increase(self_increase(ignores, takes))
                    } else {
                        let v = run
                            .version
                            .increase(take_to_skip + ignore_to_visit)
                            .add_stage();
                        ignore_to_visit -= 1;
                        v
                    };
                    self.add_run(
                        &mut next,
                        Run {
                            state: edge.target,
                            previous: run.previous,
                            version,
                            start_ts: run.start_ts,
                            previous_ts: run.previous_ts,
                            start_event: run.start_event,
                        },
                    );
                }
                Action::Take => {
                    let current_version = run.version.increase(take_to_visit);
                    let next_version = current_version.add_stage();
                    take_to_visit -= 1;
                    let id = match current.id {
                        Some(id) => id,
                        None => {
                            let id = EventId {
                                ts: current.ts,
                                seq: self.seq,
                            };
                            self.seq += 1;
                            self.buffer.register_event(current.event.clone(), id);
                            current.id = Some(id);
                            id
                        }
                    };
                    let stage = nfa.state(edge.source).stage;
                    let entry = self.buffer.put(stage, id, run.previous, &current_version);
                    let (start_ts, start_event) = if from_start {
                        (current.ts, Some(id))
                    } else {
                        (run.start_ts, run.start_event)
                    };
                    let taken = Run {
                        state: edge.target,
                        previous: Some(entry),
                        version: next_version,
                        start_ts,
                        previous_ts: current.ts,
                        start_event,
                    };
                    let done = {
                        let ctx = self.context(nfa, run, current.ts, &partial);
                        final_after_proceed(nfa, edge.target, current.event, &ctx)
                    };
                    let complete = done.map(|f| Run {
                        state: f,
                        ..taken.clone()
                    });
                    self.add_run(&mut next, taken);
                    if let Some(complete) = complete {
                        self.add_run(&mut next, complete);
                    }
                }
                Action::Proceed => unreachable!("epsilon moves are followed above"),
            }
        }
        if from_start {
            let version = run.version.increase(self_increase(ignores, takes));
            next.push(Run::start(run.state, version));
        }
        self.buffer.release_node(run.previous, &run.version);
        next
    }

    fn add_run(&mut self, runs: &mut SmallVec<[Run; 4]>, run: Run) {
        if let Some(node) = run.previous {
            self.buffer.lock_node(node, &run.version);
        }
        runs.push(run);
    }

    /// What a condition sees while `run` considers an event at `ts`.
    fn context<'a>(
        &'a self,
        nfa: &'a Nfa<T>,
        run: &'a Run,
        ts: Timestamp,
        partial: &'a OnceCell<Vec<(u16, Vec<T>)>>,
    ) -> Context<'a, T> {
        Context {
            stages: &nfa.stages,
            timestamp: ts,
            partial,
            source: Some((&self.buffer, run.previous, &run.version)),
        }
    }

    /// The events of `run` so far.
    fn current_match(&self, run: &Run) -> Found<T> {
        let path = run
            .previous
            .and_then(|node| self.buffer.extract_first(node, &run.version));
        match path {
            Some(path) => self.found(&path),
            None => Found {
                stages: Vec::new(),
                timed_out_at: None,
            },
        }
    }

    fn found(&self, path: &Path) -> Found<T> {
        let stages = path
            .iter()
            .map(|(stage, ids)| {
                let events = ids
                    .iter()
                    .filter_map(|id| self.buffer.event(id).map(|e| (id.ts, e.clone())))
                    .collect();
                (*stage, events)
            })
            .collect();
        Found {
            stages,
            timed_out_at: None,
        }
    }
}

/// The final state reachable from `state` through epsilon moves the event allows.
fn final_after_proceed<T>(
    nfa: &Nfa<T>,
    state: StateId,
    event: &T,
    ctx: &Context<'_, T>,
) -> Option<StateId> {
    let mut stack = vec![state];
    while let Some(s) = stack.pop() {
        for t in &nfa.state(s).transitions {
            if t.action == Action::Proceed && t.condition.holds(event, ctx) {
                if nfa.state(t.target).kind == StateKind::Final {
                    return Some(t.target);
                }
                stack.push(t.target);
            }
        }
    }
    None
}

fn self_increase(ignores: i32, takes: i32) -> i32 {
    if takes == 0 && ignores == 0 {
        0
    } else {
        ignores + takes.max(1)
    }
}

fn queue_key(run: &Run) -> (Timestamp, u64) {
    run.start_event
        .map_or((i64::MAX, u64::MAX), |e| (e.ts, e.seq))
}

/// The event by which the skip strategy prunes after a match.
fn pruning_id(skip: Skip, paths: &[Path]) -> Option<EventId> {
    let all = || paths.iter().flat_map(|p| p.iter());
    match skip {
        Skip::Keep => None,
        Skip::ToNext => all().filter_map(|(_, ids)| ids.first().copied()).min(),
        Skip::PastLastEvent => all().filter_map(|(_, ids)| ids.last().copied()).max(),
        Skip::ToFirst(stage) | Skip::ToLast(stage) => all()
            .filter(|(s, _)| *s == stage)
            .filter_map(|(_, ids)| {
                if matches!(skip, Skip::ToFirst(_)) {
                    ids.first().copied()
                } else {
                    ids.last().copied()
                }
            })
            .max(),
    }
}
