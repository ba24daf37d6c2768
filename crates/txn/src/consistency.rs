//! Elle's consistency models and anomalies (`elle.consistency-model`,
//! elle/consistency_model.clj): which anomalies imply which, which models
//! are weaker than which, what each model forbids, and from those, the
//! models a set of anomalies rules out.
//!
//! Names are Elle's keywords without the colon (`"G-single-item"`,
//! `"PL-SS"`, `"strong-session-snapshot-isolation"`). Models have friendly
//! names (`serializable`) and canonical ones, mostly Adya's (`PL-3`); the
//! model graph and the tables of forbidden anomalies use canonical names.
//! Every set here is a `BTreeSet`, so results never depend on hashing.
//!
//! ```
//! use lightcone_txn::consistency::{anomalies_prohibited_by, friendly_boundary};
//!
//! // Read committed forbids G1c, so a G1c cycle is reported when it is asked for...
//! let forbidden = anomalies_prohibited_by(&["read-committed"])?;
//! assert!(forbidden.contains("G1c"));
//! // ...and a G-single-item cycle rules out consistent view and repeatable
//! // read, and every model stronger than those, such as serializable.
//! let boundary = friendly_boundary(&["G-single-item"]);
//! assert_eq!(
//!     boundary.not.into_iter().collect::<Vec<_>>(),
//!     ["consistent-view", "repeatable-read"]
//! );
//! assert!(boundary.also_not.contains("serializable"));
//! # Ok::<(), lightcone_txn::consistency::ModelError>(())
//! ```
//!
//! Sources, as Elle cites them: Adya's thesis "Weak Consistency" and
//! Adya, Liskov & O'Neil (the PL-n levels); Bailis et al., "Highly Available
//! Transactions"; Cerone, Bernardi & Gotsman (read atomic, causal, prefix,
//! PSI); Cerone & Gotsman, "Analysing Snapshot Isolation" (Cerone-SI);
//! Daudjee & Salem (strong session SI, Daudjee-SI); Bernstein, Hadzilacos &
//! Goodman; Kleppmann's Hermitage; Zuikeviciute & Pedone; Liu et al.'s ROLA.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::LazyLock;

/// A graph written as Elle writes one for `map->dag`: each vertex with the
/// vertices it points to.
pub type Table = &'static [(&'static str, &'static [&'static str])];

