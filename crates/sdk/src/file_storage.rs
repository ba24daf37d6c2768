//! [`FileStorage`]: the durable [`Storage`] of node processes, a
//! write-ahead log in the node's folder.
//!
//! The folder holds one file, `wal` (the format is `lightcone-wal`'s). Each
//! record's payload is a batch of changes, each `1 key_len:u32 key
//! value_len:u32 value` (a put) or `2 key_len:u32 key` (a delete),
//! little-endian. A `put` or a `delete` is a batch of one; a
//! [`Storage::write_batch`] is one record, so one write and one
//! `fdatasync` for all of it. The keys and values are mirrored in memory,
//! so reads never touch the disk.
//!
//! Bound: when the file holds more than twice the live data plus
//! [`lightcone_wal::REWRITE_SLACK_BYTES`], it is rewritten to the live data (one put per
//! key) in a new file renamed over the old, so the folder holds at most
//! about twice the live data plus 1 MiB and one batch.
//!
//! Folders written before the log existed held one file per key (`key`,
//! a newline, the value; named after the key). Opening such a folder moves
//! those keys into a new log, atomically, and then removes the old files.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use lightcone_wal::Wal;

use crate::storage::{Change, Storage};

/// The log's file name inside the node's folder.
const WAL_FILE: &str = "wal";
const TAG_PUT: u8 = 1;
const TAG_DELETE: u8 = 2;
/// The per-key bytes a record of one put adds besides key and value: the
/// record header, the tag and two lengths.
const PUT_OVERHEAD_BYTES: u64 = lightcone_wal::RECORD_HEADER_LEN + 9;

/// A key-value [`Storage`] kept in a write-ahead log in a folder.
#[derive(Debug)]
pub struct FileStorage {
    dir: PathBuf,
    wal: Wal,
    map: BTreeMap<String, Vec<u8>>,
    /// What a rewrite would write: the sum over keys of their put records.
    live_bytes: u64,
    /// Reused for each batch's payload.
    payload: Vec<u8>,
}

impl FileStorage {
    /// Opens (creating if needed) the storage in `dir` and reads back what
    /// it holds. A torn last write is dropped; damage in the middle of the
    /// log is an error that names the file, the offset and the fix.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<FileStorage> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let path = dir.join(WAL_FILE);
        let legacy = legacy_files(&dir)?;
        if !path.exists() && !legacy.is_empty() {
            migrate(&path, &legacy)?;
        }
        // Left over if a crash fell between the migration and the cleanup:
        // the log holds their keys already.
        for (file, _, _) in &legacy {
            fs::remove_file(file)?;
        }
        let (wal, recovered) = Wal::open(&path).map_err(wal_error)?;
        let mut storage = FileStorage {
            dir,
            wal,
            map: BTreeMap::new(),
            live_bytes: 0,
            payload: Vec::new(),
        };
        for payload in &recovered.payloads {
            storage.replay(payload).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} holds a record that passes its checksum but is not a batch of \
                         changes (written by another program?); move the folder away to \
                         start the node afresh",
                        path.display()
                    ),
                )
            })?;
        }
        Ok(storage)
    }

    /// The folder this storage lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log file's length in bytes.
    pub fn wal_len_bytes(&self) -> u64 {
        self.wal.len_bytes()
    }

    /// How many fsyncs this storage made since it was opened.
    pub fn sync_count(&self) -> u64 {
        self.wal.sync_count()
    }

    /// Applies one recovered batch to the map; `None` if it does not parse.
    fn replay(&mut self, mut payload: &[u8]) -> Option<()> {
        while !payload.is_empty() {
            let tag = *payload.first()?;
            payload = &payload[1..];
            let key = std::str::from_utf8(take_bytes(&mut payload)?).ok()?;
            match tag {
                TAG_PUT => {
                    let value = take_bytes(&mut payload)?;
                    self.apply(Change::Put { key, value });
                }
                TAG_DELETE => self.apply(Change::Delete { key }),
                _ => return None,
            }
        }
        Some(())
    }

    /// Applies `change` to the in-memory mirror.
    fn apply(&mut self, change: Change<'_>) {
        match change {
            Change::Put { key, value } => {
                self.live_bytes += put_bytes(key, value);
                // A key written again keeps its allocation (a snapshot
                // record is rewritten at every compaction).
                if let Some(old) = self.map.get_mut(key) {
                    self.live_bytes -= put_bytes(key, old);
                    old.clear();
                    old.extend_from_slice(value);
                } else {
                    self.map.insert(key.to_string(), value.to_vec());
                }
            }
            Change::Delete { key } => {
                if let Some(old) = self.map.remove(key) {
                    self.live_bytes -= put_bytes(key, &old);
                }
            }
        }
    }

    fn write(&mut self, changes: &[Change<'_>]) -> Result<(), lightcone_wal::Error> {
        if changes.is_empty() {
            return Ok(());
        }
        self.payload.clear();
        for change in changes {
            encode_change(*change, &mut self.payload);
        }
        self.wal.append(&self.payload)?;
        for change in changes {
            self.apply(*change);
        }
        self.maybe_rewrite()
    }

    /// Rewrites the log to the live data once garbage outweighs it.
    fn maybe_rewrite(&mut self) -> Result<(), lightcone_wal::Error> {
        if !self
            .wal
            .outgrown(self.live_bytes + lightcone_wal::MAGIC.len() as u64)
        {
            return Ok(());
        }
        let payloads = puts(&self.map);
        self.wal.rewrite(payloads.iter().map(Vec::as_slice))
    }
}

