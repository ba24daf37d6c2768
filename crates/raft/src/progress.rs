//! What a leader knows about each follower's log (Raft paper, Figure 2:
//! nextIndex and matchIndex), and the flow control around it.

/// How the leader is currently feeding a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProgressState {
    /// The follower's log end is unknown: one append at a time, stepping
    /// `next_index` back on rejection (Raft paper, 5.3).
    Probe,
    /// The follower accepted an append: stream entries optimistically, up
    /// to `Config::max_inflight_entries` unacknowledged.
    Replicate,
    /// The follower needs entries the leader has compacted away; a snapshot
    /// at `pending_index` is on its way (Raft paper, 7).
    Snapshot { pending_index: u64 },
}

#[derive(Clone, Debug)]
pub(crate) struct Progress {
    /// The highest index known to be replicated on the follower.
    pub(crate) match_index: u64,
    /// The index of the next entry to send.
    pub(crate) next_index: u64,
    pub(crate) state: ProgressState,
    /// In `Probe`, whether an append is in flight (so we wait for its answer
    /// or the next heartbeat rather than flood a lagging follower).
    pub(crate) probe_sent: bool,
    /// Whether the follower answered anything since the last check-quorum
    /// round (dissertation 6.2).
    pub(crate) recent_active: bool,
    /// The leader's tick count when it sent the latest heartbeat this
    /// follower acknowledged; the lease of `Config::lease_reads` runs from
    /// it.
    pub(crate) lease_tick: Option<u64>,
}

impl Progress {
    pub(crate) fn new(next_index: u64) -> Progress {
        Progress {
            match_index: 0,
            next_index,
            state: ProgressState::Probe,
            probe_sent: false,
            recent_active: false,
            lease_tick: None,
        }
    }

    pub(crate) fn become_probe(&mut self) {
        // After a snapshot the follower holds at least the snapshot's index.
        let floor = match self.state {
            ProgressState::Snapshot { pending_index } => pending_index.max(self.match_index),
            _ => self.match_index,
        };
        self.state = ProgressState::Probe;
        self.next_index = floor + 1;
        self.probe_sent = false;
    }

    pub(crate) fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next_index = self.match_index + 1;
        self.probe_sent = false;
    }

    pub(crate) fn become_snapshot(&mut self, pending_index: u64) {
        self.state = ProgressState::Snapshot { pending_index };
        self.probe_sent = false;
    }

    /// The follower acknowledged everything up to `index`. Returns whether
    /// `match_index` grew.
    pub(crate) fn maybe_update(&mut self, index: u64) -> bool {
        self.probe_sent = false;
        self.next_index = self.next_index.max(index + 1);
        if index > self.match_index {
            self.match_index = index;
            return true;
        }
        false
    }

    /// The follower rejected an append whose `prev_index` was `rejected`;
    /// `next_hint` is where the conflict hints say to resume. Returns
    /// whether the rejection was news (stale or duplicated rejections are
    /// ignored: the network may reorder and duplicate).
    pub(crate) fn maybe_decrease(&mut self, rejected: u64, next_hint: u64) -> bool {
        if self.state == ProgressState::Replicate {
            if rejected <= self.match_index {
                return false;
            }
            self.become_probe();
            return true;
        }
        if self.next_index == 0 || self.next_index - 1 != rejected {
            return false;
        }
        self.next_index = next_hint.min(rejected).max(self.match_index + 1);
        self.probe_sent = false;
        true
    }

    /// Whether the leader should hold back appends to this follower.
    pub(crate) fn is_paused(&self, inflight_max: u64) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.next_index - 1 - self.match_index >= inflight_max,
            ProgressState::Snapshot { .. } => true,
        }
    }
}

/// The largest value that a majority of `values` reach: sort descending and
/// take the majority-th (Raft paper, 5.3 and 5.4.2: "a majority of
/// matchIndex[i] >= N").
pub(crate) fn quorum_value(mut values: Vec<u64>) -> u64 {
    assert!(!values.is_empty(), "a cluster has at least one voter");
    values.sort_unstable_by(|a, b| b.cmp(a));
    values[values.len() / 2]
}

/// The size of a majority of `voter_count`.
pub(crate) fn majority(voter_count: usize) -> usize {
    voter_count / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_value_is_the_majority_th_largest() {
        assert_eq!(quorum_value(vec![5]), 5);
        assert_eq!(quorum_value(vec![1, 5, 3]), 3);
        assert_eq!(quorum_value(vec![9, 1, 1, 5, 5]), 5);
        assert_eq!(quorum_value(vec![4, 4, 1, 1]), 1);
    }

    #[test]
    fn stale_rejections_are_ignored() {
        let mut progress = Progress::new(10);
        assert!(!progress.maybe_decrease(5, 3), "not the probe in flight");
        assert!(progress.maybe_decrease(9, 4));
        assert_eq!(progress.next_index, 4);
        assert!(progress.maybe_update(6));
        progress.become_replicate();
        assert!(!progress.maybe_decrease(6, 1), "already matched");
    }
}
