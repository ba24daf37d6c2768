//! A [`Storage`] on disk, for nodes that run as processes: a restarted node
//! recovers its term, vote, log and snapshot. This is the crate's only I/O.
//!
//! The directory holds one write-ahead log, `wal` (the record format,
//! checksums and crash rules are `lightcone-wal`'s). Each record is what
//! one call made durable, as a sequence of operations:
//!
//! - `1 index:u64 term:u64 len:u64 data`: the snapshot. It replaces the
//!   whole log (Raft paper, 7), so a log rewritten at a compaction starts
//!   with it.
//! - `2 count:u32` and `count` entries `index:u64 term:u64 len:u32 data`:
//!   [`Storage::append`]. The first index says where the log is cut: the
//!   record means "the log is truncated after `index - 1`, then these
//!   follow" (Raft paper, 5.3: a new leader overwrites a follower's
//!   conflicting suffix).
//! - `3 term:u64 vote:u64 commit:u64`: the hard state.
//!
//! [`Storage::persist`] (what [`crate::persist_ready`] calls for each
//! `Ready`) writes the entries and the hard state of one `Ready` as one
//! record: one write, one `fdatasync`, and all or nothing after a crash. A
//! record torn by a crash is cut off at the next open (its call never
//! returned, so nothing acknowledged it); a damaged record with valid ones
//! after it is an error naming the file and the offset.
//!
//! Bound: a compaction or an installed snapshot rewrites the log to its
//! live state (the snapshot, the hard state, the entries after the
//! snapshot) in a new file renamed over the old, and so does an append
//! that leaves the file longer than twice that live state plus
//! [`lightcone_wal::REWRITE_SLACK_BYTES`] (say, a host that never compacts but moves its
//! commit index often). So the file holds the snapshot, the entries since
//! it, and at most its live size plus 1 MiB of garbage.
//!
//! All numbers are little-endian. Reads are served from a [`MemoryStorage`]
//! mirror, so a `FileStorage` holds its log in memory too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lightcone_wal::Wal;

use crate::error::{Error, Result};
use crate::message::{Entry, HardState, Snapshot, SnapshotMetadata};
use crate::storage::{MemoryStorage, Storage};

const WAL_FILE: &str = "wal";
/// The files of the layout before the write-ahead log.
const LEGACY_FILES: [&str; 3] = ["hard_state", "snapshot", "log"];
const OP_SNAPSHOT: u8 = 1;
const OP_ENTRIES: u8 = 2;
const OP_HARD_STATE: u8 = 3;
/// Bytes of an entry in a record besides its data.
const ENTRY_OVERHEAD_BYTES: u64 = 20;

/// A durable [`Storage`] in a directory of its own. See the module docs
/// for the file format and crash behaviour.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
    memory: MemoryStorage,
    wal: Wal,
    /// The bytes the entries held take in a record, tracked for the bound.
    entries_bytes: u64,
    /// Reused for each record's payload.
    payload: Vec<u8>,
}

