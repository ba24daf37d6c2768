//! Generators of register histories for tests and benchmarks: clients
//! invoke ops with random overlapping intervals against a simulated
//! register that takes each op's effect at a random point inside its
//! interval, so the history is linearizable by construction (and, with
//! `corrupt`, provably not). Deterministic given the seed; no clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use lightcone_history::{History, Op, OpType, Process};
use serde_json::{json, Value};

/// Register values the single-register generator draws from: 0..VALUES.
const VALUES: u64 = 5;
/// A client waits 1..GAP_NS between ops and an op takes 100..DURATION_NS,
/// so clients are busy most of the time and about `clients` ops overlap.
const GAP_NS: u64 = 500;
const DURATION_NS: u64 = 5_000;

use lightcone_rng::SplitMix64 as Rng;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Read,
    Write(u64),
    Cas(u64, u64),
}

/// One planned op: when it is called, takes effect and returns.
#[derive(Debug, Clone)]
struct Planned {
    process: u64,
    key: u64,
    kind: Kind,
    invoke: u64,
    effect: u64,
    complete: u64,
    crashed: bool,
    /// A crashed op takes effect or not.
    happens: bool,
    /// Filled in by `apply`: what a read saw, whether a cas matched.
    read: Option<u64>,
    ok: bool,
}

/// Plans `ops` ops over `clients` clients, each issuing one at a time; a
/// client whose op crashes continues as a new process.
fn plan(
    rng: &mut Rng,
    clients: usize,
    ops: usize,
    crash_permille: u32,
    mut choose: impl FnMut(&mut Rng) -> (u64, Kind),
) -> Vec<Planned> {
    let clients = clients.max(1);
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut ready: BinaryHeap<Reverse<(u64, usize)>> = (0..clients)
        .map(|c| Reverse((rng.below(GAP_NS), c)))
        .collect();
    let mut planned = Vec::with_capacity(ops);
    while planned.len() < ops {
        let Reverse((invoke, c)) = ready.pop().expect("clients are always ready again");
        let duration = 100 + rng.below(DURATION_NS - 100);
        let (key, kind) = choose(rng);
        let crashed = rng.permille(crash_permille);
        planned.push(Planned {
            process: process[c],
            key,
            kind,
            invoke,
            effect: invoke + rng.below(duration + 1),
            complete: invoke + duration,
            crashed,
            happens: !crashed || rng.below(2) == 0,
            read: None,
            ok: false,
        });
        if crashed {
            process[c] = next_process;
            next_process += 1;
        }
        ready.push(Reverse((invoke + duration + 1 + rng.below(GAP_NS), c)));
    }
    planned
}

/// Applies the ops that happen in order of their effect times to one
/// register per key (all starting empty), recording what each saw.
fn apply(planned: &mut [Planned]) {
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].effect, i));
    let mut registers: std::collections::BTreeMap<u64, u64> = Default::default();
    for i in order {
        let p = &mut planned[i];
        if !p.happens {
            continue;
        }
        let current = registers.get(&p.key).copied();
        match p.kind {
            Kind::Read => {
                p.read = current;
                p.ok = true;
            }
            Kind::Write(v) => {
                registers.insert(p.key, v);
                p.ok = true;
            }
            Kind::Cas(old, new) => {
                p.ok = current == Some(old);
                if p.ok {
                    registers.insert(p.key, new);
                }
            }
        }
    }
}

fn nil_or(v: Option<u64>) -> Value {
    v.map_or(Value::Null, Value::from)
}

