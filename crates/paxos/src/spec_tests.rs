//! Tests named after the part of Paxos they check (Paxos Made Simple,
//! Lamport 2001; section numbers are that paper's).

use lightcone_rng::Rng;

use crate::message::{Accepted, Ballot, Message, MessageBody, NodeId, Role, Value};
use crate::storage::Storage;
use crate::test_cluster::Cluster;

fn defaults(_: &mut crate::Config) {}

fn unsafe_leader(config: &mut crate::Config) {
    config.unsafe_ignore_promised_values = true;
}

fn cmd(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

fn accept_of(msg: &Message) -> Option<u64> {
    match &msg.body {
        MessageBody::Accept { slots, .. } => slots.first().map(|s| s.slot),
        _ => None,
    }
}

#[test]
fn section_3_a_leader_chooses_commands_in_slot_order_on_every_node() {
    let mut cluster = Cluster::new(3, defaults);
    cluster.campaign(1);
    assert_eq!(cluster.leaders(), vec![(1, 1)]);
    for i in 0..5 {
        cluster.node(1).propose(cmd(&format!("c{i}"))).unwrap();
    }
    cluster.deliver();
    // Followers learn the chosen prefix from the next heartbeat.
    cluster.tick(2);
    let expected: Vec<Vec<u8>> = (0..5).map(|i| cmd(&format!("c{i}"))).collect();
    for id in 1..=3 {
        assert_eq!(cluster.applied_data(id), expected, "node {id}");
    }
    assert!(cluster.disagreements().is_empty());
}

#[test]
fn section_3_phase_1_runs_once_per_ballot_not_once_per_slot() {
    let mut cluster = Cluster::new(3, defaults);
    cluster.campaign(1);
    for i in 0..20 {
        cluster.node(1).propose(cmd(&format!("c{i}"))).unwrap();
        cluster.deliver();
    }
    let prepares = cluster
        .delivered
        .iter()
        .filter(|m| matches!(m.body, MessageBody::Prepare { .. }))
        .count();
    assert_eq!(prepares, 2, "one prepare per peer for the whole log");
}

#[test]
fn proposals_before_a_ready_travel_in_one_accept_per_peer() {
    let mut cluster = Cluster::new(3, defaults);
    cluster.campaign(1);
    let before = cluster.delivered.len();
    for i in 0..10 {
        cluster.node(1).propose(cmd(&format!("c{i}"))).unwrap();
    }
    cluster.deliver();
    let accepts = cluster.delivered[before..]
        .iter()
        .filter(|m| accept_of(m).is_some())
        .count();
    assert_eq!(accepts, 2);
}

/// The classic scenario: under ballot b the leader got its value accepted
/// by a minority only, then failed. Any later leader whose quorum includes
/// one of those acceptors must adopt the value (2.2, P2c): it may have been
/// chosen, for all the new leader knows.
fn minority_accepted_then_new_leader(configure: fn(&mut crate::Config)) -> Cluster {
    let mut cluster = Cluster::new(5, configure);
    cluster.campaign(1);
    assert_eq!(cluster.leaders(), vec![(1, 1)]);
    let slot = cluster.node(1).propose(cmd("v")).unwrap();
    // The accept reaches node 2 only.
    cluster.deliver_with(|m| m.from != 1 || m.to == 2 || accept_of(m).is_none());
    assert_eq!(cluster.nodes[&1].chosen(slot), None, "2 of 5 accepted");
    cluster.isolate(1);
    // Node 3 leads next; its quorum is {2, 3, 4}, node 5's promise is lost.
    cluster.node(3).campaign();
    cluster.deliver_with(|m| m.from != 5 && m.to != 5);
    assert_eq!(cluster.nodes[&3].role(), Role::Leader);
    cluster.node(3).propose(cmd("w")).unwrap();
    cluster.tick(4);
    cluster
}

#[test]
fn section_2_2_a_value_accepted_by_a_minority_is_adopted_by_the_next_leader() {
    let cluster = minority_accepted_then_new_leader(defaults);
    for id in 2..=5 {
        assert_eq!(
            cluster.applied_data(id),
            vec![cmd("v"), cmd("w")],
            "node {id}"
        );
    }
    assert!(cluster.disagreements().is_empty());
}

#[test]
fn the_broken_leader_proposes_its_own_value_over_the_reported_one() {
    let cluster = minority_accepted_then_new_leader(unsafe_leader);
    // Not chosen before, so this is no disagreement yet, but "v" is lost.
    assert_eq!(cluster.applied_data(3), vec![cmd("w")]);
}

/// The same when the value was chosen (a majority accepted it) but no one
/// but the old leader learned so: the new leader must choose it again.
fn chosen_unannounced_then_new_leader(configure: fn(&mut crate::Config)) -> Cluster {
    let mut cluster = Cluster::new(5, configure);
    cluster.campaign(1);
    let slot = cluster.node(1).propose(cmd("v")).unwrap();
    // Accepts reach 2 and 3: with 1 itself, a majority.
    cluster.deliver_with(|m| m.from != 1 || m.to == 2 || m.to == 3 || accept_of(m).is_none());
    assert_eq!(
        cluster.nodes[&1].chosen(slot),
        Some(&Value::Command(cmd("v")))
    );
    assert_eq!(cluster.applied_data(1), vec![cmd("v")]);
    cluster.isolate(1);
    // Node 5 leads with the promises of 3, 4 and 5: only 3 saw "v".
    cluster.node(5).campaign();
    cluster.deliver_with(|m| m.from != 2 && m.to != 2);
    assert_eq!(cluster.nodes[&5].role(), Role::Leader);
    cluster.node(5).propose(cmd("w")).unwrap();
    cluster.tick(4);
    cluster.heal();
    cluster.tick(30);
    cluster
}

#[test]
fn section_2_2_a_chosen_value_survives_a_leader_that_never_announced_it() {
    let cluster = chosen_unannounced_then_new_leader(defaults);
    for id in 1..=5 {
        assert_eq!(
            cluster.applied_data(id),
            vec![cmd("v"), cmd("w")],
            "node {id}"
        );
    }
    assert!(cluster.disagreements().is_empty());
}

#[test]
fn the_broken_leader_chooses_a_second_value_for_a_chosen_slot() {
    let cluster = chosen_unannounced_then_new_leader(unsafe_leader);
    let problems = cluster.disagreements();
    assert!(
        !problems.is_empty(),
        "two values chosen for slot 1 should show"
    );
    assert!(
        problems.iter().any(|p| p.contains("slot 1")),
        "{problems:?}"
    );
}

#[test]
fn a_higher_ballot_ends_the_old_leaders_reign() {
    let mut cluster = Cluster::new(3, defaults);
    cluster.campaign(1);
    cluster.campaign(2);
    assert_eq!(cluster.leaders(), vec![(2, 2)]);
    // The old leader's proposal is refused.
    assert!(cluster.node(1).propose(cmd("late")).is_err());
}

#[test]
fn a_stale_leader_is_nacked_and_steps_down() {
    let mut cluster = Cluster::new(3, defaults);
    cluster.campaign(1);
    cluster.isolate(1);
    cluster.campaign(2);
    cluster.heal();
    // Node 1 still thinks it leads; its accept meets a higher promise.
    assert_eq!(cluster.nodes[&1].role(), Role::Leader);
    cluster.node(1).propose(cmd("stale")).unwrap();
    cluster.deliver();
    assert_eq!(cluster.nodes[&1].role(), Role::Follower);
    assert_eq!(cluster.leaders(), vec![(2, 2)]);
    cluster.node(2).propose(cmd("fresh")).unwrap();
    cluster.tick(4);
    for id in 1..=3 {
        assert_eq!(cluster.applied_data(id), vec![cmd("fresh")], "node {id}");
    }
}

#[test]
fn leader_change_by_timeout_and_check_quorum() {
    let mut cluster = Cluster::new(3, defaults);
    cluster.tick(40);
    let leaders = cluster.leaders();
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    let old = leaders[0].1;
    cluster.isolate(old);
    cluster.tick(60);
    let leaders = cluster.leaders();
    assert_eq!(
        leaders.len(),
        1,
        "the cut-off leader stepped down: {leaders:?}"
    );
    assert_ne!(leaders[0].1, old);
}

#[test]
fn a_lagging_replica_catches_up_on_the_chosen_values_it_missed() {
    let mut cluster = Cluster::new(3, defaults);
    cluster.campaign(1);
    cluster.isolate(3);
    for i in 0..600 {
        cluster.node(1).propose(cmd(&format!("c{i}"))).unwrap();
        if i % 50 == 0 {
            cluster.deliver();
        }
    }
    cluster.tick(2);
    assert!(cluster.applied_data(3).is_empty());
    cluster.heal();
    // 256 values per catch-up message, one message per heartbeat.
    cluster.tick(10);
    assert_eq!(cluster.applied_data(3).len(), 600);
    assert_eq!(cluster.applied_data(3), cluster.applied_data(1));
    let catch_ups = cluster
        .delivered
        .iter()
        .filter(|m| matches!(m.body, MessageBody::Chosen { .. }))
        .count();
    assert!(catch_ups >= 3, "{catch_ups}");
}

#[test]
fn a_restarted_acceptor_keeps_its_promise_and_accepted_values() {
    let mut cluster = Cluster::new(3, defaults);
    cluster.campaign(2);
    let promised = cluster.nodes[&1].status().promised;
    assert_eq!(promised, Ballot::new(1, 2));
    cluster.node(2).propose(cmd("x")).unwrap();
    cluster.deliver_with(|m| m.to != 3 && !matches!(m.body, MessageBody::Heartbeat { .. }));
    cluster.restart(1);
    assert_eq!(cluster.nodes[&1].status().promised, promised);
    let accepted: Vec<Accepted> = cluster.nodes[&1].storage().accepted();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    // A lower ballot is refused after the restart.
    cluster.node(1).step(Message {
        from: 3,
        to: 1,
        ballot: Ballot::new(1, 1),
        body: MessageBody::Accept {
            slots: vec![],
            commit: 0,
        },
    });
    cluster.process();
    let nacked = cluster
        .in_flight
        .iter()
        .any(|m| m.to == 3 && matches!(m.body, MessageBody::Nack { promised: p } if p == promised));
    assert!(nacked);
}

#[test]
fn a_restarted_node_replays_its_chosen_values() {
    let mut cluster = Cluster::new(3, defaults);
    cluster.campaign(1);
    for i in 0..3 {
        cluster.node(1).propose(cmd(&format!("c{i}"))).unwrap();
    }
    cluster.tick(3);
    let before = cluster.applied_data(2);
    cluster.applied.remove(&2);
    cluster.restart(2);
    assert_eq!(cluster.applied_data(2), before);
}

/// Agreement under chaos: random delivery order, loss, duplication,
/// partitions, restarts and competing candidates, over many seeds; every
/// node that applies a slot applies the same value.
#[test]
fn agreement_holds_under_loss_duplication_reordering_and_crashes() {
    for seed in 0..60 {
        let cluster = chaos(seed, defaults);
        let problems = cluster.disagreements();
        assert!(problems.is_empty(), "seed {seed}: {problems:?}");
        // Liveness once healed: the nodes agree on a long common prefix.
        let lengths: Vec<usize> = (1..=5).map(|id| cluster.applied_data(id).len()).collect();
        assert!(
            lengths.iter().all(|l| *l == lengths[0]),
            "seed {seed}: {lengths:?}"
        );
        assert!(lengths[0] >= 20, "seed {seed}: only {lengths:?} chosen");
    }
}

#[test]
fn the_same_chaos_catches_the_broken_leader_within_20_seeds() {
    let caught = (0..20).find(|seed| !chaos(*seed, unsafe_leader).disagreements().is_empty());
    assert!(caught.is_some(), "no disagreement in 20 seeds");
}

/// 150 rounds of ticks, proposals by every leader, random restarts,
/// partitions and campaigns, and chaotic delivery; then healed.
fn chaos(seed: u64, configure: fn(&mut crate::Config)) -> Cluster {
    let mut rng = Rng::new(seed, 1);
    let mut cluster = Cluster::new(5, configure);
    let mut proposed = 0;
    for round in 0..150u64 {
        for node in cluster.nodes.values_mut() {
            node.tick();
        }
        if rng.below(10) == 0 {
            let victim = 1 + rng.below(5) as NodeId;
            cluster.restart(victim);
        }
        if rng.below(15) == 0 {
            cluster.heal();
            cluster.isolate(1 + rng.below(5) as NodeId);
        }
        if rng.below(20) == 0 {
            let who = 1 + rng.below(5) as NodeId;
            cluster.node(who).campaign();
        }
        let leaders: Vec<NodeId> = cluster.leaders().iter().map(|l| l.1).collect();
        for leader in leaders {
            if cluster
                .node(leader)
                .propose(cmd(&format!("{seed}-{round}")))
                .is_ok()
            {
                proposed += 1;
            }
        }
        cluster.deliver_chaotic(&mut rng, 10, 10);
    }
    cluster.heal();
    cluster.tick(60);
    assert!(proposed > 0);
    cluster
}
