//! The memory a test will need, estimated before it starts, so that a run
//! that cannot fit (`--rate 100000 --time-limit 3600` keeps 360 million
//! operations) is refused with the figure instead of being killed hours
//! later.
//!
//! The estimate is the workbench's own memory: the history and the test's
//! state per operation, the clients, the nodes, and the messages kept for
//! report.html. Its figures were measured as the peak RSS of simulated runs
//! (`/usr/bin/time -f %M lightcone test --sim ...`, lightcone's reference
//! nodes, 5 nodes unless said) at two sizes each, the cost per operation
//! taken from the difference:
//!
//! | what | measured | figure |
//! | --- | --- | --- |
//! | a run that does nothing | 1 node, 1 op: 22 MB | 23 MB |
//! | echo | 30,000 and 300,000 ops: 42 and 208 MB | 613 B per op |
//! | unique-ids, g-counter, pn-counter | 10,000 and 60,000 ops | 507, 368, 435 B per op |
//! | lin-kv, kafka | 10,000 and 60,000 ops | 1,335, 1,771 B per op |
//! | broadcast, g-set | 4,000 and 16,000 ops: 30 and 66 MB (broadcast), 34 and 67 MB (g-set) | 2,300 B per op (reads are recorded in their compact form; as arrays, each holding every element so far, they took 4.6 B x ops²) |
//! | txn-* with the reference transactor | 10,000, 40,000, 60,000 ops: 0.29, 2.4, 4.75 GB | 16,000 B per op + 1.1 B x ops² (its database map in lww-kv grows with every key) |
//! | txn-* with another node | `lightcone check` of 40,000 txns: 128 MB | 2,500 B per op |
//! | nodes | echo, 1,000 to 10,000 nodes: 86 MB to 5.1 GB | 50 B x nodes² (every init lists every node) |
//! | broadcast topology | total, 100 and 200 nodes: 66 and 381 MB | 45 B per neighbour entry, one copy per node |
//! | clients | 100,000 clients: 72 MB | 480 B per client |
//! | report.html's messages | 100,000 messages: 20 MB | 200 B per message |
//!
//! Process mode measured the same per operation (echo: 563 B per op in
//! the workbench, whose nodes are other processes). Operations are
//! `--rate x --time-limit`, the most the generator makes. Checked on runs
//! the figures were not taken from: echo with 1 million operations
//! measured 529 MB (estimate 656 MB), txn-rw-register with 25,000 1.1 GB
//! (1.1 GB), echo with 2,000 nodes 216 MB (225 MB); small runs with many
//! nodes measured up to twice their estimate of tens of MB (report.html's
//! drawing, not counted). The estimate is for refusing runs that cannot
//! fit, not for planning to the megabyte.

use lightcone_core::{TestConfig, NANOS_PER_SEC};
use lightcone_workload::Topology;

/// One gigabyte, as memory figures print it.
const GB: f64 = 1e9;
/// What a run that does nothing takes.
const BASE_BYTES: f64 = 23e6;
/// Per node, times the node count (init lists every node to every node).
const NODE_PAIR_BYTES: f64 = 50.0;
const CLIENT_BYTES: f64 = 480.0;
/// Per neighbour entry of the broadcast topology, per node it is sent to.
const TOPOLOGY_ENTRY_BYTES: f64 = 45.0;
/// Per message recorded for report.html.
const LOGGED_MESSAGE_BYTES: f64 = 200.0;

/// What a run is estimated to need.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub bytes: f64,
    /// The operations the estimate counts (`--rate x --time-limit`).
    pub op_count: f64,
    /// The parts, largest first: bytes, what they are for, and the flags
    /// that make them smaller.
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
struct Part {
    bytes: f64,
    what: String,
    lower: &'static str,
}

/// Bytes per operation and per operation squared, by workload.
/// `reference_node`: the node is lightcone's own (its kv-service use is
/// known).
fn per_op(workload: &str, reference_node: bool) -> (f64, f64) {
    match workload {
        "echo" => (613.0, 0.0),
        "unique-ids" => (507.0, 0.0),
        "g-counter" => (368.0, 0.0),
        "pn-counter" => (435.0, 0.0),
        "lin-kv" => (1335.0, 0.0),
        "kafka" => (1771.0, 0.0),
        "broadcast" | "g-set" => (2300.0, 0.0),
        "txn-list-append" | "txn-rw-register" if reference_node => (16_000.0, 1.1),
        "txn-list-append" | "txn-rw-register" => (2500.0, 0.0),
        // A workload measured later: the costliest linear figure.
        _ => (2500.0, 0.0),
    }
}

