//! The built-in sequential specifications, as Knossos (`knossos.model`) and
//! Porcupine's kv test define them, and the registry that names them
//! ([`model_by_name`]).

use std::cmp::Ordering;

use lightcone_history::IntMultiset;
use serde_json::Value;

use super::independent::Independent;
use super::model::{split_tuple, Model, ModelOp, Part, RegisterOp};

/// The built-in models `model_by_name` knows. Any of them may also be named
/// with the prefix `independent-` (see [`Independent`]).
pub const MODEL_NAMES: &[&str] = &[
    "register",
    "cas-register",
    "kv",
    "set",
    "fifo-queue",
    "unordered-queue",
    "mutex",
    "independent-register",
    "independent-cas-register",
];

/// The names of the built-in models, as [`model_by_name`] accepts them.
pub fn model_names() -> &'static [&'static str] {
    MODEL_NAMES
}

/// A built-in model by name, with an optional initial state (the register's
/// initial value; the kv model's per-key initial string; a set's, queue's
/// initial elements; a mutex's initial `true` = locked). `None` if the name
/// is unknown. `independent-NAME` checks model NAME once per key, for ops
/// whose values are Jepsen independent tuples `[key, v]`.
pub fn model_by_name(name: &str, initial: Option<Value>) -> Option<Box<dyn Model>> {
    if let Some(inner) = name.strip_prefix("independent-") {
        return model_by_name(inner, initial).map(|m| Box::new(Independent::new(m)) as _);
    }
    let model: Box<dyn Model> = match name {
        "register" => Box::new(Register::new(initial.unwrap_or(Value::Null))),
        "cas-register" => Box::new(CasRegister::new(initial.unwrap_or(Value::Null))),
        "kv" => Box::new(Kv::new(initial.unwrap_or_else(|| Value::from("")))),
        "set" => Box::new(Set::new(initial)),
        "fifo-queue" => Box::new(FifoQueue::new(initial)),
        "unordered-queue" => Box::new(UnorderedQueue::new(initial)),
        "mutex" => Box::new(Mutex::new(
            initial.and_then(|v| v.as_bool()).unwrap_or(false),
        )),
        _ => return None,
    };
    Some(model)
}

fn unknown_f(op: &ModelOp, known: &[&str]) -> String {
    format!(
        "f {:?} is not one of this model's ops ({})",
        op.f,
        known.join(", ")
    )
}

/// `nil` for null, else the JSON text.
fn describe_value(v: &Value) -> String {
    if v.is_null() {
        "nil".to_string()
    } else {
        v.to_string()
    }
}

fn describe_register_op(op: &ModelOp) -> String {
    match (&*op.f, &op.output) {
        ("read", Some(v)) => format!("read {}", describe_value(v)),
        ("read", None) => "read ?".to_string(),
        ("cas", _) => match op.input.as_array().map(Vec::as_slice) {
            Some([old, new]) => format!("cas {} -> {}", describe_value(old), describe_value(new)),
            _ => format!("cas {}", op.input),
        },
        (f, _) => format!("{f} {}", describe_value(&op.input)),
    }
}

/// A read/write register (Knossos `register`): read v is legal iff the
/// register holds v (null is nil, the absent value; a read whose result is
/// unknown is always legal), write v sets v.
pub struct Register {
    initial: Value,
}

impl Register {
    pub fn new(initial: Value) -> Register {
        Register { initial }
    }
}

