//! The verdict (elle/txn.clj `result-map`): which anomalies found are
//! reportable, whether the history is valid, and which models it rules out;
//! with lightcone's counts beside Elle's keys.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_check::{plural, CheckResult, Validity};
use serde::Serialize;
use serde_json::Value;

use crate::anomaly::{Anomalies, Cycle, Witness};
use crate::consistency;
use crate::cycles::{any_cycle, Found};
use crate::explain::Explainer;
use crate::ops::{Status, Txns};
use crate::TxnOptions;

/// The transactional checker's section of results.json: Elle's result map
/// (`anomaly-types`, `anomalies`, `not`, `also-not` when anything is
/// reportable) and lightcone's own counts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomaly_types: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub anomalies: BTreeMap<String, Cases>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not: Option<BTreeSet<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub also_not: Option<BTreeSet<&'static str>>,
    /// Why the history could not be analysed (Elle's thrown `:type`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub error_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How many cases each reportable type had (witnesses are capped).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub anomaly_counts: BTreeMap<String, usize>,
    /// Every anomaly type found, reportable or not (what decides `not`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub found_types: Vec<String>,
    pub model: &'static str,
    pub consistency_models: Vec<&'static str>,
    pub txn_count: usize,
    pub ok_count: usize,
    pub info_count: usize,
    pub fail_count: usize,
    #[serde(flatten)]
    pub graph: GraphStats,
}

impl Details {
    /// The witnesses reported for `kind` (none if it is a flag or absent).
    pub fn anomalies_of(&self, kind: &str) -> &[Witness] {
        match self.anomalies.get(kind) {
            Some(Cases::Witnesses(w)) => w,
            _ => &[],
        }
    }
}

/// An anomaly type's cases, or Elle's `true` for a flag.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Cases {
    Witnesses(Vec<Witness>),
    Flag(bool),
}

/// Figures about the dependency graph and its search.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct GraphStats {
    pub edge_count: usize,
    /// Strongly connected components with more than one transaction.
    pub scc_count: usize,
    pub largest_scc: usize,
    /// Edge visits of the cycle searches.
    pub search_steps: u64,
}

/// A history Elle's analysis refuses (a precondition failed): unknown, with
/// Elle's error type and a message naming the op.
pub fn unanalysable(
    options: &TxnOptions,
    kind: &'static str,
    message: String,
) -> CheckResult<Details> {
    let details = Details {
        error_type: Some(kind),
        message: Some(message.clone()),
        ..empty(options)
    };
    CheckResult::new(
        Validity::Unknown,
        vec![format!("{kind}: {message}")],
        details,
    )
}

fn empty(options: &TxnOptions) -> Details {
    Details {
        anomaly_types: Vec::new(),
        anomalies: BTreeMap::new(),
        not: None,
        also_not: None,
        error_type: None,
        message: None,
        anomaly_counts: BTreeMap::new(),
        found_types: Vec::new(),
        model: options.model.name(),
        consistency_models: options.consistency_models.clone(),
        txn_count: 0,
        ok_count: 0,
        info_count: 0,
        fail_count: 0,
        graph: GraphStats::default(),
    }
}

/// Adds what one component's search found: cycle-exists cases, the cycles
/// (explained and typed), and on timeout Elle's marker and a fallback
/// cycle.
pub fn add_cycles(
    found: &mut Anomalies,
    explainer: &Explainer,
    component: &[u32],
    searched: Found,
) {
    for exists in searched.exists {
        let kind = format!("{}-cycle-exists", exists.spec.model);
        found.add(
            &kind.clone(),
            Witness::CycleExists {
                kind,
                not: consistency::friendly_model_name(exists.spec.model),
                subgraph: Value::from(exists.spec.subgraph.to_vec()),
                scc_size: exists.scc.len(),
                scc: exists
                    .scc
                    .iter()
                    .map(|&v| explainer.txns.op(v).index)
                    .collect(),
            },
        );
    }
    for (_, vertices) in searched.cycles {
        let cycle = explainer.cycle(&vertices);
        found.add(&cycle.kind.clone(), Witness::Cycle(cycle));
    }
    if let Some((spec, does_not_contain)) = searched.timeout {
        found.add(
            "cycle-search-timeout",
            Witness::Timeout {
                kind: "cycle-search-timeout",
                anomaly_spec_type: spec,
                does_not_contain,
                scc_size: component.len(),
            },
        );
        let fallback = explainer.cycle(&any_cycle(explainer.graph, component));
        found.add(&fallback.kind.clone(), Witness::Cycle(fallback));
    }
}