impl FileStorage {
    /// Opens (creating if needed) the storage in `dir` and recovers what a
    /// previous run persisted.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStorage> {
        let dir = dir.as_ref().to_path_buf();
        if let Some(name) = LEGACY_FILES.iter().find(|name| dir.join(name).exists()) {
            return Err(Error::Corrupt {
                path: dir.join(name),
                detail: format!(
                    "the folder {} holds the layout of an older lightcone (files hard_state,                      snapshot and log), which this version does not read; it keeps a                      write-ahead log `wal`",
                    dir.display()
                ),
            });
        }
        let (wal, recovered) = Wal::open(dir.join(WAL_FILE))?;
        let mut memory = MemoryStorage::new();
        for (i, payload) in recovered.payloads.iter().enumerate() {
            replay(&mut memory, payload).map_err(|detail| Error::Corrupt {
                path: wal.path().to_path_buf(),
                detail: format!("record {i} passes its checksum but {detail}"),
            })?;
        }
        let entries_bytes = memory.log().iter().map(entry_bytes).sum();
        Ok(FileStorage {
            dir,
            memory,
            wal,
            entries_bytes,
            payload: Vec::new(),
        })
    }

    /// The directory this storage lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many fsyncs this storage made since it was opened.
    pub fn sync_count(&self) -> u64 {
        self.wal.sync_count()
    }

    /// The write-ahead log's length in bytes.
    pub fn wal_len_bytes(&self) -> u64 {
        self.wal.len_bytes()
    }

    /// The bytes a rewrite would write.
    fn live_bytes(&self) -> u64 {
        let snapshot = 32 + self.memory.snapshot().data.len() as u64;
        snapshot + 64 + self.entries_bytes
    }

    /// Replaces the log by the live state: snapshot, hard state, entries.
    fn rewrite(&mut self) -> Result<()> {
        self.payload.clear();
        encode_snapshot(&self.memory.snapshot(), &mut self.payload);
        encode_hard_state(self.memory.hard_state(), &mut self.payload);
        encode_entries(self.memory.log(), &mut self.payload);
        self.wal.rewrite([self.payload.as_slice()])?;
        Ok(())
    }

    /// Appends the record in `self.payload`, then rewrites the log if it
    /// outgrew its bound.
    fn write_payload(&mut self) -> Result<()> {
        if self.payload.is_empty() {
            return Ok(());
        }
        self.wal.append(&self.payload)?;
        if self.wal.outgrown(self.live_bytes()) {
            self.rewrite()?;
        }
        Ok(())
    }

    /// Appends `entries` to the mirror, keeping `entries_bytes` right.
    fn append_in_memory(&mut self, entries: &[Entry]) -> Result<()> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let last = self.memory.last_index();
        if first.index > self.memory.snapshot_metadata().index && first.index <= last {
            let dropped = self.memory.entries(first.index, last + 1)?;
            self.entries_bytes -= dropped.iter().map(entry_bytes).sum::<u64>();
        }
        self.memory.append(entries)?;
        self.entries_bytes += entries.iter().map(entry_bytes).sum::<u64>();
        Ok(())
    }
}

impl Storage for FileStorage {
    fn hard_state(&self) -> HardState {
        self.memory.hard_state()
    }

    fn snapshot_metadata(&self) -> SnapshotMetadata {
        self.memory.snapshot_metadata()
    }

    fn snapshot(&self) -> Snapshot {
        self.memory.snapshot()
    }

    fn entries(&self, low: u64, high: u64) -> Result<Vec<Entry>> {
        self.memory.entries(low, high)
    }

    fn term(&self, index: u64) -> Result<u64> {
        self.memory.term(index)
    }

    fn last_index(&self) -> u64 {
        self.memory.last_index()
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        self.persist(None, entries, None)
    }

    fn set_hard_state(&mut self, hard_state: HardState) -> Result<()> {
        self.persist(None, &[], Some(hard_state))
    }

    fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        self.memory.apply_snapshot(snapshot)?;
        self.entries_bytes = 0;
        self.rewrite()
    }

    fn compact(&mut self, index: u64, data: Arc<[u8]>) -> Result<()> {
        self.memory.compact(index, data)?;
        self.entries_bytes = self.memory.log().iter().map(entry_bytes).sum();
        self.rewrite()
    }

    /// One record (one write, one fsync) for the entries and the hard
    /// state; a snapshot rewrites the log, and the rest goes in the same
    /// rewrite.
    fn persist(
        &mut self,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
        hard_state: Option<HardState>,
    ) -> Result<()> {
        if let Some(snapshot) = snapshot {
            self.memory.apply_snapshot(snapshot.clone())?;
            self.entries_bytes = 0;
        }
        self.append_in_memory(entries)?;
        if let Some(hard_state) = hard_state {
            self.memory.set_hard_state(hard_state)?;
        }
        if snapshot.is_some() {
            return self.rewrite();
        }
        self.payload.clear();
        if !entries.is_empty() {
            encode_entries(entries, &mut self.payload);
        }
        if let Some(hard_state) = hard_state {
            encode_hard_state(hard_state, &mut self.payload);
        }
        self.write_payload()
    }
}

