//! Where an event was read: a source and a position in it, so that a message about an
//! event that fails further on can say where it came from (`events.ndjson:3`,
//! `topic payments partition 2 offset 1041`).

use std::cell::RefCell;
use std::sync::Mutex;

/// Where an event was read, or nothing (an event built by a transform). Two words, kept
/// beside the event's fields and never written out with them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The [`Input`]'s index in the registry plus one; 0: no origin.
    input: u32,
    /// The partition, for inputs that have partitions.
    partition: u32,
    /// The line number or the offset.
    position: u64,
}

/// How an input numbers its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numbering {
    /// Lines of a file or a stream, from 1: `NAME:LINE`.
    Lines,
    /// Offsets of a partitioned log: `topic NAME partition P offset N`.
    Offsets,
}

/// An input events are read from, registered once per process (see [`Input::named`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Input(u32);

/// At most this many inputs are named; events of further ones carry no origin.
const MAX_INPUTS: usize = 4096;

static INPUTS: Mutex<Vec<(String, Numbering)>> = Mutex::new(Vec::new());

thread_local! {
    /// The input this thread named last: a decoder of one topic names it per record.
    static LAST: RefCell<Option<(String, Numbering, Input)>> = const { RefCell::new(None) };
}

impl Input {
    /// The input called `name` (a path, `stdin`, a topic), numbering its records as
    /// `numbering` says. The same name and numbering give the same input.
    pub fn named(name: &str, numbering: Numbering) -> Input {
        let last = LAST.with_borrow(|last| match last {
            Some((n, k, input)) if n == name && *k == numbering => Some(*input),
            _ => None,
        });
        if let Some(input) = last {
            return input;
        }
        let input = Self::register(name, numbering);
        LAST.set(Some((name.to_string(), numbering, input)));
        input
    }

    fn register(name: &str, numbering: Numbering) -> Input {
        let mut inputs = INPUTS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = inputs
            .iter()
            .position(|(n, k)| n == name && *k == numbering)
        {
            return Input(i as u32 + 1);
        }
        if inputs.len() >= MAX_INPUTS {
            return Input(0);
        }
        inputs.push((name.to_string(), numbering));
        Input(inputs.len() as u32)
    }

    /// The origin of the record at `position` (of `partition`, for partitioned inputs).
    pub fn at(self, partition: u32, position: u64) -> Origin {
        Origin {
            input: self.0,
            partition,
            position,
        }
    }
}

impl Origin {
    /// Whether the event was read from a named input.
    pub fn is_known(&self) -> bool {
        self.input != 0
    }

    /// Where the event was read, as messages name it; `None` without an origin.
    pub fn describe(&self) -> Option<String> {
        let i = self.input.checked_sub(1)? as usize;
        let inputs = INPUTS.lock().unwrap_or_else(|e| e.into_inner());
        let (name, numbering) = inputs.get(i)?;
        Some(match numbering {
            Numbering::Lines => format!("{name}:{}", self.position),
            Numbering::Offsets => format!(
                "topic {name} partition {} offset {}",
                self.partition, self.position
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_name_their_input_and_position() {
        let file = Input::named("events.ndjson", Numbering::Lines);
        assert_eq!(file, Input::named("events.ndjson", Numbering::Lines));
        assert_eq!(file.at(0, 3).describe().as_deref(), Some("events.ndjson:3"));
        let topic = Input::named("payments", Numbering::Offsets);
        assert_eq!(
            topic.at(2, 1041).describe().as_deref(),
            Some("topic payments partition 2 offset 1041")
        );
        assert_eq!(Origin::default().describe(), None);
        assert!(!Origin::default().is_known());
    }
}
