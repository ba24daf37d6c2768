//! Maelstrom's kafka workload (`maelstrom.workload.kafka` on Jepsen's
//! `jepsen.tests.kafka` with `:txn? false`, `:sub-via #{:assign}`,
//! `:crash-clients? true`), generated and recorded as Maelstrom does.
//!
//! **Keys.** Elle's `wr-txns` with one micro-op per op: `--key-count` keys
//! are active at once (default 10), each op picks one with an exponential
//! distribution (the last active key twice as likely as the one before it),
//! half the ops send and half poll; a key's messages are 1, 2, 3, ... and
//! after `--max-writes-per-key` sends (default 16) the key is retired and a
//! fresh one takes its place. Keys are strings ("0", "1", ...): many short
//! logs, as node performance under Maelstrom depends on.
//!
//! **Clients.** Each client keeps the offsets it will poll next for the keys
//! it is assigned; a fresh client has none (its polls ask for `{}`).
//! Operations and what they record (Jepsen's shapes):
//!
//! - `send` `[["send", k, v]]` -> `send{key, msg}` -> ok
//!   `[["send", k, [offset, v]]]`;
//! - `poll` `[["poll"]]` -> `poll{offsets}`, then `commit_offsets` of the
//!   highest offset polled per key -> ok `[["poll", {k: [[offset, v]]}]]`;
//!   the client's offsets move past what it polled once the commit is
//!   acknowledged (Maelstrom's client moves them before it commits, so a
//!   definite error on the commit leaves it past messages it never recorded,
//!   which the checker would then call a skip: lightcone does not);
//! - `assign` `[k, ...]` (1 in 64 ops, for the key of the op it displaces,
//!   plus, a third of the time, the keys with acknowledged messages no poll
//!   has returned yet) -> `list_committed_offsets{keys}` -> ok
//!   `{"keys": [...], "committed": {k: offset}}`; the client then polls
//!   those keys, each from its own offset, else the committed one, else 0;
//! - `crash` (each client about every 30 s): no request; `info`, and the
//!   worker goes on as a new process with a fresh client.
//!
//! Only `assign` is idempotent: a poll or send that times out is `info`.
//!
//! **Final polls.** After healing and recovery, every worker crashes its
//! client, assigns every key any `ok` op touched, from offset 0 (no request:
//! Jepsen's `seek-to-beginning`), and polls every 0 to 400 ms until its polls
//! have reached the highest offset known of each key, for at most 10 s.

use std::collections::BTreeMap;

use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Map, Value};

use crate::{
    Completion, FinalOp, Invocation, Next, Worker, Workload, WorkloadDetails, WorkloadOptions,
};
use lightcone_rng::Rng;

/// Elle's default for the exponential key distribution.
const KEY_COUNT_DEFAULT: usize = 10;
/// Jepsen's `:crash-client-interval`: each client crashes about this often.
const CRASH_INTERVAL_S: f64 = 30.0;
/// Jepsen's `:sub-p`: the chance an op is replaced by an assign.
const ASSIGN_ONE_IN: u64 = 64;
/// Maelstrom clips the final polls to 10 s.
const FINAL_TIME_LIMIT_NS: u64 = 10_000_000_000;
/// Jepsen's final polls are staggered by 1/5 s.
const FINAL_POLL_STAGGER_NS: u64 = 200_000_000;

/// An op the key generator planned: a send of the key's next message, or
/// a poll (whose key is what an assign in its place would name).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Planned {
    Send { key: u64, msg: u64 },
    Poll { key: u64 },
}

impl Planned {
    fn key(self) -> u64 {
        match self {
            Planned::Send { key, .. } | Planned::Poll { key } => key,
        }
    }
}

/// One client's state: where it polls next.
#[derive(Debug, Default)]
struct Client {
    /// Assigned key -> the offset to poll from.
    offsets: BTreeMap<String, i64>,
    /// A poll waiting for its commit to be acknowledged.
    polled: Option<Polled>,
}

