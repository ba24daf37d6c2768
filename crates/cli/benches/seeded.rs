//! Foreign nodes under the seed against the same nodes on the real clock
//! (a bench binary: each sample is a whole `lightcone test`).
//!
//! `cargo bench -p lightcone --bench seeded` runs the 3-node Python lin-kv
//! node (`tests/nodes/cas_kv.py`, cas forwarded to the lin-kv service) at
//! rate 50 for 10 s of workload and prints, for each way of running it:
//! * `--sim --bin`, one seed at a time: wall time, events the workbench
//!   waited for the processes to go quiet after, events and messages per
//!   wall second, and the time to quiet;
//! * `--sim --bin --seeds 20`: seeds per minute on every core;
//! * process mode (`--bin` without `--sim`): wall time, messages per wall
//!   second, and the runs per minute one machine gets that way.
//!
//! Needs python3 (skipped, saying so, without it).

use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

const NODE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nodes/cas_kv.py");

fn common() -> Vec<&'static str> {
    vec![
        "test",
        "-w",
        "lin-kv",
        "--bin",
        NODE,
        "--node-count",
        "3",
        "--rate",
        "50",
        "--time-limit",
        "10",
        "--no-report",
    ]
}

/// Runs `lightcone ARGS -- atomic` in a fresh folder: wall seconds, stdout,
/// results.json and workbench.json.
fn run(extra: &[&str]) -> (f64, String, Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = common();
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "atomic"]);
    let began = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .args(&args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let wall = began.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "lightcone {args:?} exited with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| -> Value {
        std::fs::read_to_string(dir.path().join("store/latest").join(name))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    };
    (
        wall,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        read("results.json"),
        read("workbench.json"),
    )
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !python {
        println!("SKIPPED: python3 not found; this bench runs a Python node");
        return;
    }
    println!("3-node Python lin-kv node (cas_kv.py atomic), --rate 50 --time-limit 10:");

    let mut walls = Vec::new();
    let mut events = Vec::new();
    let mut msgs = Vec::new();
    let mut settle_p50 = Vec::new();
    for seed in 1..=5 {
        let (wall, _, results, workbench) = run(&["--sim", "--seed", &seed.to_string()]);
        let seeded = &workbench["seeded"];
        let settles = seeded["settle-count"].as_f64().unwrap_or(0.0);
        walls.push(wall);
        events.push(settles / wall);
        msgs.push(results["net"]["all"]["recv-count"].as_f64().unwrap_or(0.0) / wall);
        settle_p50.push(seeded["settle-ms"]["p50"].as_f64().unwrap_or(0.0));
        println!(
            "  --sim seed {seed}: {wall:.2} s wall, {settles:.0} events ({:.0}/s), {:.0} messages/s, quiet after median {:.2} ms, p99 {:.2} ms",
            settles / wall,
            results["net"]["all"]["recv-count"].as_f64().unwrap_or(0.0) / wall,
            seeded["settle-ms"]["p50"].as_f64().unwrap_or(0.0),
            seeded["settle-ms"]["p99"].as_f64().unwrap_or(0.0),
        );
    }
    println!(
        "  --sim, median of 5 seeds: {:.2} s wall per seed, {:.0} events/s, {:.0} messages/s, quiet after {:.2} ms",
        median(walls.clone()),
        median(events),
        median(msgs),
        median(settle_p50)
    );

    let (wall, stdout, _, _) = run(&["--sim", "--seeds", "20", "--no-shrink"]);
    let rate = stdout
        .lines()
        .find(|l| l.contains("seeds/min"))
        .unwrap_or("")
        .to_string();
    println!(
        "  --sim --seeds 20: {wall:.1} s wall, {:.0} seeds/min ({})",
        20.0 / wall * 60.0,
        rate.trim()
    );

    let mut process_walls = Vec::new();
    for seed in 1..=2 {
        let (wall, _, results, _) = run(&["--seed", &seed.to_string()]);
        let m = results["net"]["all"]["recv-count"].as_f64().unwrap_or(0.0);
        println!(
            "  process mode seed {seed}: {wall:.2} s wall, {m:.0} messages ({:.0}/s)",
            m / wall
        );
        process_walls.push(wall);
    }
    let process = median(process_walls);
    println!(
        "  process mode: {process:.1} s per run = {:.1} runs/min; --sim is {:.0}x faster per seed",
        60.0 / process,
        process / median(walls)
    );
}
