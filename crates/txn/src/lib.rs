//! The transactional checker: Elle's verdicts and Elle's names for
//! list-append and rw-register histories.
//!
//! A history's operations are transactions (`f` `txn`, a value that is a
//! list of micro-ops: `["append", k, v]`, `["r", k, [v...]]`, `["w", k, v]`,
//! `["r", k, v]`, in Maelstrom's shape or Jepsen's keywords). The checker
//! infers each key's version order as Elle does, derives the dependency
//! graph between transactions (ww, wr, rw, and process or real-time order),
//! finds the anomalies the requested consistency models forbid, and says
//! which models the history rules out (`not`, `also-not`).
//!
//! Which file runs when, for [`check`]: `ops.rs` parses the transactions;
//! `list_append.rs` or `rw_register.rs` checks Elle's preconditions, finds
//! the anomalies visible without a graph and links transactions by ww, wr
//! and rw; `orders.rs` adds process or real-time order when a requested
//! model needs it; `graph.rs` builds the compact graph and its strongly
//! connected components; `cycles.rs` searches each component for cycle
//! anomalies; `explain.rs` turns cycles into Elle's witnesses and text;
//! `consistency.rs` (Elle's lattice) decides what is reportable and which
//! models are ruled out.
//!
//! - `gen.rs`: list-append and rw-register histories for tests and
//!   benchmarks, with an optional injected anomaly.

pub mod anomaly;
pub mod consistency;
pub mod cycles;
pub mod explain;
pub mod gadgets;
pub mod gen;
pub mod graph;
pub mod list_append;
mod lost_update;
pub mod ops;
pub mod orders;
mod result;
pub mod rw_register;

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lightcone_check::CheckResult;
use lightcone_history::History;

pub use ops::TxnModel;
pub use result::Details;

use anomaly::{Anomalies, Witness};
use cycles::{ExplainOrder, Search};
use graph::{sccs, GraphBuilder, Rels};
use ops::Txns;

/// Edge visits one component's cycle search may spend before it reports
/// `cycle-search-timeout` (Elle stops after 1 s of wall time; lightcone
/// counts steps, so the same history always gets the same answer).
pub const SEARCH_BUDGET_DEFAULT: u64 = 200_000_000;

/// How to check a transactional history.
#[derive(Debug, Clone)]
pub struct TxnOptions {
    pub model: TxnModel,
    /// The consistency models the history must satisfy (Elle's names and
    /// aliases); Maelstrom's default is strict-serializable.
    pub consistency_models: Vec<&'static str>,
    /// Further anomalies to look for (Elle's `:anomalies`).
    pub anomalies: Vec<&'static str>,
    /// rw-register: infer version orders assuming each key is linearizable
    /// (real-time order) or sequential (process order).
    pub linearizable_keys: bool,
    pub sequential_keys: bool,
    /// rw-register: writes follow reads within a transaction (Maelstrom
    /// sets this).
    pub wfr_keys: bool,
    /// Steps per component before `cycle-search-timeout`.
    pub search_budget: u64,
    /// Set by the caller (a time limit) to end every search as if out of
    /// budget.
    pub stop: Option<Arc<AtomicBool>>,
}

impl TxnOptions {
    pub fn new(model: TxnModel) -> TxnOptions {
        TxnOptions {
            model,
            consistency_models: vec!["strict-serializable"],
            anomalies: Vec::new(),
            linearizable_keys: false,
            sequential_keys: false,
            wfr_keys: true,
            search_budget: SEARCH_BUDGET_DEFAULT,
            stop: None,
        }
    }

    /// Anomalies whose presence invalidates the history (Elle's
    /// `prohibited-anomaly-types`).
    pub fn prohibited(&self) -> BTreeSet<&'static str> {
        let mut prohibited: BTreeSet<&'static str> =
            consistency::all_anomalies_implying(&self.anomalies);
        prohibited.extend(
            consistency::anomalies_prohibited_by(&self.consistency_models)
                .expect("consistency models are validated when parsed"),
        );
        prohibited
    }

    /// Anomalies worth reporting: the prohibited ones and the markers that
    /// make a verdict unknown.
    pub fn reportable(&self) -> BTreeSet<&'static str> {
        let mut reportable = self.prohibited();
        reportable.extend(UNKNOWN_TYPES);
        reportable
    }

    /// The order graph the requested models need: real-time order if any
    /// real-time anomaly is reportable, else process order if any process
    /// anomaly is (Elle's `additional-graphs`).
    pub fn order_rels(&self) -> Rels {
        let reportable = self.reportable();
        let any = |suffix: &str| {
            reportable
                .iter()
                .any(|a| cycles::is_cycle_type(a) && a.ends_with(suffix))
        };
        if any("-realtime") {
            Rels::REALTIME
        } else if any("-process") {
            Rels::PROCESS
        } else {
            Rels::NONE
        }
    }
}

