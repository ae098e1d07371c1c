//! Turning raw input into events, and refused input into dead letters.

use serde_json::{Map, Value};
use styx_runtime::checkpoint::Barrier;
use styx_runtime::emitter::{Collector, Emitter};
use styx_runtime::event::{event_time, parse_event_fields, Event};

/// Parses one record: a JSON object with, when `time_field` is given, an integer epoch
/// milliseconds field of that name. The error is the reason the record was refused.
pub fn decode_event(bytes: &[u8], time_field: Option<&str>) -> Result<Event, String> {
    decode_event_fields(bytes, time_field, None)
}

/// [`decode_event`] keeping only the fields named in `only` (all without it; see
/// [`parse_event_fields`]). `time_field` must be among them.
pub fn decode_event_fields(
    bytes: &[u8],
    time_field: Option<&str>,
    only: Option<&[String]>,
) -> Result<Event, String> {
    let event = parse_event_fields(bytes, only)?;
    if let Some(field) = time_field {
        event_time(&event, field)?;
    }
    Ok(event)
}

/// Where a source sends the records it refuses.
pub enum DeadLetters {
    /// The job has no dead-letter output: a refused record fails the job.
    Fail,
    /// Refused records go to this output, one JSON object each.
    Output(Collector<Event>),
}

impl DeadLetters {
    /// Sends to `output`, or fails when there is none.
    pub fn new(output: Option<Box<dyn Emitter<Event>>>) -> Self {
        match output {
            Some(o) => DeadLetters::Output(Collector::new(o)),
            None => DeadLetters::Fail,
        }
    }

    /// Handles a refused record: `origin` names where it came from (fields such as
    /// `path` and `line`, or `topic`, `partition` and `offset`), `reason` why it was
    /// refused. Returns the error that fails the job when there is no dead-letter output.
    pub fn refuse(
        &mut self,
        origin: Map<String, Value>,
        reason: String,
        payload: &[u8],
        location: impl FnOnce() -> String,
    ) -> Result<(), String> {
        match self {
            DeadLetters::Fail => Err(format!("{}: {reason}", location())),
            DeadLetters::Output(out) => {
                let mut record = Event::new();
                record.insert("reason", Value::String(reason));
                record.extend(origin);
                record.insert(
                    "payload",
                    Value::String(String::from_utf8_lossy(payload).into_owned()),
                );
                out.collect(record);
                Ok(())
            }
        }
    }

    /// Sends buffered dead letters on.
    pub fn flush(&mut self) {
        if let DeadLetters::Output(out) = self {
            out.flush();
        }
    }

    /// Sends a checkpoint barrier down the dead-letter output.
    pub fn barrier(&mut self, barrier: Barrier) {
        if let DeadLetters::Output(out) = self {
            out.barrier(barrier);
        }
    }

    /// Ends the dead-letter output.
    pub fn end(&mut self) {
        if let DeadLetters::Output(out) = self {
            out.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_an_event() {
        assert!(decode_event(b"{\"ts\": 1}", Some("ts")).is_ok());
        assert!(decode_event(b"{oops", None)
            .unwrap_err()
            .starts_with("not valid JSON"));
        assert_eq!(
            decode_event(b"[1]", None).unwrap_err(),
            "not a JSON object: an array"
        );
        assert_eq!(
            decode_event(b"{\"ts\": \"x\"}", Some("ts")).unwrap_err(),
            "event-time field `ts` must be an integer of epoch milliseconds, not a string"
        );
        assert_eq!(
            decode_event(b"{}", Some("ts")).unwrap_err(),
            "event-time field `ts` is missing"
        );
    }
}
