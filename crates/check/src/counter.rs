//! The g-counter and pn-counter workloads' checker: Maelstrom's, which
//! judges the final reads, and a report on every read made during the test.
//!
//! Clients `add` an integer delta (negative ones only in pn-counter) and
//! `read` the counter's value.
//!
//! **Final reads** (Maelstrom's check). After the cluster heals, each client
//! reads once more. Such a read must be the sum of every acknowledged add
//! plus the sum of *some subset* of the indeterminate adds (`info`, or never
//! completed); failed adds count for nothing. The acceptable values are kept
//! as sorted, disjoint, inclusive ranges, built by folding each indeterminate
//! delta d into the set S as S ∪ (S + d). Equal small deltas collapse into a
//! single range after a few folds; adversarial deltas could double the count
//! at every fold, so past [`RANGES_MAX`] ranges the closest ones are merged,
//! which only ever adds values (the check stays sound) and is reported as
//! `"ranges-approximated": true`.
//!
//! **Reads during the test** (reported, not judged). A read that ran
//! from its invocation I to its completion C saw the counter at some instant
//! in between, so its value holds every add acknowledged before I and any
//! subset of the adds invoked before C that did not fail. The value must
//! therefore lie between *lower* = (positive deltas acknowledged before I) +
//! (negative deltas of every add invoked before C and not failed) and
//! *upper*, the same with signs swapped. A value outside cannot have been
//! the counter's value at any instant of the read: the read was stale (or
//! made up). Such reads are counted and listed in the details
//! (`read-error-count`, `read-errors`) but do not make the run invalid: a
//! counter is only required to converge, and an available counter (a CRDT
//! during a partition) must serve stale reads. Maelstrom, too, judges the
//! final reads only, so a node that passes Maelstrom passes here. With
//! the adds sorted by invocation and by acknowledgement and prefix sums over
//! both, each read costs two binary searches: O(n log n) overall.

use std::collections::BTreeMap;

use lightcone_history::{History, Op, OpType, Process};
use serde::Serialize;

use crate::{list_some, plural, CheckResult, Validity};

/// How many disjoint ranges the acceptable set may hold before the closest
/// ones are merged (an over-approximation, reported in the details).
pub const RANGES_MAX: usize = 10_000;
/// How many bad reads `errors` and `read-errors` list; the counts cover all.
const ERRORS_SHOWN_MAX: usize = 20;
/// How many bad reads get a sentence of their own among the problems.
const ERRORS_NAMED_MAX: usize = 5;
/// How many acceptable ranges a problem sentence names.
const RANGES_NAMED_MAX: usize = 8;

/// A point in the history: the op's time, then its position in the history.
/// The position breaks ties in the order the recorder saw events, as in
/// [`set_full`](crate::set_full).
type Instant = (u64, usize);

/// How an add ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddOutcome {
    /// Acknowledged at this instant.
    Ok(Instant),
    Fail,
    /// `info`, or never completed: it may or may not have happened.
    Indeterminate,
}

#[derive(Debug, Clone, Copy)]
struct Add {
    invoke: Instant,
    outcome: AddOutcome,
    delta: i64,
}

/// A successful read.
#[derive(Debug, Clone, Copy)]
struct Read {
    process: Process,
    invoke: Instant,
    completion: Instant,
    /// The completion's `index`, to name the op in reports.
    index: u64,
    value: i64,
    is_final: bool,
}

/// Everything the checker takes from a history.
#[derive(Debug, Default)]
struct Collected {
    adds: Vec<Add>,
    reads: Vec<Read>,
    /// Positions of add invocations whose delta is not an integer.
    malformed_adds: Vec<usize>,
    /// Positions of ok reads whose value is not an integer.
    malformed_reads: Vec<usize>,
}

