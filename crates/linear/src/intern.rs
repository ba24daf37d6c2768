//! Interning: every distinct model state and every distinct op (f, input,
//! output) becomes a `u32`, and transitions (state, op) -> next states are
//! computed once and memoized, so the search works on integers only
//! (Knossos's `memo` does the same for its models). Values are hashed
//! as they are (no JSON text is built) and compared on a hash match.

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};
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

/// The end of a hash chain.
const NONE: u32 = u32::MAX;

/// Hashes a JSON value consistently with `==`: an object's entries are
/// combined in any order (equal objects may hold them in different orders).
fn hash_value(v: &Value, h: &mut FxHasher) {
    match v {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => h.write_u8(1 + u8::from(*b)),
        Value::Number(n) => {
            h.write_u8(3);
            if let Some(u) = n.as_u64() {
                h.write_u64(u);
            } else if let Some(i) = n.as_i64() {
                h.write_i64(i);
            } else if let Some(f) = n.as_f64() {
                h.write_u64(f.to_bits());
            }
        }
        Value::String(s) => {
            h.write_u8(4);
            h.write(s.as_bytes());
            h.write_usize(s.len());
        }
        Value::Array(items) => {
            h.write_u8(5);
            h.write_usize(items.len());
            for item in items {
                hash_value(item, h);
            }
        }
        Value::Object(map) => {
            h.write_u8(6);
            h.write_usize(map.len());
            let mut sum: u64 = 0;
            for (k, item) in map {
                let mut e = FxHasher::default();
                e.write(k.as_bytes());
                e.write_u8(0xff);
                hash_value(item, &mut e);
                sum = sum.wrapping_add(e.finish());
            }
            h.write_u64(sum);
        }
    }
}

pub(crate) struct Interner<'m> {
    model: &'m dyn Model,
    states: Vec<Value>,
    /// Hash -> the latest state with it; `state_chain` links the others.
    state_ids: FxHashMap<u64, u32>,
    state_chain: Vec<u32>,
    ops: Vec<ModelOp>,
    op_ids: FxHashMap<u64, u32>,
    op_chain: Vec<u32>,
    read_only: Vec<bool>,
    monotone: Vec<bool>,
    /// For register ops: the one state a read or cas is legal in.
    required: Vec<Option<u32>>,
    transitions: FxHashMap<u64, Transition>,
    many: Vec<u32>,
    /// Memoized [`Model::may_become_legal`], by (state, op).
    may_become: FxHashMap<u64, bool>,
    /// Memoized [`Model::may_revive`], by (op, read).
    revives: FxHashMap<u64, bool>,
}

impl<'m> Interner<'m> {
    pub fn new(model: &'m dyn Model) -> Interner<'m> {
        Interner {
            model,
            states: Vec::new(),
            state_ids: FxHashMap::default(),
            state_chain: Vec::new(),
            ops: Vec::new(),
            op_ids: FxHashMap::default(),
            op_chain: Vec::new(),
            read_only: Vec::new(),
            monotone: Vec::new(),
            required: Vec::new(),
            transitions: FxHashMap::default(),
            many: Vec::new(),
            may_become: FxHashMap::default(),
            revives: FxHashMap::default(),
        }
    }

    pub fn model(&self) -> &'m dyn Model {
        self.model
    }

    pub fn state_id(&mut self, state: Value) -> u32 {
        let mut h = FxHasher::default();
        hash_value(&state, &mut h);
        let h = h.finish();
        let head = self.state_ids.get(&h).copied().unwrap_or(NONE);
        let mut at = head;
        while at != NONE {
            if self.states[at as usize] == state {
                return at;
            }
            at = self.state_chain[at as usize];
        }
        let id = self.states.len() as u32;
        assert!(id < u32::MAX / 2, "more than 2^31 distinct model states");
        self.states.push(state);
        self.state_chain.push(head);
        self.state_ids.insert(h, id);
        id
    }

