//! Stable storage behind a trait, and the in-memory implementation used by
//! simulations and tests.
//!
//! Raft reads its stable log through [`Storage`]; the host writes to it
//! while handling a [`crate::Ready`] (entries, hard state, snapshot) and when
//! compacting. A storage holds one snapshot and the log entries after it.
//!
//! Raft looks up the first index and the terms of entries on nearly every
//! message, so those lookups read the snapshot's metadata only
//! ([`Storage::snapshot_metadata`]). The snapshot's data grows with the
//! state machine; it is read only to send it to a follower that is behind,
//! and then shared, not copied (`Snapshot::data` is an `Arc`).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::message::{Entry, HardState, Snapshot, SnapshotMetadata};

/// The durable state of one Raft node.
///
/// Writes must be durable when they return: Raft sends the messages of a
/// `Ready` only after the host persisted it, and a vote or an acknowledged
/// entry that is forgotten in a crash breaks safety (Raft paper, Figure 2).
pub trait Storage {
    /// The hard state last written (default when none).
    fn hard_state(&self) -> HardState;
    /// Where the current snapshot ends (index and term 0 when none).
    /// Every first-index and term lookup comes here, so it must be O(1)
    /// and must not touch the snapshot's data.
    fn snapshot_metadata(&self) -> SnapshotMetadata;
    /// The current snapshot (the empty snapshot at 0 when none). Raft asks
    /// for it only to send it to a follower that is behind the log start
    /// (Raft paper, 7). Hand out the data shared (clone the `Arc`), not
    /// copied.
    fn snapshot(&self) -> Snapshot;
    /// The entries `[low, high)`.
    fn entries(&self, low: u64, high: u64) -> Result<Vec<Entry>>;
    /// The term of the entry at `index`; the snapshot's term at its index.
    fn term(&self, index: u64) -> Result<u64>;
    /// The first index held in the log: the snapshot index + 1.
    fn first_index(&self) -> u64 {
        self.snapshot_metadata().index + 1
    }
    /// The last index held (the snapshot index when the log is empty).
    fn last_index(&self) -> u64;

    /// Appends `entries` (consecutive), first dropping any held entry at or
    /// after `entries[0].index`: a new leader may overwrite a follower's
    /// uncommitted suffix (Raft paper, 5.3).
    fn append(&mut self, entries: &[Entry]) -> Result<()>;
    /// Replaces the hard state.
    fn set_hard_state(&mut self, hard_state: HardState) -> Result<()>;
    /// Replaces the whole log by `snapshot` (a follower's InstallSnapshot,
    /// Raft paper 7): entries it covers are dropped, and so are the others,
    /// because the leader will resend them.
    fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<()>;
    /// Log compaction (Raft paper, 7): stores `data` as the snapshot at
    /// `index` and drops entries up to `index`. The caller guarantees that
    /// `index` is applied.
    fn compact(&mut self, index: u64, data: Arc<[u8]>) -> Result<()>;

    /// Persists what one [`crate::Ready`] makes durable, in the order
    /// recovery needs: `snapshot`, then `entries`, then `hard_state`.
    /// The default makes the three calls; a storage on disk overrides it to
    /// write them together, with one fsync ([`crate::FileStorage`]).
    fn persist(
        &mut self,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
        hard_state: Option<HardState>,
    ) -> Result<()> {
        if let Some(snapshot) = snapshot {
            self.apply_snapshot(snapshot.clone())?;
        }
        self.append(entries)?;
        if let Some(hard_state) = hard_state {
            self.set_hard_state(hard_state)?;
        }
        Ok(())
    }
}

/// A [`Storage`] in memory. Cloning it is what a simulated crash keeps: the
/// simulator clones the storage at the crash and restarts the node from the
/// clone. The clone shares the snapshot's data and copies the entries after
/// it (at most the host's compaction interval).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStorage {
    hard_state: HardState,
    snapshot: Snapshot,
    /// The entries after the snapshot, `entries[i].index == snapshot index + 1 + i`.
    entries: Vec<Entry>,
}

impl MemoryStorage {
    /// An empty storage: term 0, no vote, empty log.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// A storage holding `entries` (which must start at index 1) and
    /// `hard_state`; handy for setting up scenarios in tests.
    pub fn with_log(hard_state: HardState, entries: Vec<Entry>) -> MemoryStorage {
        let mut storage = MemoryStorage {
            hard_state,
            ..MemoryStorage::default()
        };
        storage.append(&entries).expect("entries start at index 1");
        storage
    }