/// Elle's `implied-anomalies`: an anomaly points to the anomalies its
/// presence implies (G1c implies G1, since G1 is G1a, G1b or G1c). A
/// `-process` anomaly implies its `-realtime` twin because processes are
/// single-threaded.
#[rustfmt::skip]
pub const IMPLIED_ANOMALIES: Table = &[
    ("G0",          &["G1c", "G0-process"]),             // Adya; G0 is a trivial G0-process
    ("G0-process",  &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),

    ("G1a", &["G1"]),                                    // G1 is G1a, G1b or G1c
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),                     // Adya; a trivial G1c-process

    ("G1c-process",  &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1",           &["G1-process"]),
    ("G1-process",   &["G1-realtime"]),

    // G-single-item is the item case of G-single and a G-nonadjacent-item.
    ("G-single-item",          &["G-single", "G-single-item-process", "G-nonadjacent-item"]),
    ("G-single-item-process",  &["G-single-process", "G-single-item-realtime",
                                 "G-nonadjacent-item-process"]),
    ("G-single-item-realtime", &["G-single-realtime", "G-nonadjacent-item-realtime"]),

    ("G-single",          &["G-nonadjacent", "GSIb", "G-single-process"]), // Adya (GSIb)
    ("G-single-process",  &["G-nonadjacent-process", "G-single-realtime"]),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),

    // Item rw edges only: both G-nonadjacent and G2-item.
    ("G-nonadjacent-item",          &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"]),
    ("G-nonadjacent-item-process",  &["G-nonadjacent-process", "G2-item-process",
                                      "G-nonadjacent-item-realtime"]),
    ("G-nonadjacent-item-realtime", &["G2-item-realtime", "G-nonadjacent-realtime"]),

    ("G-nonadjacent",          &["G2", "G-nonadjacent-process"]),          // Adya
    ("G-nonadjacent-process",  &["G2-process", "G-nonadjacent-realtime"]),
    ("G-nonadjacent-realtime", &["G2-realtime"]),

    ("G2",               &["G2-process"]),
    ("G2-item",          &["G2", "G2-item-process"]),                      // Adya
    ("G2-item-process",  &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process",       &["G2-realtime"]),

    ("GSIa", &["GSI"]),                                                    // Adya
    ("GSIb", &["GSI"]),

    ("incompatible-order", &["G1a"]),   // two read versions from no one timeline: a dirty read
    ("future-read",        &["G1c"]),   // a trivial cycle T1 -wr-> T1
    ("dirty-update",       &["G1a"]),   // a dirty read that reaches the writes too
    ("lost-update",        &["write-skew", "G2-item"]),                    // Bailis
    ("write-skew",         &["G2"]),                                       // Hermitage
];

/// Elle's `anomaly-severity-graph`: an anomaly points to anomalies that it
/// does not imply but that are less severe, so the search looks for the
/// worst first (G0 before G-single; data cycles before process ones, and
/// process ones before realtime ones).
#[rustfmt::skip]
pub const ANOMALY_SEVERITY: Table = &[
    ("G0",           &["G1c"]),
    ("G0-process",   &["G1c-process"]),
    ("G0-realtime",  &["G1c-realtime"]),
    ("G1c",          &["G-single", "G2-item"]),
    ("G1c-process",  &["G-single-process", "G2-item-process"]),
    ("G1c-realtime", &["G-single-realtime", "G2-item-realtime"]),
    ("G2",           &["G0-process"]),
    ("G2-process",   &["G0-realtime"]),
];

/// Elle's `canonical-model-names`: friendly model names and the canonical
/// (mostly Adya's) names they stand for.
#[rustfmt::skip]
pub const CANONICAL_MODEL_NAMES: &[(&str, &str)] = &[
    ("consistent-view",                 "PL-2+"),     // Adya
    ("conflict-serializable",           "PL-3"),      // Adya
    ("cursor-stability",                "PL-CS"),     // Adya
    ("forward-consistent-view",         "PL-FCV"),    // Adya
    ("monotonic-snapshot-read",         "PL-MSR"),    // Adya
    ("monotonic-view",                  "PL-2L"),     // Adya
    ("read-committed",                  "PL-2"),      // Elle's reading of Adya
    ("read-uncommitted",                "PL-1"),      // likewise
    ("repeatable-read",                 "PL-2.99"),   // Adya
    ("serializable",                    "PL-3"),      // meaning conflict serializable
    ("snapshot-isolation",              "PL-SI"),     // Adya
    ("strict-serializable",             "PL-SS"),     // Adya
    ("strong-serializable",             "PL-SS"),     // Elle takes strong = strict
    ("update-serializable",             "PL-3U"),     // Adya
    ("strong-session-read-uncommitted", "strong-session-PL-1"),
    ("strong-session-read-committed",   "strong-session-PL-2"),
    ("strong-read-uncommitted",         "strong-PL-1"),
    ("strong-read-committed",           "strong-PL-2"),
];

/// Elle's `friendly-model-names`: canonical names and the friendly name
/// Elle reports for each. Elle inverts `canonical-model-names`, a hash map,
/// so where two friendly names share a canonical one the hash order picks:
/// `strong-serializable` for PL-SS, as Elle's tests show. PL-3 is set to
/// `serializable` explicitly.
#[rustfmt::skip]
pub const FRIENDLY_MODEL_NAMES: &[(&str, &str)] = &[
    ("PL-1",                "read-uncommitted"),
    ("PL-2",                "read-committed"),
    ("PL-2+",               "consistent-view"),
    ("PL-2.99",             "repeatable-read"),
    ("PL-2L",               "monotonic-view"),
    ("PL-3",                "serializable"),
    ("PL-3U",               "update-serializable"),
    ("PL-CS",               "cursor-stability"),
    ("PL-FCV",              "forward-consistent-view"),
    ("PL-MSR",              "monotonic-snapshot-read"),
    ("PL-SI",               "snapshot-isolation"),
    ("PL-SS",               "strong-serializable"),
    ("strong-PL-1",         "strong-read-uncommitted"),
    ("strong-PL-2",         "strong-read-committed"),
    ("strong-session-PL-1", "strong-session-read-uncommitted"),
    ("strong-session-PL-2", "strong-session-read-committed"),
];

/// Elle's `models` as written, before its vertices are canonicalised: a
/// model points to weaker models, so a history that satisfies a model also
/// satisfies every model it points to (<https://jepsen.io/consistency>).
/// [`models`] is this graph over canonical names.
#[rustfmt::skip]
pub const MODELS: Table = &[
    ("causal-cerone",               &["read-atomic"]),                          // Cerone
    ("consistent-view",             &["cursor-stability", "monotonic-view"]),   // Adya
    ("conflict-serializable",       &["view-serializable"]),
    ("cursor-stability",            &["read-committed", "PL-2"]),               // Bailis; Adya
    ("forward-consistent-view",     &["consistent-view"]),                      // Adya
    ("PL-2",                        &["PL-1"]),                                 // Adya
    ("PL-3",                        &["repeatable-read", "update-serializable"]), // Adya
    ("update-serializable",         &["forward-consistent-view"]),              // Adya
    ("monotonic-atomic-view",       &["read-committed"]),                       // Bailis
    ("monotonic-view",              &["PL-2"]),                                 // Adya
    ("monotonic-snapshot-read",     &["PL-2"]),                                 // Adya
    ("parallel-snapshot-isolation", &["causal-cerone", "update-atomic"]),       // Cerone; ROLA
    ("prefix",                      &["causal-cerone"]),                        // Cerone
    ("read-atomic",                 &["monotonic-atomic-view"]),                // Cerone
    ("read-committed",              &["read-uncommitted"]),                     // SQL
    ("repeatable-read",             &["cursor-stability", "monotonic-atomic-view"]), // Adya; Bailis
    ("update-atomic",               &["read-atomic"]),                          // Cerone
    ("serializable",                &["repeatable-read",                        // SQL
                                      "snapshot-isolation",                     // Bailis, Cerone
                                      "view-serializable"]),                    // Bernstein
    ("session-serializable",        &["1SR"]),                                  // Zuikeviciute
    ("snapshot-isolation",          &["forward-consistent-view",                // Adya
                                      "monotonic-atomic-view",                  // Bailis
                                      "monotonic-snapshot-read",                // Adya
                                      "parallel-snapshot-isolation",            // Cerone
                                      "prefix"]),                               // Cerone
    ("strict-serializable",         &["PL-3",                                   // Adya
                                      "serializable",                           // Bailis
                                      "linearizable",                           // Bailis
                                      "snapshot-isolation",                     // Adya
                                      "strong-snapshot-isolation",              // uncited
                                      "strong-session-serializable"]),          // Daudjee?
    // Not from the literature: generalisations of the SI and serializable
    // models that let whole cycle searches be skipped.
    ("strong-session-PL-1",         &["PL-1"]),
    ("strong-session-PL-2",         &["PL-2", "strong-session-PL-1"]),
    ("strong-PL-1",                 &["strong-session-PL-1"]),
    ("strong-PL-2",                 &["strong-session-PL-2", "strong-PL-1"]),
    ("strong-session-serializable", &["serializable",                           // Daudjee
                                      "strong-session-snapshot-isolation"]),
    ("strong-session-snapshot-isolation", &["snapshot-isolation",               // Daudjee-SI, Cerone-SI
                                            "strong-session-PL-2"]),
    ("strong-serializable",         &["session-serializable"]),                 // Zuikeviciute
    ("strong-snapshot-isolation",   &["strong-session-snapshot-isolation",      // Daudjee-SI
                                      "strong-PL-2"]),
    // Single-object models.
    ("linearizable",                &["sequential"]),                           // Bailis
    ("sequential",                  &["causal"]),                               // Bailis
    ("causal",                      &["writes-follow-reads", "PRAM"]),          // Bailis
    ("PRAM",                        &["monotonic-reads", "monotonic-writes", "read-your-writes"]), // Bailis
];

/// Elle's `direct-proscribed-anomalies` as written, before its models are
/// canonicalised: each model with the anomalies it forbids beyond those of
/// its weaker models. [`direct_proscribed_anomalies`] is this graph with
/// canonical model names.
#[rustfmt::skip]
pub const DIRECT_PROSCRIBED_ANOMALIES: Table = &[
    ("causal-cerone",               &["internal", "G1a"]),                      // Cerone (incomplete)
    ("cursor-stability",            &["G1", "G-cursor", "lost-update"]),        // Adya; Adya, Bailis
    ("monotonic-view",              &["G1", "G-monotonic"]),                    // Adya
    ("monotonic-snapshot-read",     &["G1", "G-MSR"]),                          // Adya
    ("consistent-view",             &["G1", "G-single"]),                       // Adya
    ("forward-consistent-view",     &["G1", "G-SIb"]),                          // Adya
    ("parallel-snapshot-isolation", &["internal", "G1a"]),                      // Cerone (incomplete)
    // A predicate read miss: a predicate read fails to see a version when
    // every version in the history matches the predicate.
    ("PL-3",                        &["G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"]), // Adya
    ("PL-2",                        &["G1", "PL-2-cycle-exists"]),              // Adya
    // Version orders are total, and no Adya history repeats an element.
    ("PL-1",                        &["G0", "duplicate-elements", "cyclic-versions",
                                      "PL-1-cycle-exists"]),                    // Adya
    ("prefix",                      &["internal", "G1a"]),                      // Cerone (incomplete)
    ("serializable",                &["internal"]),                             // Cerone (incomplete)
    // Generalised SI forbids every history whose rw edges are all
    // nonadjacent (Daudjee-SI, Cerone-SI; Gotsman in conversation with Elle's author).
    ("snapshot-isolation",          &["internal",                               // Cerone (incomplete)
                                      "G1", "G-SI",                             // Adya
                                      "G-nonadjacent", "PL-SI-cycle-exists"]),
    // A future read breaks EXT: it missed the previous version.
    ("read-atomic",                 &["internal", "G1a", "future-read"]),       // Cerone (incomplete)
    ("repeatable-read",             &["G1", "G2-item",                          // Adya
                                      "PL-2.99-cycle-exists", "lost-update"]),  // Bailis
    ("update-atomic",               &["lost-update"]),                          // Cerone
    ("strict-serializable",         &["G1", "G1c-realtime", "G2-realtime",      // Adya
                                      "PL-SS-cycle-exists"]),
    ("strong-session-PL-1",         &["strong-session-PL-1-cycle-exists", "G0-process"]),
    ("strong-session-PL-2",         &["strong-session-PL-2-cycle-exists", "G1c-process"]),
    ("strong-PL-1",                 &["strong-PL-1-cycle-exists", "G0-realtime"]),
    ("strong-PL-2",                 &["strong-PL-2-cycle-exists", "G1c-realtime"]),
    // Uncited: read your previous writes (process), or every completed
    // write (realtime), in G-nonadjacent's terms as SI is.
    ("strong-session-snapshot-isolation", &["internal", "G1-process", "G-nonadjacent-process",
                                            "strong-session-snapshot-isolation-cycle-exists"]),
    ("strong-snapshot-isolation",   &["internal", "G1-realtime", "G-nonadjacent-realtime",
                                      "strong-snapshot-isolation-cycle-exists"]),
    ("strong-session-serializable", &["G1-process", "G2-process",               // Daudjee
                                      "strong-session-serializable-cycle-exists"]), // Alvaro (unpublished)
    ("update-serializable",         &["G1", "G-update"]),                       // Adya
];

/// Which way a search follows a graph's edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Along edges, to successors (Elle's `g/out`).
    Out,
    /// Against edges, to predecessors (Elle's `g/in`).
    In,
}

