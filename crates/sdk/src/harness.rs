//! Mock I/O: run nodes in a unit test, with no processes and no clock.

use std::collections::{BTreeSet, VecDeque};

use lightcone_proto::{Body, Envelope};

use crate::{Node, Runtime, Storage};

/// One node under test. Time stands still unless [`Harness::advance`]
/// moves it; every message the node sends is captured.
pub struct Harness<N: Node> {
    runtime: Runtime<N>,
    now: u64,
    next_msg_id: u64,
    sent: Vec<Envelope>,
}

impl<N: Node> Harness<N> {
    /// Starts `node` as `node_id` in a cluster of `node_ids` and performs
    /// init, asserting that the node answers `init_ok`.
    pub fn new(node: N, node_id: &str, node_ids: &[&str]) -> Harness<N> {
        Harness::with_seed(node, node_id, node_ids, 0)
    }

    pub fn with_seed(node: N, node_id: &str, node_ids: &[&str], seed: u64) -> Harness<N> {
        Harness::start(Runtime::new(node, seed), node_id, node_ids)
    }

    /// The same, with durable `storage` (seed 0): a node started twice on
    /// one storage is a restart, as the simulator does after a crash.
    pub fn with_storage(
        node: N,
        node_id: &str,
        node_ids: &[&str],
        storage: Box<dyn Storage>,
    ) -> Harness<N> {
        Harness::start(Runtime::with_storage(node, 0, storage), node_id, node_ids)
    }

    fn start(runtime: Runtime<N>, node_id: &str, node_ids: &[&str]) -> Harness<N> {
        let mut h = Harness {
            runtime,
            now: 0,
            next_msg_id: 1,
            sent: Vec::new(),
        };
        let init = Body::init(node_id, node_ids);
        let replies = h.request("c0", init);
        assert!(
            replies.iter().any(|m| m.body.kind == "init_ok"),
            "node {node_id} did not answer init with init_ok; it sent {replies:?}"
        );
        h
    }

    pub fn node(&self) -> &N {
        self.runtime.node()
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    /// Delivers `msg` and returns everything the node sent in response.
    pub fn deliver(&mut self, msg: Envelope) -> Vec<Envelope> {
        self.runtime.receive(self.now, msg);
        self.drain()
    }

    /// Sends a request from `src` (a msg_id is assigned) and returns the
    /// replies addressed back to `src`; other messages stay in `take_sent`.
    pub fn request(&mut self, src: &str, mut body: Body) -> Vec<Envelope> {
        body.msg_id = Some(self.next_msg_id);
        self.next_msg_id += 1;
        let dest = self.runtime.node_id().to_string();
        let out = self.deliver(Envelope::new(src, dest, body));
        let (replies, others): (Vec<_>, Vec<_>) = out.into_iter().partition(|m| m.dest == src);
        self.sent.extend(others);
        replies
    }

    /// Moves the clock forward, firing timers; returns what the node sent.
    pub fn advance(&mut self, by_ns: u64) -> Vec<Envelope> {
        self.now += by_ns;
        self.runtime.tick(self.now);
        self.drain()
    }

    /// Messages sent by the node that no call has returned yet.
    pub fn take_sent(&mut self) -> Vec<Envelope> {
        std::mem::take(&mut self.sent)
    }

    fn drain(&mut self) -> Vec<Envelope> {
        self.runtime.take_logs();
        self.runtime.take_outbox()
    }
}

/// Several nodes wired together with instant, in-order delivery, and links
/// that can be cut: enough to unit-test a gossip protocol. (The simulator
/// adds latency, faults and seeds.)
pub struct MockCluster<N: Node> {
    nodes: Vec<Runtime<N>>,
    ids: Vec<String>,
    now: u64,
    in_flight: VecDeque<Envelope>,
    /// Messages addressed to anything that is not a node (clients).
    to_clients: Vec<Envelope>,
    cut: BTreeSet<(String, String)>,
    next_msg_id: u64,
    pub delivered_count: u64,
    pub dropped_count: u64,
}

/// How many deliveries one [`MockCluster::run`] may make before it is
/// declared livelocked.
const DELIVERIES_MAX: usize = 1_000_000;

impl<N: Node> MockCluster<N> {
    /// `count` nodes named n0.., each built by `make`, all initialised.
    pub fn new(count: usize, mut make: impl FnMut(&str) -> N) -> MockCluster<N> {
        let ids: Vec<String> = (0..count).map(|i| format!("n{i}")).collect();
        let mut cluster = MockCluster {
            nodes: Vec::new(),
            ids: ids.clone(),
            now: 0,
            in_flight: VecDeque::new(),
            to_clients: Vec::new(),
            cut: BTreeSet::new(),
            next_msg_id: 1,
            delivered_count: 0,
            dropped_count: 0,
        };
        for (i, id) in ids.iter().enumerate() {
            cluster.nodes.push(Runtime::new(make(id), i as u64));
            let init = Body::init(id, &ids);
            cluster.client_send("c0", id, init);
        }
        cluster.run();
        cluster.to_clients.clear();
        cluster
    }

