//! The linearizability checker's verdict, per partition and overall, as
//! JSON for `--json` and as the crate's [`CheckResult`].

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::witness::Witness;
use lightcone_check::{list_some, plural, CheckResult, Validity};

/// How many non-valid partitions the JSON details list.
const PARTITIONS_SHOWN_MAX: usize = 32;
/// How many invalid partitions the problem sentences name.
const PROBLEMS_MAX: usize = 8;

/// How a partition was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// Nothing to linearize: no op completed `ok`.
    Trivial,
    /// The register value pre-pass (a read of a value nothing writes).
    ValueScreen,
    /// The register stale-read pre-pass (a read of a value certainly
    /// overwritten before it began).
    StaleRead,
    /// The unique-values register zone test.
    RegisterZones,
    /// The depth-first backtracking search.
    Search,
    /// The breadth-first frontier search, after the depth-first search
    /// cached more configurations than it is allowed.
    Frontier,
    /// Not checked: another partition was found invalid first.
    NotChecked,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Trivial => "trivial",
            Method::ValueScreen => "value-screen",
            Method::StaleRead => "stale-read",
            Method::RegisterZones => "register-zones",
            Method::Search => "search",
            Method::Frontier => "frontier",
            Method::NotChecked => "not-checked",
        }
    }
}

/// The verdict for one partition (one key, or the whole history).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PartitionResult {
    /// The partition's key; `None` for the unpartitioned history.
    pub key: Option<Value>,
    pub valid: Validity,
    /// Ops checked: `ok` and indeterminate ones (failed ops are dropped).
    pub op_count: usize,
    pub method: Method,
    /// Why it is not linearizable.
    pub witness: Option<Witness>,
    /// Why it is unknown.
    pub reason: Option<String>,
    /// Configurations the searches explored.
    pub configs: usize,
    /// The most configurations held in memory at once.
    pub configs_held_max: usize,
    /// Search steps (pushes and backtracks).
    pub steps: u64,
    /// Bytes of the search's configuration table at the end.
    pub table_bytes: usize,
    /// When the search found the partition linearizable: history indices
    /// of the invocations in linearization order (indeterminate ops that
    /// did not need to happen are left out).
    pub linearization: Option<Vec<u64>>,
}

impl PartitionResult {
    pub(crate) fn new(key: Option<Value>, op_count: usize, method: Method) -> PartitionResult {
        PartitionResult {
            key,
            valid: Validity::Valid,
            op_count,
            method,
            witness: None,
            reason: None,
            configs: 0,
            configs_held_max: 0,
            steps: 0,
            table_bytes: 0,
            linearization: None,
        }
    }

    /// "key 3" or "the history".
    pub fn name(&self) -> String {
        match &self.key {
            Some(k) => format!("key {k}"),
            None => "the history".to_string(),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("key".into(), self.key.clone().unwrap_or(Value::Null));
        m.insert("valid".into(), self.valid.to_json());
        m.insert("op-count".into(), json!(self.op_count));
        m.insert("method".into(), json!(self.method.as_str()));
        m.insert("configs".into(), json!(self.configs));
        m.insert("configs-held-max".into(), json!(self.configs_held_max));
        m.insert("steps".into(), json!(self.steps));
        if let Some(reason) = &self.reason {
            m.insert("reason".into(), json!(reason));
        }
        if let Some(w) = &self.witness {
            m.insert("witness".into(), w.to_json());
        }
        Value::Object(m)
    }
}

/// A linearizability check's section of results.json (and of `lightcone
/// check --json`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    pub model: String,
    pub op_count: usize,
    pub partition_count: usize,
    /// The keys of the invalid partitions (null for the unkeyed one).
    pub invalid_partitions: Vec<Value>,
    pub unknown_partitions: Vec<Value>,
    /// How many partitions each method decided.
    pub methods: BTreeMap<&'static str, usize>,
    pub configs: usize,
    pub steps: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The first invalid partition's witness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<Value>,
    /// The partitions not found valid (the first few), each as
    /// [`PartitionResult::to_json`] shows it.
    pub partitions: Vec<Value>,
}

/// The verdict of [`check`](super::check).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LinearResult {
    /// Invalid if any partition is; else unknown if any is; else valid.
    pub valid: Validity,
    /// The model's name.
    pub model: String,
    /// One per partition: the unkeyed one first, then by key.
    pub partitions: Vec<PartitionResult>,
    /// Why the result is unknown (malformed history, budget, stop).
    pub reason: Option<String>,
    pub op_count: usize,
    /// Configurations cached, over all partitions.
    pub configs: usize,
    pub steps: u64,
}

