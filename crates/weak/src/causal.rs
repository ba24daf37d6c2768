//! The three causal models of Bouajjani, Enea, Guerraoui and Hamza, "On
//! verifying causal consistency" (POPL 2017), decided on differentiated
//! histories by the absence of their bad patterns (section 4 of the paper,
//! the characterisations for the read/write memory), and PRAM decided by
//! the same saturation as causal memory over each process's view.
//!
//! Relations (paper, section 4): `po` program order; `wr` from the write
//! of a value to each read of it; `co = (po ∪ wr)+` the causal order;
//! `cf`: `w1 cf w2` when some read `r` reads `w2`, `w1` writes the same
//! key and `w1 co r`; `hb_o` (for an op `o`): the smallest transitive
//! relation containing `co` such that `w1 hb_o w2` whenever a read `r1`
//! with `r1 po* o` reads `w2` and `w1 hb_o r1` writes the same key.
//!
//! - CC: no CyclicCO, WriteCOInitRead, ThinAirRead, WriteCORead.
//! - CCv: those and no CyclicCF (`cf ∪ co` cyclic).
//! - CM: those of CC and no WriteHBInitRead (a read `r1 po* o` of the
//!   initial value of x with a write of x `hb_o`-before it) and no
//!   CyclicHB (`hb_o` cyclic).
//!
//! `hb_o` grows along program order, so the last op of each process
//! decides CM for the whole process: one saturation per process.
//! The paper's text was not at hand while writing this; the lists above
//! are from memory of its Table 1 and each is cross-checked against a
//! brute-force reading of the axiomatic definitions on thousands of tiny
//! random histories (tests/differential.rs).

use rayon::prelude::*;

use crate::order::{last_before, limit_before, Clocks, Edge, Graph, Why};
use crate::prepare::{describe_key, Event, Prepared, Source};
use crate::{BadPattern, WeakOptions};

/// What a check found.
pub(crate) enum Found {
    Nothing,
    Bad(BadPattern),
    Unknown(String),
}

/// The causal order, ordered and clocked (built once for all models).
pub(crate) struct CausalOrder {
    pub edges: Vec<Edge>,
    pub clocks: Clocks,
}

pub(crate) fn describe(prepared: &Prepared, id: u32) -> String {
    let e = &prepared.events[id as usize];
    let process = prepared.process_ids[e.lane as usize];
    let key = describe_key(&prepared.keys[e.key as usize]);
    let what = match (&e.read_text, &e.written) {
        (Some(r), Some(w)) => format!("cas {r} to {w}"),
        (Some(r), None) => format!("read {r}"),
        (None, Some(w)) => format!("write {w}"),
        (None, None) => "nothing".to_string(),
    };
    format!("op {} (process {process}: {what}{key})", e.index)
}

fn describe_edge(prepared: &Prepared, e: &Edge) -> String {
    let from = describe(prepared, e.from);
    match e.why {
        Why::Po => format!("{from} precedes the next in its process"),
        Why::Wr => format!("{from} is read by the next"),
        Why::Before { read } => format!(
            "{from} must precede the next because it precedes {}, which reads the next",
            describe(prepared, read)
        ),
        Why::ReadThenWrite { read } => format!(
            "{from} is read by {}, which precedes the next in its process",
            describe(prepared, read)
        ),
    }
}

/// At most this many steps of a cycle are put in words.
const CYCLE_STEPS_SHOWN_MAX: usize = 12;