/// Checks a counter history (`add` with an integer delta, `read` returning
/// an integer): every final read must be an acceptable final value, and
/// every other read must be a value the counter could have had while it ran.
///
/// Final reads are the reads flagged `final`. A history without them (one
/// made by another tool, or cut short) falls back to the last read of each
/// process, among those that began after the last add was acknowledged
/// (an earlier read may rightly miss later adds; the during-the-test check
/// covers it). Acknowledged adds that complete after the first final read
/// began are, soundly, treated as indeterminate for the final check.
///
/// Invalid if any read is out of bounds; unknown if some op is malformed
/// (a non-integer delta makes every bound doubtful) or if adds were
/// attempted but no read succeeded.
pub fn check(history: &History) -> CheckResult<Details> {
    let collected = collect(history);
    let (finals_source, finals) = final_reads(&collected);
    let acceptable = acceptable_final_values(&collected.adds, &finals);
    let final_errors: Vec<&Read> = finals
        .iter()
        .copied()
        .filter(|r| !acceptable.set.contains(r.value))
        .collect();
    let read_errors = check_reads_during_test(&collected, &finals);
    let found = Found {
        c: &collected,
        finals_source,
        finals: &finals,
        acceptable: &acceptable,
        final_errors: &final_errors,
        read_errors: &read_errors,
    };
    report(&history.ops, &found)
}

/// What the check found, for the report.
struct Found<'a> {
    c: &'a Collected,
    /// Which reads were taken as final (see [`check`]).
    finals_source: &'a str,
    finals: &'a [&'a Read],
    acceptable: &'a Acceptable,
    /// The final reads that are not acceptable values.
    final_errors: &'a [&'a Read],
    /// The reads during the test outside their bounds.
    read_errors: &'a [ReadError],
}

fn collect(history: &History) -> Collected {
    let ops = &history.ops;
    let at = |pos: usize| -> Instant { (ops[pos].time, pos) };
    let mut c = Collected::default();
    for (inv, done) in history.pair_positions() {
        let invoke = &ops[inv];
        if invoke.f == "add" {
            let Some(delta) = invoke.value.as_i64() else {
                c.malformed_adds.push(inv);
                continue;
            };
            let outcome = match done.map(|d| (d, ops[d].kind)) {
                Some((d, OpType::Ok)) => AddOutcome::Ok(at(d)),
                Some((_, OpType::Fail)) => AddOutcome::Fail,
                _ => AddOutcome::Indeterminate,
            };
            c.adds.push(Add {
                invoke: at(inv),
                outcome,
                delta,
            });
        } else if invoke.f == "read" {
            let Some(d) = done.filter(|&d| ops[d].kind == OpType::Ok) else {
                continue;
            };
            let Some(value) = ops[d].value.as_i64() else {
                c.malformed_reads.push(d);
                continue;
            };
            c.reads.push(Read {
                process: invoke.process,
                invoke: at(inv),
                completion: at(d),
                index: ops[d].index,
                value,
                is_final: invoke.is_final || ops[d].is_final,
            });
        }
    }
    c
}

/// The reads checked against the acceptable final values, in completion
/// order, and where they came from: `"final"` (flagged by the workbench),
/// `"last-read-per-process"` (the fallback), or `"none"`.
fn final_reads(c: &Collected) -> (&'static str, Vec<&Read>) {
    let mut finals: Vec<&Read> = c.reads.iter().filter(|r| r.is_final).collect();
    let source = if !finals.is_empty() {
        "final"
    } else {
        let last_ack = c
            .adds
            .iter()
            .filter_map(|a| match a.outcome {
                AddOutcome::Ok(at) => Some(at),
                _ => None,
            })
            .max();
        let mut last: BTreeMap<Process, &Read> = BTreeMap::new();
        for r in &c.reads {
            let entry = last.entry(r.process).or_insert(r);
            if r.completion > entry.completion {
                *entry = r;
            }
        }
        finals = last
            .into_values()
            .filter(|r| last_ack.is_none_or(|a| r.invoke > a))
            .collect();
        if finals.is_empty() {
            "none"
        } else {
            "last-read-per-process"
        }
    };
    finals.sort_by_key(|r| r.completion);
    (source, finals)
}

/// The acceptable final values and how they were built.
#[derive(Debug)]
struct Acceptable {
    set: RangeSet,
    ok_add_count: usize,
    indeterminate_add_count: usize,
    fail_add_count: usize,
    /// Acknowledged adds that completed after the first final read began,
    /// folded in as indeterminate.
    concurrent_ok_add_count: usize,
}

