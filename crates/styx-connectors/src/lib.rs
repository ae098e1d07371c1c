//! Styx connectors: NDJSON files, stdin and stdout, and generated event streams.
//!
//! Every source decodes its input with [`decode::decode_event`]: a record that is not a
//! JSON object, or lacks a valid event-time field, becomes a dead letter that names where
//! it came from and why it was refused. A source with a dead-letter output sends it there
//! and goes on; without one, the job fails with that message.

pub mod decode;
pub mod file;
pub mod stdio;
pub mod webhook;

pub use decode::{decode_event, decode_event_fields, DeadLetters};