fn register_step(state: &Value, op: &ModelOp, cas: bool) -> Option<Value> {
    match &*op.f {
        "read" => match &op.output {
            Some(v) if v != state => None,
            _ => Some(state.clone()),
        },
        "write" => Some(op.input.clone()),
        "cas" if cas => match op.input.as_array().map(Vec::as_slice) {
            Some([old, new]) if old == state => Some(new.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn register_op(op: &ModelOp, cas: bool) -> Option<RegisterOp<'_>> {
    match &*op.f {
        "read" => Some(RegisterOp::Read(op.output.as_ref())),
        "write" => Some(RegisterOp::Write(&op.input)),
        "cas" if cas => match op.input.as_array().map(Vec::as_slice) {
            Some([old, new]) => Some(RegisterOp::Cas(old, new)),
            _ => None,
        },
        _ => None,
    }
}

impl Model for Register {
    fn name(&self) -> &str {
        "register"
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        register_step(state, op, false)
    }

    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        match &*op.f {
            "read" | "write" => Ok(()),
            _ => Err(unknown_f(op, &["read", "write"])),
        }
    }

    fn is_read_only(&self, op: &ModelOp) -> bool {
        op.f == "read"
    }

    fn register_op<'o>(&self, op: &'o ModelOp) -> Option<RegisterOp<'o>> {
        register_op(op, false)
    }

    fn describe_op(&self, op: &ModelOp) -> String {
        describe_register_op(op)
    }

    fn describe_state(&self, state: &Value) -> String {
        describe_value(state)
    }
}

/// A compare-and-set register (Knossos `cas-register`): read and write as
/// [`Register`]; `cas [old, new]` is legal iff the register holds old, and
/// then sets new.
pub struct CasRegister {
    initial: Value,
}

impl CasRegister {
    pub fn new(initial: Value) -> CasRegister {
        CasRegister { initial }
    }
}

impl Model for CasRegister {
    fn name(&self) -> &str {
        "cas-register"
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        register_step(state, op, true)
    }

    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        match &*op.f {
            "read" | "write" => Ok(()),
            "cas" => match op.input.as_array().map(Vec::as_slice) {
                Some([_, _]) => Ok(()),
                _ => Err(format!("a cas's value is [old, new], not {}", op.input)),
            },
            _ => Err(unknown_f(op, &["read", "write", "cas"])),
        }
    }

    fn is_read_only(&self, op: &ModelOp) -> bool {
        op.f == "read"
    }

    fn register_op<'o>(&self, op: &'o ModelOp) -> Option<RegisterOp<'o>> {
        register_op(op, true)
    }

    fn describe_op(&self, op: &ModelOp) -> String {
        describe_register_op(op)
    }

    fn describe_state(&self, state: &Value) -> String {
        describe_value(state)
    }
}

/// Porcupine's key-value model: a map of strings with `get`, `put` and
/// `append`, every value `[key, v]` (the key in a Jepsen independent
/// tuple). Each key is its own partition starting from the initial string
/// (default ""); a partition's state is that key's string.
pub struct Kv {
    initial: Value,
}

impl Kv {
    pub fn new(initial: Value) -> Kv {
        Kv { initial }
    }
}

impl Model for Kv {
    fn name(&self) -> &str {
        "kv"
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        match &*op.f {
            "get" => match &op.output {
                Some(v) if v != state => None,
                _ => Some(state.clone()),
            },
            "put" => Some(op.input.clone()),
            "append" => {
                let (s, a) = (state.as_str()?, op.input.as_str()?);
                let mut next = String::with_capacity(s.len() + a.len());
                next.push_str(s);
                next.push_str(a);
                Some(Value::String(next))
            }
            _ => None,
        }
    }

