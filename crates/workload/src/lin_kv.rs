use std::collections::BTreeMap;

use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_linear::{self as linear, LinearOptions};
use lightcone_proto::{Body, ErrorCode, Value};

use crate::{Completion, Invocation, Next, Worker, Workload, WorkloadDetails};
use lightcone_rng::Rng;

/// Processes that may touch one key before its group moves to the next
/// (Jepsen's linearizable-register process limit).
const PROCESSES_PER_KEY_MAX: usize = 20;

/// Maelstrom's lin-kv (Jepsen's linearizable register test): workers come
/// in groups of 2n; each group works on one integer key at a time, half
/// its workers reading, half writing (1/3) or cas-ing (2/3) values 0..4.
/// After 20 processes have touched a key (clients crash and come back as
/// new processes) the group moves on to a fresh key. Values are Jepsen's
/// independent tuples `[key, value]`; checked per key as a cas-register.
pub struct LinKv {
    node_count: usize,
    /// Per group: its current key and the processes that touched it.
    groups: BTreeMap<usize, (u64, Vec<u64>)>,
    next_key: u64,
}

impl LinKv {
    pub fn new(node_count: usize) -> LinKv {
        LinKv {
            node_count,
            groups: BTreeMap::new(),
            next_key: 0,
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
                Ok(Value::from(vec![op.value[0].clone(), value]))
            }
            ("write", "write_ok") | ("cas", "cas_ok") => Ok(op.value.clone()),
            (f, kind) => Err(format!("a {f} got a reply of type {kind:?}")),
        };
        value.map(Next::Ok)
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
        let model =
            linear::model_by_name("independent-cas-register", None).expect("the model is built in");
        linear::check(history, model.as_ref(), &LinearOptions::default())
            .to_check_result()
            .map(WorkloadDetails::Linear)
    }
}
