//! The deterministic simulator: SDK nodes in-process, on virtual time.
//!
//! The same [`Test`] core the process runner drives on the real clock is
//! driven here by a loop that jumps virtual time from one deadline to the
//! next. Nodes are [`NodeRuntime`]s built by a factory; every random choice
//! (latency, faults, the generator, each node's RNG) derives from the
//! run's seed, so a seed replays the run byte for byte. Crashes drop a
//! node's runtime and build a new one over the same [`MemoryStorage`];
//! pauses hold its deliveries; clock faults skew the time it is given.

use std::collections::VecDeque;

use lightcone_history::Op;
use lightcone_proto::Envelope;
use lightcone_rng::node_seed;
use lightcone_sdk::{MemoryStorage, NodeRuntime};

use lightcone_core::{ClockSkew, Effect, Test};

/// Builds node number `index` with RNG seed `seed` over `storage`.
pub type NodeFactory<'a> = dyn Fn(usize, u64, MemoryStorage) -> Box<dyn NodeRuntime> + 'a;

/// Most steps one virtual instant may take before the run is declared
/// livelocked (a node that keeps scheduling zero-delay work).
const STEPS_PER_INSTANT_MAX: u64 = 1_000_000;
/// Log lines kept per node; the rest are counted.
const LOG_LINES_MAX: usize = 100_000;

struct Slot {
    runtime: Option<Box<dyn NodeRuntime>>,
    storage: MemoryStorage,
    paused: bool,
    /// Deliveries held while paused.
    backlog: VecDeque<Envelope>,
    skew: ClockSkew,
    incarnation: u64,
    logs: Vec<String>,
    logs_dropped: u64,
}

/// What a simulation did besides the test's own history.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Loop iterations (deliveries, ticks and core steps).
    pub step_count: u64,
    /// Virtual nanoseconds simulated.
    pub virtual_ns: u64,
    /// Lines from nodes the core refused (unknown dest, wrong src).
    pub malformed: Vec<String>,
    /// Set when the run stopped because one instant never went quiet.
    pub livelock: Option<String>,
    /// How many times each node was started (1 + restarts).
    pub start_counts: Vec<u64>,
    /// The core's log lines (nemesis actions, phases, `--log-net-*`),
    /// stamped with virtual time; at most LOG_LINES_MAX are kept.
    pub log: Vec<String>,
    pub log_dropped: u64,
}

/// One simulated run.
pub struct Simulation<'a> {
    test: Test,
    slots: Vec<Slot>,
    factory: &'a NodeFactory<'a>,
    now: u64,
    stats: SimStats,
}

