//! Differential tests of the linearizability checker on thousands of small
//! random histories (proptest, fixed seeds): the checker against a
//! brute-force search over every order consistent with real time (with
//! every subset of indeterminate ops dropped), the search against the
//! unique-values zone test, and every linearization the checker returns
//! replayed against the model.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_check::Validity;
use lightcone_history::{History, Op, OpType, Process};
use lightcone_linear::{
    self, model_by_name, LinearOptions, LinearResult, Method, Model, ModelOp, Part,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// The brute-force checker: written from the definition, sharing no code with
// the checker but the models.

struct BruteOp {
    op: ModelOp,
    invoke_time: u64,
    /// `None`: indeterminate.
    complete_time: Option<u64>,
    invoke_index: u64,
}

/// Client ops paired by process, failures dropped, split by partition.
fn brute_ops(history: &History, model: &dyn Model) -> BTreeMap<String, Vec<BruteOp>> {
    let mut open: BTreeMap<Process, &Op> = BTreeMap::new();
    let mut done: Vec<(&Op, Option<&Op>)> = Vec::new();
    for op in history.iter().filter(|op| op.process != Process::Nemesis) {
        if op.kind == OpType::Invoke {
            if let Some(prev) = open.insert(op.process, op) {
                done.push((prev, None));
            }
        } else if let Some(inv) = open.remove(&op.process) {
            done.push((inv, Some(op)));
        }
    }
    done.extend(open.into_values().map(|inv| (inv, None)));
    let mut parts: BTreeMap<String, Vec<BruteOp>> = BTreeMap::new();
    for (inv, completion) in done {
        let output = match completion {
            Some(c) if c.kind == OpType::Fail => continue,
            Some(c) if c.kind == OpType::Ok => Some(c.value.clone()),
            _ => None,
        };
        let whole = ModelOp::new(inv.f.clone(), inv.value.clone(), output.clone());
        let (key, op) = match model.partition(&whole).unwrap() {
            Some(Part { key, op }) => (key.to_string(), op),
            None => (String::new(), whole),
        };
        parts.entry(key).or_default().push(BruteOp {
            op,
            invoke_time: inv.time,
            complete_time: output.and(completion.map(|c| c.time)),
            invoke_index: inv.index,
        });
    }
    parts
}

/// Is there an order of all ok ops and some indeterminate ones, each after
/// every op that completed before it was invoked, that the model accepts?
fn brute_linearizable(ops: &[BruteOp], model: &dyn Model) -> bool {
    let n = ops.len();
    assert!(n <= 16, "brute force is for small histories");
    let must_precede: Vec<u32> = (0..n)
        .map(|b| {
            (0..n)
                .filter(|&a| ops[a].complete_time.is_some_and(|t| t < ops[b].invoke_time))
                .fold(0, |m, a| m | (1 << a))
        })
        .collect();
    let ok_mask: u32 = (0..n)
        .filter(|&i| ops[i].complete_time.is_some())
        .fold(0, |m, i| m | (1 << i));
    let mut failed: BTreeSet<(u32, String)> = BTreeSet::new();
    fn dfs(
        placed: u32,
        state: &Value,
        ops: &[BruteOp],
        must_precede: &[u32],
        ok_mask: u32,
        model: &dyn Model,
        failed: &mut BTreeSet<(u32, String)>,
    ) -> bool {
        if placed & ok_mask == ok_mask {
            return true;
        }
        if failed.contains(&(placed, state.to_string())) {
            return false;
        }
        for i in 0..ops.len() {
            if placed & (1 << i) != 0 || must_precede[i] & !placed != 0 {
                continue;
            }
            for next in model.steps(state, &ops[i].op) {
                if dfs(
                    placed | (1 << i),
                    &next,
                    ops,
                    must_precede,
                    ok_mask,
                    model,
                    failed,
                ) {
                    return true;
                }
            }
        }
        failed.insert((placed, state.to_string()));
        false
    }
    dfs(
        0,
        &model.init(),
        ops,
        &must_precede,
        ok_mask,
        model,
        &mut failed,
    )
}

fn brute(history: &History, model: &dyn Model) -> bool {
    brute_ops(history, model)
        .values()
        .all(|ops| brute_linearizable(ops, model))
}

/// Replays a linearization the checker returned: real time respected, every
/// ok op present once, every step legal.
fn assert_replays(history: &History, model: &dyn Model, result: &LinearResult) {
    let parts = brute_ops(history, model);
    for p in &result.partitions {
        let Some(order) = &p.linearization else {
            continue;
        };
        let key = p.key.as_ref().map_or_else(String::new, Value::to_string);
        let ops = &parts[&key];
        let by_index: BTreeMap<u64, &BruteOp> = ops.iter().map(|o| (o.invoke_index, o)).collect();
        let mut states = vec![model.init()];
        let mut seen = BTreeSet::new();
        for (at, index) in order.iter().enumerate() {
            let op = by_index[index];
            assert!(seen.insert(*index), "op {index} linearized twice");
            for later in &order[at + 1..] {
                let later = by_index[later];
                assert!(
                    !op.invoke_time.gt(&later.complete_time.unwrap_or(u64::MAX)),
                    "op {index} is linearized after an op that completed before it began"
                );
            }
            states = states.iter().flat_map(|s| model.steps(s, &op.op)).collect();
            assert!(
                !states.is_empty(),
                "op {index} is illegal where it was linearized"
            );
        }
        for op in ops.iter().filter(|o| o.complete_time.is_some()) {
            assert!(
                seen.contains(&op.invoke_index),
                "ok op {} left out",
                op.invoke_index
            );
        }
    }
}

/// A model that hides its register nature, forcing the general search.
struct Opaque(Box<dyn Model>);

impl Model for Opaque {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn init(&self) -> Value {
        self.0.init()
    }
    fn step(&self, state: &Value, op: &ModelOp) -> Option<Value> {
        self.0.step(state, op)
    }
    fn steps(&self, state: &Value, op: &ModelOp) -> Vec<Value> {
        self.0.steps(state, op)
    }
    fn partition(&self, op: &ModelOp) -> Result<Option<Part>, String> {
        self.0.partition(op)
    }
    fn validate(&self, op: &ModelOp) -> Result<(), String> {
        self.0.validate(op)
    }
    fn is_read_only(&self, op: &ModelOp) -> bool {
        self.0.is_read_only(op)
    }
}

// ---------------------------------------------------------------------------
// Random small histories: clients act in a random interleaving; each op
// takes effect on a simulated object at its invocation or completion (so
// most histories are linearizable), and one output may be corrupted.

#[derive(Debug, Clone)]
struct Action {
    process: usize,
    kind: u8,
    a: u8,
    b: u8,
    /// 0..6 ok, 7 info, 8 fail (if it makes sense), 9 stay pending.
    end: u8,
    /// The op takes effect at its invocation, else at its completion.
    early: bool,
    dt: u64,
}

fn actions(max: usize) -> impl Strategy<Value = Vec<Action>> {
    prop::collection::vec(
        (
            0..4usize,
            0..8u8,
            0..4u8,
            0..4u8,
            0..10u8,
            any::<bool>(),
            0..3u64,
        )
            .prop_map(|(process, kind, a, b, end, early, dt)| Action {
                process,
                kind,
                a,
                b,
                end,
                early,
                dt,
            }),
        1..max,
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    CasRegister,
    Register,
    FifoQueue,
    UnorderedQueue,
    Set,
    Mutex,
    /// Two keys, "x" and "y", of one-character strings: appends and puts
    /// of equal characters make values that are prefixes of each other.
    Kv,
}

/// The simulated kv state: key "x"'s bytes, 255, key "y"'s bytes.
fn kv_split(state: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match state.iter().position(|&c| c == 255) {
        Some(at) => (state[..at].to_vec(), state[at + 1..].to_vec()),
        None => (state.to_vec(), Vec::new()),
    }
}

fn kv_key(b: u8) -> &'static str {
    if b % 2 == 0 {
        "x"
    } else {
        "y"
    }
}

fn kv_text(bytes: &[u8]) -> String {
    bytes.iter().map(|&c| char::from(b'0' + c)).collect()
}

impl Kind {
    fn model(self) -> Box<dyn Model> {
        let name = match self {
            Kind::CasRegister => "cas-register",
            Kind::Register => "register",
            Kind::FifoQueue => "fifo-queue",
            Kind::UnorderedQueue => "unordered-queue",
            Kind::Set => "set",
            Kind::Mutex => "mutex",
            Kind::Kv => "kv",
        };
        model_by_name(name, None).unwrap()
    }

    /// The op's f and input.
    fn invoke(self, kind: u8, a: u8, b: u8) -> (&'static str, Value) {
        let v = json!(a);
        match self {
            Kind::CasRegister | Kind::Register => match kind % 4 {
                0 | 1 => ("read", Value::Null),
                3 if self == Kind::CasRegister => ("cas", json!([a, b])),
                _ => ("write", v),
            },
            Kind::FifoQueue | Kind::UnorderedQueue => match kind % 2 {
                0 => ("dequeue", Value::Null),
                _ => ("enqueue", v),
            },
            Kind::Set => match kind % 2 {
                0 => ("read", Value::Null),
                _ => ("add", v),
            },
            Kind::Mutex => match kind % 2 {
                0 => ("acquire", Value::Null),
                _ => ("release", Value::Null),
            },
            Kind::Kv => match kind % 4 {
                0 | 1 => ("get", json!([kv_key(b), null])),
                2 => ("put", json!([kv_key(b), kv_text(&[a])])),
                _ => ("append", json!([kv_key(b), kv_text(&[a])])),
            },
        }
    }

    /// Applies the op to the simulated object: its output if it took
    /// effect, `None` if it must fail.
    fn apply(self, state: &mut Vec<u8>, f: &str, a: u8, b: u8) -> Option<Value> {
        match (self, f) {
            (Kind::CasRegister | Kind::Register, "read") => {
                Some(state.first().map_or(Value::Null, |v| json!(v)))
            }
            (_, "write") => {
                *state = vec![a];
                Some(json!(a))
            }
            (_, "cas") => (state.first() == Some(&a)).then(|| {
                *state = vec![b];
                json!([a, b])
            }),
            (_, "enqueue") => {
                state.push(a);
                Some(json!(a))
            }
            (Kind::FifoQueue, "dequeue") => Some(if state.is_empty() {
                Value::Null
            } else {
                json!(state.remove(0))
            }),
            (_, "dequeue") => Some(if state.is_empty() {
                Value::Null
            } else {
                json!(state.remove(usize::from(a) % state.len()))
            }),
            (_, "add") => {
                if !state.contains(&a) {
                    state.push(a);
                }
                Some(json!(a))
            }
            (Kind::Set, "read") => {
                let mut s = state.clone();
                s.sort_unstable();
                Some(json!(s))
            }
            (Kind::Kv, _) => {
                let (mut x, mut y) = kv_split(state);
                let value = if b % 2 == 0 { &mut x } else { &mut y };
                let out = match f {
                    "get" => kv_text(value),
                    "put" => {
                        *value = vec![a];
                        kv_text(&[a])
                    }
                    _ => {
                        value.push(a);
                        kv_text(&[a])
                    }
                };
                *state = x;
                state.push(255);
                state.extend(y);
                Some(json!([kv_key(b), out]))
            }
            (_, "acquire") => state.is_empty().then(|| {
                state.push(1);
                Value::Null
            }),
            (_, "release") => (!state.is_empty()).then(|| {
                state.clear();
                Value::Null
            }),
            _ => unreachable!("{f}"),
        }
    }
}

/// Builds a history of at most `max_ops` ops from the actions, with the
/// `corrupt`th ok output replaced by `with` (if there is one).
fn build(kind: Kind, actions: &[Action], max_ops: usize, corrupt: Option<(usize, u8)>) -> History {
    struct Pending {
        f: &'static str,
        input: Value,
        a: u8,
        b: u8,
        /// The output, when it took effect at invocation.
        early: Option<Option<Value>>,
    }
    let mut h = History::default();
    let mut state: Vec<u8> = Vec::new();
    let mut pending: BTreeMap<usize, Pending> = BTreeMap::new();
    let mut process_of: Vec<u64> = (0..4).collect();
    let mut next_process = 4;
    let mut invoked = 0;
    let mut ok_count = 0;
    let mut time = 0;
    for act in actions {
        time += act.dt;
        let c = act.process;
        let proc = Process::Client(process_of[c]);
        match pending.remove(&c) {
            None if invoked < max_ops => {
                let (f, input) = kind.invoke(act.kind, act.a, act.b);
                let early = act.early.then(|| kind.apply(&mut state, f, act.a, act.b));
                h.push(Op::new(proc, OpType::Invoke, f, input.clone()).at(time));
                pending.insert(
                    c,
                    Pending {
                        f,
                        input,
                        a: act.a,
                        b: act.b,
                        early,
                    },
                );
                invoked += 1;
            }
            None => {}
            Some(p) if act.end == 9 => {
                pending.insert(c, p);
            }
            Some(p) => {
                let output = match p.early {
                    Some(out) => out,
                    None if act.end == 7 && act.a % 2 == 0 => None,
                    None => kind.apply(&mut state, p.f, p.a, p.b),
                };
                let (ty, value) = match (act.end, output) {
                    (7, _) => (OpType::Info, p.input.clone()),
                    (_, None) => (OpType::Fail, p.input.clone()),
                    (_, Some(out)) => {
                        ok_count += 1;
                        match corrupt {
                            Some((n, with)) if n == ok_count - 1 && p.input.is_null() => {
                                let wrong = if kind == Kind::Set {
                                    json!([with])
                                } else {
                                    json!(with)
                                };
                                (OpType::Ok, wrong)
                            }
                            Some((n, with)) if n == ok_count - 1 && p.f == "get" => {
                                let mut wrong = out.clone();
                                wrong[1] =
                                    json!(format!("{}{}", out[1].as_str().unwrap_or(""), with));
                                if with % 2 == 0 {
                                    wrong[1] = json!(kv_text(&[with]));
                                }
                                (OpType::Ok, wrong)
                            }
                            _ => (OpType::Ok, out),
                        }
                    }
                };
                h.push(Op::new(proc, ty, p.f, value).at(time));
                if ty == OpType::Info {
                    process_of[c] = next_process;
                    next_process += 1;
                }
            }
        }
    }
    h
}

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

fn agree(kind: Kind, h: &History) -> Result<(), TestCaseError> {
    let model = kind.model();
    let expected = brute(h, model.as_ref());
    let want = if expected {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    let mut search_only = LinearOptions::default();
    search_only.search_only = true;
    let mut breadth_first = LinearOptions::default();
    breadth_first.depth_first_configs_max = Some(0);
    let mut breadth_first_only = breadth_first.clone();
    breadth_first_only.search_only = true;
    let mut unsplit = LinearOptions::default();
    unsplit.split = false;
    for (label, m, options) in [
        ("unsplit", kind.model(), unsplit),
        ("model", model, LinearOptions::default()),
        ("search", kind.model(), search_only),
        ("breadth-first", kind.model(), breadth_first),
        ("breadth-first search", kind.model(), breadth_first_only),
        (
            "opaque",
            Box::new(Opaque(kind.model())) as _,
            LinearOptions::default(),
        ),
    ] {
        let result = lightcone_linear::check(h, m.as_ref(), &options);
        prop_assert_eq!(result.valid, want, "{} {:?} on {:#?}", label, kind, h.ops);
        if result.valid == Validity::Valid {
            if label != "unsplit" {
                assert_replays(h, m.as_ref(), &result);
            }
        } else if result
            .partitions
            .iter()
            .any(|p| p.method == Method::Frontier)
        {
            let w = result.witness().expect("an invalid result has a witness");
            prop_assert!(!w.states.is_empty() || w.cause.contains("reachable"));
        } else {
            let w = result.witness().expect("an invalid result has a witness");
            prop_assert!(!w.cause.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3000, 1))]
    #[test]
    fn cas_register_agrees_with_brute_force(
        acts in actions(24),
        corrupt in prop::option::of((0..8usize, 0..4u8)),
    ) {
        agree(Kind::CasRegister, &build(Kind::CasRegister, &acts, 8, corrupt))?;
    }
}

proptest! {
    #![proptest_config(config(1500, 2))]
    #[test]
    fn register_agrees_with_brute_force(
        acts in actions(24),
        corrupt in prop::option::of((0..8usize, 0..4u8)),
    ) {
        agree(Kind::Register, &build(Kind::Register, &acts, 8, corrupt))?;
    }
}

proptest! {
    #![proptest_config(config(1500, 3))]
    #[test]
    fn other_models_agree_with_brute_force(
        acts in actions(20),
        corrupt in prop::option::of((0..8usize, 0..4u8)),
        which in 0..4usize,
    ) {
        let kind = [Kind::FifoQueue, Kind::UnorderedQueue, Kind::Set, Kind::Mutex][which];
        agree(kind, &build(kind, &acts, 7, corrupt))?;
    }
}

/// Histories with many indeterminate ops: the symmetry and dominance
/// pruning of crashed ops is where the search is most subtle.
fn crashy(acts: Vec<Action>) -> Vec<Action> {
    acts.into_iter()
        .map(|mut a| {
            if a.end < 4 {
                a.end = 7;
            }
            a
        })
        .collect()
}

proptest! {
    #![proptest_config(config(3000, 7))]
    #[test]
    fn kv_agrees_with_brute_force(
        acts in actions(24),
        corrupt in prop::option::of((0..8usize, 0..4u8)),
    ) {
        agree(Kind::Kv, &build(Kind::Kv, &acts, 9, corrupt))?;
    }
}

proptest! {
    #![proptest_config(config(2000, 4))]
    #[test]
    fn crash_heavy_histories_agree_with_brute_force(
        acts in actions(28).prop_map(crashy),
        corrupt in prop::option::of((0..8usize, 0..4u8)),
        cas in any::<bool>(),
    ) {
        let kind = if cas { Kind::CasRegister } else { Kind::UnorderedQueue };
        agree(kind, &build(kind, &acts, 10, corrupt))?;
    }
}

/// Unique written values: the zone test decides; the search must agree.
fn unique_values(h: History) -> History {
    let mut next = 10u64;
    let mut written: BTreeMap<(Process, u64), u64> = BTreeMap::new();
    let mut h2 = History::default();
    for op in h.ops {
        let mut op = op;
        if op.f == "write" {
            if op.kind == OpType::Invoke {
                next += 1;
                written.insert((op.process, 0), next);
                op.value = json!(next);
            } else {
                op.value = json!(written[&(op.process, 0)]);
            }
        } else if op.f == "read" && op.kind == OpType::Ok && !op.value.is_null() {
            // Read a recently written value.
            let v = op.value.as_u64().unwrap();
            op.value = json!(next.saturating_sub(v % 3).max(11).min(next));
        }
        h2.push(op);
    }
    h2
}

proptest! {
    #![proptest_config(config(3000, 5))]
    #[test]
    fn the_zone_test_agrees_with_the_search(acts in actions(30)) {
        let h = unique_values(build(Kind::Register, &acts, 10, None));
        let fast = lightcone_linear::check(&h, model_by_name("register", None).unwrap().as_ref(), &LinearOptions::default());
        let opaque = Opaque(model_by_name("register", None).unwrap());
        let slow = lightcone_linear::check(&h, &opaque, &LinearOptions::default());
        prop_assert_eq!(fast.valid, slow.valid, "{:#?}", h.ops);
        let method = fast.partitions[0].method;
        prop_assert!(
            matches!(
                method,
                Method::RegisterZones | Method::ValueScreen | Method::StaleRead | Method::Trivial
            ),
            "{:?}", method
        );
        if h.len() <= 20 {
            let expected = brute(&h, &opaque);
            prop_assert_eq!(slow.valid == Validity::Valid, expected);
        }
    }
}

#[test]
fn independent_keys_agree_with_brute_force() {
    // Two keys interleaved: each key's history is a register history.
    let mut runner = proptest::test_runner::TestRunner::new(config(500, 6));
    let strategy = (
        actions(20),
        actions(20),
        prop::option::of((0..8usize, 0..4u8)),
    );
    runner
        .run(&strategy, |(a, b, corrupt)| {
            let ha = build(Kind::CasRegister, &a, 6, corrupt);
            let hb = build(Kind::CasRegister, &b, 6, None);
            let mut merged: Vec<Op> = Vec::new();
            for (key, h, offset) in [("a", ha, 0u64), ("b", hb, 100u64)] {
                for mut op in h.ops {
                    op.value = json!([key, op.value]);
                    op.process = match op.process {
                        Process::Client(p) => Process::Client(p + offset),
                        Process::Nemesis => Process::Nemesis,
                    };
                    merged.push(op);
                }
            }
            merged.sort_by_key(|op| op.time);
            let h: History = merged.into_iter().collect();
            let model = model_by_name("independent-cas-register", None).unwrap();
            let expected = brute(&h, model.as_ref());
            let result = lightcone_linear::check(&h, model.as_ref(), &LinearOptions::default());
            prop_assert_eq!(result.valid == Validity::Valid, expected, "{:#?}", h.ops);
            let mut unsplit = LinearOptions::default();
            unsplit.split = false;
            let whole = lightcone_linear::check(&h, model.as_ref(), &unsplit);
            prop_assert_eq!(whole.valid, result.valid, "unsplit {:#?}", h.ops);
            prop_assert_eq!(whole.partitions.len(), 1);
            Ok(())
        })
        .unwrap();
}
