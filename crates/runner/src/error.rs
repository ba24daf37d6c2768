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
    #[error("could not start node {node} as {bin:?}: {source}; check that --bin names an executable file")]
    Spawn {
        node: String,
        bin: PathBuf,
        source: io::Error,
    },
    #[error("could not write {path:?}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

pub(crate) fn write_err(path: &Path) -> impl FnOnce(io::Error) -> RunnerError + '_ {
    move |source| RunnerError::Write {
        path: path.to_path_buf(),
        source,
    }
}