/// A directed graph over names, indexed both ways; a vertex exists only
/// as the end of an edge, as in Elle's graphs built by `map->dag`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    successors: BTreeMap<&'static str, BTreeSet<&'static str>>,
    predecessors: BTreeMap<&'static str, BTreeSet<&'static str>>,
}

impl Graph {
    /// The graph with these edges, each `(from, to)`.
    pub fn from_edges(edges: impl IntoIterator<Item = (&'static str, &'static str)>) -> Graph {
        let mut graph = Graph::default();
        for (from, to) in edges {
            graph.successors.entry(from).or_default().insert(to);
            graph.successors.entry(to).or_default();
            graph.predecessors.entry(to).or_default().insert(from);
            graph.predecessors.entry(from).or_default();
        }
        graph
    }

    /// Every vertex, in name order.
    pub fn vertices(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.successors.keys().copied()
    }

    /// Whether `vertex` is in the graph.
    pub fn contains(&self, vertex: &str) -> bool {
        self.successors.contains_key(vertex)
    }

    /// Every edge `(from, to)`, in name order.
    pub fn edges(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.successors
            .iter()
            .flat_map(|(&from, tos)| tos.iter().map(move |&to| (from, to)))
    }

    /// The neighbours of `vertex` one edge away in `direction`; none for a
    /// vertex not in the graph, as Elle's `g/out` and `g/in` give nil.
    pub fn neighbours(
        &self,
        vertex: &str,
        direction: Direction,
    ) -> impl Iterator<Item = &'static str> + '_ {
        let index = match direction {
            Direction::Out => &self.successors,
            Direction::In => &self.predecessors,
        };
        index.get(vertex).into_iter().flatten().copied()
    }

