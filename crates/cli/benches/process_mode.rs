//! Whole-run benchmarks of process mode (a bench binary, not criterion: each
//! sample is a full `lightcone test` run of many seconds).
//!
//! `cargo bench -p lightcone --bench process_mode` prints:
//! * how many messages per second the workbench routes when echo clients
//!   flood five echo nodes (every client always has a request outstanding);
//! * the wall time of the 25-node broadcast run against its --time-limit,
//!   and the workbench's own CPU time and peak memory during it;
//! * the Raft lin-kv node's latency at rising request rates with
//!   `--latency 10`, and the highest rate whose p99 stays under 100 ms;
//! * at scale (broadcast, 25 nodes at rate 1000 and 100 nodes at rate
//!   100): the workbench's CPU, share of a core, peak memory, messages
//!   routed per second and the time a message spends inside it (results.json's
//!   `workbench` section), against the targets of under 1 ms p99 and under
//!   25% of a core at 25 nodes and rate 1000.
//!
//! `cargo bench -p lightcone --bench process_mode -- lin-kv` runs only the
//! lin-kv part (and `-- echo`, `-- broadcast`, `-- scale` the others).

use std::process::{Command, Stdio};

use serde_json::Value;

fn run(args: &[&str]) -> Value {
    run_with_history(args).0
}

