//! The queues of runs, ordered by the event each run started with.
//!
//! FlinkCEP keeps its partial and completed matches in `java.util.PriorityQueue`s and
//! walks them in the order of the heap's array; which of two completed matches with the
//! same first event is emitted first (and so prunes the other under an after-match skip
//! strategy) depends on that order. This queue is a binary heap that moves its elements
//! exactly as Java's does, so that every run is handled in Flink's order.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::nfa::Run;

/// A priority queue of runs with the insertion, removal and iteration order of Java's
/// `PriorityQueue` under FlinkCEP's comparator (the run's first event; runs that took no
/// event yet last).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RunQueue {
    heap: Vec<Run>,
}

fn compare(a: &Run, b: &Run) -> Ordering {
    let key = |r: &Run| {
        r.start_event
            .map_or((i64::MAX, u64::MAX), |e| (e.ts, e.seq))
    };
    key(a).cmp(&key(b))
}

impl RunQueue {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        RunQueue::default()
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The runs in the order of the heap's array (Java's iteration order).
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Run> {
        self.heap.iter()
    }

    /// The first run, if any.
    pub(crate) fn peek(&self) -> Option<&Run> {
        self.heap.first()
    }

    /// Adds a run (Java's `offer`).
    pub(crate) fn add(&mut self, run: Run) {
        self.heap.push(run);
        let last = self.heap.len() - 1;
        self.sift_up(last);
    }

    /// Takes the first run (Java's `poll`).
    pub(crate) fn poll(&mut self) -> Option<Run> {
        if self.heap.is_empty() {
            return None;
        }
        let last = self.heap.pop().expect("not empty");
        if self.heap.is_empty() {
            return Some(last);
        }
        let first = std::mem::replace(&mut self.heap[0], last);
        let n = self.heap.len();
        self.sift_down(0, n);
        Some(first)
    }

    /// Removes every run equal to one of `runs` (Java's `removeAll`: the survivors keep
    /// their order, then the array is heapified again).
    pub(crate) fn remove_all(&mut self, runs: &[Run]) {
        if !self.heap.iter().any(|r| runs.contains(r)) {
            // Nothing to remove: Java leaves the array as it is.
            return;
        }
        self.heap.retain(|r| !runs.contains(r));
        let n = self.heap.len();
        for i in (0..n / 2).rev() {
            self.sift_down(i, n);
        }
    }

    fn sift_up(&mut self, mut k: usize) {
        while k > 0 {
            let parent = (k - 1) / 2;
            if compare(&self.heap[k], &self.heap[parent]) != Ordering::Less {
                break;
            }
            self.heap.swap(k, parent);
            k = parent;
        }
    }

    fn sift_down(&mut self, mut k: usize, n: usize) {
        let half = n / 2;
        while k < half {
            let mut child = 2 * k + 1;
            let right = child + 1;
            if right < n && compare(&self.heap[child], &self.heap[right]) == Ordering::Greater {
                child = right;
            }
            if compare(&self.heap[k], &self.heap[child]) != Ordering::Greater {
                break;
            }
            self.heap.swap(k, child);
            k = child;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cep::buffer::EventId;
    use crate::cep::dewey::Dewey;

    fn run(ts: i64, state: u32) -> Run {
        Run {
            state,
            previous: None,
            version: Dewey::new(1),
            start_ts: ts,
            previous_ts: ts,
            start_event: Some(EventId { ts, seq: 0 }),
        }
    }

    fn states(q: &RunQueue) -> Vec<u32> {
        q.iter().map(|r| r.state).collect()
    }

    /// The arrays below are those `java.util.PriorityQueue` holds after the same calls.
    #[test]
    fn moves_elements_as_java_does() {
        let mut q = RunQueue::new();
        for (i, ts) in [5, 3, 8, 1, 3, 9, 2].into_iter().enumerate() {
            q.add(run(ts, i as u32));
        }
        // [1, 3, 2, 5, 3, 9, 8] by timestamp.
        assert_eq!(states(&q), vec![3, 1, 6, 0, 4, 5, 2]);
        assert_eq!(q.poll().unwrap().state, 3);
        // Java: [2, 3, 8, 5, 3, 9].
        assert_eq!(states(&q), vec![6, 1, 2, 0, 4, 5]);
        let gone = [run(3, 1)];
        q.remove_all(&gone);
        // Survivors [2, 8, 5, 3, 9] heapified: [2, 3, 5, 8, 9].
        assert_eq!(states(&q), vec![6, 4, 0, 2, 5]);
        // Equal keys keep their insertion order through sift-up.
        let mut q = RunQueue::new();
        q.add(run(1, 10));
        q.add(run(1, 11));
        q.add(run(1, 12));
        assert_eq!(states(&q), vec![10, 11, 12]);
        assert_eq!(q.poll().unwrap().state, 10);
        assert_eq!(states(&q), vec![12, 11]);
    }
}
