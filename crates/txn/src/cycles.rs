//! Cycle anomalies inside one strongly connected component of the
//! dependency graph (elle/txn.clj `cycle-cases-in-scc`).
//!
//! First the cheap pass: for each model's subgraph (Elle's
//! `cycle-exists-specs`), whether it has a cycle at all; a model whose
//! subgraph is acyclic rules out every cycle anomaly it forbids. Then, in
//! Elle's severity order, a search for one cycle of each remaining type,
//! skipping types a found cycle already implies.
//!
//! A cycle's type is what Elle's explainer makes of it: each consecutive
//! pair is explained by the first relation it has, in the model's order
//! (list-append ww, wr, rw; rw-register wr, ww, rw), then process or
//! real-time order. The search works on those explained labels, so every
//! cycle it returns is a simple cycle that Elle would classify as the type
//! searched for. Where it cannot be exhaustive within its step budget it
//! says so (`cycle-search-timeout`), as Elle does, and the cycle-exists
//! cases still prove which models are ruled out.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::consistency;
use crate::graph::{sccs, Graph, Rels};

/// Once a cycle is found, how many more start vertices are tried for a
/// shorter one (a shorter witness is easier to read).
const SHORTER_TRIES: usize = 16;

/// An edge's relation as Elle's explainer names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Ww,
    Wr,
    Rw,
    /// Process or real-time order (a graph has one or the other).
    Order,
}

/// Which data relation explains an edge first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplainOrder {
    /// ww, wr, rw: list-append.
    WwFirst,
    /// wr, ww, rw: rw-register.
    WrFirst,
}

impl ExplainOrder {
    pub fn label(self, rels: Rels) -> Option<Label> {
        let data = match self {
            ExplainOrder::WwFirst => [(Rels::WW, Label::Ww), (Rels::WR, Label::Wr)],
            ExplainOrder::WrFirst => [(Rels::WR, Label::Wr), (Rels::WW, Label::Ww)],
        };
        data.into_iter()
            .chain([(Rels::RW, Label::Rw)])
            .find(|(r, _)| rels.intersects(*r))
            .map(|(_, l)| l)
            .or_else(|| {
                rels.intersects(Rels::PROCESS.union(Rels::REALTIME))
                    .then_some(Label::Order)
            })
    }
}

/// The data-dependency part of a cycle's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// ww only.
    G0,
    /// ww and wr, at least one wr.
    G1c,
    /// Exactly one rw.
    GSingleItem,
    /// Two or more rw, no two adjacent.
    GNonadjacentItem,
    /// Two or more rw, some two adjacent.
    G2Item,
}

impl Base {
    fn name(self) -> &'static str {
        match self {
            Base::G0 => "G0",
            Base::G1c => "G1c",
            Base::GSingleItem => "G-single-item",
            Base::GNonadjacentItem => "G-nonadjacent-item",
            Base::G2Item => "G2-item",
        }
    }
}

/// Elle's classification of a cycle (`cycle-explainer`): its type name from
/// the explained labels of its steps, cyclically.
pub fn classify(labels: &[Label], order: Rels) -> Option<String> {
    let count = |l: Label| labels.iter().filter(|&&x| x == l).count();
    let (rw, wr, ww, ord) = (
        count(Label::Rw),
        count(Label::Wr),
        count(Label::Ww),
        count(Label::Order),
    );
    let n = labels.len();
    let adjacent = (0..n).any(|i| labels[i] == Label::Rw && labels[(i + 1) % n] == Label::Rw);
    let base = match (rw, wr, ww) {
        (1, _, _) => Base::GSingleItem,
        (r, _, _) if r > 1 && adjacent => Base::G2Item,
        (r, _, _) if r > 1 => Base::GNonadjacentItem,
        (0, w, _) if w > 0 => Base::G1c,
        (0, 0, w) if w > 0 => Base::G0,
        _ => return None,
    };
    let suffix = match (ord > 0, order) {
        (false, _) => "",
        (true, Rels::PROCESS) => "-process",
        (true, _) => "-realtime",
    };
    Some(format!("{}{suffix}", base.name()))
}

