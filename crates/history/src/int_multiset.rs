//! A compact, exact form of a read that returns integers: broadcast's
//! `messages` and g-set's `value`, where every read returns every element
//! so far. A 60 s broadcast run at 100 ops/s holds about 4.5 million
//! elements across its reads; as JSON arrays that is 32 bytes of
//! `serde_json::Value` each in memory and 25 MB of history.jsonl. The
//! elements are consecutive integers with few gaps, so the workload
//! records each read as sorted ranges instead:
//!
//! ```json
//! {"int-ranges": [[0, 1499], [1501, 1510]], "extra-copies": [[7, 1]]}
//! ```
//!
//! `int-ranges` are sorted, disjoint, non-adjacent inclusive ranges of the
//! distinct elements; `extra-copies` (left out when empty) lists each
//! element the read held more than once, with how many copies beyond the
//! first. The form is exact as a multiset: the elements and how often each
//! came back. It drops one thing, the order in which the node listed them,
//! which no checker reads. A read holding anything that is not an integer
//! in `i64` stays the plain array, so nothing a misbehaving node returned
//! is lost.
//!
//! ```
//! use lightcone_history::IntMultiset;
//! use serde_json::json;
//! let read = IntMultiset::compact(json!([3, 0, 1, 2, 7, 1]));
//! assert_eq!(read, json!({"int-ranges": [[0, 3], [7, 7]], "extra-copies": [[1, 1]]}));
//! let set = IntMultiset::from_value(&read).unwrap();
//! assert!(set.contains(7) && !set.contains(5));
//! assert_eq!(set.to_elements(), vec![json!(0), json!(1), json!(1), json!(2), json!(3), json!(7)]);
//! assert_eq!(IntMultiset::compact(json!([1, "a"])), json!([1, "a"]));
//! ```

use serde_json::{Map, Value};

/// The compact form's key for its ranges.
pub const RANGES_KEY: &str = "int-ranges";
/// The compact form's key for its repeated elements.
pub const EXTRA_COPIES_KEY: &str = "extra-copies";

/// Most elements (copies included) a compact value read from a file may
/// stand for: 2^28, a JSON array of over a gigabyte. Past it the value is
/// refused, so that a hand-edited range like `[0, 9e18]` cannot make a
/// checker count for centuries.
pub const ELEMENT_COUNT_MAX: u64 = 1 << 28;

/// A multiset of integers as sorted ranges plus extra copies (module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IntMultiset {
    /// Sorted, disjoint and non-adjacent inclusive ranges.
    ranges: Vec<(i64, i64)>,
    /// Elements held more than once, ascending, each inside `ranges`, with
    /// the copies beyond the first (at least 1).
    extra_copies: Vec<(i64, u64)>,
}

/// Reads whose elements span up to this many times their count (plus a
/// little) are compacted with a bitset of the span (at most 8 bytes per
/// element, a quarter of the `Value`s they arrive in); wider ones are
/// sorted.
const BITSET_SPAN_PER_ELEMENT: u64 = 64;

/// What one pass over a read found (see [`IntMultiset::by_bitset`]).
enum Marked {
    Set(IntMultiset),
    /// An element is not an integer in `i64`.
    NotInt,
    /// The elements span more than the bitset is allowed to.
    TooWide,
}

impl IntMultiset {
    /// The multiset of `elements`, or `None` if one is not an integer in
    /// `i64`.
    pub fn from_elements(elements: &[Value]) -> Option<IntMultiset> {
        let span_max = BITSET_SPAN_PER_ELEMENT * elements.len() as u64 + 4096;
        match IntMultiset::by_bitset(elements, span_max) {
            Marked::Set(set) => Some(set),
            Marked::NotInt => None,
            Marked::TooWide => IntMultiset::by_sorting(elements),
        }
    }

