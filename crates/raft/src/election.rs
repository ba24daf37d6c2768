//! Leader election (Raft paper, 5.2 and 5.4.1) with the pre-vote phase of
//! the dissertation (9.6).

use crate::message::{MessageBody, NodeId, Role};
use crate::raft::Raft;
use crate::storage::Storage;

/// Where an election stands after counting a vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tally {
    Won,
    Lost,
    Pending,
}

impl<S: Storage> Raft<S> {
    /// The election timer fired (or the host called `campaign`): start a
    /// pre-vote if configured, else a real election.
    pub(crate) fn hup(&mut self) {
        if self.role == Role::Leader {
            return;
        }
        if self.config.pre_vote {
            self.campaign(true);
        } else {
            self.campaign(false);
        }
    }

    /// Asks every voter for its (pre-)vote. A pre-vote asks about term + 1
    /// without adopting it; only a majority of yeses leads to the real
    /// election, which increments the term (Raft paper, 5.2).
    pub(crate) fn campaign(&mut self, pre_vote: bool) {
        let vote_term = if pre_vote {
            self.become_pre_candidate();
            self.term + 1
        } else {
            self.become_candidate();
            self.term
        };
        // A node always votes for itself (5.2).
        if self.count_vote(self.id, true) == Tally::Won {
            self.win(pre_vote);
            return;
        }
        let last_index = self.log.last_index();
        let last_term = self.log.last_term();
        for peer in self.peers() {
            let body = if pre_vote {
                MessageBody::PreVote {
                    last_index,
                    last_term,
                }
            } else {
                MessageBody::Vote {
                    last_index,
                    last_term,
                }
            };
            self.send_at(peer, vote_term, body);
        }
    }

    fn win(&mut self, pre_vote: bool) {
        if pre_vote {
            self.campaign(false);
        } else {
            self.become_leader();
        }
    }

    fn count_vote(&mut self, from: NodeId, granted: bool) -> Tally {
        // The first answer from a peer counts; duplicates change nothing.
        self.votes.entry(from).or_insert(granted);
        let granted_count = self.votes.values().filter(|granted| **granted).count();
        let rejected_count = self.votes.len() - granted_count;
        if granted_count >= self.quorum() {
            Tally::Won
        } else if rejected_count >= self.quorum() {
            Tally::Lost
        } else {
            Tally::Pending
        }
    }

    pub(crate) fn handle_vote_response(&mut self, from: NodeId, granted: bool) {
        let pre_vote = self.role == Role::PreCandidate;
        match self.count_vote(from, granted) {
            Tally::Won => self.win(pre_vote),
            Tally::Lost => self.become_follower(self.term, crate::message::NO_NODE),
            Tally::Pending => {}
        }
    }

    /// RequestVote and PreVote receiver (Raft paper, Figure 2): grant if we
    /// have not voted for someone else in this term and the candidate's log
    /// is at least as up-to-date as ours (5.4.1, the election restriction,
    /// which guarantees that the winner holds every committed entry).
    pub(crate) fn handle_vote_request(
        &mut self,
        from: NodeId,
        term: u64,
        pre_vote: bool,
        last_index: u64,
        last_term: u64,
    ) {
        let can_vote = self.vote == from
            || (self.vote == crate::message::NO_NODE
                && self.leader_id == crate::message::NO_NODE)
            // A pre-vote for a later term is not bound by this term's vote.
            || (pre_vote && term > self.term);
        if can_vote && self.log.is_up_to_date(last_index, last_term) {
            // Answer at the candidate's term so it counts the grant even
            // for a pre-vote, whose term we have not adopted.
            let body = if pre_vote {
                MessageBody::PreVoteResponse { reject: false }
            } else {
                MessageBody::VoteResponse { reject: false }
            };
            self.send_at(from, term, body);
            if !pre_vote {
                self.election_elapsed = 0;
                self.vote = from;
            }
        } else {
            let body = if pre_vote {
                MessageBody::PreVoteResponse { reject: true }
            } else {
                MessageBody::VoteResponse { reject: true }
            };
            self.send(from, body);
        }
    }
}
