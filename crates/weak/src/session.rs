//! The session guarantees of Terry, Demers, Petersen, Spreitzer, Theimer
//! and Welch, "Session guarantees for weakly consistent replicated data"
//! (PDIS 1994), each client process a session.
//!
//! Formalisation (Terry's definitions, section 3, read over a history as
//! in Brzezinski, Sobaniec and Wawrzyniak, "Session guarantees to achieve
//! PRAM consistency of replicated shared objects", PPAM 2003, and the
//! vis/ar style of Viotti and Vukolić, "Consistency in non-transactional
//! distributed storage systems", ACM CSUR 2016, section 3.2): each
//! session `p` has an order `ar_p` of all writes (Terry's `WriteOrder` as
//! the servers `p` talks to apply them), and each read `r` of `p` a set
//! `vis(r)` of writes (Terry's `DB(S, t)` of the server it reads); the
//! read returns the `ar_p`-last write of its key in `vis(r)`, or the
//! initial value if there is none. `RelevantWrites(r)` is the write whose
//! value `r` returned (the smallest set that gives the same result).
//! - read-your-writes: every write of `p` before `r` is in `vis(r)`.
//! - monotonic-reads: `r1` before `r2` in `p`: `vis(r1) ⊆ vis(r2)`.
//! - monotonic-writes: `w1` before `w2` in any session: `w1 ar_p w2`, and
//!   `w2 ∈ vis(r)` implies `w1 ∈ vis(r)`.
//! - writes-follow-reads: `r1` before `w2` in any session, `r1` reading
//!   `w1`: `w1 ar_p w2`, and `w2 ∈ vis(r)` implies `w1 ∈ vis(r)`.
//!
//! A cas is a read and then a write of the session. Each guarantee is
//! decided alone, and alone some are weak: monotonic-writes only orders
//! writes that a session might not read together, so with `vis` free to
//! be the smallest set it is never violated by a history without a
//! thin-air read; it bites only with read-your-writes or monotonic-reads
//! (their conjunction with it is PRAM, Brzezinski et al. 2003).

use rustc_hash::FxHashMap as HashMap;

use crate::causal::{cycle_pattern, describe, Found};
use crate::order::{Edge, Graph, Why};
use crate::prepare::{describe_key, Prepared, Source};
use crate::BadPattern;

fn sorted(ops: &[u64]) -> Vec<u64> {
    let mut ops = ops.to_vec();
    ops.sort_unstable();
    ops.dedup();
    ops
}

/// Read-your-writes. With `vis(r)` the smallest it can be (the write `r`
/// reads and `p`'s own earlier writes of the key), `ar_p` must put each of
/// those own writes before the one `r` reads. That fails when `r` reads the
/// initial value after an own write of its key, or when the constraints
/// on `p`'s own writes are cyclic; an edge `a -> b` exists iff a read of
/// `b` comes after `a`, so with `L(b)` the position of the last read of `b`
/// (`a -> b` iff `pos(a) < L(b)`), any cycle contains a two-cycle: own
/// writes `a != b` with `pos(a) < L(b)` and `pos(b) < L(a)`.
pub(crate) fn check_read_your_writes(prepared: &Prepared) -> Found {
    let events = &prepared.events;
    for ids in &prepared.lanes {
        // This session's writes by key, in order, and the last read of
        // each of its writes.
        let mut own: HashMap<u32, Vec<u32>> = HashMap::default();
        let mut last_read: HashMap<u32, u32> = HashMap::default();
        for &id in ids {
            let e = &events[id as usize];
            match e.read {
                Some(Source::Init) => {
                    if let Some(&w) = own.get(&e.key).and_then(|ws| ws.last()) {
                        return Found::Bad(BadPattern {
                            name: "OwnWriteInitRead",
                            ops: sorted(&[events[w as usize].index, e.index]),
                            description: format!(
                                "{} returns the initial value after its own {}",
                                describe(prepared, id),
                                describe(prepared, w)
                            ),
                        });
                    }
                }
                Some(Source::Write(w)) if events[w as usize].lane == e.lane => {
                    last_read.insert(w, id);
                }
                _ => {}
            }
            if e.writes() {
                own.entry(e.key).or_default().push(id);
            }
        }
        let mut keys: Vec<&u32> = own.keys().collect();
        keys.sort_unstable();
        for key in keys {
            if let Some(bad) = own_write_cycle(prepared, &own[key], &last_read) {
                return Found::Bad(bad);
            }
        }
    }
    Found::Nothing
}

