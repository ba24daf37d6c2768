//! Checkers for Raft's safety properties (Raft paper, Figure 3), as pure
//! functions of what the nodes hold. The crate's simulation test uses them;
//! so can any host simulator that runs `RawNode`s.

use std::collections::BTreeMap;
use std::fmt;

use crate::message::{Entry, NodeId};

/// A broken Raft property, with the witnesses a person needs to see why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Election Safety: two leaders were elected in one term.
    ElectionSafety { term: u64, leaders: [NodeId; 2] },
    /// Log Matching: two logs hold an entry with the same index and term
    /// but differ at an earlier index.
    LogMatching {
        nodes: [NodeId; 2],
        matching_index: u64,
        differing_index: u64,
    },
    /// Leader Completeness: a leader lacks an entry committed in an
    /// earlier term.
    LeaderCompleteness {
        leader: NodeId,
        term: u64,
        missing: Entry,
    },
    /// State Machine Safety: two nodes applied different entries at one
    /// index.
    StateMachineSafety {
        index: u64,
        nodes: [NodeId; 2],
        entries: Box<[Entry; 2]>,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::ElectionSafety { term, leaders } => write!(
                f,
                "election safety: nodes {} and {} were both leader in term {term}",
                leaders[0], leaders[1]
            ),
            Violation::LogMatching {
                nodes,
                matching_index,
                differing_index,
            } => write!(
                f,
                "log matching: nodes {} and {} agree on the entry at {matching_index} but differ at {differing_index}",
                nodes[0], nodes[1]
            ),
            Violation::LeaderCompleteness {
                leader,
                term,
                missing,
            } => write!(
                f,
                "leader completeness: leader {leader} of term {term} lacks committed entry {} (term {})",
                missing.index, missing.term
            ),
            Violation::StateMachineSafety {
                index,
                nodes,
                entries,
            } => write!(
                f,
                "state machine safety: at index {index} node {} applied {:?} but node {} applied {:?}",
                nodes[0], entries[0], nodes[1], entries[1]
            ),
        }
    }
}

/// Election Safety (Raft paper, 5.2): at most one leader per term. Takes
/// every (term, leader) ever observed, in any order and with repeats.
pub fn check_election_safety(
    observations: impl IntoIterator<Item = (u64, NodeId)>,
) -> Result<(), Violation> {
    let mut leader_by_term: BTreeMap<u64, NodeId> = BTreeMap::new();
    for (term, leader) in observations {
        let first = *leader_by_term.entry(term).or_insert(leader);
        if first != leader {
            return Err(Violation::ElectionSafety {
                term,
                leaders: [first, leader],
            });
        }
    }
    Ok(())
}

/// Log Matching (Raft paper, 5.3): if two logs hold an entry with the same
/// index and term, they are identical up to it. Logs may start at different
/// indexes (compaction); only the overlap is compared.
pub fn check_log_matching(logs: &BTreeMap<NodeId, Vec<Entry>>) -> Result<(), Violation> {
    let nodes: Vec<(&NodeId, &Vec<Entry>)> = logs.iter().collect();
    for (i, (a, log_a)) in nodes.iter().enumerate() {
        for (b, log_b) in &nodes[i + 1..] {
            check_pair_matching([**a, **b], log_a, log_b)?;
        }
    }
    Ok(())
}

fn check_pair_matching(nodes: [NodeId; 2], a: &[Entry], b: &[Entry]) -> Result<(), Violation> {
    let by_index: BTreeMap<u64, &Entry> = b.iter().map(|entry| (entry.index, entry)).collect();
    // Walk down from the highest common index: the first matching entry
    // found must be preceded only by matching ones.
    let mut matching_index = None;
    for entry in a.iter().rev() {
        let Some(other) = by_index.get(&entry.index) else {
            continue;
        };
        match matching_index {
            None if other.term == entry.term => matching_index = Some(entry.index),
            Some(matching_index) if *other != entry => {
                return Err(Violation::LogMatching {
                    nodes,
                    matching_index,
                    differing_index: entry.index,
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// Leader Completeness (Raft paper, 5.4): a leader of term `term` holds
/// every entry committed in an earlier term. `committed` pairs each entry
/// known to be committed with a term by which it was known to be (the
/// applying node's term is such a bound); entries before `first_index`
/// (compacted into the leader's snapshot) are skipped.
pub fn check_leader_completeness(
    leader: NodeId,
    term: u64,
    leader_log: &[Entry],
    committed: &[(u64, Entry)],
) -> Result<(), Violation> {
    let by_index: BTreeMap<u64, &Entry> = leader_log
        .iter()
        .map(|entry| (entry.index, entry))
        .collect();
    let first_index = leader_log.first().map_or(u64::MAX, |entry| entry.index);
    for (known_by_term, entry) in committed {
        if *known_by_term >= term || entry.index < first_index {
            continue;
        }
        if by_index.get(&entry.index).map(|held| held.term) != Some(entry.term) {
            return Err(Violation::LeaderCompleteness {
                leader,
                term,
                missing: entry.clone(),
            });
        }
    }
    Ok(())
}

/// State Machine Safety (Raft paper, 5.4.3): no two nodes apply different
/// entries at the same index. Takes each node's applied entries (any
/// contiguous or gappy sequence, for example after a snapshot).
pub fn check_state_machine_safety(applied: &BTreeMap<NodeId, Vec<Entry>>) -> Result<(), Violation> {
    let mut first_seen: BTreeMap<u64, (NodeId, &Entry)> = BTreeMap::new();
    for (node, entries) in applied {
        for entry in entries {
            let (first_node, first) = *first_seen.entry(entry.index).or_insert((*node, entry));
            if first != entry {
                return Err(Violation::StateMachineSafety {
                    index: entry.index,
                    nodes: [first_node, *node],
                    entries: Box::new([first.clone(), entry.clone()]),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, data: u8) -> Entry {
        Entry {
            index,
            term,
            data: vec![data],
        }
    }

    #[test]
    fn each_checker_finds_its_violation() {
        assert!(check_election_safety([(1, 1), (2, 2), (1, 1)]).is_ok());
        assert!(check_election_safety([(1, 1), (1, 2)]).is_err());

        let good = BTreeMap::from([
            (1, vec![entry(1, 1, 1), entry(2, 1, 2)]),
            (2, vec![entry(1, 1, 1), entry(2, 2, 3)]),
        ]);
        assert!(check_log_matching(&good).is_ok());
        let bad = BTreeMap::from([
            (1, vec![entry(1, 1, 1), entry(2, 2, 2)]),
            (2, vec![entry(1, 1, 9), entry(2, 2, 2)]),
        ]);
        assert!(check_log_matching(&bad).is_err());
        assert!(check_state_machine_safety(&bad).is_err());

        let committed = [(3, entry(2, 1, 2))];
        assert!(check_leader_completeness(1, 4, &good[&1], &committed).is_ok());
        assert!(check_leader_completeness(2, 4, &good[&2], &committed).is_err());
        assert!(check_leader_completeness(2, 3, &good[&2], &committed).is_ok());
    }
}
