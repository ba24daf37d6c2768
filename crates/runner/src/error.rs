//! What can stop the workbench itself.

use std::io;
use std::path::{Path, PathBuf};

use lightcone_core::ConfigError;

use crate::program::ProgramError;

/// The workbench could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The node program cannot be run: a bad argument, found before the
    /// run or when its first processes would not start. Nothing was run.
    #[error(transparent)]
    Program(#[from] ProgramError),
    /// The system refused to start a node's process (its resources, or a
    /// program that went away after the run began).
    #[error(
        "could not start node {node} as {bin:?}: {source}; {}",
        spawn_fix(source)
    )]
    Spawn {
        node: String,
        bin: PathBuf,
        source: io::Error,
    },
    #[error("could not write {path:?}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// What to do about a process the system would not start, by its error.
fn spawn_fix(source: &io::Error) -> &'static str {
    match source.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => {
            "too many open files: raise the limit (ulimit -n) or run fewer nodes"
        }
        Some(libc::EAGAIN) => "too many processes: raise the limit (ulimit -u) or run fewer nodes",
        Some(libc::ENOMEM) => "out of memory: run fewer nodes, or free memory",
        _ => "check that --bin still names an executable file",
    }
}

pub(crate) fn write_err(path: &Path) -> impl FnOnce(io::Error) -> RunnerError + '_ {
    move |source| RunnerError::Write {
        path: path.to_path_buf(),
        source,
    }
}