impl Storage for FileStorage {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.map.get(key).cloned()
    }
    fn put(&mut self, key: &str, value: &[u8]) {
        self.write_batch(&[Change::Put { key, value }]);
    }
    fn delete(&mut self, key: &str) {
        if self.map.contains_key(key) {
            self.write_batch(&[Change::Delete { key }]);
        }
    }
    fn keys(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }
    fn write_batch(&mut self, changes: &[Change<'_>]) {
        if let Err(e) = self.write(changes) {
            // A node that cannot persist must not go on as if it had.
            panic!("could not persist to {}: {e}", self.dir.display());
        }
    }
}

/// The bytes one key's put record takes in a rewritten log.
fn put_bytes(key: &str, value: &[u8]) -> u64 {
    PUT_OVERHEAD_BYTES + key.len() as u64 + value.len() as u64
}

/// One payload per key: a put of its value.
fn puts(map: &BTreeMap<String, Vec<u8>>) -> Vec<Vec<u8>> {
    map.iter()
        .map(|(key, value)| {
            let mut payload = Vec::with_capacity(9 + key.len() + value.len());
            encode_change(Change::Put { key, value }, &mut payload);
            payload
        })
        .collect()
}

fn encode_change(change: Change<'_>, out: &mut Vec<u8>) {
    let (tag, key, value) = match change {
        Change::Put { key, value } => (TAG_PUT, key, Some(value)),
        Change::Delete { key } => (TAG_DELETE, key, None),
    };
    out.push(tag);
    push_bytes(out, key.as_bytes());
    if let Some(value) = value {
        push_bytes(out, value);
    }
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("keys and values are under 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

fn take_bytes<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(input.get(..4)?.try_into().ok()?) as usize;
    let bytes = input.get(4..4 + len)?;
    *input = &input[4 + len..];
    Some(bytes)
}

/// The files of the one-file-per-key layout in `dir`: path, key and value.
/// Their names end in `.` and 16 hex digits, and they start with the key
/// and a newline.
fn legacy_files(dir: &Path) -> io::Result<Vec<(PathBuf, String, Vec<u8>)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let is_legacy_name = path
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| x.len() == 16 && x.bytes().all(|b| b.is_ascii_hexdigit()));
        if !is_legacy_name || !path.is_file() {
            continue;
        }
        let bytes = fs::read(&path)?;
        let Some(at) = bytes.iter().position(|b| *b == b'\n') else {
            continue;
        };
        let Ok(key) = String::from_utf8(bytes[..at].to_vec()) else {
            continue;
        };
        found.push((path, key, bytes[at + 1..].to_vec()));
    }
    found.sort();
    Ok(found)
}