/// A run's results and the latency in ms of each operation that got an
/// answer (ok, or a definite fail such as a cas whose compare failed).
fn run_with_history(args: &[&str]) -> (Value, Vec<f64>) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_lightcone"))
        .arg("test")
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "lightcone test {args:?} exited with {status}"
    );
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(dir.path().join("store/latest").join(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    // More wall-clock figures live in workbench.json, beside results.json
    // (whose own `workbench` section is the process mode's cost).
    let mut results = read("results.json");
    results["workbench-json"] = read("workbench.json");
    let history = std::fs::read_to_string(dir.path().join("store/latest/history.jsonl")).unwrap();
    (results, ok_latencies_ms(&history))
}

/// Invocation-to-completion times of the answered client operations.
fn ok_latencies_ms(history: &str) -> Vec<f64> {
    let mut invoked: std::collections::BTreeMap<u64, u64> = Default::default();
    let mut latencies = Vec::new();
    for line in history.lines() {
        let op: Value = serde_json::from_str(line).unwrap();
        let (Some(process), Some(time)) = (op["process"].as_u64(), op["time"].as_u64()) else {
            continue; // the nemesis
        };
        match op["type"].as_str() {
            Some("invoke") => {
                invoked.insert(process, time);
            }
            Some("ok") | Some("fail") => {
                if let Some(start) = invoked.remove(&process) {
                    latencies.push((time - start) as f64 / 1e6);
                }
            }
            _ => {
                invoked.remove(&process);
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument picks one part.
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if wanted("echo") {
        echo_flood();
    }
    if wanted("broadcast") {
        broadcast();
    }
    if wanted("lin-kv") {
        lin_kv_latency();
    }
    if wanted("scale") {
        scale();
    }
}

/// Broadcast at scale: what the workbench costs, and how long messages
/// spend inside it (results.json's `workbench` section).
fn scale() {
    for (nodes, rate) in [("25", "1000"), ("100", "100")] {
        let args = [
            "-w",
            "broadcast",
            "--node-count",
            nodes,
            "--time-limit",
            "20",
            "--rate",
            rate,
            "--latency",
            "100",
        ];
        let r = run(&args);
        let w = &r["workbench"];
        let m = &w["message-latency-ms"];
        let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        println!("scale: lightcone test {}", args.join(" "));
        println!(
            "  workbench CPU {:.2} s, share of a core {:.2} (main phase {:.2}), peak RSS {:.0} MB, {:.0} messages/s routed",
            f(&w["cpu-s"]),
            f(&w["cpu-share"]),
            f(&w["main-cpu-share"]),
            f(&w["peak-rss-bytes"]) / (1024.0 * 1024.0),
            f(&w["routed-per-s"]),
        );
        println!(
            "  inside the workbench, ms: p50 {:.3}, p99 {:.3}, max {:.1} ({} messages); p99 by stage: reader queue {:.3}, handling {:.3}, lateness {:.3}, writer queue {:.3}",
            f(&m["0.5"]),
            f(&m["0.99"]),
            f(&m["1"]),
            m["count"],
            f(&m["reader-queue"]["0.99"]),
            f(&m["handling"]["0.99"]),
            f(&m["lateness"]["0.99"]),
            f(&m["writer-queue"]["0.99"]),
        );
    }
}

/// The Raft lin-kv node, 5 nodes, `--latency 10`: p50 / p99 of ok
/// operations as the offered rate doubles, until p99 passes 100 ms.
fn lin_kv_latency() {
    println!("lin-kv (Raft), 5 nodes, --latency 10, 20 s per rate, 10n clients:");
    let mut best = None;
    for rate in [50, 100, 200, 400, 800, 1600, 3200] {
        let rate_text = rate.to_string();
        let args = [
            "-w",
            "lin-kv",
            "--node-count",
            "5",
            "--concurrency",
            "10n",
            "--latency",
            "10",
            "--time-limit",
            "20",
            "--rate",
            &rate_text,
        ];
        let (r, latencies) = run_with_history(&args);
        let secs = 20.0;
        let answered = latencies.len() as f64 / secs;
        let (p50, p99) = (quantile(&latencies, 0.5), quantile(&latencies, 0.99));
        println!(
            "  --rate {rate:>5}: {answered:>6.0} answered ops/s ({:.0} ok), latency p50 {p50:.1} ms, p99 {p99:.1} ms; valid {}",
            r["stats"]["ok-count"].as_f64().unwrap_or(0.0) / secs,
            r["valid"]
        );
        if p99 < 100.0 {
            best = Some((rate, answered));
        } else {
            break;
        }
    }
    match best {
        Some((rate, answered)) => println!(
            "  highest rate with p99 under 100 ms: --rate {rate} ({answered:.0} answered ops/s)"
        ),
        None => println!("  p99 was over 100 ms at every rate"),
    }
}

fn echo_flood() {
    let flood = [
        "-w",
        "echo",
        "--node-count",
        "5",
        "--concurrency",
        "100",
        "--rate",
        "1000000",
        "--time-limit",
        "10",
    ];
    let r = run(&flood);
    let secs = r["workbench"]["duration-s"].as_f64().unwrap();
    let msgs = r["net"]["all"]["msg-count"].as_f64().unwrap();
    println!("echo flood: lightcone test {}", flood.join(" "));
    println!(
        "  {:.0} messages/s routed ({} ops in {secs:.1} s); workbench CPU {:.1} s, peak RSS {:.0} MB",
        msgs / secs,
        r["stats"]["ok-count"],
        r["workbench"]["cpu-s"].as_f64().unwrap(),
        r["workbench-json"]["peak-rss-mb"].as_f64().unwrap(),
    );
}

fn broadcast() {
    let broadcast = [
        "-w",
        "broadcast",
        "--node-count",
        "25",
        "--time-limit",
        "20",
        "--rate",
        "100",
        "--latency",
        "100",
    ];
    let r = run(&broadcast);
    println!(
        "broadcast, 25 nodes: lightcone test {}",
        broadcast.join(" ")
    );
    println!(
        "  wall {:.2} s for --time-limit 20 plus the 10 s recovery wait; workbench CPU {:.2} s, peak RSS {:.0} MB",
        r["workbench"]["duration-s"].as_f64().unwrap(),
        r["workbench"]["cpu-s"].as_f64().unwrap(),
        r["workbench-json"]["peak-rss-mb"].as_f64().unwrap(),
    );
    println!(
        "  servers msgs-per-op {:.2}; stable latency ms: median {}, max {}",
        r["net"]["servers"]["msgs-per-op"].as_f64().unwrap(),
        r["workload"]["stable-latencies"]["0.5"],
        r["workload"]["stable-latencies"]["1"],
    );
}
