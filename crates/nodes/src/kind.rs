//! Which reference node runs, with its options: what the flags parse
//! into (`flags.rs`) and a [`NodeSpec`](crate::NodeSpec) builds from
//! (`spec.rs`).

use std::sync::Arc;

use crate::available_txn;
use crate::broadcast;
use crate::crdt_gossip::GossipOptions;
use crate::paxos_kv;
use crate::raft_kv;
use crate::transactor;
use crate::unique_ids::Scheme;

/// Which node runs, with its options.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Echo,
    UniqueIds(Scheme),
    /// broadcast, or g-set with `--broadcast`.
    Broadcast(broadcast::Options, broadcast::Api),
    CrdtSet(GossipOptions),
    SeqKvCounter {
        own_only: bool,
    },
    CrdtGCounter(GossipOptions),
    CrdtPNCounter(GossipOptions),
    LinKvProxy {
        cached_reads: bool,
    },
    /// Shared by every node built, with any `--restore` backup in it.
    RaftKv(Arc<raft_kv::Options>),
    /// lin-kv with --paxos: the Multi-Paxos store.
    PaxosKv(Arc<paxos_kv::Options>),
    Kafka {
        local_offsets: bool,
    },
    /// txn-list-append, txn-rw-register.
    Transactor(transactor::Options),
    /// txn-rw-register with --totally-available.
    AvailableTxn(available_txn::Options),
}
