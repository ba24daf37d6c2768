//! A [`Storage`] on disk, for nodes that run as processes: a restarted node
//! recovers its term, vote, log and snapshot. This is the crate's only I/O.
//!
//! Layout of the directory:
//!
//! - `hard_state`: term, vote and commit, replaced atomically (write a
//!   temporary file, fsync it, rename it over the old one, fsync the
//!   directory), so a crash leaves either the old or the new state.
//! - `snapshot`: the snapshot's index, term and data, replaced the same way.
//! - `log`: the entries after the snapshot as an append-only sequence of
//!   checksummed records, fsynced after every append. Overwriting a
//!   conflicting suffix truncates the file first. A record torn by a crash
//!   fails its checksum and is dropped with everything after it: the append
//!   it belonged to never returned, so nothing acknowledged it.
//!
//! Replacing the log after a snapshot (compaction or InstallSnapshot) writes
//! the new snapshot first and then the rewritten log. If a crash falls in
//! between, recovery applies Raft's own rule (paper, 7): keep the entries
//! after the snapshot only if the log holds the snapshot's last entry with
//! the snapshot's term.
//!
//! All numbers are little-endian. Reads are served from a [`MemoryStorage`]
//! mirror, so a `FileStorage` holds its log in memory too.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::message::{Entry, HardState, Snapshot, SnapshotMetadata};
use crate::storage::{MemoryStorage, Storage};

const HARD_STATE_FILE: &str = "hard_state";
const SNAPSHOT_FILE: &str = "snapshot";
const LOG_FILE: &str = "log";
/// Length (u32) and checksum (u64) before each log record's payload.
const RECORD_HEADER_LEN: usize = 12;

/// A durable [`Storage`] in a directory of its own. See the module docs
/// for the file format and crash behaviour.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
    memory: MemoryStorage,
    log_file: File,
    /// The byte offset of each entry of `memory.log()` in the log file.
    offsets: Vec<u64>,
    log_len: u64,
}

impl FileStorage {
    /// Opens (creating if needed) the storage in `dir` and recovers what a
    /// previous run persisted.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStorage> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|source| io_error(&dir, source))?;
        let hard_state = read_hard_state(&dir)?;
        let snapshot = read_snapshot(&dir)?;
        let (entries, offsets, log_len) = read_log(&dir.join(LOG_FILE))?;
        let mut memory = MemoryStorage::new();
        memory.set_hard_state(hard_state)?;
        memory.apply_snapshot(snapshot.clone())?;
        let kept = entries_after_snapshot(&snapshot.metadata, entries);
        memory.append(&kept)?;
        let log_path = dir.join(LOG_FILE);
        let log_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| io_error(&log_path, source))?;
        let mut storage = FileStorage {
            dir,
            memory,
            log_file,
            offsets,
            log_len,
        };
        // The log file may hold a torn tail or entries the snapshot covers:
        // rewrite it to exactly what was recovered.
        let file_len = storage
            .log_file
            .metadata()
            .map_err(|source| io_error(&log_path, source))?
            .len();
        if storage.offsets.len() != kept.len() || file_len != storage.records_len() {
            storage.rewrite_log()?;
        }
        Ok(storage)
    }

    /// The directory this storage lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn records_len(&self) -> u64 {
        self.memory
            .log()
            .iter()
            .map(|entry| (RECORD_HEADER_LEN + 16 + entry.data.len()) as u64)
            .sum()
    }

    /// Replaces the log file by the entries held in memory, atomically.
    fn rewrite_log(&mut self) -> Result<()> {
        let mut bytes = Vec::new();
        let mut offsets = Vec::new();
        for entry in self.memory.log() {
            offsets.push(bytes.len() as u64);
            encode_record(entry, &mut bytes);
        }
        write_atomically(&self.dir, LOG_FILE, &bytes)?;
        let path = self.dir.join(LOG_FILE);
        self.log_file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|source| io_error(&path, source))?;
        self.log_len = bytes.len() as u64;
        self.offsets = offsets;
        Ok(())
    }

    fn write_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let mut bytes = Vec::with_capacity(24 + snapshot.data.len());
        bytes.extend_from_slice(&snapshot.metadata.index.to_le_bytes());
        bytes.extend_from_slice(&snapshot.metadata.term.to_le_bytes());
        bytes.extend_from_slice(&checksum(&snapshot.data).to_le_bytes());
        bytes.extend_from_slice(&snapshot.data);
        write_atomically(&self.dir, SNAPSHOT_FILE, &bytes)
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
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let path = self.dir.join(LOG_FILE);
        let keep = first.index.saturating_sub(self.memory.first_index()) as usize;
        self.memory.append(entries)?;
        if keep < self.offsets.len() {
            // Raft paper, 5.3: drop the conflicting suffix before appending.
            self.log_len = self.offsets[keep];
            self.offsets.truncate(keep);
            self.log_file
                .set_len(self.log_len)
                .map_err(|source| io_error(&path, source))?;
        }
        let mut bytes = Vec::new();
        for entry in entries {
            self.offsets.push(self.log_len + bytes.len() as u64);
            encode_record(entry, &mut bytes);
        }
        self.log_file
            .write_all(&bytes)
            .and_then(|()| self.log_file.sync_data())
            .map_err(|source| io_error(&path, source))?;
        self.log_len += bytes.len() as u64;
        Ok(())
    }

    fn set_hard_state(&mut self, hard_state: HardState) -> Result<()> {
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(&hard_state.term.to_le_bytes());
        bytes.extend_from_slice(&hard_state.vote.to_le_bytes());
        bytes.extend_from_slice(&hard_state.commit.to_le_bytes());
        bytes.extend_from_slice(&checksum(&bytes).to_le_bytes());
        write_atomically(&self.dir, HARD_STATE_FILE, &bytes)?;
        self.memory.set_hard_state(hard_state)
    }

    fn apply_snapshot(&mut self, snapshot: Snapshot) -> Result<()> {
        self.write_snapshot(&snapshot)?;
        self.memory.apply_snapshot(snapshot)?;
        self.rewrite_log()
    }

    fn compact(&mut self, index: u64, data: Arc<[u8]>) -> Result<()> {
        let term = self.memory.term(index)?;
        let snapshot = Snapshot {
            metadata: SnapshotMetadata { index, term },
            data,
        };
        self.write_snapshot(&snapshot)?;
        self.memory.compact(index, snapshot.data)?;
        self.rewrite_log()
    }
}