    fn partition(&self, op: &ModelOp) -> Result<Option<Part>, String> {
        let (key, input) = split_tuple(&op.input)
            .ok_or_else(|| format!("a kv op's value is [key, value], not {}", op.input))?;
        let output = match &op.output {
            None => None,
            Some(out) => Some(
                split_tuple(out)
                    .ok_or_else(|| format!("a kv op's result is [key, value], not {out}"))?
                    .1
                    .clone(),
            ),
        };
        Ok(Some(Part {
            key: key.clone(),
            op: ModelOp::new(op.f.clone(), input.clone(), output),
        }))
    }

    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        match &*op.f {
            "get" => match &op.output {
                Some(v) if !v.is_string() => Err(format!("a get returns a string, not {v}")),
                _ => Ok(()),
            },
            "put" | "append" if op.input.is_string() => Ok(()),
            "put" | "append" => Err(format!("{} takes a string, not {}", op.f, op.input)),
            _ => Err(unknown_f(op, &["get", "put", "append"])),
        }
    }

    fn is_read_only(&self, op: &ModelOp) -> bool {
        op.f == "get"
    }

    /// Appends only extend the value: a get of v can become legal only
    /// from a prefix of v, or after a put of a prefix of v.
    fn may_become_legal(&self, state: &Value, op: &ModelOp) -> bool {
        match (&*op.f, &op.output, state) {
            ("get", Some(Value::String(v)), Value::String(s)) => v.starts_with(s.as_str()),
            _ => true,
        }
    }

    fn is_monotone(&self, op: &ModelOp) -> bool {
        op.f == "get" || op.f == "append"
    }

    fn may_revive(&self, op: &ModelOp, read: &ModelOp) -> bool {
        match (&*op.f, &op.input, &*read.f, &read.output) {
            ("put", Value::String(p), "get", Some(Value::String(v))) => v.starts_with(p.as_str()),
            _ => true,
        }
    }
}

/// JSON values ordered by their text, for canonical set and multiset
/// states.
fn by_text(a: &Value, b: &Value) -> Ordering {
    a.to_string().cmp(&b.to_string())
}

fn sorted(mut elements: Vec<Value>, dedup: bool) -> Vec<Value> {
    elements.sort_by(by_text);
    if dedup {
        elements.dedup();
    }
    elements
}

fn initial_elements(initial: Option<Value>, dedup: bool) -> Value {
    match initial {
        Some(Value::Array(items)) => Value::Array(sorted(items, dedup)),
        _ => Value::Array(Vec::new()),
    }
}

/// A grow-only set (Knossos `set`): `add e`; `read` returns an array of
/// every element, legal iff it equals the state as a set. The state is
/// the sorted array of elements.
pub struct Set {
    initial: Value,
}

impl Set {
    pub fn new(initial: Option<Value>) -> Set {
        Set {
            initial: initial_elements(initial, true),
        }
    }
}

impl Model for Set {
    fn name(&self) -> &str {
        "set"
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        let elements = state.as_array()?;
        match &*op.f {
            "add" => match elements.binary_search_by(|e| by_text(e, &op.input)) {
                Ok(_) => Some(state.clone()),
                Err(at) => {
                    let mut next = elements.clone();
                    next.insert(at, op.input.clone());
                    Some(Value::Array(next))
                }
            },
            "read" => match &op.output {
                None => Some(state.clone()),
                Some(read) => {
                    let read = read_elements(read)?;
                    (sorted(read, true) == *elements).then(|| state.clone())
                }
            },
            _ => None,
        }
    }

    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        match &*op.f {
            "add" => Ok(()),
            "read" => match &op.output {
                Some(v) if read_elements(v).is_none() => {
                    Err(format!("a set read returns an array, not {v}"))
                }
                _ => Ok(()),
            },
            _ => Err(unknown_f(op, &["add", "read"])),
        }
    }

    fn is_read_only(&self, op: &ModelOp) -> bool {
        op.f == "read"
    }

    fn is_monotone(&self, op: &ModelOp) -> bool {
        op.f == "add" || op.f == "read"
    }

    /// Adds only grow the set: a read can become legal only from a subset
    /// of what it returned.
    fn may_become_legal(&self, state: &Value, op: &ModelOp) -> bool {
        match (&*op.f, op.output.as_ref().and_then(read_elements), state) {
            ("read", Some(read), Value::Array(elements)) => {
                let read = sorted(read, true);
                elements
                    .iter()
                    .all(|e| read.binary_search_by(|r| by_text(r, e)).is_ok())
            }
            _ => true,
        }
    }
}

