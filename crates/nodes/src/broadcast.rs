//! The broadcast workload's node: gossip that survives partitions.
//!
//! Design, for the Gossip Glomers efficiency bar (25 nodes, 100 ms latency:
//! under 30 server messages per op, median latency under 400 ms, max under
//! 600 ms):
//!
//! * **Overlay.** The workbench's suggested topology (a grid by default) has
//!   a diameter of 8 hops at 25 nodes, too slow. By default the node ignores
//!   it and uses a star: every node talks to the first node of `node_ids`
//!   (the hub), and the hub to everyone. Any message reaches any node in at
//!   most two hops. `--overlay given` uses the workbench's topology instead.
//! * **Batching.** New messages are queued per peer and sent every
//!   `--gossip-ms` (50 ms) as one `gossip` message, so the hub's fan-out
//!   costs one message per peer per tick, not per broadcast.
//! * **Reliability.** Every gossip is an RPC; until a peer acknowledges a
//!   message it stays queued for that peer, and a batch with no answer
//!   within `--retry-ms` (1 s) is sent again. A partition only delays
//!   delivery; after it heals every queued message goes through.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_sdk::{Body, Context, Envelope, Node, NodeError, Value, NANOS_PER_MS};

const TIMER_GOSSIP: u64 = 1;

/// Most messages one gossip carries; the rest wait for the next tick.
const BATCH_LEN_MAX: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Overlay {
    /// Everyone talks to a hub (the first node), the hub to everyone.
    Star,
    /// The neighbours the workbench's `topology` message names.
    Given,
}

/// How the node gossips (`lightcone node broadcast --help` lists the flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Time between gossip rounds (`--gossip-ms`).
    pub gossip_ms: u64,
    /// Time before an unacknowledged batch is sent again (`--retry-ms`).
    pub retry_ms: u64,
    /// Who gossips with whom (`--overlay`).
    pub overlay: Overlay,
    /// A deliberately broken variant, for showing what a sweep catches:
    /// each gossip is sent once and forgotten, so messages sent into a
    /// partition are lost for good.
    pub unreliable: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            gossip_ms: 50,
            retry_ms: 1000,
            overlay: Overlay::Star,
            unreliable: false,
        }
    }
}

/// What one peer still has to be sent: message index -> in flight?
type Outbox = BTreeMap<usize, bool>;

/// The request names a workload uses: broadcast's, or g-set's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `broadcast{message}`, `read` -> `read_ok{messages}`.
    Broadcast,
    /// `add{element}`, `read` -> `read_ok{value}`: a grow-only set.
    GSet,
}

pub struct Broadcast {
    options: Options,
    api: Api,
    /// Every message seen, in arrival order (what `read` returns).
    messages: Vec<Value>,
    /// `messages` as integers, while every one is an integer in `i64` (as
    /// the workloads send them): a `read_ok` is built from 8 bytes per
    /// message instead of a 32-byte `Value`. `Value::from` gives back the
    /// very `Value` each came as (serde_json keeps non-negative integers
    /// as `PosInt`, negative ones as `NegInt`).
    ints: Option<Vec<i64>>,
    /// The messages seen, for spotting a repeat.
    seen: Seen,
    peers: BTreeMap<String, Outbox>,
}

impl Broadcast {
    pub fn new(options: Options) -> Broadcast {
        Broadcast::with_api(options, Api::Broadcast)
    }

    /// The same gossip, answering the g-set workload: a grow-only set is a
    /// broadcast of its elements.
    pub fn with_api(options: Options, api: Api) -> Broadcast {
        Broadcast {
            options,
            api,
            messages: Vec::new(),
            ints: Some(Vec::new()),
            seen: Seen::default(),
            peers: BTreeMap::new(),
        }
    }

    pub fn messages(&self) -> &[Value] {
        &self.messages
    }

    fn set_peers(&mut self, peers: Vec<String>) {
        let old = std::mem::take(&mut self.peers);
        for peer in peers {
            // A new peer must learn everything known so far.
            let outbox = old
                .get(&peer)
                .cloned()
                .unwrap_or_else(|| (0..self.messages.len()).map(|i| (i, false)).collect());
            self.peers.insert(peer, outbox);
        }
    }

