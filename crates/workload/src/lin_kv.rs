use std::collections::BTreeMap;

use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_linear::{self as linear, LinearOptions};
use lightcone_proto::{Body, ErrorCode, Value};

use crate::ladder::{self, LadderDetails, LadderOptions, DEGRADED_READ};
use crate::{Completion, Invocation, Next, Worker, Workload, WorkloadDetails};
use lightcone_rng::Rng;

/// lin-kv's details when some reads were degraded: the check's own
/// details, and how many degraded reads it left out of the linearizable
/// and sequential checks (they are reads for the weaker models).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DegradedDetails {
    #[serde(flatten)]
    pub check: LinKvCheck,
    pub degraded_read_count: u64,
}

/// The details of lin-kv's check: linearizability alone, or the ladder.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum LinKvCheck {
    Linear(Box<lightcone_linear::Details>),
    Ladder(Box<LadderDetails>),
}

/// Processes that may touch one key before its group moves to the next
/// (Jepsen's linearizable-register process limit).
const PROCESSES_PER_KEY_MAX: usize = 20;

/// Maelstrom's lin-kv (Jepsen's linearizable register test): workers come
/// in groups of 2n; each group works on one integer key at a time, half
/// its workers reading, half writing (1/3) or cas-ing (2/3) values 0..4.
/// After 20 processes have touched a key (clients crash and come back as
/// new processes) the group moves on to a fresh key. Values are Jepsen's
/// independent tuples `[key, value]`; checked per key as a cas-register.
///
/// Held to models below linearizability (`--consistency-models`, see
/// `ladder.rs`), the writes change: the causal, PRAM and session checkers
/// decide only differentiated histories, so every write and every cas's
/// `to` is a value never written to that key before (0, 1, 2, ...), and a
/// cas's `from` is one of the last few values written to the key (lightcone
/// only; Maelstrom has no such option).
///
/// A `read_ok` with `"degraded": true` (a node's answer from its own state
/// when it could not serve the read linearizably, behind a flag such as
/// the Raft node's `degraded-reads`) completes as `ok` with the f
/// `read-degraded`: counted apart, left out of the linearizable and
/// sequential checks, a read for the weaker models (`ladder.rs`).
pub struct LinKv {
    node_count: usize,
    /// Per group: its current key and the processes that touched it.
    groups: BTreeMap<usize, (u64, Vec<u64>)>,
    next_key: u64,
    /// The models the history is held to, strongest first.
    models: Vec<&'static str>,
    /// With unique values, per key: the next value to write and the last
    /// few written.
    written: Option<BTreeMap<u64, (u64, Vec<u64>)>>,
}

/// How many of a key's latest values a cas may expect, with unique values.
const RECENT_VALUES: usize = 4;

impl LinKv {
    /// Held to linearizability, as Maelstrom's lin-kv is.
    pub fn new(node_count: usize) -> LinKv {
        LinKv::with_models(node_count, vec!["linearizable"])
    }

    /// Held to `models` (names from [`crate::ladder::REGISTER_MODELS`]).
    pub fn with_models(node_count: usize, models: Vec<&'static str>) -> LinKv {
        let unique = models.iter().any(|m| *m != "linearizable");
        LinKv {
            node_count,
            groups: BTreeMap::new(),
            next_key: 0,
            models,
            written: unique.then(BTreeMap::new),
        }
    }

    /// With unique values: a write or cas of a value new to `key`.
    fn next_unique(
        rng: &mut Rng,
        written: &mut BTreeMap<u64, (u64, Vec<u64>)>,
        key: u64,
    ) -> Invocation {
        let (next, recent) = written.entry(key).or_default();
        let value = *next;
        *next += 1;
        let cas_from = (!recent.is_empty() && rng.below(3) != 0)
            .then(|| recent[rng.below(recent.len() as u64) as usize]);
        recent.push(value);
        if recent.len() > RECENT_VALUES {
            recent.remove(0);
        }
        match cas_from {
            Some(from) => {
                let pair = Value::from(vec![Value::from(from), Value::from(value)]);
                Invocation::new("cas", Value::from(vec![Value::from(key), pair]))
            }
            None => Invocation::new(
                "write",
                Value::from(vec![Value::from(key), Value::from(value)]),
            ),
        }
    }

