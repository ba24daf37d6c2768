//! `lightcone gen`: histories for benchmarks and reproductions, written to
//! standard output as JSONL (or EDN).

use std::io::{self, BufWriter, Write};

use clap::{Args, Subcommand};
use lightcone_history::{formats, History, HistoryWriter, Op};
use lightcone_linear::gen;
use lightcone_runner::exit_code;
use lightcone_txn::gen::{self as txn_gen, GenOptions, TxnGenerator, Workload};

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
    /// Transactions of appends to and reads of integer lists (Maelstrom's
    /// txn-list-append, Elle's list-append), drawn as Elle's generator
    /// draws them; strict-serializable by construction.
    ListAppend(TxnArgs),
    /// Transactions of writes and reads of integer registers (Maelstrom's
    /// txn-rw-register, Elle's rw-register), drawn as Elle's generator
    /// draws them; strict-serializable by construction.
    RwRegister(TxnArgs),
}

/// The options of the transactional histories (lightcone_txn::gen).
#[derive(Args, Debug)]
struct TxnArgs {
    /// Transactions in the history (each an invocation and a completion).
    #[arg(long, default_value_t = GenOptions::default().txns)]
    txns: usize,
    /// Client processes running at once.
    #[arg(long, default_value_t = GenOptions::default().processes)]
    processes: usize,
    /// Active keys at any time (Elle's exponential key distribution).
    #[arg(long, default_value_t = GenOptions::default().key_count)]
    key_count: usize,
    /// Micro-ops per transaction, at least.
    #[arg(long, default_value_t = GenOptions::default().min_txn_length)]
    min_txn_length: usize,
    /// Micro-ops per transaction, at most.
    #[arg(long, default_value_t = GenOptions::default().max_txn_length)]
    max_txn_length: usize,
    /// The cap on writes per key; each key draws its own limit up to it,
    /// as Elle does, and is then replaced by a fresh key.
    #[arg(long, default_value_t = GenOptions::default().max_writes_per_key)]
    max_writes_per_key: u64,
    /// Transactions per thousand that fail (refused, no effect).
    #[arg(long, default_value_t = GenOptions::default().fail_permille)]
    fail_permille: u32,
    /// Transactions per thousand that end info (outcome unknown, the
    /// process crashes); each takes effect or not at random.
    #[arg(long, default_value_t = GenOptions::default().info_permille)]
    info_permille: u32,
    /// Add a tiny history with this anomaly (Elle's name, e.g. G1c or
    /// G-single-item-realtime) at a place the seed picks, on fresh keys and
    /// processes; the checker must then report it.
    #[arg(long, value_name = "ANOMALY")]
    inject: Option<String>,
}

impl TxnArgs {
    fn options(&self) -> GenOptions {
        GenOptions {
            txns: self.txns,
            processes: self.processes,
            key_count: self.key_count,
            min_txn_length: self.min_txn_length,
            max_txn_length: self.max_txn_length,
            max_writes_per_key: self.max_writes_per_key,
            fail_permille: self.fail_permille,
            info_permille: self.info_permille,
        }
    }
}

/// The most client processes of the register generators (each keeps a
/// slot; the transactional generator's bound too).
const CLIENTS_MAX: usize = 1_000_000;
/// The most operations of a history built whole in memory (the register
/// generators, and the transactional ones with --inject): about 540 bytes
/// each at the peak (measured with /usr/bin/time -f %M: 1M register ops
/// 0.65 GB, 4M 2.2 GB), so 5.5 GB at the bound.
const OPS_MAX: usize = 10_000_000;

/// `value` of `flag` if it is at most `max`, else the message saying so.
fn at_most(flag: &str, value: usize, max: usize, why: &str) -> Result<usize, String> {
    if value > max {
        Err(format!("{flag} is {value}; use at most {max} ({why})"))
    } else {
        Ok(value)
    }
}