/// The history of planned, applied ops: events in time order (at equal
/// times in planning order), values wrapped as `[key, v]` when `keyed`.
fn emit(planned: &[Planned], keyed: bool) -> History {
    let wrap = |key: u64, v: Value| if keyed { json!([key, v]) } else { v };
    let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(planned.len() * 2);
    for (i, p) in planned.iter().enumerate() {
        events.push((p.invoke, i, false));
        events.push((p.complete, i, true));
    }
    events.sort_unstable();
    let mut h = History::default();
    for (time, i, completion) in events {
        let p = &planned[i];
        let (f, input) = match p.kind {
            Kind::Read => ("read", Value::Null),
            Kind::Write(v) => ("write", json!(v)),
            Kind::Cas(old, new) => ("cas", json!([old, new])),
        };
        let (kind, value) = if !completion {
            (OpType::Invoke, input)
        } else if p.crashed {
            (OpType::Info, input)
        } else if p.kind == Kind::Read {
            (OpType::Ok, nil_or(p.read))
        } else if p.ok {
            (OpType::Ok, input)
        } else {
            (OpType::Fail, input)
        };
        h.push(Op::new(Process::Client(p.process), kind, f, wrap(p.key, value)).at(time));
    }
    h
}

/// A single-register history of `ops` read / write / cas ops (values 0..5,
/// initially nil; reads half, writes and cas a quarter each) over `clients`
/// concurrent clients, `crash_permille` of them crashing (`info`, taking
/// effect or not). Linearizable by construction for the `cas-register`
/// model. With `corrupt`, one ok read (from a random point in the second
/// half) gets a value it provably cannot see: an ok write or cas of another
/// value completes before it begins, after every op that could set that
/// value (crashed ones included) has completed. When crashed ops rule out
/// every later read, the corrupted read is an early one; when none
/// qualifies, it reads a value nothing writes.
pub fn register_history(
    seed: u64,
    clients: usize,
    ops: usize,
    crash_permille: u32,
    corrupt: bool,
) -> History {
    let mut rng = Rng(seed);
    let mut planned = plan(&mut rng, clients, ops, crash_permille, |rng| {
        let kind = match rng.below(4) {
            0 | 1 => Kind::Read,
            2 => Kind::Write(rng.below(VALUES)),
            _ => Kind::Cas(rng.below(VALUES), rng.below(VALUES)),
        };
        (0, kind)
    });
    apply(&mut planned);
    if corrupt {
        corrupt_one_read(&mut rng, &mut planned);
    }
    emit(&planned, false)
}

/// A multi-key register history (values `[key, v]`, for the
/// `independent-register` model) of `ops` reads and writes over `keys` keys,
/// every written value distinct: the shape the zone test decides without a
/// search. Linearizable by construction; no crashes.
pub fn unique_register_history(seed: u64, clients: usize, keys: usize, ops: usize) -> History {
    let mut rng = Rng(seed);
    let keys = keys.max(1) as u64;
    let mut next_value = 0u64;
    let mut planned = plan(&mut rng, clients, ops, 0, |rng| {
        let key = rng.below(keys);
        if rng.below(2) == 0 {
            (key, Kind::Read)
        } else {
            next_value += 1;
            (key, Kind::Write(next_value))
        }
    });
    apply(&mut planned);
    emit(&planned, true)
}

/// Changes one ok read (searching from a random point in the second half
/// of the history) to a value u it provably cannot see: some ok write or
/// cas w, setting a value other than u, completes before the read is
/// invoked, and every op that could set u (a write of u or cas to u, ok or
/// crashed) and is invoked before the read completes returns before w is
/// invoked. Then between w and the read nothing can bring u back. Falls
/// back to a value nothing writes when no read qualifies (the value
/// pre-pass then catches it).
fn corrupt_one_read(rng: &mut Rng, planned: &mut [Planned]) {
    let reads: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].kind == Kind::Read && !planned[i].crashed)
        .collect();
    if reads.is_empty() {
        return;
    }
    let (producers, setters) = setter_tables(planned);
    let start = reads.len() / 2 + rng.below((reads.len() - reads.len() / 2) as u64) as usize;
    for step in 0..reads.len() {
        let i = reads[(start + step) % reads.len()];
        let (invoke, complete, seen) = (planned[i].invoke, planned[i].complete, planned[i].read);
        let first_u = rng.below(VALUES);
        for du in 0..VALUES {
            let u = (first_u + du) % VALUES;
            if Some(u) == seen {
                continue;
            }
            let qualifies = match running_max(&producers[u as usize], complete, true) {
                None => true,
                Some(u64::MAX) => false,
                Some(last_end) => running_max(&setters[u as usize], invoke, false)
                    .is_some_and(|w_invoke| w_invoke > last_end),
            };
            if qualifies {
                planned[i].read = Some(u);
                return;
            }
        }
    }
    let i = reads[start];
    planned[i].read = Some(VALUES);
}