/// A poll's result, the highest offset it returned per key, and the
/// offsets the client moves to once the commit is acknowledged.
#[derive(Debug)]
struct Polled {
    value: Value,
    highest: BTreeMap<String, i64>,
    next: BTreeMap<String, i64>,
}

pub struct Kafka {
    max_writes_per_key: u64,
    /// The chance an op is a client crash: concurrency / 30 crashes per
    /// second among `rate` ops per second.
    crash_chance: f64,
    /// The keys in play, in the order the distribution weighs them.
    active_keys: Vec<u64>,
    /// Sends so far per active key.
    writes: BTreeMap<u64, u64>,
    /// An op displaced by an assign; the generator offers it again.
    displaced: Option<Planned>,
    /// Jepsen's `poll-unseen`: per key, the highest offset an ok send got
    /// and an ok poll returned, kept while the send is ahead.
    sent: BTreeMap<String, i64>,
    polled: BTreeMap<String, i64>,
    /// Jepsen's `track-key-offsets`: the highest offset any ok op showed of
    /// each key, which the final polls must reach.
    known: BTreeMap<String, i64>,
    clients: BTreeMap<usize, Client>,
    /// Set when the final phase begins: per worker, the keys whose final
    /// offset its polls have yet to reach.
    remaining: Option<BTreeMap<usize, BTreeMap<String, i64>>>,
}

impl Kafka {
    pub fn new(options: &WorkloadOptions) -> Kafka {
        let key_count = options
            .key_count
            .map_or(KEY_COUNT_DEFAULT, |n| n.max(1) as usize);
        let crash_chance = if options.rate > 0.0 {
            (options.concurrency as f64 / CRASH_INTERVAL_S / options.rate).min(1.0)
        } else {
            0.0
        };
        Kafka {
            max_writes_per_key: options.max_writes_per_key.max(1),
            crash_chance,
            active_keys: (0..key_count as u64).collect(),
            writes: BTreeMap::new(),
            displaced: None,
            sent: BTreeMap::new(),
            polled: BTreeMap::new(),
            known: BTreeMap::new(),
            clients: BTreeMap::new(),
            remaining: None,
        }
    }

    /// Elle's `rand-key` with the exponential distribution, base 2.
    fn pick_key(&self, rng: &mut Rng) -> u64 {
        let n = self.active_keys.len();
        let scale = (2f64.powi(n as i32) - 1.0) * 2.0;
        let index = ((rng.unit() * scale + 2.0).log2() - 1.0).floor();
        self.active_keys[(index.max(0.0) as usize).min(n - 1)]
    }

    /// Elle's `wr-txns` for one micro-op: a read or a write of a random
    /// active key; a key whose writes are used up is replaced by a fresh one
    /// and the choice is made again.
    fn plan(&mut self, rng: &mut Rng) -> Planned {
        loop {
            let write = rng.below(2) == 1;
            let key = self.pick_key(rng);
            if !write {
                return Planned::Poll { key };
            }
            let msg = self.writes.get(&key).copied().unwrap_or(0) + 1;
            if msg <= self.max_writes_per_key {
                self.writes.insert(key, msg);
                return Planned::Send { key, msg };
            }
            self.writes.remove(&key);
            let fresh = self.active_keys.iter().max().copied().unwrap_or(0) + 1;
            let slot = self
                .active_keys
                .iter()
                .position(|k| *k == key)
                .expect("a picked key is active");
            self.active_keys[slot] = fresh;
        }
    }

    /// Jepsen's `poll-unseen` and `track-key-offsets` take each ok op's
    /// highest offsets.
    fn saw(&mut self, sent: Option<(&str, i64)>, polled: &BTreeMap<String, i64>) {
        if let Some((key, offset)) = sent {
            raise(&mut self.sent, key, offset);
            raise(&mut self.known, key, offset);
        }
        for (key, offset) in polled {
            raise(&mut self.polled, key, *offset);
            raise(&mut self.known, key, *offset);
        }
        let caught_up: Vec<String> = self
            .sent
            .iter()
            .filter(|(k, s)| self.polled.get(*k).copied().unwrap_or(-1) >= **s)
            .map(|(k, _)| k.clone())
            .collect();
        for k in caught_up {
            self.sent.remove(&k);
            self.polled.remove(&k);
        }
        self.polled.retain(|k, _| self.sent.contains_key(k));
    }