/// A cycle type to search for: a base and whether order edges are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub name: &'static str,
    pub base: Base,
    /// The process/realtime variant: at least one order edge; otherwise none.
    pub ordered: bool,
}

/// Every cycle type lightcone's workloads can show, for a graph whose order
/// edges are `order` (process, realtime, or none), in Elle's search order.
pub fn specs(order: Rels) -> Vec<Spec> {
    let bases = [
        Base::G0,
        Base::G1c,
        Base::GSingleItem,
        Base::GNonadjacentItem,
        Base::G2Item,
    ];
    let suffix = match order {
        Rels::PROCESS => Some("-process"),
        Rels::REALTIME => Some("-realtime"),
        _ => None,
    };
    let mut specs: Vec<Spec> = Vec::new();
    for base in bases {
        specs.push(Spec {
            name: base.name(),
            base,
            ordered: false,
        });
        if let Some(suffix) = suffix {
            let name = format!("{}{suffix}", base.name());
            let name = consistency::all_anomalies()
                .iter()
                .copied()
                .find(|a| *a == name)
                .expect("every cycle type is an Elle anomaly");
            specs.push(Spec {
                name,
                base,
                ordered: true,
            });
        }
    }
    specs.sort_by(|a, b| consistency::anomaly_depth_compare(a.name, b.name));
    specs
}

/// A model's subgraph that must be acyclic (Elle's `cycle-exists-specs`).
#[derive(Debug, Clone, Copy)]
pub struct ExistsSpec {
    /// Canonical model name.
    pub model: &'static str,
    /// Relations of the subgraph...
    pub rels: Rels,
    /// ...extended by one step through rw (Elle's `:extension`), if set.
    pub extension: bool,
    /// Elle's subgraph expression, for the report.
    pub subgraph: &'static [&'static str],
}

/// Elle's cycle-exists specs, in Elle's order.
pub const EXISTS_SPECS: &[ExistsSpec] = &[
    exists("PL-1", &[Rels::WW], false, &["union", "ww", "wwp"]),
    exists(
        "PL-2",
        &[Rels::WW, Rels::WR],
        false,
        &["union", "ww", "wwp", "wr", "wrp"],
    ),
    exists(
        "PL-SI",
        &[Rels::WW, Rels::WR],
        true,
        &["extension", "[union ww wwp wr wrp]", "[union rw rwp]"],
    ),
    exists(
        "PL-2.99",
        &[Rels::WW, Rels::WR, Rels::RW],
        false,
        &["union", "ww", "wwp", "wr", "wrp", "rw"],
    ),
    exists(
        "PL-3",
        &[Rels::WW, Rels::WR, Rels::RW],
        false,
        &["union", "ww", "wwp", "wr", "wrp", "rw", "rwp"],
    ),
    exists(
        "strong-session-PL-1",
        &[Rels::WW, Rels::PROCESS],
        false,
        &["union", "ww", "wwp", "process"],
    ),
    exists(
        "strong-session-PL-2",
        &[Rels::WW, Rels::WR, Rels::PROCESS],
        false,
        &["union", "ww", "wwp", "wr", "wrp", "process"],
    ),
    exists(
        "strong-session-snapshot-isolation",
        &[Rels::WW, Rels::WR, Rels::PROCESS],
        true,
        &[
            "extension",
            "[union ww wwp wr wrp process]",
            "[union rw rwp]",
        ],
    ),
    exists(
        "strong-session-serializable",
        &[Rels::WW, Rels::WR, Rels::RW, Rels::PROCESS],
        false,
        &["union", "ww", "wwp", "wr", "wrp", "rw", "rwp", "process"],
    ),
    exists(
        "strong-PL-1",
        &[Rels::WW, Rels::REALTIME],
        false,
        &["union", "ww", "wwp", "realtime"],
    ),
    exists(
        "strong-PL-2",
        &[Rels::WW, Rels::WR, Rels::REALTIME],
        false,
        &["union", "ww", "wwp", "wr", "wrp", "realtime"],
    ),
    exists(
        "strong-snapshot-isolation",
        &[Rels::WW, Rels::WR, Rels::REALTIME],
        true,
        &[
            "extension",
            "[union ww wwp wr wrp realtime]",
            "[union rw rwp]",
        ],
    ),
    exists(
        "PL-SS",
        &[Rels::WW, Rels::WR, Rels::RW, Rels::REALTIME],
        false,
        &["union", "ww", "wwp", "wr", "wrp", "rw", "rwp", "realtime"],
    ),
];