fn entry_bytes(entry: &Entry) -> u64 {
    ENTRY_OVERHEAD_BYTES + entry.data.len() as u64
}

fn encode_snapshot(snapshot: &Snapshot, out: &mut Vec<u8>) {
    out.push(OP_SNAPSHOT);
    out.extend_from_slice(&snapshot.metadata.index.to_le_bytes());
    out.extend_from_slice(&snapshot.metadata.term.to_le_bytes());
    out.extend_from_slice(&(snapshot.data.len() as u64).to_le_bytes());
    out.extend_from_slice(&snapshot.data);
}

fn encode_entries(entries: &[Entry], out: &mut Vec<u8>) {
    let count = u32::try_from(entries.len()).expect("fewer than 2^32 entries per record");
    out.push(OP_ENTRIES);
    out.extend_from_slice(&count.to_le_bytes());
    for entry in entries {
        let len = u32::try_from(entry.data.len()).expect("an entry's data is under 4 GiB");
        out.extend_from_slice(&entry.index.to_le_bytes());
        out.extend_from_slice(&entry.term.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&entry.data);
    }
}

fn encode_hard_state(hard_state: HardState, out: &mut Vec<u8>) {
    out.push(OP_HARD_STATE);
    out.extend_from_slice(&hard_state.term.to_le_bytes());
    out.extend_from_slice(&hard_state.vote.to_le_bytes());
    out.extend_from_slice(&hard_state.commit.to_le_bytes());
}

/// Applies one recovered record to `memory`; says what is wrong if it
/// does not parse or does not fit.
fn replay(memory: &mut MemoryStorage, mut payload: &[u8]) -> std::result::Result<(), String> {
    let input = &mut payload;
    while !input.is_empty() {
        let op = take::<1>(input)?[0];
        match op {
            OP_SNAPSHOT => {
                let index = take_u64(input)?;
                let term = take_u64(input)?;
                let len = usize::try_from(take_u64(input)?).map_err(|e| e.to_string())?;
                let data = take_slice(input, len)?;
                let snapshot = Snapshot {
                    metadata: SnapshotMetadata { index, term },
                    data: data.into(),
                };
                memory.apply_snapshot(snapshot).map_err(|e| e.to_string())?;
            }
            OP_ENTRIES => {
                let count = u32::from_le_bytes(take::<4>(input)?);
                let mut entries = Vec::with_capacity(count.min(1 << 16) as usize);
                for _ in 0..count {
                    let index = take_u64(input)?;
                    let term = take_u64(input)?;
                    let len = u32::from_le_bytes(take::<4>(input)?) as usize;
                    let data = take_slice(input, len)?.to_vec();
                    entries.push(Entry { index, term, data });
                }
                memory.append(&entries).map_err(|e| e.to_string())?;
            }
            OP_HARD_STATE => {
                let hard_state = HardState {
                    term: take_u64(input)?,
                    vote: take_u64(input)?,
                    commit: take_u64(input)?,
                };
                memory
                    .set_hard_state(hard_state)
                    .map_err(|e| e.to_string())?;
            }
            other => return Err(format!("holds an unknown operation {other}")),
        }
    }
    Ok(())
}

fn take<const N: usize>(input: &mut &[u8]) -> std::result::Result<[u8; N], String> {
    let bytes = take_slice(input, N)?;
    Ok(bytes.try_into().expect("take_slice returned N bytes"))
}

fn take_u64(input: &mut &[u8]) -> std::result::Result<u64, String> {
    Ok(u64::from_le_bytes(take::<8>(input)?))
}

