//! The ids of the commands the state machine applied lately, so that it
//! applies each command once (a duplicated `forward` is proposed twice, and
//! applying a write again later would undo the writes between).
//!
//! The window is part of every snapshot, and a snapshot is taken every
//! `--snapshot-every` entries for as long as the node runs, while the
//! window holds up to [`AppliedIds::len_max`] ids (far more than one
//! snapshot interval). So the window keeps its own part of the snapshot's
//! JSON, `[index,id],` per id, up to date as ids come and go: writing a
//! snapshot copies that text instead of formatting every number again.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// A bounded window of `(log index, command id)`, oldest first.
pub(super) struct AppliedIds {
    /// `(index, id, length of its text)`, in log order.
    window: VecDeque<(u64, u64, u8)>,
    /// Only looked up, never iterated, so its order cannot leak into a run.
    ids: HashSet<u64, BuildHasherDefault<IdHasher>>,
    /// `[index,id],` for each of `window`, in the same order: serde_json's
    /// compact form of the `(u64, u64)` pairs, each followed by a comma.
    text: VecDeque<u8>,
    /// The most ids held; the oldest are forgotten past it.
    len_max: usize,
}

impl AppliedIds {
    pub(super) fn new(len_max: usize) -> AppliedIds {
        assert!(len_max > 0, "the applied-ids window holds at least one id");
        AppliedIds {
            window: VecDeque::new(),
            ids: HashSet::default(),
            text: VecDeque::new(),
            len_max,
        }
    }

    /// Records that command `id` was applied at `index` (indexes increase:
    /// the log is applied in order); false if it had been applied before.
    pub(super) fn remember(&mut self, index: u64, id: u64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        debug_assert!(
            self.window.back().is_none_or(|last| last.0 < index),
            "commands are applied in log order"
        );
        let start = self.text.len();
        let mut digits = itoa::Buffer::new();
        self.text.push_back(b'[');
        self.text.extend(digits.format(index).as_bytes());
        self.text.push_back(b',');
        self.text.extend(digits.format(id).as_bytes());
        self.text.extend(b"],");
        // At most 2 * 20 digits and 4 brackets and commas.
        let len = u8::try_from(self.text.len() - start).expect("a pair's text fits 44 bytes");
        self.window.push_back((index, id, len));
        while self.window.len() > self.len_max {
            let Some((_, old, old_len)) = self.window.pop_front() else {
                break;
            };
            self.ids.remove(&old);
            self.text.drain(..usize::from(old_len));
        }
        true
    }

    /// `(index, id)` pairs, oldest first.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.window.iter().map(|(index, id, _)| (*index, *id))
    }

    /// Appends the window to `out` as a JSON array of `[index,id]` pairs.
    pub(super) fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        let (front, back) = self.text.as_slices();
        out.extend_from_slice(front);
        out.extend_from_slice(back);
        if !self.window.is_empty() {
            // The last pair's comma.
            out.pop();
        }
        out.push(b']');
    }
}

/// Hashes a command id with one multiply (Fx hash): ids are random `u64`s
/// drawn by the proposing node, and every applied command looks one up and
/// forgets another, in a set of up to 65536 where a B-tree walk missed the
/// cache at every level. Fixed, unlike std's seeded SipHash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_text_is_serde_json_of_the_window_as_ids_come_and_go() {
        let mut applied = AppliedIds::new(3);
        let mut out = Vec::new();
        applied.write_json(&mut out);
        assert_eq!(out, b"[]");
        let ids = [7, u64::MAX, 0, 12, 7, 99, 3];
        for (index, id) in (1u64..).zip(ids) {
            applied.remember(index, id);
            let pairs: Vec<(u64, u64)> = applied.iter().collect();
            out.clear();
            applied.write_json(&mut out);
            assert_eq!(out, serde_json::to_vec(&pairs).unwrap(), "after {index}");
        }
        // 7 was forgotten when the window moved past it, so it counts anew.
        assert_eq!(
            applied.iter().collect::<Vec<_>>(),
            [(5, 7), (6, 99), (7, 3)]
        );
        assert!(!applied.remember(8, 99), "99 is in the window");
        assert_eq!(applied.iter().count(), 3);
    }
}