/// Writes the keys of the old layout into a new log at `path`, atomically.
fn migrate(path: &Path, legacy: &[(PathBuf, String, Vec<u8>)]) -> io::Result<()> {
    let map = legacy
        .iter()
        .map(|(_, key, value)| (key.clone(), value.clone()))
        .collect();
    let payloads = puts(&map);
    Wal::create(path, payloads.iter().map(Vec::as_slice)).map_err(wal_error)?;
    Ok(())
}

fn wal_error(error: lightcone_wal::Error) -> io::Error {
    match error {
        lightcone_wal::Error::Io { source, path } => {
            io::Error::new(source.kind(), format!("{}: {source}", path.display()))
        }
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStorage::open(dir.path()).unwrap();
        s.put("log/1", b"hello\nworld");
        s.put("vote", b"n2");
        s.put("gone", b"soon");
        s.delete("gone");
        let again = FileStorage::open(dir.path()).unwrap();
        assert_eq!(again.get("log/1"), Some(b"hello\nworld".to_vec()));
        assert_eq!(again.keys(), vec!["log/1".to_string(), "vote".to_string()]);
    }

    #[test]
    fn a_batch_is_one_fsync_and_survives_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStorage::open(dir.path()).unwrap();
        s.put("a", b"1");
        let before = s.sync_count();
        s.write_batch(&[
            Change::Put {
                key: "b",
                value: b"2",
            },
            Change::Delete { key: "a" },
            Change::Put {
                key: "c",
                value: b"",
            },
        ]);
        assert_eq!(s.sync_count(), before + 1);
        let again = FileStorage::open(dir.path()).unwrap();
        assert_eq!(again.keys(), ["b", "c"]);
        assert_eq!(again.get("c"), Some(Vec::new()));
    }

    #[test]
    fn the_log_is_rewritten_once_garbage_outweighs_the_live_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStorage::open(dir.path()).unwrap();
        let value = vec![7u8; 10_000];
        let mut len_max = 0;
        for i in 0..300 {
            s.put("snapshot", &value);
            s.put(&format!("log/{i}"), b"entry");
            if i >= 3 {
                s.delete(&format!("log/{}", i - 3));
            }
            len_max = len_max.max(s.wal_len_bytes());
        }
        let live = s.live_bytes;
        assert!(
            len_max <= 2 * (live + 8) + lightcone_wal::REWRITE_SLACK_BYTES + 20_000,
            "{len_max} bytes for {live} live"
        );
        let again = FileStorage::open(dir.path()).unwrap();
        assert_eq!(again.keys(), ["log/297", "log/298", "log/299", "snapshot"]);
        assert_eq!(again.get("snapshot"), Some(value));
    }

    #[test]
    fn a_folder_of_one_file_per_key_is_moved_into_the_log() {
        let dir = tempfile::tempdir().unwrap();
        // The layout before the log: `key\nvalue` in a file per key.
        fs::write(
            dir.path().join("raft%hard-state.1234567890abcdef"),
            b"raft/hard-state\n{}",
        )
        .unwrap();
        fs::write(
            dir.path().join("raft%log%1.fedcba0987654321"),
            b"raft/log/1\n1 1 0 ",
        )
        .unwrap();
        let s = FileStorage::open(dir.path()).unwrap();
        assert_eq!(s.keys(), ["raft/hard-state", "raft/log/1"]);
        assert_eq!(s.get("raft/log/1"), Some(b"1 1 0 ".to_vec()));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [WAL_FILE], "the old files are removed");
        let again = FileStorage::open(dir.path()).unwrap();
        assert_eq!(again.keys(), ["raft/hard-state", "raft/log/1"]);
    }
}
