//! Raft's durable state mirrored into the SDK's storage: written after
//! each `Ready` and before its messages go out, read back on a restart,
//! compacted into snapshots. The log itself is `raft_log.rs`.
//!
//! The snapshot is one record, `INDEX TERM ` and then its data as it is
//! (the state machine's JSON): as a JSON document, the data would be
//! escaped once more, and a snapshot is written every `--snapshot-every`
//! entries for as long as the node runs.

use lightcone_raft::{
    Entry, HardState, MemoryStorage, Ready, Snapshot, SnapshotMetadata, Storage as _,
};
use lightcone_sdk::{Change, Context};

use super::decimal::{push_number, take_number};
use super::state::{KvState, SnapshotData};
use super::RaftKv;

const KEY_HARD_STATE: &str = "raft/hard-state";
const KEY_SNAPSHOT: &str = "raft/snapshot";

impl RaftKv {
    /// Rebuilds the Raft storage from the durable copy (empty on a first
    /// start, or the backup to restore from).
    pub(super) fn recover(&mut self, ctx: &mut Context<Self>) -> MemoryStorage {
        let mut storage = MemoryStorage::new();
        let durable = ctx.storage();
        let mut snapshot = durable.get(KEY_SNAPSHOT).and_then(|b| decode_snapshot(&b));
        let mut hard_state: Option<HardState> = read_json(durable.get(KEY_HARD_STATE));
        let segments = self.durable_log.recover(durable);
        if snapshot.is_none() && hard_state.is_none() && segments.is_empty() {
            if let Some(backup) = &self.options.restore {
                // A restored cluster starts every node from the same
                // snapshot, as if the log up to the backup's index had been
                // compacted away on each of them.
                let data = SnapshotData {
                    state: backup.state.clone(),
                    applied_ids: Vec::new(),
                };
                let data = serde_json::to_vec(&data).expect("JSON values serialize");
                snapshot = Some(Snapshot {
                    metadata: SnapshotMetadata {
                        index: backup.index,
                        term: backup.term,
                    },
                    data: data.into(),
                });
                hard_state = Some(HardState {
                    term: backup.term,
                    vote: 0,
                    commit: backup.index,
                });
                // Durable at once: a node killed before its first snapshot
                // must come back from the backup, not from an empty log.
                let durable = ctx.storage();
                if let Some(snapshot) = &snapshot {
                    durable.put(KEY_SNAPSHOT, &encode_snapshot(snapshot));
                }
                if let Some(hard_state) = &hard_state {
                    let bytes = serde_json::to_vec(hard_state).expect("hard states serialize");
                    durable.put(KEY_HARD_STATE, &bytes);
                }
            }
        }
        if let Some(snapshot) = snapshot.filter(|s| !s.is_empty()) {
            self.restore_snapshot(ctx, &snapshot);
            storage
                .apply_snapshot(snapshot)
                .expect("a fresh storage takes any snapshot");
        }
        // In write order: a later segment replaces the suffix it overlaps.
        for segment in segments {
            let entries: Vec<Entry> = segment
                .into_iter()
                .filter(|e| e.index > self.snapshot_index)
                .collect();
            if let Err(e) = storage.append(&entries) {
                ctx.log(format!("the stored log has a gap, kept up to it: {e}"));
                break;
            }
        }
        if let Some(mut hard_state) = hard_state {
            // The stored commit index may lag (it is written only with a
            // new term or vote), but never behind the snapshot, which holds
            // only committed entries.
            hard_state.commit = hard_state.commit.max(self.snapshot_index);
            self.stored_term_vote = Some((hard_state.term, hard_state.vote));
            storage
                .set_hard_state(hard_state)
                .expect("memory storage takes a hard state");
        }
        storage
    }

    pub(super) fn restore_snapshot(&mut self, ctx: &mut Context<Self>, snapshot: &Snapshot) {
        match serde_json::from_slice::<SnapshotData>(&snapshot.data) {
            Ok(data) => self.state = KvState::from_snapshot(data),
            Err(e) => ctx.log(format!(
                "snapshot at {} is corrupt: {e}",
                snapshot.metadata.index
            )),
        }
        self.applied = snapshot.metadata.index;
        self.snapshot_index = snapshot.metadata.index;
    }

