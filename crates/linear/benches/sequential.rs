//! Times the sequential consistency checker on Porcupine's 103 Jepsen etcd
//! histories (../shared/data/porcupine/jepsen, next to the workspace;
//! `LIGHTCONE_PORCUPINE` names another folder), each checked once with
//! the default options, stopped after 60 s (the stop flag, as a caller's
//! time limit would). Prints each file's verdict, how it was decided, the
//! configurations searched and the time, then the totals; then the same
//! for Porcupine's kv histories.
//!
//! `cargo bench -p lightcone-linear --bench sequential` (add `--
//! --search-only` to skip the linearizability check and the pre-passes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use lightcone_check::Validity;
use lightcone_history::{formats, History};
use lightcone_linear::{check_sequential, model_by_name, SequentialOptions, SequentialResult};

fn data_dir() -> PathBuf {
    std::env::var_os("LIGHTCONE_PORCUPINE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/porcupine"),
        PathBuf::from,
    )
}

/// The history in `path`; an empty file (etcd_095) is the empty history.
fn read(path: &Path) -> History {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if text.trim().is_empty() {
        return History::default();
    }
    formats::read_auto(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .0
}

/// Checks `h` against `model`, stopped after 60 s: the result and the
/// time in ms.
#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
fn timed_check(
    h: &History,
    model: &str,
    mut options: SequentialOptions,
) -> (SequentialResult, f64) {
    let model = model_by_name(model, None).expect("a built-in model");
    let stop = Arc::new(AtomicBool::new(false));
    options.stop = Some(stop.clone());
    let (done, finished) = mpsc::channel::<()>();
    let timer = std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(60)).is_err() {
            stop.store(true, Ordering::Relaxed);
        }
    });
    let start = Instant::now();
    let r = check_sequential(h, model.as_ref(), &options);
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let _ = done.send(());
    timer.join().expect("the timer thread does not panic");
    (r, ms)
}

fn verdict(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

fn main() {
    let dir = data_dir().join("jepsen");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!(
            "SKIPPED: {} is absent; this benchmark needs Porcupine's histories",
            dir.display()
        );
        return;
    };
    let search_only = std::env::args().any(|a| a == "--search-only");
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("etcd_") && n.ends_with(".log"))
        })
        .collect();
    files.sort();
    let expected: BTreeMap<String, String> =
        std::fs::read_to_string(data_dir().join("expected.tsv"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let cols: Vec<&str> = line.split('\t').collect();
                (cols.len() == 3).then(|| (cols[0].to_string(), cols[2].to_string()))
            })
            .collect();
    println!(
        "{:<16} {:>11} {:>8} {:>13} {:>10} {:>10}",
        "history", "linearizable", "SC", "method", "configs", "ms"
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut total_ms = 0.0;
    let mut slowest: Vec<(f64, String)> = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let h = read(path);
        let mut options = SequentialOptions::default();
        options.search_only = search_only;
        let (r, ms) = timed_check(&h, "cas-register", options);
        total_ms += ms;
        *counts.entry(verdict(r.valid)).or_default() += 1;
        slowest.push((ms, name.clone()));
        let lin = expected
            .get(&format!("jepsen/{name}"))
            .map_or("-", String::as_str);
        println!(
            "{:<16} {:>11} {:>8} {:>13} {:>10} {:>10.2}{}",
            name,
            lin,
            verdict(r.valid),
            r.method.as_str(),
            r.configs,
            ms,
            r.reason.map(|x| format!("  ({x})")).unwrap_or_default()
        );
    }
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!(
        "{} files: {} valid, {} invalid, {} unknown; total {:.1} ms",
        files.len(),
        counts.get("valid").unwrap_or(&0),
        counts.get("invalid").unwrap_or(&0),
        counts.get("unknown").unwrap_or(&0),
        total_ms
    );
    for (ms, file) in slowest.iter().take(3) {
        println!("  slowest: {file} {ms:.2} ms");
    }

    // Porcupine's kv histories (per key, then as a whole).
    for file in [
        "c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad",
    ] {
        let path = data_dir().join(format!("kv/{file}.txt"));
        if !path.exists() {
            continue;
        }
        let h = read(&path);
        let mut options = SequentialOptions::default();
        options.search_only = search_only;
        let (r, ms) = timed_check(&h, "kv", options);
        let lin = expected
            .get(&format!("kv/{file}.txt"))
            .map_or("-", String::as_str);
        println!(
            "kv/{:<13} {:>11} {:>8} {:>13} {:>10} {:>10.2}{}",
            file,
            lin,
            verdict(r.valid),
            r.method.as_str(),
            r.configs,
            ms,
            r.reason.map(|x| format!("  ({x})")).unwrap_or_default()
        );
    }
}
