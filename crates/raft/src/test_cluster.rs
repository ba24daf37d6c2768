//! A tiny, fully controlled cluster for the unit tests: messages wait in
//! one queue until the test delivers them, links can be cut, and every
//! `Ready` is persisted to the node's storage (a `MemoryStorage` unless a
//! test brings its own) and applied at once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::Config;
use crate::message::{Entry, HardState, Message, NodeId, ReadState, Role};
use crate::raw_node::{persist_ready, RawNode};
use crate::storage::{MemoryStorage, Storage};

pub(crate) struct Cluster<S: Storage = MemoryStorage> {
    pub(crate) nodes: BTreeMap<NodeId, RawNode<S>>,
    /// Every entry each node applied, in order (no-ops included).
    pub(crate) applied: BTreeMap<NodeId, Vec<Entry>>,
    pub(crate) read_states: BTreeMap<NodeId, Vec<ReadState>>,
    /// Messages sent and not yet delivered.
    pub(crate) in_flight: VecDeque<Message>,
    /// Nodes cut off from everyone: their messages, both ways, are dropped.
    pub(crate) isolated: BTreeSet<NodeId>,
    /// Every message delivered, for tests that count them.
    pub(crate) delivered: Vec<Message>,
}

pub(crate) fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: format!("{index}@{term}").into_bytes(),
    }
}

impl Cluster {
    /// `size` fresh nodes with ids `1..=size`; `configure` adjusts each
    /// config (seeds differ per node by default).
    pub(crate) fn new(size: u64, configure: impl Fn(&mut Config)) -> Cluster {
        let storages = (1..=size).map(|id| (id, MemoryStorage::new())).collect();
        Cluster::with_storages(storages, configure)
    }

    /// Storages whose logs hold entries of the given terms (index i + 1 has
    /// `terms[i]`), at hard-state term `term`, commit `commit`.
    pub(crate) fn storages_with_logs(
        logs: &[&[u64]],
        term: u64,
        commit: u64,
    ) -> BTreeMap<NodeId, MemoryStorage> {
        logs.iter()
            .enumerate()
            .map(|(i, terms)| {
                let entries = terms
                    .iter()
                    .enumerate()
                    .map(|(j, t)| entry(j as u64 + 1, *t))
                    .collect();
                let hard_state = HardState {
                    term,
                    vote: 0,
                    commit: commit.min(terms.len() as u64),
                };
                (i as u64 + 1, MemoryStorage::with_log(hard_state, entries))
            })
            .collect()
    }
}

impl<S: Storage> Cluster<S> {
    /// Nodes that start from the given storages.
    pub(crate) fn with_storages(
        storages: BTreeMap<NodeId, S>,
        configure: impl Fn(&mut Config),
    ) -> Cluster<S> {
        let voters: Vec<NodeId> = storages.keys().copied().collect();
        let nodes = storages
            .into_iter()
            .map(|(id, storage)| {
                let mut config = Config::new(id, voters.clone());
                configure(&mut config);
                (id, RawNode::new(config, storage).expect("valid config"))
            })
            .collect();
        Cluster {
            nodes,
            applied: BTreeMap::new(),
            read_states: BTreeMap::new(),
            in_flight: VecDeque::new(),
            isolated: BTreeSet::new(),
            delivered: Vec::new(),
        }
    }

    pub(crate) fn node(&mut self, id: NodeId) -> &mut RawNode<S> {
        self.nodes.get_mut(&id).expect("node exists")
    }

    /// Handles every node's `Ready`: persist, queue messages, apply.
    pub(crate) fn process(&mut self) {
        for (id, node) in self.nodes.iter_mut() {
            while node.has_ready() {
                let ready = node.ready();
                persist_ready(node.storage_mut(), &ready).expect("the storage accepts a ready");
                self.in_flight.extend(ready.messages.iter().cloned());
                let applied = self.applied.entry(*id).or_default();
                applied.extend(ready.committed_entries.iter().cloned());
                let reads = self.read_states.entry(*id).or_default();
                reads.extend(ready.read_states.iter().cloned());
                node.advance(ready);
            }
        }
    }

    /// Delivers messages until none are left, letting `intercept` rewrite
    /// or drop (by returning false) each one.
    pub(crate) fn deliver_with(&mut self, mut intercept: impl FnMut(&mut Message) -> bool) {
        self.process();
        let mut steps = 0;
        while let Some(mut msg) = self.in_flight.pop_front() {
            steps += 1;
            if steps >= 100_000 {
                let tail: Vec<_> = self.delivered.iter().rev().take(6).collect();
                panic!("the cluster does not quiesce; last delivered: {tail:#?}");
            }
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

    /// The leaders among the nodes, as (term, id).
    pub(crate) fn leaders(&self) -> Vec<(u64, NodeId)> {
        self.nodes
            .values()
            .filter(|node| node.role() == Role::Leader)
            .map(|node| (node.term(), node.id()))
            .collect()
    }

    pub(crate) fn isolate(&mut self, id: NodeId) {
        self.isolated.insert(id);
    }

    pub(crate) fn heal(&mut self) {
        self.isolated.clear();
    }

    /// The non-no-op entries node `id` applied.
    pub(crate) fn applied_data(&self, id: NodeId) -> Vec<Vec<u8>> {
        self.applied
            .get(&id)
            .map(|entries| {
                entries
                    .iter()
                    .filter(|entry| !entry.is_noop())
                    .map(|entry| entry.data.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn commit(&self, id: NodeId) -> u64 {
        self.nodes[&id].raft().log.committed
    }
}
