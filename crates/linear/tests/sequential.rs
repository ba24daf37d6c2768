//! The sequential consistency checker: hand-written histories (sequentially
//! consistent but not linearizable, the store-buffering pattern that is
//! sequentially consistent per key but not as a whole, info and fail ops,
//! each pre-pass, the bounds), and a differential test against a brute
//! force written from the definition on thousands of random tiny
//! histories (seeded ChaCha8).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lightcone_check::Validity;
use lightcone_history::{History, Op, OpType, Process};
use lightcone_linear::{
    check, check_sequential, model_by_name, LinearOptions, Model, ModelOp, Part, SequentialMethod,
    SequentialOptions, SequentialResult,
};
use lightcone_rng::Rng;
use serde_json::{json, Value};

mod sc_replay;

fn op(p: u64, kind: OpType, f: &str, v: Value) -> Op {
    Op::new(Process::Client(p), kind, f, v)
}

/// A history from ops in order, each at the time of its position.
fn history(ops: Vec<Op>) -> History {
    ops.into_iter()
        .enumerate()
        .map(|(i, o)| o.at(10 * (i as u64 + 1)))
        .collect()
}

fn sc(h: &History, model: &str, search_only: bool) -> SequentialResult {
    let model = model_by_name(model, None).unwrap();
    let mut options = SequentialOptions::default();
    options.search_only = search_only;
    check_sequential(h, model.as_ref(), &options)
}

fn linearizable(h: &History, model: &str) -> Validity {
    let model = model_by_name(model, None).unwrap();
    check(h, model.as_ref(), &LinearOptions::default()).valid
}

use OpType::{Fail, Info, Invoke, Ok};

#[test]
fn a_stale_read_of_the_initial_value_is_sequentially_consistent_but_not_linearizable() {
    // Process 0 writes 1 and completes; later process 1 reads nil.
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Ok, "write", json!(1)),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", Value::Null),
    ]);
    assert_eq!(linearizable(&h, "register"), Validity::Invalid);
    for search_only in [false, true] {
        let r = sc(&h, "register", search_only);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.method, SequentialMethod::Search);
        assert_eq!(r.order, Some(vec![2, 0]), "the read goes first");
    }
}

#[test]
fn a_process_cannot_read_the_initial_value_after_its_own_write() {
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Ok, "write", json!(1)),
        op(0, Invoke, "read", Value::Null),
        op(0, Ok, "read", Value::Null),
    ]);
    let r = sc(&h, "register", false);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.method, SequentialMethod::WriteOrder);
    let r = sc(&h, "register", true);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.method, SequentialMethod::Search);
    let w = r.witness.expect("an invalid search has a witness");
    assert_eq!(w.op.invoke_index, 2, "the read of nil is stuck");
    assert_eq!(w.prefix.len(), 1, "after the write");
    assert_eq!(w.states, vec![json!(1)]);
    assert!(w.cause.contains("program order"), "{}", w.cause);
    assert!(w.cause.contains("need the value nil"), "{}", w.cause);
}

/// The store-buffering (Dekker) pattern on two keys: each process writes
/// its key, then reads the other's initial value. Each key alone is
/// sequentially consistent (the read goes before the write); the whole is
/// not: whichever write is first in one order precedes its process's read,
/// and the other process's read comes after its own write, so after both.
fn store_buffering(model: &str) -> History {
    let (write, read, init) = if model == "kv" {
        ("put", "get", json!(""))
    } else {
        ("write", "read", Value::Null)
    };
    let one = if model == "kv" { json!("a") } else { json!(1) };
    history(vec![
        op(0, Invoke, write, json!(["x", one])),
        op(1, Invoke, write, json!(["y", one])),
        op(0, Ok, write, json!(["x", one])),
        op(1, Ok, write, json!(["y", one])),
        op(0, Invoke, read, json!(["y", null])),
        op(1, Invoke, read, json!(["x", null])),
        op(0, Ok, read, json!(["y", init])),
        op(1, Ok, read, json!(["x", init])),
    ])
}