    /// Writes what a `Ready` makes durable into the SDK storage as one
    /// batch (in process mode, one record of the write-ahead log and one
    /// fsync): snapshot, entries and the hard state, durable together.
    pub(super) fn store(&mut self, ctx: &mut Context<Self>, ready: &Ready) {
        let snapshot = ready.snapshot.as_ref().map(encode_snapshot);
        let mut deleted = Vec::new();
        if snapshot.is_some() {
            deleted = self.durable_log.clear();
        }
        let segment = self.durable_log.append(&ready.entries);
        // Term and vote must be durable before the messages go out (Raft
        // paper, Figure 2); the commit index need not be (a restarted node
        // relearns it from the leader), and skipping the write when only it
        // moved keeps the batch small.
        let mut hard_state_bytes = None;
        if let Some(hard_state) = ready.hard_state {
            let durable = (hard_state.term, hard_state.vote);
            if self.stored_term_vote != Some(durable) {
                let bytes = serde_json::to_vec(&hard_state).expect("hard states serialize");
                hard_state_bytes = Some(bytes);
                self.stored_term_vote = Some(durable);
            }
        }
        let mut changes = Vec::new();
        if let Some(value) = &snapshot {
            changes.push(Change::Put {
                key: KEY_SNAPSHOT,
                value,
            });
        }
        if let Some(segment) = &segment {
            deleted.extend(segment.deleted.iter().cloned());
            changes.push(Change::Put {
                key: &segment.key,
                value: &segment.bytes,
            });
        }
        changes.extend(deleted.iter().map(|key| Change::Delete { key }));
        if let Some(value) = &hard_state_bytes {
            changes.push(Change::Put {
                key: KEY_HARD_STATE,
                value,
            });
        }
        ctx.storage().write_batch(&changes);
    }

    /// Compacts the log into a snapshot of the state machine once
    /// `--snapshot-every` entries were applied since the last one.
    pub(super) fn maybe_compact(&mut self, ctx: &mut Context<Self>) {
        if self.applied < self.snapshot_index + self.options.snapshot_every {
            return;
        }
        let Some(raft) = self.raft.as_mut() else {
            return;
        };
        // Serialized straight from the state into the buffer kept between
        // uses; the Raft storage then shares one copy (and so does any
        // InstallSnapshot it sends).
        self.scratch.clear();
        self.state.write_snapshot(&mut self.scratch);
        let index = self.applied;
        if raft.compact(index, self.scratch.as_slice()).is_err() {
            return;
        }
        // The record is written into the same buffer, whose capacity is
        // kept: a fresh megabyte per compaction costs more in page faults
        // than in copying.
        let snapshot = raft.storage().snapshot();
        self.scratch.clear();
        write_snapshot_record(&mut self.scratch, &snapshot);
        // The snapshot and the deletion of the segments it covers, in one
        // batch.
        let deleted = self.durable_log.compact(index);
        let mut changes = vec![Change::Put {
            key: KEY_SNAPSHOT,
            value: &self.scratch,
        }];
        changes.extend(deleted.iter().map(|key| Change::Delete { key }));
        ctx.storage().write_batch(&changes);
        self.snapshot_index = index;
    }
}

/// The durable record of a snapshot: `INDEX TERM ` and the data.
fn encode_snapshot(snapshot: &Snapshot) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(42 + snapshot.data.len());
    write_snapshot_record(&mut bytes, snapshot);
    bytes
}

/// Appends the durable record of `snapshot` to `out`.
fn write_snapshot_record(out: &mut Vec<u8>, snapshot: &Snapshot) {
    push_number(out, snapshot.metadata.index);
    push_number(out, snapshot.metadata.term);
    out.extend_from_slice(&snapshot.data);
}

fn decode_snapshot(mut bytes: &[u8]) -> Option<Snapshot> {
    let index = take_number(&mut bytes)?;
    let term = take_number(&mut bytes)?;
    Some(Snapshot {
        metadata: SnapshotMetadata { index, term },
        data: bytes.into(),
    })
}

/// Parses a durable record (absent or unreadable: none).
fn read_json<T: serde::de::DeserializeOwned>(bytes: Option<Vec<u8>>) -> Option<T> {
    bytes.and_then(|b| serde_json::from_slice(&b).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_record_round_trips_any_data_and_refuses_a_bad_header() {
        let snapshot = Snapshot {
            metadata: SnapshotMetadata {
                index: 1234,
                term: 7,
            },
            data: br#"{"state": [[1, "a b"]]} "#.as_slice().into(),
        };
        let bytes = encode_snapshot(&snapshot);
        assert!(bytes.starts_with(b"1234 7 {"), "the data is not escaped");
        assert_eq!(decode_snapshot(&bytes), Some(snapshot));
        assert_eq!(decode_snapshot(b"1234 "), None);
        assert_eq!(decode_snapshot(br#"{"metadata": {}}"#), None);
    }
}
