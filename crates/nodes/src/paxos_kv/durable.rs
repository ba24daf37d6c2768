//! The Multi-Paxos acceptor's durable state in the SDK's [`Storage`]: the
//! promised ballot under one key, and one key per slot holding what was
//! accepted there or, once known, the chosen value (which replaces it).
//! Written after each `Ready` and before its messages are sent, read back
//! on a restart, so a killed node keeps its promises (Paxos Made Simple,
//! 2.2).

use lightcone_paxos::{Accepted, Ballot, MemoryStorage, Ready, Slot, Storage as _, Value};
use lightcone_sdk::Storage;
use serde::{Deserialize, Serialize};

const KEY_PROMISED: &str = "paxos/promised";
const SLOT_PREFIX: &str = "paxos/slot/";

/// What one slot's key holds.
#[derive(Serialize, Deserialize)]
enum SlotRecord {
    Accepted(Ballot, Value),
    Chosen(Value),
}

fn slot_key(slot: u64) -> String {
    // 20 digits, so the keys sort by slot.
    format!("{SLOT_PREFIX}{slot:020}")
}

/// Writes what `ready` makes durable: the promise, the accepted values,
/// then the chosen ones (a chosen value replaces the slot's accepted one).
pub(super) fn store(storage: &mut dyn Storage, ready: &Ready) {
    if let Some(promised) = ready.promised {
        let bytes = serde_json::to_vec(&promised).expect("ballots serialize");
        storage.put(KEY_PROMISED, &bytes);
    }
    for a in &ready.accepted {
        let record = SlotRecord::Accepted(a.ballot, a.value.clone());
        let bytes = serde_json::to_vec(&record).expect("values serialize");
        storage.put(&slot_key(a.slot), &bytes);
    }
    for s in &ready.chosen {
        let record = SlotRecord::Chosen(s.value.clone());
        let bytes = serde_json::to_vec(&record).expect("values serialize");
        storage.put(&slot_key(s.slot), &bytes);
    }
}

/// Rebuilds the library's storage from the durable copy (empty on a first
/// start). Records that do not parse are skipped and counted.
pub(super) fn recover(storage: &dyn Storage) -> (MemoryStorage, usize) {
    let mut out = MemoryStorage::new();
    let mut corrupt = 0;
    if let Some(bytes) = storage.get(KEY_PROMISED) {
        match serde_json::from_slice::<Ballot>(&bytes) {
            Ok(ballot) => out.set_promised(ballot).expect("memory storage"),
            Err(_) => corrupt += 1,
        }
    }
    let mut keys: Vec<String> = storage
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(SLOT_PREFIX))
        .collect();
    keys.sort();
    for key in keys {
        let slot = key[SLOT_PREFIX.len()..].parse::<u64>();
        let record = storage
            .get(&key)
            .and_then(|b| serde_json::from_slice::<SlotRecord>(&b).ok());
        match (slot, record) {
            (Ok(slot), Some(SlotRecord::Accepted(ballot, value))) => {
                let accepted = Accepted {
                    slot,
                    ballot,
                    value,
                };
                out.accept(&[accepted]).expect("memory storage");
            }
            (Ok(slot), Some(SlotRecord::Chosen(value))) => {
                out.choose(&[Slot { slot, value }]).expect("memory storage");
            }
            _ => corrupt += 1,
        }
    }
    (out, corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_paxos::{persist_ready, Config, RawNode, Role};
    use lightcone_sdk::MemoryStorage as SdkStorage;

    #[test]
    fn a_node_recovers_its_promise_and_chosen_values() {
        let mut durable = SdkStorage::new();
        let mut node = RawNode::new(Config::new(1, vec![1]), MemoryStorage::new()).unwrap();
        node.campaign();
        assert_eq!(node.role(), Role::Leader);
        node.propose(b"x".to_vec()).unwrap();
        while node.has_ready() {
            let ready = node.ready();
            persist_ready(node.storage_mut(), &ready).unwrap();
            store(&mut durable, &ready);
            node.advance(ready);
        }
        let (recovered, corrupt) = recover(&durable);
        assert_eq!(corrupt, 0);
        assert_eq!(&recovered, node.storage());
        assert_eq!(recovered.promised(), Ballot::new(1, 1));
        assert_eq!(recovered.chosen().len(), 1);
    }
}
