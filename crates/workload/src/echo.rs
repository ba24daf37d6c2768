use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Value};

use crate::{Completion, Invocation, Next, Worker, Workload, WorkloadDetails};
use lightcone_rng::Rng;

/// `echo{echo}` -> `echo_ok{echo}`: the reply must echo the request.
pub struct Echo;

impl Workload for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn next_op(&mut self, rng: &mut Rng, _worker: Worker) -> Invocation {
        Invocation::new(
            "echo",
            Value::from(format!("Please echo {}", rng.below(128))),
        )
    }

    fn begin(&mut self, _worker: Worker, op: &Invocation) -> Next {
        Next::Request(Body::new("echo").with("echo", op.value.clone()))
    }

    fn complete(&mut self, _worker: Worker, _op: &Invocation, mut reply: Body) -> Completion {
        crate::take_field(&mut reply, "echo_ok", "echo").map(Next::Ok)
    }

    fn is_idempotent(&self, _f: &str) -> bool {
        false
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        lightcone_check::echo::check(history).map(WorkloadDetails::Echo)
    }
}
