//! The broadcast and g-set workloads' checker: Jepsen's `set-full` with
//! `:linearizable? false`.
//!
//! Adds put single elements into a grow-only set; reads return the whole set.
//! For each element, its *known time* is the earlier of its add's `ok`
//! completion and the completion of the first read that contained it. Only
//! reads that *begin* after the known time say anything about it (a read
//! concurrent with the add may have taken effect before it). Ordered by
//! invocation, those reads form a suffix of all reads, so:
//!
//! - no read began after the known time: **never-read**;
//! - the last read contains it: **stable**, with a *stable latency* from the
//!   known time to the invocation of the last counted read that missed it
//!   (0 if none did; such an element is also **stale**);
//! - the last read misses it: **lost**, and the history is invalid.
//!
//! One pass over the reads in invocation order finds, for every element, the
//! run of consecutive reads containing it that ends at the last read; the
//! read just before that run is the last one that missed it. That is O(1) per
//! element occurrence plus a map lookup, never a scan of all reads per
//! element, which matters for broadcast: 100k reads of a set that grows to
//! tens of thousands of elements.
//!
//! A read's elements are a JSON array (Maelstrom's and Jepsen's histories)
//! or the compact form the workbench records for reads of integers
//! ([`IntMultiset`]: sorted ranges plus extra copies). When every read is
//! compact, the scan works on the ranges and never visits the elements a
//! read holds one by one (set_full/ranges.rs); the result is the same, field for
//! field (tests/set_full_compact.rs).
//!
//! **Beyond Maelstrom.** Two rules make this checker stricter, on purpose,
//! than the `set-full` of Jepsen 0.3.7, the version Maelstrom pins
//! (jepsen/src/jepsen/checker.clj). A history that breaks only these rules
//! is invalid here and valid in Maelstrom; the result says so, with the
//! verdict Jepsen's rules alone give (`maelstrom-valid`) and the problems
//! they do not report (`beyond-maelstrom`).
//!
//! - **Duplicates.** A read holding an element more than once is invalid
//!   (`duplicated`). Jepsen 0.3.7 counts each read's duplicates but keeps
//!   only the counts below 1, which no count is, so it never reports one.
//! - **Every final read.** After the cluster heals, each client reads once
//!   more from its node (ops marked `final`; client w talks to node
//!   w mod node count). Each final read must hold every element known
//!   before it began: one whose add was acknowledged, or that some read
//!   (completing after the add began) returned, before the final read was
//!   invoked. That is the rule that makes an element lost, applied to each
//!   final read instead of only to the last read to begin. Jepsen's
//!   `stable?` compares just two reads per element across all nodes, the
//!   last that held it and the last that lacked it, so a node whose own
//!   final read lacks an element passes whenever a read that began later,
//!   on another node, holds it: a broadcast that never reaches one node.
//!   Not required: an element first known while the final read ran (it
//!   may have taken effect before), one whose add failed or is
//!   indeterminate and that no read returned (it may never have happened),
//!   and one that reads returned but no client added (Jepsen tracks only
//!   added elements). `final-read-missing` names each final read that lacks
//!   elements: its node, its process, and the elements. The final reads
//!   are one per client, so this is one pass over the elements per client.

use std::collections::BTreeMap;

use lightcone_history::{History, IntMultiset, Op, OpType, Process};
use lightcone_proto::NANOS_PER_MS;
use serde::Serialize;
use serde_json::Value;

use crate::{list_some, plural, CheckResult, Validity};

mod ranges;

/// How many elements each list in the details holds; counts cover all.
const ELEMENTS_SHOWN_MAX: usize = 32;
/// How many of the slowest-to-stabilize elements `worst-stale` describes.
const WORST_STALE_MAX: usize = 8;
/// How many elements a problem sentence names.
const ELEMENTS_NAMED_MAX: usize = 10;
/// How many final reads `final-read-missing` describes; the count covers all.
const FINAL_READS_SHOWN_MAX: usize = 32;
/// How many final reads get a problem sentence of their own.
const FINAL_READS_NAMED_MAX: usize = 5;
/// Jepsen's stable-latency quantiles, with the keys it prints them under.
const QUANTILES: [(&str, f64); 5] = [
    ("0", 0.0),
    ("0.5", 0.5),
    ("0.95", 0.95),
    ("0.99", 0.99),
    ("1", 1.0),
];

/// A point in the history: the op's time, then its position in the history.
/// The position breaks ties, which the simulator's virtual clock makes
/// common: a client that gets a reply and invokes its next op in the same
/// nanosecond still invoked it afterwards.
type Instant = (u64, usize);

/// An element's identity. Integers, what broadcast and g-set add, are kept
/// as numbers so they sort numerically and cost no allocation per
/// occurrence; anything else is keyed by its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ElementKey {
    Int(i64),
    Text(String),
}

impl ElementKey {
    fn of(value: &Value) -> ElementKey {
        match value.as_i64() {
            Some(i) => ElementKey::Int(i),
            None => {
                ElementKey::Text(serde_json::to_string(value).expect("a JSON value serializes"))
            }
        }
    }

    /// The element's JSON text, which is also its key in the `duplicated` map.
    fn text(&self) -> String {
        match self {
            ElementKey::Int(i) => i.to_string(),
            ElementKey::Text(s) => s.clone(),
        }
    }
}

/// What the history says about one element.
#[derive(Debug)]
struct Element<'h> {
    key: ElementKey,
    /// Its value in the history, for an element that is not an integer
    /// (an integer's value is its key).
    text_value: Option<&'h Value>,
    /// The first invocation of an add of it; `None` if it was only read.
    add_invoked: Option<Instant>,
    /// Some add of it did not definitely fail (ok, info or never completed).
    add_maybe_happened: bool,
    /// The earliest completion proving it is in the set: an add's `ok` or a
    /// read containing it (a read that completed after the add began).
    known: Option<Instant>,
    /// The last read (by rank in invocation order) that contained it.
    last_present: Option<usize>,
    /// The first rank of the run of consecutive reads ending at `last_present`.
    run_start: usize,
    /// Copies of it in the read `last_present`, and the most in any read.
    copies: u32,
    copies_max: u32,
}

impl<'h> Element<'h> {
    fn new(key: ElementKey, text_value: Option<&'h Value>) -> Element<'h> {
        Element {
            key,
            text_value,
            add_invoked: None,
            add_maybe_happened: false,
            known: None,
            last_present: None,
            run_start: 0,
            copies: 0,
            copies_max: 0,
        }
    }

    /// The element as the history holds it. An integer is rebuilt from its
    /// key: `Value::from(i64)` is the value every integer JSON number that
    /// fits `i64` reads as.
    fn value(&self) -> Value {
        match (&self.key, self.text_value) {
            (ElementKey::Int(i), _) => Value::from(*i),
            (ElementKey::Text(_), Some(value)) => value.clone(),
            (ElementKey::Text(text), None) => unreachable!("element {text} has its value"),
        }
    }

    /// Counts `copies` more of it in the read of rank `rank`, which
    /// completed at `completion`; reads come in rank order.
    fn observe(&mut self, rank: usize, completion: Instant, copies: u32) {
        if self.last_present == Some(rank) {
            self.copies = self.copies.saturating_add(copies);
            self.copies_max = self.copies_max.max(self.copies);
            return;
        }
        self.copies = copies;
        if copies > 1 {
            self.copies_max = self.copies_max.max(copies);
        }
        if self.last_present.is_none_or(|p| p + 1 != rank) {
            self.run_start = rank;
        }
        self.last_present = Some(rank);
        // A read that finished before any add of the element began
        // cannot have seen that add; Jepsen ignores such reads too.
        let after_add = self.add_invoked.is_some_and(|a| completion > a);
        if after_add && self.known.is_none_or(|k| completion < k) {
            self.known = Some(completion);
        }
    }

    /// An element counts as attempted if an add of it may have happened, or
    /// if a read proved that a failed add happened after all.
    fn attempted(&self) -> bool {
        self.add_invoked.is_some() && (self.add_maybe_happened || self.known.is_some())
    }
}

/// Bounds the direct-indexed part of [`ElementTable`] (4 MiB of slots).
const SMALL_ELEMENT_MAX: u64 = 1 << 20;

/// Every element seen, found by value. The read scan looks one up for every
/// occurrence in every read, so the small non-negative integers broadcast and
/// g-set add (0, 1, 2, ...) are found by direct indexing rather than a tree
/// walk; anything else goes through a BTreeMap.
#[derive(Debug, Default)]
struct ElementTable<'h> {
    /// Element value -> its position in `elements`, plus one; 0 is absent.
    small: Vec<u32>,
    other: BTreeMap<ElementKey, usize>,
    elements: Vec<Element<'h>>,
}

