use super::*;
use lightcone_sdk::{json, MockCluster};

const MS: u64 = NANOS_PER_MS;
const NAMES: [&str; 3] = ["n0", "n1", "n2"];

fn cluster(options: Options) -> MockCluster<PaxosKv> {
    let mut cluster = MockCluster::new(3, |_| PaxosKv::new(options.clone()));
    cluster.advance(3000 * MS, 10 * MS);
    cluster
}

fn leader(cluster: &MockCluster<PaxosKv>) -> Option<&'static str> {
    NAMES
        .into_iter()
        .find(|id| cluster.node(id).paxos.as_ref().map(|p| p.role()) == Some(Role::Leader))
}

fn call(cluster: &mut MockCluster<PaxosKv>, node: &str, body: Body) -> Body {
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
    let leader = leader(&cluster).expect("a leader within 3 s");
    let follower = NAMES.into_iter().find(|n| *n != leader).unwrap();
    assert_eq!(call(&mut cluster, follower, write(1, 10)).kind, "write_ok");
    let got = call(&mut cluster, leader, read(1));
    assert_eq!(got.get("value"), Some(&json!(10)), "{got:?}");
    let got = call(&mut cluster, follower, read(1));
    assert_eq!(got.get("value"), Some(&json!(10)), "forwarded: {got:?}");
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
    // Followers learn the chosen slots from the leader's heartbeats.
    cluster.advance(1000 * MS, 10 * MS);
    let states: Vec<Vec<(Value, Value)>> = NAMES
        .iter()
        .map(|n| cluster.node(n).state.pairs())
        .collect();
    assert!(states.iter().all(|s| *s == states[0]), "{states:?}");
}

#[test]
fn without_a_leader_requests_fail_definitely() {
    let mut cluster = MockCluster::new(3, |_| PaxosKv::new(Options::default()));
    let got = call(&mut cluster, "n0", write(1, 1));
    assert_eq!(got.error_code(), Some(11), "{got:?}");
}

#[test]
fn a_cut_off_leader_cannot_serve_reads_or_writes() {
    let mut cluster = cluster(Options::default());
    let old = leader(&cluster).unwrap();
    assert_eq!(call(&mut cluster, old, write(1, 1)).kind, "write_ok");
    for other in NAMES {
        if other != old {
            cluster.cut(old, other);
        }
    }
    // Reads go through the log, so a leader cut off from every acceptor
    // answers neither; check-quorum then makes it step down.
    cluster.client_send("c1", old, read(1));
    cluster.client_send("c1", old, write(1, 2));
    cluster.advance(3000 * MS, 10 * MS);
    let replies = cluster
        .request("c1", old, read(1))
        .map(|m| m.body.error_code());
    assert!(matches!(replies, Some(Some(11))), "{replies:?}");
}