    fn key_for(&mut self, worker: Worker) -> u64 {
        let group = worker.index / (2 * self.node_count);
        let (key, processes) = match self.groups.remove(&group) {
            Some(g) => g,
            None => {
                let key = self.next_key;
                self.next_key += 1;
                (key, Vec::new())
            }
        };
        let (key, mut processes) =
            if !processes.contains(&worker.process) && processes.len() >= PROCESSES_PER_KEY_MAX {
                let key = self.next_key;
                self.next_key += 1;
                (key, Vec::new())
            } else {
                (key, processes)
            };
        if !processes.contains(&worker.process) {
            processes.push(worker.process);
        }
        self.groups.insert(group, (key, processes));
        key
    }
}

impl Workload for LinKv {
    fn name(&self) -> &'static str {
        "lin-kv"
    }

    fn validate(&self, concurrency: usize, node_count: usize) -> Result<(), String> {
        if !concurrency.is_multiple_of(2 * node_count) {
            return Err(format!(
                "--concurrency is {concurrency}, but lin-kv needs a multiple of 2 x the node count ({}): two kinds of client per key and node; try --concurrency 2n",
                2 * node_count
            ));
        }
        Ok(())
    }

    fn client_timeout_ns(&self, _default_ns: u64, latency_mean_ns: u64) -> u64 {
        // Maelstrom: max(10 x mean latency, 1 s).
        (10 * latency_mean_ns).max(1_000_000_000)
    }

    fn next_op(&mut self, rng: &mut Rng, worker: Worker) -> Invocation {
        let key = self.key_for(worker);
        let reader = worker.index % (2 * self.node_count) < self.node_count;
        if reader {
            return Invocation::new("read", Value::from(vec![Value::from(key), Value::Null]));
        }
        if let Some(written) = &mut self.written {
            return LinKv::next_unique(rng, written, key);
        }
        if rng.below(3) == 0 {
            Invocation::new(
                "write",
                Value::from(vec![Value::from(key), Value::from(rng.below(5))]),
            )
        } else {
            let pair = Value::from(vec![Value::from(rng.below(5)), Value::from(rng.below(5))]);
            Invocation::new("cas", Value::from(vec![Value::from(key), pair]))
        }
    }

    fn begin(&mut self, _worker: Worker, op: &Invocation) -> Next {
        let key = op.value[0].clone();
        Next::Request(match op.f.as_str() {
            "read" => Body::new("read").with("key", key),
            "write" => Body::new("write")
                .with("key", key)
                .with("value", op.value[1].clone()),
            _ => Body::new("cas")
                .with("key", key)
                .with("from", op.value[1][0].clone())
                .with("to", op.value[1][1].clone()),
        })
    }

    fn complete(&mut self, _worker: Worker, op: &Invocation, mut reply: Body) -> Completion {
        let value = match (op.f.as_str(), reply.kind.as_str()) {
            ("read", "read_ok") => {
                let value = reply
                    .fields
                    .remove("value")
                    .ok_or("read_ok needs a `value`")?;
                let value = Value::from(vec![op.value[0].clone(), value]);
                match reply.fields.get("degraded") {
                    None | Some(Value::Bool(false)) => Ok(Next::Ok(value)),
                    Some(Value::Bool(true)) => Ok(Next::OkAs {
                        f: DEGRADED_READ,
                        value,
                    }),
                    Some(other) => Err(format!(
                        "read_ok's `degraded` is true or false, not {other}"
                    )),
                }
            }
            ("write", "write_ok") | ("cas", "cas_ok") => Ok(Next::Ok(op.value.clone())),
            (f, kind) => Err(format!("a {f} got a reply of type {kind:?}")),
        };
        value
    }

    fn on_error(&mut self, _worker: Worker, op: &Invocation, code: ErrorCode) -> Option<Value> {
        // A read of a missing key observed that the key is absent: in
        // lightcone's histories a null read is that definite observation.
        (op.f == "read" && code == ErrorCode::KeyDoesNotExist)
            .then(|| Value::from(vec![op.value[0].clone(), Value::Null]))
    }

    fn is_idempotent(&self, f: &str) -> bool {
        f == "read"
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        let result = self.check_models(history);
        let degraded_read_count = ladder::degraded_read_count(history);
        if degraded_read_count == 0 {
            return result;
        }
        result.map(|check| {
            let check = match check {
                WorkloadDetails::Linear(d) => LinKvCheck::Linear(Box::new(d)),
                WorkloadDetails::Ladder(d) => LinKvCheck::Ladder(Box::new(d)),
                other => return other,
            };
            WorkloadDetails::Degraded(DegradedDetails {
                check,
                degraded_read_count,
            })
        })
    }
}

