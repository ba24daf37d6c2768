//! A small, fully controlled cluster for the unit tests: messages wait in
//! one queue until the test delivers them (in order, or shuffled, dropped
//! and duplicated by a seeded generator), links can be cut, nodes can crash
//! and restart from their storage, and every `Ready` is persisted and
//! applied at once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use lightcone_rng::Rng;

use crate::config::Config;
use crate::message::{Message, NodeId, Role, Value};
use crate::raw_node::{persist_ready, RawNode};
use crate::storage::MemoryStorage;

pub(crate) struct Cluster {
    pub(crate) nodes: BTreeMap<NodeId, RawNode<MemoryStorage>>,
    /// Every value each node applied, by slot (no-ops included). A restart
    /// applies from slot 1 again: the same value must come back.
    pub(crate) applied: BTreeMap<NodeId, BTreeMap<u64, Value>>,
    /// Messages sent and not yet delivered.
    pub(crate) in_flight: VecDeque<Message>,
    /// Nodes cut off from everyone: their messages, both ways, are dropped.
    pub(crate) isolated: BTreeSet<NodeId>,
    /// Every message delivered, for tests that count or inspect them.
    pub(crate) delivered: Vec<Message>,
    configure: fn(&mut Config),
    size: u64,
    /// Applied values that contradicted an earlier application.
    pub(crate) divergences: Vec<String>,
}

impl Cluster {
    pub(crate) fn new(size: u64, configure: fn(&mut Config)) -> Cluster {
        let mut cluster = Cluster {
            nodes: BTreeMap::new(),
            applied: BTreeMap::new(),
            in_flight: VecDeque::new(),
            isolated: BTreeSet::new(),
            delivered: Vec::new(),
            configure,
            size,
            divergences: Vec::new(),
        };
        for id in 1..=size {
            cluster.start(id, MemoryStorage::new());
        }
        cluster
    }

    fn start(&mut self, id: NodeId, storage: MemoryStorage) {
        let peers: Vec<NodeId> = (1..=self.size).collect();
        let mut config = Config::new(id, peers);
        config.seed = id * 7919;
        (self.configure)(&mut config);
        let node = RawNode::new(config, storage).expect("valid config");
        self.nodes.insert(id, node);
    }

    pub(crate) fn node(&mut self, id: NodeId) -> &mut RawNode<MemoryStorage> {
        self.nodes.get_mut(&id).expect("node exists")
    }

    /// Crashes node `id` and starts it again from what it persisted.
    pub(crate) fn restart(&mut self, id: NodeId) {
        let storage = self.nodes[&id].storage().clone();
        self.in_flight.retain(|m| m.to != id);
        self.start(id, storage);
        self.process();
    }

    /// Handles every node's `Ready`: persist, queue messages, apply.
    pub(crate) fn process(&mut self) {
        for (id, node) in self.nodes.iter_mut() {
            while node.has_ready() {
                let ready = node.ready();
                persist_ready(node.storage_mut(), &ready).expect("memory storage");
                self.in_flight.extend(ready.messages.iter().cloned());
                let applied = self.applied.entry(*id).or_default();
                for s in &ready.committed {
                    if let Some(before) = applied.insert(s.slot, s.value.clone()) {
                        if before != s.value {
                            self.divergences.push(format!(
                                "node {id} slot {}: {before:?} then {:?}",
                                s.slot, s.value
                            ));
                        }
                    }
                }
                node.advance(ready);
            }
        }
    }

    /// Delivers messages until none are left; `intercept` may rewrite or
    /// drop (by returning false) each one.
    pub(crate) fn deliver_with(&mut self, mut intercept: impl FnMut(&mut Message) -> bool) {
        self.process();
        let mut steps = 0;
        while let Some(mut msg) = self.in_flight.pop_front() {
            steps += 1;
            assert!(steps < 200_000, "the cluster does not quiesce");
            if self.isolated.contains(&msg.from) || self.isolated.contains(&msg.to) {
                continue;
            }
            if !intercept(&mut msg) {
                continue;
            }
            self.delivered.push(msg.clone());
            if let Some(node) = self.nodes.get_mut(&msg.to) {
                node.step(msg);
            }
            self.process();
        }
    }

    pub(crate) fn deliver(&mut self) {
        self.deliver_with(|_| true);
    }

    /// Delivers in a random order, dropping and duplicating messages with
    /// probabilities `drop` and `duplicate` in 100, until none are left.
    pub(crate) fn deliver_chaotic(&mut self, rng: &mut Rng, drop: u64, duplicate: u64) {
        self.process();
        let mut steps = 0;
        while !self.in_flight.is_empty() {
            steps += 1;
            assert!(steps < 200_000, "the cluster does not quiesce");
            let i = rng.below(self.in_flight.len() as u64) as usize;
            let msg = self.in_flight.remove(i).expect("in range");
            if self.isolated.contains(&msg.from) || self.isolated.contains(&msg.to) {
                continue;
            }
            if rng.below(100) < drop {
                continue;
            }
            if rng.below(100) < duplicate {
                self.in_flight.push_back(msg.clone());
            }
            self.delivered.push(msg.clone());
            if let Some(node) = self.nodes.get_mut(&msg.to) {
                node.step(msg);
            }
            self.process();
        }
    }

    /// Ticks every node `count` times, delivering after each round.
    pub(crate) fn tick(&mut self, count: u64) {
        for _ in 0..count {
            for node in self.nodes.values_mut() {
                node.tick();
            }
            self.deliver();
        }
    }

    pub(crate) fn campaign(&mut self, id: NodeId) {
        self.node(id).campaign();
        self.deliver();
    }

    /// The leaders, as (ballot round, id).
    pub(crate) fn leaders(&self) -> Vec<(u64, NodeId)> {
        self.nodes
            .values()
            .filter(|n| n.role() == Role::Leader)
            .map(|n| (n.ballot().round, n.id()))
            .collect()
    }

    pub(crate) fn isolate(&mut self, id: NodeId) {
        self.isolated.insert(id);
    }

    pub(crate) fn heal(&mut self) {
        self.isolated.clear();
    }

    /// The commands node `id` applied, in slot order.
    pub(crate) fn applied_data(&self, id: NodeId) -> Vec<Vec<u8>> {
        self.applied
            .get(&id)
            .map(|slots| {
                slots
                    .values()
                    .filter(|v| !v.is_noop())
                    .map(|v| v.data().to_vec())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Agreement: no two nodes applied different values at one slot.
    pub(crate) fn disagreements(&self) -> Vec<String> {
        let mut seen: BTreeMap<u64, (NodeId, &Value)> = BTreeMap::new();
        let mut out = self.divergences.clone();
        for (id, slots) in &self.applied {
            for (slot, value) in slots {
                match seen.get(slot) {
                    Some((other, v)) if *v != value => out.push(format!(
                        "slot {slot}: node {other} {v:?}, node {id} {value:?}"
                    )),
                    Some(_) => {}
                    None => {
                        seen.insert(*slot, (*id, value));
                    }
                }
            }
        }
        out
    }
}
