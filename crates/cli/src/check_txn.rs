//! `lightcone check --model list-append|rw-register`: Elle's transactional
//! analysis of a recorded history, with Elle's names, `not` and `also-not`,
//! and `--out DIR` files like Elle's `<type>.txt`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lightcone_check::{CheckResult, Validity};
use lightcone_history::History;
use lightcone_txn::anomaly::Witness;
use lightcone_txn::{consistency, Details, TxnModel, TxnOptions};
use serde_json::json;

/// The transactional flags of `lightcone check`.
pub struct TxnFlags<'a> {
    pub consistency_models: Option<&'a str>,
    pub anomalies: Option<&'a str>,
    pub linearizable_keys: bool,
    pub sequential_keys: bool,
    pub no_wfr_keys: bool,
    pub search_budget: u64,
}

/// The checker's options from the flags; `Err` names the bad flag.
pub fn options(model: TxnModel, flags: &TxnFlags) -> Result<TxnOptions, String> {
    let mut options = TxnOptions::new(model);
    if let Some(list) = flags.consistency_models {
        options.consistency_models =
            consistency::parse_models(list).map_err(|e| format!("--consistency-models: {e}"))?;
    }
    if let Some(list) = flags.anomalies {
        options.anomalies =
            consistency::parse_anomalies(list).map_err(|e| format!("--anomalies: {e}"))?;
    }
    options.linearizable_keys = flags.linearizable_keys;
    options.sequential_keys = flags.sequential_keys;
    options.wfr_keys = !flags.no_wfr_keys;
    options.search_budget = flags.search_budget;
    Ok(options)
}

/// Checks one history, with a timer that stops the cycle searches when
/// the time limit runs out.
pub fn check(
    history: &History,
    mut options: TxnOptions,
    time_limit: Option<Duration>,
) -> (CheckResult<Details>, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    options.stop = Some(Arc::clone(&stop));
    if let Some(limit) = time_limit {
        // The checker never reads a clock: this thread tells it to stop.
        let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < limit {
                if done.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5).min(limit));
            }
            stop.store(true, Ordering::Relaxed);
        });
    }
    let start = Instant::now();
    let result = lightcone_txn::check(history, &options);
    let took = start.elapsed();
    done.store(true, Ordering::Relaxed);
    (result, took)
}

/// The text summary of one checked history.
pub fn print(path: &Path, result: &CheckResult<Details>, ms: f64) {
    let d = &result.details;
    // A history refused before analysis (a precondition failed) has no
    // transaction count to show.
    let txns = match d.error_type {
        Some(_) => String::new(),
        None => format!(", {} transactions", d.txn_count),
    };
    println!(
        "{}: {} ({} model{txns}, consistency models {}) in {ms:.2} ms",
        path.display(),
        result.valid.to_string().to_uppercase(),
        d.model,
        d.consistency_models.join(", "),
    );
    if !result.beyond_maelstrom.is_empty() && result.maelstrom_valid != result.valid {
        println!(
            "  Elle would say {}: lightcone is deliberately stricter here (the problems marked \
             \"beyond Elle\")",
            result.maelstrom_valid
        );
    }
    if let (Some(not), Some(also_not)) = (&d.not, &d.also_not) {
        println!("  not {}", names(not));
        if !also_not.is_empty() {
            println!("  also not {}", names(also_not));
        }
    }
    for problem in &result.problems {
        for (i, line) in problem.lines().enumerate() {
            match (i, line.is_empty()) {
                (_, true) => println!(),
                (0, false) => println!("  {line}"),
                _ => println!("    {line}"),
            }
        }
    }
}

fn names(set: &std::collections::BTreeSet<&str>) -> String {
    set.iter().copied().collect::<Vec<_>>().join(", ")
}

/// The JSON object of one checked history.
pub fn to_json(path: &Path, result: &CheckResult<Details>, ms: f64) -> serde_json::Value {
    let mut v = serde_json::to_value(result.section()).expect("details serialize");
    v["file"] = json!(path);
    v["problems"] = json!(result.problems);
    v["time-ms"] = json!(ms);
    v
}

/// Writes one file per reportable anomaly type into `dir`: cycles as
/// Elle's `<type>.txt` ("G1c #0\nLet: ..."), other anomalies as their
/// witnesses in JSON (`<type>.json`).
pub fn write_out(dir: &Path, result: &CheckResult<Details>) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("could not create --out folder {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for kind in &result.details.anomaly_types {
        let witnesses = result.details.anomalies_of(kind);
        let cycles: Vec<String> = witnesses
            .iter()
            .enumerate()
            .filter_map(|(i, w)| match w {
                Witness::Cycle(c) => Some(format!("{} #{i}\n{}", c.kind, c.text)),
                _ => None,
            })
            .collect();
        let (name, text) = if !cycles.is_empty() && cycles.len() == witnesses.len() {
            (format!("{kind}.txt"), cycles.join("\n\n\n"))
        } else {
            let json = serde_json::to_string_pretty(&result.details.anomalies.get(kind))
                .expect("witnesses serialize");
            (format!("{kind}.json"), json)
        };
        let path = dir.join(name);
        std::fs::write(&path, text + "\n")
            .map_err(|e| format!("could not write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Where a history's `--out` files go: `dir` itself for one history, a
/// folder per history (by position and name) for several.
pub fn out_dir(dir: &Path, path: &Path, position: usize, count: usize) -> PathBuf {
    if count == 1 {
        return dir.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stdin".into());
    dir.join(format!("{position}-{stem}"))
}

/// The verdict's exit code.
pub fn valid(result: &CheckResult<Details>) -> Validity {
    result.valid
}