fn acceptable_final_values(adds: &[Add], finals: &[&Read]) -> Acceptable {
    let first_final = finals.iter().map(|r| r.invoke).min();
    let mut base = 0i64;
    let mut optional: Vec<i64> = Vec::new();
    let mut a = Acceptable {
        set: RangeSet::point(0),
        ok_add_count: 0,
        indeterminate_add_count: 0,
        fail_add_count: 0,
        concurrent_ok_add_count: 0,
    };
    for add in adds {
        match add.outcome {
            AddOutcome::Ok(at) => {
                a.ok_add_count += 1;
                if first_final.is_none_or(|f| at < f) {
                    base = base.saturating_add(add.delta);
                } else {
                    a.concurrent_ok_add_count += 1;
                    optional.push(add.delta);
                }
            }
            AddOutcome::Fail => a.fail_add_count += 1,
            AddOutcome::Indeterminate => {
                a.indeterminate_add_count += 1;
                optional.push(add.delta);
            }
        }
    }
    // The result does not depend on the order of the folds (unless ranges
    // are merged at the bound); small deltas first keeps the set compact.
    optional.sort_by_key(|&d| (d.unsigned_abs(), d));
    a.set = RangeSet::point(base);
    for d in optional {
        a.set.union_shifted(d, RANGES_MAX);
    }
    a
}

/// A read during the test whose value is outside the bounds of its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReadError {
    process: Process,
    index: u64,
    value: i64,
    lower: i128,
    upper: i128,
}

/// Sums of deltas over a prefix of a sorted list of adds: element i covers
/// the first i adds.
#[derive(Debug, Default)]
struct PrefixSums {
    positive: Vec<i128>,
    negative: Vec<i128>,
}

impl PrefixSums {
    fn of(deltas: impl Iterator<Item = i64>) -> PrefixSums {
        let mut sums = PrefixSums {
            positive: vec![0],
            negative: vec![0],
        };
        for d in deltas {
            let (p, n) = (
                *sums.positive.last().expect("starts non-empty"),
                *sums.negative.last().expect("starts non-empty"),
            );
            sums.positive.push(p + i128::from(d.max(0)));
            sums.negative.push(n + i128::from(d.min(0)));
        }
        sums
    }
}

/// Checks every read not already checked as a final read against the
/// bounds of its interval (see the module docs).
fn check_reads_during_test(c: &Collected, finals: &[&Read]) -> Vec<ReadError> {
    let mut acked: Vec<(Instant, i64)> = c
        .adds
        .iter()
        .filter_map(|a| match a.outcome {
            AddOutcome::Ok(at) => Some((at, a.delta)),
            _ => None,
        })
        .collect();
    acked.sort_unstable();
    let mut maybe: Vec<(Instant, i64)> = c
        .adds
        .iter()
        .filter(|a| a.outcome != AddOutcome::Fail)
        .map(|a| (a.invoke, a.delta))
        .collect();
    maybe.sort_unstable();
    let acked_sums = PrefixSums::of(acked.iter().map(|a| a.1));
    let maybe_sums = PrefixSums::of(maybe.iter().map(|a| a.1));

    let mut errors = Vec::new();
    for r in &c.reads {
        // `finals` is sorted by completion.
        if finals
            .binary_search_by_key(&r.completion, |f| f.completion)
            .is_ok()
        {
            continue;
        }
        // Every add acknowledged before the read began was invoked before
        // it ended, so the first prefix lies inside the second.
        let before = acked.partition_point(|a| a.0 < r.invoke);
        let invoked = maybe.partition_point(|a| a.0 < r.completion);
        let lower = acked_sums.positive[before] + maybe_sums.negative[invoked];
        let upper = acked_sums.negative[before] + maybe_sums.positive[invoked];
        let value = i128::from(r.value);
        if value < lower || value > upper {
            errors.push(ReadError {
                process: r.process,
                index: r.index,
                value: r.value,
                lower,
                upper,
            });
        }
    }
    errors
}

/// Turns what was found into the verdict, problem sentences and details.
fn report(ops: &[Op], found: &Found) -> CheckResult<Details> {
    let Found {
        c,
        finals,
        acceptable,
        final_errors,
        read_errors,
        ..
    } = *found;
    let mut problems = final_read_problems(acceptable, final_errors);
    let mut valid = if final_errors.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    if let Some(unjudged) = unjudged_adds(c, finals, acceptable, read_errors) {
        valid = valid.merge(Validity::Unknown);
        problems.push(unjudged);
    }
    if let Some(&first) = c.malformed_adds.first() {
        // Without every delta no bound can be trusted, not even a violation.
        valid = Validity::Unknown;
        problems.push(malformed_sentence(
            &ops[first],
            c.malformed_adds.len(),
            "add",
            "a delta that is not an integer",
        ));
    }
    if let Some(&first) = c.malformed_reads.first() {
        valid = valid.merge(Validity::Unknown);
        problems.push(malformed_sentence(
            &ops[first],
            c.malformed_reads.len(),
            "read",
            "a value that is not an integer",
        ));
    }
    CheckResult::new(valid, problems, details(found))
}