/// Neighbour entries of a broadcast topology over `n` nodes.
fn topology_entries(topology: Topology, n: f64) -> f64 {
    match topology {
        Topology::Total => n * (n - 1.0),
        // Each node of a square grid has up to 4 neighbours.
        Topology::Grid => 4.0 * n,
        // Every edge listed from both ends.
        Topology::Line | Topology::Tree(_) => 2.0 * (n - 1.0),
    }
}

/// The memory `config` is estimated to need; `reference_node` says the
/// nodes are lightcone's own.
pub fn estimate(config: &TestConfig, reference_node: bool) -> Estimate {
    let op_count = config.rate * config.time_limit_ns as f64 / NANOS_PER_SEC as f64;
    let nodes = config.node_ids().len() as f64;
    let (linear, square) = per_op(&config.workload, reference_node);
    let part = |bytes, what, lower| Part { bytes, what, lower };
    let mut parts = vec![
        part(
            op_count * linear + op_count * op_count * square,
            format!(
                "{op_count:.0} operations (--rate {} x --time-limit {} s) at {}",
                config.rate,
                crate::flags::format_seconds(config.time_limit_ns),
                if square > 0.0 {
                    format!(
                        "{linear} B each and {square} B x operations² ({})",
                        config.workload
                    )
                } else {
                    format!("{linear} B each ({})", config.workload)
                }
            ),
            "--rate or --time-limit",
        ),
        part(
            nodes * nodes * NODE_PAIR_BYTES,
            format!("{nodes} nodes ({NODE_PAIR_BYTES} B x nodes²)"),
            "the node count",
        ),
        part(
            config.concurrency as f64 * CLIENT_BYTES,
            format!("{} clients", config.concurrency),
            "--concurrency",
        ),
    ];
    if config.workload == "broadcast" {
        parts.push(part(
            nodes * topology_entries(config.topology, nodes) * TOPOLOGY_ENTRY_BYTES,
            format!("the {} topology, sent to every node", config.topology),
            "the node count, or use a sparser --topology",
        ));
    }
    // Every operation is at least a request and a reply.
    let logged = (config.message_log_max as f64).min(2.0 * op_count);
    parts.push(part(
        logged * LOGGED_MESSAGE_BYTES,
        format!("{logged:.0} messages kept for report.html"),
        "--message-log-max",
    ));
    parts.sort_by(|a, b| b.bytes.total_cmp(&a.bytes));
    Estimate {
        bytes: BASE_BYTES + parts.iter().map(|p| p.bytes).sum::<f64>(),
        op_count,
        parts,
    }
}

/// This machine's memory (MemTotal), if it can be read.
pub fn machine_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// `--memory-max`: a positive number of gigabytes.
pub fn parse_gb(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(gb) if gb.is_finite() && gb > 0.0 => Ok(gb),
        _ => Err("use a positive number of gigabytes, such as 8 or 0.5".into()),
    }
}

/// Refuses a run estimated to need more than `limit_bytes` (`runs` at
/// once: a sweep's threads), with the figure, its largest parts, what
/// makes the largest smaller and the flag to go ahead; `limit_from` says
/// where the limit came from.
pub fn check(
    estimate: &Estimate,
    runs: usize,
    limit_bytes: f64,
    limit_from: &str,
) -> Result<(), String> {
    let need = estimate.bytes * runs as f64;
    if need <= limit_bytes {
        return Ok(());
    }
    // The largest part, and the next ones that matter.
    let shown: Vec<&Part> = estimate
        .parts
        .iter()
        .enumerate()
        .filter(|(i, p)| *i == 0 || (*i < 3 && p.bytes >= 0.05 * estimate.bytes))
        .map(|(_, p)| p)
        .collect();
    let parts: Vec<String> = shown
        .iter()
        .map(|p| format!("{} for {}", gb(p.bytes), p.what))
        .collect();
    let at_once = if runs > 1 {
        format!(" ({runs} simulations at once, {} each)", gb(estimate.bytes))
    } else {
        String::new()
    };
    let fix = if shown[0].bytes < BASE_BYTES {
        format!("a run takes at least {}", gb(BASE_BYTES))
    } else {
        format!("lower {}", shown[0].lower)
    };
    Err(format!(
        "this run would need about {}{at_once} of memory, more than {limit_from} ({}): {}; \
         {fix}, or pass --memory-max {} to run it anyway",
        gb(need),
        gb(limit_bytes),
        parts.join(", "),
        (need / GB).ceil().max(1.0)
    ))
}

