//! The options of one Raft node.

use crate::error::{Error, Result};
use crate::message::{NodeId, NO_NODE};

/// How one node behaves. Build it with [`Config::new`], change fields, and
/// [`Config::validate`] (which [`crate::RawNode::new`] also calls).
///
/// Time is logical: the host calls [`crate::RawNode::tick`] at a fixed
/// interval and every timeout here is a number of those ticks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// This node's id; never 0.
    pub id: NodeId,
    /// Every voting member, this node included. Membership is fixed for the
    /// life of the cluster (no joint consensus, Raft paper 6, yet).
    pub voters: Vec<NodeId>,
    /// A follower that hears nothing from a leader for a random number of
    /// ticks in `[election_tick, 2 * election_tick)` starts an election
    /// (Raft paper, 5.2: randomized timeouts make split votes rare).
    pub election_tick: u64,
    /// A leader sends heartbeats every `heartbeat_tick` ticks; keep it well
    /// below `election_tick` (the paper's broadcastTime << electionTimeout,
    /// 5.6).
    pub heartbeat_tick: u64,
    /// Seeds the ChaCha8 generator that draws election timeouts. Give every
    /// node a different seed (for example the run's seed mixed with the node
    /// id), or they time out together and split the vote.
    pub seed: u64,
    /// Run a pre-vote round before a real election so a node that was cut
    /// off cannot raise everyone's term when it rejoins (dissertation 9.6).
    pub pre_vote: bool,
    /// A leader that has not heard from a quorum for `election_tick` ticks
    /// steps down, and followers that heard from a leader within
    /// `election_tick` ignore vote requests (dissertation 6.2 and 4.2.3).
    pub check_quorum: bool,
    /// Serve [`crate::RawNode::read_index`] from a leader lease instead of a
    /// heartbeat round (dissertation 6.4.1).
    ///
    /// **Clock assumption.** A lease read is linearizable only if every
    /// node's ticks run at nearly the same rate: the leader assumes that no
    /// other node can be elected until `election_tick` ticks after a quorum
    /// acknowledged its heartbeat, so it serves reads for only
    /// `election_tick - lease_drift_ticks` ticks after sending that
    /// heartbeat. If clocks drift by more than `lease_drift_ticks` per
    /// election timeout, or a process pauses, a deposed leader may serve a
    /// stale read. Requires `check_quorum` (followers must refuse votes
    /// while the lease lasts); for the same reason a node refuses votes for
    /// its first `election_tick` ticks after (re)starting, since it may have
    /// acknowledged a lease just before it crashed.
    pub lease_reads: bool,
    /// The drift margin of `lease_reads`, in ticks; less than `election_tick`.
    pub lease_drift_ticks: u64,
    /// At most this many entries in one append message.
    pub max_entries_per_msg: u64,
    /// A leader sends a follower new entries only while fewer than this many
    /// are unacknowledged (flow control; the rest wait for acks).
    pub max_inflight_entries: u64,
    /// A leader refuses proposals while this many entries are uncommitted
    /// ([`Error::UncommittedLimit`]), so a partitioned leader's log does not
    /// grow without bound.
    pub max_uncommitted_entries: u64,
    /// At most this many ReadIndex requests wait for confirmation
    /// ([`Error::ReadLimit`] beyond).
    pub max_pending_reads: usize,
    /// The last index the application has already applied, for hosts whose
    /// state machine is durable. 0 means "the storage's snapshot index": the
    /// host restores its state from the snapshot and replays from there.
    pub applied: u64,
    /// **For testing checkers only: breaks linearizability.** Every node
    /// answers `read_index` at once with its own commit index, without
    /// asking a quorum, so a deposed leader or lagging follower serves
    /// stale reads.
    pub unsafe_local_reads: bool,
    /// **For testing checkers only: breaks state machine safety.** The
    /// leader commits an entry of an earlier term once it is on a majority,
    /// which the Raft paper shows unsafe in 5.4.2 (Figure 8).
    pub unsafe_commit_previous_term: bool,
}

impl Config {
    /// A config for node `id` of the cluster `voters`, with the defaults:
    /// election after 10 ticks, heartbeat every 2, pre-vote on, check-quorum
    /// on, reads by ReadIndex.
    pub fn new(id: NodeId, voters: Vec<NodeId>) -> Config {
        Config {
            id,
            voters,
            election_tick: 10,
            heartbeat_tick: 2,
            seed: id,
            pre_vote: true,
            check_quorum: true,
            lease_reads: false,
            lease_drift_ticks: 2,
            max_entries_per_msg: 64,
            max_inflight_entries: 256,
            max_uncommitted_entries: 4096,
            max_pending_reads: 4096,
            applied: 0,
            unsafe_local_reads: false,
            unsafe_commit_previous_term: false,
        }
    }

    /// Checks that the options make sense together.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, reason: &str| {
            Err(Error::InvalidConfig {
                field,
                reason: reason.to_string(),
            })
        };
        if self.id == NO_NODE {
            return invalid("id", "must not be 0 (0 means no node)");
        }
        if !self.voters.contains(&self.id) {
            return invalid("voters", "must contain this node's own id");
        }
        if self.voters.contains(&NO_NODE) {
            return invalid("voters", "must not contain 0 (0 means no node)");
        }
        if self.heartbeat_tick == 0 {
            return invalid("heartbeat_tick", "must be at least 1");
        }
        if self.election_tick <= self.heartbeat_tick {
            return invalid("election_tick", "must be greater than heartbeat_tick");
        }
        if self.lease_reads && !self.check_quorum {
            return invalid("lease_reads", "requires check_quorum = true");
        }
        if self.lease_reads && self.lease_drift_ticks >= self.election_tick {
            return invalid("lease_drift_ticks", "must be less than election_tick");
        }
        if self.max_entries_per_msg == 0 || self.max_inflight_entries == 0 {
            return invalid(
                "max_entries_per_msg",
                "and max_inflight_entries must be at least 1",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_options_name_their_field() {
        assert!(Config::new(1, vec![1, 2, 3]).validate().is_ok());
        let mut config = Config::new(4, vec![1, 2, 3]);
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("voters"), "{error}");
        config.voters.push(4);
        config.lease_reads = true;
        config.check_quorum = false;
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("lease_reads"), "{error}");
    }
}