    /// The vertices with no predecessors (bifurcan's `top`).
    pub fn top(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.predecessors
            .iter()
            .filter(|(_, from)| from.is_empty())
            .map(|(&vertex, _)| vertex)
    }

    /// `starts` and every vertex reachable from them in `direction` (Elle's
    /// `g/bfs`). A start not in the graph reaches only itself.
    pub fn reachable<'a>(&self, starts: &[&'a str], direction: Direction) -> BTreeSet<&'a str> {
        let mut seen: BTreeSet<&'a str> = starts.iter().copied().collect();
        let mut queue: VecDeque<&'a str> = seen.iter().copied().collect();
        while let Some(vertex) = queue.pop_front() {
            for next in self.neighbours(vertex, direction) {
                if seen.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        seen
    }

    /// Each vertex's depth: 0 for vertices without predecessors, then one
    /// more than the deepest predecessor (Elle's `g/topo-depths`, which
    /// peels off the top vertices round by round). A vertex on a cycle
    /// never reaches the top, so it gets no depth.
    pub fn topo_depths(&self) -> BTreeMap<&'static str, u32> {
        let mut waiting: BTreeMap<&str, usize> = self
            .predecessors
            .iter()
            .map(|(&v, from)| (v, from.len()))
            .collect();
        let mut depths = BTreeMap::new();
        let mut top: Vec<&'static str> = self.top().collect();
        let mut depth = 0;
        while !top.is_empty() {
            let mut next = Vec::new();
            for vertex in top {
                depths.insert(vertex, depth);
                for to in self.neighbours(vertex, Direction::Out) {
                    if let Some(count) = waiting.get_mut(to) {
                        *count -= 1;
                        if *count == 0 {
                            next.push(to);
                        }
                    }
                }
            }
            top = next;
            depth += 1;
        }
        depths
    }

    /// Both graphs' edges (bifurcan's `merge`, edges carry no values here).
    fn union(&self, other: &Graph) -> Graph {
        Graph::from_edges(self.edges().chain(other.edges()))
    }
}

