use lightcone_check::CheckResult;
use lightcone_history::{History, IntMultiset};
use lightcone_proto::{Body, Value};
use lightcone_rng::Rng;

use crate::{Adds, WorkloadDetails};

/// Maelstrom's g-set: `add{element}` of unique integers and `read`
/// (-> `read_ok{value}`); checked as set-full.
#[derive(Default)]
pub struct GSet {
    next_element: u64,
}

impl Adds for GSet {
    fn name(&self) -> &'static str {
        "g-set"
    }

    fn add_op(&self) -> (&'static str, &'static str) {
        ("add", "element")
    }

    fn next_added(&mut self, _rng: &mut Rng) -> Value {
        self.next_element += 1;
        Value::from(self.next_element - 1)
    }

    fn read_value(&self, reply: &mut Body) -> Result<Value, String> {
        match reply.fields.remove("value") {
            Some(elements @ Value::Array(_)) => Ok(IntMultiset::compact(elements)),
            _ => {
                Err("read_ok needs a `value` array (g-set's key is `value`, not `elements`)".into())
            }
        }
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        lightcone_check::set_full::check(history, "add", "read").map(WorkloadDetails::SetFull)
    }
}
