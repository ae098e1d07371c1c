//! Events a component cannot handle: never silent.
//!
//! An event a transform cannot handle (a CEL error, a missing key, an invalid aggregate
//! input, an event a model cannot score) goes to the transform's dead-letter output when
//! it declares one, as `{"reason", "transform", "event"}`. Otherwise, with
//! `[job] on_error = "continue"` (the default), it is dropped and counted: a warning
//! summarises the failures of each component at most every ten seconds, with the count
//! and one example, and a last one when the job ends. With `on_error = "fail"` the first
//! one stops the job with an error naming the component, the event and the reason.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use styx_runtime::event::Event;
use styx_runtime::stream::FailHandle;

use crate::metrics::JobMetrics;

/// How often a component's failures are summarised at most.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// At most this many characters of an event are quoted in a message.
const QUOTED: usize = 300;

/// What the job does with failures where no dead-letter output takes them.
#[derive(Clone, Default)]
pub(crate) struct Policy {
    /// Set with `on_error = "fail"`: fails the job.
    fail: Option<FailHandle>,
    /// Where the failures of each component are counted for the job's metrics.
    metrics: Option<Arc<JobMetrics>>,
}

impl Policy {
    /// Failures are counted and summarised.
    pub(crate) fn count() -> Self {
        Policy::default()
    }

    /// The first failure fails the job through `handle`.
    pub(crate) fn fail(handle: FailHandle) -> Self {
        Policy {
            fail: Some(handle),
            metrics: None,
        }
    }

    /// Failures are also counted in the job's `metrics`.
    pub(crate) fn with_metrics(mut self, metrics: Option<&Arc<JobMetrics>>) -> Self {
        self.metrics = metrics.cloned();
        self
    }
}

/// The failures of one component (`transforms.ID`).
pub(crate) struct Failures {
    component: String,
    policy: Policy,
    /// What became of the events that failed, as the summaries say it.
    outcome: &'static str,
    /// Whether the job was failed (nothing more is reported then).
    failed: AtomicBool,
    /// Events that failed with no dead-letter output (shared with the job's metrics).
    count: Arc<AtomicU64>,
    dead_letters: AtomicU64,
    /// Whether the events hold only the fields the job reads (their source decodes no
    /// others): the examples say so.
    partial: bool,
    report: Mutex<Report>,
}

#[derive(Default)]
struct Report {
    /// The count at the last summary.
    reported: u64,
    at: Option<Instant>,
    /// The first failure since the last summary.
    example: Option<String>,
}

impl Failures {
    /// The failures of transform `id`, whose events that fail are dropped.
    pub(crate) fn new(id: &str, policy: &Policy) -> Arc<Self> {
        Self::of_events(id, policy, false)
    }

    /// The failures of the component named `component` (as `transforms.ID`), whose
    /// events that fail are dropped.
    pub(crate) fn named(component: &str, policy: &Policy) -> Arc<Self> {
        Self::with_outcome(component, policy, "dropped", false)
    }

    /// [`Failures::new`] for a transform whose events may hold only the fields the job
    /// reads, when `partial` (see [`Failures::notes_of`] for the notes).
    pub(crate) fn of_events(id: &str, policy: &Policy, partial: bool) -> Arc<Self> {
        Self::with_outcome(&format!("transforms.{id}"), policy, "dropped", partial)
    }

    /// The failures of the conditions of transform `id` (pattern stages, rules): a
    /// condition that fails to evaluate does not hold.
    pub(crate) fn of_conditions(id: &str, policy: &Policy) -> Arc<Self> {
        Self::with_outcome(
            &format!("transforms.{id}"),
            policy,
            "their condition taken as false",
            false,
        )
    }

    /// Events of component `component` that went on, but with something the user should
    /// know (`outcome` says what): counted and summarised, never failing the job.
    pub(crate) fn notes(component: &str, outcome: &'static str) -> Arc<Self> {
        Self::notes_of(component, outcome, false)
    }