    pub fn state(&self, id: u32) -> &Value {
        debug_assert!((id as usize) < self.states.len(), "state {id} was interned");
        &self.states[id as usize]
    }

    #[cfg(test)]
    pub fn state_count(&self) -> usize {
        self.states.len()
    }

    pub fn op_id(&mut self, op: &ModelOp) -> u32 {
        let mut h = FxHasher::default();
        h.write(op.f.as_bytes());
        h.write_u8(0xff);
        hash_value(&op.input, &mut h);
        match &op.output {
            Some(out) => {
                h.write_u8(1);
                hash_value(out, &mut h);
            }
            None => h.write_u8(0),
        }
        let h = h.finish();
        let head = self.op_ids.get(&h).copied().unwrap_or(NONE);
        let mut at = head;
        while at != NONE {
            if self.ops[at as usize] == *op {
                return at;
            }
            at = self.op_chain[at as usize];
        }
        let id = self.ops.len() as u32;
        self.read_only.push(self.model.is_read_only(op));
        self.monotone.push(self.model.is_monotone(op));
        let required = match self.model.register_op(op) {
            Some(RegisterOp::Read(Some(v))) | Some(RegisterOp::Cas(v, _)) => {
                Some(self.state_id(v.clone()))
            }
            _ => None,
        };
        self.required.push(required);
        self.ops.push(op.clone());
        self.op_chain.push(head);
        self.op_ids.insert(h, id);
        id
    }

    pub fn is_read_only(&self, op: u32) -> bool {
        self.read_only[op as usize]
    }

    pub fn is_monotone(&self, op: u32) -> bool {
        self.monotone[op as usize]
    }

    /// Whether `op` may become legal after `state` and monotone ops only
    /// ([`Model::may_become_legal`], memoized).
    #[inline]
    pub fn may_become_legal(&mut self, state: u32, op: u32) -> bool {
        debug_assert!(
            (state as usize) < self.states.len(),
            "state {state} was interned"
        );
        debug_assert!((op as usize) < self.ops.len(), "op {op} was interned");
        let key = (u64::from(state) << 32) | u64::from(op);
        if let Some(&b) = self.may_become.get(&key) {
            return b;
        }
        let b = self
            .model
            .may_become_legal(&self.states[state as usize], &self.ops[op as usize]);
        self.may_become.insert(key, b);
        b
    }

    /// Whether `op` (not monotone) may revive `read`
    /// ([`Model::may_revive`], memoized).
    pub fn may_revive(&mut self, op: u32, read: u32) -> bool {
        debug_assert!(
            (op.max(read) as usize) < self.ops.len(),
            "ops were interned"
        );
        let key = (u64::from(op) << 32) | u64::from(read);
        if let Some(&b) = self.revives.get(&key) {
            return b;
        }
        let b = self
            .model
            .may_revive(&self.ops[op as usize], &self.ops[read as usize]);
        self.revives.insert(key, b);
        b
    }

    /// For a register read or cas, the one state it is legal in.
    #[inline]
    pub fn required_state(&self, op: u32) -> Option<u32> {
        self.required[op as usize]
    }

    /// The memoized transition of `op` from `state`.
    #[inline]
    pub fn step(&mut self, state: u32, op: u32) -> Transition {
        debug_assert!(
            (state as usize) < self.states.len(),
            "state {state} was interned"
        );
        debug_assert!((op as usize) < self.ops.len(), "op {op} was interned");
        let key = (u64::from(state) << 32) | u64::from(op);
        if let Some(&t) = self.transitions.get(&key) {
            return t;
        }
        let t = self.compute(state, op);
        self.transitions.insert(key, t);
        t
    }

    fn compute(&mut self, state: u32, op: u32) -> Transition {
        if self.read_only[op as usize] {
            // Every step of a read-only op leaves the state as it is.
            let legal = self
                .model
                .step(&self.states[state as usize], &self.ops[op as usize])
                .is_some();
            return if legal {
                Transition::One(state)
            } else {
                Transition::Illegal
            };
        }
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
    use crate::models::model_by_name;
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