impl<'h> ElementTable<'h> {
    fn get_or_insert(&mut self, value: &'h Value) -> &mut Element<'h> {
        let i = self.position(value);
        &mut self.elements[i]
    }

    /// The element's position in `elements`, inserting it if it is new.
    fn position(&mut self, value: &'h Value) -> usize {
        match value.as_i64() {
            Some(i) => self.position_of_int(i),
            None => self.position_of_key(ElementKey::of(value), Some(value)),
        }
    }

    /// [`ElementTable::position`] of an integer element.
    fn position_of_int(&mut self, i: i64) -> usize {
        let Some(small) = u64::try_from(i).ok().filter(|&i| i < SMALL_ELEMENT_MAX) else {
            return self.position_of_key(ElementKey::Int(i), None);
        };
        let small = small as usize;
        if small >= self.small.len() {
            self.small.resize(small + 1, 0);
        }
        if self.small[small] == 0 {
            self.elements.push(Element::new(ElementKey::Int(i), None));
            self.small[small] =
                u32::try_from(self.elements.len()).expect("at most 2^20 small elements");
        }
        self.small[small] as usize - 1
    }

    fn position_of_key(&mut self, key: ElementKey, text_value: Option<&'h Value>) -> usize {
        let elements = &mut self.elements;
        *self.other.entry(key).or_insert_with_key(|key| {
            elements.push(Element::new(key.clone(), text_value));
            elements.len() - 1
        })
    }

    /// All elements, ordered by key.
    fn into_sorted(mut self) -> Vec<Element<'h>> {
        self.elements.sort_by(|a, b| a.key.cmp(&b.key));
        self.elements
    }
}

/// A successful read, with the elements it returned.
#[derive(Debug)]
struct Read<'h> {
    invoke: Instant,
    completion: Instant,
    elements: ReadElements<'h>,
}

/// What a read returned: a plain array (Maelstrom's and Jepsen's
/// histories, and any read holding something other than integers), or
/// the compact form the workbench records ([`IntMultiset`]), which is
/// walked range by range and never expanded into values.
#[derive(Debug)]
enum ReadElements<'h> {
    List(&'h [Value]),
    Ints(IntMultiset),
}

impl<'h> ReadElements<'h> {
    fn of(value: &'h Value) -> Option<ReadElements<'h>> {
        match value.as_array() {
            Some(list) => Some(ReadElements::List(list)),
            None => IntMultiset::from_value(value).map(ReadElements::Ints),
        }
    }

    /// Calls `f` with the position in `table` of each distinct element and
    /// its copies, or of each occurrence with 1 for a plain array.
    fn for_each(
        &self,
        table: &mut ElementTable<'h>,
        mut f: impl FnMut(&mut ElementTable<'h>, usize, u32),
    ) {
        match self {
            ReadElements::List(list) => {
                for value in *list {
                    let i = table.position(value);
                    f(table, i, 1);
                }
            }
            ReadElements::Ints(set) => {
                let mut extra = set.extra_copies().iter().peekable();
                for &(lo, hi) in set.ranges() {
                    for e in lo..=hi {
                        let copies = match extra.next_if(|&&(x, _)| x == e) {
                            Some(&(_, n)) => u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX),
                            None => 1,
                        };
                        let i = table.position_of_int(e);
                        f(table, i, copies);
                    }
                }
            }
        }
    }
}

/// A final read (one per client, made after the cluster healed) and the
/// known elements it lacks.
#[derive(Debug)]
struct FinalRead<'h> {
    /// The node its client talked to, when the history records it.
    node: Option<&'h str>,
    process: Process,
    /// The `index` of its completion, to name the op.
    index: u64,
    /// How many elements were known before it began.
    required_count: usize,
    /// The elements known before it began that it lacks, ordered by key.
    missing: Vec<Value>,
}

/// Where an element ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// In every read from some point to the last. `last_absent` is the rank
    /// of the last read that began after the known time and missed it.
    Stable {
        last_absent: Option<usize>,
        latency_ms: u64,
    },
    Lost,
    NeverRead,
}

/// Checks a set history: `add_f` ops add their value, `read_f` ops complete
/// `ok` with the elements present, a JSON array or its compact form
/// ([`IntMultiset`]). Invalid if any known
/// element was lost, any read held an element twice, or any final read
/// lacks an element known before it began (the last two beyond Maelstrom:
/// see the module docs); unknown if no element could be judged stable or
/// lost (even when none was attempted, as in Jepsen), or if some read
/// returned something other than either.
pub fn check(history: &History, add_f: &str, read_f: &str) -> CheckResult<Details> {
    check_scanning(history, add_f, read_f, Scan::Ranges)
}

/// How to scan the reads: range by range when every read is compact, or
/// element by element always (what the range scan is tested against).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Ranges,
    /// Element by element always; the tests compare the two.
    #[cfg_attr(not(test), allow(dead_code))]
    Elements,
}

fn check_scanning(
    history: &History,
    add_f: &str,
    read_f: &str,
    scan: Scan,
) -> CheckResult<Details> {
    let ops = &history.ops;
    let at = |pos: usize| -> Instant { (ops[pos].time, pos) };
    let mut table = ElementTable::default();
    let mut reads: Vec<Read> = Vec::new();
    let mut malformed: Vec<usize> = Vec::new();

    for (inv, done) in history.pair_positions() {
        let invoke = &ops[inv];
        if invoke.f == add_f {
            let el = table.get_or_insert(&invoke.value);
            if el.add_invoked.is_none_or(|t| at(inv) < t) {
                el.add_invoked = Some(at(inv));
            }
            match done.map(|d| (d, ops[d].kind)) {
                Some((d, OpType::Ok)) => {
                    el.add_maybe_happened = true;
                    el.known = Some(el.known.map_or(at(d), |k| k.min(at(d))));
                }
                Some((_, OpType::Fail)) => {}
                _ => el.add_maybe_happened = true,
            }
        } else if invoke.f == read_f {
            let Some(d) = done.filter(|&d| ops[d].kind == OpType::Ok) else {
                continue;
            };
            match ReadElements::of(&ops[d].value) {
                Some(elements) => reads.push(Read {
                    invoke: at(inv),
                    completion: at(d),
                    elements,
                }),
                None => malformed.push(d),
            }
        }
    }

    reads.sort_by_key(|r| r.invoke);
    match ranges::all_compact(&reads).filter(|_| scan == Scan::Ranges) {
        Some(sets) => ranges::scan(&reads, &sets, &mut table),
        None => scan_reads(&reads, &mut table),
    }
    let finals = check_final_reads(ops, &reads, &mut table);
    let elements = table.into_sorted();
    let classified: Vec<(&Element, Outcome)> = elements
        .iter()
        .filter(|el| el.attempted())
        .map(|el| (el, classify(el, &reads)))
        .collect();
    let duplicated: Vec<(&ElementKey, u32)> = elements
        .iter()
        .filter(|el| el.copies_max > 1)
        .map(|el| (&el.key, el.copies_max))
        .collect();
    report(ops, &reads, &classified, &duplicated, &finals, &malformed)
}

/// Walks the reads in invocation order, tracking for every element the run
/// of consecutive reads that contain it, its copies per read, and the
/// earliest read completion that proves it was added.
fn scan_reads<'h>(reads: &[Read<'h>], table: &mut ElementTable<'h>) {
    for (rank, read) in reads.iter().enumerate() {
        read.elements.for_each(table, |table, i, copies| {
            table.elements[i].observe(rank, read.completion, copies);
        });
    }
}

