use super::options::read_backup;
use super::*;
use lightcone_sdk::{json, Harness, MockCluster, Value};

const MS: u64 = NANOS_PER_MS;

fn cluster(options: Options) -> MockCluster<RaftKv> {
    let mut cluster = MockCluster::new(3, |_| RaftKv::new(options.clone()));
    cluster.advance(3000 * MS, 10 * MS);
    cluster
}

fn leader(cluster: &MockCluster<RaftKv>) -> Option<&'static str> {
    ["n0", "n1", "n2"]
        .into_iter()
        .find(|id| cluster.node(id).raft.as_ref().map(|r| r.role()) == Some(Role::Leader))
}

fn call(cluster: &mut MockCluster<RaftKv>, node: &str, body: Body) -> Body {
    cluster
        .request("c1", node, body)
        .expect("every request gets an answer")
        .body
}

fn write(key: i64, value: i64) -> Body {
    Body::new("write").with("key", key).with("value", value)
}

fn read(key: i64) -> Body {
    Body::new("read").with("key", key)
}

#[test]
fn a_leader_serves_writes_reads_and_cas_through_any_node() {
    let mut cluster = cluster(Options::default());
    let leader = leader(&cluster).expect("an election within 3 s (Raft paper, 5.2)");
    let follower = ["n0", "n1", "n2"]
        .into_iter()
        .find(|n| *n != leader)
        .unwrap();
    assert_eq!(call(&mut cluster, follower, write(1, 10)).kind, "write_ok");
    let got = call(&mut cluster, leader, read(1));
    assert_eq!(
        (got.kind.as_str(), got.get("value")),
        ("read_ok", Some(&json!(10)))
    );
    let got = call(&mut cluster, follower, read(1));
    assert_eq!(
        got.get("value"),
        Some(&json!(10)),
        "forwarded read: {got:?}"
    );
    let cas = |from: i64, to: i64| {
        Body::new("cas")
            .with("key", 1)
            .with("from", from)
            .with("to", to)
    };
    assert_eq!(call(&mut cluster, follower, cas(10, 11)).kind, "cas_ok");
    let refused = call(&mut cluster, leader, cas(10, 12));
    assert_eq!(refused.error_code(), Some(22), "{refused:?}");
    let missing = call(&mut cluster, follower, read(2));
    assert_eq!(missing.error_code(), Some(20), "{missing:?}");
    // Every replica applied the same entries.
    let states: Vec<Vec<(Value, Value)>> = ["n0", "n1", "n2"]
        .iter()
        .map(|n| cluster.node(n).state.pairs())
        .collect();
    assert!(states.iter().all(|s| *s == states[0]) || states.iter().any(|s| s.is_empty()));
}

#[test]
fn without_a_leader_requests_fail_definitely() {
    let mut cluster = MockCluster::new(3, |_| RaftKv::new(Options::default()));
    let got = call(&mut cluster, "n0", write(1, 1));
    assert_eq!(got.error_code(), Some(11), "{got:?}");
}

#[test]
fn a_minority_leader_cannot_serve_reads_or_writes() {
    let mut cluster = cluster(Options::default());
    let old = leader(&cluster).unwrap();
    assert_eq!(call(&mut cluster, old, write(1, 1)).kind, "write_ok");
    for other in ["n0", "n1", "n2"] {
        if other != old {
            cluster.cut(old, other);
        }
    }
    // The cut-off leader cannot confirm a read (ReadIndex, section 8)
    // or commit a write; within the request timeout they fail.
    cluster.client_send("c1", old, read(1));
    cluster.client_send("c1", old, write(1, 2));
    cluster.advance(3000 * MS, 10 * MS);
    let replies = cluster
        .request("c1", old, read(1))
        .map(|m| m.body.error_code());
    assert!(matches!(replies, Some(Some(11))), "{replies:?}");
}