/// Anomalies that make a verdict unknown rather than invalid.
pub const UNKNOWN_TYPES: [&str; 2] = ["empty-transaction-graph", "cycle-search-timeout"];

/// Checks a transactional history; see the crate docs.
pub fn check(history: &History, options: &TxnOptions) -> CheckResult<Details> {
    let txns = match Txns::parse(history, options.model) {
        Ok(txns) => txns,
        Err(e) => return result::unanalysable(options, e.kind, e.to_string()),
    };
    match options.model {
        TxnModel::ListAppend => {
            let la = match list_append::ListAppend::new(&txns)
                .and_then(|la| la.check_reads_written().map(|()| la))
            {
                Ok(la) => la,
                Err(p) => return result::unanalysable(options, p.kind, p.message),
            };
            analyse(
                &txns,
                options,
                &|builder| la.edges(builder),
                &|| (la.anomalies(), la.beyond_elle()),
                &la,
                ExplainOrder::WwFirst,
            )
        }
        TxnModel::RwRegister => {
            let order = |rels: Rels| {
                let mut b = GraphBuilder::default();
                match rels {
                    Rels::PROCESS => orders::process_edges(&txns, &mut b),
                    _ => orders::realtime_edges(&txns, &mut b),
                }
                b.build(txns.len())
            };
            let rr = match rw_register::RwRegister::new(&txns, options, &order) {
                Ok(rr) => rr,
                Err(p) => return result::unanalysable(options, p.kind, p.message),
            };
            analyse(
                &txns,
                options,
                &|builder| rr.edges(builder),
                &|| (rr.anomalies(), Anomalies::default()),
                &rr,
                ExplainOrder::WrFirst,
            )
        }
    }
}

/// The graph part, shared by both models: data and order edges,
/// components, cycle search, and the verdict. `anomalies` finds what Elle
/// finds outside cycles, then what lightcone finds beyond Elle; it runs on
/// a second thread while the graph is built (each side's result is the
/// same whichever finishes first).
fn analyse(
    txns: &Txns,
    options: &TxnOptions,
    data_edges: &(dyn Fn(&mut GraphBuilder) + Sync),
    anomalies: &(dyn Fn() -> (Anomalies, Anomalies) + Sync),
    data: &dyn explain::DataExplainer,
    order: ExplainOrder,
) -> CheckResult<Details> {
    let order_rels = options.order_rels();
    let build = || {
        let mut builder = GraphBuilder::default();
        data_edges(&mut builder);
        match order_rels {
            Rels::REALTIME => orders::realtime_edges(txns, &mut builder),
            Rels::PROCESS => orders::process_edges(txns, &mut builder),
            _ => {}
        }
        builder.build(txns.len())
    };
    let (graph, (mut found, beyond)) = std::thread::scope(|scope| {
        let other = std::thread::Builder::new()
            .name("txn-anomalies".into())
            .spawn_scoped(scope, anomalies);
        let graph = build();
        let found = match other {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: find them here.
            Err(_) => anomalies(),
        };
        (graph, found)
    });
    let mut stats = result::GraphStats {
        edge_count: graph.edge_count(),
        ..Default::default()
    };
    if graph.edge_count() == 0 {
        found.flag("empty-transaction-graph");
    }
    let vertices: Vec<u32> = (0..txns.len() as u32)
        .filter(|&v| graph.has_edges(v))
        .collect();
    let components = sccs(&graph, &vertices, &|_| true, &|_| true);
    stats.scc_count = components.len();
    stats.largest_scc = components.iter().map(Vec::len).max().unwrap_or(0);
    let explainer = explain::Explainer {
        txns,
        graph: &graph,
        order,
        order_rels,
        data,
    };
    for component in &components {
        let search = Search::new(
            &graph,
            order,
            order_rels,
            component,
            options.search_budget,
            options.stop.as_deref(),
        );
        let searched = search.run();
        stats.search_steps += searched.steps;
        result::add_cycles(&mut found, &explainer, component, searched);
    }
    result::verdict(options, txns, found, beyond, stats)
}

/// A witness's text, as Elle writes `<type>.txt`: cycles step by step,
/// other anomalies as their witness.
pub fn render_witness(witness: &Witness) -> String {
    match witness {
        Witness::Cycle(c) => result::render_cycle(c),
        other => serde_json::to_string_pretty(other).expect("witnesses serialize"),
    }
}
