//! Placeholder: being written.

use rand_chacha::ChaCha8Rng;

use crate::{Event, Model, Schedule};

pub(crate) struct Placeholder;

impl Model for Placeholder {
    fn next(&mut self, _rng: &mut ChaCha8Rng, _now: i64, _schedule: &mut Schedule) -> Event {
        Event::new()
    }
}

/// The model of the world at `rate` events per second of event time.
pub(crate) fn model(_rng: &mut ChaCha8Rng, _rate: f64) -> Box<dyn Model> {
    Box::new(Placeholder)
}

/// The reference table.
pub(crate) fn reference() -> Option<(&'static str, Vec<Event>)> {
    None
}
