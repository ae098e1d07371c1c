//! Operators: the stateful steps of a dataflow, each instance on its own thread.
//!
//! An operator instance reads from one bounded channel (see [`crate::exchange`]) and owns
//! its outputs. Its life: [`Operator::process`] for every batch, [`Operator::on_watermark`]
//! whenever the combined watermark of its inputs advances, [`Operator::on_processing_time`]
//! when a processing-time timer it asked for is due, and [`Operator::finish`] once every
//! input has ended.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::error::BoxError;
use crate::exchange::{Envelope, GateEvent, InputGate, Message};
use crate::time::{now_ms, Timestamp};

/// One instance of a stateful step.
pub trait Operator<In>: Send {
    /// Handles a batch of records, taking them out of `batch`.
    fn process(&mut self, batch: &mut Vec<In>) -> Result<(), BoxError>;

    /// The combined watermark of the inputs advanced: fire what is due, then forward it.
    fn on_watermark(&mut self, watermark: Timestamp) -> Result<(), BoxError>;

    /// Every input became idle (`true`) or one is active again (`false`). Forward it.
    fn on_idle(&mut self, idle: bool) -> Result<(), BoxError>;

    /// The earliest processing-time timer, in epoch milliseconds, if there is one.
    fn next_processing_timer(&self) -> Option<Timestamp> {
        None
    }

    /// Fires the processing-time timers due at `now`.
    fn on_processing_time(&mut self, _now: Timestamp) -> Result<(), BoxError> {
        Ok(())
    }

    /// The inputs have all ended (after a final watermark): flush and end the outputs.
    fn finish(&mut self) -> Result<(), BoxError>;
}

/// How long a stage waits for input when it has no timer: long enough to cost nothing,
/// short enough that it notices buffered output to flush.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// Runs an operator instance until its inputs end.
pub fn run_operator<In, Op: Operator<In> + ?Sized>(
    op: &mut Op,
    input: Receiver<Envelope<In>>,
    inputs: usize,
) -> Result<(), BoxError> {
    let mut gate = InputGate::new(inputs);
    loop {
        let envelope = match op.next_processing_timer() {
            None => match input.recv_timeout(IDLE_WAIT) {
                Ok(e) => e,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            Some(due) => {
                let now = now_ms();
                if due <= now {
                    op.on_processing_time(now)?;
                    continue;
                }
                let wait = Duration::from_millis((due - now) as u64);
                match input.recv_deadline(Instant::now() + wait) {
                    Ok(e) => e,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        let event = match envelope.message {
            Message::Data(mut batch) => {
                op.process(&mut batch)?;
                GateEvent::None
            }
            Message::Watermark(wm) => gate.on_watermark(envelope.from, wm),
            Message::Idle(idle) => gate.on_idle(envelope.from, idle),
            Message::End => gate.on_end(envelope.from),
        };
        match event {
            GateEvent::None => {}
            GateEvent::Watermark(wm) => op.on_watermark(wm)?,
            GateEvent::Idle => op.on_idle(true)?,
            GateEvent::Active(advanced) => {
                op.on_idle(false)?;
                if let Some(wm) = advanced {
                    op.on_watermark(wm)?;
                }
            }
        }
        if gate.all_ended() {
            break;
        }
    }
    op.finish()
}
