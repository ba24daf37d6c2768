//! The kafka workload's checker: Jepsen's `jepsen.tests.kafka` analysis as
//! Maelstrom runs it (Jepsen 0.3.7 with Elle 0.2.2, `:sub-via #{:assign}`,
//! `:txn? false`, no `:ww-deps`).
//!
//! Each key is a log: one message per offset, offsets in append order.
//! Sends and polls tell the offsets of messages; from them the checker
//! builds each key's *version order* and looks for these anomalies, under
//! Jepsen's names:
//!
//! | error type | what happened |
//! |---|---|
//! | `inconsistent-offsets` | one offset of a key holds different messages |
//! | `duplicate` | one message is at several offsets of a key |
//! | `lost-write` | polls reached past a message that must have been appended, and no `ok` poll returned it |
//! | `unseen` | a send was acknowledged and no `ok` poll ever returned its message |
//! | `poll-skip` | a process's successive polls of a key jumped over a message |
//! | `nonmonotonic-poll` | a process's next poll of a key began at or before where its last one ended |
//! | `nonmonotonic-send` | a process's successive sends to a key landed out of order |
//! | `int-poll-skip`, `int-nonmonotonic-poll` | the same within one op |
//! | `int-send-skip`, `int-nonmonotonic-send` | the same for sends within one op |
//! | `G1a` | an `ok` poll returned a message whose send failed |
//! | `precommitted-read` | an op polled a message it sent itself |
//! | `G1c`, `G1c-realtime` | a cycle of dependencies: a poll that returned a message sent only after it completed |
//! | `empty-transaction-graph` | no two ops were related at all: nothing could be checked |
//!
//! Every error type invalidates the history except those Jepsen allows
//! (`allowed-error-types`): `int-send-skip` and the G0 family. (Skips and
//! nonmonotonic polls across an assign of other keys are not errors: the
//! process's position in those keys is forgotten, as in Jepsen.) Results
//! follow Jepsen's condensed output: each error type's `count` and some
//! `errs`, `error-types`, `bad-error-types`, `info-txn-causes`,
//! `worst-realtime-lag`.
//!
//! Where lightcone goes further, it says so:
//! - `unsent-read`: a poll returned a message no client ever sent to that
//!   key. Jepsen's analysis throws there (no writer), so Maelstrom's verdict
//!   is unknown; lightcone's is invalid, marked beyond Maelstrom.
//! - `committed-offsets-regress` (under `information`): an assign listed a
//!   committed offset lower than one acknowledged before it. Never an error:
//!   Kafka lets a later commit overwrite an earlier one.
//! - A completion whose value cannot be read makes the verdict unknown (if
//!   nothing else is wrong), with the op named.

mod anomalies;
mod cycles;
mod lag;
mod ops;
mod orders;

use std::collections::BTreeMap;

use lightcone_history::{History, OpType, Process};
use serde::Serialize;
use serde_json::{json, Value};

use anomalies::Case;
use lightcone_check::{plural, CheckResult, Validity};

/// Error types Jepsen's kafka checker reports but does not count against
/// the history (`allowed-error-types`, without subscribe or ww-deps).
const ALLOWED: [&str; 6] = [
    "int-send-skip",
    "G0",
    "G0-process",
    "G0-realtime",
    "PL-1-cycle-exists",
    "strong-PL-1-cycle-exists",
];

/// How many cases of an error type the details keep when Jepsen's
/// `condense-error` would keep them all (lightcone bounds every list).
const CASES_SHOWN_MAX: usize = 32;

/// Which cases of a type Jepsen's `condense-error` shows.
enum Shown {
    /// The first n after sorting by the case's number, ascending.
    Lowest(usize),
    /// The last n after sorting by the case's number, ascending.
    Highest(usize),
}

fn shown(error_type: &str) -> Shown {
    match error_type {
        "duplicate" | "inconsistent-offsets" => Shown::Lowest(32),
        "G0" | "G0-process" | "G0-realtime" | "G1c" | "G1c-process" | "G1c-realtime" => {
            Shown::Lowest(8)
        }
        "int-nonmonotonic-poll"
        | "int-nonmonotonic-send"
        | "nonmonotonic-poll"
        | "nonmonotonic-send" => Shown::Lowest(8),
        "int-poll-skip" | "int-send-skip" | "poll-skip" => Shown::Highest(8),
        _ => Shown::Lowest(CASES_SHOWN_MAX),
    }
}

