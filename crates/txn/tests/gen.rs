//! The transactional history generator: determinism, the shape of the
//! history (each process sequential, one completion per invocation), the
//! options honoured, and reads consistent with a serial order that respects
//! real time, judged by a small reference checker that replays the
//! committed transactions in the order they took effect.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_history::{History, Op, OpType, Process};
use lightcone_txn::gen::{self, GenOptions, Generated, Workload};
use serde_json::Value;

fn options(txns: usize, processes: usize) -> GenOptions {
    GenOptions {
        txns,
        processes,
        ..GenOptions::default()
    }
}

fn faulty(txns: usize, processes: usize) -> GenOptions {
    GenOptions {
        fail_permille: 100,
        info_permille: 50,
        ..options(txns, processes)
    }
}

fn generate(workload: Workload, seed: u64, options: &GenOptions) -> Generated {
    gen::generate(workload, seed, options).unwrap()
}

const WORKLOADS: [Workload; 2] = [Workload::ListAppend, Workload::RwRegister];

/// A micro-op read back from a history: `f`, key, value.
fn mops(op: &Op) -> Vec<(String, u64, Value)> {
    op.value
        .as_array()
        .expect("a txn's value is an array")
        .iter()
        .map(|mop| {
            let mop = mop.as_array().expect("a micro-op is an array");
            assert_eq!(mop.len(), 3, "{mop:?}");
            let f = mop[0].as_str().expect("f is a string").to_string();
            let key = mop[1].as_u64().expect("keys are integers");
            (f, key, mop[2].clone())
        })
        .collect()
}

fn client(op: &Op) -> u64 {
    match op.process {
        Process::Client(p) => p,
        Process::Nemesis => panic!("no nemesis in a generated history"),
    }
}

/// Invocation position -> completion position.
fn completions(history: &History) -> BTreeMap<usize, usize> {
    history
        .pair_positions()
        .into_iter()
        .map(|(i, c)| (i, c.expect("every invocation completes")))
        .collect()
}

#[test]
fn the_same_seed_gives_the_same_history_and_another_seed_another() {
    for workload in WORKLOADS {
        let o = faulty(500, 7);
        let a = generate(workload, 11, &o);
        let b = generate(workload, 11, &o);
        assert_eq!(a.history.to_jsonl(), b.history.to_jsonl());
        assert_eq!(a.commit_order, b.commit_order);
        let c = generate(workload, 12, &o);
        assert_ne!(a.history.to_jsonl(), c.history.to_jsonl());
    }
}

#[test]
fn the_transactions_drawn_do_not_depend_on_the_timing() {
    // The transactions come from their own stream: with one process the
    // invocations are in draw order, and with twenty as well.
    let one = gen::list_append_history(4, &options(300, 1));
    let many = gen::list_append_history(4, &options(300, 20));
    let values = |h: &History| -> Vec<Value> {
        h.ops
            .iter()
            .filter(|op| op.is_invoke())
            .map(|op| op.value.clone())
            .collect()
    };
    assert_eq!(values(&one), values(&many));
}

#[test]
fn each_process_invokes_then_completes_then_is_idle_or_invokes_again() {
    for workload in WORKLOADS {
        let o = faulty(3000, 10);
        let history = generate(workload, 5, &o).history;
        assert_eq!(history.len(), 2 * o.txns);
        let mut open: BTreeMap<u64, &Op> = BTreeMap::new();
        let mut crashed = BTreeSet::new();
        let mut last_ns: BTreeMap<u64, u64> = BTreeMap::new();
        let mut overlap_max = 0;
        for (position, op) in history.ops.iter().enumerate() {
            assert_eq!(op.index, position as u64);
            assert_eq!(op.f, "txn");
            if position > 0 {
                assert!(
                    op.time >= history.ops[position - 1].time,
                    "time goes back at {position}"
                );
            }
            let p = client(op);
            assert!(
                !crashed.contains(&p),
                "crashed process {p} reappears at {position}"
            );
            if p >= 10 && !last_ns.contains_key(&p) {
                assert!(
                    crashed.contains(&(p - 10)),
                    "process {p} replaces no crashed one"
                );
            }
            if let Some(&before) = last_ns.get(&p) {
                assert!(
                    op.time > before,
                    "process {p}'s times do not increase at {position}"
                );
            }
            last_ns.insert(p, op.time);
            if op.is_invoke() {
                assert!(
                    open.insert(p, op).is_none(),
                    "process {p} invokes twice at {position}"
                );
                overlap_max = overlap_max.max(open.len());
            } else {
                let invoke = open
                    .remove(&p)
                    .expect("a completion follows its invocation");
                if op.kind != OpType::Ok {
                    assert_eq!(
                        op.value, invoke.value,
                        "fail and info keep the invocation value"
                    );
                }
                if op.kind == OpType::Info {
                    crashed.insert(p);
                }
            }
        }
        assert!(open.is_empty(), "invocations left open: {open:?}");
        assert!(!crashed.is_empty());
        // Ten processes, busy most of the time: most of them overlap.
        assert!(
            overlap_max >= 8,
            "at most {overlap_max} transactions overlapped"
        );
        assert!(history.ops.iter().any(|op| client(op) >= 10));
    }
}