/// Checks each final read against the elements known before it began (see
/// the module docs), in invocation order. The table already holds every
/// element of every plain read, so looking them up inserts nothing; a
/// compact read is asked about each element of the table instead.
fn check_final_reads<'h>(
    ops: &'h [Op],
    reads: &[Read<'h>],
    table: &mut ElementTable<'h>,
) -> Vec<FinalRead<'h>> {
    // held[i] is 1 + the rank of the latest final read holding element i,
    // so the marks need no clearing between reads.
    let mut held: Vec<usize> = vec![0; table.elements.len()];
    let mut finals = Vec::new();
    for (rank, read) in reads.iter().enumerate() {
        let (invoke, done) = (&ops[read.invoke.1], &ops[read.completion.1]);
        if !(invoke.is_final || done.is_final) {
            continue;
        }
        match &read.elements {
            ReadElements::List(list) => {
                for value in *list {
                    held[table.position(value)] = rank + 1;
                }
            }
            ReadElements::Ints(set) => {
                for (i, el) in table.elements.iter().enumerate() {
                    if matches!(el.key, ElementKey::Int(e) if set.contains(e)) {
                        held[i] = rank + 1;
                    }
                }
            }
        }
        let mut required_count = 0;
        let mut missing: Vec<usize> = Vec::new();
        for (i, el) in table.elements.iter().enumerate() {
            if el.known.is_some_and(|k| k < read.invoke) {
                required_count += 1;
                if held[i] != rank + 1 {
                    missing.push(i);
                }
            }
        }
        missing.sort_by(|&a, &b| table.elements[a].key.cmp(&table.elements[b].key));
        finals.push(FinalRead {
            node: invoke.node.as_deref().or(done.node.as_deref()),
            process: invoke.process,
            index: done.index,
            required_count,
            missing: missing.iter().map(|&i| table.elements[i].value()).collect(),
        });
    }
    finals
}

/// Decides an attempted element's outcome from the reads beginning after its
/// known time, which are the suffix of `reads` from `first_counted` on.
fn classify(el: &Element, reads: &[Read]) -> Outcome {
    let Some(known) = el.known else {
        return Outcome::NeverRead;
    };
    let first_counted = reads.partition_point(|r| r.invoke <= known);
    let Some(last) = reads.len().checked_sub(1).filter(|&l| l >= first_counted) else {
        return Outcome::NeverRead;
    };
    if el.last_present != Some(last) {
        return Outcome::Lost;
    }
    // The run of reads containing it ends at the last read; the read before
    // the run missed it, and matters if it began after the known time.
    let last_absent = (el.run_start > first_counted).then(|| el.run_start - 1);
    let latency_ns = last_absent.map_or(0, |r| reads[r].invoke.0.saturating_sub(known.0));
    Outcome::Stable {
        last_absent,
        latency_ms: latency_ns / NANOS_PER_MS,
    }
}

/// The set-full checker's section of results.json: Jepsen's keys, then
/// lightcone's final-read keys.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Details {
    pub attempt_count: usize,
    pub stable_count: usize,
    pub lost_count: usize,
    /// The lost elements (the first 32, in element order); likewise below.
    pub lost: Vec<Value>,
    pub never_read_count: usize,
    pub never_read: Vec<Value>,
    pub stale_count: usize,
    pub stale: Vec<Value>,
    /// The slowest to stabilize, slowest first (the first 8).
    pub worst_stale: Vec<WorstStale>,
    pub duplicated_count: usize,
    /// Element (JSON text) -> the most copies of it in one read.
    pub duplicated: BTreeMap<String, u32>,
    /// Quantile -> milliseconds from known to stable; `None` when nothing
    /// was stable.
    pub stable_latencies: Option<BTreeMap<String, u64>>,
    pub final_read_count: usize,
    pub final_read_missing_count: usize,
    pub final_read_missing: Vec<FinalReadMissing>,
}

/// An element slow to stabilize, as Jepsen shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct WorstStale {
    pub element: Value,
    pub outcome: &'static str,
    pub stable_latency: u64,
    /// The op that made it known.
    pub known: Option<Op>,
    /// The invocation of the last read that missed it.
    pub last_absent: Op,
}

/// A final read that lacks elements known before it began.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FinalReadMissing {
    pub node: Option<String>,
    pub process: Process,
    pub index: u64,
    pub required_count: usize,
    pub missing_count: usize,
    /// The first 32, in element order.
    pub missing: Vec<Value>,
}

/// The elements of each outcome, in element order.
struct ByOutcome<'a, 'h> {
    stable: Vec<(&'a Element<'h>, Outcome)>,
    lost: Vec<(&'a Element<'h>, Outcome)>,
    never_read: Vec<(&'a Element<'h>, Outcome)>,
    /// Stable, after some read that began after the known time missed it.
    stale: Vec<(&'a Element<'h>, Outcome)>,
}

impl<'a, 'h> ByOutcome<'a, 'h> {
    fn of(classified: &[(&'a Element<'h>, Outcome)]) -> ByOutcome<'a, 'h> {
        let with = |want: fn(&Outcome) -> bool| -> Vec<(&'a Element<'h>, Outcome)> {
            classified
                .iter()
                .copied()
                .filter(|(_, o)| want(o))
                .collect()
        };
        ByOutcome {
            stable: with(|o| matches!(o, Outcome::Stable { .. })),
            lost: with(|o| *o == Outcome::Lost),
            never_read: with(|o| *o == Outcome::NeverRead),
            stale: with(|o| {
                matches!(
                    o,
                    Outcome::Stable {
                        last_absent: Some(_),
                        ..
                    }
                )
            }),
        }
    }
}

/// Turns the outcomes into the verdict, the problem sentences and the
/// details.
fn report(
    ops: &[Op],
    reads: &[Read],
    classified: &[(&Element, Outcome)],
    duplicated: &[(&ElementKey, u32)],
    finals: &[FinalRead],
    malformed: &[usize],
) -> CheckResult<Details> {
    let by = ByOutcome::of(classified);
    let lacking: Vec<&FinalRead> = finals.iter().filter(|f| !f.missing.is_empty()).collect();
    let details = details(
        ops,
        reads,
        classified.len(),
        &by,
        duplicated,
        finals,
        &lacking,
    );
    let (valid, problems, maelstrom, beyond) =
        verdict(ops, classified.len(), &by, duplicated, &lacking, malformed);
    CheckResult::new(valid, problems, details).beyond_maelstrom(maelstrom, beyond)
}

/// Maelstrom's keys, then lightcone's final-read keys.
fn details(
    ops: &[Op],
    reads: &[Read],
    attempt_count: usize,
    by: &ByOutcome,
    duplicated: &[(&ElementKey, u32)],
    finals: &[FinalRead],
    lacking: &[&FinalRead],
) -> Details {
    let (stable, lost, never_read, stale) = (&by.stable, &by.lost, &by.never_read, &by.stale);
    let latencies: Vec<u64> = stable
        .iter()
        .map(|(_, o)| match o {
            Outcome::Stable { latency_ms, .. } => *latency_ms,
            _ => unreachable!("filtered to stable outcomes"),
        })
        .collect();
    let values = |list: &[(&Element, Outcome)]| -> Vec<Value> {
        list.iter()
            .take(ELEMENTS_SHOWN_MAX)
            .map(|(el, _)| el.value())
            .collect()
    };
    Details {
        attempt_count,
        stable_count: stable.len(),
        lost_count: lost.len(),
        lost: values(lost),
        never_read_count: never_read.len(),
        never_read: values(never_read),
        stale_count: stale.len(),
        stale: values(stale),
        worst_stale: worst_stale(ops, reads, stale),
        duplicated_count: duplicated.len(),
        duplicated: duplicated.iter().map(|(key, n)| (key.text(), *n)).collect(),
        stable_latencies: quantiles(latencies),
        final_read_count: finals.len(),
        final_read_missing_count: lacking.len(),
        final_read_missing: lacking
            .iter()
            .take(FINAL_READS_SHOWN_MAX)
            .map(|f| FinalReadMissing {
                node: f.node.map(str::to_string),
                process: f.process,
                index: f.index,
                required_count: f.required_count,
                missing_count: f.missing.len(),
                missing: f.missing.iter().take(ELEMENTS_SHOWN_MAX).cloned().collect(),
            })
            .collect(),
    }
}

/// Problems Jepsen 0.3.7's set-full does not report (module docs): an
/// element twice in one read, and final reads lacking elements.
fn beyond_jepsen(duplicated: &[(&ElementKey, u32)], lacking: &[&FinalRead]) -> Vec<String> {
    let mut beyond = Vec::new();
    if !duplicated.is_empty() {
        beyond.push(format!(
            "{} appeared more than once in a single read: {}",
            plural(duplicated.len(), "element"),
            list_some(
                duplicated
                    .iter()
                    .map(|(k, n)| format!("{} ({n} copies)", k.text())),
                duplicated.len(),
                ELEMENTS_NAMED_MAX
            )
        ));
    }
    beyond.extend(final_read_problems(lacking));
    beyond
}

