//! Per-event failures of a transform, counted and summarized.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Evaluations of a transform that failed: counted, reported in a summary at most every
/// ten seconds (and when the job ends), never one log line per event.
pub(crate) struct Failures {
    transform: String,
    count: AtomicU64,
    reported: Mutex<(u64, Option<Instant>, String)>,
}

const REPORT_EVERY: Duration = Duration::from_secs(10);

impl Failures {
    /// The failures of transform `id`.
    pub(crate) fn new(id: &str) -> Arc<Self> {
        Arc::new(Failures {
            transform: format!("transforms.{id}"),
            count: AtomicU64::new(0),
            reported: Mutex::new((0, None, String::new())),
        })
    }

    /// Counts one failure.
    pub(crate) fn record(&self, error: &str) {
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        reported.2 = error.to_string();
        if reported.1.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
            self.report(count, &mut reported);
        }
    }

    fn report(&self, count: u64, reported: &mut (u64, Option<Instant>, String)) {
        tracing::warn!(
            transform = %self.transform,
            "{} evaluations failed ({count} in all); the last: {}",
            count - reported.0,
            reported.2
        );
        *reported = (count, Some(Instant::now()), std::mem::take(&mut reported.2));
    }
}

impl Drop for Failures {
    fn drop(&mut self) {
        let count = self.count.load(Ordering::Relaxed);
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if count > reported.0 {
            self.report(count, &mut reported);
        }
    }
}
