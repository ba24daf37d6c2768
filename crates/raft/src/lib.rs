//! A sans-IO Raft consensus library, in the shape of tikv/raft-rs's
//! `RawNode` and `Ready`.
//!
//! The library never touches a clock, a socket, a thread or the operating
//! system's randomness: the host hands it inputs and carries out the outputs
//! it returns. That makes the same code run in a deterministic simulator and
//! in a real process. The one exception is [`FileStorage`], a [`Storage`]
//! that a process-mode host may choose for durable state.
//!
//! It implements the Raft paper (Ongaro and Ousterhout, 2014): leader
//! election with randomized timeouts (5.2), log replication with fast
//! backtracking (5.3), the election restriction (5.4.1) and commitment
//! rule (5.4.2), log compaction with InstallSnapshot (7), and linearizable
//! reads through ReadIndex (8); plus pre-vote and check-quorum from Ongaro's
//! dissertation (9.6, 6.2) and optional lease reads (6.4.1). Membership is
//! fixed.
//!
//! # The Ready loop
//!
//! 1. Create a [`RawNode`] from a [`Config`] and a [`Storage`] (here a
//!    [`MemoryStorage`]; a restarted node passes the storage it persisted
//!    to).
//! 2. Feed it inputs: call [`RawNode::tick`] at a fixed interval (timeouts are
//!    counted in ticks), [`RawNode::step`] with every [`Message`] that
//!    arrives, [`RawNode::propose`] with client commands and
//!    [`RawNode::read_index`] for linearizable reads.
//! 3. When [`RawNode::has_ready`], take a [`Ready`] and handle it in order:
//!    persist its snapshot, entries and hard state; then send its messages;
//!    then apply its committed entries and serve the reads of its read
//!    states whose index has been applied.
//! 4. Call [`RawNode::advance`] with the `Ready`, and loop.
//!
//! ```
//! use lightcone_raft::{persist_ready, Config, MemoryStorage, RawNode, Role};
//!
//! // 1. A single-voter cluster elects itself, which keeps the example short;
//! //    with more voters, `messages` go to the peers and their replies come
//! //    back through `step`.
//! let config = Config::new(1, vec![1]);
//! let mut node = RawNode::new(config, MemoryStorage::new()).unwrap();
//!
//! let mut applied = Vec::new();
//! let mut applied_index = 0;
//! let mut reads_served = Vec::new();
//! for round in 0..100 {
//!     // 2. Inputs: time passes; once leader, propose and read.
//!     node.tick();
//!     if node.role() == Role::Leader && round == 50 {
//!         node.propose(b"x := 1".to_vec()).unwrap();
//!         node.read_index(b"read-1".to_vec()).unwrap();
//!     }
//!     // 3. Outputs.
//!     while node.has_ready() {
//!         let ready = node.ready();
//!         // Persist before sending anything (Raft paper, Figure 2).
//!         persist_ready(node.storage_mut(), &ready).unwrap();
//!         for msg in &ready.messages {
//!             // Send `msg` to node `msg.to`; `serde_json::to_value(msg)`
//!             // makes it a JSON value for a Maelstrom body.
//!             let _ = msg;
//!         }
//!         for entry in &ready.committed_entries {
//!             if !entry.is_noop() {
//!                 applied.push(entry.data.clone());
//!             }
//!             applied_index = entry.index;
//!         }
//!         for read in &ready.read_states {
//!             // A real host parks the read until `applied_index` reaches
//!             // `read.index`; a single node has always applied it already.
//!             assert!(applied_index >= read.index);
//!             reads_served.push(read.ctx.clone());
//!         }
//!         // 4. Done with this batch.
//!         node.advance(ready);
//!     }
//! }
//! assert_eq!(applied, vec![b"x := 1".to_vec()]);
//! assert_eq!(reads_served, vec![b"read-1".to_vec()]);
//! ```
//!
//! # Driving it from a Maelstrom node
//!
//! Map node names to ids (`"n1"` to 1 and so on), give each node a distinct
//! `Config::seed`, and run a timer that calls `tick` every, say, 100 ms, so
//! the default `election_tick` of 10 means an election timeout of 1 to 2 s.
//! Carry each [`Message`] as JSON in a Maelstrom body (for example
//! `{"type": "raft", "msg": ...}`) and `step` it on arrival. Answer a
//! client's write when its entry appears in `committed_entries` (check the
//! term: another leader may have put a different entry at that index), and
//! a read when its [`ReadState`] arrives and the node has applied its index.
//! Time out and retry requests that never come back: leader changes drop
//! them.
//!
//! # Deliberately broken variants
//!
//! [`Config::unsafe_local_reads`] and [`Config::unsafe_commit_previous_term`]
//! turn off two safety mechanisms, so that checkers can be shown to catch
//! the anomalies. Never use them otherwise.

mod bytes;
mod config;
mod election;
mod error;
mod file_storage;
pub mod invariants;
mod log;
mod message;
mod progress;
mod raft;
mod raw_node;
mod read_index;
mod read_queue;
mod replication;
mod storage;

#[cfg(test)]
mod spec_tests;
#[cfg(test)]
mod test_cluster;

pub use config::Config;
pub use error::{Error, Result};
pub use file_storage::FileStorage;
pub use message::{
    Entry, HardState, Message, MessageBody, NodeId, ReadState, RejectHint, Role, Snapshot,
    SnapshotMetadata, SoftState, NO_NODE,
};
pub use raw_node::{persist_ready, RawNode, Ready, Status};
pub use storage::{MemoryStorage, Storage};