/// The verdict, Maelstrom's, the problem sentences, and those beyond
/// Maelstrom.
fn verdict(
    ops: &[Op],
    attempt_count: usize,
    by: &ByOutcome,
    duplicated: &[(&ElementKey, u32)],
    lacking: &[&FinalRead],
    malformed: &[usize],
) -> (Validity, Vec<String>, Validity, Vec<String>) {
    let (stable, lost) = (&by.stable, &by.lost);
    let mut problems = Vec::new();
    let mut valid = Validity::Valid;
    if !lost.is_empty() {
        valid = Validity::Invalid;
        let was = if lost.len() == 1 { "was" } else { "were" };
        problems.push(format!(
            "{} {was} lost: {}",
            plural(lost.len(), "acknowledged element"),
            list_some(
                lost.iter().map(|(el, _)| el.key.text()),
                lost.len(),
                ELEMENTS_NAMED_MAX
            )
        ));
    }
    let beyond = beyond_jepsen(duplicated, lacking);
    if !beyond.is_empty() {
        valid = Validity::Invalid;
        problems.extend(beyond.iter().cloned());
    }
    // Jepsen's set-full: nothing stable (and nothing lost) is unknown, even
    // when nothing was attempted.
    if stable.is_empty() && lost.is_empty() {
        valid = valid.merge(Validity::Unknown);
        problems.push(nothing_judged(attempt_count));
    }
    if let Some(&first) = malformed.first() {
        valid = valid.merge(Validity::Unknown);
        let op = &ops[first];
        problems.push(format!(
            "{} returned something other than a list of elements, e.g. {} by process {} (op {}); \
             those reads were ignored",
            plural(malformed.len(), "read"),
            op.value,
            op.process,
            op.index
        ));
    }
    // Jepsen 0.3.7's verdict: invalid if anything was lost, else unknown if
    // nothing was stable (even when nothing was attempted), else valid. Its
    // duplicate check never fires and it judges only the last read to begin.
    let mut maelstrom = if !lost.is_empty() {
        Validity::Invalid
    } else if stable.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    if !malformed.is_empty() {
        maelstrom = maelstrom.merge(Validity::Unknown);
    }
    (valid, problems, maelstrom, beyond)
}

/// Why nothing could be judged stable or lost.
fn nothing_judged(attempted: usize) -> String {
    if attempted == 0 {
        return "no element was attempted, so nothing can be judged stable or lost".to_string();
    }
    let were = if attempted == 1 { "was" } else { "were" };
    format!(
        "{} {were} attempted, but no read began after any was known to be added, so none \
         can be judged stable or lost",
        plural(attempted, "element"),
    )
}

/// A problem sentence for each of the first few final reads that lack
/// elements, and one for the rest.
fn final_read_problems(lacking: &[&FinalRead]) -> Vec<String> {
    let mut problems: Vec<String> = lacking
        .iter()
        .take(FINAL_READS_NAMED_MAX)
        .map(|f| {
            let whose = match f.node {
                Some(node) => format!("node {node}'s final read (process {})", f.process),
                None => format!("the final read of process {} (no node recorded)", f.process),
            };
            format!(
                "{whose} lacks {} of {} acknowledged or read before it began: {}",
                f.missing.len(),
                plural(f.required_count, "element"),
                list_some(
                    f.missing.iter().map(|v| v.to_string()),
                    f.missing.len(),
                    ELEMENTS_NAMED_MAX
                )
            )
        })
        .collect();
    if lacking.len() > FINAL_READS_NAMED_MAX {
        let rest = lacking.len() - FINAL_READS_NAMED_MAX;
        let lack = if rest == 1 { "lacks" } else { "lack" };
        problems.push(format!(
            "{} {lack} elements too (final-read-missing lists them)",
            plural(rest, "more final read")
        ));
    }
    problems
}

fn worst_stale(ops: &[Op], reads: &[Read], stale: &[(&Element, Outcome)]) -> Vec<WorstStale> {
    let mut worst: Vec<(&Element, usize, u64)> = stale
        .iter()
        .filter_map(|(el, o)| match *o {
            Outcome::Stable {
                last_absent: Some(r),
                latency_ms,
            } => Some((*el, r, latency_ms)),
            _ => None,
        })
        .collect();
    // Stable sort: among equal latencies, element order is kept.
    worst.sort_by_key(|w| std::cmp::Reverse(w.2));
    worst
        .iter()
        .take(WORST_STALE_MAX)
        .map(|(el, r, latency_ms)| WorstStale {
            element: el.value(),
            outcome: "stable",
            stable_latency: *latency_ms,
            known: el.known.map(|k| with_plain_value(&ops[k.1])),
            last_absent: ops[reads[*r].invoke.1].clone(),
        })
        .collect()
}

/// The op with a compact read's value as the plain array it stands for
/// (ascending: the order the node listed the elements in is not recorded),
/// so that results.json shows a read the way Maelstrom shows one.
fn with_plain_value(op: &Op) -> Op {
    let mut op = op.clone();
    if let Some(elements) = IntMultiset::expand(&op.value) {
        op.value = elements;
    }
    op
}