/// The register generators' sizes, checked.
fn register_sizes(clients: usize, ops: usize) -> Result<(), String> {
    let in_memory = "the history is built in memory, about 540 bytes per operation";
    at_most(
        "--clients",
        clients,
        CLIENTS_MAX,
        "each client keeps a slot",
    )?;
    at_most("--ops", ops, OPS_MAX, in_memory)?;
    Ok(())
}

pub fn run(args: GenArgs) -> i32 {
    let sizes = match &args.kind {
        GenKind::Register { clients, ops, .. } | GenKind::UniqueRegister { clients, ops, .. } => {
            register_sizes(*clients, *ops)
        }
        GenKind::ListAppend(txn) | GenKind::RwRegister(txn) if txn.inject.is_some() => at_most(
            "--txns",
            txn.txns,
            OPS_MAX / 2,
            "with --inject the history is built in memory",
        )
        .map(|_| ()),
        _ => Ok(()),
    };
    if let Err(message) = sizes {
        crate::flags::print_error(&message);
        return exit_code::USAGE;
    }
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
        GenKind::ListAppend(txn) => {
            return run_txn(Workload::ListAppend, args.seed, args.edn, &txn);
        }
        GenKind::RwRegister(txn) => {
            return run_txn(Workload::RwRegister, args.seed, args.edn, &txn);
        }
    };
    finish(write_ops(history.ops.into_iter(), args.edn, false))
}

/// Generates a transactional history. Without `--inject` its ops are
/// written as they are made, so the history is never held whole.
fn run_txn(workload: Workload, seed: u64, edn: bool, args: &TxnArgs) -> i32 {
    let options = args.options();
    let generator = match TxnGenerator::new(workload, seed, &options) {
        Ok(generator) => generator,
        Err(e) => {
            crate::flags::print_error(&e);
            return exit_code::USAGE;
        }
    };
    let Some(anomaly) = &args.inject else {
        return finish(write_ops(generator, edn, true));
    };
    let mut history = History {
        ops: generator.collect(),
    };
    if let Err(e) = txn_gen::inject(&mut history, workload, anomaly, seed) {
        crate::flags::print_error(&e);
        return exit_code::USAGE;
    }
    finish(write_ops(history.ops.into_iter(), edn, true))
}

fn finish(written: io::Result<()>) -> i32 {
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: could not write the history: {e}");
            exit_code::WORKBENCH
        }
    }
}

/// Ops written to stdout per EDN chunk.
const EDN_CHUNK_OPS: usize = 4096;

/// Writes numbered ops to stdout through a buffer, as JSONL or EDN, keeping
/// their indices. With `txn_keywords`, the EDN names micro-ops with
/// keywords (`[:append 1 2]`, `[:r 1 nil]`), as Jepsen and Elle write and
/// read them; they read back as the same strings.
fn write_ops(ops: impl Iterator<Item = Op>, edn: bool, txn_keywords: bool) -> io::Result<()> {
    let out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    if !edn {
        let mut writer = HistoryWriter::new(out);
        for op in ops {
            writer.write(&op)?;
        }
        return writer.flush();
    }
    let mut out = out;
    let mut chunk = History::default();
    let mut ops = ops.peekable();
    while ops.peek().is_some() {
        chunk.ops.clear();
        chunk.ops.extend(ops.by_ref().take(EDN_CHUNK_OPS));
        let mut text = formats::to_edn(&chunk);
        if txn_keywords {
            text = keyword_mops(&text);
        }
        out.write_all(text.as_bytes())?;
    }
    out.flush()
}

/// `["append" 1 2]` as `[:append 1 2]`, and so for `r` and `w`: in these
/// histories keys and values are integers, so a micro-op's name is the
/// only string that opens a vector this way.
fn keyword_mops(edn: &str) -> String {
    edn.replace("[\"append\" ", "[:append ")
        .replace("[\"r\" ", "[:r ")
        .replace("[\"w\" ", "[:w ")
}