    /// Records `message` if it is new, queueing it for every peer except
    /// `from`. Says whether it was new.
    fn learn(&mut self, message: Value, from: Option<&str>) -> bool {
        if !self.seen.insert(&message) {
            return false;
        }
        let i = self.messages.len();
        match (&mut self.ints, message.as_i64()) {
            (Some(ints), Some(int)) => ints.push(int),
            (ints, _) => *ints = None,
        }
        self.messages.push(message);
        for (peer, outbox) in self.peers.iter_mut() {
            if Some(peer.as_str()) != from {
                outbox.insert(i, false);
            }
        }
        true
    }

    fn gossip(&mut self, ctx: &mut Context<Self>) {
        let timeout = self.options.retry_ms * NANOS_PER_MS;
        for (peer, outbox) in self.peers.iter_mut() {
            let batch: Vec<usize> = outbox
                .iter()
                .filter(|(_, in_flight)| !**in_flight)
                .map(|(i, _)| *i)
                .take(BATCH_LEN_MAX)
                .collect();
            if batch.is_empty() {
                continue;
            }
            for i in &batch {
                outbox.insert(*i, true);
            }
            let messages: Vec<Value> = batch.iter().map(|i| self.messages[*i].clone()).collect();
            if self.options.unreliable {
                for i in &batch {
                    outbox.remove(i);
                }
                ctx.send(peer.clone(), Body::new("gossip").with("messages", messages));
                continue;
            }
            let peer_name = peer.clone();
            ctx.rpc(
                peer.clone(),
                Body::new("gossip").with("messages", messages),
                timeout,
                move |node: &mut Broadcast, _ctx, result| {
                    let Some(outbox) = node.peers.get_mut(&peer_name) else {
                        return;
                    };
                    for i in batch {
                        match result {
                            // Acknowledged: the peer has it.
                            Ok(_) => {
                                outbox.remove(&i);
                            }
                            // Lost or refused: send it again next tick.
                            Err(_) => {
                                if let Some(in_flight) = outbox.get_mut(&i) {
                                    *in_flight = false;
                                }
                            }
                        }
                    }
                },
            );
        }
    }
}

/// The messages a node has seen. The workloads send integers, kept as
/// such; any other message is kept as its JSON text. An integer has one
/// JSON text, so this tells messages apart exactly as comparing texts does.
#[derive(Debug, Default)]
struct Seen {
    ints: BTreeSet<i64>,
    texts: BTreeSet<String>,
}

impl Seen {
    /// Records `message`; says whether it is new.
    fn insert(&mut self, message: &Value) -> bool {
        match message.as_i64() {
            Some(i) => self.ints.insert(i),
            None => self.texts.insert(message.to_string()),
        }
    }
}

/// A copy of one message for a `read_ok`. Numbers, all a workload sends,
/// are copied without going through `Value`'s general `clone`: a read
/// copies every message so far, and the general clone took a quarter of a
/// broadcast simulation's time (perf; three times the cost of this).
fn copy_message(message: &Value) -> Value {
    match message {
        Value::Number(n) => Value::Number(n.clone()),
        other => other.clone(),
    }
}

impl Node for Broadcast {
    fn init(&mut self, ctx: &mut Context<Self>) {
        if self.options.overlay == Overlay::Star {
            let me = ctx.node_id().to_string();
            let hub = ctx.node_ids().first().cloned().unwrap_or_default();
            let peers = if me == hub {
                ctx.peers().cloned().collect()
            } else {
                vec![hub]
            };
            self.set_peers(peers);
        }
        ctx.set_timer(self.options.gossip_ms * NANOS_PER_MS, TIMER_GOSSIP);
    }

