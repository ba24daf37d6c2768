use lightcone_check::CheckResult;
use lightcone_history::History;
use lightcone_proto::{Body, Value};
use lightcone_rng::Rng;

use crate::{Adds, WorkloadDetails};

/// Maelstrom's g-counter (deltas 0..4) and pn-counter (deltas -5..4):
/// `add{delta}` and `read` (-> `read_ok{value}`); each final read must be
/// an acceptable sum.
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

impl Adds for Counter {
    fn name(&self) -> &'static str {
        self.name
    }

    fn add_op(&self) -> (&'static str, &'static str) {
        ("add", "delta")
    }

    fn next_added(&mut self, rng: &mut Rng) -> Value {
        Value::from(rng.between(self.delta_min, 4))
    }

    fn read_value(&self, reply: &mut Body) -> Result<Value, String> {
        match reply.fields.remove("value") {
            Some(v) if v.is_i64() => Ok(v),
            Some(v) if v.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                Ok(Value::from(v.as_f64().unwrap_or(0.0) as i64))
            }
            _ => Err("read_ok needs an integer `value`".into()),
        }
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        lightcone_check::counter::check(history).map(WorkloadDetails::Counter)
    }
}