    /// [`IntMultiset::from_elements`] by sorting, for reads too sparse
    /// for a bitset.
    fn by_sorting(elements: &[Value]) -> Option<IntMultiset> {
        let mut sorted = elements
            .iter()
            .map(Value::as_i64)
            .collect::<Option<Vec<i64>>>()?;
        sorted.sort_unstable();
        let mut set = IntMultiset::default();
        for run in sorted.chunk_by(|a, b| a == b) {
            set.push(run[0], run.len() as u64);
        }
        Some(set)
    }

    /// [`IntMultiset::from_elements`] in one pass over the elements,
    /// marking a bitset and setting repeats aside, then the ranges read
    /// off the bitset a word at a time. A read is dense, so this beats
    /// sorting (the node lists elements in arrival order, not sorted).
    /// The bitset starts at the first element and grows either way as the
    /// elements need, to at most `span_max` bits and a word either side;
    /// past that it gives up ([`Marked::TooWide`]), so a sparse read costs
    /// no more memory than that.
    ///
    /// One pass, not a first one for the least and greatest elements: a
    /// read arrives as `Value`s of 32 bytes each, and reading them is most
    /// of the cost.
    fn by_bitset(elements: &[Value], span_max: u64) -> Marked {
        let Some(first) = elements.first() else {
            return Marked::Set(IntMultiset::default());
        };
        let Some(first) = first.as_i64() else {
            return Marked::NotInt;
        };
        // The integer at bit 0 of `words[0]`: a word below the first
        // element, which is usually about the least.
        let Some(mut base) = first.checked_sub(64) else {
            return Marked::TooWide;
        };
        let words_max = (span_max / 64 + 3) as usize;
        let mut words = vec![0u64; (elements.len() / 64 + 2).min(words_max)];
        let mut repeats: Vec<i64> = Vec::new();
        // The word being marked stays in a register (`marking`) until the
        // elements move on to another word. Neighbours in a read mostly
        // share a word, and loading a word just stored would wait for the
        // store to be forwarded on every element (half the time of this
        // function, by perf).
        let (mut at_word, mut marking) = (1usize, 0u64);
        for e in elements {
            let Some(e) = e.as_i64() else {
                return Marked::NotInt;
            };
            // Meaningful only from `base` up; `e < base` catches the rest
            // (the difference wraps, and can wrap to a small number).
            let mut word = (e.wrapping_sub(base) as u64 / 64) as usize;
            if e < base || word >= words.len() {
                words[at_word] = marking;
                let grown = if e < base {
                    IntMultiset::grow_down(&mut words, &mut base, e, words_max)
                } else {
                    IntMultiset::grow_up(&mut words, word, words_max)
                };
                let Some(shift) = grown else {
                    return Marked::TooWide;
                };
                at_word += shift;
                marking = words[at_word];
                word = (e.abs_diff(base) / 64) as usize;
            }
            let bit = 1u64 << (e.abs_diff(base) % 64);
            if word != at_word {
                words[at_word] = marking;
                at_word = word;
                marking = words[word];
            }
            if marking & bit != 0 {
                repeats.push(e);
            }
            marking |= bit;
        }
        words[at_word] = marking;
        Marked::Set(IntMultiset::from_marks(&words, base, repeats))
    }

    /// Grows the bitset downwards to hold `e`, at least doubling it, to no
    /// more than `words_max` words; says by how many words the old ones
    /// moved up, or `None` if `e` does not fit.
    fn grow_down(words: &mut Vec<u64>, base: &mut i64, e: i64, words_max: usize) -> Option<usize> {
        let short = base.abs_diff(e).div_ceil(64) as usize;
        let room = words_max.checked_sub(words.len())?;
        if short > room {
            return None;
        }
        let grow = short.max(words.len()).min(room);
        *base = base.checked_sub_unsigned(grow as u64 * 64)?;
        let mut grown = vec![0u64; grow + words.len()];
        grown[grow..].copy_from_slice(words);
        *words = grown;
        Some(grow)
    }