#[test]
fn invocations_read_null_and_writes_are_unique_per_key_and_counted_from_one() {
    for workload in WORKLOADS {
        let o = faulty(5000, 10);
        let history = generate(workload, 6, &o).history;
        let write_f = match workload {
            Workload::ListAppend => "append",
            Workload::RwRegister => "w",
        };
        let mut written: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        for op in history.ops.iter().filter(|op| op.is_invoke()) {
            for (f, key, value) in mops(op) {
                if f == "r" {
                    assert_eq!(value, Value::Null);
                    continue;
                }
                assert_eq!(f, write_f);
                let v = value.as_u64().expect("written values are integers");
                assert!(
                    written.entry(key).or_default().insert(v),
                    "{key} written {v} twice"
                );
            }
        }
        for (key, values) in &written {
            // 1, 2, 3, ... with no gaps, and never past the cap.
            let expected: BTreeSet<u64> = (1..=values.len() as u64).collect();
            assert_eq!(values, &expected, "key {key}");
            assert!(values.len() as u64 <= o.max_writes_per_key, "key {key}");
        }
    }
}

#[test]
fn lengths_and_key_counts_are_as_asked() {
    for workload in WORKLOADS {
        for (min, max, keys) in [(1, 4, 10), (2, 2, 1), (3, 8, 3), (1, 1, 50)] {
            let o = GenOptions {
                min_txn_length: min,
                max_txn_length: max,
                key_count: keys,
                max_writes_per_key: 5,
                ..options(4000, 8)
            };
            let history = generate(workload, 9, &o).history;
            let invokes: Vec<&Op> = history.ops.iter().filter(|op| op.is_invoke()).collect();
            let lengths: BTreeSet<usize> = invokes.iter().map(|op| mops(op).len()).collect();
            assert_eq!(lengths, (min..=max).collect(), "lengths {min}..={max}");
            // Past about 20 keys the least likely ones (2^-20 of the
            // likeliest) may never be drawn at all.
            let live = live_keys_max(&invokes);
            assert!(live <= keys, "{live} keys in use with key-count {keys}");
            if keys <= 10 {
                assert_eq!(live, keys, "key-count {keys}");
            }
        }
    }
}

/// The most keys in use at once: a key is in use from the first to the
/// last micro-op that names it, over the micro-ops of the invocations in
/// order (keys are active from when they are introduced until retired,
/// transactions are drawn at invocation, and a key may be retired and
/// replaced halfway through a transaction).
fn live_keys_max(invokes: &[&Op]) -> usize {
    let mut span: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    let all = invokes.iter().flat_map(|op| mops(op));
    let mut count = 0;
    for (i, (_, key, _)) in all.enumerate() {
        span.entry(key).or_insert((i, i)).1 = i;
        count = i + 1;
    }
    let mut change = vec![0i64; count + 1];
    for (first, last) in span.values() {
        change[*first] += 1;
        change[*last + 1] -= 1;
    }
    let mut live = 0;
    let mut most = 0;
    for c in change {
        live += c;
        most = most.max(live);
    }
    most as usize
}