const fn exists(
    model: &'static str,
    rels: &[Rels],
    extension: bool,
    subgraph: &'static [&'static str],
) -> ExistsSpec {
    let mut bits = 0;
    let mut i = 0;
    while i < rels.len() {
        bits |= rels[i].0;
        i += 1;
    }
    ExistsSpec {
        model,
        rels: Rels(bits),
        extension,
        subgraph,
    }
}

/// A model's subgraph has a cycle inside the component.
#[derive(Debug, Clone)]
pub struct Exists {
    pub spec: ExistsSpec,
    /// The smallest strongly connected component of that subgraph.
    pub scc: Vec<u32>,
}

/// What the search of one component found.
#[derive(Debug, Default)]
pub struct Found {
    pub exists: Vec<Exists>,
    /// (type searched for, the cycle: vertices, the first repeated last).
    pub cycles: Vec<(&'static str, Vec<u32>)>,
    /// The search ran out of budget while looking for this type, after
    /// ruling out these.
    pub timeout: Option<(&'static str, Vec<&'static str>)>,
    /// Budget spent (edge visits).
    pub steps: u64,
}

/// The search of one strongly connected component.
pub struct Search<'g> {
    graph: &'g Graph,
    order: ExplainOrder,
    /// The order relation the graph carries (process, realtime or none).
    order_rels: Rels,
    /// The component's vertices, sorted, and their local numbers.
    vertices: Vec<u32>,
    local: rustc_hash::FxHashMap<u32, u32>,
    budget: u64,
    steps: u64,
    /// Set from outside (a time limit) to stop as if out of budget.
    stop: Option<&'g AtomicBool>,
}

