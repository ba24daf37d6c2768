//! The bad-pattern checkers against a brute force written straight from
//! the axiomatic definitions, on thousands of random tiny differentiated
//! histories (at most 3 processes, 6 ops, 2 keys). The brute force
//! enumerates orders and visibility sets; it shares no code with the
//! crate.
//!
//! Definitions (Bouajjani, Enea, Guerraoui, Hamza, POPL 2017, section 3):
//! `co` is the causal order; the definitions quantify over every strict
//! partial order containing `po` under which each read's write precedes
//! it, and `(po ∪ wr)+` is the least of them, which can only make the
//! serialisations easier to find (a serialisation for a larger causal
//! past restricts to one for a smaller), so the brute force takes it.
//! - CC: for each op `o`, some order of `o`'s causal past extending `co`
//!   in which `o` alone (other ops' outputs hidden) is legal.
//! - CM: the same with every op of `o`'s process up to `o` legal.
//! - CCv: one total order extending `co` such that for each `o`, its
//!   restriction to `o`'s causal past makes `o` legal.
//! - PRAM: for each process, an order of its ops and all writes,
//!   extending each process's program order, with its ops legal.
//! - Session guarantees: see `session.rs` in the crate; checked here by
//!   enumerating each session's write order and every read's visible set.

use lightcone_check::Validity;
use lightcone_history::{History, Op, OpType, Process};
use lightcone_weak::{check_all, WeakOptions, MODEL_NAMES};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
enum Act {
    Read { key: u8, val: u32 },
    Write { key: u8, val: u32 },
    Cas { key: u8, from: u32, to: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
    Ok,
    Fail,
    Info,
}

#[derive(Clone, Copy, Debug)]
struct TinyOp {
    proc: usize,
    act: Act,
    outcome: Outcome,
}

impl TinyOp {
    fn key(&self) -> u8 {
        match self.act {
            Act::Read { key, .. } | Act::Write { key, .. } | Act::Cas { key, .. } => key,
        }
    }
    fn reads(&self) -> Option<u32> {
        match self.act {
            Act::Read { val, .. } => Some(val),
            Act::Cas { from, .. } => Some(from),
            Act::Write { .. } => None,
        }
    }
    fn writes(&self) -> Option<u32> {
        match self.act {
            Act::Write { val, .. } => Some(val),
            Act::Cas { to, .. } => Some(to),
            Act::Read { .. } => None,
        }
    }
}

fn generate(rng: &mut ChaCha8Rng) -> Vec<TinyOp> {
    generate_sized(rng, 6, 2)
}

fn generate_sized(rng: &mut ChaCha8Rng, ops_max: usize, keys: u8) -> Vec<TinyOp> {
    let procs = rng.gen_range(1..=3);
    let n = rng.gen_range(1..=ops_max);
    let mut next = 1u32;
    let mut ops: Vec<TinyOp> = (0..n)
        .map(|_| {
            let proc = rng.gen_range(0..procs);
            let key = rng.gen_range(0..keys);
            let act = match rng.gen_range(0..100) {
                0..=39 => {
                    next += 1;
                    Act::Write { key, val: next - 1 }
                }
                40..=84 => Act::Read { key, val: 0 },
                _ => {
                    next += 1;
                    Act::Cas {
                        key,
                        from: 0,
                        to: next - 1,
                    }
                }
            };
            let outcome = match rng.gen_range(0..100) {
                0..=84 => Outcome::Ok,
                85..=91 => Outcome::Fail,
                _ => Outcome::Info,
            };
            TinyOp { proc, act, outcome }
        })
        .collect();
    let written: Vec<(u8, u32)> = ops
        .iter()
        .filter_map(|o| o.writes().map(|v| (o.key(), v)))
        .collect();
    for op in ops.iter_mut() {
        let key = op.key();
        let own = op.writes();
        let mut choices: Vec<u32> = vec![0];
        choices.extend(
            written
                .iter()
                .filter(|(k, v)| *k == key && Some(*v) != own)
                .map(|(_, v)| *v),
        );
        let mut pick = choices[rng.gen_range(0..choices.len())];
        if rng.gen_range(0..200) == 0 {
            pick = 99;
        }
        match &mut op.act {
            Act::Read { val, .. } => *val = pick,
            Act::Cas { from, .. } => *from = pick,
            Act::Write { .. } => {}
        }
    }
    ops
}

fn to_history(ops: &[TinyOp]) -> History {
    let mut h = History::default();
    for o in ops {
        let p = Process::Client(o.proc as u64);
        let k = o.key();
        let (f, inv, ok) = match o.act {
            Act::Read { val, .. } => ("read", json!([k, null]), json!([k, val])),
            Act::Write { val, .. } => ("write", json!([k, val]), json!([k, val])),
            Act::Cas { from, to, .. } => ("cas", json!([k, [from, to]]), json!([k, [from, to]])),
        };
        let kind = match o.outcome {
            Outcome::Ok => OpType::Ok,
            Outcome::Fail => OpType::Fail,
            Outcome::Info => OpType::Info,
        };
        h.push(Op::new(p, OpType::Invoke, f, inv));
        h.push(Op::new(p, kind, f, ok));
    }
    h
}

/// All orders of `items` in which `before(a, b)` puts a before b, each
/// given to `visit` until it says stop (returns true).
fn orders(
    items: &[usize],
    before: &dyn Fn(usize, usize) -> bool,
    visit: &mut dyn FnMut(&[usize]) -> bool,
) -> bool {
    fn go(
        left: &mut Vec<usize>,
        done: &mut Vec<usize>,
        before: &dyn Fn(usize, usize) -> bool,
        visit: &mut dyn FnMut(&[usize]) -> bool,
    ) -> bool {
        if left.is_empty() {
            return visit(done);
        }
        for i in 0..left.len() {
            let x = left[i];
            if left.iter().any(|&y| y != x && before(y, x)) {
                continue;
            }
            left.remove(i);
            done.push(x);
            let stop = go(left, done, before, visit);
            done.pop();
            left.insert(i, x);
            if stop {
                return true;
            }
        }
        false
    }
    go(&mut items.to_vec(), &mut Vec::new(), before, visit)
}

/// Runs `seq`; the ops in `visible` must read what they read.
fn legal(ops: &[TinyOp], seq: &[usize], visible: &dyn Fn(usize) -> bool) -> bool {
    let mut state = [0u32; 4];
    for &i in seq {
        let o = &ops[i];
        if let Some(v) = o.reads() {
            if visible(i) && state[o.key() as usize] != v {
                return false;
            }
        }
        if let Some(v) = o.writes() {
            state[o.key() as usize] = v;
        }
    }
    true
}

struct Facts {
    n: usize,
    /// The writer of each op's read, None for the initial value.
    writer: Vec<Option<usize>>,
    thin_air: bool,
    co: Vec<Vec<bool>>,
    co_cyclic: bool,
}

/// The facts of each way the reads can read from the writes: one way in
/// a differentiated history; in another, each read of a value written
/// more than once (or of the initial value, once written) may read any of
/// its writes. The definitions quantify over the causal order, and each
/// valid one contains `po` and one write of each read's value, so ranging
/// over the choices of that write covers them.
fn facts_all(ops: &[TinyOp]) -> Vec<Facts> {
    let n = ops.len();
    let candidates: Vec<Vec<Option<usize>>> = (0..n)
        .map(|i| {
            let Some(v) = ops[i].reads() else {
                return vec![None];
            };
            let mut c: Vec<Option<usize>> = (0..n)
                .filter(|&j| j != i && ops[j].key() == ops[i].key() && ops[j].writes() == Some(v))
                .map(Some)
                .collect();
            if v == 0 {
                c.push(None);
            }
            c
        })
        .collect();
    if candidates.iter().any(Vec::is_empty) {
        return vec![facts(ops, vec![None; n], true)];
    }
    let mut all = Vec::new();
    let mut choice = vec![0usize; n];
    loop {
        let writer = (0..n).map(|i| candidates[i][choice[i]]).collect();
        all.push(facts(ops, writer, false));
        let mut i = 0;
        loop {
            if i == n {
                return all;
            }
            choice[i] += 1;
            if choice[i] < candidates[i].len() {
                break;
            }
            choice[i] = 0;
            i += 1;
        }
    }
}

fn facts(ops: &[TinyOp], writer: Vec<Option<usize>>, thin_air: bool) -> Facts {
    let n = ops.len();
    let mut co = vec![vec![false; n]; n];
    for a in 0..n {
        for b in 0..n {
            if (ops[a].proc == ops[b].proc && a < b) || writer[b] == Some(a) {
                co[a][b] = true;
            }
        }
    }
    for k in 0..n {
        for a in 0..n {
            for b in 0..n {
                if co[a][k] && co[k][b] {
                    co[a][b] = true;
                }
            }
        }
    }
    let co_cyclic = (0..n).any(|a| co[a][a]);
    Facts {
        n,
        writer,
        thin_air,
        co,
        co_cyclic,
    }
}

fn causal_past(f: &Facts, o: usize) -> Vec<usize> {
    (0..f.n).filter(|&a| a == o || f.co[a][o]).collect()
}

fn brute_cc(ops: &[TinyOp], f: &Facts, memory: bool) -> bool {
    if f.thin_air || f.co_cyclic {
        return false;
    }
    (0..f.n).all(|o| {
        let past = causal_past(f, o);
        let visible = |i: usize| {
            if memory {
                ops[i].proc == ops[o].proc && i <= o
            } else {
                i == o
            }
        };
        orders(&past, &|a, b| f.co[a][b], &mut |seq| {
            legal(ops, seq, &visible)
        })
    })
}

fn brute_ccv(ops: &[TinyOp], f: &Facts) -> bool {
    if f.thin_air || f.co_cyclic {
        return false;
    }
    let all: Vec<usize> = (0..f.n).collect();
    orders(&all, &|a, b| f.co[a][b], &mut |seq| {
        (0..f.n).all(|o| {
            let sub: Vec<usize> = seq
                .iter()
                .copied()
                .filter(|&a| a == o || f.co[a][o])
                .collect();
            legal(ops, &sub, &|i| i == o)
        })
    })
}

fn brute_pram(ops: &[TinyOp], f: &Facts) -> bool {
    if f.thin_air {
        return false;
    }
    let procs: Vec<usize> = ops.iter().map(|o| o.proc).collect();
    procs.iter().all(|&p| {
        let view: Vec<usize> = (0..f.n)
            .filter(|&i| ops[i].proc == p || ops[i].writes().is_some())
            .collect();
        orders(
            &view,
            &|a, b| ops[a].proc == ops[b].proc && a < b,
            &mut |seq| legal(ops, seq, &|i| ops[i].proc == p),
        )
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Guarantee {
    Ryw,
    Mr,
    Mw,
    Wfr,
}

/// Session guarantees: for each session, a write order `ar` and a
/// visible set per read (bit j: the j-th write).
fn brute_session(ops: &[TinyOp], f: &Facts, g: Guarantee) -> bool {
    if f.thin_air {
        return false;
    }
    let writes: Vec<usize> = (0..f.n).filter(|&i| ops[i].writes().is_some()).collect();
    let bit = |op: usize| 1u32 << writes.iter().position(|&w| w == op).unwrap();
    let procs: Vec<usize> = ops.iter().map(|o| o.proc).collect();
    procs.iter().all(|&p| {
        let reads: Vec<usize> = (0..f.n)
            .filter(|&i| ops[i].proc == p && ops[i].reads().is_some())
            .collect();
        orders(&writes, &|_, _| false, &mut |ar| {
            let rank = |w: usize| ar.iter().position(|&x| x == w).unwrap();
            // ar-constraints of MW and WFR.
            for &w1 in &writes {
                for &w2 in &writes {
                    let mw = g == Guarantee::Mw && ops[w1].proc == ops[w2].proc && w1 < w2;
                    if mw && rank(w1) > rank(w2) {
                        return false;
                    }
                }
            }
            if g == Guarantee::Wfr {
                for r1 in 0..f.n {
                    let Some(w1) = f.writer[r1] else { continue };
                    for &w2 in &writes {
                        if ops[w2].proc == ops[r1].proc && r1 <= w2 && rank(w1) >= rank(w2) {
                            return false;
                        }
                    }
                }
            }
            // Each read's candidate visible sets.
            let candidates: Vec<Vec<u32>> = reads
                .iter()
                .map(|&r| {
                    (0u32..1 << writes.len())
                        .filter(|&vis| {
                            // RVal.
                            let last = writes
                                .iter()
                                .filter(|&&w| vis & bit(w) != 0 && ops[w].key() == ops[r].key())
                                .max_by_key(|&&w| rank(w));
                            let got = last.map_or(0, |&w| ops[w].writes().unwrap());
                            if Some(got) != ops[r].reads() {
                                return false;
                            }
                            let has = |w: usize| vis & bit(w) != 0;
                            match g {
                                Guarantee::Ryw => writes
                                    .iter()
                                    .all(|&w| !(ops[w].proc == p && w < r) || has(w)),
                                Guarantee::Mw => writes.iter().all(|&w2| {
                                    writes.iter().all(|&w1| {
                                        !(ops[w1].proc == ops[w2].proc && w1 < w2 && has(w2))
                                            || has(w1)
                                    })
                                }),
                                Guarantee::Wfr => (0..f.n).all(|r1| {
                                    let Some(w1) = f.writer[r1] else { return true };
                                    writes.iter().all(|&w2| {
                                        !(ops[w2].proc == ops[r1].proc && r1 <= w2 && has(w2))
                                            || has(w1)
                                    })
                                }),
                                Guarantee::Mr => true,
                            }
                        })
                        .collect()
                })
                .collect();
            // Choose one per read; MR links them.
            fn choose(c: &[Vec<u32>], k: usize, prev: Option<u32>, mr: bool) -> bool {
                if k == c.len() {
                    return true;
                }
                c[k].iter().any(|&v| {
                    (!mr || prev.is_none_or(|p| p & v == p)) && choose(c, k + 1, Some(v), mr)
                })
            }
            choose(&candidates, 0, None, g == Guarantee::Mr)
        })
    })
}

/// The ops that happened: ok ones; not failed ones; an indeterminate
/// write (or cas) if an op that happened reads its value; no
/// indeterminate read.
fn happened(ops: &[TinyOp]) -> Vec<TinyOp> {
    let mut kept: Vec<bool> = ops.iter().map(|o| o.outcome == Outcome::Ok).collect();
    loop {
        let mut changed = false;
        for i in 0..ops.len() {
            if kept[i] || ops[i].outcome != Outcome::Info {
                continue;
            }
            let Some(v) = ops[i].writes() else { continue };
            let read = (0..ops.len())
                .any(|j| kept[j] && ops[j].key() == ops[i].key() && ops[j].reads() == Some(v));
            if read {
                kept[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    ops.iter()
        .zip(&kept)
        .filter(|(_, &k)| k)
        .map(|(o, _)| *o)
        .collect()
}

fn brute(ops: &[TinyOp], model: &str) -> bool {
    let ops = &happened(ops)[..];
    facts_all(ops).iter().any(|f| brute_with(ops, f, model))
}

fn brute_with(ops: &[TinyOp], f: &Facts, model: &str) -> bool {
    match model {
        "causal" => brute_cc(ops, f, false),
        "causal-memory" => brute_cc(ops, f, true),
        "causal-convergence" => brute_ccv(ops, f),
        "pram" => brute_pram(ops, f),
        "read-your-writes" => brute_session(ops, f, Guarantee::Ryw),
        "monotonic-reads" => brute_session(ops, f, Guarantee::Mr),
        "monotonic-writes" => brute_session(ops, f, Guarantee::Mw),
        "writes-follow-reads" => brute_session(ops, f, Guarantee::Wfr),
        other => panic!("no brute force for {other}"),
    }
}

fn options() -> WeakOptions {
    WeakOptions {
        initial: Value::from(0),
        ..WeakOptions::keyed()
    }
}

#[test]
fn bad_patterns_agree_with_brute_force() {
    let histories = 20_000;
    let mut invalid = vec![0usize; MODEL_NAMES.len()];
    // Histories valid under the first model and invalid under the second:
    // the differences between the models are exercised.
    let separations = [
        ("causal", "causal-convergence"),
        ("causal", "causal-memory"),
        ("causal-memory", "causal-convergence"),
        // causal-convergence but not causal-memory needs more than six ops
        // (tests/ladder/ccv-not-cm.jsonl has eight).
        ("pram", "causal"),
        ("causal", "pram"),
        ("read-your-writes", "pram"),
        ("monotonic-reads", "pram"),
        ("pram", "writes-follow-reads"),
    ];
    let mut separated = vec![0usize; separations.len()];
    for seed in 0..histories {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let ops = generate(&mut rng);
        let results = check_all(&to_history(&ops), &options());
        let valid =
            |m: &str| results.iter().find(|r| r.model == m).unwrap().valid == Validity::Valid;
        for (k, (a, b)) in separations.iter().enumerate() {
            if valid(a) && !valid(b) {
                separated[k] += 1;
            }
        }
        for (m, r) in MODEL_NAMES.iter().zip(&results) {
            let expected = brute(&ops, m);
            let got = match r.valid {
                Validity::Valid => true,
                Validity::Invalid => false,
                Validity::Unknown => panic!("seed {seed}: {m} unknown: {:?}", r.reason),
            };
            assert_eq!(
                got, expected,
                "seed {seed}: model {m}: checker says {got}, brute force {expected}; history {ops:?}; witness {:?}",
                r.witness
            );
            if !got {
                invalid[MODEL_NAMES.iter().position(|x| x == m).unwrap()] += 1;
            }
        }
    }
    eprintln!(
        "separations: {:?}",
        separations.iter().zip(&separated).collect::<Vec<_>>()
    );
    for (pair, count) in separations.iter().zip(&separated) {
        assert!(*count >= 5, "{pair:?} separated by only {count} histories");
    }
    eprintln!(
        "invalid counts of {histories}: {:?}",
        MODEL_NAMES.iter().zip(&invalid).collect::<Vec<_>>()
    );
    // Each model is found invalid on some of them (the test can fail),
    // except monotonic-writes, which alone only a thin-air read violates.
    for (m, count) in MODEL_NAMES.iter().zip(&invalid) {
        assert!(
            *count > 20,
            "{m}: only {count} invalid histories of {histories}"
        );
    }
}

/// The hierarchy the crate's docs state, checked on the brute force.
#[test]
fn the_hierarchy_holds_on_the_brute_force() {
    let implies = [
        ("causal-memory", "causal"),
        ("causal-convergence", "causal"),
        ("causal-memory", "pram"),
        ("pram", "read-your-writes"),
        ("pram", "monotonic-reads"),
        ("pram", "monotonic-writes"),
        ("causal", "writes-follow-reads"),
    ];
    for seed in 0..1500u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let ops = generate(&mut rng);
        for (strong, weak) in implies {
            if brute(&ops, strong) {
                assert!(
                    brute(&ops, weak),
                    "seed {seed}: {strong} but not {weak}: {ops:?}"
                );
            }
        }
    }
}

fn brute_sequential(ops: &[TinyOp]) -> bool {
    let all: Vec<usize> = (0..ops.len()).collect();
    orders(
        &all,
        &|a, b| ops[a].proc == ops[b].proc && a < b,
        &mut |seq| legal(ops, seq, &|_| true),
    )
}

/// `times[i]`: positions of op i's invocation and completion in the file.
fn brute_linearizable(ops: &[TinyOp], times: &[(usize, usize)]) -> bool {
    let all: Vec<usize> = (0..ops.len()).collect();
    orders(&all, &|a, b| times[a].1 < times[b].0, &mut |seq| {
        legal(ops, seq, &|_| true)
    })
}

/// A ladder file as tiny ops (keys "x", "y", "z"; null is the initial
/// value), with each op's invocation and completion positions.
fn tiny_from_jsonl(text: &str) -> (Vec<TinyOp>, Vec<(usize, usize)>) {
    let h = History::from_jsonl(text).unwrap();
    let key = |v: &Value| match v[0].as_str().unwrap() {
        "x" => 0u8,
        "y" => 1,
        "z" => 2,
        other => panic!("key {other}"),
    };
    let val = |v: &Value| v.as_u64().map_or(0, |n| n as u32);
    let mut ops = Vec::new();
    let mut times = Vec::new();
    for (i, c) in h.pair_positions() {
        let c = c.unwrap();
        let (inv, ok) = (&h.ops[i], &h.ops[c]);
        let Process::Client(p) = inv.process else {
            continue;
        };
        let k = key(&inv.value);
        let act = match inv.f.as_str() {
            "read" => Act::Read {
                key: k,
                val: val(&ok.value[1]),
            },
            "write" => Act::Write {
                key: k,
                val: val(&inv.value[1]),
            },
            other => panic!("f {other}"),
        };
        ops.push(TinyOp {
            proc: p as usize,
            act,
            outcome: Outcome::Ok,
        });
        times.push((i, c));
    }
    (ops, times)
}

/// The ladder's expected verdicts, every column (linearizable and
/// sequential included), are what the brute force finds.
#[test]
fn the_ladder_agrees_with_the_brute_force() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ladder");
    let text = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    for line in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        let (ops, times) = tiny_from_jsonl(&std::fs::read_to_string(dir.join(cells[0])).unwrap());
        for (model, expected) in header[1..].iter().zip(&cells[1..]) {
            let got = match *model {
                "linearizable" => brute_linearizable(&ops, &times),
                "sequential" => brute_sequential(&ops),
                m => brute(&ops, m),
            };
            assert_eq!(got, *expected == "valid", "{}: {model}", cells[0]);
        }
    }
}

/// Larger histories (up to 8 ops, 3 keys) for the causal models and
/// PRAM, where causal-convergence and causal-memory part ways.
#[test]
fn causal_models_agree_with_brute_force_on_larger_histories() {
    let models = ["causal", "causal-convergence", "causal-memory", "pram"];
    let (mut ccv_not_cm, mut cm_not_ccv, mut cc_only) = (0, 0, 0);
    for seed in 0..6000u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xb16);
        let ops = match seed % 3 {
            0 => generate_sized(&mut rng, 8, 3),
            1 => simulate_store(&mut rng, true),
            _ => simulate_store(&mut rng, false),
        };
        let results = check_all(&to_history(&ops), &options());
        let verdict = |m: &str| {
            let r = results.iter().find(|r| r.model == m).unwrap();
            let expected = brute(&ops, m);
            assert_eq!(
                r.valid == Validity::Valid,
                expected,
                "seed {seed}: {m}: {ops:?}: {:?}",
                r.witness
            );
            expected
        };
        let v: Vec<bool> = models.iter().map(|m| verdict(m)).collect();
        if v[1] && !v[2] {
            ccv_not_cm += 1;
        }
        if v[2] && !v[1] {
            cm_not_ccv += 1;
        }
        if v[0] && !v[1] && !v[2] {
            cc_only += 1;
        }
    }
    // Causal-convergence without causal-memory takes a particular
    // history of eight ops or more (tests/ladder/ccv-not-cm.jsonl, which
    // the brute force checks too); random ones seldom hit it.
    eprintln!("ccv-not-cm {ccv_not_cm}, cm-not-ccv {cm_not_ccv}, cc-only {cc_only}");
    assert!(
        cm_not_ccv >= 5 && cc_only >= 5,
        "too few histories separate the causal models"
    );
}

/// A history of a simulated causally consistent store: each process a
/// replica, writes delivered to the others in causal order at random
/// moments, applied last-writer-wins by Lamport-style timestamps with
/// random increments (`lww`, giving
/// causal convergence) or in delivery order (causal memory); then, one
/// time in three, one read's value replaced by another.
fn simulate_store(rng: &mut ChaCha8Rng, lww: bool) -> Vec<TinyOp> {
    let procs = rng.gen_range(2..=3);
    let op_count = rng.gen_range(3..=8);
    // Per write: origin, key, value, the writes applied at its origin.
    let mut writes: Vec<(usize, u8, u32, Vec<bool>)> = Vec::new();
    // Per write: its timestamp (ties broken by number).
    let mut stamps: Vec<(u32, usize)> = Vec::new();
    let mut applied: Vec<Vec<bool>> = vec![Vec::new(); procs];
    // Per replica and key: (value, the write's number + 1; 0 initial).
    let mut state = vec![[(0u32, 0usize); 3]; procs];
    let mut ops = Vec::new();
    while ops.len() < op_count {
        if rng.gen_range(0..2) == 0 {
            // Deliver a write whose dependencies the replica has.
            let p = rng.gen_range(0..procs);
            let ready: Vec<usize> =
                (0..writes.len())
                    .filter(|&w| {
                        !applied[p].get(w).copied().unwrap_or(false)
                            && writes[w].3.iter().enumerate().all(|(d, &dep)| {
                                !dep || applied[p].get(d).copied().unwrap_or(false)
                            })
                    })
                    .collect();
            if let Some(&w) = ready.get(rng.gen_range(0..ready.len().max(1))) {
                let (_, key, val, _) = writes[w];
                applied[p].resize(writes.len(), false);
                applied[p][w] = true;
                let slot = &mut state[p][key as usize];
                if !lww || slot.1 == 0 || stamps[w] > stamps[slot.1 - 1] {
                    *slot = (val, w + 1);
                }
            }
            continue;
        }
        let proc = rng.gen_range(0..procs);
        let key = rng.gen_range(0..2u8);
        if rng.gen_range(0..2) == 0 {
            let val = writes.len() as u32 + 1;
            let mut deps = applied[proc].clone();
            deps.resize(writes.len(), false);
            let base = (0..writes.len())
                .filter(|&d| deps[d])
                .map(|d| stamps[d].0)
                .max()
                .unwrap_or(0);
            stamps.push((base + rng.gen_range(1..=4), writes.len()));
            writes.push((proc, key, val, deps));
            let w = writes.len() - 1;
            applied[proc].resize(writes.len(), false);
            applied[proc][w] = true;
            state[proc][key as usize] = (val, w + 1);
            ops.push(TinyOp {
                proc,
                act: Act::Write { key, val },
                outcome: Outcome::Ok,
            });
        } else {
            let val = state[proc][key as usize].0;
            ops.push(TinyOp {
                proc,
                act: Act::Read { key, val },
                outcome: Outcome::Ok,
            });
        }
    }
    if rng.gen_range(0..3) == 0 {
        let reads: Vec<usize> = (0..ops.len())
            .filter(|&i| ops[i].reads().is_some())
            .collect();
        if let Some(&r) = reads.get(rng.gen_range(0..reads.len().max(1))) {
            let key = ops[r].key();
            let mut choices = vec![0];
            choices.extend(writes.iter().filter(|w| w.1 == key).map(|w| w.2));
            let pick = choices[rng.gen_range(0..choices.len())];
            ops[r].act = Act::Read { key, val: pick };
        }
    }
    ops
}

/// Histories whose values repeat (writes from {0, 1, 2}, 0 the initial
/// value): an invalid verdict must be right whatever the reads read, a
/// valid one too; unknown is allowed.
#[test]
fn verdicts_on_repeated_values_are_sound() {
    let (mut invalid, mut unknown) = (0, 0);
    for seed in 0..6000u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xd0b1e);
        let mut ops = generate(&mut rng);
        for op in &mut ops {
            op.outcome = Outcome::Ok;
            let pick = rng.gen_range(0..3);
            match &mut op.act {
                Act::Write { val, .. } => *val = pick,
                Act::Cas { to, .. } => *to = pick,
                Act::Read { val, .. } => *val = rng.gen_range(0..3),
            }
            if let Act::Cas { from, .. } = &mut op.act {
                *from = rng.gen_range(0..3);
            }
        }
        let results = check_all(&to_history(&ops), &options());
        for r in &results {
            match r.valid {
                Validity::Unknown => unknown += 1,
                v => {
                    let expected = brute(&ops, r.model);
                    assert_eq!(
                        v == Validity::Valid,
                        expected,
                        "seed {seed}: {}: {:?}: {:?}",
                        r.model,
                        ops,
                        r.witness
                    );
                    if v == Validity::Invalid {
                        invalid += 1;
                    }
                }
            }
        }
    }
    eprintln!("repeated values: {invalid} invalid, {unknown} unknown verdicts");
    assert!(invalid > 1000 && unknown > 1000);
}
