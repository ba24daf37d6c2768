//! A sans-IO Multi-Paxos library with a stable leader, in the shape of
//! `lightcone-raft` (a `RawNode` fed inputs, its effects drained as a
//! [`Ready`]).
//!
//! It implements Multi-Paxos as Lamport describes it in Paxos Made Simple
//! (2001), section 3, with the leader structure of van Renesse and
//! Altinbuken's Paxos Made Moderately Complex (2015):
//!
//! * ballots are `(round, node id)`, so no two nodes share one;
//! * a node that hears no leader for a randomized number of ticks runs
//!   phase 1 (prepare/promise) once for its ballot, covering every slot
//!   from its first unchosen one; each promise reports the values the
//!   acceptor knows chosen and the (ballot, value) it accepted at the
//!   other slots;
//! * with a quorum of promises it leads: for each slot it adopts the value
//!   of the highest ballot reported (Paxos's safety rule, P2c), fills the
//!   gaps with no-ops, and from then on runs phase 2 (accept/accepted) per
//!   slot, pipelined and batched, under that one ballot;
//! * chosen slots are learned from the leader's chosen prefix piggybacked
//!   on its accepts and heartbeats; a replica that missed slots answers a
//!   heartbeat with its own prefix and is sent the chosen values it lacks
//!   (catch-up);
//! * an acceptor's promise, accepted values and chosen values are durable
//!   through [`Storage`], so a restarted node keeps its promises.
//!
//! Membership is fixed, and there is no log compaction: a node keeps every
//! chosen value (a bounded window is future work).
//!
//! # Bounds
//!
//! A leader has at most [`Config::max_inflight_slots`] slots in phase 2
//! (proposals beyond are refused with [`Error::InflightLimit`]), and sends
//! at most [`Config::max_slots_per_msg`] values in one `Accept` or catch-up
//! message (a lagging node gets one such batch per heartbeat). A `Promise`
//! is not bounded: it must report every slot from the preparer's first
//! unchosen one, or the new leader could miss a chosen value; its size is
//! what the preparer lags by, which compaction would bound.
//!
//! # The Ready loop
//!
//! ```
//! use lightcone_paxos::{persist_ready, Config, MemoryStorage, RawNode, Role};
//!
//! // A single-node cluster leads itself, which keeps the example short;
//! // with more nodes, `messages` go to the peers and their replies come
//! // back through `step`.
//! let mut node = RawNode::new(Config::new(1, vec![1]), MemoryStorage::new()).unwrap();
//! let mut applied = Vec::new();
//! for round in 0..100 {
//!     // 1. Inputs: time passes; once leader, propose.
//!     node.tick();
//!     if node.role() == Role::Leader && round == 50 {
//!         node.propose(b"x := 1".to_vec()).unwrap();
//!     }
//!     // 2. Outputs: persist, then send, then apply.
//!     while node.has_ready() {
//!         let ready = node.ready();
//!         persist_ready(node.storage_mut(), &ready).unwrap();
//!         for msg in &ready.messages {
//!             let _ = msg; // send to node `msg.to`
//!         }
//!         for slot in &ready.committed {
//!             if !slot.value.is_noop() {
//!                 applied.push(slot.value.data().to_vec());
//!             }
//!         }
//!         node.advance(ready);
//!     }
//! }
//! assert_eq!(applied, vec![b"x := 1".to_vec()]);
//! ```
//!
//! # Deliberately broken variant
//!
//! [`Config::unsafe_ignore_promised_values`] makes a new leader ignore the
//! accepted values its promises report and put its own commands in those
//! slots, so that checkers can be shown to catch two values chosen for one
//! slot. Never use it otherwise.

mod bytes;
mod config;
mod error;
mod message;
mod paxos;
mod raw_node;
mod storage;

#[cfg(test)]
mod spec_tests;
#[cfg(test)]
mod test_cluster;

pub use config::Config;
pub use error::{Error, Result};
pub use message::{Accepted, Ballot, Message, MessageBody, NodeId, Role, Slot, SoftState, Value};
pub use raw_node::{persist_ready, RawNode, Ready, Status};
pub use storage::{MemoryStorage, Storage};
