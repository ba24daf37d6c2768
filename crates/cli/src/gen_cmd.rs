//! `lightcone gen`: histories for benchmarks and reproductions, written to
//! standard output as JSONL (or EDN).

use std::io::Write;

use clap::{Args, Subcommand};
use lightcone_history::formats;
use lightcone_linear::gen;
use lightcone_runner::exit_code;

#[derive(Args, Debug)]
pub struct GenArgs {
    #[command(subcommand)]
    kind: GenKind,
    /// Seed of the generator: the same seed gives the same history.
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
    /// Write Jepsen EDN instead of JSONL.
    #[arg(long, global = true)]
    edn: bool,
}

#[derive(Subcommand, Debug)]
enum GenKind {
    /// One read/write/cas register (values 0..4), linearizable by
    /// construction unless --corrupt. Check with --model cas-register.
    Register {
        #[arg(long, default_value_t = 10)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        ops: usize,
        /// Crashed (info) operations per thousand.
        #[arg(long, default_value_t = 0)]
        crash_permille: u32,
        /// Change one read so that the history is not linearizable.
        #[arg(long)]
        corrupt: bool,
    },
    /// Many registers with unique written values ([key, value] tuples).
    /// Check with --model independent-register.
    UniqueRegister {
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        keys: usize,
        #[arg(long, default_value_t = 1_000_000)]
        ops: usize,
    },
}

pub fn run(args: GenArgs) -> i32 {
    let history = match args.kind {
        GenKind::Register {
            clients,
            ops,
            crash_permille,
            corrupt,
        } => gen::register_history(args.seed, clients, ops, crash_permille, corrupt),
        GenKind::UniqueRegister { clients, keys, ops } => {
            gen::unique_register_history(args.seed, clients, keys, ops)
        }
    };
    let text = if args.edn {
        formats::to_edn(&history)
    } else {
        history.to_jsonl()
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: could not write the history: {e}");
            exit_code::WORKBENCH
        }
    }
}
