//! Tests named after the sections of the Raft paper (Ongaro and Ousterhout,
//! "In Search of an Understandable Consensus Algorithm", 2014) and of
//! Ongaro's dissertation (2014) that they check.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::invariants::check_state_machine_safety;
use crate::message::{Message, MessageBody, Role};
use crate::raw_node::RawNode;
use crate::storage::Storage;
use crate::test_cluster::Cluster;

/// The plain algorithm of the paper: no pre-vote, no check-quorum, so that
/// `campaign` always starts a real election.
fn plain(config: &mut Config) {
    config.pre_vote = false;
    config.check_quorum = false;
}

fn vote_request(from: u64, to: u64, term: u64, last_index: u64, last_term: u64) -> Message {
    Message {
        from,
        to,
        term,
        body: MessageBody::Vote {
            last_index,
            last_term,
        },
    }
}

#[test]
fn raft_5_2_a_candidate_with_a_majority_becomes_the_only_leader() {
    let mut cluster = Cluster::new(3, plain);
    cluster.campaign(1);
    assert_eq!(cluster.leaders(), vec![(1, 1)]);
    for id in [2, 3] {
        assert_eq!(cluster.nodes[&id].leader_id(), Some(1));
        assert_eq!(cluster.nodes[&id].term(), 1);
    }
}

#[test]
fn raft_5_2_a_node_votes_at_most_once_per_term() {
    let mut cluster = Cluster::new(3, plain);
    cluster.node(3).step(vote_request(1, 3, 1, 0, 0));
    cluster.node(3).step(vote_request(2, 3, 1, 0, 0));
    // A duplicate of the granted request is granted again (idempotent).
    cluster.node(3).step(vote_request(1, 3, 1, 0, 0));
    let ready = cluster.node(3).ready();
    let answers: Vec<(u64, MessageBody)> =
        ready.messages.into_iter().map(|m| (m.to, m.body)).collect();
    assert_eq!(
        answers,
        vec![
            (1, MessageBody::VoteResponse { reject: false }),
            (2, MessageBody::VoteResponse { reject: true }),
            (1, MessageBody::VoteResponse { reject: false }),
        ]
    );
    assert_eq!(ready.hard_state.map(|hs| hs.vote), Some(1));
}

#[test]
fn raft_5_2_randomized_timeouts_elect_one_leader_deterministically() {
    let run = || {
        let mut cluster = Cluster::new(5, |config| config.seed = 1000 + config.id);
        cluster.tick(60);
        cluster.leaders()
    };
    let leaders = run();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    assert_eq!(run(), leaders, "same seeds, same election");
}

#[test]
fn raft_5_2_a_restarted_node_keeps_its_term_and_vote() {
    let mut cluster = Cluster::new(3, plain);
    cluster.node(3).step(vote_request(1, 3, 1, 0, 0));
    cluster.process();
    // Crash: only what was persisted survives.
    let storage = cluster.nodes[&3].storage().clone();
    let mut restarted = RawNode::new(Config::new(3, vec![1, 2, 3]), storage).unwrap();
    assert_eq!(restarted.term(), 1);
    restarted.step(vote_request(2, 3, 1, 0, 0));
    let ready = restarted.ready();
    assert_eq!(
        ready.messages[0].body,
        MessageBody::VoteResponse { reject: true }
    );
}

#[test]
fn raft_5_3_followers_apply_the_leaders_entries_in_order() {
    let mut cluster = Cluster::new(3, plain);
    cluster.campaign(1);
    for data in [b"a", b"b", b"c"] {
        cluster.node(1).propose(data.to_vec()).unwrap();
    }
    cluster.deliver();
    let expected = vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()];
    for id in 1..=3 {
        assert_eq!(cluster.applied_data(id), expected, "node {id}");
    }
    assert!(matches!(
        cluster.node(2).propose(b"d".to_vec()),
        Err(crate::Error::ProposalDropped {
            leader_id: Some(1),
            ..
        })
    ));
}

#[test]
fn raft_5_3_conflict_hints_skip_a_whole_term_per_round_trip() {
    // Node 2 holds a long uncommitted tail of terms 2 and 3 that the leader
    // never had; stepping back one index per rejection would take 18
    // round trips.
    let leader: &[u64] = &[1, 1, 5, 5, 5, 5, 5, 5, 5, 5];
    let lagging: &[u64] = &[1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3];
    let storages = Cluster::storages_with_logs(&[leader, lagging, leader], 5, 2);
    let mut cluster = Cluster::with_storages(storages, plain);
    cluster.campaign(1);
    let rejections = cluster
        .delivered
        .iter()
        .filter(|m| {
            m.from == 2 && matches!(m.body, MessageBody::AppendResponse { reject: true, .. })
        })
        .count();
    assert!(rejections <= 2, "{rejections} rejections");
    let log_of = |cluster: &Cluster, id| cluster.nodes[&id].entries(1, 100).unwrap();
    assert_eq!(log_of(&cluster, 2), log_of(&cluster, 1));
}