/// A bad pattern made of a cycle of edges. A run of program-order edges
/// is one step, named by its ends (the ops between are not involved).
pub(crate) fn cycle_pattern(
    prepared: &Prepared,
    name: &'static str,
    what: &str,
    cycle: &[Edge],
) -> BadPattern {
    let n = prepared.events.len() as u32;
    // Auxiliary nodes are left out.
    let cycle: Vec<Edge> = cycle.iter().copied().filter(|e| e.from < n).collect();
    let mut ops: Vec<u64> = Vec::new();
    let mut steps = Vec::new();
    let mut k = 0;
    while k < cycle.len() {
        let e = cycle[k];
        ops.push(prepared.events[e.from as usize].index);
        if e.why == Why::Po {
            let mut last = k;
            while last + 1 < cycle.len() && cycle[last + 1].why == Why::Po {
                last += 1;
            }
            let to = cycle[last].to;
            let to = if to < n {
                describe(prepared, to)
            } else {
                "the next".to_string()
            };
            steps.push(format!(
                "{} precedes {to} in its process",
                describe(prepared, e.from)
            ));
            k = last + 1;
            continue;
        }
        if let Why::Before { read } | Why::ReadThenWrite { read } = e.why {
            ops.push(prepared.events[read as usize].index);
        }
        steps.push(describe_edge(prepared, &e));
        k += 1;
    }
    ops.sort_unstable();
    ops.dedup();
    let shown = if steps.len() > CYCLE_STEPS_SHOWN_MAX {
        let more = steps.len() - CYCLE_STEPS_SHOWN_MAX;
        steps.truncate(CYCLE_STEPS_SHOWN_MAX);
        format!("{}; ... {more} steps more", steps.join("; "))
    } else {
        steps.join("; ")
    };
    BadPattern {
        name,
        ops,
        description: format!("{what} is cyclic: {shown}; and round again"),
    }
}

/// Program order and reads-from edges (of every process).
pub(crate) fn causal_edges(prepared: &Prepared) -> Vec<Edge> {
    let mut edges = Vec::with_capacity(prepared.events.len() * 2);
    for lane in &prepared.lanes {
        for pair in lane.windows(2) {
            edges.push(Edge {
                from: pair[0],
                to: pair[1],
                why: Why::Po,
            });
        }
    }
    for (id, e) in prepared.events.iter().enumerate() {
        if let Some(Source::Write(w)) = e.read {
            edges.push(Edge {
                from: w,
                to: id as u32,
                why: Why::Wr,
            });
        }
    }
    edges
}

fn clocks_fit(prepared: &Prepared, options: &WeakOptions) -> Result<(), String> {
    let entries = Clocks::entry_count(prepared);
    if entries > options.clock_entries_max {
        return Err(format!(
            "{} events x {} processes = {entries} vector clock entries, past clock_entries_max = {}; raise it (4 bytes an entry) or check fewer processes",
            prepared.events.len(),
            prepared.lanes.len(),
            options.clock_entries_max
        ));
    }
    Ok(())
}

/// The causal order, or CyclicCO.
pub(crate) fn causal_order(
    prepared: &Prepared,
    options: &WeakOptions,
) -> Result<CausalOrder, Found> {
    clocks_fit(prepared, options).map_err(Found::Unknown)?;
    let edges = causal_edges(prepared);
    let graph = Graph::new(prepared.events.len(), &edges);
    match graph.topological_order() {
        Ok(order) => {
            let clocks = Clocks::new(prepared, &graph, &order);
            Ok(CausalOrder { edges, clocks })
        }
        Err(cycle) => Err(Found::Bad(cycle_pattern(
            prepared,
            "CyclicCO",
            "the causal order (program order and reads-from)",
            &cycle,
        ))),
    }
}

/// For each process writing `read`'s key, its last write of the key
/// strictly before `read` in the order the clocks describe.
fn writes_before<'a>(
    prepared: &'a Prepared,
    clocks: &'a Clocks,
    read: u32,
) -> impl Iterator<Item = u32> + 'a {
    let events = &prepared.events;
    let key = events[read as usize].key;
    prepared.key_writers[key as usize]
        .iter()
        .filter_map(move |(lane, writes)| {
            let limit = limit_before(events, clocks, read, *lane);
            last_before(writes, limit)
        })
}

/// CC: WriteCOInitRead and WriteCORead (CyclicCO and ThinAirRead are
/// found before).
pub(crate) fn check_cc(prepared: &Prepared, order: &CausalOrder) -> Found {
    let events = &prepared.events;
    for (id, e) in events.iter().enumerate() {
        let id = id as u32;
        let Some(source) = e.read else { continue };
        for w in writes_before(prepared, &order.clocks, id) {
            match source {
                Source::Init => {
                    return Found::Bad(init_read(prepared, "WriteCOInitRead", "causally", w, id))
                }
                Source::Write(read_from) => {
                    if w != read_from && order.clocks.reaches(events, read_from, w) {
                        return Found::Bad(BadPattern {
                            name: "WriteCORead",
                            ops: sorted(&[events[read_from as usize].index, events[w as usize].index, e.index]),
                            description: format!(
                                "{} reads from {}, but {} is causally after that write and causally before the read",
                                describe(prepared, id),
                                describe(prepared, read_from),
                                describe(prepared, w)
                            ),
                        });
                    }
                }
            }
        }
    }
    Found::Nothing
}

