//! The crate's one error type.

use std::path::PathBuf;

use crate::message::NodeId;

/// Everything that can go wrong in `lightcone-raft`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The proposal or forwarded read was not accepted because this node is
    /// not the leader. `leader_id` names the leader this node knows of, if
    /// any, so the host can redirect the client.
    #[error("proposal dropped: node {node_id} is not the leader ({})", leader_hint(*.leader_id))]
    ProposalDropped {
        node_id: NodeId,
        leader_id: Option<NodeId>,
    },
    /// The leader already holds `limit` uncommitted entries; the host should
    /// retry later (backpressure, see `Config::max_uncommitted_entries`).
    #[error("proposal dropped: {limit} uncommitted entries already; retry once some commit")]
    UncommittedLimit { limit: u64 },
    /// Too many ReadIndex requests are waiting for confirmation.
    #[error("read dropped: {limit} reads already pending; retry later")]
    ReadLimit { limit: usize },
    /// Empty data is reserved for the leader's no-op entry.
    #[error("empty proposal: entries with empty data are reserved for the leader's no-op")]
    EmptyProposal,
    /// The configuration is unusable.
    #[error("invalid raft config: `{field}` {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// The requested log index was discarded by a snapshot.
    #[error(
        "log index {index} is compacted (the log starts after the snapshot at {snapshot_index})"
    )]
    Compacted { index: u64, snapshot_index: u64 },
    /// The requested log index is past the end of the log.
    #[error("log index {index} is unavailable (last index is {last_index})")]
    Unavailable { index: u64, last_index: u64 },
    /// A snapshot older than the one already held was offered.
    #[error("snapshot at {index} is older than the current one at {current}")]
    SnapshotOutOfDate { index: u64, current: u64 },
    /// `compact` was asked for an index not yet applied.
    #[error("cannot compact to {index}: only {applied} is applied")]
    CompactPastApplied { index: u64, applied: u64 },
    /// A file operation of [`crate::FileStorage`] failed.
    #[error("raft storage I/O failed on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The write-ahead log of [`crate::FileStorage`] failed or is damaged;
    /// the message names the file, the offset and the fix.
    #[error(transparent)]
    Wal(#[from] lightcone_wal::Error),
    /// A file of [`crate::FileStorage`] does not parse.
    #[error("raft storage file {} is corrupt: {detail}; remove the directory to start the node afresh", path.display())]
    Corrupt { path: PathBuf, detail: String },
}

fn leader_hint(leader_id: Option<NodeId>) -> String {
    match leader_id {
        Some(id) => format!("leader is node {id}"),
        None => "no leader known; retry after an election".to_string(),
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