/// A table's edges, each `(from, to)`, in the table's order.
fn table_edges(table: Table) -> impl Iterator<Item = (&'static str, &'static str)> {
    table
        .iter()
        .flat_map(|&(from, tos)| tos.iter().map(move |&to| (from, to)))
}

static IMPLIED_ANOMALIES_GRAPH: LazyLock<Graph> =
    LazyLock::new(|| Graph::from_edges(table_edges(IMPLIED_ANOMALIES)));
static ANOMALY_SEVERITY_GRAPH: LazyLock<Graph> =
    LazyLock::new(|| Graph::from_edges(table_edges(ANOMALY_SEVERITY)));
static MODELS_GRAPH: LazyLock<Graph> = LazyLock::new(|| {
    Graph::from_edges(
        table_edges(MODELS).map(|(a, b)| (canonical_model_name(a), canonical_model_name(b))),
    )
});
static DIRECT_PROSCRIBED_GRAPH: LazyLock<Graph> = LazyLock::new(|| {
    Graph::from_edges(
        table_edges(DIRECT_PROSCRIBED_ANOMALIES).map(|(m, a)| (canonical_model_name(m), a)),
    )
});

/// Elle's `implied-anomalies` graph, from [`IMPLIED_ANOMALIES`].
pub fn implied_anomalies() -> &'static Graph {
    &IMPLIED_ANOMALIES_GRAPH
}

/// Elle's `anomaly-severity-graph`, from [`ANOMALY_SEVERITY`].
pub fn anomaly_severity_graph() -> &'static Graph {
    &ANOMALY_SEVERITY_GRAPH
}

/// Elle's `models`: [`MODELS`] with every vertex canonicalised, as Elle's
/// `(g/map-vertices canonical-model-name)` does, so `serializable` and
/// `conflict-serializable` are one vertex `PL-3` with both their edges.
pub fn models() -> &'static Graph {
    &MODELS_GRAPH
}

/// Elle's `direct-proscribed-anomalies`: canonical models pointing to the
/// anomalies they forbid directly, from [`DIRECT_PROSCRIBED_ANOMALIES`].
pub fn direct_proscribed_anomalies() -> &'static Graph {
    &DIRECT_PROSCRIBED_GRAPH
}

/// The canonical name of a model, or the name itself if it has none
/// (Elle's `canonical-model-name`).
pub fn canonical_model_name(model: &str) -> &str {
    lookup(CANONICAL_MODEL_NAMES, model).unwrap_or(model)
}

/// The friendly name of a model, or the name itself if it has none
/// (Elle's `friendly-model-name`).
pub fn friendly_model_name(model: &str) -> &str {
    lookup(FRIENDLY_MODEL_NAMES, model).unwrap_or(model)
}

fn lookup(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
}

/// Every model name Elle knows, sorted: the vertices of [`models`] and
/// both sides of [`CANONICAL_MODEL_NAMES`] (Elle's `all-models`).
pub fn all_models() -> &'static BTreeSet<&'static str> {
    static ALL: LazyLock<BTreeSet<&'static str>> = LazyLock::new(|| {
        let aliases = CANONICAL_MODEL_NAMES.iter().flat_map(|&(f, c)| [f, c]);
        models().vertices().chain(aliases).collect()
    });
    &ALL
}

/// A model or anomaly name that is not Elle's, or a list with a gap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A model not in [`all_models`].
    #[error(
        "unknown consistency model {name:?}; known models are {}; give one or more, separated \
         by commas, such as \"read-committed, serializable\"",
        known_list(all_models())
    )]
    UnknownModel { name: String },
    /// An anomaly not in [`all_anomalies`].
    #[error(
        "unknown anomaly {name:?}; known anomalies are {}; give one or more, separated by \
         commas, such as \"G0, G1c\"",
        known_list(&all_anomalies().iter().copied().collect())
    )]
    UnknownAnomaly { name: String },
    /// A list with nothing between two commas, or nothing at all.
    #[error("{list:?} has an empty {kind} name; separate {kind} names with single commas")]
    EmptyName { list: String, kind: &'static str },
}

fn known_list(names: &BTreeSet<&str>) -> String {
    names.iter().copied().collect::<Vec<_>>().join(", ")
}

/// The known model of this name, as a `'static` name.
fn known_model(name: &str) -> Result<&'static str, ModelError> {
    all_models()
        .get(name)
        .copied()
        .ok_or_else(|| ModelError::UnknownModel {
            name: name.to_string(),
        })
}

/// The known anomaly of this name, as a `'static` name.
fn known_anomaly(name: &str) -> Result<&'static str, ModelError> {
    anomaly_depths()
        .get_key_value(name)
        .map(|(&anomaly, _)| anomaly)
        .ok_or_else(|| ModelError::UnknownAnomaly {
            name: name.to_string(),
        })
}

