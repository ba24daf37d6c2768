//! How a Raft key-value node runs, and the backups it restores from.

use lightcone_sdk::{Body, Value};
use serde::{Deserialize, Serialize};

/// How the node runs: its command-line options, parsed once by
/// [`crate::NodeSpec`] (`lightcone node lin-kv --help` lists them).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Milliseconds between Raft ticks (`--tick-ms`).
    pub tick_ms: u64,
    /// Election timeout in ticks (`--election-ticks`), randomised in
    /// `[n, 2n)` by the library.
    pub election_ticks: u64,
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: u64,
    /// How long a request may wait for its entry or read (`--request-ms`).
    pub request_ms: u64,
    /// Entries applied between snapshots (`--snapshot-every`).
    pub snapshot_every: u64,
    /// Log every applied entry (`--log-applied`), for invariant checks.
    pub log_applied: bool,
    /// Start from this backup when the node has no state of its own.
    pub restore: Option<Backup>,
    /// Start with the runtime flag `degraded-reads` on
    /// (`--degraded-reads`): a read that cannot be served linearizably is
    /// answered from this node's state, marked `"degraded": true`. The
    /// flag is flipped at run time by a `flag` message.
    pub degraded_reads: bool,
    /// With `degraded-reads` on: how long a read may wait for the leader
    /// before the degraded answer (`--degraded-read-ms`); below the lin-kv
    /// client's 1 s timeout, so that the answer is heard.
    pub degraded_read_ms: u64,
    /// Test only: reads served from local state by any node.
    pub unsafe_local_reads: bool,
    /// Test only: commit earlier terms' entries by counting replicas.
    pub unsafe_commit_previous_term: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            tick_ms: 100,
            election_ticks: 10,
            heartbeat_ticks: 2,
            request_ms: 2000,
            snapshot_every: 1000,
            log_applied: false,
            restore: None,
            degraded_reads: false,
            degraded_read_ms: 500,
            unsafe_local_reads: false,
            unsafe_commit_previous_term: false,
        }
    }
}

/// The store's state as of one log index: what `backup` returns and
/// [`Options::restore`] starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub index: u64,
    pub term: u64,
    /// `[key, value]` pairs in the order of the keys' JSON text.
    pub state: Vec<(Value, Value)>,
}

/// Reads a backup file: the `backup` field of a `backup_ok` reply, or the
/// whole reply body, as JSON. (Read once, when the options are parsed.)
pub(crate) fn read_backup(path: &str) -> Result<Backup, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("could not read the backup file {path}: {e}"))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("the backup file {path} is not JSON: {e}"))?;
    let backup = value.get("backup").cloned().unwrap_or(value);
    serde_json::from_value(backup).map_err(|e| {
        format!(
            "the backup file {path} is not a backup ({e}); save the `backup` field of a \
             `backup_ok` reply: {{\"index\": N, \"term\": T, \"state\": [[key, value], ...]}}"
        )
    })
}

/// The state a backup reply carries, parsed (for tests and tools).
pub fn parse_backup(reply: &Body) -> Option<Backup> {
    serde_json::from_value(reply.get("backup")?.clone()).ok()
}
