//! Maelstrom's services: key-value stores and a timestamp oracle that
//! nodes address by name (`lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`), with
//! the semantics of Maelstrom's service.clj. Services are never
//! partitioned; their messages take network latency; their randomness
//! comes from the run's seed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lightcone_proto::{Body, ErrorCode, Value};
use lightcone_rng::Rng;

/// The names nodes send to.
pub const SERVICE_NAMES: [&str; 4] = ["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// States `seq-kv` keeps for stale reads.
const SEQ_KV_WINDOW: usize = 32;

pub fn is_service(id: &str) -> bool {
    SERVICE_NAMES.contains(&id)
}

fn error(code: ErrorCode, text: impl Into<String>) -> Body {
    Body::new("error")
        .with("code", code.code())
        .with("text", text.into())
}

/// A key's identity: its JSON text (so 1 and "1" are different keys, as
/// in Maelstrom).
fn key_of(body: &Body) -> Option<String> {
    body.get("key").map(|k| k.to_string())
}

/// One state of a key-value map, with a Lamport timestamp per key (used by
/// lww-kv only).
#[derive(Debug, Clone, Default, PartialEq)]
struct Kv {
    clock: u64,
    map: BTreeMap<String, (Value, u64)>,
}

impl Kv {
    /// Maelstrom's PersistentKV (and LWWKV, which differs only in that cas
    /// ignores create_if_not_exists). Returns the reply and the write to
    /// [`Kv::apply`] if the request changes the state (the caller decides
    /// whether in place or on a copy: seq-kv keeps its old states).
    fn handle(&self, body: &Body, lww: bool) -> (Body, Option<(String, Value)>) {
        let Some(key) = key_of(body) else {
            return (
                error(ErrorCode::MalformedRequest, "a kv request needs a `key`"),
                None,
            );
        };
        let current = self.map.get(&key).map(|(v, _)| v);
        match body.kind.as_str() {
            "read" => match current {
                Some(v) => (Body::new("read_ok").with("value", v.clone()), None),
                None => (
                    error(ErrorCode::KeyDoesNotExist, "key does not exist"),
                    None,
                ),
            },
            "write" => {
                let value = body.get("value").cloned().unwrap_or(Value::Null);
                (Body::new("write_ok"), Some((key, value)))
            }
            "cas" => {
                let from = body.get("from").cloned().unwrap_or(Value::Null);
                let to = body.get("to").cloned().unwrap_or(Value::Null);
                let create =
                    !lww && body.get("create_if_not_exists").and_then(Value::as_bool) == Some(true);
                match current {
                    Some(v) if *v == from => (Body::new("cas_ok"), Some((key, to))),
                    Some(v) => (
                        error(
                            ErrorCode::PreconditionFailed,
                            format!("current value {v} is not {from}"),
                        ),
                        None,
                    ),
                    None if create => (Body::new("cas_ok"), Some((key, to))),
                    None => (
                        error(ErrorCode::KeyDoesNotExist, "key does not exist"),
                        None,
                    ),
                }
            }
            other => (
                error(
                    ErrorCode::NotSupported,
                    format!(
                        "the kv services do not handle {other:?}; they handle read, write and cas"
                    ),
                ),
                None,
            ),
        }
    }

    /// Writes `value` under `key`, stamped with the next clock tick.
    fn apply(&mut self, key: String, value: Value) {
        self.map.insert(key, (value, self.clock));
        self.clock += 1;
    }
}

/// One of lww-kv's two replicas, with the keys it wrote since it last
/// merged into the other.
#[derive(Debug, Default)]
struct LwwReplica {
    kv: Kv,
    unmerged: BTreeSet<String>,
}

/// lww-kv's random merge, `into` taking the newer entries of `from`
/// (per key the higher timestamp wins, ties keep `into`'s). Only the keys
/// `from` wrote since its last merge into `into` can win: every other
/// entry of `from` is one `into` already has, or had something newer for,
/// so the merge costs the writes since, not the whole map (Maelstrom merges
/// the whole map before every request).
fn merge_lww(into: &mut LwwReplica, from: &mut LwwReplica) {
    into.kv.clock = into.kv.clock.max(from.kv.clock);
    for key in std::mem::take(&mut from.unmerged) {
        let (value, ts) = &from.kv.map[&key];
        match into.kv.map.get(&key) {
            Some((_, mine)) if *mine >= *ts => {}
            _ => {
                into.kv.map.insert(key, (value.clone(), *ts));
            }
        }
    }
}

/// seq-kv: a window of recent states; a caller reads any state from the
/// last it saw to the newest (never going back); a request that changes
/// the state runs on the newest and moves the caller there.
#[derive(Debug)]
struct SequentialKv {
    /// The last SEQ_KV_WINDOW states; `last_index` numbers the newest.
    window: Vec<Arc<Kv>>,
    last_index: u64,
    callers: BTreeMap<String, u64>,
}

impl SequentialKv {
    fn new() -> SequentialKv {
        SequentialKv {
            window: vec![Arc::new(Kv::default())],
            last_index: 0,
            callers: BTreeMap::new(),
        }
    }

    fn handle(&mut self, caller: &str, body: &Body, rng: &mut Rng) -> Body {
        let oldest = self.last_index + 1 - self.window.len() as u64;
        let seen = self.callers.get(caller).copied().unwrap_or(0).max(oldest);
        let index = seen + rng.below(self.last_index - seen + 1);
        let state = &self.window[(index - oldest) as usize];
        let (reply, next) = state.handle(body, false);
        if next.is_none() {
            self.callers.insert(caller.to_string(), index);
            return reply;
        }
        // It changes the state: run it on the newest instead.
        let newest = self.window.last().expect("the window is never empty");
        let (reply, write) = newest.handle(body, false);
        if let Some((key, value)) = write {
            let mut next = Kv::clone(newest);
            next.apply(key, value);
            self.window.push(Arc::new(next));
            if self.window.len() > SEQ_KV_WINDOW {
                self.window.remove(0);
            }
            self.last_index += 1;
        }
        self.callers.insert(caller.to_string(), self.last_index);
        reply
    }
}

/// All of a run's services.
pub(crate) struct Services {
    lin_kv: Kv,
    seq_kv: SequentialKv,
    lww_kv: [LwwReplica; 2],
    tso: u64,
    rng: Rng,
    pub request_count: u64,
}

impl Services {
    pub fn new(rng: Rng) -> Services {
        Services {
            lin_kv: Kv::default(),
            seq_kv: SequentialKv::new(),
            lww_kv: [LwwReplica::default(), LwwReplica::default()],
            tso: 0,
            rng,
            request_count: 0,
        }
    }

    /// Handles a request from `caller` to `service`; returns the reply body
    /// (with `in_reply_to` set, no `msg_id`, as Maelstrom's services do).
    pub fn handle(&mut self, service: &str, caller: &str, body: &Body) -> Body {
        self.request_count += 1;
        let mut reply = match service {
            "lin-kv" => {
                let (reply, write) = self.lin_kv.handle(body, false);
                if let Some((key, value)) = write {
                    self.lin_kv.apply(key, value);
                }
                reply
            }
            "seq-kv" => self.seq_kv.handle(caller, body, &mut self.rng),
            "lww-kv" => {
                // A random merge between the two replicas, then the request
                // on a random replica.
                let (source, dest) = (self.rng.below(2) as usize, self.rng.below(2) as usize);
                if source != dest {
                    let [a, b] = &mut self.lww_kv;
                    if dest == 0 {
                        merge_lww(a, b);
                    } else {
                        merge_lww(b, a);
                    }
                }
                let i = self.rng.below(2) as usize;
                let replica = &mut self.lww_kv[i];
                let (reply, write) = replica.kv.handle(body, true);
                if let Some((key, value)) = write {
                    replica.unmerged.insert(key.clone());
                    replica.kv.apply(key, value);
                }
                reply
            }
            "lin-tso" => match body.kind.as_str() {
                "ts" => {
                    let ts = self.tso;
                    self.tso += 1;
                    Body::new("ts_ok").with("ts", ts)
                }
                other => error(
                    ErrorCode::NotSupported,
                    format!("lin-tso handles ts, not {other:?}"),
                ),
            },
            other => unreachable!("{other} is not a service"),
        };
        reply.in_reply_to = body.msg_id;
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_proto::json;

    fn req(kind: &str, key: i64) -> Body {
        let mut b = Body::new(kind).with("key", key);
        b.msg_id = Some(1);
        b
    }

    fn read(s: &mut Services, service: &str, caller: &str, key: i64) -> Value {
        let r = s.handle(service, caller, &req("read", key));
        if r.is_error() {
            Value::Null
        } else {
            r.get("value").unwrap().clone()
        }
    }

    /// Maelstrom's lww-kv merges the whole map before every request; the
    /// service merges only the writes since the last merge. On random
    /// requests, with the same random choices, every reply is the same.
    #[test]
    fn lww_merges_of_recent_writes_equal_whole_map_merges() {
        fn whole_merge(into: &Kv, from: &Kv) -> Kv {
            let mut merged = into.clone();
            merged.clock = into.clock.max(from.clock);
            for (k, (v, ts)) in &from.map {
                match merged.map.get(k) {
                    Some((_, mine)) if *mine >= *ts => {}
                    _ => {
                        merged.map.insert(k.clone(), (v.clone(), *ts));
                    }
                }
            }
            merged
        }
        for seed in 0..40 {
            let mut service = Services::new(Rng::new(seed, 4));
            let mut choices = Rng::new(seed, 4);
            let mut whole = [Kv::default(), Kv::default()];
            let mut requests = Rng::new(seed, 9);
            for i in 0..400u64 {
                let key = requests.below(6) as i64;
                let body = match requests.below(3) {
                    0 => req("read", key),
                    1 => req("write", key).with("value", i),
                    _ => req("cas", key)
                        .with("from", requests.below(i + 1))
                        .with("to", i),
                };
                let got = service.handle("lww-kv", "n0", &body);
                let (from, into) = (choices.below(2) as usize, choices.below(2) as usize);
                whole[into] = whole_merge(&whole[into], &whole[from]);
                let replica = choices.below(2) as usize;
                let (mut want, write) = whole[replica].handle(&body, true);
                if let Some((key, value)) = write {
                    whole[replica].apply(key, value);
                }
                want.in_reply_to = body.msg_id;
                assert_eq!(got, want, "seed {seed}, request {i}: {body:?}");
            }
        }
    }

    #[test]
    fn lin_kv_is_one_atomic_map() {
        let mut s = Services::new(Rng::new(1, 4));
        assert_eq!(
            s.handle("lin-kv", "n0", &req("read", 1)).error_code(),
            Some(20)
        );
        let w = s.handle("lin-kv", "n0", &req("write", 1).with("value", 5));
        assert_eq!(w.kind, "write_ok");
        assert_eq!(w.in_reply_to, Some(1));
        assert_eq!(read(&mut s, "lin-kv", "n1", 1), json!(5));
        let bad = s.handle("lin-kv", "n0", &req("cas", 1).with("from", 4).with("to", 6));
        assert_eq!(bad.error_code(), Some(22));
        let ok = s.handle("lin-kv", "n0", &req("cas", 1).with("from", 5).with("to", 6));
        assert_eq!(ok.kind, "cas_ok");
        let missing = s.handle("lin-kv", "n0", &req("cas", 2).with("from", 0).with("to", 1));
        assert_eq!(missing.error_code(), Some(20));
        let created = s.handle(
            "lin-kv",
            "n0",
            &req("cas", 2)
                .with("from", 0)
                .with("to", 1)
                .with("create_if_not_exists", true),
        );
        assert_eq!(created.kind, "cas_ok");
        assert_eq!(read(&mut s, "lin-kv", "n0", 2), json!(1));
        // 1 and "1" are different keys.
        let text_key = s.handle("lin-kv", "n0", &Body::new("read").with("key", "1"));
        assert_eq!(text_key.error_code(), Some(20));
    }

    #[test]
    fn unknown_requests_get_not_supported() {
        let mut s = Services::new(Rng::new(1, 4));
        for service in SERVICE_NAMES {
            let r = s.handle(service, "n0", &req("frobnicate", 1));
            assert_eq!(r.error_code(), Some(10), "{service}");
        }
    }

    #[test]
    fn seq_kv_reads_may_be_stale_but_never_go_back_for_one_caller() {
        let mut s = Services::new(Rng::new(7, 4));
        for v in 0..10 {
            s.handle("seq-kv", "writer", &req("write", 1).with("value", v));
        }
        // The writer saw its own last write: it never reads older.
        for _ in 0..50 {
            assert_eq!(read(&mut s, "seq-kv", "writer", 1), json!(9));
        }
        // A fresh reader may see stale values, never decreasing.
        let mut stale_seen = false;
        for reader in 0..20 {
            let caller = format!("r{reader}");
            let mut last = -1;
            for _ in 0..30 {
                let v = read(&mut s, "seq-kv", &caller, 1).as_i64().unwrap_or(-1);
                assert!(v >= last, "{caller} went back from {last} to {v}");
                stale_seen |= v < 9;
                last = v;
            }
        }
        assert!(stale_seen, "seq-kv served some stale read");
    }

    #[test]
    fn lww_kv_can_lose_a_write() {
        // Writes to another key advance one replica's Lamport clock; a
        // later write of key 1 on the other replica gets a lower timestamp
        // and loses to the earlier one once the replicas merge.
        let mut lost = false;
        for seed in 0..100 {
            let mut s = Services::new(Rng::new(seed, 4));
            for v in 0..5 {
                s.handle("lww-kv", "n0", &req("write", 2).with("value", v));
            }
            s.handle("lww-kv", "n0", &req("write", 1).with("value", "a"));
            s.handle("lww-kv", "n1", &req("write", 1).with("value", "b"));
            let reads: Vec<Value> = (0..60).map(|_| read(&mut s, "lww-kv", "n2", 1)).collect();
            if reads[40..].iter().all(|v| *v == json!("a")) {
                lost = true;
                break;
            }
        }
        assert!(lost, "some seed loses the later write for good");
    }

    #[test]
    fn lww_kv_cas_ignores_create_if_not_exists() {
        let mut s = Services::new(Rng::new(3, 4));
        let r = s.handle(
            "lww-kv",
            "n0",
            &req("cas", 9)
                .with("from", 0)
                .with("to", 1)
                .with("create_if_not_exists", true),
        );
        assert_eq!(r.error_code(), Some(20));
    }

    #[test]
    fn lin_tso_counts_up_from_zero() {
        let mut s = Services::new(Rng::new(3, 4));
        let ts: Vec<u64> = (0..3)
            .map(|_| {
                s.handle("lin-tso", "n0", &Body::new("ts"))
                    .get_u64("ts")
                    .unwrap()
            })
            .collect();
        assert_eq!(ts, vec![0, 1, 2]);
    }
}