/// Reads a list of model names separated by commas, with spaces allowed
/// around the names and a leading `:` dropped (as a Clojure user writes
/// keywords); each must be in [`all_models`]. Names keep their spelling
/// (not canonicalised); a repeated name is kept once.
pub fn parse_models(list: &str) -> Result<Vec<&'static str>, ModelError> {
    parse_list(list, "model", known_model)
}

/// Reads a list of anomaly names as [`parse_models`] reads models; each must
/// be one of [`all_anomalies`]. Elle accepts any anomaly name; lightcone
/// refuses names it does not know.
pub fn parse_anomalies(list: &str) -> Result<Vec<&'static str>, ModelError> {
    parse_list(list, "anomaly", known_anomaly)
}

fn parse_list(
    list: &str,
    kind: &'static str,
    known: fn(&str) -> Result<&'static str, ModelError>,
) -> Result<Vec<&'static str>, ModelError> {
    let mut names = Vec::new();
    for name in list.split(',').map(str::trim) {
        let name = name.strip_prefix(':').unwrap_or(name);
        if name.is_empty() {
            let list = list.to_string();
            return Err(ModelError::EmptyName { list, kind });
        }
        let name = known(name)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// The anomalies and every anomaly they imply (Elle's
/// `all-implied-anomalies`). Unknown anomalies imply only themselves.
pub fn all_implied_anomalies<'a>(anomalies: &[&'a str]) -> BTreeSet<&'a str> {
    implied_anomalies().reachable(anomalies, Direction::Out)
}

/// The anomalies and every anomaly that implies one of them (Elle's
/// `all-anomalies-implying`). Unknown anomalies are implied only by
/// themselves.
pub fn all_anomalies_implying<'a>(anomalies: &[&'a str]) -> BTreeSet<&'a str> {
    implied_anomalies().reachable(anomalies, Direction::In)
}

/// The canonical names of these models and of every model they imply,
/// that is every weaker model (Elle's `all-implied-models`). Fails on a
/// model Elle does not know.
pub fn all_implied_models(ms: &[&str]) -> Result<BTreeSet<&'static str>, ModelError> {
    Ok(models().reachable(&canonical_known(ms)?, Direction::Out))
}

/// The canonical names of these impossible models and of every model that
/// implies one of them, which is impossible too (Elle's
/// `all-impossible-models`). Fails on a model Elle does not know.
pub fn all_impossible_models(impossible: &[&str]) -> Result<BTreeSet<&'static str>, ModelError> {
    Ok(models().reachable(&canonical_known(impossible)?, Direction::In))
}

/// Elle's `validate-models`, then `canonical-model-name` on each.
fn canonical_known(names: &[&str]) -> Result<Vec<&'static str>, ModelError> {
    names
        .iter()
        .map(|name| known_model(name).map(canonical_model_name))
        .collect()
}

/// The canonical models of `ms` that no other of them implies: the
/// strongest (Elle's `strongest-models`). Names Elle does not know stay.
pub fn strongest_models<'a>(ms: &[&'a str]) -> BTreeSet<&'a str> {
    most_models(Direction::In, ms)
}

/// The canonical models of `ms` that imply none of the others: the
/// weakest (Elle's `weakest-models`). Names Elle does not know stay.
pub fn weakest_models<'a>(ms: &[&'a str]) -> BTreeSet<&'a str> {
    most_models(Direction::Out, ms)
}

/// Elle's `most-models`: in the order given, drops each model from which a
/// model still in the set can be reached in `direction`.
fn most_models<'a>(direction: Direction, ms: &[&'a str]) -> BTreeSet<&'a str> {
    let ms: Vec<&'a str> = ms.iter().map(|&m| canonical_model_name(m)).collect();
    let mut kept: BTreeSet<&'a str> = ms.iter().copied().collect();
    for &model in &ms {
        let was_kept = kept.remove(model);
        let reached = models().reachable(&[model], direction);
        let covered = reached.iter().any(|m| kept.contains(m));
        if was_kept && !covered {
            kept.insert(model);
        }
    }
    kept
}

/// The anomalies that cannot be present if all these models hold: those
/// that these models or any weaker model forbid directly, and every
/// anomaly that implies one of those (Elle's `anomalies-prohibited-by`).
/// Fails on a model Elle does not know.
pub fn anomalies_prohibited_by(ms: &[&str]) -> Result<BTreeSet<&'static str>, ModelError> {
    let canonical: Vec<&str> = ms.iter().map(|&m| canonical_model_name(m)).collect();
    let implied = all_implied_models(&canonical)?;
    let direct: Vec<&'static str> = implied
        .iter()
        .flat_map(|m| direct_proscribed_anomalies().neighbours(m, Direction::Out))
        .collect();
    Ok(all_anomalies_implying(&direct))
}

