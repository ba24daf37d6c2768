use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Value};

use crate::{FinalOp, Invocation, Next, Worker, Workload, WorkloadDetails};
use lightcone_rng::Rng;

/// Maelstrom's g-counter (deltas 0..4) and pn-counter (deltas -5..4): an
/// even mix of `add{delta}` and `read` (-> `read_ok{value}`), final reads
/// after healing, each of which must be an acceptable sum.
pub struct Counter {
    name: &'static str,
    delta_min: i64,
}

impl Counter {
    pub fn grow_only() -> Counter {
        Counter {
            name: "g-counter",
            delta_min: 0,
        }
    }

    pub fn positive_negative() -> Counter {
        Counter {
            name: "pn-counter",
            delta_min: -5,
        }
    }
}

impl Workload for Counter {
    fn name(&self) -> &'static str {
        self.name
    }

    fn next_op(&mut self, rng: &mut Rng, _worker: Worker) -> Invocation {
        let delta_min = self.delta_min;
        crate::add_or_read(rng, |rng| {
            Invocation::new("add", Value::from(rng.between(delta_min, 4)))
        })
    }

    fn begin(&mut self, _worker: Worker, op: &Invocation) -> Next {
        Next::Request(match op.f.as_str() {
            "add" => Body::new("add").with("delta", op.value.clone()),
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
            ("add", "add_ok") => Ok(op.value.clone()),
            ("read", "read_ok") => match reply.fields.remove("value") {
                Some(v) if v.is_i64() => Ok(v),
                Some(v) if v.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                    Ok(Value::from(v.as_f64().unwrap_or(0.0) as i64))
                }
                _ => Err("read_ok needs an integer `value`".into()),
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
        lightcone_check::counter::check(history).map(WorkloadDetails::Counter)
    }
}