/// Elle's `result-map`, plus lightcone's counts and problem sentences.
/// `beyond` holds what lightcone finds that Elle does not look for: the
/// verdict counts it, and Elle's own verdict (without it) is kept beside.
pub fn verdict(
    options: &TxnOptions,
    txns: &Txns,
    found: Anomalies,
    beyond: Anomalies,
    graph: GraphStats,
) -> CheckResult<Details> {
    let (elle_valid, _) = evaluate(options, &found);
    // Elle's cases are said first, then lightcone's own, each once.
    let elle_problems: BTreeMap<String, String> = found
        .types()
        .map(|t| (t.to_string(), problem(t, &found)))
        .collect();
    let mut all = found;
    all.merge(beyond.clone());
    let (valid, reportable) = evaluate(options, &all);
    let all_types: Vec<&str> = all.types().collect();
    let count = |s: Status| txns.txns.iter().filter(|t| t.status == s).count();
    let mut details = Details {
        txn_count: txns.len(),
        ok_count: count(Status::Ok),
        info_count: count(Status::Info),
        fail_count: count(Status::Fail),
        graph,
        found_types: all_types.iter().map(|t| t.to_string()).collect(),
        ..empty(options)
    };
    if reportable.is_empty() {
        return CheckResult::new(Validity::Valid, Vec::new(), details);
    }
    let boundary = consistency::friendly_boundary(&all_types);
    let mut problems: Vec<String> = reportable
        .iter()
        .filter_map(|t| elle_problems.get(*t).cloned())
        .collect();
    let beyond_problems: Vec<String> = beyond
        .types()
        .filter(|t| reportable.contains(t))
        .map(|t| format!("{} (beyond Elle)", problem(t, &beyond)))
        .collect();
    problems.extend(beyond_problems.iter().cloned());
    details.anomaly_types = reportable.iter().map(|t| t.to_string()).collect();
    for t in &reportable {
        let cases = match all.cases.get(*t) {
            Some(cases) => Cases::Witnesses(cases.clone()),
            None => Cases::Flag(true),
        };
        details.anomalies.insert(t.to_string(), cases);
        details.anomaly_counts.insert(t.to_string(), all.counts[*t]);
    }
    details.not = Some(boundary.not);
    details.also_not = Some(boundary.also_not);
    CheckResult::new(valid, problems, details).beyond_maelstrom(elle_valid, beyond_problems)
}

/// Elle's verdict on `found`, and the reportable types (redundant
/// cycle-exists cases dropped).
fn evaluate<'a>(options: &TxnOptions, found: &'a Anomalies) -> (Validity, Vec<&'a str>) {
    let prohibited = options.prohibited();
    let reportable_types = options.reportable();
    let mut reportable: Vec<&str> = found
        .types()
        .filter(|t| reportable_types.contains(t))
        .collect();
    remove_redundant_cycle_exists(&mut reportable);
    let valid = if found.types().any(|t| prohibited.contains(t)) {
        Validity::Invalid
    } else if reportable.is_empty() {
        Validity::Valid
    } else {
        Validity::Unknown
    };
    (valid, reportable)
}

/// Drops `<model>-cycle-exists` cases whose model the other anomalies
/// already rule out (Elle's `remove-redundant-cycle-exists`).
fn remove_redundant_cycle_exists(types: &mut Vec<&str>) {
    let others: Vec<&str> = types
        .iter()
        .copied()
        .filter(|t| !t.ends_with("-cycle-exists"))
        .collect();
    let impossible = consistency::anomalies_to_impossible_models(&others);
    types.retain(|t| match t.strip_suffix("-cycle-exists") {
        Some(model) => !impossible.contains(model),
        None => true,
    });
}

/// One sentence per reportable anomaly type: how many cases, and the first.
fn problem(kind: &str, found: &Anomalies) -> String {
    let count = found.counts.get(kind).copied().unwrap_or(0);
    let Some(first) = found.cases.get(kind).and_then(|c| c.first()) else {
        return kind.to_string();
    };
    let what = match first {
        Witness::Cycle(c) => format!("\n{}", c.text),
        other => format!(
            ", e.g. {}",
            serde_json::to_string(other).expect("witnesses serialize")
        ),
    };
    format!("{kind}: {}{what}", plural(count, "case"))
}

/// A cycle's text (Elle's `<type>.txt` entry).
pub fn render_cycle(cycle: &Cycle) -> String {
    cycle.text.clone()
}
