//! Runs a test against node processes on the real clock.
//!
//! This is the one crate of the workbench that does process and file I/O.
//! It spawns each node (own process group; a thread per pipe), feeds the
//! sans-IO test core from `lightcone-core` with what nodes print and with
//! the time, carries out the core's effects (deliveries into bounded,
//! measured per-node queues; history ops streamed to `history.jsonl`), and
//! writes the results folder.

mod error;
mod folder;
mod history_file;
mod huge_pages;
mod latency;
mod mailbox;
mod node;
mod page;
mod program;
mod quiet;
mod reaper;
mod report;
mod run;
mod seeded;
mod sim_run;

pub use error::RunnerError;
pub use folder::RunFolder;
pub use program::{resolve_program, InterpreterProblem, ProgramError};
pub use reaper::{become_subreaper, kill_all_descendants};
pub use report::{RunReport, SimulationSpeed, Workbench};
pub use run::{run, RunOptions};
pub use seeded::{
    factory as seeded_factory, ClockTotals, SeededFactory, SeededOptions, SeededReport,
    SettleQuantiles,
};
pub use sim_run::run_sim;

/// Exit codes of `lightcone test`, `lightcone check` and `lightcone merge`.
pub mod exit_code {
    pub const VALID: i32 = 0;
    pub const INVALID: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    /// The run could not complete because of a node: it exited early, never
    /// answered init, or refused setup.
    pub const ABORTED: i32 = 3;
    /// Bad arguments.
    pub const USAGE: i32 = 4;
    /// The workbench itself failed (spawning, files).
    pub const WORKBENCH: i32 = 5;
    /// `lightcone merge` was given only part of a sweep (a shard missing or
    /// unfinished): whatever the seeds that ran found, not every seed ran.
    pub const INCOMPLETE: i32 = 6;
    /// Stopped by Ctrl-C (results written, marked interrupted).
    pub const INTERRUPTED: i32 = 130;
}
