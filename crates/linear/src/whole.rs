//! Checking a partitioned model without P-compositionality
//! ([`LinearOptions::split`](super::LinearOptions::split) false): one
//! partition whose state is the map of every partition's state, as
//! Porcupine's `kvNoPartitionModel` does. Slower by far than checking the
//! parts apart, and equivalent to it (Horn & Kroening 2015); it exists to
//! cross-check the split and to measure the search on one large state.

use serde_json::Value;

use super::model::{Model, ModelOp, Part};

/// A model whose state is a map from partition key to the inner model's
/// state for that key, as a JSON array of `[slot, state]` pairs sorted by
/// slot, the key's JSON text (the empty string for ops
/// [`Model::partition`] leaves unkeyed). A key whose state is the inner
/// model's initial state is left out, so that equal maps are equal values.
pub(crate) struct Whole<'m> {
    inner: &'m dyn Model,
    init: Value,
}

/// The `(slot, state)` pairs of a state.
fn entries(state: &Value) -> impl Iterator<Item = (&str, &Value)> {
    state.as_array().into_iter().flatten().filter_map(|pair| {
        match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(k), v]) => Some((k.as_str(), v)),
            _ => None,
        }
    })
}

/// The slot for an op's partition: its key's JSON text, or "" for
/// the unkeyed partition (no JSON text is empty).
fn slot(key: Option<&Value>) -> String {
    key.map_or_else(String::new, Value::to_string)
}

impl<'m> Whole<'m> {
    pub fn new(inner: &'m dyn Model) -> Whole<'m> {
        Whole {
            inner,
            init: inner.init(),
        }
    }

    /// The op's partition (its slot) and the op as that partition sees
    /// it; `None` when it cannot be partitioned.
    fn split(&self, op: &ModelOp) -> Option<(String, ModelOp)> {
        match self.inner.partition(op).ok()? {
            Some(Part { key, op }) => Some((slot(Some(&key)), op)),
            None => Some((slot(None), op.clone())),
        }
    }

    fn get<'s>(&'s self, state: &'s Value, slot: &str) -> &'s Value {
        entries(state)
            .find(|(k, _)| *k == slot)
            .map_or(&self.init, |(_, v)| v)
    }

    /// `state` with `slot` set to `inner`, keys sorted.
    fn with(&self, state: &Value, slot: &str, inner: Value) -> Value {
        let pair = |k: &str, v: Value| Value::Array(vec![Value::String(k.to_string()), v]);
        let mut pairs = Vec::with_capacity(state.as_array().map_or(0, Vec::len) + 1);
        let mut inner = (inner != self.init).then_some(inner);
        for (k, v) in entries(state) {
            if k > slot {
                if let Some(inner) = inner.take() {
                    pairs.push(pair(slot, inner));
                }
            }
            if k != slot {
                pairs.push(pair(k, v.clone()));
            }
        }
        if let Some(inner) = inner {
            pairs.push(pair(slot, inner));
        }
        Value::Array(pairs)
    }
}

impl Model for Whole<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn init(&self) -> Value {
        Value::Array(Vec::new())
    }

    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        let (slot, op) = self.split(op)?;
        let next = self.inner.step(self.get(state, &slot), &op)?;
        Some(self.with(state, &slot, next))
    }

    fn steps(&self, state: &Value, op: &ModelOp) -> Vec<Value> {
        let Some((slot, op)) = self.split(op) else {
            return Vec::new();
        };
        self.inner
            .steps(self.get(state, &slot), &op)
            .into_iter()
            .map(|next| self.with(state, &slot, next))
            .collect()
    }

    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        match self.inner.partition(op)? {
            Some(part) => self.inner.validate(&part.op),
            None => self.inner.validate(op),
        }
    }

    fn is_read_only(&self, op: &ModelOp) -> bool {
        self.split(op)
            .is_some_and(|(_, op)| self.inner.is_read_only(&op))
    }

    fn may_become_legal(&self, state: &Value, op: &ModelOp) -> bool {
        match self.split(op) {
            Some((slot, op)) => self.inner.may_become_legal(self.get(state, &slot), &op),
            None => true,
        }
    }

    fn is_monotone(&self, op: &ModelOp) -> bool {
        self.split(op)
            .is_some_and(|(_, op)| self.inner.is_monotone(&op))
    }

    /// An op on another key leaves the read's key as it is.
    fn may_revive(&self, op: &ModelOp, read: &ModelOp) -> bool {
        match (self.split(op), self.split(read)) {
            (Some((a, op)), Some((b, read))) => a == b && self.inner.may_revive(&op, &read),
            _ => true,
        }
    }

    fn describe_op(&self, op: &ModelOp) -> String {
        match self.inner.partition(op) {
            Ok(Some(part)) => match self.inner.describe_keyed_op(&part.key, &part.op) {
                Some(text) => text,
                None => format!("{} {}", part.key, self.inner.describe_op(&part.op)),
            },
            _ => self.inner.describe_op(op),
        }
    }

    fn describe_state(&self, state: &Value) -> String {
        let described: Vec<String> = entries(state)
            .map(|(k, v)| format!("{k}: {}", self.inner.describe_state(v)))
            .collect();
        format!("{{{}}}", described.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::model_by_name;
    use serde_json::json;

    fn ok(f: &str, input: Value, output: Value) -> ModelOp {
        ModelOp::new(f.to_string(), input, Some(output))
    }

    #[test]
    fn the_state_maps_each_key_to_its_value() {
        let kv = model_by_name("kv", None).unwrap();
        let m = Whole::new(kv.as_ref());
        let s = m.init();
        let s = m
            .step(&s, &ok("append", json!(["b", "x"]), json!(["b", "x"])))
            .unwrap();
        let s = m
            .step(&s, &ok("put", json!(["a", "y"]), json!(["a", "y"])))
            .unwrap();
        assert_eq!(s, json!([["\"a\"", "y"], ["\"b\"", "x"]]), "sorted by key");
        let get_b = ok("get", json!(["b", null]), json!(["b", "x"]));
        assert!(m.is_read_only(&get_b));
        assert_eq!(m.step(&s, &get_b), Some(s.clone()));
        let get_c = ok("get", json!(["c", null]), json!(["c", ""]));
        assert_eq!(m.step(&s, &get_c), Some(s.clone()), "absent keys read \"\"");
        // Back to the initial value: the key is left out again.
        let s2 = m
            .step(&s, &ok("put", json!(["a", ""]), json!(["a", ""])))
            .unwrap();
        assert_eq!(s2, json!([["\"b\"", "x"]]));
        assert_eq!(m.describe_state(&s2), "{\"b\": \"x\"}");
        // Monotone pruning looks at the read's key only.
        let get_b2 = ok("get", json!(["b", null]), json!(["b", "xz"]));
        assert!(m.may_become_legal(&s, &get_b2));
        assert!(!m.may_become_legal(&json!([["\"b\"", "q"]]), &get_b2));
        let put_a = ok("put", json!(["a", "x"]), json!(["a", "x"]));
        let put_b = ok("put", json!(["b", "x"]), json!(["b", "x"]));
        assert!(!m.may_revive(&put_a, &get_b2));
        assert!(m.may_revive(&put_b, &get_b2));
        assert!(m.validate(&ok("get", json!("b"), json!("b"))).is_err());
    }
}
