//! Event time: timestamp assignment and watermark generation.
//!
//! A [`WatermarkStrategy`] follows Flink's bounded out-of-orderness generator: after an
//! event the watermark is `max timestamp seen - max_out_of_orderness - 1 ms`. It is
//! emitted after every event that raises it ([`Emission::PerEvent`], deterministic) or on
//! a processing-time interval ([`Emission::Periodic`]). With an idle timeout, an input that
//! has had no record for that long is marked idle and stops holding the watermark back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::emitter::Emitter;
use crate::time::{Timestamp, MAX_WATERMARK, MIN_WATERMARK};

/// Extracts an event's timestamp.
pub type TimestampFn<T> = Arc<dyn Fn(&T) -> Timestamp + Send + Sync>;

/// When watermarks are emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emission {
    /// After every event that raises the watermark.
    PerEvent,
    /// Every interval of processing time (and at the end of input).
    Periodic(Duration),
}

/// How a stream's events get timestamps and watermarks.
pub struct WatermarkStrategy<T> {
    pub(crate) timestamp: TimestampFn<T>,
    pub(crate) max_out_of_orderness: Duration,
    pub(crate) emission: Emission,
    pub(crate) idle_timeout: Option<Duration>,
}

impl<T> Clone for WatermarkStrategy<T> {
    fn clone(&self) -> Self {
        WatermarkStrategy {
            timestamp: self.timestamp.clone(),
            max_out_of_orderness: self.max_out_of_orderness,
            emission: self.emission,
            idle_timeout: self.idle_timeout,
        }
    }
}

impl<T> WatermarkStrategy<T> {
    /// Watermarks that trail the largest timestamp seen by `max_out_of_orderness`,
    /// emitted every 200 ms of processing time.
    pub fn bounded_out_of_orderness(
        max_out_of_orderness: Duration,
        timestamp: impl Fn(&T) -> Timestamp + Send + Sync + 'static,
    ) -> Self {
        WatermarkStrategy {
            timestamp: Arc::new(timestamp),
            max_out_of_orderness,
            emission: Emission::Periodic(Duration::from_millis(200)),
            idle_timeout: None,
        }
    }

    /// Sets when watermarks are emitted.
    pub fn with_emission(mut self, emission: Emission) -> Self {
        self.emission = emission;
        self
    }

    /// Marks the input idle after `timeout` without records.
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// The timestamp extractor.
    pub fn timestamp_fn(&self) -> TimestampFn<T> {
        self.timestamp.clone()
    }

    /// How far out of order events may be.
    pub fn max_out_of_orderness(&self) -> Duration {
        self.max_out_of_orderness
    }

    /// When watermarks are emitted.
    pub fn emission(&self) -> Emission {
        self.emission
    }

    /// After how long without records an input is marked idle, if ever.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }
}

/// Chained after a source instance: tracks the largest timestamp and emits watermarks.
pub struct WatermarkEmitter<T> {
    strategy: WatermarkStrategy<T>,
    delay: i64,
    max_ts: Timestamp,
    emitted: Timestamp,
    last_emit: Instant,
    last_record: Instant,
    idle: bool,
    pending: Vec<T>,
    next: Box<dyn Emitter<T>>,
}

impl<T: Send> WatermarkEmitter<T> {
    /// Generates watermarks by `strategy` in front of `next`.
    pub fn new(strategy: WatermarkStrategy<T>, next: Box<dyn Emitter<T>>) -> Self {
        let delay = strategy.max_out_of_orderness.as_millis() as i64;
        let now = Instant::now();
        WatermarkEmitter {
            strategy,
            delay,
            max_ts: MIN_WATERMARK,
            emitted: MIN_WATERMARK,
            last_emit: now,
            last_record: now,
            idle: false,
            pending: Vec::new(),
            next,
        }
    }

    fn current(&self) -> Timestamp {
        if self.max_ts == MIN_WATERMARK {
            MIN_WATERMARK
        } else {
            self.max_ts.saturating_sub(self.delay).saturating_sub(1)
        }
    }

    fn emit_watermark(&mut self) {
        let wm = self.current();
        if wm > self.emitted {
            self.emitted = wm;
            self.next.watermark(wm);
        }
        self.last_emit = Instant::now();
    }

    fn periodic_check(&mut self) {
        if let Emission::Periodic(interval) = self.strategy.emission {
            if self.last_emit.elapsed() >= interval {
                self.emit_watermark();
            }
        }
    }
}

impl<T: Send> Emitter<T> for WatermarkEmitter<T> {
    fn emit(&mut self, batch: &mut Vec<T>) {
        if batch.is_empty() {
            return;
        }
        if self.idle {
            self.idle = false;
            self.next.idle(false);
        }
        self.last_record = Instant::now();
        let ts = self.strategy.timestamp.clone();
        match self.strategy.emission {
            Emission::Periodic(_) => {
                for item in batch.iter() {
                    self.max_ts = self.max_ts.max(ts(item));
                }
                self.next.emit(batch);
                self.periodic_check();
            }
            Emission::PerEvent => {
                for item in batch.drain(..) {
                    let t = ts(&item);
                    self.pending.push(item);
                    if t > self.max_ts {
                        self.max_ts = t;
                        if self.current() > self.emitted {
                            self.next.emit(&mut self.pending);
                            self.emit_watermark();
                        }
                    }
                }
                if !self.pending.is_empty() {
                    self.next.emit(&mut self.pending);
                }
            }
        }
    }

    fn watermark(&mut self, _watermark: Timestamp) {
        // Watermarks from before the assigner are replaced by the ones it generates.
    }

    fn idle(&mut self, idle: bool) {
        if idle != self.idle {
            self.idle = idle;
            self.next.idle(idle);
        }
    }

    fn barrier(&mut self, barrier: crate::checkpoint::Barrier) {
        self.next.barrier(barrier);
    }

    fn flush(&mut self) {
        self.periodic_check();
        if let Some(timeout) = self.strategy.idle_timeout {
            if !self.idle && self.last_record.elapsed() >= timeout {
                self.idle = true;
                self.next.idle(true);
            }
        }
        self.next.flush();
    }

    fn end(&mut self) {
        if self.emitted < MAX_WATERMARK {
            self.emitted = MAX_WATERMARK;
            self.next.watermark(MAX_WATERMARK);
        }
        self.next.end();
    }
}
