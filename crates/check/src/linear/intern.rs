//! Interning: every distinct model state and every distinct op (f, input,
//! output) becomes a `u32`, and transitions (state, op) -> next states are
//! computed once and memoized, so the search works on integers only
//! (Knossos's `memo` does the same for its models).

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::model::{Model, ModelOp, RegisterOp};

/// A memoized transition: illegal, exactly one next state, or several (a
/// nondeterministic model), as a range of [`Interner::successors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Illegal,
    One(u32),
    Many { start: u32, len: u32 },
}

pub(crate) struct Interner<'m> {
    model: &'m dyn Model,
    states: Vec<Value>,
    state_ids: FxHashMap<String, u32>,
    ops: Vec<ModelOp>,
    op_ids: FxHashMap<String, u32>,
    read_only: Vec<bool>,
    /// For register ops: the one state a read or cas is legal in.
    required: Vec<Option<u32>>,
    transitions: FxHashMap<u64, Transition>,
    many: Vec<u32>,
}

impl<'m> Interner<'m> {
    pub fn new(model: &'m dyn Model) -> Interner<'m> {
        Interner {
            model,
            states: Vec::new(),
            state_ids: FxHashMap::default(),
            ops: Vec::new(),
            op_ids: FxHashMap::default(),
            read_only: Vec::new(),
            required: Vec::new(),
            transitions: FxHashMap::default(),
            many: Vec::new(),
        }
    }

    pub fn model(&self) -> &'m dyn Model {
        self.model
    }

    pub fn state_id(&mut self, state: Value) -> u32 {
        let text = state.to_string();
        if let Some(&id) = self.state_ids.get(&text) {
            return id;
        }
        let id = self.states.len() as u32;
        assert!(id < u32::MAX / 2, "more than 2^31 distinct model states");
        self.states.push(state);
        self.state_ids.insert(text, id);
        id
    }

    pub fn state(&self, id: u32) -> &Value {
        &self.states[id as usize]
    }

    #[cfg(test)]
    pub fn state_count(&self) -> usize {
        self.states.len()
    }

    pub fn op_id(&mut self, op: &ModelOp) -> u32 {
        let text = match &op.output {
            Some(out) => format!("{}\u{0}{}\u{0}{}", op.f, op.input, out),
            None => format!("{}\u{0}{}", op.f, op.input),
        };
        if let Some(&id) = self.op_ids.get(&text) {
            return id;
        }
        let id = self.ops.len() as u32;
        self.read_only.push(self.model.is_read_only(op));
        let required = match self.model.register_op(op) {
            Some(RegisterOp::Read(Some(v))) | Some(RegisterOp::Cas(v, _)) => {
                Some(self.state_id(v.clone()))
            }
            _ => None,
        };
        self.required.push(required);
        self.ops.push(op.clone());
        self.op_ids.insert(text, id);
        id
    }

    pub fn is_read_only(&self, op: u32) -> bool {
        self.read_only[op as usize]
    }

    /// For a register read or cas, the one state it is legal in.
    #[inline]
    pub fn required_state(&self, op: u32) -> Option<u32> {
        self.required[op as usize]
    }

    /// The memoized transition of `op` from `state`.
    #[inline]
    pub fn step(&mut self, state: u32, op: u32) -> Transition {
        let key = (u64::from(state) << 32) | u64::from(op);
        if let Some(&t) = self.transitions.get(&key) {
            return t;
        }
        let t = self.compute(state, op);
        self.transitions.insert(key, t);
        t
    }

    fn compute(&mut self, state: u32, op: u32) -> Transition {
        let next = self
            .model
            .steps(&self.states[state as usize], &self.ops[op as usize]);
        let mut ids: Vec<u32> = next.into_iter().map(|s| self.state_id(s)).collect();
        ids.sort_unstable();
        ids.dedup();
        match ids.as_slice() {
            [] => Transition::Illegal,
            [one] => Transition::One(*one),
            _ => {
                let start = self.many.len() as u32;
                let len = ids.len() as u32;
                self.many.extend(ids);
                Transition::Many { start, len }
            }
        }
    }

    /// The `i`th next state of a transition, if there is one.
    #[inline]
    pub fn successor(&self, t: Transition, i: u32) -> Option<u32> {
        match t {
            Transition::Illegal => None,
            Transition::One(s) => (i == 0).then_some(s),
            Transition::Many { start, len } => (i < len).then(|| self.many[(start + i) as usize]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::model::model_by_name;
    use serde_json::json;

    #[test]
    fn equal_values_share_ids_and_transitions_are_memoized() {
        let model = model_by_name("cas-register", Some(json!(0))).unwrap();
        let mut i = Interner::new(model.as_ref());
        let zero = i.state_id(model.init());
        assert_eq!(i.state_id(json!(0)), zero);
        let cas = i.op_id(&ModelOp::new("cas", json!([0, 1]), Some(json!([0, 1]))));
        let read = i.op_id(&ModelOp::new("read", Value::Null, Some(json!(1))));
        assert_eq!(
            i.op_id(&ModelOp::new("cas", json!([0, 1]), Some(json!([0, 1])))),
            cas
        );
        assert!(i.is_read_only(read) && !i.is_read_only(cas));
        let Transition::One(one) = i.step(zero, cas) else {
            panic!("cas 0 -> 1 is legal in 0")
        };
        assert_eq!(i.state(one), &json!(1));
        assert_eq!(i.step(one, cas), Transition::Illegal);
        assert_eq!(i.step(one, read), Transition::One(one));
        assert_eq!(i.state_count(), 2);
    }

    #[test]
    fn nondeterministic_transitions_list_every_successor() {
        let model = model_by_name("unordered-queue", Some(json!([1, 2]))).unwrap();
        let mut i = Interner::new(model.as_ref());
        let s = i.state_id(model.init());
        let dequeue = i.op_id(&ModelOp::new("dequeue", Value::Null, None));
        let t = i.step(s, dequeue);
        let next: Vec<_> = (0..3).filter_map(|k| i.successor(t, k)).collect();
        assert_eq!(next.len(), 2);
        let mut values: Vec<_> = next.iter().map(|&n| i.state(n).clone()).collect();
        values.sort_by_key(|v| v.to_string());
        assert_eq!(values, vec![json!([1]), json!([2])]);
    }
}
