//! Times the linearizability checker on generated cas-register histories
//! (`gen::register_history`: values 0..5, reads half, writes and cas a
//! quarter each), valid and with one read corrupted, in the default mode
//! (pre-passes, then search) and search-only.
//!
//! `cargo bench -p lightcone-linear --bench linear` runs 1k/10k/100k ops x
//! 5/10/20 clients x 0 or 2 per mille crashed ops; `-- OPS CLIENTS CRASH`
//! runs one size. Prints ops, clients, crashes, corrupted, mode, verdict,
//! method, configurations explored, most held at once, milliseconds. Each
//! check is stopped after 60 s (the stop flag, set by a timer thread, as a
//! caller's time limit would).

use lightcone_linear::{gen, model_by_name, LinearOptions};

mod common;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes: Vec<(usize, usize, u32)> = match args.as_slice() {
        [ops, clients, crash] => vec![(*ops as usize, *clients as usize, *crash as u32)],
        _ => {
            let mut v = Vec::new();
            for ops in [1_000, 10_000, 100_000] {
                for clients in [5, 10, 20] {
                    for crash in [0, 2] {
                        v.push((ops, clients, crash));
                    }
                }
            }
            v
        }
    };
    let model = model_by_name("cas-register", None).expect("a built-in model");
    println!(
        "{:>7} {:>7} {:>5} {:>7} {:>7} {:>8} {:>14} {:>10} {:>10} {:>9}",
        "ops", "clients", "crash", "corrupt", "mode", "valid", "method", "configs", "held", "ms"
    );
    for (ops, clients, crash) in sizes {
        for corrupt in [false, true] {
            let h = gen::register_history(42, clients, ops, crash, corrupt);
            for search_only in [false, true] {
                if search_only && !corrupt {
                    continue; // valid histories always go to the search
                }
                let mut options = LinearOptions::default();
                options.search_only = search_only;
                let (r, ms) = common::timed_check(&h, model.as_ref(), options);
                let held = r
                    .partitions
                    .iter()
                    .map(|p| p.configs_held_max)
                    .max()
                    .unwrap_or(0);
                let method = r.partitions.first().map_or("-", |p| p.method.as_str());
                println!(
                    "{:>7} {:>7} {:>5} {:>7} {:>7} {:>8} {:>14} {:>10} {:>10} {:>9.1}",
                    ops,
                    clients,
                    crash,
                    corrupt,
                    if search_only { "search" } else { "default" },
                    r.valid.to_string(),
                    method,
                    r.configs,
                    held,
                    ms
                );
                if let Some(reason) = &r.reason {
                    println!("        reason: {reason}");
                }
            }
        }
    }
}
