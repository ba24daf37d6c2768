//! Times every weak model on a generated differentiated key-value history
//! that is causally consistent (all three causal variants valid).
//!
//! `cargo bench -p lightcone-weak --bench causal` runs 10^5 ops, 10
//! processes, 100 keys; `-- OPS PROCESSES KEYS` runs another size. Prints
//! per model the verdict and the median of 5 runs in milliseconds, then
//! `check_all` (all models, the history read once); then the same with one
//! read, nine tenths of the way in, made to return its key's first write
//! (a stale read the checkers must find).
//!
//! The history comes from a simulated store, seeded ChaCha8Rng: one log
//! of writes in creation order; each process has seen a prefix of it
//! (advancing at random, at most `LAG` behind the end) and its own
//! writes; a read returns the latest write of its key, in log order,
//! among those. Every write's causal past is then in the log before it,
//! so the history is causally consistent (arbitration: the log).

use std::time::Instant;

use lightcone_check::Validity;
use lightcone_history::{History, Op, OpType, Process};
use lightcone_weak::{check, check_all, WeakOptions, MODEL_NAMES};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// How far behind the log's end a process may see.
const LAG: usize = 64;

fn generate(ops: usize, processes: usize, keys: usize, seed: u64) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // The log: (key, value) of each write; per key, its writes' log
    // positions.
    let mut log: Vec<(usize, u64)> = Vec::new();
    let mut by_key: Vec<Vec<usize>> = vec![Vec::new(); keys];
    let mut seen = vec![0usize; processes];
    // Each process's last own write of each key (log position).
    let mut own: Vec<Vec<Option<usize>>> = vec![vec![None; keys]; processes];
    let mut h = History::default();
    let mut next_value = 1u64;
    for _ in 0..ops {
        let p = rng.gen_range(0..processes);
        let floor = log.len().saturating_sub(rng.gen_range(0..=LAG));
        seen[p] = seen[p].max(floor);
        let key = rng.gen_range(0..keys);
        let process = Process::Client(p as u64);
        if rng.gen_range(0..2) == 0 {
            let v = next_value;
            next_value += 1;
            own[p][key] = Some(log.len());
            by_key[key].push(log.len());
            log.push((key, v));
            h.push(Op::new(process, OpType::Invoke, "write", json!([key, v])));
            h.push(Op::new(process, OpType::Ok, "write", json!([key, v])));
        } else {
            let writes = &by_key[key];
            let k = writes.partition_point(|&i| i < seen[p]);
            let visible = k.checked_sub(1).map(|k| writes[k]);
            let latest = visible.max(own[p][key]);
            let v = latest.map_or(serde_json::Value::Null, |i| json!(log[i].1));
            h.push(Op::new(process, OpType::Invoke, "read", json!([key, null])));
            h.push(Op::new(process, OpType::Ok, "read", json!([key, v])));
        }
    }
    h
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[2]
}

/// The history with one read, nine tenths of the way in, returning its
/// key's first value instead.
fn corrupt(h: &History) -> History {
    let mut h = h.clone();
    let from = h.ops.len() * 9 / 10;
    let at = (from..h.ops.len())
        .find(|&i| {
            h.ops[i].kind == OpType::Ok && h.ops[i].f == "read" && !h.ops[i].value[1].is_null()
        })
        .expect("a read of a written value");
    let key = h.ops[at].value[0].clone();
    let first = h
        .ops
        .iter()
        .find(|op| op.f == "write" && op.value[0] == key)
        .expect("a write of the key")
        .value
        .clone();
    h.ops[at].value = first;
    h
}

fn run(h: &History, options: &WeakOptions) {
    println!("{:>20} {:>8} {:>9}  witness", "model", "valid", "ms");
    for model in MODEL_NAMES {
        let r = check(h, model, options).unwrap();
        let ms = median_ms(|| {
            check(h, model, options).unwrap();
        });
        let witness = r
            .witness
            .map_or(String::new(), |w| format!("{} {:?}", w.name, w.ops));
        let valid = format!("{:?}", r.valid);
        println!("{model:>20} {valid:>8} {ms:>9.1}  {witness}");
        if r.valid == Validity::Unknown {
            println!("  {:?}", r.reason);
        }
    }
    let ms = median_ms(|| {
        check_all(h, options);
    });
    println!("{:>20} {:>8} {ms:>9.1}", "check_all", "");
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (ops, processes, keys) = match args.as_slice() {
        [o, p, k] => (*o, *p, *k),
        _ => (100_000, 10, 100),
    };
    let h = generate(ops, processes, keys, 7);
    let options = WeakOptions::keyed();
    println!("{ops} ops, {processes} processes, {keys} keys, causally consistent");
    run(&h, &options);
    println!("the same with one stale read");
    run(&corrupt(&h), &options);
}