impl<'g> Search<'g> {
    pub fn new(
        graph: &'g Graph,
        order: ExplainOrder,
        order_rels: Rels,
        component: &[u32],
        budget: u64,
        stop: Option<&'g AtomicBool>,
    ) -> Search<'g> {
        let vertices = component.to_vec();
        let local = vertices
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, i as u32))
            .collect();
        Search {
            graph,
            order,
            order_rels,
            vertices,
            local,
            budget,
            steps: 0,
            stop,
        }
    }

    /// Whether the search must give up: out of budget, or told to stop.
    fn exhausted(&self) -> bool {
        self.steps > self.budget || self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
    }

    fn member(&self, v: u32) -> bool {
        self.local.contains_key(&v)
    }

    /// The component's out-edges of `v` with their explained labels.
    fn out(&self, v: u32) -> impl Iterator<Item = (u32, Label)> + '_ {
        labelled_out(self.graph, &self.local, self.order, v)
    }

    /// Runs the cheap pass and the searches.
    pub fn run(mut self) -> Found {
        let mut found = Found {
            exists: self.cycle_exists(),
            ..Found::default()
        };
        let impossible = impossible_cycle_types(&found.exists);
        let mut skip: BTreeSet<&'static str> = impossible;
        let mut searched: Vec<&'static str> = Vec::new();
        for spec in specs(self.order_rels) {
            if skip.contains(spec.name) {
                continue;
            }
            match self.find(spec) {
                Outcome::Found(cycle) => {
                    found.cycles.push((spec.name, cycle));
                    skip.extend(consistency::all_implied_anomalies(&[spec.name]));
                }
                Outcome::Absent => {}
                Outcome::OutOfBudget => {
                    let found_types: BTreeSet<&str> =
                        found.cycles.iter().map(|(t, _)| *t).collect();
                    searched.retain(|t| !found_types.contains(t));
                    found.timeout = Some((spec.name, searched));
                    break;
                }
            }
            searched.push(spec.name);
        }
        found.steps = self.steps;
        found
    }

    /// Elle's `cycle-exists-cases`: for each model's subgraph, in order,
    /// whether it has a cycle in the component; a model found cyclic makes
    /// every stronger model's check redundant.
    fn cycle_exists(&mut self) -> Vec<Exists> {
        let mut cases = Vec::new();
        let mut redundant: BTreeSet<&'static str> = BTreeSet::new();
        for spec in EXISTS_SPECS {
            if redundant.contains(spec.model) {
                continue;
            }
            let components = if spec.extension {
                self.extension_sccs(spec.rels)
            } else {
                let member = |v: u32| self.member(v);
                let rels = spec.rels;
                sccs(self.graph, &self.vertices, &member, &|r| r.intersects(rels))
            };
            self.steps += self.graph_size();
            if let Some(smallest) = components.into_iter().min_by_key(|c| (c.len(), c[0])) {
                cases.push(Exists {
                    spec: *spec,
                    scc: smallest,
                });
                redundant.extend(
                    consistency::all_impossible_models(&[spec.model])
                        .expect("cycle-exists models are Elle models"),
                );
            }
        }
        cases
    }

    fn graph_size(&self) -> u64 {
        self.vertices
            .iter()
            .map(|&v| self.graph.out(v).count() as u64 + 1)
            .sum()
    }

    /// Components of A ∪ (A;rw) (Elle's sequential extension), through the
    /// product graph whose vertices are (v, arrived by rw): an rw step must
    /// follow an A step. Each component is returned as its set of vertices.
    fn extension_sccs(&mut self, a: Rels) -> Vec<Vec<u32>> {
        let n = self.vertices.len();
        // Product vertex 2i: local vertex i reached by A (or at the start);
        // 2i+1: reached by rw.
        let mut builder = crate::graph::GraphBuilder::default();
        for (i, &v) in self.vertices.iter().enumerate() {
            for (w, r) in self.graph.out(v) {
                let Some(&j) = self.local.get(&w) else {
                    continue;
                };
                let (i, j) = (i as u32, j);
                if r.intersects(a) {
                    builder.link(2 * i, 2 * j, Rels::WW);
                    builder.link(2 * i + 1, 2 * j, Rels::WW);
                }
                if r.intersects(Rels::RW) {
                    builder.link(2 * i, 2 * j + 1, Rels::WW);
                }
            }
        }
        let product = builder.build(2 * n);
        let all: Vec<u32> = (0..2 * n as u32).collect();
        let components = sccs(&product, &all, &|_| true, &|_| true);
        components
            .into_iter()
            .map(|c| {
                let set: BTreeSet<u32> =
                    c.iter().map(|&p| self.vertices[(p / 2) as usize]).collect();
                set.into_iter().collect()
            })
            .collect()
    }
}

/// `v`'s out-edges inside the component (`local` holds its vertices), with
/// their explained labels.
fn labelled_out<'a>(
    graph: &'a Graph,
    local: &'a rustc_hash::FxHashMap<u32, u32>,
    order: ExplainOrder,
    v: u32,
) -> impl Iterator<Item = (u32, Label)> + 'a {
    graph.out(v).filter_map(move |(w, r)| {
        if local.contains_key(&w) {
            order.label(r).map(|l| (w, l))
        } else {
            None
        }
    })
}

