//! A deterministic network simulation of whole Raft clusters.
//!
//! Three or five `RawNode`s talk through a simulated network that delays,
//! drops, duplicates and partitions messages, while nodes crash (keeping
//! only what their `MemoryStorage` persisted) and restart, compact their
//! logs, and serve proposals and ReadIndex reads. Everything is drawn from
//! one `ChaCha8Rng` seed, so a failing seed replays exactly:
//!
//! ```text
//! RAFT_SIM_SEED=<seed> cargo test -p lightcone-raft --test simulation
//! ```
//!
//! `RAFT_SIM_SEEDS=<count>` sweeps more seeds than the default 100.
//!
//! After every few ticks the run checks the Raft paper's safety properties
//! (Figure 3: election safety, log matching, leader completeness, state
//! machine safety) with `lightcone_raft::invariants`, and that every
//! ReadIndex answer covers every entry committed before the read began.
//! At the end it heals the network, restarts everyone, and checks liveness:
//! a new proposal commits on every node.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_raft::invariants::{
    check_election_safety, check_leader_completeness, check_log_matching,
    check_state_machine_safety,
};
use lightcone_raft::{
    persist_ready, Config, Entry, MemoryStorage, Message, MessageBody, NodeId, RawNode, Role,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Virtual time units per tick; message delays are drawn in these units.
const TICK: u64 = 10;
const FAULT_TICKS: u64 = 300;
const HEAL_TICKS: u64 = 60;
const LIVENESS_TICKS: u64 = 100;

/// How hostile the network and the nemesis are, in parts per thousand per
/// message or per tick.
#[derive(Clone, Copy, Debug)]
struct Faults {
    drop_per_mille: u32,
    duplicate_per_mille: u32,
    delay_max: u64,
    partition_per_mille: u32,
    heal_per_mille: u32,
    crash_per_mille: u32,
    restart_per_mille: u32,
}

const HOSTILE: Faults = Faults {
    drop_per_mille: 50,
    duplicate_per_mille: 30,
    delay_max: 2 * TICK,
    partition_per_mille: 20,
    heal_per_mille: 60,
    crash_per_mille: 10,
    restart_per_mille: 60,
};

const CALM: Faults = Faults {
    drop_per_mille: 0,
    duplicate_per_mille: 0,
    delay_max: TICK / 2,
    partition_per_mille: 0,
    heal_per_mille: 1000,
    crash_per_mille: 0,
    restart_per_mille: 1000,
};

/// What the run observed, for the invariant checks.
#[derive(Default)]
struct Observations {
    leaders: BTreeSet<(u64, NodeId)>,
    /// Every entry each node applied, across restarts (a restarted node
    /// applies again from its snapshot and must apply the same entries).
    applied: BTreeMap<NodeId, Vec<Entry>>,
    /// Committed entries by index, with the lowest term of a node that
    /// applied it (an upper bound on the term it was committed in).
    committed: BTreeMap<u64, (u64, Entry)>,
    /// The highest commit index any node ever had.
    commit_max: u64,
    /// Read contexts with `commit_max` when the read was issued.
    reads: BTreeMap<Vec<u8>, u64>,
    stale_reads: Vec<String>,
    stats: Stats,
}

/// How much a run exercised, so a sweep can show it tested something.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    crashes: u64,
    partitions: u64,
    snapshots_sent: u64,
    reads_answered: u64,
    commit_max: u64,
}

impl Stats {
    fn add(&mut self, other: Stats) {
        self.crashes += other.crashes;
        self.partitions += other.partitions;
        self.snapshots_sent += other.snapshots_sent;
        self.reads_answered += other.reads_answered;
        self.commit_max += other.commit_max;
    }
}

struct Simulation {
    seed: u64,
    rng: ChaCha8Rng,
    ids: Vec<NodeId>,
    configure: fn(&mut Config),
    live: BTreeMap<NodeId, RawNode<MemoryStorage>>,
    crashed: BTreeMap<NodeId, MemoryStorage>,
    /// Messages by (delivery time, sequence number).
    in_flight: BTreeMap<(u64, u64), Message>,
    sequence: u64,
    now: u64,
    /// While partitioned, nodes in `side` reach only each other.
    side: Option<BTreeSet<NodeId>>,
    faults: Faults,
    observed: Observations,
    next_value: u64,
}

