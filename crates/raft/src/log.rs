//! The replicated log as one node sees it: the stable part in [`Storage`]
//! and the unstable tail (entries and possibly a snapshot) that the host has
//! not yet persisted.
//!
//! Indexes: `0 < first_index <= applied + 1`, `applied <= committed <=
//! last_index`. Entries after `persisted_index()` are only in memory; the
//! host persists them from [`crate::Ready::entries`].

use crate::error::{Error, Result};
use crate::message::{Entry, Snapshot};
use crate::storage::Storage;

/// What the host has not yet persisted. `entries[0]` is at `offset`, and
/// `offset - 1` is the last index that is stable (or, when `snapshot` is
/// set, the index of that snapshot).
#[derive(Debug, Default)]
struct Unstable {
    snapshot: Option<Snapshot>,
    offset: u64,
    entries: Vec<Entry>,
}

#[derive(Debug)]
pub(crate) struct RaftLog<S: Storage> {
    pub(crate) storage: S,
    unstable: Unstable,
    /// The highest index known to be committed (Raft paper, Figure 2).
    pub(crate) committed: u64,
    /// The highest index handed to the host to apply.
    pub(crate) applied: u64,
    /// Whether a committed entry may be overwritten. Only a cluster running
    /// `Config::unsafe_commit_previous_term` needs it; otherwise an
    /// overwrite of a committed entry is a broken invariant and panics.
    pub(crate) allow_committed_overwrite: bool,
}

impl<S: Storage> RaftLog<S> {
    /// Opens the log on `storage`. `applied` 0 means "from the snapshot".
    pub(crate) fn new(storage: S, applied: u64) -> RaftLog<S> {
        let snapshot_index = storage.first_index() - 1;
        let last_index = storage.last_index();
        // The host persists entries before the hard state, but a commit
        // index ahead of the stable log can only come from a host that did
        // it the other way round; it is safe to forget (Figure 2 calls
        // commitIndex volatile), so clamp rather than trust it.
        let committed = storage
            .hard_state()
            .commit
            .clamp(snapshot_index, last_index);
        let applied = applied.clamp(snapshot_index, committed);
        RaftLog {
            storage,
            unstable: Unstable {
                snapshot: None,
                offset: last_index + 1,
                entries: Vec::new(),
            },
            committed,
            applied,
            allow_committed_overwrite: false,
        }
    }

    pub(crate) fn first_index(&self) -> u64 {
        match &self.unstable.snapshot {
            Some(snapshot) => snapshot.metadata.index + 1,
            None => self.storage.first_index(),
        }
    }

    pub(crate) fn last_index(&self) -> u64 {
        if !self.unstable.entries.is_empty() {
            return self.unstable.offset + self.unstable.entries.len() as u64 - 1;
        }
        match &self.unstable.snapshot {
            Some(snapshot) => snapshot.metadata.index,
            None => self.storage.last_index(),
        }
    }

    /// The term of the entry at `index`, or `None` when it is compacted away
    /// or past the end.
    pub(crate) fn term(&self, index: u64) -> Option<u64> {
        if index + 1 < self.first_index() || index > self.last_index() {
            return None;
        }
        if let Some(snapshot) = &self.unstable.snapshot {
            if index == snapshot.metadata.index {
                return Some(snapshot.metadata.term);
            }
        }
        if index >= self.unstable.offset {
            return Some(self.unstable.entries[(index - self.unstable.offset) as usize].term);
        }
        self.storage.term(index).ok()
    }

    pub(crate) fn last_term(&self) -> u64 {
        self.term(self.last_index()).unwrap_or(0)
    }

    pub(crate) fn match_term(&self, index: u64, term: u64) -> bool {
        self.term(index) == Some(term)
    }

