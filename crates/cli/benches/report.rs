//! report.html: what writing the page costs against the run it draws.
//!
//! `cargo bench -p lightcone --bench report`
//!
//! For each run below (simulated broadcast, recording up to 100,000
//! messages as `lightcone test` does by default): the simulation and its
//! check once, then the page written to a buffered file 9 times; prints
//! the page's size, the median and best write time, and the write time as
//! a share of the run's own (simulation and check) time.

use std::io::Write as _;
use std::time::Instant;

// The lightcone binary's allocator.
#[path = "../src/alloc.rs"]
mod alloc;

use lightcone_core::{Test, TestConfig, NANOS_PER_SEC};
use lightcone_report::{render_to, ReportInput};
use lightcone_sdk::MemoryStorage;
use lightcone_sim::Simulation;

const WRITES: usize = 9;

fn main() {
    let dir = std::env::temp_dir().join(format!("lightcone-report-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (nodes, rate) in [(5usize, 100.0), (10, 450.0)] {
        let config = TestConfig {
            workload: "broadcast".into(),
            node_count: nodes,
            concurrency: nodes,
            rate,
            time_limit_ns: 60 * NANOS_PER_SEC,
            latency_ms: 100,
            message_log_max: 100_000,
            seed: 1,
            ..TestConfig::default()
        };
        let spec = lightcone_nodes::NodeSpec::parse("broadcast", &[]).unwrap();
        let factory =
            move |_: usize, seed: u64, storage: MemoryStorage| spec.build(seed, Box::new(storage));
        let began = Instant::now();
        let test = Test::new(config).unwrap();
        let (test, _, _) = Simulation::new(test, &factory).run(&mut |_| {});
        let checked = test.check();
        let run_s = began.elapsed().as_secs_f64();
        let log = test.message_log();
        let input = ReportInput {
            title: format!("broadcast, {nodes} nodes, rate {rate}"),
            verdict: checked.valid.to_string(),
            command_line: "cargo bench -p lightcone --bench report".into(),
            messages: Some(log),
            ..ReportInput::default()
        };
        let path = dir.join("report.html");
        let mut times: Vec<f64> = (0..WRITES)
            .map(|_| {
                let began = Instant::now();
                let mut file = std::io::BufWriter::with_capacity(
                    1 << 16,
                    std::fs::File::create(&path).unwrap(),
                );
                render_to(&input, test.history(), &mut file).unwrap();
                file.flush().unwrap();
                drop(file);
                began.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let size = std::fs::metadata(&path).unwrap().len();
        let median = times[WRITES / 2];
        println!(
            "broadcast, {nodes} nodes, rate {rate}, 60 s: {} messages, {} operations, page {:.1} MB; \
             written in {:.1} ms median, {:.1} ms best; run (simulation + check) {:.0} ms; \
             page / (run + page) = {:.1}% median",
            log.messages.len(),
            test.history().len() / 2,
            size as f64 / 1e6,
            median * 1e3,
            times[0] * 1e3,
            run_s * 1e3,
            median / (run_s + median) * 100.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