/// Jepsen's `frequency-distribution`: the element at floor(n * q) of the
/// sorted latencies for each quantile q; null when nothing was stable.
fn quantiles(mut latencies_ms: Vec<u64>) -> Option<BTreeMap<String, u64>> {
    if latencies_ms.is_empty() {
        return None;
    }
    latencies_ms.sort_unstable();
    let n = latencies_ms.len();
    Some(
        QUANTILES
            .iter()
            .map(|&(key, q)| {
                let i = ((n as f64 * q).floor() as usize).min(n - 1);
                (key.to_string(), latencies_ms[i])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invoke, nemesis, ok, op};
    use serde_json::json;

    const MS: u64 = NANOS_PER_MS;

    /// Builds histories of adds and reads on separate processes, with times
    /// in milliseconds.
    #[derive(Default)]
    struct Script {
        history: History,
        next_process: u64,
    }

    impl Script {
        fn process(&mut self) -> u64 {
            self.next_process += 1;
            self.next_process
        }

        fn add(&mut self, element: Value, from_ms: u64, to_ms: u64, kind: OpType) -> &mut Self {
            let p = self.process();
            self.history
                .push(invoke(p, "add", element.clone(), from_ms * MS));
            self.history.push(op(p, kind, "add", element, to_ms * MS));
            self
        }

        fn read(&mut self, from_ms: u64, to_ms: u64, elements: Value) -> &mut Self {
            let p = self.process();
            self.history
                .push(invoke(p, "read", Value::Null, from_ms * MS));
            self.history.push(ok(p, "read", elements, to_ms * MS));
            self
        }

        /// A final read by a new process on `node`, as the workbench
        /// records it: both ops marked final and naming the node.
        fn final_read(
            &mut self,
            node: &str,
            from_ms: u64,
            to_ms: u64,
            elements: Value,
        ) -> &mut Self {
            let p = self.process();
            for mut op in [
                invoke(p, "read", Value::Null, from_ms * MS),
                ok(p, "read", elements, to_ms * MS),
            ] {
                op.node = Some(node.into());
                op.is_final = true;
                self.history.push(op);
            }
            self
        }

        /// Sorts the ops by time (stably) and renumbers them, as a history
        /// written while the test ran would be.
        fn done(&mut self) -> History {
            let mut ops = std::mem::take(&mut self.history.ops);
            ops.sort_by_key(|op| op.time);
            ops.into_iter().collect()
        }
    }

    fn run(h: &History) -> CheckResult<Details> {
        check(h, "add", "read")
    }

    #[test]
    fn acknowledged_then_missing_from_later_reads_is_lost() {
        let h = Script::default()
            .add(json!(1), 0, 1, OpType::Ok)
            .add(json!(2), 0, 1, OpType::Ok)
            .read(2, 3, json!([1, 2]))
            .read(4, 5, json!([2]))
            .read(6, 7, json!([2]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details.attempt_count, 2);
        assert_eq!(r.details.lost_count, 1);
        assert_eq!(crate::testing::to_json(&r.details.lost), json!([1]));
        assert_eq!(r.details.stable_count, 1);
        assert_eq!(r.problems, ["1 acknowledged element was lost: 1"]);
    }

    #[test]
    fn visible_after_missing_is_stable_with_latency() {
        let h = Script::default()
            .add(json!(5), 0, 10, OpType::Ok)
            .read(12, 13, json!([]))
            .read(30, 31, json!([]))
            .read(50, 51, json!([5]))
            .read(60, 61, json!([5]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
        assert!(r.problems.is_empty());
        assert_eq!(r.details.stable_count, 1);
        assert_eq!(r.details.stale_count, 1);
        assert_eq!(crate::testing::to_json(&r.details.stale), json!([5]));
        // From the ack at 10 ms to the invocation at 30 ms of the last read
        // that missed it.
        assert_eq!(
            crate::testing::to_json(&r.details.stable_latencies),
            json!({"0": 20, "0.5": 20, "0.95": 20, "0.99": 20, "1": 20})
        );
        let worst = crate::testing::to_json(&r.details.worst_stale[0]);
        assert_eq!(worst["element"], json!(5));
        assert_eq!(worst["stable-latency"], json!(20));
        assert_eq!(worst["known"]["type"], json!("ok"));
        assert_eq!(worst["known"]["time"], json!(10 * MS));
        assert_eq!(worst["last-absent"]["type"], json!("invoke"));
        assert_eq!(worst["last-absent"]["time"], json!(30 * MS));
    }

    #[test]
    fn a_read_concurrent_with_the_add_does_not_count() {
        // The read that misses 7 began at 5 ms, before the ack at 10 ms: it
        // may have taken effect before the add, so 7 is not stale.
        let h = Script::default()
            .add(json!(7), 0, 10, OpType::Ok)
            .read(5, 20, json!([]))
            .read(25, 26, json!([7]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details.stable_count, 1);
        assert_eq!(r.details.stale_count, 0);
        assert_eq!(crate::testing::to_json(&r.details.worst_stale), json!([]));
        assert_eq!(r.details.stable_latencies.as_ref().unwrap()["1"], 0);
    }

    #[test]
    fn no_read_after_the_known_time_is_never_read() {
        let h = Script::default()
            .add(json!(1), 0, 1, OpType::Ok)
            .read(2, 3, json!([1]))
            .add(json!(2), 4, 100, OpType::Ok)
            .add(json!(3), 4, 5, OpType::Info)
            .read(90, 95, json!([1]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details.attempt_count, 3);
        assert_eq!(r.details.stable_count, 1);
        assert_eq!(r.details.never_read_count, 2);
        assert_eq!(
            crate::testing::to_json(&r.details.never_read),
            json!([2, 3])
        );
        assert_eq!(r.details.lost_count, 0);
    }

    #[test]
    fn a_failed_add_counts_only_if_a_read_saw_it() {
        let h = Script::default()
            .add(json!("seen"), 0, 2, OpType::Fail)
            .add(json!("unseen"), 0, 2, OpType::Fail)
            .read(1, 3, json!(["seen"]))
            .read(4, 5, json!(["seen"]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details.attempt_count, 1);
        assert_eq!(r.details.stable_count, 1);
        assert_eq!(r.details.never_read_count, 0);
    }

    #[test]
    fn an_element_known_only_through_a_read_can_be_lost() {
        // The add is indeterminate; the first read proves it happened, and
        // every read after that misses it.
        let h = Script::default()
            .add(json!(9), 0, 50, OpType::Info)
            .read(1, 2, json!([9]))
            .read(3, 4, json!([]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(crate::testing::to_json(&r.details.lost), json!([9]));
    }

    #[test]
    fn a_read_finishing_before_the_add_began_proves_nothing() {
        let h = Script::default()
            .read(0, 1, json!([4]))
            .add(json!(4), 2, 3, OpType::Fail)
            .read(4, 5, json!([]))
            .done();
        let r = run(&h);
        assert_eq!(r.details.attempt_count, 0);
        assert_eq!(r.valid, Validity::Unknown, "nothing was attempted");
    }

    #[test]
    fn duplicates_within_one_read_are_invalid() {
        let h = Script::default()
            .add(json!(1), 0, 1, OpType::Ok)
            .add(json!(2), 0, 1, OpType::Ok)
            .read(2, 3, json!([1, 2, 1, 1]))
            .read(4, 5, json!([1, 2, 2]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details.duplicated_count, 2);
        assert_eq!(
            crate::testing::to_json(&r.details.duplicated),
            json!({"1": 3, "2": 2})
        );
        assert_eq!(r.details.lost_count, 0);
        assert_eq!(
            r.problems,
            ["2 elements appeared more than once in a single read: 1 (3 copies), 2 (2 copies)"]
        );
        // Jepsen 0.3.7 never reports a duplicate: both elements are stable.
        assert_eq!(r.maelstrom_valid, Validity::Valid);
        assert_eq!(r.beyond_maelstrom, r.problems);
        assert_eq!(r.maelstrom_valid, Validity::Valid);
        assert_eq!(r.beyond_maelstrom, r.problems);
    }

    #[test]
    fn attempts_with_nothing_stable_or_lost_are_unknown() {
        let h = Script::default()
            .read(0, 1, json!([]))
            .add(json!(1), 2, 3, OpType::Ok)
            .add(json!(2), 2, 3, OpType::Info)
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.details.never_read_count, 2);
        assert_eq!(r.details.stable_latencies, None);
        assert_eq!(r.problems.len(), 1);
        assert!(
            r.problems[0].starts_with("2 elements were attempted"),
            "{}",
            r.problems[0]
        );
    }

    #[test]
    fn empty_history_is_unknown_as_in_jepsen() {
        let r = run(&History::default());
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.maelstrom_valid, Validity::Unknown);
        assert_eq!(r.details.attempt_count, 0);
        // Maelstrom's keys, all of them always present.
        let section = crate::testing::to_json(&r.section());
        let mut keys: Vec<&str> = section
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = [
            "valid",
            "attempt-count",
            "stable-count",
            "lost-count",
            "lost",
            "never-read-count",
            "never-read",
            "stale-count",
            "stale",
            "worst-stale",
            "duplicated-count",
            "duplicated",
            "stable-latencies",
            // lightcone's own, also always present.
            "final-read-count",
            "final-read-missing-count",
            "final-read-missing",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }

    /// Adds 1, 2 and 3, acknowledged by 1 ms, and a read at 2 ms that holds
    /// them all.
    fn three_added() -> Script {
        let mut s = Script::default();
        for e in 1..=3 {
            s.add(json!(e), 0, 1, OpType::Ok);
        }
        s.read(2, 3, json!([1, 2, 3]));
        s
    }

    #[test]
    fn final_reads_that_hold_everything_are_valid_as_in_maelstrom() {
        let h = three_added()
            .final_read("n0", 10, 11, json!([1, 2, 3]))
            .final_read("n1", 10, 12, json!([3, 2, 1]))
            .final_read("n2", 10, 11, json!([1, 2, 3]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
        assert_eq!(r.maelstrom_valid, Validity::Valid);
        assert!(r.problems.is_empty() && r.beyond_maelstrom.is_empty());
        assert_eq!(r.details.final_read_count, 3);
        assert_eq!(r.details.final_read_missing_count, 0);
        assert_eq!(
            crate::testing::to_json(&r.details.final_read_missing),
            json!([])
        );
        assert!(crate::testing::to_json(&r.section())
            .get("maelstrom-valid")
            .cloned()
            .is_none());
        assert!(crate::testing::to_json(&r.section())
            .get("beyond-maelstrom")
            .cloned()
            .is_none());
    }

    #[test]
    fn a_final_read_lacking_what_a_later_read_holds_is_invalid_beyond_maelstrom() {
        // n1's final read begins first and lacks 2; n0's begins later and
        // holds it, so Jepsen's set-full calls 2 stable.
        let h = three_added()
            .final_read("n1", 10, 11, json!([1, 3]))
            .final_read("n0", 10, 11, json!([1, 2, 3]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.maelstrom_valid, Validity::Valid);
        assert_eq!(r.details.stable_count, 3);
        assert_eq!(r.details.lost_count, 0);
        assert_eq!(r.details.final_read_count, 2);
        assert_eq!(r.details.final_read_missing_count, 1);
        // Processes 1 to 3 added, 4 read; n1's final read is process 5,
        // and its completion op 10 (after 3 adds, 1 read and 2 invocations).
        assert_eq!(
            crate::testing::to_json(&r.details.final_read_missing),
            json!([{
                "node": "n1",
                "process": 5,
                "index": 10,
                "required-count": 3,
                "missing-count": 1,
                "missing": [2],
            }])
        );
        let sentence =
            "node n1's final read (process 5) lacks 1 of 3 elements acknowledged or read \
             before it began: 2";
        assert_eq!(r.problems, [sentence]);
        assert_eq!(r.beyond_maelstrom, [sentence]);
        assert_eq!(r.maelstrom_valid, Validity::Valid);
        assert_eq!(r.beyond_maelstrom, [sentence]);
    }

    #[test]
    fn every_final_read_on_a_node_is_checked_and_named_by_process() {
        // Two clients on n0: the first one's read is fine, the second's
        // lacks 1 and 3.
        let h = three_added()
            .final_read("n0", 10, 11, json!([1, 2, 3]))
            .final_read("n1", 10, 11, json!([1, 2, 3]))
            .final_read("n0", 10, 11, json!([2]))
            .final_read("n1", 10, 11, json!([1, 2, 3]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.maelstrom_valid, Validity::Valid);
        assert_eq!(r.details.final_read_count, 4);
        let missing = &r.details.final_read_missing;
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].node.as_deref(), Some("n0"));
        assert_eq!(missing[0].process, Process::Client(7));
        assert_eq!(missing[0].missing, [json!(1), json!(3)]);
        assert_eq!(
            r.problems,
            [
                "node n0's final read (process 7) lacks 2 of 3 elements acknowledged or read \
              before it began: 1, 3"
            ]
        );
    }

    #[test]
    fn a_final_read_need_not_hold_what_was_not_known_when_it_began() {
        let h = three_added()
            // Acknowledged while the final reads ran.
            .add(json!(4), 5, 20, OpType::Ok)
            // Indeterminate; first read while the final reads ran.
            .add(json!(5), 5, 60, OpType::Info)
            .read(12, 25, json!([1, 2, 3, 5]))
            // Failed and never read; indeterminate and never read.
            .add(json!(6), 5, 6, OpType::Fail)
            .add(json!(7), 5, 60, OpType::Info)
            // Read, but nobody added it.
            .read(6, 7, json!([1, 2, 3, 8]))
            .final_read("n1", 10, 30, json!([1, 2, 3]))
            .final_read("n0", 10, 30, json!([1, 2, 3, 4, 5]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
        assert_eq!(r.details.final_read_missing_count, 0);
    }

    #[test]
    fn an_element_known_only_through_a_read_is_required_of_later_final_reads() {
        // The add of 9 is indeterminate; a read proves it happened before
        // the final reads began.
        let h = three_added()
            .add(json!(9), 4, 50, OpType::Info)
            .read(5, 6, json!([1, 2, 3, 9]))
            .final_read("n1", 10, 11, json!([1, 2, 3]))
            .final_read("n0", 10, 11, json!([1, 2, 3, 9]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.maelstrom_valid, Validity::Valid);
        assert_eq!(
            crate::testing::to_json(&r.details.final_read_missing[0])["missing"],
            json!([9])
        );
        assert_eq!(
            crate::testing::to_json(&r.details.final_read_missing[0])["required-count"],
            json!(4)
        );
    }

    #[test]
    fn a_lost_element_is_named_per_final_read_and_maelstrom_agrees_it_is_invalid() {
        // The last final read to begin lacks 2: Jepsen calls it lost too.
        let h = three_added()
            .final_read("n0", 10, 11, json!([1, 2, 3]))
            .final_read("n1", 10, 11, json!([1, 3]))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.maelstrom_valid, Validity::Invalid);
        assert_eq!(crate::testing::to_json(&r.details.lost), json!([2]));
        assert_eq!(r.problems.len(), 2);
        assert_eq!(r.problems[0], "1 acknowledged element was lost: 2");
        assert!(
            r.problems[1].starts_with("node n1's final read"),
            "{:?}",
            r.problems
        );
        // The per-node sentence is lightcone's own; the verdict is not.
        assert_eq!(r.beyond_maelstrom, r.problems[1..]);
        assert_eq!(r.maelstrom_valid, Validity::Invalid);
    }

    #[test]
    fn a_final_read_without_a_node_is_named_by_its_process() {
        let mut h = three_added()
            .final_read("n1", 10, 11, json!([1]))
            .final_read("n0", 10, 11, json!([1, 2, 3]))
            .done();
        for op in &mut h.ops {
            op.node = None;
        }
        let r = run(&h);
        assert_eq!(
            crate::testing::to_json(&r.details.final_read_missing[0])["node"],
            Value::Null
        );
        assert!(
            r.problems[0]
                .starts_with("the final read of process 5 (no node recorded) lacks 2 of 3"),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn final_read_lists_are_capped_with_counts() {
        // 40 elements, and 40 final reads each lacking all of them but the
        // last, which holds them all (so Jepsen calls every one stable).
        let mut s = Script::default();
        for e in 0..40 {
            s.add(json!(e), 0, 1, OpType::Ok);
        }
        for n in 0..40 {
            s.final_read(&format!("n{n}"), 10, 11, json!([]));
        }
        s.final_read("n40", 10, 11, json!((0..40).collect::<Vec<u64>>()));
        let r = run(&s.done());
        assert_eq!(r.maelstrom_valid, Validity::Valid);
        assert_eq!(r.details.final_read_count, 41);
        assert_eq!(r.details.final_read_missing_count, 40);
        let listed = &r.details.final_read_missing;
        assert_eq!(listed.len(), FINAL_READS_SHOWN_MAX);
        assert_eq!(listed[0].missing_count, 40);
        assert_eq!(listed[0].missing.len(), ELEMENTS_SHOWN_MAX);
        assert_eq!(r.problems.len(), FINAL_READS_NAMED_MAX + 1);
        assert!(
            r.problems[0].ends_with("8, 9 and 30 more"),
            "{}",
            r.problems[0]
        );
        assert_eq!(
            r.problems[FINAL_READS_NAMED_MAX],
            "35 more final reads lack elements too (final-read-missing lists them)"
        );
        assert_eq!(r.beyond_maelstrom, r.problems);
    }

    #[test]
    fn ties_in_time_follow_history_order() {
        // The ack and the next read's invocation share a nanosecond; the
        // read was written after the ack, so it began after the known time.
        let mut h = History::default();
        h.push(invoke(1, "add", json!(1), 0));
        h.push(ok(1, "add", json!(1), 5));
        h.push(invoke(2, "read", Value::Null, 5));
        h.push(ok(2, "read", json!([]), 6));
        let r = run(&h);
        assert_eq!(crate::testing::to_json(&r.details.lost), json!([1]));
    }

    #[test]
    fn other_functions_and_the_nemesis_are_ignored() {
        let mut h = Script::default()
            .add(json!(1), 0, 1, OpType::Ok)
            .read(2, 3, json!([1]))
            .done();
        h.push(nemesis("add", 4 * MS));
        h.push(invoke(50, "broadcast", json!(2), 5 * MS));
        h.push(ok(50, "broadcast", json!(2), 6 * MS));
        let r = run(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details.attempt_count, 1);
        // The same history under other function names.
        let r = check(&h, "broadcast", "read");
        assert_eq!(r.details.attempt_count, 1);
        assert_eq!(crate::testing::to_json(&r.details.never_read), json!([2]));
    }

    #[test]
    fn a_read_that_is_not_a_list_makes_the_verdict_unknown() {
        let h = Script::default()
            .add(json!(1), 0, 1, OpType::Ok)
            .read(2, 3, json!([1]))
            .read(4, 5, json!({"oops": 1}))
            .done();
        let r = run(&h);
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.details.stable_count, 1);
        assert!(
            r.problems[0].starts_with("1 read returned something other"),
            "{}",
            r.problems[0]
        );
    }

    #[test]
    fn lists_are_sorted_numerically_and_capped() {
        let mut s = Script::default();
        for e in (0..40).rev() {
            s.add(json!(e), 0, 1, OpType::Ok);
        }
        s.read(2, 3, json!([]));
        let r = run(&s.done());
        assert_eq!(r.details.lost_count, 40);
        let lost: Vec<i64> = r.details.lost.iter().map(|v| v.as_i64().unwrap()).collect();
        assert_eq!(lost, (0..32).collect::<Vec<i64>>());
        assert!(
            r.problems[0].ends_with("8, 9 and 30 more"),
            "{}",
            r.problems[0]
        );
    }

    #[test]
    fn elements_of_every_kind_are_told_apart_and_sorted() {
        // Small integers take the direct-indexed path, the rest the tree;
        // the output order must not depend on which.
        let elements = [
            json!("a"),
            json!(SMALL_ELEMENT_MAX),
            json!(3),
            json!(-1),
            json!(1u64 << 40),
            json!("3"),
            json!(3.5),
        ];
        let mut s = Script::default();
        for e in &elements {
            s.add(e.clone(), 0, 1, OpType::Ok);
        }
        s.read(2, 3, json!(elements));
        s.read(4, 5, json!([3, "3"]));
        let r = run(&s.done());
        assert_eq!(r.details.attempt_count, 7);
        assert_eq!(r.details.stable_count, 2);
        assert_eq!(
            crate::testing::to_json(&r.details.lost),
            json!([-1, SMALL_ELEMENT_MAX, 1u64 << 40, "a", 3.5])
        );
    }

    #[test]
    fn quantiles_follow_jepsen_frequency_distribution() {
        let q = quantiles((0..100).rev().collect());
        assert_eq!(
            q,
            Some(
                [("0", 0), ("0.5", 50), ("0.95", 95), ("0.99", 99), ("1", 99)]
                    .map(|(k, v)| (k.to_string(), v))
                    .into()
            )
        );
        assert_eq!(quantiles(vec![]), None);
    }

    #[test]
    fn worst_stale_keeps_the_eight_slowest() {
        let mut s = Script::default();
        for e in 0..10u64 {
            // Element e is acknowledged at 1 ms and missed by a read that
            // began at 10 + 10e ms.
            s.add(json!(e), 0, 1, OpType::Ok);
        }
        for e in 0..10u64 {
            let present: Vec<u64> = (0..10).filter(|&x| x != e).collect();
            s.read(10 + 10 * e, 11 + 10 * e, json!(present));
        }
        s.read(200, 201, json!((0..10).collect::<Vec<u64>>()));
        let r = run(&s.done());
        assert_eq!(r.details.stale_count, 10);
        let worst: Vec<u64> = r
            .details
            .worst_stale
            .iter()
            .map(|w| w.element.as_u64().unwrap())
            .collect();
        assert_eq!(worst, [9, 8, 7, 6, 5, 4, 3, 2]);
        assert_eq!(
            crate::testing::to_json(&r.details.worst_stale[0])["stable-latency"],
            json!(99)
        );
    }

    /// Jepsen 0.3.7's verdict from the outcome counts: lost, else nothing
    /// stable, else valid. lightcone's must be the same unless it names
    /// problems beyond Maelstrom, and then `maelstrom_valid` must be.
    fn assert_jepsen_verdict(r: &CheckResult<Details>, jsonl: &str) {
        let jepsen = if r.details.lost_count > 0 {
            Validity::Invalid
        } else if r.details.stable_count == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        };
        if !r.beyond_maelstrom.is_empty() {
            assert_eq!(r.maelstrom_valid, jepsen, "{jsonl}");
            assert_eq!(r.valid, Validity::Invalid, "{jsonl}");
            assert_eq!(r.section().maelstrom_valid, Some(jepsen), "{jsonl}");
        } else {
            assert_eq!(r.maelstrom_valid, r.valid, "{jsonl}");
            assert!(
                crate::testing::to_json(&r.section())
                    .get("maelstrom-valid")
                    .cloned()
                    .is_none(),
                "{jsonl}"
            );
            assert_eq!(r.valid, jepsen, "{jsonl}");
        }
        for p in &r.beyond_maelstrom {
            assert!(r.problems.contains(p), "{p}: {jsonl}");
        }
    }

    /// The definition of an element's known time: the earliest of its
    /// adds' acknowledgements and the completions of the reads holding it
    /// that completed after its first add began; `None` if it is not known.
    fn known_naive(history: &History, element: &Value) -> Option<Instant> {
        let ops = &history.ops;
        let at = |pos: usize| (ops[pos].time, pos);
        let pairs = history.pair_positions();
        let adds = pairs
            .iter()
            .filter(|(i, _)| ops[*i].f == "add" && ops[*i].value == *element);
        let add_invoked = adds.clone().map(|(i, _)| at(*i)).min()?;
        let acked = adds.filter_map(|(_, d)| d.filter(|&d| ops[d].kind == OpType::Ok).map(at));
        let seen = pairs
            .iter()
            .filter(|(i, _)| ops[*i].f == "read")
            .filter_map(|(_, d)| d.filter(|&d| ops[d].kind == OpType::Ok))
            .filter(|&d| ops[d].value.as_array().is_some_and(|l| l.contains(element)))
            .map(at)
            .filter(|&c| c > add_invoked);
        acked.chain(seen).min()
    }

    /// A direct transcription of the definitions, scanning every read for
    /// every element: the reference the one-pass version must agree with.
    fn classify_naive(history: &History, element: &Value) -> Option<Outcome> {
        let ops = &history.ops;
        let at = |pos: usize| (ops[pos].time, pos);
        let pairs = history.pair_positions();
        let adds: Vec<_> = pairs
            .iter()
            .filter(|(i, _)| ops[*i].f == "add" && ops[*i].value == *element)
            .collect();
        let add_invoked = adds.iter().map(|(i, _)| at(*i)).min()?;
        let acked = adds
            .iter()
            .filter_map(|(_, d)| d.filter(|&d| ops[d].kind == OpType::Ok).map(at))
            .min();
        let maybe = adds
            .iter()
            .any(|(_, d)| d.is_none_or(|d| ops[d].kind != OpType::Fail));
        let mut reads: Vec<(Instant, Instant, &Vec<Value>)> = pairs
            .iter()
            .filter(|(i, _)| ops[*i].f == "read")
            .filter_map(|(i, d)| {
                let d = d.filter(|&d| ops[d].kind == OpType::Ok)?;
                Some((at(*i), at(d), ops[d].value.as_array()?))
            })
            .collect();
        reads.sort_by_key(|r| r.0);
        let seen = reads
            .iter()
            .filter(|r| r.2.contains(element) && r.1 > add_invoked)
            .map(|r| r.1)
            .min();
        let known = match (acked, seen) {
            (Some(a), Some(s)) => Some(a.min(s)),
            (a, s) => a.or(s),
        };
        if !maybe && seen.is_none() {
            return None;
        }
        let Some(known) = known else {
            return Some(Outcome::NeverRead);
        };
        let counted: Vec<usize> = (0..reads.len()).filter(|&r| reads[r].0 > known).collect();
        let Some(&last) = counted.last() else {
            return Some(Outcome::NeverRead);
        };
        if !reads[last].2.contains(element) {
            return Some(Outcome::Lost);
        }
        let last_absent = counted
            .iter()
            .rev()
            .copied()
            .find(|&r| !reads[r].2.contains(element));
        let latency_ns = last_absent.map_or(0, |r| reads[r].0 .0.saturating_sub(known.0));
        Some(Outcome::Stable {
            last_absent,
            latency_ms: latency_ns / MS,
        })
    }

    use lightcone_rng::SplitMix64;

    /// Concurrent processes adding and reading a few elements, with times in
    /// coarse steps so that ties happen, outcomes of every kind, and reads
    /// that sometimes miss or repeat elements.
    fn random_history(rng: &mut SplitMix64) -> History {
        let mut h = History::default();
        let mut pending: Vec<(u64, bool, u64)> = Vec::new(); // process, is add, element
        let mut next_process = 0;
        let mut added: Vec<u64> = Vec::new();
        // Some histories are short (often unknown), some have perfect reads
        // (often valid), the rest miss elements (often lost or stale).
        let steps = 4 + rng.below(40);
        let miss_one_in = [u64::MAX, 3, 8][rng.below(3) as usize];
        for step in 0..steps {
            let t = step / 2 * MS;
            if !pending.is_empty() && rng.below(2) == 0 {
                let (p, is_add, e) = pending.swap_remove(rng.below(pending.len() as u64) as usize);
                if is_add {
                    let kind =
                        [OpType::Ok, OpType::Ok, OpType::Fail, OpType::Info][rng.below(4) as usize];
                    h.push(op(p, kind, "add", json!(e), t));
                } else {
                    let read: Vec<u64> = added
                        .iter()
                        .copied()
                        .filter(|_| rng.below(miss_one_in) != 0)
                        .collect();
                    let mut read: Vec<Value> = read.into_iter().map(|e| json!(e)).collect();
                    if rng.below(40) == 0 && !read.is_empty() {
                        read.push(read[0].clone());
                    }
                    h.push(ok(p, "read", Value::Array(read), t));
                }
            } else {
                next_process += 1;
                if rng.below(2) == 0 {
                    let e = rng.below(6);
                    added.push(e);
                    h.push(invoke(next_process, "add", json!(e), t));
                    pending.push((next_process, true, e));
                } else {
                    h.push(invoke(next_process, "read", Value::Null, t));
                    pending.push((next_process, false, 0));
                }
            }
        }
        h
    }

    #[test]
    fn one_pass_agrees_with_the_definitions_on_random_histories() {
        let mut rng = SplitMix64(7);
        let mut seen = BTreeMap::new();
        for _ in 0..500 {
            let h = random_history(&mut rng);
            let r = run(&h);
            let (mut stable, mut lost, mut never, mut stale) = (0, 0, 0, 0);
            let mut latencies = Vec::new();
            for e in 0..6 {
                match classify_naive(&h, &json!(e)) {
                    Some(Outcome::Stable {
                        last_absent,
                        latency_ms,
                    }) => {
                        stable += 1;
                        stale += usize::from(last_absent.is_some());
                        latencies.push(latency_ms);
                    }
                    Some(Outcome::Lost) => lost += 1,
                    Some(Outcome::NeverRead) => never += 1,
                    None => {}
                }
            }
            let jsonl = h.to_jsonl();
            assert_eq!(
                crate::testing::to_json(&r.details.stable_count),
                json!(stable),
                "{jsonl}"
            );
            assert_eq!(
                crate::testing::to_json(&r.details.lost_count),
                json!(lost),
                "{jsonl}"
            );
            assert_eq!(
                crate::testing::to_json(&r.details.never_read_count),
                json!(never),
                "{jsonl}"
            );
            assert_eq!(
                crate::testing::to_json(&r.details.stale_count),
                json!(stale),
                "{jsonl}"
            );
            assert_eq!(r.details.stable_latencies, quantiles(latencies), "{jsonl}");
            assert_jepsen_verdict(&r, &jsonl);
            *seen.entry(r.valid.to_string()).or_insert(0) += 1;
            for (label, n) in [
                ("stable", stable),
                ("lost", lost),
                ("never", never),
                ("stale", stale),
            ] {
                *seen.entry(label.to_string()).or_insert(0) += usize::from(n > 0);
            }
        }
        // The generator must exercise every outcome, or the comparison
        // proves little.
        for label in [
            "valid", "invalid", "unknown", "stable", "lost", "never", "stale",
        ] {
            assert!(
                seen.get(label).copied().unwrap_or(0) > 5,
                "{label}: {seen:?}"
            );
        }
    }

    #[test]
    fn final_reads_agree_with_the_definition_on_random_histories() {
        let mut rng = SplitMix64(11);
        let (mut lacking_count, mut stricter_count) = (0, 0);
        for _ in 0..500 {
            let mut h = random_history(&mut rng);
            // Without duplicates (elements are added more than once here),
            // so that only final reads make lightcone stricter than Jepsen.
            for op in &mut h.ops {
                if let Some(list) = op.value.as_array_mut() {
                    let mut seen = Vec::new();
                    list.retain(|e| {
                        let new = !seen.contains(e);
                        seen.push(e.clone());
                        new
                    });
                }
            }
            // The last three reads to be invoked become final reads, on
            // nodes n0, n1 and n0 again.
            let pairs = h.pair_positions();
            let last_reads: Vec<(usize, Option<usize>)> = pairs
                .iter()
                .copied()
                .filter(|(i, _)| h.ops[*i].f == "read")
                .rev()
                .take(3)
                .collect();
            for (k, (i, d)) in last_reads.iter().rev().enumerate() {
                for pos in std::iter::once(*i).chain(*d) {
                    h.ops[pos].is_final = true;
                    h.ops[pos].node = Some(format!("n{}", k % 2).into());
                }
            }
            let r = run(&h);
            let jsonl = h.to_jsonl();
            // Every final read (in invocation order) against the elements
            // known before it was invoked.
            let expected: Vec<Value> = pairs
                .iter()
                .filter(|(i, _)| h.ops[*i].is_final)
                .filter_map(|&(i, d)| {
                    let list = h.ops[d.filter(|&d| h.ops[d].kind == OpType::Ok)?]
                        .value
                        .as_array()?;
                    let missing: Vec<Value> = (0..6)
                        .map(|e| json!(e))
                        .filter(|e| !list.contains(e))
                        .filter(|e| known_naive(&h, e).is_some_and(|k| k < (h.ops[i].time, i)))
                        .collect();
                    (!missing.is_empty()).then(|| json!([h.ops[i].node, missing]))
                })
                .collect();
            let found: Vec<Value> = r
                .details
                .final_read_missing
                .iter()
                .map(|f| json!([f.node, f.missing]))
                .collect();
            assert_eq!(found, expected, "{jsonl}");
            assert_jepsen_verdict(&r, &jsonl);
            assert_eq!(r.details.duplicated_count, 0);
            lacking_count += usize::from(!expected.is_empty());
            stricter_count += usize::from(r.valid != r.maelstrom_valid);
        }
        // Final reads lacking elements, some of them in histories Jepsen
        // passes.
        assert!(lacking_count > 20, "{lacking_count}");
        assert!(stricter_count > 5, "{stricter_count}");
    }

    #[test]
    fn the_range_scan_agrees_with_the_element_scan_on_random_compact_histories() {
        let mut rng = SplitMix64(11);
        let mut invalid = 0;
        for _ in 0..2000 {
            let mut h = random_history(&mut rng);
            for op in &mut h.ops {
                if op.f == "read" && op.kind == OpType::Ok {
                    op.value = IntMultiset::compact(op.value.take());
                }
            }
            let by_ranges = check_scanning(&h, "add", "read", Scan::Ranges);
            let by_elements = check_scanning(&h, "add", "read", Scan::Elements);
            assert_eq!(
                crate::testing::to_json(&by_ranges.section()),
                crate::testing::to_json(&by_elements.section())
            );
            assert_eq!(by_ranges.problems, by_elements.problems);
            invalid += usize::from(by_ranges.valid == Validity::Invalid);
        }
        assert!(invalid > 100, "{invalid} invalid");
    }

    #[test]
    fn scales_to_thousands_of_growing_reads() {
        // 2,000 reads, read i holding elements 0..=i: two million element
        // occurrences. Element e is acknowledged just before read e begins;
        // read e + 1 misses it when e is odd, so the odd elements are stale
        // by the 10 ms between reads.
        let mut h = History::default();
        let n = 2_000u64;
        for i in 0..n {
            h.push(invoke(0, "add", json!(i), i * 10 * MS));
            h.push(ok(0, "add", json!(i), i * 10 * MS + 1));
            let elements: Vec<u64> = (0..=i).filter(|&e| !(e % 2 == 1 && e + 1 == i)).collect();
            h.push(invoke(1, "read", Value::Null, i * 10 * MS + 2));
            h.push(ok(1, "read", json!(elements), i * 10 * MS + 3));
        }
        let r = run(&h);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
        assert_eq!(crate::testing::to_json(&r.details.attempt_count), json!(n));
        assert_eq!(crate::testing::to_json(&r.details.stable_count), json!(n));
        // Odd elements 1, 3, ..., 1997; 1999 has no read after its own.
        assert_eq!(
            crate::testing::to_json(&r.details.stale_count),
            json!(n / 2 - 1)
        );
        assert_eq!(r.details.stable_latencies.as_ref().unwrap()["1"], 10);
        assert_eq!(r.details.stable_latencies.as_ref().unwrap()["0.5"], 0);
    }
}
