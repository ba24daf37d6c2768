//! Durable state for nodes: what survives a crash.
//!
//! A node keeps in memory what it may lose and puts in [`Storage`] what it
//! must not (a Raft term and vote, a log). In process mode the workbench
//! gives each node a folder and [`FileStorage`] keeps a write-ahead log
//! there (`lightcone-wal`, fsynced per write or batch), so `--nemesis kill`
//! loses only memory; in the simulator a [`MemoryStorage`] handle is kept
//! across the crash and handed to the restarted node.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A small durable key-value store. A `put` is durable when it returns.
pub trait Storage: Send {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn put(&mut self, key: &str, value: &[u8]);
    fn delete(&mut self, key: &str);
    fn keys(&self) -> Vec<String>;
    /// Makes `changes` durable together, in order: after a crash either
    /// all of them or none are there. [`FileStorage`] writes them with one
    /// write and one fsync, where a put and a delete each cost one; a node
    /// that persists several keys per step (a Raft `Ready`) should use it.
    fn write_batch(&mut self, changes: &[Change<'_>]) {
        for change in changes {
            match *change {
                Change::Put { key, value } => self.put(key, value),
                Change::Delete { key } => self.delete(key),
            }
        }
    }
}

/// One change of a [`Storage::write_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    Put { key: &'a str, value: &'a [u8] },
    Delete { key: &'a str },
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
}
