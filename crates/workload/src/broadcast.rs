use std::collections::BTreeMap;

use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Value};

use crate::{FinalOp, Invocation, Next, Worker, Workload, WorkloadDetails};
use lightcone_rng::Rng;

/// Maelstrom's broadcast: a `topology` per node first, then an even mix of
/// `broadcast` of unique integers and `read`; checked as set-full.
pub struct Broadcast {
    topology: BTreeMap<String, Vec<String>>,
    next_message: u64,
}

impl Broadcast {
    pub fn new(topology: BTreeMap<String, Vec<String>>) -> Broadcast {
        Broadcast {
            topology,
            next_message: 0,
        }
    }
}

impl Workload for Broadcast {
    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn setup(&self, _node: &str) -> Option<Body> {
        let topology: serde_json::Map<String, Value> = self
            .topology
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        Some(Body::new("topology").with("topology", Value::Object(topology)))
    }

    fn next_op(&mut self, rng: &mut Rng, _worker: Worker) -> Invocation {
        crate::add_or_read(rng, |_| {
            let message = self.next_message;
            self.next_message += 1;
            Invocation::new("broadcast", Value::from(message))
        })
    }

    fn begin(&mut self, _worker: Worker, op: &Invocation) -> Next {
        Next::Request(match op.f.as_str() {
            "broadcast" => Body::new("broadcast").with("message", op.value.clone()),
            _ => Body::new("read"),
        })
    }

    fn complete(
        &mut self,
        _worker: Worker,
        op: &Invocation,
        mut reply: Body,
    ) -> Result<Next, String> {
        let value = match (op.f.as_str(), reply.kind.as_str()) {
            ("broadcast", "broadcast_ok") => Ok(op.value.clone()),
            ("read", "read_ok") => match reply.fields.remove("messages") {
                Some(messages @ Value::Array(_)) => Ok(messages),
                _ => Err("read_ok needs a `messages` array".to_string()),
            },
            (f, kind) => Err(format!("a {f} got a reply of type {kind:?}")),
        };
        value.map(Next::Ok)
    }

    fn is_idempotent(&self, f: &str) -> bool {
        f == "read"
    }

    fn final_op(&mut self, _worker: Worker, n: usize) -> Option<FinalOp> {
        crate::final_read(n)
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        lightcone_check::set_full::check(history, "broadcast", "read").map(WorkloadDetails::SetFull)
    }
}