/// The ops of `h` on one key.
fn only_key(h: &History, key: &str) -> History {
    h.iter()
        .filter(|o| o.value[0] == json!(key))
        .cloned()
        .collect()
}

#[test]
fn store_buffering_is_sequentially_consistent_per_key_but_not_as_a_whole() {
    for model in ["independent-register", "independent-cas-register", "kv"] {
        let h = store_buffering(model);
        for key in ["x", "y"] {
            let r = sc(&only_key(&h, key), model, true);
            assert_eq!(r.valid, Validity::Valid, "{model} key {key}: {r:?}");
        }
        for search_only in [false, true] {
            let r = sc(&h, model, search_only);
            assert_eq!(r.valid, Validity::Invalid, "{model}: {r:?}");
            assert_eq!(r.key, None, "the whole history is not, no one key");
            assert_eq!(r.method, SequentialMethod::Search);
            assert!(r.witness.is_some());
            assert!(r.problems()[0].contains("not sequentially consistent"));
            let model = model_by_name(model, None).unwrap();
            let text = r.timeline(model.as_ref());
            assert!(
                text.starts_with("the history is not sequentially consistent\ncannot order op"),
                "{text}"
            );
            assert!(!text.contains("lineariz"), "{text}");
        }
    }
}

#[test]
fn a_key_that_is_not_sequentially_consistent_is_named() {
    let h = history(vec![
        op(0, Invoke, "write", json!(["x", 1])),
        op(0, Ok, "write", json!(["x", 1])),
        op(0, Invoke, "read", json!(["x", null])),
        op(0, Ok, "read", json!(["x", null])),
        op(1, Invoke, "write", json!(["y", 1])),
        op(1, Ok, "write", json!(["y", 1])),
    ]);
    let r = sc(&h, "independent-register", true);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.key, Some(json!("x")));
    assert!(r.witness.unwrap().op.text.contains("key \"x\""));
}

#[test]
fn an_info_write_may_have_happened_or_not() {
    // Process 0's write crashed; process 1 reads 1, then 2 writes 2 and
    // reads 2: the info write happened before the read.
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Info, "write", json!(1)),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", json!(1)),
    ]);
    for search_only in [false, true] {
        assert_eq!(sc(&h, "register", search_only).valid, Validity::Valid);
    }
    // It never happened: a read of nil is fine too.
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Info, "write", json!(1)),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", Value::Null),
    ]);
    assert_eq!(sc(&h, "register", true).valid, Validity::Valid);
    // But not both, in one process's order: 1 then nil.
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Info, "write", json!(1)),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", json!(1)),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", Value::Null),
    ]);
    for search_only in [false, true] {
        assert_eq!(sc(&h, "register", search_only).valid, Validity::Invalid);
    }
}

#[test]
fn an_info_op_followed_by_its_process_may_take_effect_after_the_later_ops() {
    // Not Jepsen's way (it retires a process after info), but allowed: the
    // crashed write of 1 takes effect after the process's write of 2, as
    // the linearizability checker reads it.
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Info, "write", json!(1)),
        op(0, Invoke, "write", json!(2)),
        op(0, Ok, "write", json!(2)),
        op(0, Invoke, "read", Value::Null),
        op(0, Ok, "read", json!(1)),
    ]);
    assert_eq!(linearizable(&h, "register"), Validity::Valid);
    let r = sc(&h, "register", true);
    assert_eq!(r.valid, Validity::Valid, "{r:?}");
    assert_eq!(r.order, Some(vec![2, 0, 4]));
}

#[test]
fn a_failed_write_did_not_happen() {
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Fail, "write", json!(1)),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", json!(1)),
    ]);
    let r = sc(&h, "register", false);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.method, SequentialMethod::ValueScreen);
    let r = sc(&h, "register", true);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.method, SequentialMethod::Search);
    // A failed cas did not happen either.
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Ok, "write", json!(1)),
        op(0, Invoke, "cas", json!([1, 2])),
        op(0, Fail, "cas", json!([1, 2])),
        op(0, Invoke, "read", Value::Null),
        op(0, Ok, "read", json!(2)),
    ]);
    assert_eq!(sc(&h, "cas-register", true).valid, Validity::Invalid);
}

