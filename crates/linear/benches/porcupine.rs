//! Times the linearizability checker on Porcupine's test histories
//! (../shared/data/porcupine, next to the workspace; `LIGHTCONE_PORCUPINE`
//! names another folder), next to what Porcupine itself takes on them
//! (that folder's README): all 102 etcd histories, and the kv histories
//! split per key and, for c10, unsplit (one partition whose state is the
//! map of every key, as Porcupine's `kvNoPartitionModel`).
//!
//! `cargo bench -p lightcone-linear --bench porcupine`. Each history is
//! read once; each check runs until about a second has passed (at least 3
//! and at most 200 times) and the best and median times are printed, with
//! the verdict, which must be the one expected.tsv lists. Each check is
//! stopped after 60 s (the stop flag, as a caller's time limit would).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lightcone_check::Validity;
use lightcone_history::{formats, History};
use lightcone_linear::{model_by_name, LinearOptions, LinearResult};

mod common;

fn data_dir() -> PathBuf {
    std::env::var_os("LIGHTCONE_PORCUPINE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/porcupine"),
        PathBuf::from,
    )
}

fn read(path: &Path) -> History {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    formats::read_auto(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .0
}

/// Checks `h`, stopped after 60 s.
fn timed_check(h: &History, model: &str, split: bool) -> (LinearResult, f64) {
    let model = model_by_name(model, None).expect("a built-in model");
    let mut options = LinearOptions::default();
    options.split = split;
    common::timed_check(h, model.as_ref(), options)
}

/// Runs `run` (which returns the milliseconds it took) about a second's
/// worth of times: (best, median) ms.
fn repeat(mut run: impl FnMut() -> f64) -> (f64, f64) {
    let mut times = vec![run()];
    let mut total = times[0];
    while (times.len() < 3 || total < 1_000.0) && times.len() < 200 {
        let t = run();
        total += t;
        times.push(t);
    }
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2])
}

fn verdict(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "true",
        Validity::Invalid => "false",
        Validity::Unknown => "unknown",
    }
}

fn main() {
    let dir = data_dir();
    let Ok(expected_text) = std::fs::read_to_string(dir.join("expected.tsv")) else {
        println!(
            "SKIPPED: {} is absent; this benchmark needs Porcupine's histories",
            dir.display()
        );
        return;
    };
    let expected: BTreeMap<String, String> = expected_text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols.len() == 3).then(|| (cols[0].to_string(), cols[2].to_string()))
        })
        .collect();
    let mut wrong = 0;
    let mut check = |file: &str, verdict_got: Validity| {
        let want = expected.get(file).map_or("?", String::as_str);
        if verdict(verdict_got) != want {
            wrong += 1;
            println!(
                "WRONG VERDICT: {file}: {} (expected {want})",
                verdict(verdict_got)
            );
        }
    };

    println!(
        "{:<28} {:>8} {:>10} {:>10} {:>12}",
        "history", "verdict", "best ms", "median ms", "porcupine ms"
    );

    // All etcd histories, one after the other, as Porcupine's benchmark.
    let etcd: Vec<(String, History)> = expected
        .keys()
        .filter(|f| f.starts_with("jepsen/"))
        .map(|f| (f.clone(), read(&dir.join(f))))
        .collect();
    let mut slowest: Vec<(f64, String)> = Vec::new();
    let (best, median) = repeat(|| {
        let mut total = 0.0;
        slowest.clear();
        for (file, h) in &etcd {
            let (r, ms) = timed_check(h, "cas-register", true);
            check(file, r.valid);
            total += ms;
            slowest.push((ms, file.clone()));
        }
        total
    });
    println!(
        "{:<28} {:>8} {:>10.2} {:>10.2} {:>12}",
        format!("etcd: all {}", etcd.len()),
        "-",
        best,
        median,
        "740"
    );
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (ms, file) in slowest.iter().take(3) {
        println!("  slowest (last run): {file} {ms:.2} ms");
    }

    let porcupine: BTreeMap<&str, &str> = [
        ("kv/c50-ok.txt", "212"),
        ("kv/c50-bad.txt", "47"),
        ("kv/c10-ok.txt", "0.93"),
        ("kv/c10-bad.txt", "-"),
        ("kv/c10-ok.txt unsplit", "3600"),
        ("kv/c10-bad.txt unsplit", "4200"),
    ]
    .into_iter()
    .collect();
    for (file, split) in [
        ("kv/c50-ok.txt", true),
        ("kv/c50-bad.txt", true),
        ("kv/c10-ok.txt", true),
        ("kv/c10-bad.txt", true),
        ("kv/c10-ok.txt", false),
        ("kv/c10-bad.txt", false),
    ] {
        let h = read(&dir.join(file));
        let mut got = Validity::Unknown;
        let (best, median) = repeat(|| {
            let (r, ms) = timed_check(&h, "kv", split);
            got = r.valid;
            ms
        });
        check(file, got);
        let name = if split {
            file.to_string()
        } else {
            format!("{file} unsplit")
        };
        println!(
            "{:<28} {:>8} {:>10.2} {:>10.2} {:>12}",
            name,
            verdict(got),
            best,
            median,
            porcupine.get(name.as_str()).copied().unwrap_or("-")
        );
    }
    if wrong > 0 {
        println!("{wrong} wrong verdicts");
        std::process::exit(1);
    }
}
