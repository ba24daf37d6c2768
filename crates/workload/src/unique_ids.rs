use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Value};

use crate::{Completion, Invocation, Next, Worker, Workload, WorkloadDetails};
use lightcone_rng::Rng;

/// `generate` -> `generate_ok{id}`: no id may be handed out twice.
pub struct UniqueIds;

impl Workload for UniqueIds {
    fn name(&self) -> &'static str {
        "unique-ids"
    }

    fn next_op(&mut self, _rng: &mut Rng, _worker: Worker) -> Invocation {
        Invocation::new("generate", Value::Null)
    }

    fn begin(&mut self, _worker: Worker, _op: &Invocation) -> Next {
        Next::Request(Body::new("generate"))
    }

    fn complete(&mut self, _worker: Worker, _op: &Invocation, mut reply: Body) -> Completion {
        crate::take_field(&mut reply, "generate_ok", "id").map(Next::Ok)
    }

    fn is_idempotent(&self, _f: &str) -> bool {
        false
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        lightcone_check::unique_ids::check(history).map(WorkloadDetails::UniqueIds)
    }
}
