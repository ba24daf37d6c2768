//! The test core driven in-process with SDK nodes on virtual time: the
//! core's phases, clients, generator and nemesis, checked end to end with
//! no processes.

use lightcone_history::{OpType, Process};
use lightcone_nodes::{broadcast, echo, unique_ids};
use lightcone_sdk::{Envelope, Node, Runtime};
use lightcone_sim::{Effect, NemesisConfig, Test, TestConfig, Validity, NANOS_PER_SEC};

trait AnyNode {
    fn receive(&mut self, now: u64, msg: Envelope);
    fn tick(&mut self, now: u64);
    fn next_deadline(&self) -> Option<u64>;
    fn take_outbox(&mut self) -> Vec<Envelope>;
}

impl<N: Node> AnyNode for Runtime<N> {
    fn receive(&mut self, now: u64, msg: Envelope) {
        Runtime::receive(self, now, msg)
    }
    fn tick(&mut self, now: u64) {
        Runtime::tick(self, now)
    }
    fn next_deadline(&self) -> Option<u64> {
        Runtime::next_deadline(self)
    }
    fn take_outbox(&mut self) -> Vec<Envelope> {
        Runtime::take_outbox(self)
    }
}

/// Runs `test` to the end with `nodes`, jumping virtual time from deadline
/// to deadline.
fn run(mut test: Test, mut nodes: Vec<Box<dyn AnyNode>>) -> Test {
    let mut now = 0;
    test.start(now);
    for _ in 0..10_000_000 {
        let mut quiet = false;
        while !quiet {
            quiet = true;
            for effect in test.take_effects() {
                if let Effect::Deliver { node, msg } = effect {
                    nodes[node].receive(now, msg);
                }
            }
            for (i, node) in nodes.iter_mut().enumerate() {
                node.tick(now);
                for msg in node.take_outbox() {
                    quiet = false;
                    test.receive(now, i, msg)
                        .expect("reference nodes route correctly");
                }
            }
            test.tick(now);
        }
        if test.is_done() {
            return test;
        }
        let next = nodes
            .iter()
            .filter_map(|n| n.next_deadline())
            .chain(test.next_deadline())
            .min()
            .expect("something is always scheduled until the test is done");
        now = next.max(now);
    }
    panic!("the test did not finish");
}

fn config(workload: &str, node_count: usize) -> TestConfig {
    TestConfig {
        workload: workload.into(),
        node_count,
        concurrency: node_count,
        rate: 50.0,
        time_limit_ns: 5 * NANOS_PER_SEC,
        latency_ms: 10,
        seed: 42,
        ..TestConfig::default()
    }
}

fn runtimes<N: Node>(n: usize, make: impl Fn() -> N) -> Vec<Box<dyn AnyNode>> {
    (0..n)
        .map(|i| Box::new(Runtime::new(make(), i as u64)) as Box<dyn AnyNode>)
        .collect()
}

#[test]
fn echo_runs_and_checks_valid() {
    let test = run(
        Test::new(config("echo", 2)).unwrap(),
        runtimes(2, || echo::Echo),
    );
    let checked = test.check();
    assert_eq!(checked.valid, Validity::Valid, "{:?}", checked.problems);
    let oks = test
        .history()
        .iter()
        .filter(|o| o.kind == OpType::Ok)
        .count();
    assert!(
        oks > 100,
        "about 250 ops expected at rate 50 for 5 s, got {oks}"
    );
    assert_eq!(test.node_info()["n0"]["sdk"], lightcone_sdk::SDK_NAME);
}

#[test]
fn unique_ids_valid_under_partitions() {
    let mut c = config("unique-ids", 3);
    c.nemesis = NemesisConfig {
        partition: true,
        interval_ns: NANOS_PER_SEC,
    };
    let test = run(
        Test::new(c).unwrap(),
        runtimes(3, unique_ids::UniqueIds::default),
    );
    assert_eq!(test.check().valid, Validity::Valid);
    let nemesis_ops = test
        .history()
        .iter()
        .filter(|o| o.process == Process::Nemesis)
        .count();
    assert!(nemesis_ops >= 4, "the nemesis partitioned and healed");
}

#[test]
fn broadcast_converges_after_partitions() {
    let mut c = config("broadcast", 5);
    c.nemesis = NemesisConfig {
        partition: true,
        interval_ns: NANOS_PER_SEC,
    };
    c.recovery_ns = 3 * NANOS_PER_SEC;
    let test = run(
        Test::new(c).unwrap(),
        runtimes(5, || {
            broadcast::Broadcast::new(broadcast::Options::default())
        }),
    );
    let checked = test.check();
    assert_eq!(checked.valid, Validity::Valid, "{:?}", checked.problems);
    let finals = test
        .history()
        .iter()
        .filter(|o| o.is_final && o.kind == OpType::Ok)
        .count();
    assert_eq!(finals, 5, "one final read per client");
    assert!(
        test.net_stats().dropped_count > 0,
        "partitions dropped messages"
    );
}

#[test]
fn same_seed_same_history() {
    let a = run(
        Test::new(config("broadcast", 3)).unwrap(),
        runtimes(3, || broadcast::Broadcast::new(Default::default())),
    );
    let b = run(
        Test::new(config("broadcast", 3)).unwrap(),
        runtimes(3, || broadcast::Broadcast::new(Default::default())),
    );
    assert_eq!(a.history().to_jsonl(), b.history().to_jsonl());
    let mut other = config("broadcast", 3);
    other.seed = 43;
    let c = run(
        Test::new(other).unwrap(),
        runtimes(3, || broadcast::Broadcast::new(Default::default())),
    );
    assert_ne!(a.history().to_jsonl(), c.history().to_jsonl());
}

#[test]
fn silent_node_fails_init_with_a_clear_message() {
    struct Mute;
    impl Node for Mute {
        fn handle(
            &mut self,
            _: &mut lightcone_sdk::Context<Self>,
            _: Envelope,
        ) -> Result<(), lightcone_sdk::NodeError> {
            Ok(())
        }
    }
    // A node that swallows init: give it a runtime that never answers.
    struct Swallow;
    impl AnyNode for Swallow {
        fn receive(&mut self, _: u64, _: Envelope) {}
        fn tick(&mut self, _: u64) {}
        fn next_deadline(&self) -> Option<u64> {
            None
        }
        fn take_outbox(&mut self) -> Vec<Envelope> {
            Vec::new()
        }
    }
    let mut nodes = runtimes(1, || Mute);
    nodes.push(Box::new(Swallow));
    let test = run(Test::new(config("echo", 2)).unwrap(), nodes);
    let failure = test.failure().expect("init times out").to_string();
    assert!(failure.contains("n1 did not answer init"), "{failure}");
}