    fn client(&mut self, worker: Worker) -> &mut Client {
        self.clients.entry(worker.index).or_default()
    }
}

fn raise(map: &mut BTreeMap<String, i64>, key: &str, offset: i64) {
    match map.get_mut(key) {
        Some(o) => *o = (*o).max(offset),
        None => {
            map.insert(key.to_string(), offset);
        }
    }
}

/// Reads `poll_ok`'s `msgs`: per key, `[offset, msg]` pairs. Returns the
/// highest offset per key (-1 for an empty list, as Jepsen's
/// `op->max-poll-offsets`).
fn polled_offsets(msgs: &Map) -> Result<BTreeMap<String, i64>, String> {
    let mut offsets = BTreeMap::new();
    for (key, pairs) in msgs {
        let pairs = pairs.as_array().ok_or_else(|| {
            format!("poll_ok's msgs[{key:?}] must be an array of [offset, msg] pairs")
        })?;
        let mut max = -1;
        for pair in pairs {
            let offset = match pair.as_array().map(Vec::as_slice) {
                Some([offset, _msg]) => offset.as_i64(),
                _ => None,
            }
            .ok_or_else(|| {
                format!("poll_ok's msgs[{key:?}] holds {pair}, not an [offset, msg] pair with an integer offset")
            })?;
            max = max.max(offset);
        }
        offsets.insert(key.clone(), max);
    }
    Ok(offsets)
}

