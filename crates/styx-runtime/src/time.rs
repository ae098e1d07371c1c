//! Time: timestamps, watermarks and time windows.

use std::time::{SystemTime, UNIX_EPOCH};

/// Event or processing time in epoch milliseconds.
pub type Timestamp = i64;

/// The watermark before any event: nothing is known yet.
pub const MIN_WATERMARK: Timestamp = i64::MIN;

/// The watermark at the end of a bounded input: every event has been seen.
pub const MAX_WATERMARK: Timestamp = i64::MAX;

/// Which clock drives a window or timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeDomain {
    /// Timestamps carried by the events, advanced by watermarks.
    EventTime,
    /// The wall clock of the machine running the operator.
    ProcessingTime,
}

/// The current wall-clock time in epoch milliseconds.
pub fn now_ms() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Timestamp)
        .unwrap_or(0)
}

/// A window of time `[start, end)`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TimeWindow {
    /// The first millisecond in the window.
    pub start: Timestamp,
    /// The first millisecond after the window.
    pub end: Timestamp,
}

impl TimeWindow {
    /// A window `[start, end)`.
    pub fn new(start: Timestamp, end: Timestamp) -> Self {
        TimeWindow { start, end }
    }

    /// The largest timestamp that still belongs to the window: `end - 1`.
    pub fn max_timestamp(&self) -> Timestamp {
        self.end - 1
    }

    /// Whether two windows overlap or touch (the rule by which sessions merge).
    pub fn intersects(&self, other: &TimeWindow) -> bool {
        self.start <= other.end && self.end >= other.start
    }

    /// The smallest window that covers both.
    pub fn cover(&self, other: &TimeWindow) -> TimeWindow {
        TimeWindow::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// The time at which the window's state is dropped: `max_timestamp + allowed_lateness`,
    /// saturating at the end of time.
    pub fn cleanup_time(&self, allowed_lateness: i64) -> Timestamp {
        self.max_timestamp().saturating_add(allowed_lateness)
    }
}

/// The start of the window of length `size` that holds `ts`, for windows aligned to
/// `offset` (floor division, so negative timestamps align too).
pub fn window_start(ts: Timestamp, offset: i64, size: i64) -> Timestamp {
    let rem = (ts - offset).rem_euclid(size);
    ts - rem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_start_floors_negative_timestamps() {
        assert_eq!(window_start(-1, 0, 1000), -1000);
        assert_eq!(window_start(-1000, 0, 1000), -1000);
        assert_eq!(window_start(999, 0, 1000), 0);
        assert_eq!(window_start(1000, 0, 1000), 1000);
        assert_eq!(window_start(1050, 100, 1000), 100);
    }

    #[test]
    fn touching_windows_intersect() {
        let a = TimeWindow::new(0, 1000);
        assert!(a.intersects(&TimeWindow::new(1000, 2000)));
        assert!(!a.intersects(&TimeWindow::new(1001, 2000)));
        assert_eq!(a.cleanup_time(i64::MAX), i64::MAX);
    }
}
