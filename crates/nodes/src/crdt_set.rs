//! The g-set workload's node as a delta-state CRDT: a grow-only set
//! ([`GSet`], Shapiro et al. 2011, Specification 11) gossiped by
//! [`crate::crdt_gossip`].
//!
//! `add{element}` inserts into the local replica, makes the insert durable
//! and answers `add_ok` at once; `read` answers the local replica. Neither
//! waits for another node, so the node is totally available; replicas
//! converge once the network lets gossip through. Elements are integers,
//! as the g-set workload sends.

use lightcone_crdt::GSet;
use lightcone_sdk::{Body, Envelope, NodeError, Value};

use crate::crdt_gossip::{Api, CrdtNode, GossipOptions, Replica};

impl Replica for GSet<i64> {
    fn difference(&self, known: &Self) -> Self {
        self.iter()
            .filter(|e| !known.contains(e))
            .copied()
            .collect()
    }
    fn is_bottom(&self) -> bool {
        self.is_empty()
    }
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn from_json(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// g-set's requests: `add{element}` -> `add_ok`, `read` -> `read_ok{value}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GSetApi;

impl Api for GSetApi {
    type State = GSet<i64>;
    const NAME: &'static str = "g-set";

    fn request(
        &self,
        _node_id: &str,
        state: &mut GSet<i64>,
        msg: &Envelope,
    ) -> Result<(Body, Option<GSet<i64>>), NodeError> {
        match msg.body.kind.as_str() {
            "add" => {
                let element = msg
                    .body
                    .get_i64("element")
                    .ok_or_else(|| NodeError::malformed("add needs an integer `element`"))?;
                Ok((Body::new("add_ok"), Some(state.insert(element))))
            }
            "read" => {
                let elements: Vec<i64> = state.iter().copied().collect();
                Ok((Body::new("read_ok").with("value", elements), None))
            }
            other => Err(NodeError::not_supported(other)),
        }
    }
}

/// The CRDT g-set node.
pub type CrdtSet = CrdtNode<GSetApi>;

impl CrdtSet {
    /// The g-set node gossiping with `options`.
    pub fn with_options(options: GossipOptions) -> CrdtSet {
        CrdtNode::new(GSetApi, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_crdt::Crdt;
    use lightcone_sdk::{Harness, MemoryStorage, MockCluster, NANOS_PER_MS};

    const NODES: [&str; 3] = ["n0", "n1", "n2"];

    fn read(cluster: &mut MockCluster<CrdtSet>, node: &str) -> Vec<i64> {
        let reply = cluster
            .request("c9", node, Body::new("read"))
            .expect("a read is answered at once");
        serde_json::from_value(reply.body.get("value").unwrap().clone()).unwrap()
    }

    fn add(cluster: &mut MockCluster<CrdtSet>, node: &str, element: i64) {
        let reply = cluster.request("c1", node, Body::new("add").with("element", element));
        assert_eq!(reply.unwrap().body.kind, "add_ok");
    }

    fn cluster(options: GossipOptions) -> MockCluster<CrdtSet> {
        MockCluster::new(3, |_| CrdtNode::new(GSetApi, options.clone()))
    }

    #[test]
    fn replicas_converge_by_deltas() {
        let mut c = cluster(GossipOptions::default());
        for (i, node) in NODES.iter().enumerate() {
            add(&mut c, node, i as i64);
        }
        assert_eq!(read(&mut c, "n0"), [0], "answered locally, before gossip");
        c.advance(300 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        for node in NODES {
            assert_eq!(read(&mut c, node), [0, 1, 2], "{node}");
            let stats = c.node(node).gossip().stats();
            assert_eq!(stats.full_msg_count, 0, "{node}: deltas only");
            assert_eq!(c.node(node).gossip().log_len(), 0, "{node}: log collected");
        }
    }

    #[test]
    fn a_cut_and_heal_converges_and_the_cut_side_stays_available() {
        let mut c = cluster(GossipOptions::default());
        c.cut("n0", "n1");
        c.cut("n0", "n2");
        for i in 0..50 {
            add(&mut c, NODES[i % 3], i as i64);
            c.advance(50 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        }
        let alone = read(&mut c, "n0");
        assert!(
            alone.iter().all(|e| e % 3 == 0),
            "n0 heard nothing: {alone:?}"
        );
        assert!(c.dropped_count > 10, "gossip was resent into the cut");
        c.heal();
        c.advance(2000 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        let all: Vec<i64> = (0..50).collect();
        for node in NODES {
            assert_eq!(read(&mut c, node), all, "{node}");
        }
    }

    #[test]
    fn a_truncated_log_falls_back_to_the_full_state() {
        let options = GossipOptions {
            log_len_max: 4,
            ..GossipOptions::default()
        };
        let mut c = cluster(options);
        c.cut("n0", "n2");
        c.cut("n1", "n2");
        for i in 0..20 {
            add(&mut c, "n0", i);
            c.advance(100 * NANOS_PER_MS, 50 * NANOS_PER_MS);
        }
        assert!(c.node("n0").gossip().stats().log_truncated_count > 0);
        c.heal();
        c.advance(2000 * NANOS_PER_MS, 50 * NANOS_PER_MS);
        assert_eq!(read(&mut c, "n2"), (0..20).collect::<Vec<_>>());
        assert!(c.node("n0").gossip().stats().full_msg_count > 0);
        assert!(c.node("n0").gossip().log_len() <= 4);
    }

    #[test]
    fn duplicated_and_reordered_gossip_is_harmless() {
        let mut h = Harness::new(
            CrdtSet::with_options(GossipOptions::default()),
            "n1",
            &NODES,
        );
        let delta = |seq: u64, elements: &[i64]| {
            let mut body = Body::new("delta")
                .with("incarnation", 0)
                .with("seq", seq)
                .with("full", false)
                .with("state", elements.to_vec());
            body.msg_id = Some(seq);
            Envelope::new("n0", "n1", body)
        };
        for msg in [delta(2, &[3, 4]), delta(1, &[1]), delta(2, &[3, 4])] {
            let out = h.deliver(msg);
            assert_eq!(out[0].body.kind, "delta_ack");
        }
        assert_eq!(h.node().gossip().state().len(), 3);
        assert_eq!(h.node().gossip().stats().novel_merge_count, 2);
        // Nothing is echoed back to n0, where it all came from.
        let out = h.advance(100 * NANOS_PER_MS);
        assert!(out.iter().all(|m| m.dest != "n0"), "{out:?}");
        assert_eq!(out.len(), 1, "one delta to n2: {out:?}");
    }

    #[test]
    fn a_restarted_node_keeps_its_adds_and_is_sent_the_full_state() {
        // n1 restarts from its storage; n0 sees the new incarnation.
        let storage = MemoryStorage::new();
        let start = |storage: &MemoryStorage| {
            let node = CrdtSet::with_options(GossipOptions::default());
            Harness::with_storage(node, "n1", &["n0", "n1"], Box::new(storage.clone()))
        };
        let mut n1 = start(&storage);
        n1.request("c1", Body::new("add").with("element", 7));
        drop(n1);
        let n1 = start(&storage);
        assert!(n1.node().gossip().state().contains(&7));
        assert_eq!(n1.node().gossip().incarnation(), 1);

        let mut n0 = Harness::new(
            CrdtSet::with_options(GossipOptions::default()),
            "n0",
            &["n0", "n1"],
        );
        n0.request("c1", Body::new("add").with("element", 1));
        let sent = n0.advance(100 * NANOS_PER_MS);
        let ack = |incarnation: u64, seq: u64, full: bool| {
            Envelope::new(
                "n1",
                "n0",
                Body::new("delta_ack")
                    .with("incarnation", 0)
                    .with("seq", seq)
                    .with("full", full)
                    .with("from_incarnation", incarnation),
            )
        };
        assert_eq!(sent[0].body.get("full"), Some(&Value::from(false)));
        n0.deliver(ack(0, 1, false));
        assert!(
            n0.advance(100 * NANOS_PER_MS).is_empty(),
            "n1 is up to date"
        );
        // An ack from n1's next life: n0 cannot trust the earlier ack.
        n0.deliver(ack(1, 1, false));
        let sent = n0.advance(100 * NANOS_PER_MS);
        assert_eq!(sent[0].body.get("full"), Some(&Value::from(true)));
        let mut state = GSet::<i64>::from_json(sent[0].body.get("state").unwrap()).unwrap();
        state.merge(&GSet::new());
        assert!(state.contains(&1));
    }

    #[test]
    fn direct_mode_does_not_relay_and_converges_after_healing() {
        let options = GossipOptions {
            direct: true,
            ..GossipOptions::default()
        };
        let mut c = cluster(options);
        // n0 and n2 cannot talk; n1 hears both but relays nothing.
        c.cut("n0", "n2");
        add(&mut c, "n0", 1);
        add(&mut c, "n2", 2);
        c.advance(1000 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        assert_eq!(read(&mut c, "n1"), [1, 2]);
        assert_eq!(read(&mut c, "n0"), [1]);
        assert_eq!(c.node("n1").gossip().stats().delta_msg_count, 0);
        c.heal();
        c.advance(2000 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        for node in NODES {
            assert_eq!(read(&mut c, node), [1, 2], "{node}");
        }
    }

    #[test]
    fn full_state_mode_sends_everything_every_round() {
        let options = GossipOptions {
            full_state: true,
            ..GossipOptions::default()
        };
        let mut c = cluster(options);
        add(&mut c, "n0", 1);
        c.advance(1000 * NANOS_PER_MS, 100 * NANOS_PER_MS);
        assert_eq!(read(&mut c, "n2"), [1]);
        let stats = c.node("n0").gossip().stats();
        assert_eq!(stats.full_msg_count, 2 * 10);
        assert_eq!(stats.ack_msg_count, 0);
    }
}
