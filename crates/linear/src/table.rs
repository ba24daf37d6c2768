//! The cache of explored configurations (Lowe 2017, section 3: the set of
//! (linearized ops, state) pairs already seen), as an open-addressing hash
//! table of fixed-size records stored inline, so a configuration costs its
//! record's bytes divided by the load factor and nothing else: no per-entry
//! allocation, no pointers, no copies of a whole-history bitset (which is
//! what runs Porcupine out of memory).

/// Marks an empty slot (the first word of a record is an op index, which is
/// never `u32::MAX`).
const EMPTY: u32 = u32::MAX;

/// Grow past 70% full.
const LOAD_NUM: usize = 7;
const LOAD_DEN: usize = 10;

const INITIAL_SLOTS: usize = 1 << 10;

pub(crate) struct ConfigTable {
    /// Words per record.
    width: usize,
    /// `slots * width` words; a slot is empty when its first word is EMPTY.
    words: Vec<u32>,
    slots: usize,
    len: usize,
}

#[inline]
fn hash(record: &[u32]) -> u64 {
    // A multiply-rotate hash over the words (FxHash's step, which the
    // final multiply-xorshift spreads into the high bits we index by).
    let mut h: u64 = 0;
    for &w in record {
        h = (h.rotate_left(5) ^ u64::from(w)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    h ^= h >> 29;
    h.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl ConfigTable {
    pub fn new(width: usize) -> ConfigTable {
        assert!(width > 0, "a configuration record has at least one word");
        ConfigTable {
            width,
            words: vec![EMPTY; INITIAL_SLOTS * width],
            slots: INITIAL_SLOTS,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes held by the table.
    pub fn bytes(&self) -> usize {
        self.words.len() * 4
    }

    #[inline]
    fn slot_of(&self, h: u64) -> usize {
        (h >> (64 - self.slots.trailing_zeros())) as usize
    }

    /// Where `record` is, or the empty slot where it would go.
    #[inline]
    fn find(&self, record: &[u32]) -> (usize, bool) {
        let mask = self.slots - 1;
        let mut slot = self.slot_of(hash(record));
        loop {
            let at = slot * self.width;
            let stored = &self.words[at..at + self.width];
            if stored[0] == EMPTY {
                return (slot, false);
            }
            if stored == record {
                return (slot, true);
            }
            slot = (slot + 1) & mask;
        }
    }

    pub fn contains(&self, record: &[u32]) -> bool {
        debug_assert_eq!(record.len(), self.width);
        self.find(record).1
    }

    /// Adds `record`; false if it was already there.
    pub fn insert(&mut self, record: &[u32]) -> bool {
        debug_assert_eq!(record.len(), self.width);
        debug_assert_ne!(record[0], EMPTY);
        let (slot, found) = self.find(record);
        if found {
            return false;
        }
        let at = slot * self.width;
        self.words[at..at + self.width].copy_from_slice(record);
        self.len += 1;
        if self.len * LOAD_DEN > self.slots * LOAD_NUM {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.words);
        self.slots *= 2;
        self.words = vec![EMPTY; self.slots * self.width];
        for record in old.chunks_exact(self.width) {
            if record[0] != EMPTY {
                let (slot, _) = self.find(record);
                let at = slot * self.width;
                self.words[at..at + self.width].copy_from_slice(record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_find_and_survive_growth() {
        let mut t = ConfigTable::new(3);
        for i in 0..10_000u32 {
            assert!(t.insert(&[i, i % 7, i.wrapping_mul(31)]));
        }
        assert_eq!(t.len(), 10_000);
        for i in 0..10_000u32 {
            assert!(t.contains(&[i, i % 7, i.wrapping_mul(31)]));
            assert!(!t.insert(&[i, i % 7, i.wrapping_mul(31)]));
            assert!(!t.contains(&[i, i % 7 + 1, i.wrapping_mul(31)]));
        }
        assert!(t.bytes() >= 10_000 * 12);
    }
}