/// `{"count": n, "errs": [...]}`, the cases chosen as Jepsen chooses them.
fn condense(error_type: &str, mut cases: Vec<Case>) -> (Value, Vec<Case>) {
    let count = cases.len();
    let sorts = !matches!(shown(error_type), Shown::Lowest(CASES_SHOWN_MAX));
    if sorts {
        cases.sort_by_key(|c| c.sort);
    }
    let chosen: Vec<Case> = match shown(error_type) {
        Shown::Lowest(n) => cases.into_iter().take(n).collect(),
        Shown::Highest(n) => {
            let skip = count.saturating_sub(n);
            cases.into_iter().skip(skip).collect()
        }
    };
    let errs: Vec<Value> = chosen.iter().map(|c| c.details.clone()).collect();
    (json!({"count": count, "errs": errs}), chosen)
}

/// The kafka checker's section of results.json: Jepsen's condensed output
/// (each error type under its name), then lightcone's counts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    /// Error type -> `{"count", "errs"}` (`unseen`: its final tally;
    /// `empty-transaction-graph`: `true`), as Jepsen's `condense-error`.
    #[serde(flatten)]
    pub errors: BTreeMap<&'static str, Value>,
    pub error_types: Vec<&'static str>,
    /// The error types that invalidate the history.
    pub bad_error_types: Vec<&'static str>,
    pub info_txn_causes: Value,
    pub worst_realtime_lag: Value,
    /// Findings that never invalidate a history.
    pub information: Information,
    pub committed_offsets_regress_count: usize,
    pub send_count: usize,
    pub poll_count: usize,
    pub key_count: usize,
    pub malformed_count: usize,
}

/// What lightcone reports for information only.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Information {
    /// Committed offsets listed lower than acknowledged ones.
    pub committed_offsets_regress: Value,
}

/// Checks a kafka history; see the module docs.
pub fn check(history: &History) -> CheckResult<Details> {
    let parsed = ops::parse(history);
    let ix = orders::Indexes::build(&parsed);
    let processes = anomalies::by_process(&parsed);
    let errors = find_errors(&parsed, &ix, &processes);
    let error_types: Vec<&'static str> = errors.keys().copied().collect();
    let Reported {
        shown,
        mut problems,
        beyond,
        bad_types,
    } = report(errors);
    let details = details(&parsed, &processes, shown, error_types, bad_types.clone());

    let mut valid = if bad_types.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    // Jepsen's analysis throws on a message with no writer.
    let mut maelstrom_valid = if beyond.is_empty() {
        valid
    } else {
        Validity::Unknown
    };
    if let Some(&first) = parsed.malformed.first() {
        valid = valid.merge(Validity::Unknown);
        maelstrom_valid = maelstrom_valid.merge(Validity::Unknown);
        let op = &history.ops[first];
        problems.push(format!(
            "{} completed with a value of an unexpected shape, e.g. {} by process {} (op {}); \
             they were left out",
            plural(parsed.malformed.len(), "operation"),
            op.value,
            op.process,
            op.index
        ));
    }
    CheckResult::new(valid, problems, details).beyond_maelstrom(maelstrom_valid, beyond)
}

/// Every error type found, with its cases, by name (the types Jepsen's
/// kafka checker reports; those without cases are left out).
fn find_errors(
    parsed: &ops::Parsed<'_>,
    ix: &orders::Indexes,
    processes: &BTreeMap<Process, Vec<usize>>,
) -> BTreeMap<&'static str, Vec<Case>> {
    let mut errors: BTreeMap<&'static str, Vec<Case>> = BTreeMap::new();
    let mut add = |name: &'static str, cases: Vec<Case>| {
        if !cases.is_empty() {
            errors.insert(name, cases);
        }
    };
    add("duplicate", anomalies::duplicates(parsed, ix));
    let internal_polls = anomalies::internal_steps(parsed, ix, false);
    add("int-poll-skip", internal_polls.skip);
    add("int-nonmonotonic-poll", internal_polls.nonmonotonic);
    let internal_sends = anomalies::internal_steps(parsed, ix, true);
    add("int-send-skip", internal_sends.skip);
    add("int-nonmonotonic-send", internal_sends.nonmonotonic);
    add(
        "inconsistent-offsets",
        anomalies::inconsistent_offsets(parsed, ix),
    );
    add("precommitted-read", anomalies::precommitted_reads(parsed));
    add("G1a", anomalies::aborted_reads(parsed, ix));
    add("lost-write", anomalies::lost_writes(parsed, ix));
    let external = anomalies::external_polls(parsed, ix, processes);
    add("nonmonotonic-poll", external.nonmonotonic);
    add(
        "nonmonotonic-send",
        anomalies::nonmonotonic_sends(parsed, ix, processes),
    );
    add("poll-skip", external.skip);
    add(
        "unseen",
        anomalies::unseen(parsed, ix).into_iter().collect(),
    );
    let unsent = anomalies::unsent_reads(parsed, ix);
    let cycles = cycles::cycles(parsed, ix);
    add("G1c", cycles.g1c);
    add("G1c-realtime", cycles.g1c_realtime);
    add("unsent-read", unsent);
    if cycles.empty_graph {
        add(
            "empty-transaction-graph",
            vec![Case {
                sort: 0,
                details: Value::Bool(true),
                sentence: "no send or poll was related to any other (Elle's \
                           empty-transaction-graph): nothing could be checked, which Jepsen's \
                           kafka checker counts as an error"
                    .to_string(),
            }],
        );
    }
    errors
}