fn keys_of(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Workload for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn next_op(&mut self, rng: &mut Rng, _worker: Worker) -> Invocation {
        if self.crash_chance > 0.0 && rng.unit() < self.crash_chance {
            return Invocation::new("crash", Value::Null);
        }
        let planned = match self.displaced.take() {
            Some(p) => p,
            None => self.plan(rng),
        };
        if rng.below(ASSIGN_ONE_IN) == 0 {
            // Jepsen's interleave-subscribes keeps the displaced op for
            // later; poll-unseen adds the keys polls have not caught up on.
            self.displaced = Some(planned);
            let mut keys = vec![planned.key().to_string()];
            if !self.sent.is_empty() && rng.below(3) == 0 {
                for k in self.sent.keys() {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
            }
            return Invocation::new("assign", Value::from(keys));
        }
        match planned {
            Planned::Send { key, msg } => Invocation::new(
                "send",
                Value::from(vec![Value::from(vec![
                    Value::from("send"),
                    Value::from(key.to_string()),
                    Value::from(msg),
                ])]),
            ),
            Planned::Poll { .. } => {
                Invocation::new("poll", Value::from(vec![Value::from(vec!["poll"])]))
            }
        }
    }

    fn begin(&mut self, worker: Worker, op: &Invocation) -> Next {
        let final_phase = self.remaining.is_some();
        match op.f.as_str() {
            "crash" => Next::Info,
            "send" => Next::Request(
                Body::new("send")
                    .with("key", op.value[0][1].clone())
                    .with("msg", op.value[0][2].clone()),
            ),
            "poll" => {
                let client = self.client(worker);
                client.polled = None;
                let offsets: Map = client
                    .offsets
                    .iter()
                    .map(|(k, o)| (k.clone(), Value::from(*o)))
                    .collect();
                Next::Request(Body::new("poll").with("offsets", Value::Object(offsets)))
            }
            _ if final_phase => {
                // The final assign seeks every key to the beginning.
                self.client(worker).offsets =
                    keys_of(&op.value).into_iter().map(|k| (k, 0)).collect();
                Next::Ok(op.value.clone())
            }
            _ => Next::Request(Body::new("list_committed_offsets").with("keys", op.value.clone())),
        }
    }

    fn complete(&mut self, worker: Worker, op: &Invocation, reply: Body) -> Completion {
        match (op.f.as_str(), reply.kind.as_str()) {
            ("send", "send_ok") => self.sent(op, &reply),
            ("poll", "poll_ok") => self.polled(worker, reply),
            ("poll", "commit_offsets_ok") => {
                let client = self.client(worker);
                let polled = client
                    .polled
                    .take()
                    .ok_or("commit_offsets_ok came for no poll")?;
                client.offsets = polled.next;
                self.polled_ok(worker, &polled.highest);
                Ok(Next::Ok(polled.value))
            }
            ("assign", "list_committed_offsets_ok") => self.assigned(worker, op, reply),
            (f, kind) => Err(format!("a {f} got a reply of type {kind:?}")),
        }
    }

    fn crashed(&mut self, worker: Worker) {
        self.clients.remove(&worker.index);
    }

    fn is_idempotent(&self, f: &str) -> bool {
        f == "assign"
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn final_time_limit_ns(&self) -> Option<u64> {
        Some(FINAL_TIME_LIMIT_NS)
    }

    fn final_op(&mut self, worker: Worker, n: usize) -> Option<FinalOp> {
        let known = &self.known;
        let remaining = self
            .remaining
            .get_or_insert_with(BTreeMap::new)
            .entry(worker.index)
            .or_insert_with(|| known.clone());
        if remaining.is_empty() {
            return None;
        }
        Some(match n {
            0 => FinalOp::now(Invocation::new("crash", Value::Null)),
            1 => FinalOp::now(Invocation::new(
                "assign",
                Value::from(self.known.keys().cloned().collect::<Vec<_>>()),
            )),
            _ => FinalOp {
                op: Invocation::new("poll", Value::from(vec![Value::from(vec!["poll"])])),
                stagger_mean_ns: FINAL_POLL_STAGGER_NS,
            },
        })
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        lightcone_kafka::check(history).map(WorkloadDetails::Kafka)
    }
}

impl Kafka {
    /// An ok poll by `worker` returned these highest offsets.
    fn polled_ok(&mut self, worker: Worker, highest: &BTreeMap<String, i64>) {
        match &mut self.remaining {
            // Final polls: Jepsen's FinalPolls crosses off each key reached.
            Some(all) => {
                if let Some(remaining) = all.get_mut(&worker.index) {
                    remaining.retain(|k, target| highest.get(k).is_none_or(|seen| seen < target));
                }
            }
            None => self.saw(None, highest),
        }
    }

    /// A send's ack: the message and the offset it got.
    fn sent(&mut self, op: &Invocation, reply: &Body) -> Completion {
        let offset = reply
            .get("offset")
            .and_then(Value::as_i64)
            .ok_or("send_ok needs an integer `offset`")?;
        let key = op.value[0][1].as_str().unwrap_or_default().to_string();
        let msg = op.value[0][2].clone();
        self.saw(Some((&key, offset)), &BTreeMap::new());
        Ok(Next::Ok(Value::from(vec![Value::from(vec![
            Value::from("send"),
            Value::from(key),
            Value::from(vec![Value::from(offset), msg]),
        ])])))
    }

    /// A poll's reply: moves the worker's offsets past what it saw, then
    /// commits the highest offset polled of each key that had any (the poll
    /// completes when the commit does).
    fn polled(&mut self, worker: Worker, mut reply: Body) -> Completion {
        let Some(Value::Object(msgs)) = reply.fields.remove("msgs") else {
            return Err("poll_ok needs a `msgs` object of key -> [[offset, msg], ...]".into());
        };
        let highest = polled_offsets(&msgs)?;
        let client = self.client(worker);
        let mut next = client.offsets.clone();
        for (key, max) in &highest {
            raise(&mut next, key, max + 1);
        }
        let commit: Map = highest
            .iter()
            .filter(|(_, max)| **max >= 0)
            .map(|(k, max)| (k.clone(), Value::from(*max)))
            .collect();
        let value = Value::from(vec![Value::from(vec![
            Value::from("poll"),
            Value::Object(msgs),
        ])]);
        if commit.is_empty() {
            client.offsets = next;
            self.polled_ok(worker, &highest);
            return Ok(Next::Ok(value));
        }
        client.polled = Some(Polled {
            value,
            highest,
            next,
        });
        Ok(Next::Request(
            Body::new("commit_offsets").with("offsets", Value::Object(commit)),
        ))
    }

    /// An assign's committed offsets: each assigned key resumes where this
    /// worker left it, or else at its committed offset, or else at 0.
    fn assigned(&mut self, worker: Worker, op: &Invocation, mut reply: Body) -> Completion {
        let committed = match reply.fields.remove("offsets") {
            Some(Value::Object(offsets)) => offsets,
            _ => {
                return Err(
                    "list_committed_offsets_ok needs an `offsets` object of key -> offset".into(),
                )
            }
        };
        let keys = keys_of(&op.value);
        let client = self.client(worker);
        let assigned: BTreeMap<String, i64> = keys
            .iter()
            .map(|k| {
                let from = client
                    .offsets
                    .get(k)
                    .copied()
                    .or_else(|| committed.get(k).and_then(Value::as_i64));
                (k.clone(), from.unwrap_or(0))
            })
            .collect();
        client.offsets = assigned;
        let committed: Map = committed.into_iter().filter(|(_, o)| o.is_i64()).collect();
        let mut value = Map::new();
        value.insert("keys".into(), Value::from(keys));
        value.insert("committed".into(), Value::Object(committed));
        Ok(Next::Ok(Value::Object(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Topology;

    fn kafka(key_count: Option<u64>, max_writes_per_key: u64) -> Kafka {
        Kafka::new(&WorkloadOptions {
            nodes: vec!["n0".into()],
            topology: Topology::Grid,
            key_count,
            max_writes_per_key,
            max_txn_length: 4,
            consistency_models: Vec::new(),
            concurrency: 2,
            rate: 1000.0,
        })
    }

    fn worker(index: usize) -> Worker {
        Worker {
            index,
            process: index as u64,
        }
    }

    #[test]
    fn keys_retire_after_their_writes_and_fresh_ones_take_their_place() {
        let mut k = kafka(None, 16);
        let mut rng = Rng::new(7, 1);
        let mut sends: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for _ in 0..20_000 {
            if let Planned::Send { key, msg } = k.plan(&mut rng) {
                sends.entry(key).or_default().push(msg);
            }
        }
        assert!(sends.len() > 100, "{} keys", sends.len());
        for (key, msgs) in &sends {
            assert!(msgs.len() <= 16, "key {key}: {msgs:?}");
            let expected: Vec<u64> = (1..=msgs.len() as u64).collect();
            assert_eq!(msgs, &expected, "key {key}");
        }
        assert_eq!(k.active_keys.len(), 10);
    }

    #[test]
    fn the_last_active_key_is_the_likeliest() {
        let k = kafka(Some(4), 16);
        let mut rng = Rng::new(1, 1);
        let mut counts = [0u32; 4];
        for _ in 0..15_000 {
            counts[k.pick_key(&mut rng) as usize] += 1;
        }
        // Weights 1:2:4:8 out of 15.
        for (i, c) in counts.iter().enumerate() {
            let expected = 15_000.0 * f64::from(1u32 << i) / 15.0;
            assert!(
                (f64::from(*c) - expected).abs() < expected * 0.15 + 50.0,
                "{counts:?}"
            );
        }
    }

    #[test]
    fn a_poll_commits_then_moves_on() {
        let mut k = kafka(None, 16);
        let w = worker(0);
        let assign = Invocation::new("assign", Value::from(vec!["3"]));
        assert!(
            matches!(k.begin(w, &assign), Next::Request(b) if b.kind == "list_committed_offsets")
        );
        let reply =
            Body::new("list_committed_offsets_ok").with("offsets", serde_json::json!({"3": 4}));
        let done = k.complete(w, &assign, reply).unwrap();
        assert_eq!(
            done,
            Next::Ok(serde_json::json!({"keys": ["3"], "committed": {"3": 4}}))
        );
        let poll = Invocation::new("poll", serde_json::json!([["poll"]]));
        let Next::Request(request) = k.begin(w, &poll) else {
            panic!("a poll asks")
        };
        assert_eq!(request.get("offsets"), Some(&serde_json::json!({"3": 4})));
        let reply = Body::new("poll_ok").with("msgs", serde_json::json!({"3": [[4, 5], [5, 6]]}));
        let Next::Request(commit) = k.complete(w, &poll, reply).unwrap() else {
            panic!("a poll commits")
        };
        assert_eq!(commit.get("offsets"), Some(&serde_json::json!({"3": 5})));
        // Not moved until the commit is acknowledged.
        assert_eq!(k.clients[&0].offsets["3"], 4);
        let done = k
            .complete(w, &poll, Body::new("commit_offsets_ok"))
            .unwrap();
        assert_eq!(
            done,
            Next::Ok(serde_json::json!([["poll", {"3": [[4, 5], [5, 6]]}]]))
        );
        assert_eq!(k.clients[&0].offsets["3"], 6);
        // A poll whose commit fails leaves the offsets where they were.
        let Next::Request(_) = k.begin(w, &poll) else {
            panic!()
        };
        let reply = Body::new("poll_ok").with("msgs", serde_json::json!({"3": [[6, 7]]}));
        let _ = k.complete(w, &poll, reply).unwrap();
        let Next::Request(_) = k.begin(w, &poll) else {
            panic!()
        };
        assert_eq!(k.clients[&0].offsets["3"], 6);
    }

    #[test]
    fn malformed_poll_replies_are_named() {
        let mut k = kafka(None, 16);
        let poll = Invocation::new("poll", serde_json::json!([["poll"]]));
        let _ = k.begin(worker(0), &poll);
        let reply = Body::new("poll_ok").with("msgs", serde_json::json!({"3": [[4]]}));
        let err = k.complete(worker(0), &poll, reply).unwrap_err();
        assert!(err.contains("msgs[\"3\"]"), "{err}");
    }

    #[test]
    fn final_polls_run_until_every_known_offset_is_reached() {
        let mut k = kafka(None, 16);
        k.known.insert("1".into(), 2);
        k.known.insert("2".into(), 0);
        let w = worker(1);
        assert_eq!(k.final_op(w, 0).unwrap().op.f, "crash");
        let assign = k.final_op(w, 1).unwrap().op;
        assert_eq!(assign.value, serde_json::json!(["1", "2"]));
        assert_eq!(k.begin(w, &assign), Next::Ok(assign.value.clone()));
        let poll = k.final_op(w, 2).unwrap();
        assert_eq!(poll.stagger_mean_ns, FINAL_POLL_STAGGER_NS);
        let Next::Request(request) = k.begin(w, &poll.op) else {
            panic!()
        };
        assert_eq!(
            request.get("offsets"),
            Some(&serde_json::json!({"1": 0, "2": 0}))
        );
        let reply = Body::new("poll_ok").with(
            "msgs",
            serde_json::json!({"1": [[0, 1], [1, 2], [2, 3]], "2": [[0, 1]]}),
        );
        let _ = k.complete(w, &poll.op, reply).unwrap();
        let _ = k
            .complete(w, &poll.op, Body::new("commit_offsets_ok"))
            .unwrap();
        assert!(k.final_op(w, 3).is_none());
        // Another worker still has its own to do.
        assert!(k.final_op(worker(0), 0).is_some());
    }
}
