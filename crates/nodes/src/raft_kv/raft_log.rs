//! The Raft key-value node's log in the SDK's durable [`Storage`]: one key
//! per batch of entries (a segment), so a `Ready` carrying many entries
//! costs one put instead of one per entry. This is the node's group commit.
//! The methods here return what to write; `durable.rs` writes it, with the
//! rest of the `Ready`, as one [`Storage::write_batch`] (in process mode,
//! one record of the write-ahead log and one fsync).
//!
//! Segments are numbered in the order they were written. A later segment
//! whose first index is at or below an earlier one's last replaces that
//! earlier suffix (a new leader overwriting uncommitted entries, Raft paper
//! 5.3), so recovery replays the segments in write order with
//! [`lightcone_raft::Storage::append`] semantics. Segments every one of
//! whose entries was replaced, or compacted into a snapshot, are deleted.

use std::collections::BTreeMap;

use lightcone_raft::Entry;
use lightcone_sdk::Storage;

use super::decimal::{push_decimal, push_number, take_number, DIGITS_MAX};

const KEY_PREFIX: &str = "raft/log/";

/// What one append changes in durable storage: a segment to put, the
/// segments it replaced to delete.
#[derive(Debug)]
pub(crate) struct SegmentWrite {
    pub(crate) key: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) deleted: Vec<String>,
}

/// The segments held in durable storage.
///
/// Invariant: in segment order, the ranges are disjoint and increasing (a
/// new segment from `first` replaces every segment from `first` on and cuts
/// the one before it short), so an append touches only the segments at the
/// end, however long the log.
#[derive(Debug, Default)]
pub(crate) struct DurableLog {
    /// Segment number -> (first index, last index still in force).
    segments: BTreeMap<u64, (u64, u64)>,
    next_segment: u64,
    /// Segments found replaced during recovery (a crash between writing a
    /// segment and deleting the ones it replaced), deleted at the next append.
    replaced_at_recovery: Vec<u64>,
}

impl DurableLog {
    /// `raft/log/` and the segment number in 20 digits, so the keys sort
    /// in write order.
    fn key(segment: u64) -> String {
        let mut key = Vec::with_capacity(KEY_PREFIX.len() + DIGITS_MAX);
        key.extend_from_slice(KEY_PREFIX.as_bytes());
        push_decimal(&mut key, segment, DIGITS_MAX);
        String::from_utf8(key).expect("the prefix and the digits are ASCII")
    }

    /// Reads every segment back, in write order, and remembers them.
    pub(crate) fn recover(&mut self, storage: &dyn Storage) -> Vec<Vec<Entry>> {
        let mut numbered: Vec<(u64, String)> = storage
            .keys()
            .into_iter()
            .filter_map(|k| Some((k.strip_prefix(KEY_PREFIX)?.parse().ok()?, k)))
            .collect();
        numbered.sort();
        let mut out = Vec::new();
        for (segment, key) in numbered {
            let Some(entries) = storage.get(&key).and_then(|b| decode_segment(&b)) else {
                continue;
            };
            if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                let replaced = self.note(segment, first.index, last.index);
                self.replaced_at_recovery.extend(replaced);
            }
            self.next_segment = segment + 1;
            out.push(entries);
        }
        out
    }

    /// Takes `entries` (consecutive) as one segment: returns the segment's
    /// key and bytes to put and the keys of the segments they replace
    /// entirely, to delete in the same batch.
    pub(crate) fn append(&mut self, entries: &[Entry]) -> Option<SegmentWrite> {
        let first = entries.first()?.index;
        let last = entries.last().map_or(first, |e| e.index);
        let segment = self.next_segment;
        self.next_segment += 1;
        let mut replaced = self.note(segment, first, last);
        replaced.append(&mut self.replaced_at_recovery);
        Some(SegmentWrite {
            key: DurableLog::key(segment),
            bytes: encode_segment(entries),
            deleted: replaced.into_iter().map(DurableLog::key).collect(),
        })
    }

    /// Records `segment` as holding `first..=last`: the segments from
    /// `first` on are replaced (returned, for deletion) and the one before
    /// is cut short at `first - 1` (its bytes still hold the rest, which
    /// replay overwrites).
    fn note(&mut self, segment: u64, first: u64, last: u64) -> Vec<u64> {
        let mut replaced = Vec::new();
        while let Some(end) = self.segments.last_entry() {
            if end.get().0 < first {
                break;
            }
            replaced.push(end.remove_entry().0);
        }
        if let Some(mut end) = self.segments.last_entry() {
            let to = &mut end.get_mut().1;
            *to = (*to).min(first.saturating_sub(1));
        }
        self.segments.insert(segment, (first, last));
        replaced
    }

    /// Forgets the segments that hold nothing after `index` (compacted into
    /// a snapshot at `index`) and returns their keys, to delete.
    /// Those are a prefix of the segments (the ranges increase).
    pub(crate) fn compact(&mut self, index: u64) -> Vec<String> {
        let mut deleted = Vec::new();
        while let Some(front) = self.segments.first_entry() {
            if front.get().1 > index {
                break;
            }
            deleted.push(DurableLog::key(front.remove_entry().0));
        }
        deleted
    }

    /// Forgets every segment (a snapshot from the leader replaced the log)
    /// and returns their keys, to delete.
    pub(crate) fn clear(&mut self) -> Vec<String> {
        self.compact(u64::MAX)
    }

    #[cfg(test)]
    pub(crate) fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