    /// Whether a log ending at (`last_index`, `last_term`) is at least as
    /// up-to-date as this one (Raft paper, 5.4.1: compare last terms, then
    /// lengths).
    pub(crate) fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        let own_term = self.last_term();
        last_term > own_term || (last_term == own_term && last_index >= self.last_index())
    }

    /// The entries `[low, high)`, at most `count_max` of them. Fails with
    /// [`Error::Compacted`] when `low` is covered by the snapshot.
    pub(crate) fn entries(&self, low: u64, high: u64, count_max: u64) -> Result<Vec<Entry>> {
        let high = high
            .min(self.last_index() + 1)
            .min(low.saturating_add(count_max));
        if low < self.first_index() {
            return Err(Error::Compacted {
                index: low,
                snapshot_index: self.first_index() - 1,
            });
        }
        if low >= high {
            return Ok(Vec::new());
        }
        let offset = self.unstable.offset;
        let mut out = if low < offset {
            self.storage.entries(low, high.min(offset))?
        } else {
            Vec::new()
        };
        if high > offset {
            let from = (low.max(offset) - offset) as usize;
            out.extend_from_slice(&self.unstable.entries[from..(high - offset) as usize]);
        }
        Ok(out)
    }

    /// Appends `entries` to the unstable tail, replacing any suffix they
    /// conflict with. Returns the new last index.
    pub(crate) fn append(&mut self, entries: &[Entry]) -> u64 {
        let Some(first) = entries.first() else {
            return self.last_index();
        };
        assert!(
            first.index > self.committed || self.allow_committed_overwrite,
            "Raft invariant broken: appending at {} would overwrite committed entries (commit {})",
            first.index,
            self.committed
        );
        debug_assert!(
            entries.windows(2).all(|w| w[1].index == w[0].index + 1),
            "Raft invariant broken: appended entries' indexes are not consecutive"
        );
        debug_assert!(
            first.index <= self.last_index() + 1,
            "Raft invariant broken: appending at {} leaves a gap after the last index {}",
            first.index,
            self.last_index()
        );
        let unstable = &mut self.unstable;
        let after = first.index;
        if after == unstable.offset + unstable.entries.len() as u64 {
            unstable.entries.extend_from_slice(entries);
        } else if after <= unstable.offset {
            // The conflict reaches into the stable part: the host's
            // `Storage::append` drops the stale stable entries when it
            // persists these.
            unstable.offset = after;
            unstable.entries = entries.to_vec();
        } else {
            unstable
                .entries
                .truncate((after - unstable.offset) as usize);
            unstable.entries.extend_from_slice(entries);
        }
        self.last_index()
    }

    /// The index of the first entry of `entries` that this log does not
    /// hold with the same term, if any.
    fn find_conflict(&self, entries: &[Entry]) -> Option<u64> {
        entries
            .iter()
            .find(|entry| !self.match_term(entry.index, entry.term))
            .map(|entry| entry.index)
    }

    /// The follower's half of AppendEntries (Raft paper, 5.3): if the entry
    /// at `prev_index` has `prev_term`, keep the matching prefix of
    /// `entries`, overwrite from the first conflict, and commit up to
    /// `min(commit, last new index)`. Returns the last new index, or `None`
    /// on a mismatch.
    pub(crate) fn maybe_append(
        &mut self,
        prev_index: u64,
        prev_term: u64,
        commit: u64,
        entries: &[Entry],
    ) -> Option<u64> {
        if !self.match_term(prev_index, prev_term) {
            return None;
        }
        let last_new = prev_index + entries.len() as u64;
        if let Some(conflict) = self.find_conflict(entries) {
            let start = (conflict - prev_index - 1) as usize;
            self.append(&entries[start..]);
        }
        self.commit_to(commit.min(last_new));
        Some(last_new)
    }

    pub(crate) fn commit_to(&mut self, index: u64) {
        if index > self.committed {
            assert!(
                index <= self.last_index(),
                "Raft invariant broken: commit {index} is past the last index {}",
                self.last_index()
            );
            self.committed = index;
        }
    }

    /// The last index that the host has persisted.
    pub(crate) fn persisted_index(&self) -> u64 {
        self.unstable.offset - 1
    }

    pub(crate) fn unstable_entries(&self) -> &[Entry] {
        &self.unstable.entries
    }

    pub(crate) fn unstable_snapshot(&self) -> Option<&Snapshot> {
        self.unstable.snapshot.as_ref()
    }

    /// The committed entries not yet handed out for applying. Only persisted
    /// entries are handed out, so what a node applies survives its restart.
    pub(crate) fn next_committed_entries(&self) -> Vec<Entry> {
        if self.unstable.snapshot.is_some() {
            return Vec::new();
        }
        let low = (self.applied + 1).max(self.first_index());
        let high = self.committed.min(self.persisted_index()) + 1;
        self.entries(low, high, u64::MAX)
            .expect("committed entries after the applied index are never compacted")
    }

    pub(crate) fn has_next_committed_entries(&self) -> bool {
        self.unstable.snapshot.is_none()
            && self.committed.min(self.persisted_index()) > self.applied
    }

    /// The host persisted the unstable entries up to `index` (of `term`).
    pub(crate) fn stable_to(&mut self, index: u64, term: u64) {
        // A later conflicting append may have replaced what the host
        // persisted; then nothing new became stable.
        if index < self.unstable.offset || self.term(index) != Some(term) {
            return;
        }
        let count = (index + 1 - self.unstable.offset) as usize;
        if count <= self.unstable.entries.len() {
            self.unstable.entries.drain(..count);
            self.unstable.offset = index + 1;
        }
    }

    /// The host persisted the unstable snapshot at `index`.
    pub(crate) fn stable_snapshot_to(&mut self, index: u64) {
        if let Some(snapshot) = &self.unstable.snapshot {
            if snapshot.metadata.index == index {
                self.unstable.snapshot = None;
            }
        }
    }

    pub(crate) fn applied_to(&mut self, index: u64) {
        if index > self.applied {
            assert!(
                index <= self.committed,
                "Raft invariant broken: applied {index} past commit {}",
                self.committed
            );
            self.applied = index;
        }
    }

    /// Replaces the whole log by `snapshot` (InstallSnapshot, Raft paper 7).
    pub(crate) fn restore(&mut self, snapshot: Snapshot) {
        let index = snapshot.metadata.index;
        debug_assert!(
            index > self.committed,
            "Raft invariant broken: restoring a snapshot at {index} would move the commit index \
             back from {}",
            self.committed
        );
        self.committed = index;
        self.unstable = Unstable {
            snapshot: Some(snapshot),
            offset: index + 1,
            entries: Vec::new(),
        };
    }

    /// The snapshot a leader sends a follower that is behind its log start.
    pub(crate) fn snapshot(&self) -> Snapshot {
        match &self.unstable.snapshot {
            Some(snapshot) => snapshot.clone(),
            None => self.storage.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::HardState;
    use crate::storage::MemoryStorage;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: vec![1],
        }
    }

    fn log_of(terms: &[u64]) -> RaftLog<MemoryStorage> {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, term)| entry(i as u64 + 1, *term))
            .collect();
        RaftLog::new(MemoryStorage::with_log(HardState::default(), entries), 0)
    }

    #[test]
    fn raft_5_3_append_truncates_from_the_first_conflict_only() {
        let mut log = log_of(&[1, 1, 2]);
        // A duplicate of entries already held changes nothing.
        assert_eq!(log.maybe_append(1, 1, 0, &[entry(2, 1)]), Some(2));
        assert_eq!(log.last_index(), 3);
        // A conflict at 3 replaces the stable entry 3 by an unstable one.
        assert_eq!(
            log.maybe_append(2, 1, 3, &[entry(3, 3), entry(4, 3)]),
            Some(4)
        );
        assert_eq!(log.term(3), Some(3));
        assert_eq!(log.persisted_index(), 2);
        assert_eq!(log.committed, 3);
        assert_eq!(log.maybe_append(4, 2, 4, &[]), None, "prev term mismatch");
    }

    #[test]
    fn raft_5_4_1_up_to_date_compares_last_term_then_length() {
        let log = log_of(&[1, 2, 2]);
        assert!(log.is_up_to_date(1, 3));
        assert!(log.is_up_to_date(3, 2));
        assert!(!log.is_up_to_date(2, 2));
        assert!(!log.is_up_to_date(9, 1));
    }

    #[test]
    fn committed_entries_wait_until_persisted() {
        let mut log = log_of(&[1]);
        log.append(&[entry(2, 1)]);
        log.commit_to(2);
        assert_eq!(log.next_committed_entries(), vec![entry(1, 1)]);
        log.storage.append(&[entry(2, 1)]).unwrap();
        log.stable_to(2, 1);
        assert_eq!(log.next_committed_entries().len(), 2);
    }
}
