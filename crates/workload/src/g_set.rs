use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Value};

use crate::{FinalOp, Invocation, Next, Worker, Workload, WorkloadDetails};
use lightcone_rng::Rng;

/// Maelstrom's g-set: an even mix of `add{element}` of unique integers and
/// `read` (-> `read_ok{value}`), final reads after healing; set-full.
#[derive(Default)]
pub struct GSet {
    next_element: u64,
}

impl Workload for GSet {
    fn name(&self) -> &'static str {
        "g-set"
    }

    fn next_op(&mut self, rng: &mut Rng, _worker: Worker) -> Invocation {
        crate::add_or_read(rng, |_| {
            let element = self.next_element;
            self.next_element += 1;
            Invocation::new("add", Value::from(element))
        })
    }

    fn begin(&mut self, _worker: Worker, op: &Invocation) -> Next {
        Next::Request(match op.f.as_str() {
            "add" => Body::new("add").with("element", op.value.clone()),
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
                Some(elements @ Value::Array(_)) => Ok(elements),
                _ => Err(
                    "read_ok needs a `value` array (g-set's key is `value`, not `elements`)".into(),
                ),
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
        lightcone_check::set_full::check(history, "add", "read").map(WorkloadDetails::SetFull)
    }
}