/// The two-cycle among one session's writes of one key, if any.
fn own_write_cycle(
    prepared: &Prepared,
    writes: &[u32],
    last_read: &HashMap<u32, u32>,
) -> Option<BadPattern> {
    let events = &prepared.events;
    let pos = |id: u32| events[id as usize].pos;
    // The best two (last read position, write) over each prefix.
    let mut best: Vec<[Option<(u32, u32)>; 2]> = Vec::with_capacity(writes.len());
    let mut top: [Option<(u32, u32)>; 2] = [None, None];
    for &w in writes {
        if let Some(&r) = last_read.get(&w) {
            let cand = (pos(r), w);
            if top[0].is_none_or(|t| cand.0 > t.0) {
                top = [Some(cand), top[0]];
            } else if top[1].is_none_or(|t| cand.0 > t.0) {
                top[1] = Some(cand);
            }
        }
        best.push(top);
    }
    for &b in writes {
        let Some(&read_b) = last_read.get(&b) else {
            continue;
        };
        // Own writes before the last read of b.
        let k = writes.partition_point(|&w| pos(w) < pos(read_b));
        let Some(prefix) = k.checked_sub(1).map(|k| best[k]) else {
            continue;
        };
        let a = prefix.iter().flatten().find(|(_, w)| *w != b);
        if let Some(&(read_a_pos, a)) = a {
            if read_a_pos > pos(b) {
                let read_a = last_read[&a];
                let _ = read_a_pos;
                return Some(BadPattern {
                    name: "OwnWritesOutOfOrder",
                    ops: sorted(&[
                        events[a as usize].index,
                        events[b as usize].index,
                        events[read_a as usize].index,
                        events[read_b as usize].index,
                    ]),
                    description: format!(
                        "{} comes after the session's {}, so the session's write order must put that write before {}; but {} comes after {}, so the order must put that one before {}",
                        describe(prepared, read_b),
                        describe(prepared, a),
                        describe(prepared, b),
                        describe(prepared, read_a),
                        describe(prepared, b),
                        describe(prepared, a)
                    ),
                });
            }
        }
    }
    None
}

/// Monotonic reads. With `vis(r)` the writes read by `r` and the session's
/// earlier reads, the reads of each key must see a sequence of writes that
/// never returns to one it left (which would need `a` before `b` and `b`
/// before `a` in `ar_p`), and no initial value after a write was seen.
pub(crate) fn check_monotonic_reads(prepared: &Prepared) -> Found {
    let events = &prepared.events;
    for ids in &prepared.lanes {
        // Per key: the current source and its last read; sources left,
        // with their last read and the read that left them.
        let mut current: HashMap<u32, (Source, u32)> = HashMap::default();
        let mut left: HashMap<(u32, Source), (u32, u32)> = HashMap::default();
        for &id in ids {
            let e = &events[id as usize];
            let Some(source) = e.read else { continue };
            match current.get(&e.key).copied() {
                None => {}
                Some((now, last)) if now == source => {
                    let _ = last;
                }
                Some((now, last)) => {
                    if source == Source::Init {
                        return Found::Bad(BadPattern {
                            name: "InitReadAfterRead",
                            ops: sorted(&[events[last as usize].index, e.index]),
                            description: format!(
                                "{} returns the initial value after {} in the same session",
                                describe(prepared, id),
                                describe(prepared, last)
                            ),
                        });
                    }
                    if let Some(&(before, leaving)) = left.get(&(e.key, source)) {
                        return Found::Bad(BadPattern {
                            name: "NonMonotonicRead",
                            ops: sorted(&[
                                events[before as usize].index,
                                events[leaving as usize].index,
                                e.index,
                            ]),
                            description: format!(
                                "{} goes back to a write{} the session had moved past: {} came first, then {}",
                                describe(prepared, id),
                                describe_key(&prepared.keys[e.key as usize]),
                                describe(prepared, before),
                                describe(prepared, leaving)
                            ),
                        });
                    }
                    left.insert((e.key, now), (last, id));
                }
            }
            current.insert(e.key, (source, id));
        }
    }
    Found::Nothing
}

/// Writes-follow-reads. With `vis(r)` the smallest set closed under the
/// guarantee, `ar_p` must contain every `w1 -> w2` where a read of `w1`
/// precedes `w2` in a session; it exists iff those edges are acyclic. The
/// edges from a read to each later write of its session go through one
/// auxiliary node per write ("this write and every later one of the
/// session"), to stay linear.
pub(crate) fn check_writes_follow_reads(prepared: &Prepared) -> Found {
    let events = &prepared.events;
    let n = events.len() as u32;
    let mut edges = Vec::new();
    // The auxiliary node of write id is n + id.
    for ids in &prepared.lanes {
        let writes: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| events[id as usize].writes())
            .collect();
        for pair in writes.windows(2) {
            edges.push(Edge {
                from: n + pair[0],
                to: n + pair[1],
                why: Why::Po,
            });
        }
        for &w in &writes {
            edges.push(Edge {
                from: n + w,
                to: w,
                why: Why::Po,
            });
        }
        for &id in ids {
            let Some(Source::Write(w1)) = events[id as usize].read else {
                continue;
            };
            let pos = events[id as usize].pos;
            let k = writes.partition_point(|&w| events[w as usize].pos < pos);
            if let Some(&next) = writes.get(k) {
                edges.push(Edge {
                    from: w1,
                    to: n + next,
                    why: Why::ReadThenWrite { read: id },
                });
            }
        }
    }
    match Graph::new(2 * events.len(), &edges).topological_order() {
        Ok(_) => Found::Nothing,
        Err(cycle) => Found::Bad(cycle_pattern(
            prepared,
            "CyclicWritesFollowReads",
            "the order writes-follow-reads imposes (a write read by a session goes before that session's later writes)",
            &cycle,
        )),
    }
}
