//! Process mode: a cluster whose nodes persist to `FileStorage` survives a
//! restart of every node (Raft paper, Figure 2: term, vote and log are
//! persistent state) and goes on committing.

use std::collections::BTreeMap;
use std::path::Path;

use lightcone_raft::{persist_ready, Config, FileStorage, Message, NodeId, RawNode, Role};

type Nodes = BTreeMap<NodeId, RawNode<FileStorage>>;

fn open(dir: &Path) -> Nodes {
    (1..=3)
        .map(|id| {
            let storage = FileStorage::open(dir.join(format!("n{id}"))).unwrap();
            let node = RawNode::new(Config::new(id, vec![1, 2, 3]), storage).unwrap();
            (id, node)
        })
        .collect()
}

/// Runs the Ready loop of every node and delivers messages until quiet;
/// returns the data each node applied.
fn settle(nodes: &mut Nodes, applied: &mut BTreeMap<NodeId, Vec<Vec<u8>>>) {
    let mut in_flight: Vec<Message> = Vec::new();
    for _ in 0..1000 {
        for (id, node) in nodes.iter_mut() {
            while node.has_ready() {
                let ready = node.ready();
                persist_ready(node.storage_mut(), &ready).unwrap();
                in_flight.extend(ready.messages.iter().cloned());
                let data = ready.committed_entries.iter().filter(|e| !e.is_noop());
                let log = applied.entry(*id).or_default();
                log.extend(data.map(|e| e.data.clone()));
                node.advance(ready);
            }
        }
        if in_flight.is_empty() {
            return;
        }
        for msg in std::mem::take(&mut in_flight) {
            nodes.get_mut(&msg.to).unwrap().step(msg);
        }
    }
    panic!("the cluster does not settle");
}

fn elect(nodes: &mut Nodes, applied: &mut BTreeMap<NodeId, Vec<Vec<u8>>>) -> NodeId {
    for _ in 0..100 {
        for node in nodes.values_mut() {
            node.tick();
        }
        settle(nodes, applied);
        if let Some(node) = nodes.values().find(|n| n.role() == Role::Leader) {
            return node.id();
        }
    }
    panic!("no leader elected");
}

#[test]
fn a_cluster_restarted_from_files_keeps_its_state_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut applied = BTreeMap::new();
    let (term, commit) = {
        let mut nodes = open(dir.path());
        let leader = elect(&mut nodes, &mut applied);
        for value in [b"a", b"b"] {
            nodes
                .get_mut(&leader)
                .unwrap()
                .propose(value.to_vec())
                .unwrap();
        }
        settle(&mut nodes, &mut applied);
        // Let the followers learn the final commit index by a heartbeat.
        for _ in 0..3 {
            for node in nodes.values_mut() {
                node.tick();
            }
            settle(&mut nodes, &mut applied);
        }
        let leader = &nodes[&leader];
        (leader.term(), leader.status().hard_state.commit)
    };
    // Every process restarts; its state machine starts empty again and
    // replays the committed log.
    let mut nodes = open(dir.path());
    for node in nodes.values() {
        assert_eq!(node.term(), term);
        assert_eq!(node.status().hard_state.commit, commit);
        assert_eq!(node.status().last_index, 3);
    }
    let mut replayed = BTreeMap::new();
    let leader = elect(&mut nodes, &mut replayed);
    nodes
        .get_mut(&leader)
        .unwrap()
        .propose(b"c".to_vec())
        .unwrap();
    settle(&mut nodes, &mut replayed);
    for _ in 0..3 {
        for node in nodes.values_mut() {
            node.tick();
        }
        settle(&mut nodes, &mut replayed);
    }
    for id in 1..=3 {
        assert_eq!(
            replayed[&id],
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()],
            "node {id}"
        );
    }
}