impl Simulation {
    fn new(seed: u64, size: u64, configure: fn(&mut Config)) -> Simulation {
        let ids: Vec<NodeId> = (1..=size).collect();
        let mut simulation = Simulation {
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            ids: ids.clone(),
            configure,
            live: BTreeMap::new(),
            crashed: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            sequence: 0,
            now: 0,
            side: None,
            faults: HOSTILE,
            observed: Observations::default(),
            next_value: 0,
        };
        for id in ids {
            simulation.start(id, MemoryStorage::new());
        }
        simulation
    }

    fn start(&mut self, id: NodeId, storage: MemoryStorage) {
        let mut config = Config::new(id, self.ids.clone());
        config.seed = self.seed.wrapping_mul(1_000_003).wrapping_add(id);
        (self.configure)(&mut config);
        let node = RawNode::new(config, storage).expect("valid config");
        self.live.insert(id, node);
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        self.rng.gen_range(0..1000) < per_mille
    }

    fn pick(&mut self, ids: &[NodeId]) -> Option<NodeId> {
        (!ids.is_empty()).then(|| ids[self.rng.gen_range(0..ids.len())])
    }

    fn connected(&self, from: NodeId, to: NodeId) -> bool {
        match &self.side {
            Some(side) => side.contains(&from) == side.contains(&to),
            None => true,
        }
    }