/// The reference checker: replays the transactions that took effect in
/// `commit_order` against a fresh store and lists every way the history
/// disagrees: an ok transaction whose reads differ from the replay, a
/// commit order that goes against real time, an ok transaction missing
/// from it or a failed one in it.
fn replay_errors(workload: Workload, generated: &Generated) -> Vec<String> {
    let history = &generated.history;
    let completion = completions(history);
    let mut errors = Vec::new();
    let mut lists: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    let mut registers: BTreeMap<u64, Value> = BTreeMap::new();
    let mut committed = BTreeSet::new();
    for &invoke in &generated.commit_order {
        let invoke = invoke as usize;
        committed.insert(invoke);
        let done = &history.ops[completion[&invoke]];
        let mut expected = Vec::new();
        for (f, key, value) in mops(&history.ops[invoke]) {
            let read = match (workload, f.as_str()) {
                (_, "r") => match workload {
                    Workload::ListAppend => {
                        Value::Array(lists.get(&key).cloned().unwrap_or_default())
                    }
                    Workload::RwRegister => registers.get(&key).cloned().unwrap_or(Value::Null),
                },
                (Workload::ListAppend, _) => {
                    lists.entry(key).or_default().push(value.clone());
                    value
                }
                (Workload::RwRegister, _) => {
                    registers.insert(key, value.clone());
                    value
                }
            };
            expected.push(Value::Array(vec![Value::from(f), Value::from(key), read]));
        }
        match done.kind {
            OpType::Ok if done.value != Value::Array(expected.clone()) => errors.push(format!(
                "op {}: read {} but the serial replay gives {}",
                done.index,
                done.value,
                Value::Array(expected)
            )),
            OpType::Fail => errors.push(format!("op {}: a failed txn took effect", done.index)),
            _ => {}
        }
    }
    for (&invoke, &done) in &completion {
        if history.ops[done].kind == OpType::Ok && !committed.contains(&invoke) {
            errors.push(format!("op {done}: ok but never took effect"));
        }
    }
    errors.extend(realtime_errors(generated, &completion));
    errors
}

/// The commit order must respect real time: a transaction that completed
/// before another was invoked took effect before it.
fn realtime_errors(generated: &Generated, completion: &BTreeMap<usize, usize>) -> Vec<String> {
    let position: BTreeMap<usize, usize> = generated
        .commit_order
        .iter()
        .enumerate()
        .map(|(i, &invoke)| (invoke as usize, i))
        .collect();
    let invoke_of: BTreeMap<usize, usize> = completion.iter().map(|(&i, &c)| (c, i)).collect();
    let mut completed_latest: Option<usize> = None;
    let mut errors = Vec::new();
    for (at, op) in generated.history.ops.iter().enumerate() {
        if op.is_invoke() {
            if let (Some(&mine), Some(before)) = (position.get(&at), completed_latest) {
                if mine < before {
                    errors.push(format!(
                        "op {at} took effect before one that completed earlier"
                    ));
                }
            }
        } else if let Some(&p) = position.get(&invoke_of[&at]) {
            completed_latest = completed_latest.max(Some(p));
        }
    }
    errors
}

#[test]
fn reads_agree_with_the_serial_order_the_transactions_took_effect_in() {
    for workload in WORKLOADS {
        for (seed, o) in [
            (1, options(5000, 10)),
            (2, faulty(5000, 30)),
            (3, options(2000, 1)),
        ] {
            let generated = generate(workload, seed, &o);
            let errors = replay_errors(workload, &generated);
            assert!(errors.is_empty(), "{workload:?} seed {seed}: {errors:#?}");
            let oks = generated
                .history
                .ops
                .iter()
                .filter(|op| op.kind == OpType::Ok)
                .count();
            assert!(generated.commit_order.len() >= oks);
        }
    }
}

#[test]
fn the_reference_checker_catches_a_changed_read_and_a_reordered_commit() {
    for workload in WORKLOADS {
        let generated = generate(workload, 8, &options(500, 10));
        assert!(replay_errors(workload, &generated).is_empty());

        // Change one non-empty read of an ok completion.
        let mut changed = generated.clone();
        let op = changed
            .history
            .ops
            .iter_mut()
            .find(|op| {
                op.kind == OpType::Ok
                    && mops(op)
                        .iter()
                        .any(|(f, _, v)| f == "r" && !v.is_null() && v != &Value::Array(vec![]))
            })
            .expect("some ok txn read something");
        let mop = op
            .value
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|m| m[0] == "r" && !m[2].is_null() && m[2] != Value::Array(vec![]))
            .unwrap();
        mop[2] = match workload {
            Workload::ListAppend => Value::Array(vec![]),
            Workload::RwRegister => Value::Null,
        };
        assert!(!replay_errors(workload, &changed).is_empty());

        // Swap the first and last transactions to take effect.
        let mut reordered = generated.clone();
        let last = reordered.commit_order.len() - 1;
        reordered.commit_order.swap(0, last);
        assert!(!replay_errors(workload, &reordered).is_empty());
    }
}

