//! Dewey numbers: the versions that tell apart the runs sharing a buffer entry.
//!
//! A run's version grows a digit each time it takes an event into a new stage and its
//! last digit is raised for each branch it splits into. An edge of the shared buffer
//! belongs to a run when the run's version is *compatible* with the edge's: it extends
//! it, or equals it but for a last digit at least as large.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// A version of a run (FlinkCEP's `DeweyNumber`); digits wrap as Java's `int` does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Dewey(SmallVec<[i32; 6]>);

impl Dewey {
    /// The one-digit version `start`.
    pub(crate) fn new(start: i32) -> Self {
        let mut digits = SmallVec::new();
        digits.push(start);
        Dewey(digits)
    }

    /// This version with its last digit raised by `times`.
    pub(crate) fn increase(&self, times: i32) -> Self {
        let mut next = self.clone();
        if let Some(last) = next.0.last_mut() {
            *last = last.wrapping_add(times);
        }
        next
    }

    /// This version with a new digit `0` appended.
    pub(crate) fn add_stage(&self) -> Self {
        let mut next = self.clone();
        next.0.push(0);
        next
    }

    /// Whether a run of this version may follow an edge of version `other`.
    pub(crate) fn is_compatible_with(&self, other: &Dewey) -> bool {
        let (mine, theirs) = (&self.0, &other.0);
        if mine.len() > theirs.len() {
            mine[..theirs.len()] == theirs[..]
        } else if mine.len() == theirs.len() {
            let last = mine.len() - 1;
            mine[..last] == theirs[..last] && mine[last] >= theirs[last]
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(digits: &[i32]) -> Dewey {
        Dewey(digits.iter().copied().collect())
    }

    #[test]
    fn compatibility_is_prefix_or_larger_last_digit() {
        assert!(d(&[1, 0, 2]).is_compatible_with(&d(&[1, 0])));
        assert!(d(&[1, 3]).is_compatible_with(&d(&[1, 2])));
        assert!(d(&[1, 2]).is_compatible_with(&d(&[1, 2])));
        assert!(!d(&[1, 1]).is_compatible_with(&d(&[1, 2])));
        assert!(!d(&[2, 0]).is_compatible_with(&d(&[1])));
        assert!(!d(&[1]).is_compatible_with(&d(&[1, 0])));
        assert_eq!(d(&[1, 0]).increase(3).add_stage(), d(&[1, 3, 0]));
        assert_eq!(Dewey::new(1), d(&[1]));
    }
}