    /// Grows the bitset upwards to hold word `word`, at least doubling it,
    /// to no more than `words_max` words; `None` if it does not fit.
    fn grow_up(words: &mut Vec<u64>, word: usize, words_max: usize) -> Option<usize> {
        if word >= words_max {
            return None;
        }
        words.resize((word + 1).max(words.len() * 2).min(words_max), 0);
        Some(0)
    }

    /// The multiset whose distinct elements are the bits set in `words`
    /// (bit 0 of `words[0]` standing for `base`) and whose extra copies
    /// are `repeats`.
    fn from_marks(words: &[u64], base: i64, mut repeats: Vec<i64>) -> IntMultiset {
        let mut set = IntMultiset::default();
        // The first element of the range being read off, as an offset.
        let mut open: Option<u64> = None;
        for (k, &w) in words.iter().enumerate() {
            let offset = k as u64 * 64;
            let mut bit = 0u32;
            while bit < 64 {
                let rest = w >> bit;
                match open {
                    Some(from) => {
                        bit += rest.trailing_ones();
                        if bit < 64 {
                            set.ranges.push(IntMultiset::range_at(
                                base,
                                from,
                                offset + u64::from(bit) - 1,
                            ));
                            open = None;
                        }
                    }
                    None if rest == 0 => break,
                    None => {
                        bit += rest.trailing_zeros();
                        open = Some(offset + u64::from(bit));
                    }
                }
            }
        }
        if let Some(from) = open {
            // The last word's top bit is set: the range ends there.
            let last = words.len() as u64 * 64 - 1;
            set.ranges.push(IntMultiset::range_at(base, from, last));
        }
        repeats.sort_unstable();
        for run in repeats.chunk_by(|a, b| a == b) {
            set.extra_copies.push((run[0], run.len() as u64));
        }
        set
    }

    /// The range of offsets `from..=to` from `base`.
    fn range_at(base: i64, from: u64, to: u64) -> (i64, i64) {
        (
            base.wrapping_add_unsigned(from),
            base.wrapping_add_unsigned(to),
        )
    }

