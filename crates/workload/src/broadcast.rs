use std::collections::BTreeMap;

use lightcone_check::CheckResult;
use lightcone_history::{History, IntMultiset};
use lightcone_proto::{Body, Value};
use lightcone_rng::Rng;

use crate::{Adds, WorkloadDetails};

/// Maelstrom's broadcast: a `topology` per node first, then `broadcast` of
/// unique integers and `read` (-> `read_ok{messages}`); checked as
/// set-full.
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

impl Adds for Broadcast {
    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn add_op(&self) -> (&'static str, &'static str) {
        ("broadcast", "message")
    }

    fn next_added(&mut self, _rng: &mut Rng) -> Value {
        self.next_message += 1;
        Value::from(self.next_message - 1)
    }

    fn read_value(&self, reply: &mut Body) -> Result<Value, String> {
        match reply.fields.remove("messages") {
            Some(messages @ Value::Array(_)) => Ok(IntMultiset::compact(messages)),
            _ => Err("read_ok needs a `messages` array".to_string()),
        }
    }

    fn setup(&self, _node: &str) -> Option<Body> {
        let topology: serde_json::Map<String, Value> = self
            .topology
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        Some(Body::new("topology").with("topology", Value::Object(topology)))
    }

    fn check(&self, history: &History) -> CheckResult<WorkloadDetails> {
        lightcone_check::set_full::check(history, "broadcast", "read").map(WorkloadDetails::SetFull)
    }
}
