//! The shared buffer: the events of all partial matches of a key, stored once.
//!
//! Each event a run takes becomes a node (the event under the name of the stage that
//! took it) with an edge back to the node of the run's previous event, labelled with the
//! run's [`Dewey`] version. Runs that share a prefix share its nodes, so a million partial
//! matches over the same events do not copy them; a match is read back by following,
//! from its last node, the edges its version is compatible with. Nodes, edges and events
//! are reference counted and dropped when no run needs them any more (as FlinkCEP's
//! `SharedBuffer` does).

use std::collections::HashMap;

use smallvec::SmallVec;

use serde::{Deserialize, Serialize};

use super::dewey::Dewey;
use crate::time::Timestamp;

/// An event of the buffer: its timestamp and its place among the key's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct EventId {
    /// The event's timestamp.
    pub ts: Timestamp,
    /// The order in which the key's events were handed to the matcher.
    pub seq: u64,
}

/// A node: an event taken by a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct NodeId {
    pub event: EventId,
    /// The stage, by its index in the pattern.
    pub stage: u16,
}

/// A reference count as FlinkCEP's `Lockable` keeps it.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Count(i32);

impl Count {
    fn lock(&mut self) {
        self.0 += 1;
    }

    /// Drops a reference; whether none is left.
    fn release(&mut self) -> bool {
        if self.0 <= 0 {
            return true;
        }
        self.0 -= 1;
        self.0 == 0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Edge {
    target: Option<NodeId>,
    version: Dewey,
    count: Count,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Node {
    count: Count,
    edges: Vec<Edge>,
}

/// One path through the buffer: per stage, in the order the stages were first reached,
/// the events it took.
pub(crate) type Path = Vec<(u16, Vec<EventId>)>;

/// The events and nodes of one key's partial matches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SharedBuffer<T> {
    events: HashMap<EventId, (T, Count), ahash::RandomState>,
    nodes: HashMap<NodeId, Node, ahash::RandomState>,
}

impl<T> Default for SharedBuffer<T> {
    fn default() -> Self {
        SharedBuffer {
            events: HashMap::default(),
            nodes: HashMap::default(),
        }
    }
}

impl<T: Clone> SharedBuffer<T> {
    /// Whether the buffer holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.nodes.is_empty()
    }

    /// The number of events held.
    #[cfg(test)]
    pub(crate) fn events(&self) -> usize {
        self.events.len()
    }

    /// Stores an event, locked once for the time it is being matched.
    pub(crate) fn register_event(&mut self, event: T, id: EventId) {
        self.events.insert(id, (event, Count(1)));
    }

    /// The event `id`.
    pub(crate) fn event(&self, id: &EventId) -> Option<&T> {
        self.events.get(id).map(|(e, _)| e)
    }

    /// Records that `stage` took event `event` after the node `previous`, for runs of
    /// `version`; returns the new (or existing) node.
    pub(crate) fn put(
        &mut self,
        stage: u16,
        event: EventId,
        previous: Option<NodeId>,
        version: &Dewey,
    ) -> NodeId {
        if let Some(previous) = previous {
            self.lock_node(previous, version);
        }
        let id = NodeId { event, stage };
        let events = &mut self.events;
        let node = self.nodes.entry(id).or_insert_with(|| {
            if let Some((_, count)) = events.get_mut(&event) {
                count.lock();
            }
            Node::default()
        });
        node.edges.push(Edge {
            target: previous,
            version: version.clone(),
            count: Count::default(),
        });
        id
    }

    /// Locks a node and its edges that runs of `version` follow.
    pub(crate) fn lock_node(&mut self, node: NodeId, version: &Dewey) {
        if let Some(node) = self.nodes.get_mut(&node) {
            node.count.lock();
            for edge in &mut node.edges {
                if version.is_compatible_with(&edge.version) {
                    edge.count.lock();
                }
            }
        }
    }

    /// Releases what a run of `version` ending at `node` held, dropping the nodes, edges
    /// and events nothing else needs.
    pub(crate) fn release_node(&mut self, node: Option<NodeId>, version: &Dewey) {
        let Some(node) = node else { return };
        let mut pending = vec![(node, version.clone())];
        while let Some((id, version)) = pending.pop() {
            let Some(node) = self.nodes.get_mut(&id) else {
                // FlinkCEP stops the whole release here.
                break;
            };
            node.edges.retain_mut(|edge| {
                if version.is_compatible_with(&edge.version) && edge.count.release() {
                    if let Some(target) = edge.target {
                        pending.push((target, edge.version.clone()));
                    }
                    false
                } else {
                    true
                }
            });
            if node.count.release() {
                self.nodes.remove(&id);
                self.release_event(id.event);
            }
        }
    }

    /// Drops a reference to an event, and the event once none is left.
    pub(crate) fn release_event(&mut self, id: EventId) {
        if let Some((_, count)) = self.events.get_mut(&id) {
            if count.release() {
                self.events.remove(&id);
            }
        }
    }

    /// Every path from `node` back to the start of a match that runs of `version` follow
    /// (FlinkCEP's `extractPatterns`, in its order).
    pub(crate) fn extract(&self, node: NodeId, version: &Dewey) -> Vec<Path> {
        let mut paths = Vec::new();
        if !self.nodes.contains_key(&node) {
            return paths;
        }
        // Depth first; each state holds the nodes from `node` back to where it stands.
        let mut stack: Vec<(Option<NodeId>, Dewey, Vec<NodeId>)> =
            vec![(Some(node), version.clone(), Vec::new())];
        while let Some((at, version, mut path)) = stack.pop() {
            let Some(at) = at else {
                paths.push(group_by_stage(path.iter().rev()));
                continue;
            };
            path.push(at);
            let Some(entry) = self.nodes.get(&at) else {
                continue;
            };
            let compatible: Vec<&Edge> = entry
                .edges
                .iter()
                .filter(|e| version.is_compatible_with(&e.version))
                .collect();
            for edge in compatible {
                stack.push((edge.target, edge.version.clone(), path.clone()));
            }
        }
        paths
    }

    /// The first path [`SharedBuffer::extract`] finds, without the search when the
    /// run's edges form one chain (the usual case).
    pub(crate) fn extract_first(&self, node: NodeId, version: &Dewey) -> Option<Path> {
        let mut chain: SmallVec<[NodeId; 16]> = SmallVec::new();
        let (mut at, mut at_version) = (node, version);
        loop {
            let Some(entry) = self.nodes.get(&at) else {
                return self.extract(node, version).into_iter().next();
            };
            chain.push(at);
            // The search follows the last compatible edge first.
            let Some(edge) = entry
                .edges
                .iter()
                .rev()
                .find(|e| at_version.is_compatible_with(&e.version))
            else {
                return self.extract(node, version).into_iter().next();
            };
            match edge.target {
                Some(target) => (at, at_version) = (target, &edge.version),
                None => break,
            }
        }
        Some(group_by_stage(chain.iter().rev()))
    }

    /// The events of a path, by stage.
    pub(crate) fn materialize(&self, path: &Path) -> Vec<(u16, Vec<T>)> {
        path.iter()
            .map(|(stage, ids)| {
                let events = ids
                    .iter()
                    .filter_map(|id| self.event(id).cloned())
                    .collect();
                (*stage, events)
            })
            .collect()
    }
}

/// The events of nodes in match order, grouped by stage in the order stages first appear.
fn group_by_stage<'a>(nodes: impl Iterator<Item = &'a NodeId>) -> Path {
    let mut path: Path = Vec::new();
    for n in nodes {
        match path.iter_mut().find(|(s, _)| *s == n.stage) {
            Some((_, events)) => events.push(n.event),
            None => path.push((n.stage, vec![n.event])),
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(seq: u64) -> EventId {
        EventId {
            ts: seq as i64,
            seq,
        }
    }

    /// Two runs share the node of their first event; each reads back its own path, and
    /// releasing both frees everything.
    #[test]
    fn runs_share_a_prefix_and_release_it() {
        let mut b = SharedBuffer::<&str>::default();
        let v1 = Dewey::new(1);
        b.register_event("a", id(0));
        let a = b.put(0, id(0), None, &v1);
        let v10 = v1.add_stage();
        b.lock_node(a, &v10);
        b.release_event(id(0));
        b.register_event("b", id(1));
        let (v100, v110) = (v10.add_stage(), v10.increase(1).add_stage());
        let b1 = b.put(1, id(1), Some(a), &v10);
        b.lock_node(b1, &v100);
        b.register_event("c", id(2));
        let b2 = b.put(1, id(2), Some(a), &v10.increase(1));
        b.lock_node(b2, &v110);
        b.release_node(Some(a), &v10);
        b.release_event(id(1));
        b.release_event(id(2));
        let paths = b.extract(b2, &v110);
        assert_eq!(paths, vec![vec![(0, vec![id(0)]), (1, vec![id(2)])]]);
        assert_eq!(b.extract_first(b2, &v110).as_ref(), paths.first());
        assert_eq!(
            b.materialize(&paths[0]),
            vec![(0, vec!["a"]), (1, vec!["c"])]
        );
        assert_eq!(b.events(), 3);
        b.release_node(Some(b1), &v100);
        assert_eq!(b.events(), 2);
        b.release_node(Some(b2), &v110);
        assert!(b.is_empty());
    }
}