    /// All entries held after the snapshot.
    pub fn log(&self) -> &[Entry] {
        &self.entries
    }

    fn snapshot_index(&self) -> u64 {
        self.snapshot.metadata.index
    }

    fn check_range(&self, index: u64) -> Result<usize> {
        let snapshot_index = self.snapshot_index();
        if index <= snapshot_index {
            return Err(Error::Compacted {
                index,
                snapshot_index,
            });
        }
        if index > self.last_index() {
            return Err(Error::Unavailable {
                index,
                last_index: self.last_index(),
            });
        }
        Ok((index - snapshot_index - 1) as usize)
    }
}

impl Storage for MemoryStorage {
    fn hard_state(&self) -> HardState {
        self.hard_state
    }

    fn snapshot_metadata(&self) -> SnapshotMetadata {
        self.snapshot.metadata
    }

    fn snapshot(&self) -> Snapshot {
        // The data is an `Arc`: this clone is a reference count.
        self.snapshot.clone()
    }

    fn entries(&self, low: u64, high: u64) -> Result<Vec<Entry>> {
        if low >= high {
            return Ok(Vec::new());
        }
        let start = self.check_range(low)?;
        let end = self.check_range(high - 1)? + 1;
        Ok(self.entries[start..end].to_vec())
    }

    fn term(&self, index: u64) -> Result<u64> {
        if index == self.snapshot_index() {
            return Ok(self.snapshot.metadata.term);
        }
        let position = self.check_range(index)?;
        Ok(self.entries[position].term)
    }

    fn last_index(&self) -> u64 {
        self.snapshot_index() + self.entries.len() as u64
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let snapshot_index = self.snapshot_index();
        if first.index <= snapshot_index || first.index > self.last_index() + 1 {
            return Err(Error::Unavailable {
                index: first.index,
                last_index: self.last_index(),
            });
        }
        self.entries
            .truncate((first.index - snapshot_index - 1) as usize);
        self.entries.extend_from_slice(entries);
        Ok(())
    }

    fn set_hard_state(&mut self, hard_state: HardState) -> Result<()> {
        self.hard_state = hard_state;
        Ok(())
    }

    fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        let current = self.snapshot_index();
        if snapshot.metadata.index < current {
            return Err(Error::SnapshotOutOfDate {
                index: snapshot.metadata.index,
                current,
            });
        }
        self.entries.clear();
        self.snapshot = snapshot;
        Ok(())
    }

    fn compact(&mut self, index: u64, data: Arc<[u8]>) -> Result<()> {
        let current = self.snapshot_index();
        if index <= current {
            return Err(Error::SnapshotOutOfDate { index, current });
        }
        let term = self.term(index)?;
        self.entries.drain(..(index - current) as usize);
        self.snapshot = Snapshot {
            metadata: SnapshotMetadata { index, term },
            data,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::message::MessageBody;
    use crate::test_cluster::Cluster;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: vec![index as u8],
        }
    }

    #[test]
    fn append_overwrites_a_conflicting_suffix() {
        let mut storage = MemoryStorage::with_log(
            HardState::default(),
            vec![entry(1, 1), entry(2, 1), entry(3, 1)],
        );
        storage.append(&[entry(2, 2)]).unwrap();
        assert_eq!(storage.last_index(), 2);
        assert_eq!(storage.term(2).unwrap(), 2);
        assert!(storage.append(&[entry(5, 2)]).is_err(), "a gap is refused");
    }

    #[test]
    fn compaction_keeps_the_snapshot_term_and_later_entries() {
        let mut storage = MemoryStorage::with_log(
            HardState::default(),
            vec![entry(1, 1), entry(2, 2), entry(3, 2)],
        );
        storage.compact(2, b"state".as_slice().into()).unwrap();
        assert_eq!(storage.first_index(), 3);
        assert_eq!(storage.term(2).unwrap(), 2);
        assert!(matches!(storage.term(1), Err(Error::Compacted { .. })));
        assert_eq!(storage.entries(3, 4).unwrap(), vec![entry(3, 2)]);
        assert_eq!(&*storage.snapshot().data, b"state");
    }

    /// A [`MemoryStorage`] that counts how often Raft asks it for the whole
    /// snapshot. It keeps the trait's own `first_index`, the one a host's
    /// storage inherits.
    #[derive(Default)]
    struct SnapshotCounting {
        inner: MemoryStorage,
        snapshot_calls: Cell<usize>,
    }

    impl Storage for SnapshotCounting {
        fn hard_state(&self) -> HardState {
            self.inner.hard_state()
        }
        fn snapshot_metadata(&self) -> SnapshotMetadata {
            self.inner.snapshot_metadata()
        }
        fn snapshot(&self) -> Snapshot {
            self.snapshot_calls.set(self.snapshot_calls.get() + 1);
            self.inner.snapshot()
        }
        fn entries(&self, low: u64, high: u64) -> Result<Vec<Entry>> {
            self.inner.entries(low, high)
        }
        fn term(&self, index: u64) -> Result<u64> {
            self.inner.term(index)
        }
        fn last_index(&self) -> u64 {
            self.inner.last_index()
        }
        fn append(&mut self, entries: &[Entry]) -> Result<()> {
            self.inner.append(entries)
        }
        fn set_hard_state(&mut self, hard_state: HardState) -> Result<()> {
            self.inner.set_hard_state(hard_state)
        }
        fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
            self.inner.apply_snapshot(snapshot)
        }
        fn compact(&mut self, index: u64, data: Arc<[u8]>) -> Result<()> {
            self.inner.compact(index, data)
        }
    }

    /// The regression of issue 17: `first_index` cloned the snapshot, and
    /// Raft asks for it on every term lookup, so a node slowed down with
    /// the size of its state machine times the number of messages.
    #[test]
    fn raft_7_only_install_snapshot_reads_the_snapshot_and_shares_its_data() {
        let storages = (1..=3)
            .map(|id| (id, SnapshotCounting::default()))
            .collect();
        let mut cluster = Cluster::with_storages(storages, |_| {});
        cluster.campaign(1);
        assert_eq!(cluster.leaders(), vec![(1, 1)]);
        cluster.isolate(3);
        let state = vec![b's'; 1 << 20];
        for round in 0..20u8 {
            for i in 0..10u8 {
                cluster.node(1).propose(vec![round, i]).unwrap();
            }
            cluster.deliver();
            let applied = cluster.nodes[&1].status().applied;
            cluster.node(1).compact(applied, state.clone()).unwrap();
            cluster.tick(1);
        }
        assert_eq!(cluster.nodes[&1].status().first_index, 202);
        for (id, node) in &cluster.nodes {
            let calls = node.storage().snapshot_calls.get();
            assert_eq!(
                calls, 0,
                "node {id} read its snapshot for index or term lookups"
            );
        }

        // Node 3 is behind the leader's log start: the leader reads its
        // snapshot once per InstallSnapshot, and the bytes travel shared.
        cluster.heal();
        cluster.node(1).propose(b"after".to_vec()).unwrap();
        cluster.tick(4);
        assert_eq!(cluster.nodes[&3].status().applied, 202);
        let sent = cluster
            .delivered
            .iter()
            .filter(|m| matches!(m.body, MessageBody::InstallSnapshot { .. }))
            .count();
        assert!(sent >= 1, "node 3 was not sent the snapshot");
        assert_eq!(cluster.nodes[&1].storage().snapshot_calls.get(), sent);
        let leader = &cluster.nodes[&1].storage().inner.snapshot;
        let follower = &cluster.nodes[&3].storage().inner.snapshot;
        assert_eq!(follower.metadata, leader.metadata);
        assert!(Arc::ptr_eq(&follower.data, &leader.data));
    }

    #[test]
    fn snapshot_and_a_clone_of_the_storage_share_the_data() {
        let mut storage = MemoryStorage::with_log(HardState::default(), vec![entry(1, 1)]);
        storage.compact(1, vec![7; 1 << 20].into()).unwrap();
        let crashed = storage.clone();
        let held = storage.snapshot().data;
        assert!(Arc::ptr_eq(&held, &crashed.snapshot().data));
        assert_eq!(
            storage.snapshot_metadata(),
            SnapshotMetadata { index: 1, term: 1 }
        );
    }
}
