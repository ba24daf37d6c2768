//! results.json and workbench.json, the same in process and simulation
//! mode.
//!
//! results.json holds only what follows from the seed and the nodes'
//! behaviour, so two simulations of one seed write identical bytes;
//! wall-clock facts (duration, CPU, memory, the binary's path) go to
//! workbench.json.

use std::fs;
use std::path::{Path, PathBuf};

use lightcone_check::Validity;
use lightcone_core::Test;
use serde_json::{json, Map, Value};

use crate::report::{RunOutcome, RunReport};
use crate::run::write_err;
use crate::RunnerError;

/// Checks the history and writes both files. `nodes` holds per-node facts
/// of the mode (queues, restarts); the init_ok fields are added here.
pub(crate) fn write(
    test: &Test,
    dir: &Path,
    mut nodes: Map<String, Value>,
    malformed: Value,
    workbench: Value,
    outcome: RunOutcome,
    command_line: &str,
) -> Result<RunReport, RunnerError> {
    let checked = test.check();
    let mut results = checked.sections.clone();
    for (id, fields) in test.node_info() {
        if let Some(Value::Object(info)) = nodes.get_mut(id) {
            info.insert("init-ok".into(), Value::Object(fields.clone()));
        }
    }
    results.insert("nodes".into(), Value::Object(nodes));
    results.insert("malformed-lines".into(), malformed);
    results.insert(
        "malformed-reply-count".into(),
        json!(test.malformed_reply_count()),
    );
    results.insert("seed".into(), json!(test.config().seed));
    results.insert(
        "interrupted".into(),
        json!(matches!(outcome, RunOutcome::Interrupted)),
    );
    let (valid, maelstrom_valid) = match &outcome {
        RunOutcome::Aborted(message) => {
            results.insert("aborted".into(), json!(message));
            results.remove("maelstrom-valid");
            (Validity::Unknown, Validity::Unknown)
        }
        _ => (checked.valid, checked.maelstrom_valid),
    };
    results.insert("valid".into(), valid.to_json());
    let results = Value::Object(results);
    write_json(&dir.join("results.json"), &results)?;
    write_json(&dir.join("workbench.json"), &workbench)?;
    Ok(RunReport {
        dir: dir.to_path_buf(),
        valid,
        outcome,
        problems: checked.problems,
        maelstrom_valid,
        beyond_maelstrom: checked.beyond_maelstrom,
        results,
        workbench,
        command_line: command_line.to_string(),
    })
}

fn write_json(path: &PathBuf, value: &Value) -> Result<(), RunnerError> {
    let text = serde_json::to_string_pretty(value).expect("results serialize");
    fs::write(path, text + "\n").map_err(write_err(path))
}