/// The cycle types no search needs to look for: every type forbidden by a
/// model whose subgraph had no cycle (Elle's
/// `cycle-exists-cases->impossible-cycle-anomalies`).
fn impossible_cycle_types(cases: &[Exists]) -> BTreeSet<&'static str> {
    let cyclic: Vec<&str> = cases.iter().map(|c| c.spec.model).collect();
    let impossible_models =
        consistency::all_impossible_models(&cyclic).expect("cycle-exists models are Elle models");
    let possible: Vec<&str> = EXISTS_SPECS
        .iter()
        .map(|s| s.model)
        .filter(|m| !impossible_models.contains(m))
        .collect();
    consistency::anomalies_prohibited_by(&possible)
        .expect("cycle-exists models are Elle models")
        .into_iter()
        .filter(|a| is_cycle_type(a))
        .collect()
}

/// Whether `anomaly` is one of Elle's cycle types (a cycle-anomaly spec).
pub fn is_cycle_type(anomaly: &str) -> bool {
    let base = anomaly
        .strip_suffix("-process")
        .or_else(|| anomaly.strip_suffix("-realtime"))
        .unwrap_or(anomaly);
    matches!(
        base,
        "G0" | "G1c"
            | "G-single-item"
            | "G-single"
            | "G-nonadjacent-item"
            | "G-nonadjacent"
            | "G2-item"
            | "G2"
    )
}

/// The result of one search.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Found(Vec<u32>),
    Absent,
    OutOfBudget,
}

/// The automaton state of a partial cycle (see [`Search::find`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct State {
    /// rw edges taken, capped at 2.
    rw: u8,
    wr: bool,
    order: bool,
    first_rw: bool,
    last_rw: bool,
    adjacent: bool,
}

impl State {
    const START: State = State {
        rw: 0,
        wr: false,
        order: false,
        first_rw: false,
        last_rw: false,
        adjacent: false,
    };

    fn pack(self) -> u8 {
        self.rw
            | (self.wr as u8) << 2
            | (self.order as u8) << 3
            | (self.first_rw as u8) << 4
            | (self.last_rw as u8) << 5
            | (self.adjacent as u8) << 6
    }
}

impl Spec {
    fn allows(&self, label: Label) -> bool {
        match label {
            Label::Order => self.ordered,
            Label::Ww => true,
            Label::Wr => self.base != Base::G0,
            Label::Rw => matches!(
                self.base,
                Base::GSingleItem | Base::GNonadjacentItem | Base::G2Item
            ),
        }
    }

    /// The state after taking `label` from `s` (the first step when
    /// `first`), or `None` when the spec forbids it.
    fn step(&self, s: State, label: Label, first: bool) -> Option<State> {
        if !self.allows(label) {
            return None;
        }
        let rw = label == Label::Rw;
        if rw && self.base == Base::GSingleItem && s.rw >= 1 {
            return None;
        }
        if rw && self.base == Base::GNonadjacentItem && s.last_rw {
            return None;
        }
        Some(State {
            rw: (s.rw + rw as u8).min(2),
            wr: s.wr || label == Label::Wr,
            order: s.order || label == Label::Order,
            first_rw: if first { rw } else { s.first_rw },
            last_rw: rw,
            adjacent: s.adjacent || (rw && s.last_rw),
        })
    }

    /// Whether a cycle closing in state `s` is of this type.
    fn accepts(&self, s: State) -> bool {
        if s.order != self.ordered {
            return false;
        }
        let wrap = s.first_rw && s.last_rw;
        match self.base {
            Base::G0 => s.rw == 0 && !s.wr,
            Base::G1c => s.rw == 0 && s.wr,
            Base::GSingleItem => s.rw == 1,
            Base::GNonadjacentItem => s.rw >= 2 && !wrap && !s.adjacent,
            Base::G2Item => s.rw >= 2 && (s.adjacent || wrap),
        }
    }
}

