//! Dotted version vectors keep exactly the concurrent writes.
//!
//! Random executions of clients reading and writing one key at random replicas, with
//! anti-entropy between replicas. An independent oracle tracks, for every write, the writes in
//! its causal past (what its client had read, and their pasts), and for every replica the
//! writes it has received. The siblings a replica should hold are the received writes that no
//! received write has in its past (Almeida et al. 2014, section 2: the writes to keep are the
//! maximal ones under causality). Both the per-value form and DVVSet must hold exactly those.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_clock::{DvvSet, DvvSiblings, VectorClock};
use proptest::prelude::*;

const REPLICAS: usize = 3;
const CLIENTS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Read { client: usize, replica: usize },
    Write { client: usize, replica: usize },
    BlindWrite { replica: usize },
    Sync { from: usize, to: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..CLIENTS, 0..REPLICAS).prop_map(|(client, replica)| Op::Read { client, replica }),
        (0..CLIENTS, 0..REPLICAS).prop_map(|(client, replica)| Op::Write { client, replica }),
        (0..REPLICAS).prop_map(|replica| Op::BlindWrite { replica }),
        (0..REPLICAS, 0..REPLICAS).prop_map(|(from, to)| Op::Sync { from, to }),
    ]
}

#[derive(Clone, Default)]
struct ClientContext {
    dvv: VectorClock<usize>,
    dvvset: VectorClock<usize>,
    read: BTreeSet<u32>,
}

struct World {
    dvv: Vec<DvvSiblings<u32, usize>>,
    dvvset: Vec<DvvSet<u32, usize>>,
    received: Vec<BTreeSet<u32>>,
    past: BTreeMap<u32, BTreeSet<u32>>,
    clients: Vec<ClientContext>,
    next_write: u32,
}

impl World {
    fn new() -> Self {
        Self {
            dvv: vec![DvvSiblings::new(); REPLICAS],
            dvvset: vec![DvvSet::new(); REPLICAS],
            received: vec![BTreeSet::new(); REPLICAS],
            past: BTreeMap::new(),
            clients: vec![ClientContext::default(); CLIENTS],
            next_write: 0,
        }
    }

    fn write(&mut self, context: ClientContext, replica: usize) {
        let write = self.next_write;
        self.next_write += 1;
        let mut past = BTreeSet::new();
        for &seen in &context.read {
            past.insert(seen);
            past.extend(self.past[&seen].iter().copied());
        }
        self.past.insert(write, past);
        self.received[replica].insert(write);
        self.dvv[replica].update(&context.dvv, &replica, write);
        self.dvvset[replica].update(&context.dvvset, &replica, write);
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Read { client, replica } => {
                self.clients[client] = ClientContext {
                    dvv: self.dvv[replica].join(),
                    dvvset: self.dvvset[replica].join(),
                    read: self.received[replica].clone(),
                };
            }
            Op::Write { client, replica } => self.write(self.clients[client].clone(), replica),
            Op::BlindWrite { replica } => self.write(ClientContext::default(), replica),
            Op::Sync { from, to } => {
                let dvv = self.dvv[from].clone();
                self.dvv[to].sync(&dvv);
                let dvvset = self.dvvset[from].clone();
                self.dvvset[to].sync(&dvvset);
                let received = self.received[from].clone();
                self.received[to].extend(received);
            }
        }
    }

    fn expected_siblings(&self, replica: usize) -> Vec<u32> {
        let received = &self.received[replica];
        received
            .iter()
            .copied()
            .filter(|write| {
                !received
                    .iter()
                    .any(|other| self.past[other].contains(write))
            })
            .collect()
    }
}

fn sorted<'a>(values: impl Iterator<Item = &'a u32>) -> Vec<u32> {
    let mut values: Vec<u32> = values.copied().collect();
    values.sort();
    values
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn siblings_are_exactly_the_concurrent_writes(ops in proptest::collection::vec(op(), 1..60)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op);
            for replica in 0..REPLICAS {
                let expected = world.expected_siblings(replica);
                prop_assert_eq!(&sorted(world.dvv[replica].values()), &expected, "DVV at {}", replica);
                prop_assert_eq!(&sorted(world.dvvset[replica].values()), &expected, "DVVSet at {}", replica);
                // DVVSet keeps one entry per replica, whatever the number of clients.
                prop_assert!(world.dvvset[replica].replica_count() <= REPLICAS);
            }
        }
    }

    #[test]
    fn sync_is_commutative_associative_and_idempotent(ops in proptest::collection::vec(op(), 1..60)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op);
        }
        let [a, b, c] = [&world.dvvset[0], &world.dvvset[1], &world.dvvset[2]];
        let join = |x: &DvvSet<u32, usize>, y: &DvvSet<u32, usize>| {
            let mut joined = x.clone();
            joined.sync(y);
            joined
        };
        prop_assert_eq!(join(a, b), join(b, a));
        prop_assert_eq!(join(&join(a, b), c), join(a, &join(b, c)));
        prop_assert_eq!(join(a, a), a.clone());
        prop_assert!(a.le(&join(a, b)));
        let [x, y] = [&world.dvv[0], &world.dvv[1]];
        let mut xy = x.clone();
        xy.sync(y);
        let mut yx = y.clone();
        yx.sync(x);
        prop_assert_eq!(sorted(xy.values()), sorted(yx.values()));
        prop_assert_eq!(xy.join(), yx.join());
    }
}