/// A set read's elements: a plain array, or the compact form broadcast and
/// g-set histories record (`IntMultiset`), expanded.
fn read_elements(read: &Value) -> Option<Vec<Value>> {
    match read {
        Value::Array(read) => Some(read.clone()),
        other => IntMultiset::expand(other).map(|v| match v {
            Value::Array(elements) => elements,
            _ => unreachable!("expand gives an array"),
        }),
    }
}

fn validate_queue(op: &ModelOp) -> Result<(), String> {
    match &*op.f {
        "enqueue" | "dequeue" => Ok(()),
        _ => Err(unknown_f(op, &["enqueue", "dequeue"])),
    }
}

/// A FIFO queue (Knossos `fifo-queue`): `enqueue v`; `dequeue` returns the
/// head and removes it, or null when the queue is empty. A dequeue whose
/// result is unknown removes the head if there is one.
pub struct FifoQueue {
    initial: Value,
}

impl FifoQueue {
    pub fn new(initial: Option<Value>) -> FifoQueue {
        FifoQueue {
            initial: match initial {
                Some(Value::Array(items)) => Value::Array(items),
                _ => Value::Array(Vec::new()),
            },
        }
    }
}

impl Model for FifoQueue {
    fn name(&self) -> &str {
        "fifo-queue"
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        let items = state.as_array()?;
        match (&*op.f, &op.output) {
            ("enqueue", _) => {
                let mut next = items.clone();
                next.push(op.input.clone());
                Some(Value::Array(next))
            }
            ("dequeue", Some(Value::Null)) => items.is_empty().then(|| state.clone()),
            ("dequeue", Some(v)) if items.first() == Some(v) => {
                Some(Value::Array(items[1..].to_vec()))
            }
            ("dequeue", Some(_)) => None,
            ("dequeue", None) if items.is_empty() => Some(state.clone()),
            ("dequeue", None) => Some(Value::Array(items[1..].to_vec())),
            _ => None,
        }
    }

    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        validate_queue(op)
    }

    fn is_read_only(&self, op: &ModelOp) -> bool {
        op.f == "dequeue" && op.output == Some(Value::Null)
    }
}

/// A queue that does not order its elements (Knossos `unordered-queue`):
/// `enqueue v`; `dequeue` returns and removes any element present, or null
/// when the queue is empty. A dequeue whose result is unknown may have
/// removed any element: [`Model::steps`] gives every possibility, and
/// [`Model::step`] the first. The state is the sorted multiset.
pub struct UnorderedQueue {
    initial: Value,
}

impl UnorderedQueue {
    pub fn new(initial: Option<Value>) -> UnorderedQueue {
        UnorderedQueue {
            initial: initial_elements(initial, false),
        }
    }
}

impl Model for UnorderedQueue {
    fn name(&self) -> &str {
        "unordered-queue"
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        self.steps(state, op).into_iter().next()
    }

    fn steps(&self, state: &Value, op: &ModelOp) -> Vec<Value> {
        let Some(items) = state.as_array() else {
            return Vec::new();
        };
        let without = |at: usize| {
            let mut next = items.clone();
            next.remove(at);
            Value::Array(next)
        };
        match (&*op.f, &op.output) {
            ("enqueue", _) => {
                let at = items
                    .binary_search_by(|e| by_text(e, &op.input).then(Ordering::Less))
                    .unwrap_or_else(|at| at);
                let mut next = items.clone();
                next.insert(at, op.input.clone());
                vec![Value::Array(next)]
            }
            ("dequeue", Some(Value::Null)) if items.is_empty() => vec![state.clone()],
            ("dequeue", Some(Value::Null)) => Vec::new(),
            ("dequeue", Some(v)) => match items.iter().position(|e| e == v) {
                Some(at) => vec![without(at)],
                None => Vec::new(),
            },
            ("dequeue", None) if items.is_empty() => vec![state.clone()],
            ("dequeue", None) => {
                let mut next: Vec<Value> = Vec::new();
                for at in 0..items.len() {
                    if at == 0 || items[at] != items[at - 1] {
                        next.push(without(at));
                    }
                }
                next
            }
            _ => Vec::new(),
        }
    }

    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        validate_queue(op)
    }

    fn is_read_only(&self, op: &ModelOp) -> bool {
        op.f == "dequeue" && op.output == Some(Value::Null)
    }
}

