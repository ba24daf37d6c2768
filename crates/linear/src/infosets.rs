//! Sets of linearized indeterminate ops, interned to `u32` (0 is the
//! empty set). Equal indeterminate ops are interchangeable (the search
//! always uses the earliest-called unused one of a class), so a set is a
//! count per class, kept as sorted (class, count) pairs.

use rustc_hash::FxHashMap;

/// Indeterminate ops grouped in classes of equal ops (the same interned
/// op), classes in order of their first member's call.
pub(crate) struct Classes {
    /// Each class's members (info indices, in call order).
    pub members: Vec<Vec<u32>>,
    /// Each info's class.
    pub of: Vec<u32>,
}

impl Classes {
    /// Groups infos (indexed in call order) by their interned op.
    pub fn new(info_op: &[u32]) -> Classes {
        let mut ids: FxHashMap<u32, u32> = FxHashMap::default();
        let mut members: Vec<Vec<u32>> = Vec::new();
        let mut of = Vec::with_capacity(info_op.len());
        for (j, &op) in info_op.iter().enumerate() {
            let c = *ids.entry(op).or_insert_with(|| {
                members.push(Vec::new());
                members.len() as u32 - 1
            });
            members[c as usize].push(j as u32);
            of.push(c);
        }
        Classes { members, of }
    }
}

/// Sets of linearized indeterminate ops, interned. With the symmetry
/// reduction a set is a count per class (the earliest-called members), kept
/// as sorted (class, count) pairs.
pub(crate) struct InfoSets {
    sets: Vec<Vec<(u32, u32)>>,
    ids: FxHashMap<Vec<(u32, u32)>, u32>,
    add_memo: FxHashMap<u64, u32>,
}

impl InfoSets {
    pub fn new() -> InfoSets {
        let mut ids = FxHashMap::default();
        ids.insert(Vec::new(), 0);
        InfoSets {
            sets: vec![Vec::new()],
            ids,
            add_memo: FxHashMap::default(),
        }
    }

    /// The set with one more member of `class`.
    pub fn add(&mut self, set: u32, class: u32) -> u32 {
        debug_assert!((set as usize) < self.sets.len(), "set {set} was interned");
        let key = (u64::from(set) << 32) | u64::from(class);
        if let Some(&id) = self.add_memo.get(&key) {
            return id;
        }
        let mut members = self.sets[set as usize].clone();
        match members.binary_search_by_key(&class, |&(c, _)| c) {
            Ok(at) => members[at].1 += 1,
            Err(at) => members.insert(at, (class, 1)),
        }
        let next = match self.ids.get(&members) {
            Some(&id) => id,
            None => {
                let id = self.sets.len() as u32;
                self.sets.push(members.clone());
                self.ids.insert(members, id);
                id
            }
        };
        self.add_memo.insert(key, next);
        next
    }

    /// How many members of `class` the set holds.
    pub fn count(&self, set: u32, class: u32) -> u32 {
        let members = &self.sets[set as usize];
        match members.binary_search_by_key(&class, |&(c, _)| c) {
            Ok(at) => members[at].1,
            Err(_) => 0,
        }
    }

    /// Whether set `a` is contained in set `b`.
    pub fn is_subset(&self, a: u32, b: u32) -> bool {
        a == 0
            || a == b
            || self.sets[a as usize]
                .iter()
                .all(|&(c, n)| self.count(b, c) >= n)
    }

    /// How many ops the set holds.
    pub fn size(&self, set: u32) -> u32 {
        self.sets[set as usize].iter().map(|&(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_group_equal_ops_in_call_order() {
        let c = Classes::new(&[7, 3, 7, 7, 3, 9]);
        assert_eq!(c.members, vec![vec![0, 2, 3], vec![1, 4], vec![5]]);
        assert_eq!(c.of, vec![0, 1, 0, 0, 1, 2]);
    }

    #[test]
    fn sets_are_canonical_whatever_the_order_of_adding() {
        let mut s = InfoSets::new();
        let a = s.add(0, 1);
        let ab = s.add(a, 2);
        let b = s.add(0, 2);
        let ba = s.add(b, 1);
        assert_eq!(ab, ba);
        let abb = s.add(ab, 2);
        assert_eq!(
            (s.count(abb, 2), s.count(abb, 1), s.count(abb, 7)),
            (2, 1, 0)
        );
        assert!(s.is_subset(0, abb) && s.is_subset(ab, abb) && !s.is_subset(abb, ab));
        let c = s.add(0, 3);
        assert!(!s.is_subset(c, ab) && s.is_subset(a, ab));
        assert_eq!(s.size(abb), 3);
    }
}
