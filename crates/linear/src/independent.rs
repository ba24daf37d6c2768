//! [`Independent`]: any model checked once per key of Jepsen independent
//! tuples `[key, v]`, each key its own partition (P-compositionality).

use serde_json::Value;

use super::model::{split_tuple, Model, ModelOp, Part, RegisterOp};

/// Checks an inner model once per key, for ops whose values are Jepsen
/// independent tuples `[key, v]` (Jepsen's `independent` checker). The key
/// is the first element of the invocation's value; the inner model sees the
/// op with input `v` from the invocation and output `v` from the
/// completion. An op whose value is not a two-element array is malformed.
pub struct Independent {
    inner: Box<dyn Model>,
    name: String,
}

impl Independent {
    pub fn new(inner: Box<dyn Model>) -> Independent {
        let name = format!("independent-{}", inner.name());
        Independent { inner, name }
    }
}

impl Model for Independent {
    fn name(&self) -> &str {
        &self.name
    }

    fn init(&self) -> Value {
        self.inner.init()
    }

    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        self.inner.step(state, op)
    }

    fn steps(&self, state: &Value, op: &ModelOp) -> Vec<Value> {
        self.inner.steps(state, op)
    }

    fn partition(&self, op: &ModelOp) -> Result<Option<Part>, String> {
        let (key, input) = split_tuple(&op.input).ok_or_else(|| {
            format!(
                "the invocation's value {} is not a [key, value] tuple",
                op.input
            )
        })?;
        let output = match &op.output {
            None => None,
            Some(out) => {
                let (out_key, v) = split_tuple(out).ok_or_else(|| {
                    format!("the completion's value {out} is not a [key, value] tuple")
                })?;
                if out_key != key {
                    return Err(format!(
                        "the completion's key {out_key} differs from the invocation's {key}"
                    ));
                }
                Some(v.clone())
            }
        };
        Ok(Some(Part {
            key: key.clone(),
            op: ModelOp::new(op.f.clone(), input.clone(), output),
        }))
    }

    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        self.inner.validate(op)
    }

    fn is_read_only(&self, op: &ModelOp) -> bool {
        self.inner.is_read_only(op)
    }

    fn may_become_legal(&self, state: &Value, op: &ModelOp) -> bool {
        self.inner.may_become_legal(state, op)
    }

    fn is_monotone(&self, op: &ModelOp) -> bool {
        self.inner.is_monotone(op)
    }

    fn may_revive(&self, op: &ModelOp, read: &ModelOp) -> bool {
        self.inner.may_revive(op, read)
    }

    fn register_op<'o>(&self, op: &'o ModelOp) -> Option<RegisterOp<'o>> {
        self.inner.register_op(op)
    }

    fn describe_op(&self, op: &ModelOp) -> String {
        self.inner.describe_op(op)
    }

    /// The inner model's text for the op, and the key: "read 2 from key
    /// 0", "write 2 to key 0", "cas 1 -> 2 on key 0".
    fn describe_keyed_op(&self, key: &Value, op: &ModelOp) -> Option<String> {
        let preposition = match &*op.f {
            "read" | "get" | "dequeue" => "from",
            "write" | "put" | "append" | "add" | "enqueue" => "to",
            _ => "on",
        };
        Some(format!(
            "{} {preposition} key {key}",
            self.inner.describe_op(op)
        ))
    }

    fn describe_state(&self, state: &Value) -> String {
        self.inner.describe_state(state)
    }
}