#[test]
fn raft_5_4_1_a_candidate_with_a_stale_log_cannot_win() {
    let storages = Cluster::storages_with_logs(&[&[1], &[1, 2], &[1, 2]], 2, 1);
    let mut cluster = Cluster::with_storages(storages, plain);
    cluster.campaign(1);
    assert!(cluster.leaders().is_empty(), "voters must refuse node 1");
    cluster.campaign(2);
    assert_eq!(cluster.leaders(), vec![(4, 2)]);
}

/// Raft paper, 5.4.2 and Figure 8. Terms 1..3 have happened: S1 led term 2
/// and put entry 2@2 on S2; S5 led term 3 and wrote 2@3 only locally. Now
/// S1 is elected for term 4 and gets 2@2 onto S3, so it sits on a majority
/// (S1, S2, S3), while S1's own term-4 entry does not. Returns the cluster
/// after S1 crashes and S5 wins term 5, and S1's commit index at its peak.
fn figure_8(unsafe_commit: bool) -> (Cluster, u64) {
    let storages = Cluster::storages_with_logs(&[&[1, 2], &[1, 2], &[1], &[1], &[1, 3]], 3, 1);
    let mut cluster = Cluster::with_storages(storages, |config| {
        plain(config);
        config.unsafe_commit_previous_term = unsafe_commit;
    });
    cluster.isolate(5);
    // S1's appends reach S2 and S3 only as far as index 2: that is the
    // state of the figure's (c), where S1 replicated 2@2 before appending
    // an entry of term 4. S4 hears nothing but votes.
    cluster.node(1).campaign();
    cluster.deliver_with(|msg| match &mut msg.body {
        MessageBody::Append {
            entries,
            prev_index,
            ..
        } if msg.from == 1 => {
            entries.retain(|entry| entry.index <= 2);
            msg.to != 4 && *prev_index <= 2
        }
        _ => true,
    });
    assert_eq!(cluster.leaders(), vec![(4, 1)]);
    let s1_commit = cluster.commit(1);
    // (d): S1 crashes; S5 is elected with the votes of S2, S3 and S4 (its
    // last term 3 beats their 2) and overwrites index 2 with 2@3.
    cluster.heal();
    cluster.isolate(1);
    cluster.campaign(5);
    if cluster.leaders().iter().all(|(_, id)| *id != 5) {
        cluster.campaign(5);
    }
    assert_eq!(cluster.leaders().last(), Some(&(5, 5)));
    cluster.node(5).propose(b"after".to_vec()).unwrap();
    cluster.deliver();
    (cluster, s1_commit)
}

#[test]
fn raft_5_4_2_figure_8_a_previous_term_entry_is_not_committed_by_counting() {
    let (cluster, s1_commit) = figure_8(false);
    assert_eq!(s1_commit, 1, "2@2 is on a majority but must not commit");
    assert!(check_state_machine_safety(&cluster.applied).is_ok());
    assert_eq!(cluster.nodes[&2].entries(2, 3).unwrap()[0].term, 3);
}

#[test]
fn raft_5_4_2_figure_8_unsafe_commit_previous_term_breaks_state_machine_safety() {
    let (cluster, s1_commit) = figure_8(true);
    assert_eq!(s1_commit, 2, "the unsafe leader commits 2@2 by counting");
    let violation = check_state_machine_safety(&cluster.applied).unwrap_err();
    assert!(violation.to_string().contains("index 2"), "{violation}");
}

#[test]
fn raft_7_a_lagging_follower_catches_up_by_install_snapshot() {
    let mut cluster = Cluster::new(3, plain);
    cluster.campaign(1);
    cluster.isolate(3);
    for i in 0..5u8 {
        cluster.node(1).propose(vec![b'a' + i]).unwrap();
    }
    cluster.deliver();
    let applied = cluster.nodes[&1].status().applied;
    assert_eq!(applied, 6);
    cluster
        .node(1)
        .compact(applied, b"state@6".to_vec())
        .unwrap();
    assert_eq!(cluster.nodes[&1].storage().first_index(), 7);
    cluster.heal();
    cluster.node(1).propose(b"f".to_vec()).unwrap();
    cluster.tick(4);
    assert!(cluster
        .delivered
        .iter()
        .any(|m| m.to == 3 && matches!(m.body, MessageBody::InstallSnapshot { .. })));
    assert_eq!(&*cluster.nodes[&3].storage().snapshot().data, b"state@6");
    assert_eq!(cluster.applied_data(3), vec![b"f".to_vec()]);
    assert_eq!(cluster.nodes[&3].status().applied, 7);
}