#[test]
fn reads_in_an_order_that_contradicts_another_process_order_of_writes() {
    // Unique values: process 0 writes 1 then 2; process 1 reads 2 then 1.
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Ok, "write", json!(1)),
        op(0, Invoke, "write", json!(2)),
        op(0, Ok, "write", json!(2)),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", json!(2)),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", json!(1)),
    ]);
    let r = sc(&h, "register", false);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.method, SequentialMethod::WriteOrder);
    let text = r.timeline(model_by_name("register", None).unwrap().as_ref());
    assert!(!text.contains("lineariz"), "{text}");
    let w = r.witness.unwrap();
    assert!(w.cause.contains("cycle"), "{}", w.cause);
    assert_eq!(sc(&h, "register", true).valid, Validity::Invalid);
    // Without the second read it is fine.
    let h = History::from_iter(h.iter().take(6).cloned());
    assert_eq!(sc(&h, "register", false).valid, Validity::Valid);
}

#[test]
fn a_cas_chain_orders_writes_too() {
    // cas 1 -> 2 puts the write of 1 before the write of 2; process 1
    // reads 2 then 1.
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(0, Ok, "write", json!(1)),
        op(2, Invoke, "cas", json!([1, 2])),
        op(2, Ok, "cas", json!([1, 2])),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", json!(2)),
        op(1, Invoke, "read", Value::Null),
        op(1, Ok, "read", json!(1)),
    ]);
    let r = sc(&h, "cas-register", false);
    assert_eq!(
        (r.valid, r.method),
        (Validity::Invalid, SequentialMethod::WriteOrder)
    );
    assert_eq!(sc(&h, "cas-register", true).valid, Validity::Invalid);
}

/// Two processes each write 1, 0, 1, 0 ... `n` times; a third reads 1,
/// 0, 1 ... more times than the writes can change the value: not
/// sequentially consistent, which the search finds only after trying the
/// interleavings of the writes.
fn hard_history(n: u64) -> History {
    let mut ops = Vec::new();
    for p in 0..2u64 {
        for i in 0..n {
            ops.push(op(p, Invoke, "write", json!((i + 1) % 2)));
            ops.push(op(p, Ok, "write", json!((i + 1) % 2)));
        }
    }
    for i in 0..2 * n + 1 {
        ops.push(op(2, Invoke, "read", Value::Null));
        ops.push(op(2, Ok, "read", json!((i + 1) % 2)));
    }
    history(ops)
}

#[test]
fn past_the_bound_the_verdict_is_unknown_with_the_reason() {
    let h = hard_history(8);
    let model = model_by_name("register", None).unwrap();
    let mut options = SequentialOptions::default();
    options.configs_max = 3;
    options.search_only = true;
    let r = check_sequential(&h, model.as_ref(), &options);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.reason.as_deref(), Some("more than 3 configurations"));
    options.configs_max = 10_000_000;
    let r = check_sequential(&h, model.as_ref(), &options);
    assert_eq!(r.valid, Validity::Invalid, "within the default bound");
    assert!(r.configs > 3, "{} configurations", r.configs);
    options.configs_max = 10_000_000;
    options.stop = Some(Arc::new(AtomicBool::new(true)));
    let r = check_sequential(&h, model.as_ref(), &options);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.reason.as_deref(), Some("stopped by the caller"));
}

// ---------------------------------------------------------------------------
// The brute force: every interleaving of the processes' programs (and every
// subset of the indeterminate ops, each the last of its process), replayed
// against a map from key to the model's state. Shares no code with the
// checker but the models' `step` and `partition`.

struct BruteOp {
    key: String,
    op: ModelOp,
    indeterminate: bool,
}