    fn send(&mut self, msg: Message) {
        if matches!(msg.body, MessageBody::InstallSnapshot { .. }) {
            self.observed.stats.snapshots_sent += 1;
        }
        if self.chance(self.faults.drop_per_mille) {
            return;
        }
        let copies = if self.chance(self.faults.duplicate_per_mille) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self.rng.gen_range(1..=self.faults.delay_max);
            self.sequence += 1;
            self.in_flight
                .insert((self.now + delay, self.sequence), msg.clone());
        }
    }

    /// Handles node `id`'s `Ready`s as a host would.
    fn process(&mut self, id: NodeId) {
        loop {
            let Some(node) = self.live.get_mut(&id) else {
                return;
            };
            if !node.has_ready() {
                break;
            }
            let ready = node.ready();
            persist_ready(node.storage_mut(), &ready).expect("memory storage accepts");
            let term = node.term();
            let commit = node.status().hard_state.commit;
            for entry in &ready.committed_entries {
                self.observe_applied(id, term, entry);
            }
            for read in &ready.read_states {
                self.observe_read(id, &read.ctx, read.index);
            }
            for msg in ready.messages.clone() {
                self.send(msg);
            }
            self.observed.commit_max = self.observed.commit_max.max(commit);
            self.live.get_mut(&id).expect("still live").advance(ready);
        }
        let node = &self.live[&id];
        if node.role() == Role::Leader {
            self.observed.leaders.insert((node.term(), id));
        }
    }

    fn observe_applied(&mut self, id: NodeId, term: u64, entry: &Entry) {
        self.observed
            .applied
            .entry(id)
            .or_default()
            .push(entry.clone());
        let known = self
            .observed
            .committed
            .entry(entry.index)
            .or_insert((term, entry.clone()));
        known.0 = known.0.min(term);
    }

    /// ReadIndex must cover every entry committed before the read began.
    fn observe_read(&mut self, id: NodeId, ctx: &[u8], index: u64) {
        let Some(commit_at_issue) = self.observed.reads.get(ctx) else {
            return;
        };
        self.observed.stats.reads_answered += 1;
        if index < *commit_at_issue {
            let read = String::from_utf8_lossy(ctx).into_owned();
            self.observed.stale_reads.push(format!(
                "node {id} read {read} at index {index}, but {commit_at_issue} was committed before it began"
            ));
        }
    }

    fn inject_faults(&mut self) {
        if self.side.is_some() && self.chance(self.faults.heal_per_mille) {
            self.side = None;
        } else if self.side.is_none() && self.chance(self.faults.partition_per_mille) {
            let side: BTreeSet<NodeId> = self
                .ids
                .clone()
                .into_iter()
                .filter(|_| self.rng.gen_bool(0.5))
                .collect();
            self.side = Some(side);
            self.observed.stats.partitions += 1;
        }
        if self.chance(self.faults.crash_per_mille) {
            let live: Vec<NodeId> = self.live.keys().copied().collect();
            if let Some(id) = self.pick(&live) {
                // Only what was persisted survives the crash.
                let node = self.live.remove(&id).expect("live");
                self.crashed.insert(id, node.storage().clone());
                self.observed.stats.crashes += 1;
            }
        }
        let crashed: Vec<NodeId> = self.crashed.keys().copied().collect();
        for id in crashed {
            if self.chance(self.faults.restart_per_mille) {
                let storage = self.crashed.remove(&id).expect("crashed");
                self.start(id, storage);
            }
        }
    }

    /// Clients propose, read, and hosts compact now and then.
    fn client_ops(&mut self) {
        let live: Vec<NodeId> = self.live.keys().copied().collect();
        let Some(id) = self.pick(&live) else {
            return;
        };
        if self.chance(300) {
            self.next_value += 1;
            let data = format!("v{}", self.next_value).into_bytes();
            let _ = self.live.get_mut(&id).expect("live").propose(data);
        }
        if self.chance(150) {
            self.next_value += 1;
            let ctx = format!("r{}", self.next_value).into_bytes();
            self.observed
                .reads
                .insert(ctx.clone(), self.observed.commit_max);
            let _ = self.live.get_mut(&id).expect("live").read_index(ctx);
        }
        if self.chance(20) {
            let node = self.live.get_mut(&id).expect("live");
            let status = node.status();
            if status.applied > status.first_index + 4 {
                let data = format!("state@{}", status.applied).into_bytes();
                node.compact(status.applied, data)
                    .expect("applied index compacts");
            }
        }
    }

    fn run_tick(&mut self) {
        self.now += TICK;
        if self.faults.partition_per_mille > 0 || self.faults.crash_per_mille > 0 {
            self.inject_faults();
        }
        let live: Vec<NodeId> = self.live.keys().copied().collect();
        for id in &live {
            self.live.get_mut(id).expect("live").tick();
        }
        self.client_ops();
        for id in live {
            self.process(id);
        }
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let msg = entry.remove();
            let to = msg.to;
            if !self.connected(msg.from, to) {
                continue;
            }
            if let Some(node) = self.live.get_mut(&to) {
                node.step(msg);
                self.process(to);
            }
        }
    }

    fn check_safety(&self) -> Result<(), String> {
        let context = |what: String| format!("seed {}: {what}", self.seed);
        check_election_safety(self.observed.leaders.iter().copied())
            .map_err(|v| context(v.to_string()))?;
        check_state_machine_safety(&self.observed.applied).map_err(|v| context(v.to_string()))?;
        let mut logs = BTreeMap::new();
        for (id, node) in &self.live {
            let status = node.status();
            let log = node
                .entries(status.first_index, status.last_index + 1)
                .expect("a node's own log is readable");
            logs.insert(*id, log);
        }
        check_log_matching(&logs).map_err(|v| context(v.to_string()))?;
        let committed: Vec<(u64, Entry)> = self.observed.committed.values().cloned().collect();
        for (id, node) in &self.live {
            if node.role() == Role::Leader {
                check_leader_completeness(*id, node.term(), &logs[id], &committed)
                    .map_err(|v| context(v.to_string()))?;
            }
        }
        match self.observed.stale_reads.first() {
            Some(stale) => Err(context(stale.clone())),
            None => Ok(()),
        }
    }

    /// Heals everything and checks that a fresh proposal commits everywhere.
    fn check_liveness(&mut self) -> Result<(), String> {
        self.faults = CALM;
        self.side = None;
        for (id, storage) in std::mem::take(&mut self.crashed) {
            self.start(id, storage);
        }
        for _ in 0..HEAL_TICKS {
            self.run_tick();
        }
        let marker = format!("marker-{}", self.seed).into_bytes();
        let mut proposed = false;
        for _ in 0..LIVENESS_TICKS {
            // A proposal can be lost with its leader; like a client, retry
            // until some node's log holds the marker.
            if !self.some_log_holds(&marker) {
                let leader = self
                    .live
                    .values_mut()
                    .find(|node| node.role() == Role::Leader);
                proposed |= leader.is_some_and(|node| node.propose(marker.clone()).is_ok());
            }
            self.run_tick();
            // Committed everywhere: every node applied past the marker,
            // by applying it or by installing a snapshot that covers it.
            let marker_index = self
                .observed
                .committed
                .values()
                .find(|(_, entry)| entry.data == marker)
                .map(|(_, entry)| entry.index);
            let applied_everywhere = marker_index.is_some_and(|index| {
                self.live.len() == self.ids.len()
                    && self
                        .live
                        .values()
                        .all(|node| node.status().applied >= index)
            });
            if applied_everywhere {
                return Ok(());
            }
        }
        let statuses: Vec<String> = self
            .live
            .values()
            .map(|node| format!("{:?}", node.status()))
            .collect();
        Err(format!(
            "seed {}: after healing, the marker did not commit on every node within {LIVENESS_TICKS} ticks (proposed: {proposed}); nodes: {statuses:#?}",
            self.seed
        ))
    }
}