#[test]
fn raft_7_a_follower_caught_up_by_a_snapshot_is_not_probed_forever() {
    // The snapshot's acknowledgement moves the follower to Probe; the
    // probe after it is acknowledged at the same index. That ack must
    // settle the follower in Replicate, not send the same probe again: with
    // nothing new to send, the probes went back and forth without end (and
    // a simulation with zero latency never left that instant).
    let mut cluster = Cluster::new(3, plain);
    cluster.campaign(1);
    cluster.isolate(3);
    for i in 0..5u8 {
        cluster.node(1).propose(vec![b'a' + i]).unwrap();
    }
    cluster.deliver();
    cluster.node(1).compact(6, b"state@6".to_vec()).unwrap();
    cluster.heal();
    let before = cluster.delivered.len();
    cluster.tick(4);
    assert_eq!(cluster.nodes[&3].status().applied, 6);
    let appends_to_3 = cluster.delivered[before..]
        .iter()
        .filter(|m| m.to == 3 && matches!(m.body, MessageBody::Append { .. }))
        .count();
    assert!(
        appends_to_3 <= 4,
        "{appends_to_3} appends to an idle, caught-up follower"
    );
}

#[test]
fn compacting_past_the_applied_index_is_refused() {
    let mut cluster = Cluster::new(1, plain);
    cluster.campaign(1);
    assert!(cluster.node(1).compact(5, Vec::new()).is_err());
}

/// Dissertation 9.6: a node cut off from the others times out again and
/// again; without pre-vote each timeout raises its term, and when it
/// rejoins that term deposes the leader.
fn rejoin_after_partition(configure: fn(&mut Config)) -> Cluster {
    let mut cluster = Cluster::new(3, configure);
    cluster.campaign(1);
    cluster.isolate(3);
    cluster.tick(100);
    cluster.heal();
    cluster.tick(30);
    cluster
}

#[test]
fn pre_vote_a_rejoining_node_does_not_disrupt_the_term() {
    let cluster = rejoin_after_partition(|_| {});
    assert_eq!(cluster.leaders(), vec![(1, 1)]);
    assert_eq!(cluster.nodes[&3].term(), 1);
    assert_eq!(cluster.nodes[&3].leader_id(), Some(1));
}

#[test]
fn without_pre_vote_a_rejoining_node_raises_the_term() {
    let cluster = rejoin_after_partition(plain);
    assert!(cluster.nodes[&1].term() > 1, "the old term was disrupted");
}

#[test]
fn check_quorum_a_leader_cut_off_from_the_majority_steps_down() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.campaign(1);
    cluster.isolate(1);
    cluster.tick(25);
    assert_eq!(cluster.nodes[&1].role(), Role::Follower);
}

#[test]
fn read_index_is_answered_after_a_heartbeat_round_at_the_commit_index() {
    let mut cluster = Cluster::new(3, plain);
    cluster.campaign(1);
    cluster.node(1).propose(b"x".to_vec()).unwrap();
    cluster.deliver();
    cluster.node(1).read_index(b"r1".to_vec()).unwrap();
    cluster.process();
    assert!(cluster.read_states[&1].is_empty(), "needs a quorum first");
    assert!(cluster
        .in_flight
        .iter()
        .all(|m| matches!(m.body, MessageBody::Heartbeat { .. })));
    cluster.deliver();
    let commit = cluster.commit(1);
    assert_eq!(commit, 2);
    let read = &cluster.read_states[&1][0];
    assert_eq!((read.index, read.ctx.as_slice()), (commit, &b"r1"[..]));
    // A follower forwards to the leader and gets the leader's index.
    cluster.node(2).read_index(b"r2".to_vec()).unwrap();
    cluster.deliver();
    assert_eq!(cluster.read_states[&2][0].index, commit);
}

#[test]
fn read_index_a_read_whose_heartbeats_were_lost_is_confirmed_by_the_next_heartbeat() {
    // Section 8: the leader must hear from a majority after the read
    // arrived. If that round's messages are lost, the periodic heartbeat
    // carries the read's context and confirms it.
    let mut cluster = Cluster::new(3, plain);
    cluster.campaign(1);
    cluster.node(1).propose(b"x".to_vec()).unwrap();
    cluster.deliver();
    cluster.node(1).read_index(b"r1".to_vec()).unwrap();
    cluster.deliver_with(|msg| !matches!(msg.body, MessageBody::Heartbeat { .. }));
    assert!(cluster.read_states[&1].is_empty(), "the round was lost");
    // Plain config: a heartbeat every 2 ticks.
    cluster.tick(2);
    let read = &cluster.read_states[&1][0];
    assert_eq!(read.ctx.as_slice(), &b"r1"[..]);
    assert_eq!(read.index, cluster.commit(1));
}