/// Each process's ops in invocation order, failed ones dropped.
fn programs(h: &History, model: &dyn Model) -> Vec<Vec<BruteOp>> {
    let mut by_process: BTreeMap<Process, Vec<BruteOp>> = BTreeMap::new();
    let mut open: BTreeMap<Process, &Op> = BTreeMap::new();
    let mut done: Vec<(&Op, Option<&Op>)> = Vec::new();
    for o in h.iter() {
        if o.kind == Invoke {
            assert!(open.insert(o.process, o).is_none(), "one op at a time");
        } else {
            done.push((open.remove(&o.process).unwrap(), Some(o)));
        }
    }
    done.extend(open.into_values().map(|inv| (inv, None)));
    done.sort_by_key(|(inv, _)| inv.index);
    for (inv, completion) in done {
        let output = match completion.map(|c| c.kind) {
            Some(Fail) => continue,
            Some(Ok) => Some(completion.unwrap().value.clone()),
            _ => None,
        };
        let whole = ModelOp::new(inv.f.clone(), inv.value.clone(), output.clone());
        let (key, op) = match model.partition(&whole).unwrap() {
            Some(Part { key, op }) => (key.to_string(), op),
            None => (String::new(), whole),
        };
        by_process.entry(inv.process).or_default().push(BruteOp {
            key,
            op,
            indeterminate: output.is_none(),
        });
    }
    by_process.into_values().collect()
}

fn brute_sc(
    programs: &[Vec<BruteOp>],
    at: &mut Vec<usize>,
    state: &BTreeMap<String, Value>,
    model: &dyn Model,
) -> bool {
    let finished = programs
        .iter()
        .zip(at.iter())
        .all(|(prog, &i)| i == prog.len() || (i + 1 == prog.len() && prog[i].indeterminate));
    if finished {
        return true;
    }
    for p in 0..programs.len() {
        let Some(next) = programs[p].get(at[p]) else {
            continue;
        };
        let now = state
            .get(&next.key)
            .cloned()
            .unwrap_or_else(|| model.init());
        for after in model.steps(&now, &next.op) {
            let mut state = state.clone();
            state.insert(next.key.clone(), after);
            at[p] += 1;
            let found = brute_sc(programs, at, &state, model);
            at[p] -= 1;
            if found {
                return true;
            }
        }
    }
    false
}

fn brute(h: &History, model: &dyn Model) -> bool {
    let programs = programs(h, model);
    brute_sc(
        &programs,
        &mut vec![0; programs.len()],
        &BTreeMap::new(),
        model,
    )
}

/// What a random op does.
#[derive(Clone, Copy)]
enum Kind {
    Read,
    Write,
    Cas,
    Append,
}