/// Bytes as gigabytes to a tenth, or below 1 GB as megabytes.
fn gb(bytes: f64) -> String {
    if bytes < GB {
        format!("{:.0} MB", bytes / 1e6)
    } else {
        format!("{:.1} GB", bytes / GB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(workload: &str, rate: f64, time_limit_s: u64, nodes: usize) -> TestConfig {
        TestConfig {
            workload: workload.into(),
            rate,
            time_limit_ns: time_limit_s * NANOS_PER_SEC,
            node_count: nodes,
            concurrency: nodes,
            ..TestConfig::default()
        }
    }

    #[test]
    fn the_issue_s_runs_are_far_over_any_machine() {
        let echo = estimate(&config("echo", 100_000.0, 3600, 5), true);
        assert_eq!(echo.op_count, 360e6);
        assert!((200.0..250.0).contains(&(echo.bytes / GB)), "{echo:?}");
        let nodes = estimate(&config("echo", 5.0, 60, 100_000), true);
        assert!(nodes.bytes / GB > 400.0, "{nodes:?}");
        let e = check(&echo, 1, 16.0 * GB, "this machine's memory").unwrap_err();
        assert_eq!(
            e,
            "this run would need about 220.7 GB of memory, more than this machine's memory \
             (16.0 GB): 220.7 GB for 360000000 operations (--rate 100000 x --time-limit 3600 s) \
             at 613 B each (echo); lower --rate or --time-limit, or pass --memory-max 221 to run \
             it anyway"
        );
        let e = check(&nodes, 1, 16.0 * GB, "x").unwrap_err();
        assert!(
            e.contains("500.0 GB for 100000 nodes (50 B x nodes²); lower the node count"),
            "{e}"
        );
    }

    #[test]
    fn the_default_run_is_small() {
        let e = estimate(&TestConfig::default(), true);
        assert!(e.bytes < 0.1 * GB, "{e:?}");
        assert_eq!(check(&e, 1, 1.0 * GB, "x"), Ok(()));
        // Sixteen of it at once in a sweep is sixteen times as much.
        assert!(check(&e, 16, e.bytes * 15.0, "x")
            .unwrap_err()
            .contains("16 simulations at once"));
    }

    #[test]
    fn quadratic_workloads_grow_with_the_square() {
        let small = estimate(&config("broadcast", 100.0, 40, 5), true).bytes;
        let large = estimate(&config("broadcast", 100.0, 160, 5), true).bytes;
        // Measured: 30 and 66 MB (reads recorded compact: linear), 6 MB of
        // that the messages kept for report.html, which this config keeps none of.
        assert!((0.03..0.04).contains(&(small / GB)), "{small}");
        assert!((0.055..0.08).contains(&(large / GB)), "{large}");
        let txn = estimate(&config("txn-list-append", 1000.0, 60, 5), true).bytes;
        assert!((4.0..5.5).contains(&(txn / GB)), "{txn}");
        let foreign = estimate(&config("txn-list-append", 1000.0, 60, 5), false).bytes;
        assert!(foreign < 0.5 * GB, "{foreign}");
    }

    #[test]
    fn gigabytes_are_positive_numbers() {
        assert_eq!(parse_gb("8"), Ok(8.0));
        assert_eq!(parse_gb("0.5"), Ok(0.5));
        for bad in ["0", "-1", "NaN", "inf", "lots"] {
            assert!(parse_gb(bad).is_err(), "{bad}");
        }
    }
}