impl<'a> Simulation<'a> {
    pub fn new(test: Test, factory: &'a NodeFactory<'a>) -> Simulation<'a> {
        let seed = test.config().seed;
        let slots = (0..test.nodes().len())
            .map(|i| {
                let storage = MemoryStorage::new();
                Slot {
                    runtime: Some(factory(i, node_seed(seed, i, 0), storage.clone())),
                    storage,
                    paused: false,
                    backlog: VecDeque::new(),
                    skew: ClockSkew::default(),
                    incarnation: 0,
                    logs: Vec::new(),
                    logs_dropped: 0,
                }
            })
            .collect();
        Simulation {
            test,
            slots,
            factory,
            now: 0,
            stats: SimStats::default(),
        }
    }

    /// Runs to the end, calling `on_record` with every history op as it is
    /// recorded (to stream it to disk).
    pub fn run(mut self, on_record: &mut dyn FnMut(&Op)) -> (Test, SimStats, Vec<Vec<String>>) {
        self.test.start(0);
        loop {
            if let Err(why) = self.settle(on_record) {
                self.stats.livelock = Some(why);
                break;
            }
            if self.test.is_done() {
                break;
            }
            let Some(next) = self.next_deadline() else {
                break;
            };
            // Deadlines in a node's skewed time can round to the present;
            // time always moves on.
            self.now = next.max(self.now + 1);
        }
        self.stats.virtual_ns = self.now;
        self.stats.start_counts = self.slots.iter().map(|s| s.incarnation + 1).collect();
        let logs = self
            .slots
            .into_iter()
            .map(|mut s| {
                if s.logs_dropped > 0 {
                    s.logs
                        .push(format!("({} more log lines were not kept)", s.logs_dropped));
                }
                s.logs
            })
            .collect();
        (self.test, self.stats, logs)
    }

    /// Does everything due at `now` until nothing more is.
    fn settle(&mut self, on_record: &mut dyn FnMut(&Op)) -> Result<(), String> {
        let mut steps = 0;
        loop {
            steps += 1;
            if steps > STEPS_PER_INSTANT_MAX {
                return Err(format!(
                    "virtual time {} ns did not go quiet after {STEPS_PER_INSTANT_MAX} steps: a node keeps scheduling work for the same instant",
                    self.now
                ));
            }
            self.test.tick(self.now);
            let mut busy = self.apply_effects(on_record);
            for i in 0..self.slots.len() {
                busy |= self.tick_node(i);
            }
            self.stats.step_count += 1;
            if !busy {
                return Ok(());
            }
        }
    }

    fn local_now(&self, i: usize) -> u64 {
        self.slots[i].skew.local(self.now)
    }

    /// Fires node `i`'s due timers and routes what it sent. Says whether
    /// anything happened.
    fn tick_node(&mut self, i: usize) -> bool {
        let local = self.local_now(i);
        let slot = &mut self.slots[i];
        if slot.paused {
            return false;
        }
        let Some(rt) = slot.runtime.as_mut() else {
            return false;
        };
        if rt.next_deadline().is_some_and(|d| d <= local) {
            rt.tick(local);
        }
        self.route(i)
    }

    /// Hands node `i`'s outbox to the core and keeps its log lines.
    fn route(&mut self, i: usize) -> bool {
        let slot = &mut self.slots[i];
        let Some(rt) = slot.runtime.as_mut() else {
            return false;
        };
        let outbox = rt.take_outbox();
        for line in rt.take_logs() {
            if slot.logs.len() < LOG_LINES_MAX {
                slot.logs.push(format!("{} {line}", self.now));
            } else {
                slot.logs_dropped += 1;
            }
        }
        let busy = !outbox.is_empty();
        for msg in outbox {
            if let Err(e) = self.test.receive(self.now, i, msg) {
                self.stats.malformed.push(format!(
                    "node {} sent a message the network refused: {e}",
                    self.test.nodes()[i]
                ));
            }
        }
        busy
    }

    fn apply_effects(&mut self, on_record: &mut dyn FnMut(&Op)) -> bool {
        let effects = self.test.take_effects();
        let busy = !effects.is_empty();
        for effect in effects {
            match effect {
                Effect::Deliver { node, msg, .. } => self.deliver(node, msg),
                Effect::Record(index) => on_record(&self.test.history().ops[index]),
                Effect::Log(line) => {
                    if self.stats.log.len() < LOG_LINES_MAX {
                        self.stats.log.push(format!("{} {line}", self.now));
                    } else {
                        self.stats.log_dropped += 1;
                    }
                }
                Effect::Crash { node } => {
                    let slot = &mut self.slots[node];
                    slot.runtime = None;
                    slot.backlog.clear();
                    slot.paused = false;
                }
                Effect::Restart { node } => {
                    let seed = self.test.config().seed;
                    let slot = &mut self.slots[node];
                    slot.incarnation += 1;
                    slot.runtime = Some((self.factory)(
                        node,
                        node_seed(seed, node, slot.incarnation),
                        slot.storage.clone(),
                    ));
                }
                Effect::Pause { node } => self.slots[node].paused = true,
                Effect::Resume { node } => {
                    self.slots[node].paused = false;
                    let held: Vec<Envelope> = self.slots[node].backlog.drain(..).collect();
                    for msg in held {
                        self.deliver(node, msg);
                    }
                }
                Effect::Clock { node, skew } => self.slots[node].skew = skew,
            }
        }
        busy
    }

    fn deliver(&mut self, node: usize, msg: Envelope) {
        let local = self.local_now(node);
        let slot = &mut self.slots[node];
        if slot.paused {
            slot.backlog.push_back(msg);
            return;
        }
        let Some(rt) = slot.runtime.as_mut() else {
            // A crashed node: the message is lost.
            return;
        };
        rt.receive(local, msg);
        self.route(node);
    }

    /// The next global time anything is due: the core's events or a live
    /// node's timers (converted from its skewed clock).
    fn next_deadline(&self) -> Option<u64> {
        let nodes = self.slots.iter().filter(|s| !s.paused).filter_map(|s| {
            let local = s.runtime.as_ref()?.next_deadline()?;
            Some(s.skew.global(local))
        });
        nodes.chain(self.test.next_deadline()).min()
    }
}