/// Entries as `INDEX TERM LENGTH ` then LENGTH bytes of data, one after
/// another: cheaper than JSON, which would escape the commands' JSON text
/// once more.
fn encode_segment(entries: &[Entry]) -> Vec<u8> {
    // Three numbers of at most 20 digits and their spaces per entry.
    let size = entries.iter().map(|e| 63 + e.data.len()).sum();
    let mut bytes = Vec::with_capacity(size);
    for entry in entries {
        push_number(&mut bytes, entry.index);
        push_number(&mut bytes, entry.term);
        push_number(&mut bytes, entry.data.len() as u64);
        bytes.extend_from_slice(&entry.data);
    }
    bytes
}

fn decode_segment(mut bytes: &[u8]) -> Option<Vec<Entry>> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let index = take_number(&mut bytes)?;
        let term = take_number(&mut bytes)?;
        let len = usize::try_from(take_number(&mut bytes)?).ok()?;
        let data = bytes.get(..len)?.to_vec();
        bytes = &bytes[len..];
        entries.push(Entry { index, term, data });
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_sdk::MemoryStorage;

    /// Appends as `durable.rs` does: the segment and its deletions.
    fn append(log: &mut DurableLog, storage: &mut MemoryStorage, entries: &[Entry]) {
        let write = log.append(entries).unwrap();
        storage.put(&write.key, &write.bytes);
        for key in write.deleted {
            storage.delete(&key);
        }
    }

    fn compact(log: &mut DurableLog, storage: &mut MemoryStorage, index: u64) {
        for key in log.compact(index) {
            storage.delete(&key);
        }
    }

    fn entries(from: u64, to: u64, term: u64) -> Vec<Entry> {
        (from..=to)
            .map(|index| Entry {
                index,
                term,
                data: format!("{{\"w\": {index}}} with spaces").into_bytes(),
            })
            .collect()
    }

    /// Replays segments as recovery does.
    fn replay(storage: &MemoryStorage) -> Vec<(u64, u64)> {
        let mut log: Vec<Entry> = Vec::new();
        for segment in DurableLog::default().recover(storage) {
            let first = segment[0].index;
            log.retain(|e| e.index < first);
            log.extend(segment);
        }
        log.iter().map(|e| (e.index, e.term)).collect()
    }

    #[test]
    fn segments_replay_in_write_order_and_overwrites_win() {
        let mut storage = MemoryStorage::new();
        let mut log = DurableLog::default();
        append(&mut log, &mut storage, &entries(1, 5, 1));
        // A new leader overwrites 4.. (Raft paper, 5.3), then appends more.
        append(&mut log, &mut storage, &entries(4, 4, 2));
        append(&mut log, &mut storage, &entries(5, 6, 2));
        assert_eq!(
            replay(&storage),
            [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2)]
        );
        // Another overwrite at 3 makes the segments from 4 and 5 useless.
        append(&mut log, &mut storage, &entries(3, 3, 3));
        assert_eq!(log.segment_count(), 2);
        assert_eq!(replay(&storage), [(1, 1), (2, 1), (3, 3)]);
        // Compaction to 2 drops the first segment (what it still holds, 1
        // and 2, is in the snapshot) and keeps the one holding 3; to 3,
        // everything.
        compact(&mut log, &mut storage, 2);
        assert_eq!(log.segment_count(), 1);
        assert_eq!(replay(&storage), [(3, 3)]);
        compact(&mut log, &mut storage, 3);
        assert_eq!(log.segment_count(), 0);
        assert!(storage.keys().is_empty());
    }

    #[test]
    fn a_crash_before_deleting_replaced_segments_is_tidied_after_recovery() {
        let mut storage = MemoryStorage::new();
        let mut log = DurableLog::default();
        append(&mut log, &mut storage, &entries(1, 5, 1));
        append(&mut log, &mut storage, &entries(6, 9, 1));
        // The overwrite at 3 was written, but the node crashed before it
        // deleted the segment holding 6..=9.
        storage.put(&DurableLog::key(2), &encode_segment(&entries(3, 3, 2)));
        assert_eq!(replay(&storage), [(1, 1), (2, 1), (3, 2)]);

        let mut log = DurableLog::default();
        log.recover(&storage);
        assert_eq!(log.segment_count(), 2, "6..=9 is known to be replaced");
        append(&mut log, &mut storage, &entries(4, 4, 2));
        assert_eq!(storage.keys().len(), 3, "and deleted at the next append");
        assert_eq!(replay(&storage), [(1, 1), (2, 1), (3, 2), (4, 2)]);
        // Compacting to 3 leaves only the segment holding 4.
        compact(&mut log, &mut storage, 3);
        assert_eq!(replay(&storage), [(4, 2)]);
        assert_eq!(storage.keys().len(), 1);
    }

    #[test]
    fn data_with_any_bytes_round_trips_and_truncation_is_refused() {
        let entry = Entry {
            index: 9,
            term: 4,
            data: vec![b' ', 0, 255, b'7'],
        };
        let bytes = encode_segment(std::slice::from_ref(&entry));
        assert_eq!(decode_segment(&bytes), Some(vec![entry]));
        assert_eq!(decode_segment(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode_segment(b"1 2"), None);
    }
}