impl LinKv {
    /// The check of the models asked for (degraded reads left out of
    /// linearizable and sequential).
    fn check_models(&self, history: &History) -> CheckResult<WorkloadDetails> {
        let model =
            linear::model_by_name("independent-cas-register", None).expect("the model is built in");
        if self.models == ["linearizable"] {
            let strict = ladder::without_degraded_reads(history);
            return linear::check(&strict, model.as_ref(), &LinearOptions::default())
                .to_check_result()
                .map(WorkloadDetails::Linear);
        }
        let options = LadderOptions {
            keyed: true,
            ..LadderOptions::default()
        };
        let ladder = ladder::climb(history, model.as_ref(), &self.models, &options);
        let details = LadderDetails {
            model: "independent-cas-register",
            rungs: ladder.rungs.clone(),
            linear: ladder.linear.as_ref().map(|l| l.details()),
        };
        CheckResult::new(
            ladder.valid(),
            ladder.problems(),
            WorkloadDetails::Ladder(details),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_check::Validity;
    use lightcone_history::{Op, OpType, Process};
    use serde_json::json;

    fn history(ops: &[(u64, OpType, &str, Value)]) -> History {
        let mut h = History::default();
        for (t, (p, kind, f, value)) in ops.iter().enumerate() {
            let mut op = Op::new(Process::Client(*p), *kind, *f, value.clone());
            op.time = t as u64 * 10;
            h.push(op);
        }
        h
    }

    /// Writes 0 then 1 to key 0; then process 1 reads 1 and, degraded,
    /// the stale 0.
    fn stale_degraded_read(degraded_f: &str) -> History {
        use OpType::*;
        history(&[
            (0, Invoke, "write", json!([0, 0])),
            (0, Ok, "write", json!([0, 0])),
            (0, Invoke, "write", json!([0, 1])),
            (0, Ok, "write", json!([0, 1])),
            (1, Invoke, "read", json!([0, null])),
            (1, Ok, "read", json!([0, 1])),
            (1, Invoke, "read", json!([0, null])),
            (1, Ok, degraded_f, json!([0, 0])),
        ])
    }

    #[test]
    fn a_degraded_read_ok_completes_as_read_degraded() {
        let mut kv = LinKv::new(1);
        let worker = Worker {
            index: 0,
            process: 0,
        };
        let op = Invocation::new("read", json!([3, null]));
        let reply = |degraded: Value| {
            Body::new("read_ok")
                .with("value", 7)
                .with("degraded", degraded)
        };
        assert_eq!(
            kv.complete(worker, &op, reply(json!(true))),
            Ok(Next::OkAs {
                f: "read-degraded",
                value: json!([3, 7])
            })
        );
        assert_eq!(
            kv.complete(worker, &op, reply(json!(false))),
            Ok(Next::Ok(json!([3, 7])))
        );
        let bad = kv.complete(worker, &op, reply(json!("yes"))).unwrap_err();
        assert!(bad.contains("degraded"), "{bad}");
    }

    #[test]
    fn degraded_reads_are_counted_and_left_out_of_linearizability() {
        let kv = LinKv::new(1);
        let result = kv.check(&stale_degraded_read("read-degraded"));
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.problems);
        let details = serde_json::to_value(&result.details).unwrap();
        assert_eq!(details["degraded-read-count"], json!(1), "{details}");
        // The same stale answer as an ordinary read is not linearizable.
        let result = kv.check(&stale_degraded_read("read"));
        assert_eq!(result.valid, Validity::Invalid);
        let details = serde_json::to_value(&result.details).unwrap();
        assert!(details.get("degraded-read-count").is_none(), "{details}");
    }

    #[test]
    fn the_weaker_models_read_degraded_reads_as_reads() {
        let kv = LinKv::with_models(1, vec!["linearizable", "sequential", "pram"]);
        let result = kv.check(&stale_degraded_read("read-degraded"));
        let details = serde_json::to_value(&result.details).unwrap();
        let verdict = |model: &str| {
            details["rungs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["model"] == model)
                .map(|r| r["valid"].clone())
                .unwrap()
        };
        assert_eq!(verdict("linearizable"), json!(true), "{details}");
        assert_eq!(verdict("sequential"), json!(true), "{details}");
        // Process 1 read 1, then (degraded) 0, written before 1 by process 0.
        assert_eq!(verdict("pram"), json!(false), "{details}");
        assert_eq!(details["degraded-read-count"], json!(1));
        assert_eq!(result.valid, Validity::Invalid);
    }
}
