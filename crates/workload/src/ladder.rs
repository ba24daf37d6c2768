//! The consistency models a register or key-value history can be held to,
//! strongest first, and the names `--consistency-models` takes for them
//! (in `lightcone check` with a register model, and in the lin-kv
//! workload).
//!
//! The hierarchy, stronger first: linearizable > sequential >
//! {causal-memory, causal-convergence} > causal > writes-follow-reads, and
//! causal-memory > pram > {read-your-writes, monotonic-reads,
//! monotonic-writes}. For Bouajjani et al.'s definitions (POPL 2017),
//! causal and causal-convergence do not imply pram: each read of causal
//! picks its own order of its causal past (`lightcone-weak`'s doc and
//! `crates/weak/tests/ladder/` show each gap with a history).
//!
//! [`climb`] decides each model asked for, independently: linearizable by
//! `lightcone_linear::check`, sequential by `check_sequential`, the rest by
//! `lightcone_weak` (decided for differentiated histories; unknown, with
//! the reason, where values repeat). The ladder is the strongest-first list
//! of those verdicts, each with its witness in words.
//!
//! Degraded reads (the completion's f is [`DEGRADED_READ`], a read a node
//! answered from its own state when it could not serve it linearizably,
//! behind its `degraded-reads` flag) are possibly stale by design: they are
//! left out of the linearizable and sequential checks, and are ordinary
//! reads for the weaker models (causal, PRAM, the session guarantees),
//! which say what such answers still keep.

use std::borrow::Cow;

use lightcone_check::Validity;
use lightcone_history::History;
use lightcone_linear::{
    self as linear, LinearOptions, LinearResult, Model, SequentialOptions, SequentialResult,
};
use serde::Serialize;
use serde_json::Value;

/// The f of a degraded read's completion (its invocation is a `read`).
pub const DEGRADED_READ: &str = "read-degraded";

/// The number of degraded reads in `history` (ok completions whose f is
/// [`DEGRADED_READ`]).
pub fn degraded_read_count(history: &History) -> u64 {
    history
        .iter()
        .filter(|op| op.is_client() && op.f == DEGRADED_READ)
        .count() as u64
}

/// `history` without its degraded reads (invocation and completion both
/// dropped; the other ops keep their indices): what the linearizable and
/// sequential checks read. Borrowed when there are none.
pub fn without_degraded_reads(history: &History) -> Cow<'_, History> {
    if degraded_read_count(history) == 0 {
        return Cow::Borrowed(history);
    }
    let mut drop = vec![false; history.ops.len()];
    for (invoke, completion) in history.pair_positions() {
        if let Some(c) = completion.filter(|c| history.ops[*c].f == DEGRADED_READ) {
            drop[invoke] = true;
            drop[c] = true;
        }
    }
    let ops = history
        .ops
        .iter()
        .zip(drop)
        .filter(|(_, drop)| !drop)
        .map(|(op, _)| op.clone())
        .collect();
    Cow::Owned(History { ops })
}

/// `history` with its degraded reads as ordinary reads (their completions'
/// f made `read`): what the weaker models read. Borrowed when there are
/// none.
pub fn with_degraded_as_reads(history: &History) -> Cow<'_, History> {
    if degraded_read_count(history) == 0 {
        return Cow::Borrowed(history);
    }
    let mut owned = history.clone();
    for op in &mut owned.ops {
        if op.is_client() && op.f == DEGRADED_READ {
            op.f = "read".to_string();
        }
    }
    Cow::Owned(owned)
}

/// Every model, strongest first: the order the ladder is printed in.
pub const REGISTER_MODELS: &[&str] = &[
    "linearizable",
    "sequential",
    "causal-memory",
    "causal-convergence",
    "causal",
    "pram",
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
];

/// The models of a comma-separated list (spaces around names allowed;
/// `all` is every model), strongest first, each once.
pub fn parse_register_models(list: &str) -> Result<Vec<&'static str>, String> {
    let mut wanted = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            continue;
        }
        if name == "all" {
            wanted.extend_from_slice(REGISTER_MODELS);
            continue;
        }
        match REGISTER_MODELS.iter().find(|m| **m == name) {
            Some(model) => wanted.push(*model),
            None => {
                return Err(format!(
                    "unknown consistency model {name:?} for a register or key-value history; \
                     use `all` or any of {}",
                    REGISTER_MODELS.join(", ")
                ))
            }
        }
    }
    if wanted.is_empty() {
        return Err(format!(
            "no consistency model named; use `all` or any of {}",
            REGISTER_MODELS.join(", ")
        ));
    }
    Ok(REGISTER_MODELS
        .iter()
        .copied()
        .filter(|m| wanted.contains(m))
        .collect())
}

/// One model's verdict on a history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Rung {
    pub model: &'static str,
    pub valid: Validity,
    /// Why the verdict is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why the model does not hold, in words (the bad pattern or the stuck
    /// operation and its operations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<String>,
    /// The witness's operations (history indices of their invocations).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<u64>,
}