/// Raft paper, 7: entries after the snapshot survive only if the log holds
/// the snapshot's last entry with its term (or the log starts right after
/// the snapshot, as it does after a completed compaction).
fn entries_after_snapshot(metadata: &SnapshotMetadata, entries: Vec<Entry>) -> Vec<Entry> {
    let first_index = entries.first().map_or(0, |entry| entry.index);
    let continues = first_index == metadata.index + 1
        || entries
            .iter()
            .any(|entry| entry.index == metadata.index && entry.term == metadata.term);
    if !continues {
        return Vec::new();
    }
    entries
        .into_iter()
        .filter(|entry| entry.index > metadata.index)
        .collect()
}

fn encode_record(entry: &Entry, out: &mut Vec<u8>) {
    let mut payload = Vec::with_capacity(16 + entry.data.len());
    payload.extend_from_slice(&entry.index.to_le_bytes());
    payload.extend_from_slice(&entry.term.to_le_bytes());
    payload.extend_from_slice(&entry.data);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

/// Reads the log's records up to the first torn or corrupt one. Returns the
/// entries, their offsets and the length of the valid prefix.
fn read_log(path: &Path) -> Result<(Vec<Entry>, Vec<u64>, u64)> {
    let bytes = read_if_exists(path)?.unwrap_or_default();
    let mut entries: Vec<Entry> = Vec::new();
    let mut offsets = Vec::new();
    let mut at = 0;
    while let Some((entry, len)) = decode_record(&bytes[at..]) {
        if let Some(last) = entries.last().filter(|last| last.index + 1 != entry.index) {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                detail: format!("entry {} follows entry {}", entry.index, last.index),
            });
        }
        offsets.push(at as u64);
        entries.push(entry);
        at += len;
    }
    Ok((entries, offsets, at as u64))
}

fn decode_record(bytes: &[u8]) -> Option<(Entry, usize)> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let sum = u64_at(bytes, 4)?;
    let payload = bytes.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len)?;
    if len < 16 || checksum(payload) != sum {
        return None;
    }
    let entry = Entry {
        index: u64_at(payload, 0)?,
        term: u64_at(payload, 8)?,
        data: payload[16..].to_vec(),
    };
    Some((entry, RECORD_HEADER_LEN + len))
}

fn read_hard_state(dir: &Path) -> Result<HardState> {
    let path = dir.join(HARD_STATE_FILE);
    let Some(bytes) = read_if_exists(&path)? else {
        return Ok(HardState::default());
    };
    let corrupt = || Error::Corrupt {
        path: path.clone(),
        detail: "hard state is not 32 bytes with a valid checksum".to_string(),
    };
    if bytes.len() != 32 || u64_at(&bytes, 24) != Some(checksum(&bytes[..24])) {
        return Err(corrupt());
    }
    Ok(HardState {
        term: u64_at(&bytes, 0).ok_or_else(corrupt)?,
        vote: u64_at(&bytes, 8).ok_or_else(corrupt)?,
        commit: u64_at(&bytes, 16).ok_or_else(corrupt)?,
    })
}

fn read_snapshot(dir: &Path) -> Result<Snapshot> {
    let path = dir.join(SNAPSHOT_FILE);
    let Some(bytes) = read_if_exists(&path)? else {
        return Ok(Snapshot::default());
    };
    let data = bytes.get(24..).unwrap_or_default();
    if bytes.len() < 24 || u64_at(&bytes, 16) != Some(checksum(data)) {
        return Err(Error::Corrupt {
            path,
            detail: "snapshot header or checksum is wrong".to_string(),
        });
    }
    Ok(Snapshot {
        metadata: SnapshotMetadata {
            index: u64_at(&bytes, 0).unwrap_or_default(),
            term: u64_at(&bytes, 8).unwrap_or_default(),
        },
        data: data.into(),
    })
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// FNV-1a, 64 bits: enough to tell a torn write from a whole one.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error(path, source)),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|source| io_error(path, source))?;
    Ok(Some(bytes))
}

/// Replaces `dir/name` by `bytes` so that a crash leaves the old or the new
/// contents, never a mix: temporary file, fsync, rename, fsync directory.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, &path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|source| io_error(&path, source))
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
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
    fn a_torn_tail_record_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut storage = FileStorage::open(dir.path()).unwrap();
            storage.append(&[entry(1, 1), entry(2, 1)]).unwrap();
        }
        let log = dir.path().join(LOG_FILE);
        let len = fs::metadata(&log).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&log)
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
}
