//! Durable state for nodes: what survives a crash.
//!
//! A node keeps in memory what it may lose and puts in [`Storage`] what it
//! must not (a Raft term and vote, a log). In process mode the workbench
//! gives each node a folder and [`FileStorage`] writes there with fsync, so
//! `--nemesis kill` loses only memory; in the simulator a [`MemoryStorage`]
//! handle is kept across the crash and handed to the restarted node.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A small durable key-value store. A `put` is durable when it returns.
pub trait Storage: Send {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn put(&mut self, key: &str, value: &[u8]);
    fn delete(&mut self, key: &str);
    fn keys(&self) -> Vec<String>;
}

/// In-memory storage whose clones share one map: the simulator keeps a
/// clone, so the data survives a simulated crash of the node.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    map: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// Bytes stored, keys included.
    pub fn size_bytes(&self) -> usize {
        let map = self.map.lock().expect("storage lock");
        map.iter().map(|(k, v)| k.len() + v.len()).sum()
    }
}

impl Storage for MemoryStorage {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.map.lock().expect("storage lock").get(key).cloned()
    }
    fn put(&mut self, key: &str, value: &[u8]) {
        let mut map = self.map.lock().expect("storage lock");
        // A key written again keeps its allocation (a snapshot record is
        // rewritten at every compaction and can be megabytes).
        match map.get_mut(key) {
            Some(old) => {
                old.clear();
                old.extend_from_slice(value);
            }
            None => {
                map.insert(key.to_string(), value.to_vec());
            }
        }
    }
    fn delete(&mut self, key: &str) {
        self.map.lock().expect("storage lock").remove(key);
    }
    fn keys(&self) -> Vec<String> {
        self.map
            .lock()
            .expect("storage lock")
            .keys()
            .cloned()
            .collect()
    }
}

/// One file per key in a folder, written atomically (temp file, fsync,
/// rename, fsync of the folder).
#[derive(Debug, Clone)]
pub struct FileStorage {
    dir: PathBuf,
}

impl FileStorage {
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<FileStorage> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(FileStorage { dir })
    }

    fn path(&self, key: &str) -> PathBuf {
        // Keys become file names: keep them readable but safe.
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '%'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.{:016x}", fnv1a(key)))
    }

    fn write(&self, key: &str, value: &[u8]) -> io::Result<()> {
        let path = self.path(key);
        let tmp = path.with_extension("tmp");
        let mut f = fs::File::create(&tmp)?;
        f.write_all(key.as_bytes())?;
        f.write_all(b"\n")?;
        f.write_all(value)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        fs::File::open(&self.dir)?.sync_all()
    }
}

/// A stable hash for file names (FNV-1a, 64 bit).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

impl Storage for FileStorage {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let bytes = fs::read(self.path(key)).ok()?;
        let at = bytes.iter().position(|b| *b == b'\n')?;
        Some(bytes[at + 1..].to_vec())
    }
    fn put(&mut self, key: &str, value: &[u8]) {
        if let Err(e) = self.write(key, value) {
            // A node that cannot persist must not go on as if it had.
            panic!("could not persist {key:?} in {:?}: {e}", self.dir);
        }
    }
    fn delete(&mut self, key: &str) {
        let _ = fs::remove_file(self.path(key));
    }
    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_none_or(|x| x != "tmp"))
            .filter_map(|e| {
                let bytes = fs::read(e.path()).ok()?;
                let at = bytes.iter().position(|b| *b == b'\n')?;
                String::from_utf8(bytes[..at].to_vec()).ok()
            })
            .collect();
        keys.sort();
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_clones_share_data() {
        let mut a = MemoryStorage::new();
        let b = a.clone();
        a.put("term", b"3");
        assert_eq!(b.get("term"), Some(b"3".to_vec()));
        a.delete("term");
        assert_eq!(b.get("term"), None);
    }

    #[test]
    fn files_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("lightcone-storage-{}", std::process::id()));
        let mut s = FileStorage::open(&dir).unwrap();
        s.put("log/1", b"hello\nworld");
        s.put("vote", b"n2");
        let again = FileStorage::open(&dir).unwrap();
        assert_eq!(again.get("log/1"), Some(b"hello\nworld".to_vec()));
        assert_eq!(again.keys(), vec!["log/1".to_string(), "vote".to_string()]);
        let _ = fs::remove_dir_all(&dir);
    }
}