/// A random tiny history of `model`: 2 or 3 clients, up to 7 ops. The
/// outputs come from a random sequential execution of the programs (so
/// many are sequentially consistent), while the history's real-time order
/// is another random interleaving (so many are not linearizable); one
/// output in three histories is then changed at random.
fn random_history(rng: &mut Rng, model: &str) -> History {
    let keyed = model != "register" && model != "cas-register";
    let kv = model == "kv";
    let unique = rng.ratio(1, 2);
    let mut next_value = 1u64;
    let clients = 2 + rng.below(2) as usize;
    // Programs: (f, key, input) per client.
    let mut progs: Vec<Vec<(Kind, String, Value)>> = Vec::new();
    let total = 2 + rng.below(6) as usize;
    for c in 0..clients {
        let n = if c + 1 == clients {
            total.saturating_sub(progs.iter().map(Vec::len).sum())
        } else {
            rng.below(4) as usize
        };
        let mut prog = Vec::new();
        for _ in 0..n.min(4) {
            let key = if keyed {
                ["x", "y"][rng.below(2) as usize]
            } else {
                ""
            }
            .to_string();
            let mut value = |rng: &mut Rng| {
                if kv {
                    json!(["a", "b", ""][rng.below(3) as usize])
                } else if unique {
                    next_value += 1;
                    json!(next_value - 1)
                } else {
                    json!(rng.below(3))
                }
            };
            let kind = match rng.below(if model.contains("cas") { 3 } else { 2 }) {
                0 => Kind::Read,
                1 if kv && rng.ratio(1, 2) => Kind::Append,
                1 => Kind::Write,
                _ => Kind::Cas,
            };
            let input = match kind {
                Kind::Read => Value::Null,
                Kind::Write | Kind::Append => value(rng),
                Kind::Cas => {
                    let new = value(rng);
                    let old = if rng.ratio(1, 2) {
                        Value::Null
                    } else {
                        json!(rng.below(new.as_u64().unwrap_or(0).max(3)))
                    };
                    json!([old, new])
                }
            };
            prog.push((kind, key, input));
        }
        progs.push(prog);
    }
    // A sequential execution in a random interleaving; each op ok, fail
    // (a cas whose compare fails; sometimes a write) or info (the last of
    // its process; it takes effect or not).
    let init = if kv { json!("") } else { Value::Null };
    let mut state: BTreeMap<String, Value> = BTreeMap::new();
    let mut outcomes: Vec<Vec<(OpType, Value)>> =
        progs.iter().map(|p| Vec::with_capacity(p.len())).collect();
    let mut crashed = vec![false; clients];
    loop {
        let live: Vec<usize> = (0..clients)
            .filter(|&c| !crashed[c] && outcomes[c].len() < progs[c].len())
            .collect();
        if live.is_empty() {
            break;
        }
        let c = live[rng.below(live.len() as u64) as usize];
        let (kind, key, input) = progs[c][outcomes[c].len()].clone();
        let now = state.get(&key).cloned().unwrap_or_else(|| init.clone());
        let crash = rng.ratio(1, 8);
        let happens = !crash || rng.ratio(1, 2);
        let (kind_out, output, next) = match kind {
            Kind::Read => (Ok, now.clone(), now.clone()),
            Kind::Write if rng.ratio(1, 10) => (Fail, input.clone(), now.clone()),
            Kind::Write => (Ok, input.clone(), input.clone()),
            Kind::Append => {
                let s = format!("{}{}", now.as_str().unwrap(), input.as_str().unwrap());
                (Ok, input.clone(), json!(s))
            }
            Kind::Cas if input[0] == now => (Ok, input.clone(), input[1].clone()),
            Kind::Cas => (Fail, input.clone(), now.clone()),
        };
        if crash {
            crashed[c] = true;
            if happens {
                state.insert(key.clone(), next);
            }
            outcomes[c].push((Info, input));
        } else {
            if kind_out == Ok {
                state.insert(key.clone(), next);
            }
            outcomes[c].push((kind_out, output));
        }
    }
    for (c, prog) in progs.iter_mut().enumerate() {
        prog.truncate(outcomes[c].len());
    }
    // Corrupt one output now and then.
    if rng.ratio(1, 3) {
        let reads: Vec<(usize, usize)> = (0..clients)
            .flat_map(|c| (0..progs[c].len()).map(move |i| (c, i)))
            .filter(|&(c, i)| outcomes[c][i].0 == Ok)
            .collect();
        if let Some(&(c, i)) = reads.get(rng.below(reads.len().max(1) as u64) as usize) {
            let v = if kv {
                json!(["", "a", "b", "ab", "ba"][rng.below(5) as usize])
            } else if rng.ratio(1, 3) {
                Value::Null
            } else {
                json!(rng.below(next_value.max(3)))
            };
            if matches!(progs[c][i].0, Kind::Read) {
                outcomes[c][i].1 = v;
            } else {
                outcomes[c][i].0 = Fail;
            }
        }
    }
    // The history: a random interleaving of invocations and completions.
    let wrap = |key: &str, v: Value| if keyed { json!([key, v]) } else { v };
    let f = |k: Kind| match k {
        Kind::Read if kv => "get",
        Kind::Read => "read",
        Kind::Write if kv => "put",
        Kind::Write => "write",
        Kind::Cas => "cas",
        Kind::Append => "append",
    };
    let mut ops = Vec::new();
    let mut next = vec![(0usize, false); clients];
    loop {
        let live: Vec<usize> = (0..clients)
            .filter(|&c| next[c].0 < progs[c].len())
            .collect();
        if live.is_empty() {
            break;
        }
        let c = live[rng.below(live.len() as u64) as usize];
        let (i, open) = next[c];
        let (kind, key, input) = &progs[c][i];
        let (done, output) = &outcomes[c][i];
        // A crashed client's process goes on as a new one, as Jepsen's.
        let process = c as u64;
        if !open {
            ops.push(op(process, Invoke, f(*kind), wrap(key, input.clone())));
            next[c].1 = true;
        } else {
            if *done != Info || rng.ratio(1, 2) {
                let v = if matches!(kind, Kind::Read) && *done == Ok {
                    output.clone()
                } else {
                    input.clone()
                };
                ops.push(op(process, *done, f(*kind), wrap(key, v)));
            }
            next[c] = (i + 1, false);
        }
    }
    history(ops)
}