/// The canonical models that cannot hold given these anomalies: those that
/// forbid one of them or an anomaly they imply, and every model stronger
/// than those (Elle's `anomalies->impossible-models`). Unknown anomalies
/// rule nothing out.
pub fn anomalies_to_impossible_models(anomalies: &[&str]) -> BTreeSet<&'static str> {
    let implied = all_implied_anomalies(anomalies);
    let forbidding: Vec<&'static str> = implied
        .iter()
        .flat_map(|a| direct_proscribed_anomalies().neighbours(a, Direction::In))
        .collect();
    models().reachable(&forbidding, Direction::In)
}

/// The canonical models not in `impossible` (Elle's `possible-models`).
pub fn possible_models(impossible: &BTreeSet<&str>) -> BTreeSet<&'static str> {
    models()
        .vertices()
        .filter(|m| !impossible.contains(m))
        .collect()
}

/// The models a set of anomalies rules out: `not`, the weakest of them, and
/// `also_not`, the rest (Elle's `boundary`; `{:not ..., :also-not ...}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Boundary {
    /// The weakest models the anomalies rule out.
    pub not: BTreeSet<&'static str>,
    /// The other models ruled out, all stronger than some of `not`.
    pub also_not: BTreeSet<&'static str>,
}

/// The models these anomalies rule out, by canonical name (Elle's
/// `boundary`).
pub fn boundary(anomalies: &[&str]) -> Boundary {
    let impossible = anomalies_to_impossible_models(anomalies);
    let list: Vec<&'static str> = impossible.iter().copied().collect();
    let not = weakest_models(&list);
    let also_not = impossible.difference(&not).copied().collect();
    Boundary { not, also_not }
}

/// The models these anomalies rule out, by friendly name, as Elle reports
/// them in `:not` and `:also-not` (Elle's `friendly-boundary`).
pub fn friendly_boundary(anomalies: &[&str]) -> Boundary {
    let friendly = |names: BTreeSet<&'static str>| -> BTreeSet<&'static str> {
        names.into_iter().map(friendly_model_name).collect()
    };
    let Boundary { not, also_not } = boundary(anomalies);
    Boundary {
        not: friendly(not),
        also_not: friendly(also_not),
    }
}

/// Elle's `anomaly-depths`: each anomaly's depth in the union of
/// [`implied_anomalies`] and [`anomaly_severity_graph`], and 0 for the
/// anomalies found only in [`direct_proscribed_anomalies`] (Elle gives
/// every anomaly the top models forbid depth 0, then keeps the larger).
fn anomaly_depths() -> &'static BTreeMap<&'static str, u32> {
    static DEPTHS: LazyLock<BTreeMap<&'static str, u32>> = LazyLock::new(|| {
        let mut depths = implied_anomalies()
            .union(anomaly_severity_graph())
            .topo_depths();
        let proscribed = direct_proscribed_anomalies();
        for model in proscribed.top() {
            for anomaly in proscribed.neighbours(model, Direction::Out) {
                depths.entry(anomaly).or_insert(0);
            }
        }
        depths
    });
    &DEPTHS
}

/// How deep an anomaly lies among the anomalies that imply it or are more
/// severe than it; `None` for an anomaly Elle does not know (Elle's
/// `anomaly-depths`).
pub fn anomaly_depth(anomaly: &str) -> Option<u32> {
    anomaly_depths().get(anomaly).copied()
}

/// Orders anomalies for search: shallower first, then by name as Clojure
/// orders keywords; unknown anomalies first, as Clojure orders nil (Elle's
/// `anomaly-depth-compare`).
pub fn anomaly_depth_compare(a: &str, b: &str) -> Ordering {
    anomaly_depth(a)
        .cmp(&anomaly_depth(b))
        .then_with(|| keyword_compare(a, b))
}