fn sorted(ops: &[u64]) -> Vec<u64> {
    let mut ops = ops.to_vec();
    ops.sort_unstable();
    ops.dedup();
    ops
}

fn init_read(prepared: &Prepared, name: &'static str, how: &str, w: u32, read: u32) -> BadPattern {
    let events = &prepared.events;
    BadPattern {
        name,
        ops: sorted(&[events[w as usize].index, events[read as usize].index]),
        description: format!(
            "{} returns the initial value, but {} precedes it {how}",
            describe(prepared, read),
            describe(prepared, w)
        ),
    }
}

/// CCv: CyclicCF, given that CC holds.
pub(crate) fn check_ccv(prepared: &Prepared, order: &CausalOrder) -> Found {
    let events = &prepared.events;
    let mut edges = order.edges.clone();
    for (id, e) in events.iter().enumerate() {
        let id = id as u32;
        let Some(Source::Write(read_from)) = e.read else {
            continue;
        };
        for w in writes_before(prepared, &order.clocks, id) {
            if w != read_from {
                edges.push(Edge {
                    from: w,
                    to: read_from,
                    why: Why::Before { read: id },
                });
            }
        }
    }
    match Graph::new(events.len(), &edges).topological_order() {
        Ok(_) => Found::Nothing,
        Err(cycle) => Found::Bad(cycle_pattern(
            prepared,
            "CyclicCF",
            "the causal order with the conflict order (a write before a read of another write of its key goes before that write)",
            &cycle,
        )),
    }
}

/// Names of the saturation's bad patterns.
pub(crate) struct Saturation {
    pub cyclic: &'static str,
    pub init_read: &'static str,
    /// What the order is, for descriptions.
    pub what: &'static str,
}

/// Saturates `base` for the reads of process `lane` (the `hb` of the
/// paper for that process's last op): until nothing changes, a write of
/// x that precedes a read of `lane` (reading x from another write) is put
/// before that write. Then a cycle, or an init read with a write of its
/// key before it, is bad.
///
/// `base_clocks`, when given, are the clocks of `edges` as they come (the
/// causal order's, for causal memory), which saves the first round's
/// ordering.
pub(crate) fn saturate(
    prepared: &Prepared,
    options: &WeakOptions,
    lane: u32,
    mut edges: Vec<Edge>,
    base_clocks: Option<&Clocks>,
    names: &Saturation,
) -> Found {
    let events = &prepared.events;
    let reads: Vec<u32> = prepared.lanes[lane as usize]
        .iter()
        .copied()
        .filter(|&id| events[id as usize].read.is_some())
        .collect();
    for round in 0..options.saturation_rounds_max {
        let computed;
        let clocks = match base_clocks {
            Some(clocks) if round == 0 => clocks,
            _ => {
                let graph = Graph::new(events.len(), &edges);
                let order = match graph.topological_order() {
                    Ok(order) => order,
                    Err(cycle) => {
                        return Found::Bad(cycle_pattern(
                            prepared,
                            names.cyclic,
                            names.what,
                            &cycle,
                        ))
                    }
                };
                computed = Clocks::new(prepared, &graph, &order);
                &computed
            }
        };
        let mut added = 0usize;
        for &r in &reads {
            let source = events[r as usize].read.expect("reads only");
            for w in writes_before(prepared, clocks, r) {
                match source {
                    Source::Init => {
                        return Found::Bad(init_read(
                            prepared,
                            names.init_read,
                            names.what_short(),
                            w,
                            r,
                        ))
                    }
                    Source::Write(read_from) => {
                        if w != read_from && clocks.reaches(events, read_from, w) {
                            // The edge w -> read_from would close a cycle:
                            // say so with the three ops that make it.
                            return Found::Bad(write_between(prepared, names, read_from, w, r));
                        }
                        if w != read_from && !clocks.reaches(events, w, read_from) {
                            edges.push(Edge {
                                from: w,
                                to: read_from,
                                why: Why::Before { read: r },
                            });
                            added += 1;
                        }
                    }
                }
            }
        }
        if added == 0 {
            return Found::Nothing;
        }
    }
    Found::Unknown(format!(
        "the order of process {}'s view did not settle in saturation_rounds_max = {} rounds; raise it",
        prepared.process_ids[lane as usize], options.saturation_rounds_max
    ))
}