    fn handle(&mut self, ctx: &mut Context<Self>, msg: Envelope) -> Result<(), NodeError> {
        let (add, field, ok, read_field) = match self.api {
            Api::Broadcast => ("broadcast", "message", "broadcast_ok", "messages"),
            Api::GSet => ("add", "element", "add_ok", "value"),
        };
        match msg.body.kind.as_str() {
            kind if kind == add => {
                let message = msg.body.get(field).cloned().ok_or_else(|| {
                    NodeError::malformed(format!("{add} needs a `{field}` field"))
                })?;
                self.learn(message, None);
                ctx.reply(&msg, Body::new(ok));
            }
            "read" => {
                let messages = Value::Array(match &self.ints {
                    Some(ints) => ints.iter().map(|&i| Value::from(i)).collect(),
                    None => self.messages.iter().map(copy_message).collect(),
                });
                ctx.reply(&msg, Body::new("read_ok").with(read_field, messages));
            }
            "topology" => {
                if self.options.overlay == Overlay::Given {
                    let me = ctx.node_id().to_string();
                    let neighbours = msg
                        .body
                        .get("topology")
                        .and_then(|t| t.get(&me))
                        .and_then(|n| n.as_array())
                        .map(|n| {
                            n.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    self.set_peers(neighbours);
                }
                ctx.reply(&msg, Body::new("topology_ok"));
            }
            "gossip" => {
                let messages = msg
                    .body
                    .get("messages")
                    .and_then(|m| m.as_array())
                    .cloned()
                    .ok_or_else(|| NodeError::malformed("gossip needs a `messages` array"))?;
                for message in messages {
                    self.learn(message, Some(&msg.src));
                }
                ctx.reply(&msg, Body::new("gossip_ok"));
            }
            // Acknowledgements of gossip sent without waiting (--unreliable).
            "gossip_ok" => {}
            other => return Err(NodeError::not_supported(other)),
        }
        Ok(())
    }

    fn timer(&mut self, ctx: &mut Context<Self>, token: u64) {
        if token == TIMER_GOSSIP {
            self.gossip(ctx);
            ctx.set_timer(self.options.gossip_ms * NANOS_PER_MS, TIMER_GOSSIP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_sdk::{json, MockCluster};

    fn read(cluster: &mut MockCluster<Broadcast>, node: &str) -> Vec<Value> {
        cluster
            .request("c9", node, Body::new("read"))
            .expect("read gets a reply")
            .body
            .get("messages")
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    #[test]
    fn every_node_learns_every_message() {
        let mut cluster = MockCluster::new(5, |_| Broadcast::new(Options::default()));
        for (i, node) in ["n1", "n3", "n0"].iter().enumerate() {
            let r = cluster.request("c1", node, Body::new("broadcast").with("message", i));
            assert_eq!(r.unwrap().body.kind, "broadcast_ok");
        }
        cluster.advance(300 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        for node in ["n0", "n1", "n2", "n3", "n4"] {
            let mut got = read(&mut cluster, node);
            got.sort_by_key(|v| v.as_i64());
            assert_eq!(got, vec![json!(0), json!(1), json!(2)], "node {node}");
        }
    }

    #[test]
    fn reads_return_every_kind_of_message_as_it_came() {
        let mut cluster = MockCluster::new(1, |_| Broadcast::new(Options::default()));
        let sent = [json!(-3), json!(7), json!(u64::MAX), json!("x"), json!(1.5)];
        for (k, message) in sent.iter().enumerate() {
            let body = Body::new("broadcast").with("message", message.clone());
            cluster.request("c1", "n0", body).expect("broadcast_ok");
            assert_eq!(read(&mut cluster, "n0"), sent[..=k].to_vec());
        }
    }

    #[test]
    fn messages_cross_a_healed_partition() {
        let mut cluster = MockCluster::new(3, |_| Broadcast::new(Options::default()));
        cluster.cut("n0", "n2");
        cluster.request("c1", "n2", Body::new("broadcast").with("message", 42));
        cluster.advance(3000 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        assert!(
            read(&mut cluster, "n1").is_empty(),
            "n2 reaches n1 only through the hub n0"
        );
        assert!(
            cluster.dropped_count > 1,
            "gossip was retried during the partition"
        );
        cluster.heal();
        cluster.advance(3000 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        assert_eq!(read(&mut cluster, "n1"), vec![json!(42)]);
        assert_eq!(read(&mut cluster, "n0"), vec![json!(42)]);
    }

    #[test]
    fn given_overlay_follows_the_topology() {
        let options = Options {
            overlay: Overlay::Given,
            ..Options::default()
        };
        let mut cluster = MockCluster::new(3, |_| Broadcast::new(options.clone()));
        let topology = json!({"n0": ["n1"], "n1": ["n0", "n2"], "n2": ["n1"]});
        for node in ["n0", "n1", "n2"] {
            let r = cluster.request(
                "c1",
                node,
                Body::new("topology").with("topology", topology.clone()),
            );
            assert_eq!(r.unwrap().body.kind, "topology_ok");
        }
        cluster.request("c1", "n0", Body::new("broadcast").with("message", 7));
        cluster.advance(500 * NANOS_PER_MS, 10 * NANOS_PER_MS);
        assert_eq!(read(&mut cluster, "n2"), vec![json!(7)]);
    }
}