impl Rung {
    /// The rung of a search's verdict (linearizable, sequential): its
    /// problems as the witness, the stuck op as its operations.
    fn searched(
        model: &'static str,
        valid: Validity,
        reason: Option<String>,
        problems: Vec<String>,
        witness: Option<&linear::Witness>,
    ) -> Rung {
        Rung {
            model,
            valid,
            reason,
            witness: (valid == Validity::Invalid).then(|| problems.join("; ")),
            ops: witness.map(|w| vec![w.op.invoke_index]).unwrap_or_default(),
        }
    }
}

/// Every model's verdict, strongest first, and the linearizability result
/// in full (for its drawing) when linearizability was asked for.
#[derive(Debug)]
pub struct Ladder {
    pub rungs: Vec<Rung>,
    pub linear: Option<LinearResult>,
    pub sequential: Option<SequentialResult>,
}

impl Ladder {
    /// Invalid if any model asked for is violated; else unknown if any is
    /// undecided; else valid.
    pub fn valid(&self) -> Validity {
        self.rungs
            .iter()
            .fold(Validity::Valid, |v, rung| v.merge(rung.valid))
    }

    /// One sentence per model that does not hold or is undecided.
    pub fn problems(&self) -> Vec<String> {
        self.rungs
            .iter()
            .filter_map(|rung| match rung.valid {
                Validity::Valid => None,
                Validity::Invalid => Some(format!(
                    "not {}: {}",
                    rung.model,
                    rung.witness.as_deref().unwrap_or("no witness")
                )),
                Validity::Unknown => Some(format!(
                    "{} undecided: {}",
                    rung.model,
                    rung.reason.as_deref().unwrap_or("no reason given")
                )),
            })
            .collect()
    }
}

/// A run's section of results.json when lin-kv is held to models other
/// than linearizability alone.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LadderDetails {
    pub model: &'static str,
    /// Each model's verdict, strongest first.
    pub rungs: Vec<Rung>,
    /// The linearizability check's details, when it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear: Option<linear::Details>,
}

/// How [`climb`] reads and bounds its checks.
#[derive(Debug, Clone, Default)]
pub struct LadderOptions {
    pub linear: LinearOptions,
    pub sequential: SequentialOptions,
    /// Ops' values are Jepsen independent tuples `[key, v]` (a key-value
    /// store), not one register's values.
    pub keyed: bool,
    /// The value every key holds before its first write.
    pub initial: Value,
}

/// Decides each of `models` (names from [`REGISTER_MODELS`]) for a
/// register or key-value `history`, whose sequential specification is
/// `model`. Degraded reads are left out of linearizable and sequential, and
/// are reads for the others (see the module's docs).
pub fn climb(
    history: &History,
    model: &dyn Model,
    models: &[&'static str],
    options: &LadderOptions,
) -> Ladder {
    let mut ladder = Ladder {
        rungs: Vec::new(),
        linear: None,
        sequential: None,
    };
    let weak_options = lightcone_weak::WeakOptions {
        keyed: options.keyed,
        initial: options.initial.clone(),
        ..lightcone_weak::WeakOptions::default()
    };
    let strict = if models
        .iter()
        .any(|m| matches!(*m, "linearizable" | "sequential"))
    {
        without_degraded_reads(history)
    } else {
        Cow::Borrowed(history)
    };
    let weak_history = if models
        .iter()
        .any(|m| !matches!(*m, "linearizable" | "sequential"))
    {
        with_degraded_as_reads(history)
    } else {
        Cow::Borrowed(history)
    };
    for &name in models {
        let rung = match name {
            "linearizable" => {
                let result = linear::check(&strict, model, &options.linear);
                let rung = Rung::searched(
                    name,
                    result.valid,
                    result.reason.clone(),
                    result.problems(),
                    result.witness(),
                );
                ladder.linear = Some(result);
                rung
            }
            "sequential" => {
                let result = linear::check_sequential(&strict, model, &options.sequential);
                let rung = Rung::searched(
                    name,
                    result.valid,
                    result.reason.clone(),
                    result.problems(),
                    result.witness.as_ref(),
                );
                ladder.sequential = Some(result);
                rung
            }
            weak => {
                let result = lightcone_weak::check(&weak_history, weak, &weak_options)
                    .expect("the ladder's names are the weak checker's");
                Rung {
                    model: name,
                    valid: result.valid,
                    reason: result.reason,
                    witness: result
                        .witness
                        .as_ref()
                        .map(|w| format!("{}: {}", w.name, w.description)),
                    ops: result.witness.map(|w| w.ops).unwrap_or_default(),
                }
            }
        };
        ladder.rungs.push(rung);
    }
    ladder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_in_ladder_order_and_unknown_names_are_refused() {
        assert_eq!(
            parse_register_models("monotonic-reads, linearizable,sequential").unwrap(),
            ["linearizable", "sequential", "monotonic-reads"]
        );
        assert_eq!(parse_register_models("all").unwrap(), REGISTER_MODELS);
        assert_eq!(
            parse_register_models("pram,all,pram").unwrap(),
            REGISTER_MODELS
        );
        let e = parse_register_models("serializable").unwrap_err();
        assert!(
            e.contains("\"serializable\"") && e.contains("causal-memory"),
            "{e}"
        );
        assert!(parse_register_models(" , ").is_err());
    }
}