    /// Appends `element`, held `copies` times (at least once); elements
    /// come in ascending order.
    fn push(&mut self, element: i64, copies: u64) {
        debug_assert!(copies >= 1);
        match self.ranges.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(element) => *hi = element,
            _ => self.ranges.push((element, element)),
        }
        if copies > 1 {
            self.extra_copies.push((element, copies - 1));
        }
    }

    /// A read's value as the workload records it: an array of integers in
    /// its compact form, anything else as it is.
    pub fn compact(value: Value) -> Value {
        match value.as_array().and_then(|a| IntMultiset::from_elements(a)) {
            Some(set) => set.to_value(),
            None => value,
        }
    }

    /// The compact JSON form (module docs).
    pub fn to_value(&self) -> Value {
        let pair = |a: i64, b: Value| Value::Array(vec![Value::from(a), b]);
        let mut object = Map::new();
        object.insert(
            RANGES_KEY.to_string(),
            Value::Array(
                self.ranges
                    .iter()
                    .map(|&(lo, hi)| pair(lo, Value::from(hi)))
                    .collect(),
            ),
        );
        if !self.extra_copies.is_empty() {
            object.insert(
                EXTRA_COPIES_KEY.to_string(),
                Value::Array(
                    self.extra_copies
                        .iter()
                        .map(|&(e, n)| pair(e, Value::from(n)))
                        .collect(),
                ),
            );
        }
        Value::Object(object)
    }

    /// Reads the compact form back: `None` for anything else, including a
    /// compact form that is not canonical (ranges out of order, touching
    /// or empty; copies of elements outside them, out of order or zero)
    /// or that stands for more than [`ELEMENT_COUNT_MAX`] elements.
    pub fn from_value(value: &Value) -> Option<IntMultiset> {
        let object = value.as_object()?;
        let ranges = object.get(RANGES_KEY)?.as_array()?;
        let extra = match object.get(EXTRA_COPIES_KEY) {
            Some(extra) => extra.as_array()?.as_slice(),
            None => &[],
        };
        let known_keys = 1 + usize::from(object.contains_key(EXTRA_COPIES_KEY));
        if object.len() != known_keys {
            return None;
        }
        let mut set = IntMultiset::default();
        let mut count: u64 = 0;
        for r in ranges {
            let (lo, hi) = pair(r)?;
            let hi = hi.as_i64()?;
            let touches = set
                .ranges
                .last()
                .is_some_and(|&(_, prev)| prev.checked_add(1).is_none_or(|next| lo <= next));
            if hi < lo || touches {
                return None;
            }
            count = count.checked_add(hi.abs_diff(lo).checked_add(1)?)?;
            set.ranges.push((lo, hi));
        }
        for e in extra {
            let (element, n) = pair(e)?;
            let n = n.as_u64().filter(|&n| n >= 1)?;
            let ascending = set.extra_copies.last().is_none_or(|&(p, _)| p < element);
            if !ascending || !set.contains(element) {
                return None;
            }
            count = count.checked_add(n)?;
            set.extra_copies.push((element, n));
        }
        (count <= ELEMENT_COUNT_MAX).then_some(set)
    }

    /// The ranges of distinct elements, ascending.
    pub fn ranges(&self) -> &[(i64, i64)] {
        &self.ranges
    }

    /// The elements held more than once, ascending, with the copies beyond
    /// the first.
    pub fn extra_copies(&self) -> &[(i64, u64)] {
        &self.extra_copies
    }

    /// Whether `element` is in it: a binary search over the ranges.
    pub fn contains(&self, element: i64) -> bool {
        let after = self.ranges.partition_point(|&(lo, _)| lo <= element);
        after > 0 && element <= self.ranges[after - 1].1
    }

    /// How many distinct elements it holds.
    pub fn distinct_count(&self) -> u64 {
        self.ranges
            .iter()
            .map(|&(lo, hi)| hi.abs_diff(lo) + 1)
            .sum()
    }

    /// How many elements it holds, copies included: the plain array's
    /// length.
    pub fn len(&self) -> u64 {
        self.distinct_count() + self.extra_copies.iter().map(|&(_, n)| n).sum::<u64>()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Each distinct element, ascending, with how many times it is held.
    pub fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        let mut extra = self.extra_copies.iter().peekable();
        self.ranges
            .iter()
            .flat_map(|&(lo, hi)| lo..=hi)
            .map(move |e| match extra.next_if(|&&(x, _)| x == e) {
                Some(&(_, n)) => (e, 1 + n),
                None => (e, 1),
            })
    }

    /// The plain array: ascending, copies side by side.
    pub fn to_elements(&self) -> Vec<Value> {
        let mut out = Vec::with_capacity(self.len() as usize);
        for (e, n) in self.iter() {
            for _ in 0..n {
                out.push(Value::from(e));
            }
        }
        out
    }

    /// A read's value as a plain array, for writers of other formats
    /// (Jepsen EDN): the compact form expanded, anything else as it is.
    pub fn expand(value: &Value) -> Option<Value> {
        IntMultiset::from_value(value).map(|set| Value::Array(set.to_elements()))
    }
}