#[test]
fn a_backup_holds_exactly_the_state_at_its_index_and_restores_a_cluster() {
    let mut cluster = cluster(Options::default());
    let first = leader(&cluster).unwrap();
    for k in 0..5 {
        assert_eq!(call(&mut cluster, first, write(k, k * 10)).kind, "write_ok");
    }
    let reply = call(&mut cluster, "n0", Body::new("backup"));
    let backup = parse_backup(&reply).expect("backup_ok carries a backup");
    assert_eq!(call(&mut cluster, first, write(0, 99)).kind, "write_ok");
    let expected: Vec<(Value, Value)> = (0..5).map(|k| (json!(k), json!(k * 10))).collect();
    assert_eq!(
        backup.state, expected,
        "the write after the backup is not in it"
    );
    // The backup's index is the marker entry's: the 5 writes, the
    // leader's no-op and the marker.
    assert!(backup.index >= 7, "{backup:?}");

    let restored = Options {
        restore: Some(backup.clone()),
        ..Options::default()
    };
    let mut cluster = cluster_from(restored);
    let second = leader(&cluster).expect("the restored cluster elects a leader");
    let got = call(&mut cluster, second, read(0));
    assert_eq!(got.get("value"), Some(&json!(0)), "{got:?}");
    let cas = Body::new("cas")
        .with("key", 4)
        .with("from", 40)
        .with("to", 41);
    assert_eq!(call(&mut cluster, "n1", cas).kind, "cas_ok");
    assert_eq!(
        call(&mut cluster, "n2", read(4)).get("value"),
        Some(&json!(41))
    );
    let status = cluster.node(second).raft.as_ref().unwrap().status();
    assert!(
        status.last_index > backup.index,
        "the log continues after the backup"
    );
}

fn cluster_from(options: Options) -> MockCluster<RaftKv> {
    cluster(options)
}

#[test]
fn compaction_and_install_snapshot_bring_a_lagging_follower_up_to_date() {
    let options = Options {
        snapshot_every: 4,
        ..Options::default()
    };
    let mut cluster = cluster(options);
    let leader = leader(&cluster).unwrap();
    let lagging = ["n0", "n1", "n2"]
        .into_iter()
        .find(|n| *n != leader)
        .unwrap();
    for other in ["n0", "n1", "n2"] {
        if other != lagging {
            cluster.cut(lagging, other);
        }
    }
    for k in 0..20 {
        assert_eq!(call(&mut cluster, leader, write(k, k)).kind, "write_ok");
    }
    assert!(
        cluster.node(leader).snapshot_index >= 16,
        "the leader compacted its log"
    );
    cluster.heal();
    cluster.advance(2000 * MS, 10 * MS);
    let caught_up = cluster.node(lagging).state.pairs();
    assert_eq!(
        caught_up.len(),
        20,
        "InstallSnapshot (Raft paper, 7) and the entries after it"
    );
    assert!(cluster.node(lagging).snapshot_index >= 16);
}