/// Orders two names as Clojure orders unqualified keywords: Java's
/// `String.compareTo`, by UTF-16 code units (for ASCII, byte order; so
/// `G-single-item` before `G0`, since `-` is before `0`).
pub fn keyword_compare(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Every anomaly Elle knows, in search order: by [`anomaly_depth_compare`]
/// (Elle's `all-anomalies`).
pub fn all_anomalies() -> &'static [&'static str] {
    static ALL: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let mut all: Vec<&'static str> = anomaly_depths().keys().copied().collect();
        all.sort_by(|a, b| anomaly_depth_compare(a, b));
        all
    });
    &ALL
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    #[test]
    fn reachable_includes_the_starts_and_passes_unknown_vertices_through() {
        let g = Graph::from_edges([("a", "b"), ("b", "c"), ("d", "c")]);
        assert_eq!(g.reachable(&["a"], Direction::Out), set(&["a", "b", "c"]));
        assert_eq!(
            g.reachable(&["c"], Direction::In),
            set(&["a", "b", "c", "d"])
        );
        let unknown = String::from("zz");
        assert_eq!(g.reachable(&[&unknown], Direction::Out), set(&["zz"]));
        assert_eq!(g.reachable(&[], Direction::Out), set(&[]));
    }

    #[test]
    fn topo_depths_are_longest_paths_and_skip_cycles() {
        let g = Graph::from_edges([("a", "b"), ("b", "c"), ("a", "c"), ("x", "y"), ("y", "x")]);
        let depths: Vec<_> = g.topo_depths().into_iter().collect();
        assert_eq!(depths, [("a", 0), ("b", 1), ("c", 2)]);
        assert_eq!(g.top().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn every_graph_is_acyclic() {
        for g in [
            implied_anomalies(),
            anomaly_severity_graph(),
            &implied_anomalies().union(anomaly_severity_graph()),
            models(),
            direct_proscribed_anomalies(),
        ] {
            assert_eq!(g.topo_depths().len(), g.vertices().count());
        }
    }

    #[test]
    fn keywords_compare_by_utf16_code_units() {
        assert_eq!(keyword_compare("G-single-item", "G0"), Ordering::Less);
        assert_eq!(keyword_compare("G2", "G2-item"), Ordering::Less);
        assert_eq!(keyword_compare("PL-SS", "internal"), Ordering::Less);
        // U+1F600 is a surrogate pair (0xD83D ...), below U+FF61 in UTF-16
        // though above it in UTF-8.
        assert_eq!(keyword_compare("\u{1F600}", "\u{FF61}"), Ordering::Less);
        assert_eq!(keyword_compare("a", "a"), Ordering::Equal);
    }

    #[test]
    fn unknown_anomalies_sort_first_then_by_name() {
        assert_eq!(anomaly_depth("G-single-item"), Some(0));
        assert_eq!(anomaly_depth("G2-realtime"), Some(14));
        assert_eq!(anomaly_depth("empty-transaction-graph"), None);
        assert_eq!(anomaly_depth_compare("zzz", "G0"), Ordering::Less);
        assert_eq!(anomaly_depth_compare("aaa", "zzz"), Ordering::Less);
        assert_eq!(anomaly_depth_compare("G1a", "G0"), Ordering::Greater);
        assert_eq!(anomaly_depth_compare("G0", "G0"), Ordering::Equal);
    }

    #[test]
    fn friendly_and_canonical_names_invert_each_other() {
        for &(canonical, friendly) in FRIENDLY_MODEL_NAMES {
            assert_eq!(canonical_model_name(friendly), canonical);
            assert_eq!(friendly_model_name(canonical), friendly);
        }
        let canonical: BTreeSet<&str> = CANONICAL_MODEL_NAMES.iter().map(|&(_, c)| c).collect();
        let friendly: BTreeSet<&str> = FRIENDLY_MODEL_NAMES.iter().map(|&(c, _)| c).collect();
        assert_eq!(canonical, friendly);
        assert_eq!(friendly_model_name("PL-SS"), "strong-serializable");
        assert_eq!(canonical_model_name("strict-serializable"), "PL-SS");
        assert_eq!(
            friendly_model_name("conflict-serializable"),
            "conflict-serializable"
        );
        assert_eq!(canonical_model_name("linearizable"), "linearizable");
    }

    #[test]
    fn model_lists_allow_spaces_and_colons_and_keep_each_name_once() {
        let models = parse_models(" read-committed ,serializable, :PL-SS,serializable");
        assert_eq!(models, Ok(vec!["read-committed", "serializable", "PL-SS"]));
        assert_eq!(
            parse_models("strict-serializable"),
            Ok(vec!["strict-serializable"])
        );
        let anomalies = parse_anomalies("G0 , :G1c,G-single-item-realtime");
        assert_eq!(anomalies, Ok(vec!["G0", "G1c", "G-single-item-realtime"]));
    }

    #[test]
    fn unknown_or_missing_names_are_refused_with_the_known_ones() {
        let unknown = parse_models("serializable, bogus").unwrap_err();
        assert_eq!(
            unknown,
            ModelError::UnknownModel {
                name: "bogus".into()
            }
        );
        let message = unknown.to_string();
        assert!(
            message.contains("\"bogus\"") && message.contains("1SR, PL-1"),
            "{message}"
        );
        assert!(message.contains("separated by commas"), "{message}");
        let anomaly = parse_anomalies("G0,G3").unwrap_err();
        assert_eq!(anomaly, ModelError::UnknownAnomaly { name: "G3".into() });
        assert!(anomaly.to_string().contains("G-MSR, G-SI"), "{anomaly}");
        for list in ["", "serializable,,G0", "serializable,", " , "] {
            let empty = parse_models(list).unwrap_err();
            assert!(
                matches!(empty, ModelError::EmptyName { kind: "model", .. }),
                "{list:?}"
            );
        }
        let empty = parse_anomalies("G0,").unwrap_err().to_string();
        assert_eq!(
            empty,
            "\"G0,\" has an empty anomaly name; separate anomaly names with single commas"
        );
    }

    #[test]
    fn possible_models_are_the_rest() {
        let impossible = anomalies_to_impossible_models(&["G-single-realtime"]);
        let possible = possible_models(&impossible);
        assert!(possible.contains("PL-3") && !possible.contains("PL-SS"));
        assert_eq!(
            possible.len() + impossible.len(),
            models().vertices().count()
        );
    }
}