fn take_slice<'a>(input: &mut &'a [u8], len: usize) -> std::result::Result<&'a [u8], String> {
    let Some(bytes) = input.get(..len) else {
        return Err(format!("ends {} bytes early", len - input.len()));
    };
    *input = &input[len..];
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::fs::{self, OpenOptions};

    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: format!("e{index}").into_bytes(),
        }
    }

    #[test]
    fn a_reopened_storage_recovers_everything_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let hard_state = HardState {
            term: 3,
            vote: 2,
            commit: 2,
        };
        {
            let mut storage = FileStorage::open(dir.path()).unwrap();
            storage
                .append(&[entry(1, 1), entry(2, 1), entry(3, 2)])
                .unwrap();
            storage.append(&[entry(3, 3), entry(4, 3)]).unwrap();
            storage.set_hard_state(hard_state).unwrap();
            storage.compact(2, b"state@2".as_slice().into()).unwrap();
            storage.append(&[entry(5, 3)]).unwrap();
        }
        let storage = FileStorage::open(dir.path()).unwrap();
        assert_eq!(storage.hard_state(), hard_state);
        assert_eq!(
            storage.snapshot().metadata,
            SnapshotMetadata { index: 2, term: 1 }
        );
        assert_eq!(&*storage.snapshot().data, b"state@2");
        assert_eq!(
            storage.entries(3, 6).unwrap(),
            vec![entry(3, 3), entry(4, 3), entry(5, 3)]
        );
    }

    #[test]
    fn a_ready_is_one_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = FileStorage::open(dir.path()).unwrap();
        let hard_state = HardState {
            term: 1,
            vote: 1,
            commit: 0,
        };
        storage
            .persist(None, &[entry(1, 1), entry(2, 1)], Some(hard_state))
            .unwrap();
        assert_eq!(storage.sync_count(), 1);
        let storage = FileStorage::open(dir.path()).unwrap();
        assert_eq!(storage.last_index(), 2);
        assert_eq!(storage.hard_state(), hard_state);
    }

    #[test]
    fn a_torn_tail_record_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut storage = FileStorage::open(dir.path()).unwrap();
            storage.append(&[entry(1, 1)]).unwrap();
            storage.append(&[entry(2, 1)]).unwrap();
        }
        let wal = dir.path().join(WAL_FILE);
        let len = fs::metadata(&wal).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&wal)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let mut storage = FileStorage::open(dir.path()).unwrap();
        assert_eq!(storage.last_index(), 1);
        storage.append(&[entry(2, 2)]).unwrap();
        drop(storage);
        let storage = FileStorage::open(dir.path()).unwrap();
        assert_eq!(
            storage.entries(1, 3).unwrap(),
            vec![entry(1, 1), entry(2, 2)]
        );
    }

    /// A bad record with a valid one after it was durable once: the node
    /// must not start with a log that silently lost it.
    #[test]
    fn a_corrupt_record_in_the_middle_is_an_error_naming_the_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let second;
        {
            let mut storage = FileStorage::open(dir.path()).unwrap();
            storage.append(&[entry(1, 1)]).unwrap();
            second = storage.wal_len_bytes();
            storage.append(&[entry(2, 1)]).unwrap();
            storage.append(&[entry(3, 1)]).unwrap();
        }
        let wal = dir.path().join(WAL_FILE);
        let mut bytes = fs::read(&wal).unwrap();
        let last = bytes.len() - 1;
        bytes[second as usize + 20] ^= 0xff;
        fs::write(&wal, &bytes).unwrap();
        let error = FileStorage::open(dir.path()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(&wal.display().to_string()), "{text}");
        assert!(text.contains(&format!("byte {second}")), "{text}");
        assert!(text.contains("truncate the file"), "{text}");
        // The same damage in the last record is a torn tail.
        bytes[second as usize + 20] ^= 0xff;
        bytes[last] ^= 0xff;
        fs::write(&wal, &bytes).unwrap();
        assert_eq!(FileStorage::open(dir.path()).unwrap().last_index(), 2);
    }

    /// Raft paper, 5.3: an append that overwrites a suffix survives a
    /// restart, and so does what is appended after it.
    #[test]
    fn raft_5_3_truncation_then_append_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut storage = FileStorage::open(dir.path()).unwrap();
            let entries: Vec<Entry> = (1..=5).map(|i| entry(i, 1)).collect();
            storage.append(&entries).unwrap();
            storage.append(&[entry(3, 2)]).unwrap();
            storage.append(&[entry(4, 2), entry(5, 2)]).unwrap();
            storage.append(&[entry(5, 3)]).unwrap();
        }
        let storage = FileStorage::open(dir.path()).unwrap();
        let terms: Vec<u64> = storage
            .entries(1, 6)
            .unwrap()
            .iter()
            .map(|e| e.term)
            .collect();
        assert_eq!(terms, [1, 1, 2, 2, 3]);
        assert_eq!(storage.last_index(), 5);
    }

    #[test]
    fn raft_7_a_restart_after_compaction_keeps_the_snapshot_and_the_log_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let long_len;
        {
            let mut storage = FileStorage::open(dir.path()).unwrap();
            for i in 1..=100 {
                storage.append(&[entry(i, 1)]).unwrap();
            }
            long_len = storage.wal_len_bytes();
            storage.compact(98, b"state@98".as_slice().into()).unwrap();
            assert!(storage.wal_len_bytes() < long_len / 10, "rewritten");
            storage.append(&[entry(101, 2)]).unwrap();
        }
        let storage = FileStorage::open(dir.path()).unwrap();
        assert_eq!(storage.first_index(), 99);
        assert_eq!(storage.term(98).unwrap(), 1);
        assert_eq!(&*storage.snapshot().data, b"state@98");
        assert_eq!(
            storage.entries(99, 102).unwrap(),
            vec![entry(99, 1), entry(100, 1), entry(101, 2)]
        );
    }

    #[test]
    fn raft_7_installed_snapshot_replaces_a_conflicting_log() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut storage = FileStorage::open(dir.path()).unwrap();
            storage.append(&[entry(1, 1), entry(2, 1)]).unwrap();
            let snapshot = Snapshot {
                metadata: SnapshotMetadata { index: 5, term: 4 },
                data: b"s".as_slice().into(),
            };
            storage.apply_snapshot(snapshot).unwrap();
        }
        let storage = FileStorage::open(dir.path()).unwrap();
        assert_eq!(storage.first_index(), 6);
        assert_eq!(storage.last_index(), 5);
    }

    #[test]
    fn the_log_is_rewritten_when_it_outgrows_its_live_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = FileStorage::open(dir.path()).unwrap();
        storage.append(&[entry(1, 1)]).unwrap();
        let mut len_max = 0;
        // A host that never compacts and whose entry 2 is overwritten again
        // and again (leaders come and go): the live state stays small.
        for term in 1..=300 {
            let big = Entry {
                index: 2,
                term,
                data: vec![7; 10_000],
            };
            storage.append(&[big]).unwrap();
            len_max = len_max.max(storage.wal_len_bytes());
        }
        let live = storage.live_bytes();
        assert!(live < 11_000, "{live}");
        assert!(
            len_max <= 2 * live + lightcone_wal::REWRITE_SLACK_BYTES + 11_000,
            "{len_max}"
        );
        drop(storage);
        let storage = FileStorage::open(dir.path()).unwrap();
        assert_eq!(storage.term(2).unwrap(), 300);
        assert_eq!(storage.last_index(), 2);
    }

    #[test]
    fn a_folder_of_the_older_layout_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("hard_state"), [0u8; 32]).unwrap();
        let error = FileStorage::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("hard_state"), "{error}");
        assert!(error.contains("remove the directory"), "{error}");
    }
}