/// The cycle of a saturation closed by one edge: `w` is between
/// `read_from` and `read`, which reads `read_from`.
fn write_between(
    prepared: &Prepared,
    names: &Saturation,
    read_from: u32,
    w: u32,
    read: u32,
) -> BadPattern {
    let events = &prepared.events;
    BadPattern {
        name: names.cyclic,
        ops: sorted(&[
            events[read_from as usize].index,
            events[w as usize].index,
            events[read as usize].index,
        ]),
        description: format!(
            "{} reads from {}, but {} comes after that write and before the read {}: it must be both before and after the write read",
            describe(prepared, read),
            describe(prepared, read_from),
            describe(prepared, w),
            names.what_short()
        ),
    }
}

impl Saturation {
    fn what_short(&self) -> &'static str {
        if self.cyclic == "CyclicHB" {
            "in happens-before"
        } else {
            "in the process's view"
        }
    }
}

/// CM: for each process, WriteHBInitRead and CyclicHB, given that CC
/// holds.
pub(crate) fn check_cm(prepared: &Prepared, options: &WeakOptions, order: &CausalOrder) -> Found {
    let names = Saturation {
        cyclic: "CyclicHB",
        init_read: "WriteHBInitRead",
        what: "happens-before (the causal order, and each write before a read of this process put before the write that read reads)",
    };
    first_found(
        (0..prepared.lanes.len() as u32)
            .into_par_iter()
            .map(|lane| {
                saturate(
                    prepared,
                    options,
                    lane,
                    order.edges.clone(),
                    Some(&order.clocks),
                    &names,
                )
            }),
    )
}

/// The finding of the first process (in lane order) that found
/// something; the processes are saturated in parallel.
fn first_found(per_lane: impl IndexedParallelIterator<Item = Found>) -> Found {
    let found: Vec<Found> = per_lane.collect();
    found
        .into_iter()
        .find(|f| !matches!(f, Found::Nothing))
        .unwrap_or(Found::Nothing)
}

/// PRAM (Lipton & Sandberg 1988, as formalised by Ahamad et al. 1995 and
/// Brzezinski et al. 2003): each process `p` has a serialisation of its
/// own ops and every write, respecting the program order of each process
/// (of its writes, for the others) and legal for `p`'s reads. The view's
/// base order is that program order with `p`'s reads after the writes
/// they read; saturated as for causal memory.
pub(crate) fn check_pram(prepared: &Prepared, options: &WeakOptions) -> Found {
    if let Err(reason) = clocks_fit(prepared, options) {
        return Found::Unknown(reason);
    }
    let names = Saturation {
        cyclic: "CyclicView",
        init_read: "WriteViewInitRead",
        what: "the process's view (program order of each process's writes, its own ops, reads after the writes they read, and each write before one of its reads put before the write that read reads)",
    };
    first_found(
        (0..prepared.lanes.len() as u32)
            .into_par_iter()
            .map(|lane| {
                let edges = view_edges(prepared, lane);
                saturate(prepared, options, lane, edges, None, &names)
            }),
    )
}

/// The base order of process `lane`'s view.
fn view_edges(prepared: &Prepared, lane: u32) -> Vec<Edge> {
    let events: &[Event] = &prepared.events;
    let mut edges = Vec::with_capacity(events.len());
    for (l, ids) in prepared.lanes.iter().enumerate() {
        let mut last: Option<u32> = None;
        for &id in ids {
            if l as u32 != lane && !events[id as usize].writes() {
                continue;
            }
            if let Some(prev) = last {
                edges.push(Edge {
                    from: prev,
                    to: id,
                    why: Why::Po,
                });
            }
            last = Some(id);
        }
    }
    for &id in &prepared.lanes[lane as usize] {
        if let Some(Source::Write(w)) = events[id as usize].read {
            edges.push(Edge {
                from: w,
                to: id,
                why: Why::Wr,
            });
        }
    }
    edges
}
