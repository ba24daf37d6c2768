//! The [`Model`] trait: a sequential specification the linearizability
//! checker replays candidate orders against, and the ops it is given. The
//! built-in models and their registry by name are in `models.rs`.
//!
//! States and ops are plain JSON values so that a model is easy to write;
//! the checker interns every distinct state and op to a small integer and
//! memoizes transitions, so the search itself never touches JSON (the same
//! reason Knossos precomputes integer state transitions).

use std::borrow::Cow;

use serde_json::Value;

/// One operation as the model sees it: its function, the input value from
/// the invocation and the output value from an `ok` completion (`None` when
/// the op is indeterminate and its result unknown).
///
/// `f` is borrowed when it is one of the built-in models' functions
/// ([`ModelOp::name`]): a history of a million ops then holds no string per
/// op, and copying an op allocates nothing for its name.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOp {
    pub f: Cow<'static, str>,
    pub input: Value,
    pub output: Option<Value>,
}

impl ModelOp {
    pub fn new(f: impl Into<Cow<'static, str>>, input: Value, output: Option<Value>) -> ModelOp {
        ModelOp {
            f: f.into(),
            input,
            output,
        }
    }

    /// `f` as a [`ModelOp`] holds it: borrowed if it is one of the
    /// functions the built-in models know, else a copy.
    pub fn name(f: &str) -> Cow<'static, str> {
        match KNOWN_FS.iter().find(|&&known| known == f) {
            Some(&known) => Cow::Borrowed(known),
            None => Cow::Owned(f.to_owned()),
        }
    }
}

/// The functions of the built-in models, commonest first.
const KNOWN_FS: &[&str] = &[
    "read", "write", "cas", "get", "put", "append", "add", "enqueue", "dequeue", "acquire",
    "release",
];

/// Where an op goes under P-compositionality (Horn & Kroening 2015): the
/// partition's key and the op as that partition's model sees it (for a
/// Jepsen independent tuple `[key, v]`, the inner `v`).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub key: Value,
    pub op: ModelOp,
}

/// A Jepsen independent tuple `[key, v]` as (key, v).
pub(crate) fn split_tuple(value: &Value) -> Option<(&Value, &Value)> {
    match value.as_array().map(Vec::as_slice) {
        Some([key, v]) => Some((key, v)),
        _ => None,
    }
}

/// A register op, for models that are registers (see
/// [`Model::register_op`]). `Read(None)` is a read whose result is unknown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RegisterOp<'a> {
    Read(Option<&'a Value>),
    Write(&'a Value),
    Cas(&'a Value, &'a Value),
}

/// A sequential specification. Implementations must be pure: `step` is a
/// function of the state and the op only, and equal states must be equal
/// JSON values (the checker identifies states by value, as `==` compares
/// them, so keep a canonical form, e.g. sorted arrays for sets).
pub trait Model: Send + Sync {
    /// The name `model_by_name` knows it by, e.g. "cas-register".
    fn name(&self) -> &str;

    /// The initial state.
    fn init(&self) -> Value;

    /// The next state if `op` is legal in `state`, `None` if it is not.
    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value>;

    /// Every possible next state, for nondeterministic models (an
    /// unordered queue's dequeue with an unknown result may remove any
    /// element). Empty when the op is illegal. Defaults to [`Model::step`].
    fn steps(&self, state: &Value, op: &ModelOp) -> Vec<Value> {
        self.step(state, op).into_iter().collect()
    }

    /// P-compositionality: the partition an op belongs to and the op as
    /// that partition sees it, or `None` for "the one partition" (where the
    /// op is checked as it is). Each partition starts from [`Model::init`]
    /// and is checked on its own. An error says why the op cannot be
    /// partitioned; the checker reports the history as malformed.
    fn partition(&self, _op: &ModelOp) -> Result<Option<Part>, String> {
        Ok(None)
    }

    /// Says what is wrong with an op this model cannot interpret (unknown
    /// `f`, a `cas` whose value is not `[old, new]`). The checker reports
    /// such a history as malformed (unknown), never as not linearizable.
    /// Called on ops after [`Model::partition`].
    fn validate(&self, _op: &ModelOp) -> Result<(), String> {
        Ok(())
    }

    /// True when the op never changes the state: every `steps` result is
    /// the state itself. The search linearizes such an op as soon as it is
    /// legal and never tries alternatives to it (moving a legal read
    /// earlier cannot hurt), and drops indeterminate ones entirely.
    fn is_read_only(&self, _op: &ModelOp) -> bool {
        false
    }

    /// Pruning for models whose states only grow (a kv value under
    /// appends, a set under adds). `false` promises that `op` is not
    /// legal in `state`, and that it never becomes legal after ops that
    /// neither [`Model::is_monotone`] nor [`Model::may_revive`] allow: if
    /// this is false for `state`, it is false for every state that such
    /// an op leads to from `state`. (A kv get of "ab" can never become
    /// legal once the value is "ac", until a put.) The search abandons
    /// a state in which an op that must still be linearized can never
    /// become legal. Defaults to `true`: no pruning.
    fn may_become_legal(&self, _state: &Value, _op: &ModelOp) -> bool {
        true
    }

    /// True when `op` never revives anything (see
    /// [`Model::may_become_legal`]): a kv append or get, a set add or
    /// read. Defaults to [`Model::is_read_only`].
    fn is_monotone(&self, op: &ModelOp) -> bool {
        self.is_read_only(op)
    }

    /// For an op that is not monotone: whether it may lead from a state
    /// in which `read` can never become legal to one in which it can (a
    /// kv put of "a" may revive a get of "ab", not a get of "b", nor a
    /// get of another key in a map of keys). Defaults to `true`.
    fn may_revive(&self, _op: &ModelOp, _read: &ModelOp) -> bool {
        true
    }

    /// For models that are registers: the op as a register op. Returning
    /// `Some` for every op promises that `step` is exactly a register whose
    /// state is its value (starting from `init`): read v is legal iff the
    /// state equals v, write v sets v, cas [old, new] is legal iff the
    /// state equals old and sets new. That enables the pre-pass for reads
    /// of values nothing wrote and the unique-values fast path.
    fn register_op<'o>(&self, _op: &'o ModelOp) -> Option<RegisterOp<'o>> {
        None
    }

    /// Human text for an op, for witnesses.
    fn describe_op(&self, op: &ModelOp) -> String {
        match &op.output {
            Some(output) if *output != op.input => format!("{} {} -> {}", op.f, op.input, output),
            Some(_) => format!("{} {}", op.f, op.input),
            None => format!("{} {} -> ?", op.f, op.input),
        }
    }

    /// Human text for an op of the partition `key`, for models whose
    /// partitions are the keys of independent objects, so that a witness
    /// says which one the op touched: "write 2 to key 0". `None` (the
    /// default) when [`Model::describe_op`] is the op's text and the
    /// partition is named apart.
    fn describe_keyed_op(&self, _key: &Value, _op: &ModelOp) -> Option<String> {
        None
    }

    /// Human text for a state, for witnesses.
    fn describe_state(&self, state: &Value) -> String {
        state.to_string()
    }
}