/// Per value, a list of (key, running maximum) sorted by key.
type PerValue = Vec<Vec<(u64, u64)>>;

/// Per value u: the ops that could set u by invocation, with their latest
/// completion so far (crashed: never); and the definite setters of
/// another value by completion, with their latest invocation so far.
fn setter_tables(planned: &[Planned]) -> (PerValue, PerValue) {
    let sets = |p: &Planned| -> Option<u64> {
        match p.kind {
            Kind::Write(v) if p.happens || p.crashed => Some(v),
            Kind::Cas(_, new) if p.ok || p.crashed => Some(new),
            _ => None,
        }
    };
    let mut producers: PerValue = vec![Vec::new(); VALUES as usize];
    let mut setters: PerValue = vec![Vec::new(); VALUES as usize];
    for p in planned.iter() {
        if let Some(v) = sets(p) {
            let end = if p.crashed { u64::MAX } else { p.complete };
            producers[v as usize].push((p.invoke, end));
            if !p.crashed {
                for (u, s) in setters.iter_mut().enumerate() {
                    if u as u64 != v {
                        s.push((p.complete, p.invoke));
                    }
                }
            }
        }
    }
    for list in producers.iter_mut().chain(setters.iter_mut()) {
        list.sort_unstable();
        let mut running = 0;
        for entry in list.iter_mut() {
            running = running.max(entry.1);
            entry.1 = running;
        }
    }
    (producers, setters)
}

/// The running maximum of the last entry whose key is at most `bound` (or
/// below it, unless `inclusive`).
fn running_max(list: &[(u64, u64)], bound: u64, inclusive: bool) -> Option<u64> {
    let n = list.partition_point(|&(k, _)| if inclusive { k <= bound } else { k < bound });
    (n > 0).then(|| list[n - 1].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histories_are_deterministic_and_well_formed() {
        let a = register_history(7, 5, 200, 20, false);
        assert_eq!(a, register_history(7, 5, 200, 20, false));
        assert_ne!(a, register_history(8, 5, 200, 20, false));
        assert_eq!(a.len(), 400, "every op is invoked and completes");
        let invokes = a.iter().filter(|op| op.is_invoke()).count();
        assert_eq!(invokes, 200);
        // Each process has at most one op outstanding.
        let mut open = std::collections::BTreeSet::new();
        for op in a.iter() {
            if op.is_invoke() {
                assert!(open.insert(op.process), "{op:?}");
            } else {
                assert!(open.remove(&op.process), "{op:?}");
            }
        }
        assert!(a.iter().any(|op| op.kind == OpType::Info), "2% crash");
        let mut times: Vec<u64> = a.iter().map(|op| op.time).collect();
        let sorted = times.clone();
        times.sort_unstable();
        assert_eq!(times, sorted, "events in time order");
    }

    #[test]
    fn corrupting_changes_exactly_one_read() {
        let a = register_history(3, 10, 1000, 2, false);
        let b = register_history(3, 10, 1000, 2, true);
        let differing: Vec<_> = a.ops.iter().zip(&b.ops).filter(|(x, y)| x != y).collect();
        assert_eq!(differing.len(), 1);
        assert_eq!(differing[0].0.f, "read");
        assert_eq!(differing[0].0.kind, OpType::Ok);
    }

    #[test]
    fn unique_histories_write_each_value_once() {
        let h = unique_register_history(1, 4, 3, 300);
        let mut written = std::collections::BTreeSet::new();
        for op in h.iter().filter(|op| op.is_invoke() && op.f == "write") {
            let pair = op.value.as_array().unwrap();
            assert!(pair[0].as_u64().unwrap() < 3);
            assert!(written.insert(pair[1].as_u64().unwrap()));
        }
        assert!(!written.is_empty());
    }
}