/// A lock (Knossos `mutex`): `acquire` is legal iff it is free, `release`
/// iff it is held. The state is `true` when held.
pub struct Mutex {
    locked: bool,
}

impl Mutex {
    pub fn new(locked: bool) -> Mutex {
        Mutex { locked }
    }
}

impl Model for Mutex {
    fn name(&self) -> &str {
        "mutex"
    }

    fn init(&self) -> Value {
        Value::Bool(self.locked)
    }

    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        let locked = state.as_bool()?;
        match &*op.f {
            "acquire" => (!locked).then_some(Value::Bool(true)),
            "release" => locked.then_some(Value::Bool(false)),
            _ => None,
        }
    }

    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        match &*op.f {
            "acquire" | "release" => Ok(()),
            _ => Err(unknown_f(op, &["acquire", "release"])),
        }
    }

    fn describe_op(&self, op: &ModelOp) -> String {
        op.f.to_string()
    }

    fn describe_state(&self, state: &Value) -> String {
        if state.as_bool() == Some(true) {
            "held".to_string()
        } else {
            "free".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(f: &str, input: Value, output: Value) -> ModelOp {
        ModelOp::new(f.to_string(), input, Some(output))
    }

    fn info(f: &str, input: Value) -> ModelOp {
        ModelOp::new(f.to_string(), input, None)
    }

    #[test]
    fn every_listed_name_builds_and_reports_its_name() {
        for name in model_names() {
            let model = model_by_name(name, None).expect(name);
            assert_eq!(model.name(), *name);
        }
        assert!(model_by_name("no-such-model", None).is_none());
    }

    #[test]
    fn register_reads_what_was_written() {
        let m = Register::new(Value::Null);
        assert_eq!(m.init(), Value::Null);
        let read_nil = ok("read", Value::Null, Value::Null);
        assert_eq!(m.step(&Value::Null, &read_nil), Some(Value::Null));
        assert_eq!(m.step(&json!(1), &read_nil), None, "null is a definite nil");
        let w = ok("write", json!(3), json!(3));
        assert_eq!(m.step(&json!(1), &w), Some(json!(3)));
        assert_eq!(
            m.step(&json!(3), &ok("read", Value::Null, json!(3))),
            Some(json!(3))
        );
        assert_eq!(m.step(&json!(2), &ok("read", Value::Null, json!(3))), None);
        assert_eq!(
            m.step(&json!(2), &info("read", Value::Null)),
            Some(json!(2))
        );
        assert!(m
            .validate(&ok("cas", json!([1, 2]), json!([1, 2])))
            .is_err());
        assert!(m.is_read_only(&read_nil) && !m.is_read_only(&w));
        assert_eq!(m.register_op(&w), Some(RegisterOp::Write(&json!(3))));
        assert_eq!(m.describe_op(&read_nil), "read nil");
        assert_eq!(Register::new(json!(7)).init(), json!(7));
    }

    #[test]
    fn cas_register_follows_knossos() {
        let m = CasRegister::new(json!(0));
        let cas = ok("cas", json!([0, 4]), json!([0, 4]));
        assert_eq!(m.step(&json!(0), &cas), Some(json!(4)));
        assert_eq!(m.step(&json!(1), &cas), None);
        assert_eq!(
            m.step(&json!(4), &ok("read", Value::Null, json!(4))),
            Some(json!(4))
        );
        assert_eq!(m.step(&json!(4), &ok("read", Value::Null, json!(0))), None);
        assert_eq!(
            m.step(&json!(4), &ok("write", json!(1), json!(1))),
            Some(json!(1))
        );
        // cas from nil: null means absent.
        let from_nil = ok("cas", json!([null, 1]), json!([null, 1]));
        assert_eq!(m.step(&Value::Null, &from_nil), Some(json!(1)));
        assert!(m
            .validate(&ok("cas", json!(3), json!(3)))
            .unwrap_err()
            .contains("[old, new]"));
        assert!(m.validate(&ok("frob", json!(3), json!(3))).is_err());
        assert_eq!(
            m.register_op(&cas),
            Some(RegisterOp::Cas(&json!(0), &json!(4)))
        );
        assert_eq!(m.describe_op(&cas), "cas 0 -> 4");
    }

    #[test]
    fn kv_gets_puts_and_appends_per_key() {
        let m = Kv::new(json!(""));
        let put = ok("put", json!(["x", "a"]), json!(["x", "a"]));
        let part = m.partition(&put).unwrap().unwrap();
        assert_eq!(part.key, json!("x"));
        let s = m.step(&m.init(), &part.op).unwrap();
        let append = m.partition(&ok("append", json!(["x", "b"]), json!(["x", "b"])));
        let s = m.step(&s, &append.unwrap().unwrap().op).unwrap();
        assert_eq!(s, json!("ab"));
        let get = m.partition(&ok("get", json!(["x", null]), json!(["x", "ab"])));
        let get = get.unwrap().unwrap().op;
        assert_eq!(m.step(&s, &get), Some(json!("ab")));
        assert_eq!(m.step(&json!("a"), &get), None);
        assert!(m.is_read_only(&get));
        // An empty key reads "".
        let get_empty = ok("get", Value::Null, json!(""));
        assert_eq!(m.step(&m.init(), &get_empty), Some(json!("")));
        assert!(m.partition(&ok("get", json!("x"), json!(""))).is_err());
        assert!(m.validate(&ok("put", json!(1), json!(1))).is_err());
    }

    #[test]
    fn set_reads_compare_as_sets() {
        let m = Set::new(None);
        let s = m.step(&m.init(), &ok("add", json!(2), json!(2))).unwrap();
        let s = m.step(&s, &ok("add", json!(1), json!(1))).unwrap();
        let s = m.step(&s, &ok("add", json!(2), json!(2))).unwrap();
        assert_eq!(s, json!([1, 2]));
        assert_eq!(
            m.step(&s, &ok("read", Value::Null, json!([2, 1]))),
            Some(s.clone())
        );
        assert_eq!(m.step(&s, &ok("read", Value::Null, json!([1]))), None);
        assert_eq!(m.step(&s, &ok("read", Value::Null, json!([1, 2, 3]))), None);
        assert_eq!(Set::new(Some(json!([3, 1, 3]))).init(), json!([1, 3]));
    }

    #[test]
    fn fifo_queue_dequeues_the_head() {
        let m = FifoQueue::new(None);
        let s = m
            .step(&m.init(), &ok("enqueue", json!(1), json!(1)))
            .unwrap();
        let s = m.step(&s, &ok("enqueue", json!(2), json!(2))).unwrap();
        assert_eq!(m.step(&s, &ok("dequeue", Value::Null, json!(2))), None);
        let s = m.step(&s, &ok("dequeue", Value::Null, json!(1))).unwrap();
        assert_eq!(s, json!([2]));
        let empty_read = ok("dequeue", Value::Null, Value::Null);
        assert_eq!(m.step(&s, &empty_read), None);
        assert!(m.is_read_only(&empty_read));
        assert_eq!(m.step(&s, &info("dequeue", Value::Null)), Some(json!([])));
        assert_eq!(m.step(&json!([]), &empty_read), Some(json!([])));
    }

    #[test]
    fn unordered_queue_dequeues_any_element() {
        let m = UnorderedQueue::new(None);
        let s = m
            .step(&m.init(), &ok("enqueue", json!(2), json!(2)))
            .unwrap();
        let s = m.step(&s, &ok("enqueue", json!(1), json!(1))).unwrap();
        let s = m.step(&s, &ok("enqueue", json!(2), json!(2))).unwrap();
        assert_eq!(s, json!([1, 2, 2]));
        assert_eq!(
            m.step(&s, &ok("dequeue", Value::Null, json!(2))),
            Some(json!([1, 2]))
        );
        assert_eq!(m.step(&s, &ok("dequeue", Value::Null, json!(3))), None);
        assert_eq!(m.step(&s, &ok("dequeue", Value::Null, Value::Null)), None);
        assert_eq!(
            m.steps(&s, &info("dequeue", Value::Null)),
            vec![json!([2, 2]), json!([1, 2])]
        );
    }

    #[test]
    fn mutex_alternates() {
        let m = Mutex::new(false);
        let acquire = ok("acquire", Value::Null, Value::Null);
        let release = ok("release", Value::Null, Value::Null);
        let held = m.step(&m.init(), &acquire).unwrap();
        assert_eq!(m.step(&held, &acquire), None);
        assert_eq!(m.step(&held, &release), Some(json!(false)));
        assert_eq!(m.step(&m.init(), &release), None);
        assert_eq!(m.describe_state(&held), "held");
    }

    #[test]
    fn only_independent_models_name_keys_in_their_ops() {
        let read = ok("read", Value::Null, json!(2));
        let write = ok("write", json!(2), json!(2));
        let cas = ok("cas", json!([1, 2]), json!([1, 2]));
        let m = model_by_name("independent-cas-register", None).unwrap();
        let key = json!(0);
        let keyed = |op: &ModelOp| m.describe_keyed_op(&key, op).unwrap();
        assert_eq!(keyed(&read), "read 2 from key 0");
        assert_eq!(keyed(&write), "write 2 to key 0");
        assert_eq!(keyed(&cas), "cas 1 -> 2 on key 0");
        assert_eq!(m.describe_op(&write), "write 2", "the op's own text");
        let m = model_by_name("independent-mutex", None).unwrap();
        let acquire = ok("acquire", Value::Null, Value::Null);
        assert_eq!(
            m.describe_keyed_op(&json!("k"), &acquire).unwrap(),
            "acquire on key \"k\""
        );
        for name in ["cas-register", "kv"] {
            let m = model_by_name(name, None).unwrap();
            assert_eq!(m.describe_keyed_op(&key, &write), None, "{name}");
        }
    }

    #[test]
    fn independent_splits_tuples_and_checks_the_inner_model() {
        let model = model_by_name("independent-cas-register", None).unwrap();
        let op = ModelOp::new("cas", json!(["k", [1, 2]]), Some(json!(["k", [1, 2]])));
        let part = model.partition(&op).unwrap().unwrap();
        assert_eq!(part.key, json!("k"));
        assert_eq!(part.op.input, json!([1, 2]));
        assert_eq!(model.step(&json!(1), &part.op), Some(json!(2)));
        assert_eq!(model.step(&json!(3), &part.op), None);

        let read = ModelOp::new("read", json!(["k", null]), Some(json!(["k", 5])));
        let part = model.partition(&read).unwrap().unwrap();
        assert_eq!(part.op.output, Some(json!(5)));
        assert!(model.is_read_only(&part.op));

        let bad = ModelOp::new("read", json!(["k", null]), Some(json!(5)));
        assert!(model
            .partition(&bad)
            .unwrap_err()
            .contains("completion's value 5"));
        let bad = ModelOp::new("read", json!(["k", null]), Some(json!(["j", 5])));
        assert!(model.partition(&bad).unwrap_err().contains("differs"));
        let bad = ModelOp::new("read", json!(5), None);
        assert!(model
            .partition(&bad)
            .unwrap_err()
            .contains("invocation's value 5"));
    }
}