impl LinearResult {
    pub(crate) fn malformed(model: &str, error: String) -> LinearResult {
        LinearResult {
            valid: Validity::Unknown,
            model: model.to_string(),
            partitions: Vec::new(),
            reason: Some(format!("malformed history: {error}")),
            op_count: 0,
            configs: 0,
            steps: 0,
        }
    }

    pub(crate) fn from_partitions(model: &str, partitions: Vec<PartitionResult>) -> LinearResult {
        let valid = partitions
            .iter()
            .map(|p| p.valid)
            .fold(Validity::Valid, Validity::merge);
        let unknown: Vec<&PartitionResult> = partitions
            .iter()
            .filter(|p| p.valid == Validity::Unknown && p.method != Method::NotChecked)
            .collect();
        let reason = match unknown.as_slice() {
            [] => None,
            [one] if one.key.is_none() => one.reason.clone(),
            many => Some(format!(
                "{} undecided: {}",
                plural(many.len(), "partition"),
                list_some(
                    many.iter().map(|p| format!(
                        "{} ({})",
                        p.name(),
                        p.reason.as_deref().unwrap_or("unknown")
                    )),
                    many.len(),
                    3
                )
            )),
        };
        LinearResult {
            valid,
            model: model.to_string(),
            op_count: partitions.iter().map(|p| p.op_count).sum(),
            configs: partitions.iter().map(|p| p.configs).sum(),
            steps: partitions.iter().map(|p| p.steps).sum(),
            partitions,
            reason,
        }
    }

    pub fn invalid_partitions(&self) -> impl Iterator<Item = &PartitionResult> {
        self.partitions
            .iter()
            .filter(|p| p.valid == Validity::Invalid)
    }

    /// The first witness, if any partition is invalid.
    pub fn witness(&self) -> Option<&Witness> {
        self.invalid_partitions().find_map(|p| p.witness.as_ref())
    }

    /// The result as JSON with kebab-case keys, for `--json`: the
    /// details, then `valid`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.to_check_result().section()).expect("details serialize")
    }

    pub fn details(&self) -> Details {
        let key = |p: &PartitionResult| p.key.clone().unwrap_or(Value::Null);
        let mut methods: BTreeMap<&'static str, usize> = BTreeMap::new();
        for p in &self.partitions {
            *methods.entry(p.method.as_str()).or_default() += 1;
        }
        Details {
            model: self.model.clone(),
            op_count: self.op_count,
            partition_count: self.partitions.len(),
            invalid_partitions: self.invalid_partitions().map(key).collect(),
            unknown_partitions: self
                .partitions
                .iter()
                .filter(|p| p.valid == Validity::Unknown)
                .map(key)
                .collect(),
            methods,
            configs: self.configs,
            steps: self.steps,
            reason: self.reason.clone(),
            witness: self.witness().map(Witness::to_json),
            partitions: self
                .partitions
                .iter()
                .filter(|p| p.valid != Validity::Valid && p.method != Method::NotChecked)
                .take(PARTITIONS_SHOWN_MAX)
                .map(PartitionResult::to_json)
                .collect(),
        }
    }

    /// Problem sentences: one per invalid partition (the first few), and
    /// the reason when unknown.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .invalid_partitions()
            .take(PROBLEMS_MAX)
            .map(|p| match &p.witness {
                Some(w) => format!(
                    "{} is not linearizable: op {} (process {}) {} cannot be linearized: {}",
                    p.name(),
                    w.op.invoke_index,
                    w.op.process,
                    w.op.text,
                    w.cause
                ),
                None => format!("{} is not linearizable", p.name()),
            })
            .collect();
        let invalid = self.invalid_partitions().count();
        if invalid > PROBLEMS_MAX {
            problems.push(format!(
                "and {} more partitions are not linearizable",
                invalid - PROBLEMS_MAX
            ));
        }
        if self.valid == Validity::Unknown {
            if let Some(reason) = &self.reason {
                problems.push(format!("linearizability is unknown: {reason}"));
            }
        }
        problems
    }

    /// As a [`CheckResult`] with the lin-kv section's [`Details`].
    pub fn to_check_result(&self) -> CheckResult<Details> {
        CheckResult::new(self.valid, self.problems(), self.details())
    }
}