/// Without the commit order: every list read of a key is a prefix of the
/// longest, and a read never shows less of a key than a read of a
/// transaction that completed before this one was invoked.
#[test]
fn list_reads_are_prefixes_of_one_order_and_never_go_back_in_real_time() {
    let history = generate(Workload::ListAppend, 13, &faulty(20_000, 30)).history;
    let mut longest: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    let reads = |op: &Op| -> Vec<(u64, Vec<Value>)> {
        mops(op)
            .into_iter()
            .filter(|(f, _, _)| f == "r")
            .map(|(_, k, v)| (k, v.as_array().expect("ok list reads are lists").clone()))
            .collect()
    };
    for op in history.ops.iter().filter(|op| op.kind == OpType::Ok) {
        for (key, list) in reads(op) {
            let known = longest.entry(key).or_default();
            if list.len() > known.len() {
                *known = list;
            }
        }
    }
    // Seen by completed transactions, per key: the longest read length.
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut floor_at_invoke: BTreeMap<u64, BTreeMap<u64, usize>> = BTreeMap::new();
    for op in &history.ops {
        let p = client(op);
        if op.is_invoke() {
            let floor = mops(op)
                .into_iter()
                .map(|(_, key, _)| (key, seen.get(&key).copied().unwrap_or(0)))
                .collect();
            floor_at_invoke.insert(p, floor);
            continue;
        }
        let floor = floor_at_invoke.remove(&p).unwrap();
        if op.kind != OpType::Ok {
            continue;
        }
        for (key, list) in reads(op) {
            assert!(
                longest[&key].starts_with(&list),
                "op {}: key {key} {list:?}",
                op.index
            );
            let least = floor.get(&key).copied().unwrap_or(0);
            assert!(list.len() >= least, "op {}: key {key} went back", op.index);
            let s = seen.entry(key).or_default();
            *s = (*s).max(list.len());
        }
    }
}

#[test]
fn failed_writes_are_never_read_and_info_writes_sometimes_are() {
    for workload in WORKLOADS {
        let generated = generate(workload, 21, &faulty(10_000, 10));
        let history = &generated.history;
        let completion = completions(history);
        let mut failed = BTreeSet::new();
        let mut info_txns = 0;
        for (&invoke, &done) in &completion {
            let writes = mops(&history.ops[invoke])
                .into_iter()
                .filter(|(f, _, _)| f != "r")
                .map(|(_, k, v)| (k, v.as_u64().unwrap()));
            match history.ops[done].kind {
                OpType::Fail => failed.extend(writes),
                OpType::Info => info_txns += 1,
                _ => {}
            }
        }
        assert!(failed.len() > 100, "{} failed writes", failed.len());
        let mut read = BTreeSet::new();
        for op in history.ops.iter().filter(|op| op.kind == OpType::Ok) {
            for (f, key, value) in mops(op) {
                match (f.as_str(), value) {
                    ("r", Value::Array(list)) => {
                        read.extend(list.iter().map(|v| (key, v.as_u64().unwrap())))
                    }
                    ("r", Value::Number(v)) => {
                        read.insert((key, v.as_u64().unwrap()));
                    }
                    _ => {}
                }
            }
        }
        assert!(
            read.is_disjoint(&failed),
            "{workload:?}: a failed write was read"
        );
        // Some info transactions took effect and some did not.
        let oks = history
            .ops
            .iter()
            .filter(|op| op.kind == OpType::Ok)
            .count();
        let info_applied = generated.commit_order.len() - oks;
        assert!(info_txns > 100 && info_applied > 0 && info_applied < info_txns);
    }
}

#[test]
fn a_history_smaller_than_the_process_count_uses_a_process_per_txn() {
    let history = gen::rw_register_history(1, &options(3, 10));
    assert_eq!(history.len(), 6);
    let processes: BTreeSet<u64> = history.ops.iter().map(client).collect();
    assert_eq!(processes.len(), 3);
    assert!(gen::list_append_history(1, &options(0, 10)).is_empty());
}

#[test]
fn bad_options_are_an_error_from_generate() {
    let o = GenOptions {
        processes: 0,
        ..GenOptions::default()
    };
    let e = gen::generate(Workload::ListAppend, 1, &o).unwrap_err();
    assert!(e.to_string().contains("--processes 0"), "{e}");
}
