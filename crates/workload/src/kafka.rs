use std::collections::{BTreeMap, BTreeSet};

use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Map, Value};

use crate::{Invocation, Rng, Worker, Workload};

/// Maelstrom's kafka workload, simplified from Jepsen's: string keys
/// "0".."k-1"; sends of unique integer messages; each client consumes every
/// key from its own positions, commits what it has consumed, and after a
/// crash resumes from the committed offsets. Ops and their values:
///
/// * `send` `[key, msg]` -> ok `[key, msg, offset]`
/// * `poll` `{key: offset}` -> ok `{key: [[offset, msg], ...]}`
/// * `commit_offsets` `{key: offset}` -> ok, same value
/// * `list_committed_offsets` `[keys]` -> ok `{key: offset}`
///
/// Final reads: every client polls every key from offset 0.
pub struct Kafka {
    keys: Vec<String>,
    next_message: u64,
    /// Per worker: the next offset to poll per key.
    positions: BTreeMap<usize, BTreeMap<String, u64>>,
    /// Workers that crashed and must first fetch their committed offsets.
    resuming: BTreeSet<usize>,
}

impl Kafka {
    pub fn new(key_count: usize) -> Kafka {
        Kafka {
            keys: (0..key_count.max(1)).map(|k| k.to_string()).collect(),
            next_message: 0,
            positions: BTreeMap::new(),
            resuming: BTreeSet::new(),
        }
    }

    fn poll_from(&self, worker: usize) -> Value {
        let positions = self.positions.get(&worker);
        let map: Map = self
            .keys
            .iter()
            .map(|k| {
                (
                    k.clone(),
                    Value::from(positions.and_then(|p| p.get(k)).copied().unwrap_or(0)),
                )
            })
            .collect();
        Value::Object(map)
    }
}

impl Workload for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn next_op(&mut self, rng: &mut Rng, worker: Worker) -> Invocation {
        if self.resuming.contains(&worker.index) {
            return Invocation::new("list_committed_offsets", Value::from(self.keys.clone()));
        }
        match rng.below(20) {
            0..=9 => {
                let key = self.keys[rng.below(self.keys.len() as u64) as usize].clone();
                let message = self.next_message;
                self.next_message += 1;
                Invocation::new(
                    "send",
                    Value::from(vec![Value::from(key), Value::from(message)]),
                )
            }
            10..=16 => Invocation::new("poll", self.poll_from(worker.index)),
            17..=18 => {
                // Commit what was consumed: the last offset polled, per key.
                let consumed: Map = self
                    .positions
                    .get(&worker.index)
                    .into_iter()
                    .flatten()
                    .filter(|(_, next)| **next > 0)
                    .map(|(k, next)| (k.clone(), Value::from(next - 1)))
                    .collect();
                if consumed.is_empty() {
                    Invocation::new("poll", self.poll_from(worker.index))
                } else {
                    Invocation::new("commit_offsets", Value::Object(consumed))
                }
            }
            _ => Invocation::new("list_committed_offsets", Value::from(self.keys.clone())),
        }
    }

    fn request(&self, op: &Invocation) -> Body {
        match op.f.as_str() {
            "send" => Body::new("send")
                .with("key", op.value[0].clone())
                .with("msg", op.value[1].clone()),
            "poll" => Body::new("poll").with("offsets", op.value.clone()),
            "commit_offsets" => Body::new("commit_offsets").with("offsets", op.value.clone()),
            _ => Body::new("list_committed_offsets").with("keys", op.value.clone()),
        }
    }

    fn complete(
        &mut self,
        worker: Worker,
        op: &Invocation,
        mut reply: Body,
    ) -> Result<Value, String> {
        match (op.f.as_str(), reply.kind.as_str()) {
            ("send", "send_ok") => {
                let offset = reply
                    .get_u64("offset")
                    .ok_or("send_ok needs a non-negative integer `offset`")?;
                Ok(Value::from(vec![
                    op.value[0].clone(),
                    op.value[1].clone(),
                    Value::from(offset),
                ]))
            }
            ("poll", "poll_ok") => {
                let Some(Value::Object(msgs)) = reply.fields.remove("msgs") else {
                    return Err(
                        "poll_ok needs a `msgs` object of key -> [[offset, msg], ...]".into(),
                    );
                };
                let positions = self.positions.entry(worker.index).or_default();
                for (key, list) in &msgs {
                    let list = list
                        .as_array()
                        .ok_or("each key of poll_ok's msgs holds an array")?;
                    for pair in list {
                        let offset = pair
                            .get(0)
                            .and_then(Value::as_u64)
                            .ok_or("each polled message is [offset, msg] with an integer offset")?;
                        let next = positions.entry(key.clone()).or_insert(0);
                        *next = (*next).max(offset + 1);
                    }
                }
                Ok(Value::Object(msgs))
            }
            ("commit_offsets", "commit_offsets_ok") => Ok(op.value.clone()),
            ("list_committed_offsets", "list_committed_offsets_ok") => {
                let Some(Value::Object(offsets)) = reply.fields.remove("offsets") else {
                    return Err("list_committed_offsets_ok needs an `offsets` object".into());
                };
                if self.resuming.remove(&worker.index) {
                    // Resume after the last committed message.
                    let positions = self.positions.entry(worker.index).or_default();
                    for (key, offset) in &offsets {
                        if let Some(o) = offset.as_u64() {
                            positions.insert(key.clone(), o + 1);
                        }
                    }
                }
                Ok(Value::Object(offsets))
            }
            (f, kind) => Err(format!("a {f} got a reply of type {kind:?}")),
        }
    }

    fn crashed(&mut self, worker: Worker) {
        self.positions.remove(&worker.index);
        self.resuming.insert(worker.index);
    }

    fn is_idempotent(&self, f: &str) -> bool {
        // Polls have effects on positions only in the client; reading the
        // log itself changes nothing, so a timed-out poll did not happen in
        // any way the checker can see.
        f == "poll" || f == "list_committed_offsets"
    }

    fn final_op(&self, _worker: Worker) -> Option<Invocation> {
        let from_start: Map = self
            .keys
            .iter()
            .map(|k| (k.clone(), Value::from(0)))
            .collect();
        Some(Invocation::new("poll", Value::Object(from_start)))
    }

    fn check(&self, history: &History) -> CheckResult {
        lightcone_check::kafka::check(history)
    }
}