impl Search<'_> {
    /// Finds a simple cycle in the component whose explained type is
    /// `spec`'s, preferring a short one through the smallest vertex that
    /// has one.
    pub fn find(&mut self, spec: Spec) -> Outcome {
        // The cycle lies within one component of the edges the spec allows.
        let allowed = |r: Rels| self.order.label(r).is_some_and(|l| spec.allows(l));
        let member = |v: u32| self.member(v);
        let parts = sccs(self.graph, &self.vertices, &member, &allowed);
        self.steps += self.graph_size();
        let mut out_of_budget = false;
        for part in parts {
            let mut best: Option<Vec<u32>> = None;
            let mut tries_left = SHORTER_TRIES;
            for start in self.starts(spec, &part) {
                if self.exhausted() || (best.is_some() && tries_left == 0) {
                    break;
                }
                if best.is_some() {
                    tries_left -= 1;
                }
                match self.from(spec, start, &part) {
                    Outcome::Found(c) if best.as_ref().is_none_or(|b| c.len() < b.len()) => {
                        best = Some(c)
                    }
                    Outcome::OutOfBudget => out_of_budget = true,
                    _ => {}
                }
            }
            if let Some(cycle) = best {
                return Outcome::Found(cycle);
            }
            if self.exhausted() {
                return Outcome::OutOfBudget;
            }
        }
        if out_of_budget {
            Outcome::OutOfBudget
        } else {
            Outcome::Absent
        }
    }

    /// Where a cycle of `spec` in `part` may start: the tails of its
    /// rarest required kind of edge (every such cycle passes through one).
    fn starts(&self, spec: Spec, part: &[u32]) -> Vec<u32> {
        let inside: BTreeSet<u32> = part.iter().copied().collect();
        let tails = |want: Label| -> Vec<u32> {
            part.iter()
                .copied()
                .filter(|&v| self.out(v).any(|(w, l)| l == want && inside.contains(&w)))
                .collect()
        };
        let mut candidates: Vec<Vec<u32>> = Vec::new();
        if spec.ordered {
            candidates.push(tails(Label::Order));
        }
        match spec.base {
            Base::G1c => candidates.push(tails(Label::Wr)),
            Base::GSingleItem | Base::GNonadjacentItem | Base::G2Item => {
                candidates.push(tails(Label::Rw))
            }
            Base::G0 => {}
        }
        candidates
            .into_iter()
            .min_by_key(Vec::len)
            .unwrap_or_else(|| part.to_vec())
    }

    /// A breadth-first search of (vertex, state) pairs from `start` back to
    /// `start` within `part`: the shortest closed walk of `spec`'s type
    /// through `start`, if that walk is a simple cycle.
    fn from(&mut self, spec: Spec, start: u32, part: &[u32]) -> Outcome {
        let inside: rustc_hash::FxHashSet<u32> = part.iter().copied().collect();
        // (vertex, packed state) -> (parent vertex, parent state).
        let mut parent: rustc_hash::FxHashMap<(u32, u8), (u32, u8)> = Default::default();
        let mut queue: VecDeque<(u32, State, bool)> = VecDeque::new();
        queue.push_back((start, State::START, true));
        let mut non_simple = false;
        let (graph, local, order) = (self.graph, &self.local, self.order);
        while let Some((v, s, first)) = queue.pop_front() {
            for (w, label) in labelled_out(graph, local, order, v) {
                self.steps += 1;
                if !inside.contains(&w) {
                    continue;
                }
                let Some(next) = spec.step(s, label, first) else {
                    continue;
                };
                if w == start {
                    if spec.accepts(next) {
                        let walk = walk_back(&parent, start, v, s);
                        if is_simple(&walk) {
                            return Outcome::Found(walk);
                        }
                        non_simple = true;
                    }
                    continue;
                }
                let key = (w, next.pack());
                if parent.contains_key(&key) {
                    continue;
                }
                parent.insert(key, (v, s.pack()));
                queue.push_back((w, next, false));
            }
            if self.exhausted() {
                return Outcome::OutOfBudget;
            }
        }
        if non_simple {
            // Only closed walks that revisit a vertex: look for a simple
            // cycle the exhaustive way.
            return self.simple_from(spec, start, &inside);
        }
        Outcome::Absent
    }

    /// Depth-first enumeration of simple paths from `start` (Elle's own
    /// method, bounded by the budget).
    fn simple_from(
        &mut self,
        spec: Spec,
        start: u32,
        inside: &rustc_hash::FxHashSet<u32>,
    ) -> Outcome {
        let mut path: Vec<u32> = vec![start];
        let mut on_path: rustc_hash::FxHashSet<u32> = [start].into_iter().collect();
        let mut states: Vec<State> = vec![State::START];
        let mut iters: Vec<Vec<(u32, Label)>> = vec![self.out(start).collect()];
        while let Some(next_edges) = iters.last_mut() {
            if self.exhausted() {
                return Outcome::OutOfBudget;
            }
            let Some((w, label)) = next_edges.pop() else {
                iters.pop();
                states.pop();
                if let Some(v) = path.pop() {
                    on_path.remove(&v);
                }
                continue;
            };
            self.steps += 1;
            let s = *states.last().expect("a state per path vertex");
            let Some(next) = spec.step(s, label, path.len() == 1) else {
                continue;
            };
            if w == start {
                if spec.accepts(next) {
                    let mut cycle = path.clone();
                    cycle.push(start);
                    return Outcome::Found(cycle);
                }
                continue;
            }
            if !inside.contains(&w) || on_path.contains(&w) {
                continue;
            }
            path.push(w);
            on_path.insert(w);
            states.push(next);
            iters.push(self.out(w).collect());
        }
        Outcome::Absent
    }
}