/// A two-element array whose first element is an integer.
fn pair(v: &Value) -> Option<(i64, &Value)> {
    match v.as_array()?.as_slice() {
        [a, b] => Some((a.as_i64()?, b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_rng::Rng;
    use serde_json::json;

    /// The plain array sorted as `to_elements` lists it.
    fn sorted(elements: &[Value]) -> Vec<Value> {
        let mut ints: Vec<i64> = elements.iter().map(|e| e.as_i64().unwrap()).collect();
        ints.sort_unstable();
        ints.into_iter().map(Value::from).collect()
    }

    #[test]
    fn compacts_and_expands_exactly_as_a_multiset() {
        let mut rng = Rng::new(7, 0);
        for case in 0..4000 {
            let len = rng.below([40, 40, 40, 40, 400, 400][case % 6]) as usize;
            let elements: Vec<Value> = (0..len)
                .map(|j| match case % 6 {
                    0 => Value::from(rng.below(50) as i64 - 10),
                    1 => Value::from(rng.next_u64() as i64),
                    2 => Value::from([i64::MIN, i64::MAX, 0, -1][rng.below(4) as usize]),
                    3 => Value::from(rng.below(1 << 20) as i64),
                    // Dense, across bitset words, from a negative start.
                    4 => Value::from(rng.below(300) as i64 - 70),
                    // Descending with repeats: the bitset grows downwards
                    // from the first element, several words at a time.
                    _ => Value::from(500 - j as i64 + rng.below(3) as i64),
                })
                .collect();
            let value = IntMultiset::compact(Value::Array(elements.clone()));
            let set = IntMultiset::from_value(&value).expect("canonical");
            assert_eq!(set.to_elements(), sorted(&elements), "{elements:?}");
            assert_eq!(set.len(), len as u64);
            assert_eq!(Some(set.clone()), IntMultiset::from_elements(&elements));
            for e in &elements {
                assert!(set.contains(e.as_i64().unwrap()));
            }
            let back: Value = serde_json::from_str(&value.to_string()).unwrap();
            assert_eq!(IntMultiset::from_value(&back), Some(set));
        }
    }

    #[test]
    fn a_bitset_near_i64_max_does_not_take_i64_min_for_its_neighbour() {
        // i64::MIN + 1 - (i64::MAX - 65) wraps to 67, inside the bitset.
        let read = json!([i64::MAX - 1, i64::MAX, i64::MAX - 1, i64::MIN + 1]);
        let expected = json!({
            "int-ranges": [[i64::MIN + 1, i64::MIN + 1], [i64::MAX - 1, i64::MAX]],
            "extra-copies": [[i64::MAX - 1, 1]]
        });
        assert_eq!(IntMultiset::compact(read), expected);
    }

    #[test]
    fn anything_but_i64_integers_stays_a_plain_array() {
        for value in [
            json!([1, 2.0]),
            json!([1, "2"]),
            json!([18446744073709551615u64]),
            json!([null]),
            json!([[1]]),
            json!({"a": 1}),
            json!(null),
        ] {
            assert_eq!(IntMultiset::compact(value.clone()), value);
        }
        assert_eq!(IntMultiset::compact(json!([])), json!({"int-ranges": []}));
    }

    #[test]
    fn only_the_canonical_form_reads_back() {
        for bad in [
            json!({"int-ranges": [[3, 2]]}),
            json!({"int-ranges": [[0, 2], [3, 4]]}),
            json!({"int-ranges": [[5, 6], [0, 2]]}),
            json!({"int-ranges": [[0, 2], [2, 4]]}),
            json!({"int-ranges": [[0, 2]], "extra-copies": [[5, 1]]}),
            json!({"int-ranges": [[0, 2]], "extra-copies": [[1, 0]]}),
            json!({"int-ranges": [[0, 2]], "extra-copies": [[1, 1], [0, 1]]}),
            json!({"int-ranges": [[0, 2]], "other": 1}),
            json!({"int-ranges": [[0, 1e20]]}),
            json!({"int-ranges": [[0, 1, 2]]}),
            json!({"int-ranges": [[0, 4611686018427387904i64]]}),
            json!({"extra-copies": []}),
        ] {
            assert_eq!(IntMultiset::from_value(&bad), None, "{bad}");
        }
        let edges = json!({"int-ranges": [[i64::MIN, i64::MIN + 1], [i64::MAX, i64::MAX]]});
        assert_eq!(IntMultiset::from_value(&edges).unwrap().len(), 3);
    }
}
