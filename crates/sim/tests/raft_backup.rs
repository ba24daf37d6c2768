//! A backup of the Raft key-value node restores a cluster that serves
//! linearizable operations: the state is taken from one cluster (through
//! the SDK's mock cluster), and a simulated lin-kv test then runs against a
//! cluster restored from it, checked by the linearizability checker.

use lightcone_core::{NemesisConfig, Test, TestConfig, Validity, NANOS_PER_SEC};
use lightcone_nodes::raft_kv::{parse_backup, Options, RaftKv};
use lightcone_sdk::{json, Body, MemoryStorage, MockCluster, NodeRuntime, Runtime, NANOS_PER_MS};
use lightcone_sim::Simulation;

#[test]
fn a_cluster_restored_from_a_backup_serves_linearizable_operations() {
    // A first cluster, with keys the workload never uses (strings; the
    // lin-kv workload's keys are integers), backed up.
    let mut first = MockCluster::new(3, |_| RaftKv::new(Options::default()));
    first.advance(3000 * NANOS_PER_MS, 10 * NANOS_PER_MS);
    let leader = (0..3)
        .map(|i| format!("n{i}"))
        .find(|n| {
            let reply = first.request(
                "c1",
                n,
                Body::new("write").with("key", "a").with("value", 1),
            );
            reply.is_some_and(|m| m.body.kind == "write_ok")
        })
        .expect("a leader takes the write");
    let reply = first
        .request("c1", &leader, Body::new("backup"))
        .expect("backup_ok");
    let backup = parse_backup(&reply.body).expect("a backup in the reply");
    assert_eq!(backup.state, vec![(json!("a"), json!(1))]);

    // A five-node cluster restored from it runs the lin-kv workload under
    // partitions and kills (a killed node comes back from the backup it
    // made durable at its first start).
    let options = Options {
        restore: Some(backup),
        ..Options::default()
    };
    let factory = |_: usize, seed: u64, storage: MemoryStorage| -> Box<dyn NodeRuntime> {
        Box::new(Runtime::with_storage(
            RaftKv::new(options.clone()),
            seed,
            Box::new(storage),
        ))
    };
    let config = TestConfig {
        workload: "lin-kv".into(),
        node_count: 5,
        concurrency: 10,
        rate: 50.0,
        time_limit_ns: 20 * NANOS_PER_SEC,
        latency_ms: 10,
        seed: 7,
        nemesis: NemesisConfig {
            partition: true,
            kill: true,
            interval_ns: 5 * NANOS_PER_SEC,
            ..NemesisConfig::default()
        },
        ..TestConfig::default()
    };
    let test = Test::new(config).unwrap();
    let (test, _, _) = Simulation::new(test, &factory).run(&mut |_| {});
    let checked = test.check();
    assert_eq!(checked.valid, Validity::Valid, "{:?}", checked.problems);
    let ok = checked.stats.details.all.ok_count;
    assert!(ok > 100, "the restored cluster served {ok} operations");
}