/// A leader cut off from the majority after the others elected a new one.
fn deposed_leader_reads(configure: fn(&mut Config)) -> (Cluster, u64) {
    let mut cluster = Cluster::new(3, configure);
    cluster.campaign(1);
    cluster.isolate(1);
    cluster.campaign(2);
    cluster.node(2).propose(b"y".to_vec()).unwrap();
    cluster.deliver();
    cluster.node(1).read_index(b"stale?".to_vec()).unwrap();
    cluster.deliver();
    let new_commit = cluster.commit(2);
    (cluster, new_commit)
}

#[test]
fn read_index_a_deposed_leader_cannot_confirm_a_read() {
    let (cluster, _) = deposed_leader_reads(plain);
    assert_eq!(
        cluster.nodes[&1].role(),
        Role::Leader,
        "it does not know yet"
    );
    assert!(cluster.read_states[&1].is_empty());
}

#[test]
fn unsafe_local_reads_a_deposed_leader_serves_a_stale_read() {
    let (cluster, new_commit) = deposed_leader_reads(|config| {
        plain(config);
        config.unsafe_local_reads = true;
    });
    let read = &cluster.read_states[&1][0];
    assert!(read.index < new_commit, "{} vs {new_commit}", read.index);
}

#[test]
fn read_index_waits_for_the_new_leaders_first_commit() {
    // Raft paper, 8: until its no-op commits, a new leader does not know
    // which entries are committed, so it cannot answer reads.
    let mut cluster = Cluster::new(3, plain);
    cluster.node(1).campaign();
    cluster.deliver_with(|msg| !matches!(msg.body, MessageBody::Append { .. }));
    assert_eq!(cluster.leaders(), vec![(1, 1)]);
    cluster.node(1).read_index(b"r".to_vec()).unwrap();
    cluster.deliver_with(|msg| !matches!(msg.body, MessageBody::Append { .. }));
    assert!(cluster.read_states[&1].is_empty());
    cluster.tick(2);
    assert_eq!(cluster.read_states[&1][0].index, 1);
}

#[test]
fn lease_reads_are_answered_without_a_message_while_the_lease_holds() {
    let mut cluster = Cluster::new(3, |config| {
        config.lease_reads = true;
        config.seed = 7 + config.id;
    });
    // Started nodes do not vote for one election timeout (see below).
    for node in cluster.nodes.values_mut() {
        for _ in 0..10 {
            node.tick();
        }
    }
    cluster.campaign(1);
    cluster.tick(2);
    cluster.node(1).read_index(b"r".to_vec()).unwrap();
    cluster.process();
    assert!(cluster.in_flight.is_empty());
    assert_eq!(cluster.read_states[&1].len(), 1);
    // Cut off, the leader's lease runs out before anyone else can be
    // elected, and reads go back to needing a quorum.
    cluster.isolate(1);
    cluster.tick(8);
    // (It may also have stepped down by now, check-quorum, and refuse.)
    let _ = cluster.node(1).read_index(b"r2".to_vec());
    cluster.deliver();
    assert_eq!(cluster.read_states[&1].len(), 1);
}

#[test]
fn test_cluster_applied_logs_agree() {
    let mut cluster = Cluster::new(5, |_| {});
    cluster.tick(40);
    let leader = cluster.leaders()[0].1;
    for i in 0..10u8 {
        cluster.node(leader).propose(vec![i + 1]).unwrap();
    }
    cluster.deliver();
    let applied: BTreeMap<_, _> = cluster.applied.clone();
    assert!(check_state_machine_safety(&applied).is_ok());
    assert!(applied.values().all(|entries| entries.len() == 11));
}

#[test]
fn lease_reads_a_restarted_node_waits_an_election_timeout_before_voting() {
    let mut cluster = Cluster::new(3, |config| config.lease_reads = true);
    cluster.node(3).step(vote_request(1, 3, 1, 0, 0));
    assert!(
        cluster.node(3).ready().messages.is_empty(),
        "ignored at first"
    );
    for _ in 0..10 {
        cluster.node(3).tick();
    }
    cluster.node(3).step(vote_request(1, 3, 1, 0, 0));
    let answers = cluster.node(3).ready().messages;
    assert_eq!(answers[0].body, MessageBody::VoteResponse { reject: false });
}