/// The error types as results.json shows them, and the problem sentences.
struct Reported {
    /// Error type -> its condensed cases.
    shown: BTreeMap<&'static str, Value>,
    problems: Vec<String>,
    /// The problems Maelstrom would not report.
    beyond: Vec<String>,
    /// The error types that invalidate the history.
    bad_types: Vec<&'static str>,
}

/// Condenses each error type's cases as Jepsen does, and writes one
/// sentence (its count and first case) per type that invalidates.
fn report(errors: BTreeMap<&'static str, Vec<Case>>) -> Reported {
    let mut reported = Reported {
        shown: BTreeMap::new(),
        problems: Vec::new(),
        beyond: Vec::new(),
        bad_types: Vec::new(),
    };
    for (name, cases) in errors {
        let total = cases.len();
        // Unseen and the empty graph are one finding each, shown whole.
        let (value, first) = match name {
            "unseen" | "empty-transaction-graph" => {
                let case = cases.into_iter().next().expect("a listed type has a case");
                (case.details, case.sentence)
            }
            _ => {
                let (value, chosen) = condense(name, cases);
                let first = chosen.into_iter().next().expect("a listed type has a case");
                (value, first.sentence)
            }
        };
        reported.shown.insert(name, value);
        if ALLOWED.contains(&name) {
            continue;
        }
        reported.bad_types.push(name);
        let sentence = if total == 1 {
            format!("{name}: {first}")
        } else {
            format!("{name}: {}, e.g. {first}", plural(total, "case"))
        };
        if name == "unsent-read" {
            reported.beyond.push(sentence.clone());
        }
        reported.problems.push(sentence);
    }
    reported
}

/// The checker's details: the condensed errors, then lightcone's own
/// counts and information.
fn details(
    parsed: &ops::Parsed<'_>,
    processes: &BTreeMap<Process, Vec<usize>>,
    shown: BTreeMap<&'static str, Value>,
    error_types: Vec<&'static str>,
    bad_types: Vec<&'static str>,
) -> Details {
    let regress = anomalies::committed_offsets_regress(parsed, processes);
    let regress_count = regress.len();
    let (regress_json, _) = condense("committed-offsets-regress", regress);
    let count = |func: ops::Func| {
        parsed
            .ops
            .iter()
            .filter(|op| op.func == func && op.kind == OpType::Ok)
            .count()
    };
    Details {
        errors: shown,
        error_types,
        bad_error_types: bad_types,
        info_txn_causes: info_txn_causes(&parsed.ops),
        worst_realtime_lag: lag::worst_realtime_lag(parsed),
        information: Information {
            committed_offsets_regress: regress_json,
        },
        committed_offsets_regress_count: regress_count,
        send_count: count(ops::Func::Send),
        poll_count: count(ops::Func::Poll),
        key_count: parsed.keys.len(),
        malformed_count: parsed.malformed.len(),
    }
}

/// Jepsen's `info-txn-causes`: the distinct errors of indeterminate sends,
/// polls and transactions, in order of first appearance (the first 32).
fn info_txn_causes(ops: &[ops::KOp]) -> Value {
    let mut seen = std::collections::BTreeSet::new();
    let mut causes: Vec<&Value> = Vec::new();
    for op in ops {
        if op.kind != OpType::Info || !op.func.is_txn_like() {
            continue;
        }
        if let Some(error) = op.error {
            if seen.insert(error.to_string()) && causes.len() < CASES_SHOWN_MAX {
                causes.push(error);
            }
        }
    }
    json!(causes)
}