    /// [`Failures::notes`] of events that hold only the fields the job reads, when
    /// `partial`.
    pub(crate) fn notes_of(component: &str, outcome: &'static str, partial: bool) -> Arc<Self> {
        Self::with_outcome(component, &Policy::count(), outcome, partial)
    }

    fn with_outcome(
        component: &str,
        policy: &Policy,
        outcome: &'static str,
        partial: bool,
    ) -> Arc<Self> {
        Arc::new(Failures {
            component: component.to_string(),
            policy: policy.clone(),
            outcome,
            failed: AtomicBool::new(false),
            count: policy
                .metrics
                .as_ref()
                .and_then(|m| m.failed_counter(component))
                .unwrap_or_default(),
            dead_letters: AtomicU64::new(0),
            partial,
            report: Mutex::new(Report::default()),
        })
    }

    /// Whether the job was failed by one of these failures: the component then passes
    /// nothing on.
    pub(crate) fn job_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// `event` cannot be handled, for `reason`: it goes to `dead` as a dead letter when
    /// the component has a dead-letter output, and is otherwise reported as the policy
    /// says (the caller drops it).
    pub(crate) fn event(&self, reason: &str, event: Event, dead: Option<&mut Vec<Event>>) {
        match dead {
            Some(dead) => {
                self.dead_letters.fetch_add(1, Ordering::Relaxed);
                dead.push(self.dead_letter(reason, event));
            }
            None => self.record(reason, Some(&event)),
        }
    }

    /// The dead-letter record of `event`: `{"reason", "transform", "event"}`.
    pub(crate) fn dead_letter(&self, reason: &str, event: Event) -> Event {
        let mut letter = Event::new();
        letter.insert("reason", Value::String(reason.to_string()));
        letter.insert("transform", Value::String(self.component.clone()));
        letter.insert("event", event.into_value());
        letter
    }

    /// A failure for `reason` while handling `event` (when there is one), with no
    /// dead-letter output: counted and summarised, or failing the job.
    pub(crate) fn record(&self, reason: &str, event: Option<&Event>) {
        let described = || match event {
            Some(e) => {
                let at = e
                    .origin()
                    .describe()
                    .map(|at| format!(" at {at}"))
                    .unwrap_or_default();
                let fields = if self.partial {
                    " (the fields the job reads)"
                } else {
                    ""
                };
                format!("{reason}; event{at}{fields}: {}", quote(e))
            }
            None => reason.to_string(),
        };
        if let Some(handle) = &self.policy.fail {
            if !self.failed.swap(true, Ordering::Relaxed) {
                handle.fail(
                    &self.component,
                    format!("{} (on_error = \"fail\")", described()),
                );
            }
            return;
        }
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        if report.example.is_none() {
            report.example = Some(described());
        }
        if report.at.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
            self.summarise(count, &mut report, false);
        }
    }

    fn summarise(&self, count: u64, report: &mut Report, last: bool) {
        let example = report.example.take();
        if last {
            let example = example.map(|e| format!("; e.g. {e}")).unwrap_or_default();
            tracing::warn!(
                component = %self.component,
                "{count} events failed in all ({}){example}",
                self.outcome
            );
        } else {
            tracing::warn!(
                component = %self.component,
                "{} events failed ({}; {count} so far); e.g. {}",
                count - report.reported,
                self.outcome,
                example.unwrap_or_default()
            );
        }
        report.reported = count;
        report.at = Some(Instant::now());
    }
}

impl Drop for Failures {
    fn drop(&mut self) {
        let count = self.count.load(Ordering::Relaxed);
        if count > 0 {
            let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
            self.summarise(count, &mut report, true);
        }
        let dead = self.dead_letters.load(Ordering::Relaxed);
        if dead > 0 {
            tracing::info!(
                component = %self.component,
                "{dead} events went to the dead-letter output"
            );
        }
    }
}

/// `event` as JSON, cut after [`QUOTED`] characters.
pub(crate) fn quote(event: &Event) -> String {
    let text = event.to_string();
    match text.char_indices().nth(QUOTED) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}