/// One sentence per unacceptable final read (the first few), naming the
/// acceptable ranges, and a count of the rest.
fn final_read_problems(acceptable: &Acceptable, final_errors: &[&Read]) -> Vec<String> {
    let ranges_named = list_some(
        acceptable
            .set
            .ranges
            .iter()
            .map(|(lo, hi)| format!("[{lo}, {hi}]")),
        acceptable.set.ranges.len(),
        RANGES_NAMED_MAX,
    );
    let mut problems: Vec<String> = final_errors
        .iter()
        .take(ERRORS_NAMED_MAX)
        .map(|r| {
            format!(
                "final read {} by process {} (op {}) is not an acceptable value; acceptable: {ranges_named}",
                r.value, r.process, r.index
            )
        })
        .collect();
    if final_errors.len() > ERRORS_NAMED_MAX {
        problems.push(format!(
            "{} more final reads were not acceptable values",
            final_errors.len() - ERRORS_NAMED_MAX
        ));
    }
    problems
}

/// Why attempted adds cannot be judged, if they cannot: no read succeeded
/// at all, or none began after the last acknowledged add (only final reads
/// are judged; with none, convergence is unknown).
fn unjudged_adds(
    c: &Collected,
    finals: &[&Read],
    acceptable: &Acceptable,
    read_errors: &[ReadError],
) -> Option<String> {
    let attempted = c.adds.len() - acceptable.fail_add_count;
    if attempted == 0 {
        return None;
    }
    if c.reads.is_empty() {
        let were = if attempted == 1 { "was" } else { "were" };
        return Some(format!(
            "{} {were} attempted, but no read succeeded, so nothing can be said of them",
            plural(attempted, "add"),
        ));
    }
    if !finals.is_empty() {
        return None;
    }
    Some(format!(
        "no read began after the last acknowledged add, so whether the counter converged \
         is unknown ({} during the test{})",
        plural(c.reads.len(), "read"),
        if read_errors.is_empty() {
            String::new()
        } else {
            format!(", {} of them impossible", read_errors.len())
        }
    ))
}

/// The checker's details: the final reads and acceptable ranges, the adds
/// by outcome, and the first few errors of each kind with their counts.
fn details(found: &Found) -> Details {
    let Found {
        c,
        finals_source,
        finals,
        acceptable,
        final_errors,
        read_errors,
    } = *found;
    Details {
        final_reads: finals.iter().map(|r| r.value).collect(),
        final_reads_source: finals_source.to_string(),
        acceptable: acceptable.set.ranges.clone(),
        ranges_approximated: acceptable.set.approximated,
        ok_add_count: acceptable.ok_add_count,
        info_add_count: acceptable.indeterminate_add_count,
        fail_add_count: acceptable.fail_add_count,
        concurrent_ok_add_count: acceptable.concurrent_ok_add_count,
        read_count: c.reads.len(),
        error_count: final_errors.len(),
        errors: final_errors
            .iter()
            .take(ERRORS_SHOWN_MAX)
            .map(|r| FinalReadError {
                process: r.process,
                index: r.index,
                value: r.value,
            })
            .collect(),
        read_error_count: read_errors.len(),
        read_errors: read_errors
            .iter()
            .take(ERRORS_SHOWN_MAX)
            .map(|e| ReadOutOfBounds {
                process: e.process,
                index: e.index,
                value: e.value,
                lower: clamp(e.lower),
                upper: clamp(e.upper),
            })
            .collect(),
    }
}

/// A bound as an i64; sums beyond it (only from absurd deltas) are
/// clamped.
fn clamp(bound: i128) -> i64 {
    i64::try_from(bound).unwrap_or(if bound < 0 { i64::MIN } else { i64::MAX })
}

