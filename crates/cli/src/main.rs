//! The `lightcone` command line.

mod alloc;
mod check_cmd;
mod check_txn;
mod flags;
#[cfg(test)]
mod fuzz_args;
mod gen_cmd;
mod memory;
mod merge_cmd;
mod node_cmd;
mod serve_cmd;
mod sim_cmd;
mod sweep_summary;
mod test_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lightcone_runner::exit_code;

#[derive(Parser, Debug)]
#[command(
    name = "lightcone",
    version,
    about = "A workbench for building and breaking distributed systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run nodes under a workload and faults, record the history, check it.
    Test(Box<test_cmd::TestArgs>),
    /// Check histories for linearizability (Jepsen EDN, Porcupine, JSONL).
    Check(check_cmd::CheckArgs),
    /// Generate histories for benchmarks (JSONL or EDN on stdout).
    Gen(gen_cmd::GenArgs),
    /// Run one of the built-in reference nodes on stdin/stdout.
    Node(node_cmd::NodeArgs),
    /// Browse a results store in a browser: runs, reports, histories, logs.
    Serve(serve_cmd::ServeArgs),
    /// Merge the summaries of a sweep's shards (`test --sim --seeds --shard --sweep-out`) into one.
    Merge(merge_cmd::MergeArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap echoes a bad value whole: a 100 KB one is bounded here.
            let text = e.render().to_string();
            if flags::bound_message(&text) != text && e.use_stderr() {
                eprint!("{}", flags::bound_message(&text));
            } else {
                let _ = e.print();
            }
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(exit_code::USAGE as u8),
            };
        }
    };
    let code = match cli.command {
        Command::Test(args) => test_cmd::run(*args),
        Command::Check(args) => {
            quiet_on_closed_pipe();
            check_cmd::run(args)
        }
        Command::Gen(args) => {
            quiet_on_closed_pipe();
            gen_cmd::run(args)
        }
        Command::Node(args) => node_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Merge(args) => {
            quiet_on_closed_pipe();
            merge_cmd::run(args)
        }
    };
    ExitCode::from(code as u8)
}

/// For commands whose output is often piped (`lightcone gen | head`): die
/// quietly when the reader goes away, as Unix tools do, instead of
/// panicking on the write. Not for `test`, which writes to node pipes
/// that may close while it runs.
fn quiet_on_closed_pipe() {
    // SAFETY: restores the default disposition of SIGPIPE before any
    // thread is started; no handler code runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
