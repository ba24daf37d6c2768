//! Maelstrom's add-and-read workloads: broadcast, g-set, g-counter and
//! pn-counter. Each is an even mix of an add op and `read` (Maelstrom's
//! `gen/mix`), then one final read per worker after healing; they differ
//! only in what [`Adds`] says: the add op and its field, what is added, how
//! a `read_ok` carries its value, and which checker decides.

use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Value};
use lightcone_rng::Rng;

use crate::{Completion, FinalOp, Invocation, Next, Worker, Workload, WorkloadDetails};

/// What one add-and-read workload adds, and how it reads and checks.
pub trait Adds: Send {
    fn name(&self) -> &'static str;

    /// The add op's `f`, which is also its request's type, and the request
    /// field that carries the added value: `("add", "element")`.
    fn add_op(&self) -> (&'static str, &'static str);

    /// The next value to add.
    fn next_added(&mut self, rng: &mut Rng) -> Value;

    /// The value a `read_ok` carries, moved out of it, or what is wrong
    /// with it. Broadcast and g-set record a read of integers in its
    /// compact form (`IntMultiset`), as the reply completes, so that the
    /// run never holds every read's elements as JSON values.
    fn read_value(&self, reply: &mut Body) -> Result<Value, String>;

    /// A request to send to `node` once before the test starts, or none.
    fn setup(&self, _node: &str) -> Option<Body> {
        None
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails>;
}

/// An add-and-read workload (see the module docs).
pub struct AddRead<A>(pub A);

impl<A: Adds> Workload for AddRead<A> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn setup(&self, node: &str) -> Option<Body> {
        self.0.setup(node)
    }

    fn next_op(&mut self, rng: &mut Rng, _worker: Worker) -> Invocation {
        if rng.below(2) == 0 {
            let (f, _) = self.0.add_op();
            Invocation::new(f, self.0.next_added(rng))
        } else {
            Invocation::new("read", Value::Null)
        }
    }

    fn begin(&mut self, _worker: Worker, op: &Invocation) -> Next {
        let (add, field) = self.0.add_op();
        Next::Request(if op.f == add {
            Body::new(add).with(field, op.value.clone())
        } else {
            Body::new("read")
        })
    }

    fn complete(&mut self, _worker: Worker, op: &Invocation, mut reply: Body) -> Completion {
        let (add, _) = self.0.add_op();
        let (f, kind) = (op.f.as_str(), reply.kind.as_str());
        if f == add && kind.strip_suffix("_ok") == Some(add) {
            Ok(Next::Ok(op.value.clone()))
        } else if f == "read" && kind == "read_ok" {
            self.0.read_value(&mut reply).map(Next::Ok)
        } else {
            Err(format!("a {f} got a reply of type {kind:?}"))
        }
    }

    fn is_idempotent(&self, f: &str) -> bool {
        f == "read"
    }

    /// The one read each worker performs after recovery.
    fn final_op(&mut self, _worker: Worker, n: usize) -> Option<FinalOp> {
        (n == 0).then(|| FinalOp::now(Invocation::new("read", Value::Null)))
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        self.0.check(history)
    }
}