/// The counter checker's section of results.json.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    /// The final reads' values.
    pub final_reads: Vec<i64>,
    /// Which reads counted as final: those marked final, or the last read
    /// of each process.
    pub final_reads_source: String,
    /// The values a final read may hold: sorted, disjoint, inclusive
    /// ranges.
    pub acceptable: Vec<(i64, i64)>,
    /// Ranges were merged at the bound, so `acceptable` holds extra values.
    pub ranges_approximated: bool,
    pub ok_add_count: usize,
    pub info_add_count: usize,
    pub fail_add_count: usize,
    pub concurrent_ok_add_count: usize,
    pub read_count: usize,
    /// Final reads outside `acceptable`, all of them.
    pub error_count: usize,
    pub errors: Vec<FinalReadError>,
    /// Reads during the test outside the bounds of the adds around them.
    pub read_error_count: usize,
    pub read_errors: Vec<ReadOutOfBounds>,
}

/// A final read outside the acceptable values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinalReadError {
    pub process: Process,
    pub index: u64,
    pub value: i64,
}

/// A read during the test outside `[lower, upper]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadOutOfBounds {
    pub process: Process,
    pub index: u64,
    pub value: i64,
    pub lower: i64,
    pub upper: i64,
}

fn malformed_sentence(op: &Op, count: usize, f: &str, what: &str) -> String {
    format!(
        "{} had {what}, e.g. {} by process {} (op {}); they were ignored",
        plural(count, f),
        op.value,
        op.process,
        op.index
    )
}

/// A set of integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RangeSet {
    ranges: Vec<(i64, i64)>,
    /// Some ranges were merged at the bound, so the set holds extra values.
    approximated: bool,
}

impl RangeSet {
    fn point(value: i64) -> RangeSet {
        RangeSet {
            ranges: vec![(value, value)],
            approximated: false,
        }
    }

    fn contains(&self, value: i64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < value);
        self.ranges.get(i).is_some_and(|r| r.0 <= value)
    }

    /// S := S ∪ (S + delta), in one merge of two sorted lists, then merges
    /// the closest ranges if more than `ranges_max` remain.
    fn union_shifted(&mut self, delta: i64, ranges_max: usize) {
        assert!(ranges_max >= 1, "a range set needs room for one range");
        if delta == 0 {
            return;
        }
        let shifted: Vec<(i64, i64)> = self
            .ranges
            .iter()
            .map(|&(lo, hi)| (lo.saturating_add(delta), hi.saturating_add(delta)))
            .collect();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(self.ranges.len() * 2);
        let (mut a, mut b) = (self.ranges.iter().peekable(), shifted.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 <= y.0 => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => break,
            };
            push_merging(&mut merged, *next.expect("peeked"));
        }
        self.ranges = merged;
        if self.ranges.len() > ranges_max {
            self.coarsen(ranges_max);
        }
    }

    /// Merges the ranges separated by the smallest gaps until `ranges_max`
    /// remain: the fewest extra values for the ranges saved, found in
    /// linear time with a selection rather than a sort.
    fn coarsen(&mut self, ranges_max: usize) {
        let excess = self.ranges.len() - ranges_max;
        // Gap i lies between range i and range i + 1; ties go to the left.
        let mut gaps: Vec<(u64, usize)> = self
            .ranges
            .windows(2)
            .enumerate()
            .map(|(i, w)| (w[1].0.abs_diff(w[0].1), i))
            .collect();
        gaps.select_nth_unstable(excess - 1);
        let mut close = vec![false; self.ranges.len()];
        for &(_, i) in &gaps[..excess] {
            close[i] = true;
        }
        let mut coarse: Vec<(i64, i64)> = Vec::with_capacity(ranges_max);
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            match coarse.last_mut() {
                Some(last) if i > 0 && close[i - 1] => last.1 = hi,
                _ => coarse.push((lo, hi)),
            }
        }
        self.ranges = coarse;
        self.approximated = true;
    }
}

