//! A crash at any byte of a write recovers to what was fsynced: random
//! sequences of storage operations are run on a `FileStorage` and on a
//! `MemoryStorage` (the model); after each operation the log file's bytes
//! are kept, and the file is cut at byte offsets inside the write that
//! operation made. A cut before the write's last byte must recover the
//! model as it was before the operation, the whole write the model after
//! it (Raft paper, Figure 2: an acknowledged write must survive, and a torn
//! one was never acknowledged).

use std::fs;
use std::path::Path;

use lightcone_raft::{
    Entry, FileStorage, HardState, MemoryStorage, Snapshot, SnapshotMetadata, Storage,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Entries from a point between the log's start and its end + 1.
    Append {
        at: u8,
        count: u8,
        term: u64,
        len: u8,
    },
    HardState {
        term: u64,
        vote: u64,
        commit: u64,
    },
    /// A Ready: entries and a hard state in one record.
    Persist {
        at: u8,
        count: u8,
        term: u64,
    },
    Compact {
        at: u8,
        len: u8,
    },
    InstallSnapshot {
        ahead: u8,
        term: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), 1..5u8, 1..9u64, 0..40u8)
            .prop_map(|(at, count, term, len)| Op::Append { at, count, term, len }),
        2 => (1..9u64, 0..6u64, 0..50u64)
            .prop_map(|(term, vote, commit)| Op::HardState { term, vote, commit }),
        3 => (any::<u8>(), 1..5u8, 1..9u64)
            .prop_map(|(at, count, term)| Op::Persist { at, count, term }),
        1 => (any::<u8>(), 0..200u8).prop_map(|(at, len)| Op::Compact { at, len }),
        1 => (0..5u8, 1..9u64).prop_map(|(ahead, term)| Op::InstallSnapshot { ahead, term }),
    ]
}

fn entries(storage: &MemoryStorage, at: u8, count: u8, term: u64, len: u8) -> Vec<Entry> {
    let first = storage.first_index();
    let span = storage.last_index() + 1 - first + 1;
    let start = first + u64::from(at) % span;
    (start..start + u64::from(count))
        .map(|index| Entry {
            index,
            term,
            data: vec![index as u8; usize::from(len) + 1],
        })
        .collect()
}

/// Applies `op` to both storages.
fn apply<S: Storage>(storage: &mut S, model: &MemoryStorage, op: &Op) {
    match *op {
        Op::Append {
            at,
            count,
            term,
            len,
        } => {
            storage
                .append(&entries(model, at, count, term, len))
                .unwrap();
        }
        Op::HardState { term, vote, commit } => {
            storage
                .set_hard_state(HardState { term, vote, commit })
                .unwrap();
        }
        Op::Persist { at, count, term } => {
            let hard_state = HardState {
                term,
                vote: 1,
                commit: model.last_index(),
            };
            let entries = entries(model, at, count, term, 3);
            storage.persist(None, &entries, Some(hard_state)).unwrap();
        }
        Op::Compact { at, len } => {
            let first = model.first_index();
            let last = model.last_index();
            if last >= first {
                let index = first + u64::from(at) % (last - first + 1);
                storage
                    .compact(index, vec![at; usize::from(len)].into())
                    .unwrap();
            }
        }
        Op::InstallSnapshot { ahead, term } => {
            let snapshot = Snapshot {
                metadata: SnapshotMetadata {
                    index: model.last_index() + u64::from(ahead),
                    term,
                },
                data: vec![ahead; 5].into(),
            };
            storage.apply_snapshot(snapshot).unwrap();
        }
    }
}

fn assert_same(recovered: &FileStorage, model: &MemoryStorage, context: &str) {
    assert_eq!(recovered.hard_state(), model.hard_state(), "{context}");
    assert_eq!(recovered.snapshot(), model.snapshot(), "{context}");
    assert_eq!(recovered.last_index(), model.last_index(), "{context}");
    let (low, high) = (model.first_index(), model.last_index() + 1);
    assert_eq!(
        recovered.entries(low, high).unwrap(),
        model.entries(low, high).unwrap(),
        "{context}"
    );
}

/// Opens a copy of the log cut to `len` bytes.
fn recover_prefix(bytes: &[u8], len: usize, scratch: &Path) -> FileStorage {
    let _ = fs::remove_dir_all(scratch);
    fs::create_dir_all(scratch).unwrap();
    fs::write(scratch.join("wal"), &bytes[..len]).unwrap();
    FileStorage::open(scratch).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_crash_at_any_byte_recovers_what_was_fsynced(
        ops in proptest::collection::vec(op(), 1..16),
        cut in any::<u16>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live");
        let scratch = dir.path().join("scratch");
        let mut storage = FileStorage::open(&live).unwrap();
        let mut model = MemoryStorage::new();
        let mut before = fs::read(live.join("wal")).unwrap();
        for (i, op) in ops.iter().enumerate() {
            let previous = model.clone();
            apply(&mut model, &previous, op);
            apply(&mut storage, &previous, op);
            let after = fs::read(live.join("wal")).unwrap();
            if after.starts_with(&before) && after.len() > before.len() {
                // An append: cut inside the record it wrote.
                let written = after.len() - before.len();
                for offset in [0, usize::from(cut) % written, written - 1] {
                    let recovered = recover_prefix(&after, before.len() + offset, &scratch);
                    assert_same(&recovered, &previous, &format!("op {i} {op:?} cut at +{offset}"));
                }
            }
            // The whole write (an append, or a rewrite renamed into place).
            let recovered = recover_prefix(&after, after.len(), &scratch);
            assert_same(&recovered, &model, &format!("op {i} {op:?} whole"));
            before = after;
        }
    }
}