    pub fn node(&self, id: &str) -> &N {
        self.nodes[self.index(id)].node()
    }

    fn index(&self, id: &str) -> usize {
        self.ids
            .iter()
            .position(|n| n == id)
            .unwrap_or_else(|| panic!("no node {id} in this cluster"))
    }

    /// Queues a client request to `dest`.
    pub fn client_send(&mut self, src: &str, dest: &str, mut body: Body) {
        body.msg_id = Some(self.next_msg_id);
        self.next_msg_id += 1;
        self.in_flight.push_back(Envelope::new(src, dest, body));
    }

    /// Sends a request, runs the cluster until quiet, returns the reply.
    pub fn request(&mut self, src: &str, dest: &str, body: Body) -> Option<Envelope> {
        let msg_id = self.next_msg_id;
        self.client_send(src, dest, body);
        self.run();
        let at = self
            .to_clients
            .iter()
            .position(|m| m.dest == src && m.body.in_reply_to == Some(msg_id))?;
        Some(self.to_clients.remove(at))
    }

    /// Takes the replies `client` got that no `request` returned yet (to
    /// requests queued with `client_send`, answered later).
    pub fn take_replies(&mut self, client: &str) -> Vec<Envelope> {
        let (mine, others) = std::mem::take(&mut self.to_clients)
            .into_iter()
            .partition(|m| m.dest == client);
        self.to_clients = others;
        mine
    }

    /// Drops every message between `a` and `b`, both ways, until `heal`.
    pub fn cut(&mut self, a: &str, b: &str) {
        self.cut.insert((a.to_string(), b.to_string()));
        self.cut.insert((b.to_string(), a.to_string()));
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Delivers messages until none is in flight.
    pub fn run(&mut self) {
        let mut deliveries = 0;
        while let Some(msg) = self.in_flight.pop_front() {
            deliveries += 1;
            assert!(
                deliveries <= DELIVERIES_MAX,
                "more than {DELIVERIES_MAX} deliveries without going quiet: a message storm"
            );
            let Some(i) = self.ids.iter().position(|n| *n == msg.dest) else {
                self.to_clients.push(msg);
                continue;
            };
            if self.cut.contains(&(msg.src.clone(), msg.dest.clone())) {
                self.dropped_count += 1;
                continue;
            }
            self.delivered_count += 1;
            self.nodes[i].receive(self.now, msg);
            // Timers due now (set with no delay) fire after the message,
            // as the stdio runner and the simulator fire them.
            self.nodes[i].tick(self.now);
            self.collect(i);
        }
    }

    /// Moves time forward by `by_ns` in steps of `step_ns`, firing timers
    /// and delivering what they send.
    pub fn advance(&mut self, by_ns: u64, step_ns: u64) {
        let end = self.now + by_ns;
        while self.now < end {
            self.now = (self.now + step_ns.max(1)).min(end);
            for i in 0..self.nodes.len() {
                self.nodes[i].tick(self.now);
                self.collect(i);
            }
            self.run();
        }
    }

    fn collect(&mut self, i: usize) {
        self.nodes[i].take_logs();
        self.in_flight.extend(self.nodes[i].take_outbox());
    }
}
