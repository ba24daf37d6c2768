//! Whole-run benchmarks of process mode (a bench binary, not criterion: each
//! sample is a full `lightcone test` run of many seconds).
//!
//! `cargo bench -p lightcone --bench process_mode` prints:
//! * how many messages per second the workbench routes when echo clients
//!   flood five echo nodes (every client always has a request outstanding);
//! * the wall time of the 25-node broadcast run against its --time-limit,
//!   and the workbench's own CPU time and peak memory during it.

use std::process::{Command, Stdio};

use serde_json::Value;

fn run(args: &[&str]) -> Value {
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
    // Wall-clock figures live in workbench.json, beside results.json.
    let mut results = read("results.json");
    results["workbench"] = read("workbench.json");
    results
}

fn main() {
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
        r["workbench"]["peak-rss-mb"].as_f64().unwrap(),
    );

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
        r["workbench"]["peak-rss-mb"].as_f64().unwrap(),
    );
    println!(
        "  servers msgs-per-op {:.2}; stable latency ms: median {}, max {}",
        r["net"]["servers"]["msgs-per-op"].as_f64().unwrap(),
        r["workload"]["stable-latencies"]["0.5"],
        r["workload"]["stable-latencies"]["1"],
    );
}