/// Appends a range to a list sorted by start, joining it to the last range
/// if they overlap or touch.
fn push_merging(ranges: &mut Vec<(i64, i64)>, (lo, hi): (i64, i64)) {
    if let Some(last) = ranges.last_mut() {
        if lo <= last.1.saturating_add(1) {
            last.1 = last.1.max(hi);
            return;
        }
    }
    ranges.push((lo, hi));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::testing::{invoke, nemesis, ok, op};

    use lightcone_rng::SplitMix64;
    use serde_json::{json, Value};

    fn values(set: &RangeSet) -> BTreeSet<i64> {
        set.ranges.iter().flat_map(|&(lo, hi)| lo..=hi).collect()
    }

    #[test]
    fn folds_merge_overlapping_and_adjacent_ranges() {
        let mut s = RangeSet::point(10);
        s.union_shifted(5, RANGES_MAX);
        assert_eq!(s.ranges, [(10, 10), (15, 15)]);
        s.union_shifted(1, RANGES_MAX);
        assert_eq!(s.ranges, [(10, 11), (15, 16)]);
        s.union_shifted(-3, RANGES_MAX);
        assert_eq!(s.ranges, [(7, 8), (10, 13), (15, 16)]);
        s.union_shifted(2, RANGES_MAX);
        assert_eq!(s.ranges, [(7, 18)]);
        s.union_shifted(0, RANGES_MAX);
        assert_eq!(s.ranges, [(7, 18)]);
        assert!(!s.approximated);
        assert!(s.contains(7) && s.contains(18) && !s.contains(6) && !s.contains(19));
    }

    #[test]
    fn twenty_unit_deltas_give_one_range() {
        let mut s = RangeSet::point(3);
        for _ in 0..20 {
            s.union_shifted(1, RANGES_MAX);
        }
        assert_eq!(s.ranges, [(3, 23)]);
    }

    #[test]
    fn folds_agree_with_subset_sums() {
        let mut rng = SplitMix64(11);
        for _ in 0..300 {
            let base = rng.below(20) as i64 - 10;
            let deltas: Vec<i64> = (0..rng.below(9))
                .map(|_| rng.below(41) as i64 - 20)
                .collect();
            let mut s = RangeSet::point(base);
            for &d in &deltas {
                s.union_shifted(d, RANGES_MAX);
            }
            let mut sums = BTreeSet::new();
            for mask in 0u32..(1 << deltas.len()) {
                let chosen = (0..deltas.len()).filter(|i| mask & (1 << i) != 0);
                sums.insert(base + chosen.map(|i| deltas[i]).sum::<i64>());
            }
            assert_eq!(values(&s), sums, "base {base}, deltas {deltas:?}");
            for w in s.ranges.windows(2) {
                assert!(
                    w[0].1 + 1 < w[1].0,
                    "disjoint, not adjacent: {:?}",
                    s.ranges
                );
            }
        }
    }

    #[test]
    fn the_bound_merges_the_closest_ranges_and_only_adds_values() {
        let mut exact = RangeSet::point(0);
        let mut bounded = RangeSet::point(0);
        // These make every subset sum distinct and not adjacent.
        for d in [10, 1_000, 1_000_000, 1_000_000_000] {
            exact.union_shifted(d, RANGES_MAX);
            bounded.union_shifted(d, 5);
        }
        assert_eq!(exact.ranges.len(), 16);
        assert!(!exact.approximated);
        assert_eq!(bounded.ranges.len(), 5);
        assert!(bounded.approximated);
        for &(lo, _) in &exact.ranges {
            assert!(bounded.contains(lo), "{lo} lost from {:?}", bounded.ranges);
        }
        // The closest pairs (1 apart) are merged first.
        let mut s = RangeSet {
            ranges: vec![(0, 0), (10, 10), (12, 12), (30, 30), (31, 40)],
            approximated: false,
        };
        s.coarsen(3);
        assert_eq!(s.ranges, [(0, 0), (10, 12), (30, 40)]);
    }

    /// The bounds of one read straight from the definition, scanning every
    /// add: what the prefix sums must agree with.
    fn bounds_naive(adds: &[Add], read: &Read) -> (i128, i128) {
        let (mut lower, mut upper) = (0i128, 0i128);
        for a in adds {
            let d = i128::from(a.delta);
            let certain = matches!(a.outcome, AddOutcome::Ok(at) if at < read.invoke);
            let possible = a.outcome != AddOutcome::Fail && a.invoke < read.completion;
            if certain {
                lower += d;
                upper += d;
            } else if possible {
                lower += d.min(0);
                upper += d.max(0);
            }
        }
        (lower, upper)
    }

    fn random_history(rng: &mut SplitMix64) -> History {
        let mut h = History::default();
        let mut pending: Vec<(u64, bool, i64)> = Vec::new();
        let mut next_process = 0;
        let mut value = 0i64;
        for step in 0..(4 + rng.below(30)) {
            let t = step / 2;
            if !pending.is_empty() && rng.below(2) == 0 {
                let (p, is_add, d) = pending.swap_remove(rng.below(pending.len() as u64) as usize);
                if is_add {
                    let kind =
                        [OpType::Ok, OpType::Ok, OpType::Fail, OpType::Info][rng.below(4) as usize];
                    if kind != OpType::Fail {
                        value += d;
                    }
                    h.push(op(p, kind, "add", json!(d), t));
                } else {
                    let noise = [0, 0, 0, 1, -1, 7][rng.below(6) as usize];
                    h.push(ok(p, "read", json!(value + noise), t));
                }
            } else {
                next_process += 1;
                if rng.below(2) == 0 {
                    let d = rng.below(10) as i64 - 5;
                    h.push(invoke(next_process, "add", json!(d), t));
                    pending.push((next_process, true, d));
                } else {
                    h.push(invoke(next_process, "read", Value::Null, t));
                    pending.push((next_process, false, 0));
                }
            }
        }
        h
    }

    #[test]
    fn read_bounds_agree_with_the_definition() {
        let mut rng = SplitMix64(5);
        let mut invalid = 0;
        for _ in 0..500 {
            let h = random_history(&mut rng);
            let c = collect(&h);
            let errors = check_reads_during_test(&c, &[]);
            let expected: Vec<ReadError> = c
                .reads
                .iter()
                .filter_map(|r| {
                    let (lower, upper) = bounds_naive(&c.adds, r);
                    let v = i128::from(r.value);
                    (v < lower || v > upper).then_some(ReadError {
                        process: r.process,
                        index: r.index,
                        value: r.value,
                        lower,
                        upper,
                    })
                })
                .collect();
            assert_eq!(errors, expected, "{}", h.to_jsonl());
            invalid += usize::from(!errors.is_empty());
        }
        assert!(invalid > 20 && invalid < 480, "{invalid} of 500 invalid");
    }

    #[test]
    fn nemesis_ops_and_other_functions_are_ignored() {
        let h: History = [
            invoke(0, "add", json!(2), 1),
            nemesis("start-partition", 2),
            ok(0, "add", json!(2), 3),
            invoke(0, "echo", json!("x"), 4),
            ok(0, "echo", json!("x"), 5),
            invoke(1, "read", Value::Null, 6),
            ok(1, "read", json!(2), 7),
        ]
        .into_iter()
        .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
        assert_eq!(
            crate::testing::to_json(&r.details.final_reads_source),
            json!("last-read-per-process")
        );
        assert_eq!(crate::testing::to_json(&r.details.final_reads), json!([2]));
        assert_eq!(
            crate::testing::to_json(&r.details.acceptable),
            json!([[2, 2]])
        );
    }

    #[test]
    fn stale_reads_during_the_test_are_reported_but_only_final_reads_judge() {
        // Process 1 reads 0 after an add of 5 was acknowledged: stale, as
        // an available counter may be in a partition. The final read
        // converged, so the run is valid (Maelstrom's verdict too).
        let h: History = [
            invoke(0, "add", json!(5), 1),
            ok(0, "add", json!(5), 2),
            invoke(1, "read", Value::Null, 3),
            ok(1, "read", json!(0), 4),
            invoke(1, "read", Value::Null, 5),
            ok(1, "read", json!(5), 6),
        ]
        .into_iter()
        .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
        assert_eq!(r.details.read_error_count, 1);
        assert_eq!(
            crate::testing::to_json(&r.details.read_errors[0])["value"],
            json!(0)
        );
        // A final read that never converged is what makes a run invalid.
        let h: History = [
            invoke(0, "add", json!(5), 1),
            ok(0, "add", json!(5), 2),
            invoke(1, "read", Value::Null, 3),
            ok(1, "read", json!(0), 4),
        ]
        .into_iter()
        .collect();
        assert_eq!(check(&h).valid, Validity::Invalid);
    }

    #[test]
    fn malformed_deltas_make_the_verdict_unknown() {
        let h: History = [
            invoke(0, "add", json!("three"), 1),
            ok(0, "add", json!("three"), 2),
            invoke(1, "read", Value::Null, 3),
            ok(1, "read", json!(3), 4),
        ]
        .into_iter()
        .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Unknown);
        assert!(
            r.problems
                .iter()
                .any(|p| p.starts_with("1 add had a delta")),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn adds_without_any_read_are_unknown() {
        let h: History = [invoke(0, "add", json!(1), 1), ok(0, "add", json!(1), 2)]
            .into_iter()
            .collect();
        let r = check(&h);
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(
            crate::testing::to_json(&r.details.final_reads_source),
            json!("none")
        );
        assert_eq!(check(&History::default()).valid, Validity::Valid);
    }
}