#[test]
fn restore_reads_a_saved_backup_reply_and_names_a_bad_file() {
    let dir = std::env::temp_dir().join(format!("raft-kv-restore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("backup.json");
    let reply = json!({"type": "backup_ok", "backup": {"index": 7, "term": 2, "state": [[1, 10]]}});
    std::fs::write(&good, reply.to_string()).unwrap();
    let backup = read_backup(&good.display().to_string()).unwrap();
    assert_eq!((backup.index, backup.term), (7, 2));
    assert_eq!(backup.state, vec![(json!(1), json!(10))]);
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let error = read_backup(&bad.display().to_string()).unwrap_err();
    assert!(error.contains("backup_ok"), "{error}");
    let missing = dir.join("missing.json");
    let error = read_backup(&missing.display().to_string()).unwrap_err();
    assert!(error.contains("could not read the backup file"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Moves a lone node's clock 3 s in 10 ms steps (an election timeout and
/// then some) and returns what it sent to clients.
fn settle(node: &mut Harness<RaftKv>) -> Vec<Envelope> {
    (0..300)
        .flat_map(|_| node.advance(10 * MS))
        .filter(|m| m.dest.starts_with('c'))
        .collect()
}

#[test]
fn a_node_restarted_after_compaction_recovers_from_its_snapshot_record() {
    let options = Options {
        snapshot_every: 4,
        ..Options::default()
    };
    let storage = lightcone_sdk::MemoryStorage::new();
    let start = || {
        let node = RaftKv::new(options.clone());
        Harness::with_storage(node, "n0", &["n0"], Box::new(storage.clone()))
    };
    let mut node = start();
    settle(&mut node);
    for k in 0..10 {
        let mut replies = node.request("c1", write(k, k * 10));
        replies.extend(settle(&mut node));
        assert_eq!(replies.len(), 1, "{replies:?}");
        assert_eq!(replies[0].body.kind, "write_ok");
    }
    let snapshot_index = node.node().snapshot_index;
    assert!(snapshot_index >= 8, "compacted at {snapshot_index}");
    drop(node);

    // The restart reads the snapshot record back, then the log after it.
    let mut node = start();
    assert_eq!(node.node().snapshot_index, snapshot_index);
    // Index 1 is the leader's no-op; every later index up to the
    // snapshot's is a write of a new key.
    let restored = node.node().state.pairs().len() as u64;
    assert_eq!(restored, snapshot_index - 1);
    settle(&mut node);
    assert_eq!(node.node().state.pairs().len(), 10);
    let mut got = node.request("c1", read(9));
    got.extend(settle(&mut node));
    assert_eq!(got[0].body.get("value"), Some(&json!(90)), "{got:?}");
}

fn flag(name: &str, value: bool) -> Body {
    Body::new("flag").with("name", name).with("value", value)
}

/// Cuts `node` off from the two others.
fn isolate(cluster: &mut MockCluster<RaftKv>, node: &str) {
    for other in ["n0", "n1", "n2"] {
        if other != node {
            cluster.cut(node, other);
        }
    }
}

fn a_follower(cluster: &MockCluster<RaftKv>) -> &'static str {
    let leader = leader(cluster).expect("an election within 3 s");
    ["n0", "n1", "n2"]
        .into_iter()
        .find(|n| *n != leader)
        .unwrap()
}

#[test]
fn a_cut_off_follower_answers_no_read_unless_degraded_reads_is_flipped_on() {
    let mut cluster = cluster(Options::default());
    let follower = a_follower(&cluster);
    assert_eq!(call(&mut cluster, follower, write(1, 10)).kind, "write_ok");
    let healthy = call(&mut cluster, follower, read(1));
    assert_eq!(healthy.get("degraded"), None, "{healthy:?}");
    isolate(&mut cluster, follower);
    cluster.advance(3000 * MS, 10 * MS);
    // Off (the default): no leader is reachable, so no answer but 11.
    let got = call(&mut cluster, follower, read(1));
    assert_eq!(got.error_code(), Some(11), "{got:?}");
    assert_eq!(got.get("degraded"), None);

    // Flipped on at run time: the local value, marked degraded.
    let ok = call(&mut cluster, follower, flag("degraded-reads", true));
    assert_eq!(ok.kind, "flag_ok", "{ok:?}");
    assert_eq!(
        (ok.get_str("name"), ok.get("value")),
        (Some("degraded-reads"), Some(&json!(true)))
    );
    let got = call(&mut cluster, follower, read(1));
    assert_eq!(got.kind, "read_ok", "{got:?}");
    assert_eq!(got.get("value"), Some(&json!(10)));
    assert_eq!(got.get("degraded"), Some(&json!(true)));
    // A key absent here reads as null, never as a definite error 20.
    let missing = call(&mut cluster, follower, read(2));
    assert_eq!(
        (missing.kind.as_str(), missing.get("value")),
        ("read_ok", Some(&Value::Null)),
        "{missing:?}"
    );
    assert_eq!(missing.get("degraded"), Some(&json!(true)));
    // Writes are never degraded.
    let w = call(&mut cluster, follower, write(1, 11));
    assert_eq!(w.error_code(), Some(11), "{w:?}");

    // Flipped off again: unavailable again.
    assert_eq!(
        call(&mut cluster, follower, flag("degraded-reads", false)).kind,
        "flag_ok"
    );
    let got = call(&mut cluster, follower, read(1));
    assert_eq!(got.error_code(), Some(11), "{got:?}");
}

#[test]
fn degraded_reads_from_the_start_are_stale_and_healthy_reads_are_not_degraded() {
    let options = Options {
        degraded_reads: true,
        ..Options::default()
    };
    let mut cluster = cluster(options);
    let leader = leader(&cluster).unwrap();
    let follower = a_follower(&cluster);
    assert_eq!(call(&mut cluster, leader, write(1, 10)).kind, "write_ok");
    cluster.advance(500 * MS, 10 * MS);
    let fresh = call(&mut cluster, follower, read(1));
    assert_eq!(
        (fresh.get("value"), fresh.get("degraded")),
        (Some(&json!(10)), None),
        "a read the leader serves is linearizable, not degraded: {fresh:?}"
    );
    isolate(&mut cluster, follower);
    // The majority goes on without the follower.
    assert_eq!(call(&mut cluster, leader, write(1, 20)).kind, "write_ok");
    // The follower still believes in the leader: it forwards, hears
    // nothing, and answers degraded after --degraded-read-ms.
    cluster.client_send("c1", follower, read(1));
    cluster.run();
    assert!(
        cluster.take_replies("c1").is_empty(),
        "waiting for the leader"
    );
    cluster.advance(1000 * MS, 10 * MS);
    let replies = cluster.take_replies("c1");
    let degraded: Vec<_> = replies
        .iter()
        .filter(|m| m.body.get("degraded") == Some(&json!(true)))
        .collect();
    assert_eq!(degraded.len(), 1, "{replies:?}");
    assert_eq!(
        degraded[0].body.get("value"),
        Some(&json!(10)),
        "stale: the majority wrote 20 since"
    );
}

#[test]
fn a_cut_off_leader_answers_degraded_when_its_read_index_is_not_confirmed() {
    let mut cluster = cluster(Options::default());
    let old = leader(&cluster).unwrap();
    assert_eq!(call(&mut cluster, old, write(1, 5)).kind, "write_ok");
    assert_eq!(
        call(&mut cluster, old, flag("degraded-reads", true)).kind,
        "flag_ok"
    );
    isolate(&mut cluster, old);
    cluster.client_send("c1", old, read(1));
    cluster.run();
    assert!(cluster.take_replies("c1").is_empty(), "not confirmed yet");
    cluster.advance(600 * MS, 10 * MS);
    let replies = cluster.take_replies("c1");
    assert_eq!(replies.len(), 1, "{replies:?}");
    let got = &replies[0].body;
    assert_eq!(
        (got.kind.as_str(), got.get("value"), got.get("degraded")),
        ("read_ok", Some(&json!(5)), Some(&json!(true))),
        "{got:?}"
    );
}

#[test]
fn unknown_flags_are_not_supported_and_bad_values_malformed() {
    let mut cluster = cluster(Options::default());
    let got = call(&mut cluster, "n0", flag("turbo", true));
    assert_eq!(got.error_code(), Some(10), "{got:?}");
    let bad = Body::new("flag")
        .with("name", "degraded-reads")
        .with("value", "yes");
    let got = call(&mut cluster, "n0", bad);
    assert_eq!(got.error_code(), Some(12), "{got:?}");
    assert!(!cluster.node("n0").degraded_reads);
}