#[test]
fn the_checker_agrees_with_brute_force_on_random_tiny_histories() {
    let mut counts: BTreeMap<(&str, bool, bool), usize> = BTreeMap::new();
    for (m, model_name) in ["register", "cas-register", "independent-register", "kv"]
        .iter()
        .enumerate()
    {
        let model = model_by_name(model_name, None).unwrap();
        let mut rng = Rng::new(0x005e_ed5c, m as u64);
        for case in 0..2500 {
            let h = random_history(&mut rng, model_name);
            let want = brute(&h, model.as_ref());
            for search_only in [false, true] {
                let r = sc(&h, model_name, search_only);
                let got = match r.valid {
                    Validity::Valid => true,
                    Validity::Invalid => false,
                    Validity::Unknown => panic!("{model_name} case {case}: unknown: {r:?}"),
                };
                assert_eq!(
                    got,
                    want,
                    "{model_name} case {case} (search only: {search_only}, method {:?}): \
                     the checker says {got}, brute force {want}; history:\n{}",
                    r.method,
                    h.iter()
                        .map(|o| format!("{o:?}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                if got && r.method == SequentialMethod::Search {
                    let order = r.order.as_ref().expect("the search gives its order");
                    if let Err(e) = sc_replay::replay(&h, model.as_ref(), order) {
                        panic!("{model_name} case {case}: the order {order:?} is wrong: {e}");
                    }
                }
                *counts.entry((model_name, search_only, got)).or_default() += 1;
            }
        }
    }
    // Enough of each verdict that the comparison means something.
    for ((model, search_only, verdict), n) in &counts {
        println!("{model} search-only {search_only} valid {verdict}: {n}");
        assert!(*n >= 300, "only {n} histories of {model} were {verdict}");
    }
}

#[test]
fn a_linearizable_history_is_sequentially_consistent_without_a_search() {
    let h = history(vec![
        op(0, Invoke, "write", json!(1)),
        op(1, Invoke, "read", Value::Null),
        op(0, Ok, "write", json!(1)),
        op(1, Ok, "read", json!(1)),
        op(1, Invoke, "cas", json!([1, 2])),
        op(1, Ok, "cas", json!([1, 2])),
    ]);
    let r = sc(&h, "cas-register", false);
    assert_eq!(
        (r.valid, r.method),
        (Validity::Valid, SequentialMethod::Linearizable)
    );
    assert_eq!(
        r.order, None,
        "the linearizability checker's order is not kept"
    );
    let r = sc(&h, "cas-register", true);
    assert_eq!(
        (r.valid, r.method),
        (Validity::Valid, SequentialMethod::Search)
    );
    assert_eq!(r.order, Some(vec![0, 1, 4]));
}
