//! The g-counter and pn-counter workloads' nodes as delta-state CRDTs:
//! [`GCounter`] and [`PNCounter`] (Shapiro et al. 2011, Specifications 6
//! and 7) gossiped by [`crate::crdt_gossip`]. The delta of an add is the
//! node's one changed entry (Almeida et al. 2018, section 4.1).
//!
//! An `add` changes this node's own entry, makes it durable and answers at
//! once; a `read` answers the local sum. Nothing waits for another node:
//! totally available, and every replica converges to the sum of every
//! acknowledged add once gossip gets through. A read may miss adds that
//! other nodes acknowledged but have not gossiped yet; that is the price of
//! availability under partitions, and what the seq-kv node
//! ([`crate::counter`]) avoids by asking a service that is never
//! partitioned.
//!
//! The own entry survives a crash (it is written to storage before the add
//! is acknowledged), so a restarted node never counts from zero again.

pub use lightcone_crdt::{GCounter, PNCounter};
use lightcone_sdk::{Body, Envelope, NodeError, Value};

use crate::crdt_gossip::{Api, CrdtNode, GossipOptions, Replica};

impl Replica for GCounter<String> {
    fn difference(&self, known: &Self) -> Self {
        let mut delta = GCounter::new();
        for (node, count) in self.iter() {
            if count > known.get(node) {
                delta.increment(node, count);
            }
        }
        delta
    }
    fn is_bottom(&self) -> bool {
        self.iter().all(|(_, count)| count == 0)
    }
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn from_json(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}

impl Replica for PNCounter<String> {
    fn difference(&self, known: &Self) -> Self {
        let mut delta = PNCounter::new();
        let increments = self.increments().difference(known.increments());
        let decrements = self.decrements().difference(known.decrements());
        for (node, count) in increments.iter() {
            delta.increment(node, count);
        }
        for (node, count) in decrements.iter() {
            delta.decrement(node, count);
        }
        delta
    }
    fn is_bottom(&self) -> bool {
        self.increments().is_bottom() && self.decrements().is_bottom()
    }
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn from_json(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// What a counter replica does for the API.
pub trait Counter: Replica {
    /// Adds `delta` at `node`; returns the delta state, or why not.
    fn add(&mut self, node: &str, delta: i64) -> Result<Self, String>;
    fn total(&self) -> i64;
}

impl Counter for GCounter<String> {
    fn add(&mut self, node: &str, delta: i64) -> Result<Self, String> {
        u64::try_from(delta)
            .map(|n| self.increment(&node.to_string(), n))
            .map_err(|_| format!("a g-counter only grows; it cannot add {delta}"))
    }
    fn total(&self) -> i64 {
        i64::try_from(self.value()).unwrap_or(i64::MAX)
    }
}

impl Counter for PNCounter<String> {
    fn add(&mut self, node: &str, delta: i64) -> Result<Self, String> {
        Ok(PNCounter::add(self, &node.to_string(), delta))
    }
    fn total(&self) -> i64 {
        self.value()
    }
}

/// The counters' requests: `add{delta}` -> `add_ok`, `read` ->
/// `read_ok{value}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterApi<C>(std::marker::PhantomData<C>);

impl<C: Counter> Api for CounterApi<C> {
    type State = C;
    const NAME: &'static str = "counter";

    fn request(
        &self,
        node_id: &str,
        state: &mut C,
        msg: &Envelope,
    ) -> Result<(Body, Option<C>), NodeError> {
        match msg.body.kind.as_str() {
            "add" => {
                let delta = state
                    .add(node_id, crate::add_delta(msg)?)
                    .map_err(NodeError::malformed)?;
                Ok((Body::new("add_ok"), Some(delta)))
            }
            "read" => Ok((Body::new("read_ok").with("value", state.total()), None)),
            other => Err(NodeError::not_supported(other)),
        }
    }
}

/// The CRDT g-counter node.
pub type CrdtGCounter = CrdtNode<CounterApi<GCounter<String>>>;
/// The CRDT pn-counter node.
pub type CrdtPNCounter = CrdtNode<CounterApi<PNCounter<String>>>;

/// A CRDT counter node gossiping with `options`.
pub fn counter_node<C: Counter>(options: GossipOptions) -> CrdtNode<CounterApi<C>> {
    CrdtNode::new(CounterApi(std::marker::PhantomData), options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_sdk::{Harness, MemoryStorage, MockCluster, Node, NANOS_PER_MS};

    const NODES: [&str; 3] = ["n0", "n1", "n2"];

    fn read<N: Node>(cluster: &mut MockCluster<N>, node: &str) -> i64 {
        let reply = cluster.request("c9", node, Body::new("read")).unwrap();
        reply.body.get_i64("value").unwrap()
    }

    fn add<N: Node>(cluster: &mut MockCluster<N>, node: &str, delta: i64) {
        let reply = cluster.request("c1", node, Body::new("add").with("delta", delta));
        assert_eq!(reply.unwrap().body.kind, "add_ok");
    }

    #[test]
    fn pn_counter_converges_after_a_partition_heals() {
        let mut c = MockCluster::new(3, |_| {
            counter_node::<PNCounter<String>>(GossipOptions::default())
        });
        c.cut("n0", "n1");
        c.cut("n0", "n2");
        let mut sum = 0;
        for i in 0..60i64 {
            let delta = (i % 9) - 5;
            sum += delta;
            add(&mut c, NODES[i as usize % 3], delta);
            c.advance(30 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        }
        assert_ne!(read(&mut c, "n0"), read(&mut c, "n1"), "still apart");
        c.heal();
        c.advance(2000 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        for node in NODES {
            assert_eq!(read(&mut c, node), sum, "{node}");
        }
    }

    #[test]
    fn g_counter_refuses_negative_adds() {
        let mut h = Harness::new(
            counter_node::<GCounter<String>>(GossipOptions::default()),
            "n0",
            &NODES,
        );
        let r = h.request("c1", Body::new("add").with("delta", -1));
        assert_eq!(r[0].body.kind, "error");
        let r = h.request("c1", Body::new("add").with("delta", 4));
        assert_eq!(r[0].body.kind, "add_ok");
        let r = h.request("c1", Body::new("read"));
        assert_eq!(r[0].body.get_i64("value"), Some(4));
    }

    #[test]
    fn deltas_carry_only_the_changed_entry() {
        let mut c = MockCluster::new(3, |_| {
            counter_node::<GCounter<String>>(GossipOptions::default())
        });
        for i in 0..30 {
            add(&mut c, NODES[i % 3], 1);
            c.advance(100 * NANOS_PER_MS, 100 * NANOS_PER_MS);
        }
        c.advance(500 * NANOS_PER_MS, 100 * NANOS_PER_MS);
        for node in NODES {
            assert_eq!(read(&mut c, node), 30);
            let stats = c.node(node).gossip().stats();
            assert_eq!(stats.full_msg_count, 0);
            // One entry, `{"nX":k}`, in each delta: far below a full state.
            let per_msg = stats.gossip_bytes / stats.delta_msg_count;
            assert!(per_msg < 90, "{node}: {per_msg} bytes per delta");
        }
    }

    #[test]
    fn a_restart_keeps_the_own_entry() {
        let storage = MemoryStorage::new();
        let mut lives = Vec::new();
        for _ in 0..2 {
            let node = counter_node::<GCounter<String>>(GossipOptions::default());
            let mut h = Harness::with_storage(node, "n0", &["n0"], Box::new(storage.clone()));
            h.request("c1", Body::new("add").with("delta", 3));
            lives.push(h.node().gossip().state().value());
        }
        assert_eq!(lives, [3, 6]);
    }

    #[test]
    fn difference_is_what_the_other_side_lacks() {
        let (a, b) = ("a".to_string(), "b".to_string());
        let mut x = PNCounter::new();
        x.add(&a, 5);
        x.add(&b, -2);
        let mut y = PNCounter::new();
        y.add(&a, 5);
        let d = x.difference(&y);
        assert_eq!(d.value(), -2);
        assert!(y.difference(&x).is_bottom());
    }
}