/// The walk from `start` to `v` (in state `s`) by parent pointers, then
/// back to `start`.
fn walk_back(
    parent: &rustc_hash::FxHashMap<(u32, u8), (u32, u8)>,
    start: u32,
    v: u32,
    s: State,
) -> Vec<u32> {
    let mut walk = vec![start, v];
    let mut at = (v, s.pack());
    while at.0 != start || at.1 != State::START.pack() {
        match parent.get(&at) {
            Some(&p) => {
                at = p;
                walk.push(p.0);
            }
            None => break,
        }
    }
    walk.reverse();
    walk
}

/// Whether a closed walk visits each vertex once (the last repeats the
/// first).
fn is_simple(walk: &[u32]) -> bool {
    let body = &walk[..walk.len() - 1];
    let set: rustc_hash::FxHashSet<u32> = body.iter().copied().collect();
    set.len() == body.len()
}

/// Some cycle in a strongly connected component, by depth-first search
/// from its smallest vertex (Elle's `fallback-cycle`, for when a search
/// runs out of budget): the vertices, the first repeated last.
pub fn any_cycle(graph: &Graph, component: &[u32]) -> Vec<u32> {
    let inside: rustc_hash::FxHashSet<u32> = component.iter().copied().collect();
    let mut path = vec![component[0]];
    let mut at: rustc_hash::FxHashMap<u32, usize> = [(component[0], 0)].into_iter().collect();
    loop {
        let v = *path.last().expect("the path is never empty");
        let next: Vec<u32> = graph
            .out(v)
            .map(|(w, _)| w)
            .filter(|w| inside.contains(w))
            .collect();
        if let Some(&i) = next.iter().filter_map(|w| at.get(w)).min() {
            let mut cycle = path[i..].to_vec();
            cycle.push(path[i]);
            return cycle;
        }
        let w = *next
            .iter()
            .find(|w| !at.contains_key(w))
            .expect("every vertex of a component has an edge inside it");
        at.insert(w, path.len());
        path.push(w);
    }
}