impl Simulation {
    fn some_log_holds(&self, data: &[u8]) -> bool {
        self.live.values().any(|node| {
            let status = node.status();
            node.entries(status.first_index, status.last_index + 1)
                .is_ok_and(|entries| entries.iter().any(|entry| entry.data == data))
        })
    }
}

/// Runs one seed: hostile phase with periodic safety checks, then liveness.
fn run(seed: u64, size: u64, configure: fn(&mut Config)) -> Result<Stats, String> {
    let mut simulation = Simulation::new(seed, size, configure);
    for tick in 0..FAULT_TICKS {
        simulation.run_tick();
        if tick % 10 == 0 {
            simulation.check_safety()?;
        }
    }
    simulation.check_safety()?;
    // A safety violation explains a liveness failure, so report it first.
    let liveness = simulation.check_liveness();
    simulation.check_safety()?;
    liveness?;
    let mut stats = simulation.observed.stats;
    stats.commit_max = simulation.observed.commit_max;
    Ok(stats)
}

/// The seeds to sweep: `RAFT_SIM_SEED` replays one, `RAFT_SIM_SEEDS=n`
/// runs `0..n` (for longer runs than the default 100).
fn seeds() -> Vec<u64> {
    if let Ok(seed) = std::env::var("RAFT_SIM_SEED") {
        return vec![seed.parse().expect("RAFT_SIM_SEED is a u64")];
    }
    let count = std::env::var("RAFT_SIM_SEEDS")
        .map_or(100, |n| n.parse().expect("RAFT_SIM_SEEDS is a count"));
    (0..count).collect()
}

fn sweep(size: u64, configure: fn(&mut Config)) {
    let seeds = seeds();
    let mut total = Stats::default();
    for seed in &seeds {
        match run(*seed, size, configure) {
            Ok(stats) => total.add(stats),
            Err(failure) => panic!(
                "{failure}\nreplay: RAFT_SIM_SEED={seed} cargo test -p lightcone-raft --test simulation"
            ),
        }
    }
    println!("{} seeds, {size} nodes: {total:?}", seeds.len());
    // The sweep must have exercised the hard paths, or passing means little.
    if seeds.len() >= 100 {
        assert!(total.crashes > 50 && total.partitions > 50, "{total:?}");
        assert!(
            total.snapshots_sent > 0 && total.reads_answered > 100,
            "{total:?}"
        );
        assert!(total.commit_max > 1000, "{total:?}");
    }
}

#[test]
fn three_nodes_stay_safe_and_live_under_faults() {
    sweep(3, |_| {});
}

#[test]
fn five_nodes_stay_safe_and_live_under_faults() {
    sweep(5, |_| {});
}

#[test]
fn five_nodes_without_pre_vote_or_check_quorum() {
    sweep(5, |config| {
        config.pre_vote = false;
        config.check_quorum = false;
    });
}

#[test]
fn three_nodes_with_lease_reads() {
    sweep(3, |config| config.lease_reads = true);
}

/// The checker must be able to fail: with `unsafe_local_reads`, some seed
/// serves a stale read.
#[test]
fn unsafe_local_reads_are_caught_as_stale() {
    let caught = (0..100).any(|seed| {
        run(seed, 3, |config| config.unsafe_local_reads = true)
            .is_err_and(|failure| failure.contains("read"))
    });
    assert!(caught, "no seed exposed a stale local read");
}
