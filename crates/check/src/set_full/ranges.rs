//! The read scan of set-full for a history whose reads are all in the
//! compact form ([`IntMultiset`]), as the workbench records broadcast and
//! g-set: it works on each read's ranges and never visits an element of a
//! read one by one. Its cost grows with the elements added and the ranges
//! of the reads, not with the elements the reads hold (4.5 million in a
//! 60 s broadcast run at 100 ops/s, in about 4,000 ranges).
//!
//! It sets the same fields of each [`Element`] that [`super::scan_reads`]
//! sets, as far as [`super::classify`] and the final-read check read
//! them:
//!
//! - `last_present` is the last read only for an element that read holds,
//!   else `None` (classify asks only whether it is the last read);
//! - `run_start` is one past the last read that missed such an element:
//!   a walk back from the last read, keeping as ranges the elements of the
//!   last read that every read so far held;
//! - `known` is the earliest completion of a read holding the element
//!   among reads completing after its add began: a walk through the reads
//!   in completion order, keeping the added elements not yet seen in one;
//! - `copies_max` comes from each read's extra copies, which also adds
//!   elements to the table that only reads returned (the duplicates).
//!
//! Elements that reads returned once each and no client added are not
//! put in the table: nothing in the result can name them.

use std::collections::BTreeSet;

use lightcone_history::IntMultiset;

use super::{ElementKey, ElementTable, Read, ReadElements};

/// The compact form of every read, or `None` if some read is a plain
/// array.
pub(super) fn all_compact<'r>(reads: &'r [Read]) -> Option<Vec<&'r IntMultiset>> {
    reads
        .iter()
        .map(|r| match &r.elements {
            ReadElements::Ints(set) => Some(set),
            ReadElements::List(_) => None,
        })
        .collect()
}

/// The read scan (module docs); `sets[rank]` is the elements of
/// `reads[rank]`, which are in invocation order.
pub(super) fn scan(reads: &[Read], sets: &[&IntMultiset], table: &mut ElementTable) {
    for set in sets {
        for &(e, extra) in set.extra_copies() {
            let i = table.position_of_int(e);
            let el = &mut table.elements[i];
            let copies = u32::try_from(extra.saturating_add(1)).unwrap_or(u32::MAX);
            el.copies_max = el.copies_max.max(copies);
        }
    }
    // The integer elements, ascending, with their positions in the table.
    let mut ints: Vec<(i64, usize)> = table
        .elements
        .iter()
        .enumerate()
        .filter_map(|(i, el)| match el.key {
            ElementKey::Int(e) => Some((e, i)),
            ElementKey::Text(_) => None,
        })
        .collect();
    ints.sort_unstable();
    runs_to_the_last_read(sets, &ints, table);
    known_by_reads(reads, sets, &ints, table);
}

/// The elements of `ints` inside `lo..=hi`.
fn inside(ints: &[(i64, usize)], lo: i64, hi: i64) -> &[(i64, usize)] {
    let from = ints.partition_point(|&(e, _)| e < lo);
    let to = ints.partition_point(|&(e, _)| e <= hi);
    &ints[from..to]
}

/// Sets `last_present` and `run_start` of the elements the last read
/// holds (module docs).
fn runs_to_the_last_read(sets: &[&IntMultiset], ints: &[(i64, usize)], table: &mut ElementTable) {
    let Some((last_set, earlier)) = sets.split_last() else {
        return;
    };
    let last = earlier.len();
    for &(lo, hi) in last_set.ranges() {
        for &(_, i) in inside(ints, lo, hi) {
            table.elements[i].last_present = Some(last);
            table.elements[i].run_start = 0;
        }
    }
    // Elements of the last read held by every read from `rank + 1` on.
    let mut held: Vec<(i64, i64)> = last_set.ranges().to_vec();
    let mut kept: Vec<(i64, i64)> = Vec::new();
    let mut gone: Vec<(i64, i64)> = Vec::new();
    for rank in (0..last).rev() {
        if held.is_empty() {
            break;
        }
        split(&held, sets[rank].ranges(), &mut kept, &mut gone);
        for &(lo, hi) in &gone {
            for &(_, i) in inside(ints, lo, hi) {
                table.elements[i].run_start = rank + 1;
            }
        }
        std::mem::swap(&mut held, &mut kept);
    }
}

/// Splits the ranges `a` into those inside the ranges `b` (`kept`) and
/// those outside (`gone`); both inputs sorted and disjoint.
fn split(
    a: &[(i64, i64)],
    b: &[(i64, i64)],
    kept: &mut Vec<(i64, i64)>,
    gone: &mut Vec<(i64, i64)>,
) {
    kept.clear();
    gone.clear();
    let mut j = 0;
    for &(lo, hi) in a {
        let mut at = lo;
        // `at` is the first element of (lo, hi) not yet placed.
        while j < b.len() && b[j].1 < at {
            j += 1;
        }
        let mut k = j;
        loop {
            match b.get(k) {
                Some(&(blo, bhi)) if blo <= hi => {
                    if blo > at {
                        gone.push((at, blo - 1));
                    }
                    let end = bhi.min(hi);
                    kept.push((at.max(blo), end));
                    if end == hi {
                        break;
                    }
                    at = end + 1;
                    k += 1;
                }
                _ => {
                    gone.push((at, hi));
                    break;
                }
            }
        }
    }
}

/// Sets `known` to the earliest completion of a read holding the element
/// among reads completing after its first add began, where that is
/// earlier than what the add's own `ok` set (module docs).
fn known_by_reads(
    reads: &[Read],
    sets: &[&IntMultiset],
    ints: &[(i64, usize)],
    table: &mut ElementTable,
) {
    // Added integer elements by the invocation of their first add.
    let mut adds: Vec<(super::Instant, i64, usize)> = ints
        .iter()
        .filter_map(|&(e, i)| Some((table.elements[i].add_invoked?, e, i)))
        .collect();
    adds.sort_unstable();
    let mut by_completion: Vec<usize> = (0..reads.len()).collect();
    by_completion.sort_unstable_by_key(|&r| reads[r].completion);
    // Added elements whose add began before the current read completed,
    // and that no read so far (in completion order) held, with positions.
    let mut unseen: BTreeSet<(i64, usize)> = BTreeSet::new();
    let mut next_add = 0;
    let mut found: Vec<(i64, usize)> = Vec::new();
    for r in by_completion {
        let completion = reads[r].completion;
        while let Some(&(_, e, i)) = adds.get(next_add).filter(|(a, ..)| *a < completion) {
            unseen.insert((e, i));
            next_add += 1;
        }
        for &(lo, hi) in sets[r].ranges() {
            found.extend(unseen.range((lo, 0)..=(hi, usize::MAX)).copied());
        }
        for (e, i) in found.drain(..) {
            unseen.remove(&(e, i));
            let el = &mut table.elements[i];
            if el.known.is_none_or(|k| completion < k) {
                el.known = Some(completion);
            }
        }
    }
}
