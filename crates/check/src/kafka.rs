//! The kafka workload's checker: Jepsen's kafka checker, simplified to
//! Maelstrom's protocol, where each poll names the offset it starts from.
//!
//! The workbench records (JSON values):
//! - `send`: invoke `["k1", 42]` (key, message); ok `["k1", 42, 7]`, the
//!   offset assigned last;
//! - `poll`: invoke `{"k1": 3}` (the offset to start from, per key); ok
//!   `{"k1": [[3, 10], [4, 11]]}`, `[offset, message]` pairs per key;
//! - `commit_offsets`: invoke and ok `{"k1": 5}`;
//! - `list_committed_offsets`: invoke `["k1"]`, ok `{"k1": 5}`.
//!
//! Each key is a log: one message per offset, offsets in the order messages
//! were appended. The anomalies, each counted with its first examples:
//! - **inconsistent-offsets**: one offset of a key holding two messages,
//!   or one message at two offsets of a key (messages are unique per run),
//!   across acknowledged sends and polls;
//! - **lost-writes**: a send acknowledged at offset o that no poll ever
//!   returned, though polls of its key returned offsets above o (Jepsen's
//!   rule: every offset is eventually polled by someone);
//! - **nonmonotonic-send**: one process's successive acknowledged sends to
//!   a key got offsets that did not increase;
//! - **nonmonotonic-poll**: one poll's offsets for a key not strictly
//!   increasing, or below the offset the poll asked to start from;
//! - **poll-skip**: one poll's result for a key jumping over an offset known
//!   to hold a message (an acknowledged send, or any poll, returned it),
//!   between two returned offsets or between the requested start and the
//!   first returned offset;
//! - **committed-offsets-regress**: a process listing a key's committed
//!   offset lower than it listed before, or a list lower than an offset
//!   whose `commit_offsets` was acknowledged before the list began. Both
//!   take committed offsets to be a maximum that only grows, as the
//!   workload promises; the second also takes commits to be visible once
//!   acknowledged (linearizable), which a single log or a linearizable
//!   store provides.
//!
//! Every anomaly makes the history invalid. All of it is one pass over the
//! history to collect ops and build per-key indexes (offset -> messages,
//! message -> offsets) in BTreeMaps, then one pass per anomaly:
//! O(n log n) in the number of `[offset, message]` pairs seen.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use lightcone_history::{History, Op, OpType, Process};
use serde_json::{json, Map, Value};

use crate::{list_some, plural, CheckResult, Validity};

/// How many examples each anomaly lists in the details; its count covers all.
const EXAMPLES_SHOWN_MAX: usize = 10;
/// How many examples of each anomaly get a problem sentence.
const EXAMPLES_NAMED_MAX: usize = 3;
/// How many skipped offsets one poll-skip example lists.
const SKIPPED_SHOWN_MAX: usize = 10;

/// A point in the history: the op's time, then its position in the history,
/// as in [`set_full`](crate::set_full).
type Instant = (u64, usize);

/// A message's identity: integers, what the workload sends, as numbers;
/// anything else by its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Msg {
    Int(i64),
    Text(String),
}

impl Msg {
    fn of(value: &Value) -> Msg {
        match value.as_i64() {
            Some(i) => Msg::Int(i),
            None => Msg::Text(value.to_string()),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Msg::Int(i) => json!(i),
            Msg::Text(text) => serde_json::from_str(text).unwrap_or_else(|_| json!(text)),
        }
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::Int(i) => write!(f, "{i}"),
            Msg::Text(text) => f.write_str(text),
        }
    }
}

/// A key as text: JSON object keys (polls, commits) are strings, so a
/// send's non-string key is taken by its JSON text to match them.
fn key_of(value: &Value) -> String {
    match value.as_str() {
        Some(s) => s.to_string(),
        None => value.to_string(),
    }
}

/// A key as it appears in sentences: quoted, as JSON.
fn quoted(key: &str) -> String {
    Value::String(key.to_string()).to_string()
}

/// The op that showed something: its completion, named as in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpRef<'h> {
    f: &'h str,
    process: Process,
    index: u64,
}

impl OpRef<'_> {
    fn of(op: &Op) -> OpRef<'_> {
        OpRef {
            f: &op.f,
            process: op.process,
            index: op.index,
        }
    }

    fn to_json(self) -> Value {
        json!({"f": self.f, "process": self.process, "index": self.index})
    }
}

impl fmt::Display for OpRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, op {}, process {}", self.f, self.index, self.process)
    }
}

/// An acknowledged send.
#[derive(Debug)]
struct Send<'h> {
    op: OpRef<'h>,
    key: String,
    msg: Msg,
    offset: i64,
}

/// What one poll returned: per key, `(offset, message)` pairs in order.
type PollResult = Vec<(String, Vec<(i64, Msg)>)>;

/// A successful poll: the offsets it asked to start from and what it got.
#[derive(Debug)]
struct Poll<'h> {
    op: OpRef<'h>,
    requested: BTreeMap<String, i64>,
    result: PollResult,
}

/// An acknowledged `commit_offsets` or a successful `list_committed_offsets`.
#[derive(Debug)]
struct Offsets<'h> {
    op: OpRef<'h>,
    invoke: Instant,
    completion: Instant,
    offsets: Vec<(String, i64)>,
}

/// Everything the checker takes from a history, in invocation order.
#[derive(Debug, Default)]
struct Collected<'h> {
    sends: Vec<Send<'h>>,
    polls: Vec<Poll<'h>>,
    commits: Vec<Offsets<'h>>,
    lists: Vec<Offsets<'h>>,
    /// Positions of ok completions whose value has an unexpected shape.
    malformed: Vec<usize>,
}

/// One anomaly: how often it occurred, the first examples as JSON and the
/// first few as sentences.
#[derive(Debug)]
struct Anomaly {
    /// The details key.
    name: &'static str,
    /// What each sentence starts with, e.g. "lost write".
    label: &'static str,
    /// The plural noun for "N more ...".
    noun: &'static str,
    count: usize,
    examples: Vec<Value>,
    sentences: Vec<String>,
}

impl Anomaly {
    fn new(name: &'static str, label: &'static str, noun: &'static str) -> Anomaly {
        Anomaly {
            name,
            label,
            noun,
            count: 0,
            examples: Vec::new(),
            sentences: Vec::new(),
        }
    }

    /// Counts one occurrence, describing it only while examples are kept.
    fn record(&mut self, describe: impl FnOnce() -> (Value, String)) {
        self.count += 1;
        if self.examples.len() < EXAMPLES_SHOWN_MAX {
            let (example, sentence) = describe();
            self.examples.push(example);
            if self.sentences.len() < EXAMPLES_NAMED_MAX {
                self.sentences.push(format!("{}: {sentence}", self.label));
            }
        }
    }
}

/// Checks a kafka-style log history for the anomalies in the module docs.
/// Invalid if any occurred; unknown if none did but some completion had a
/// value of an unexpected shape (those ops are ignored).
pub fn check(history: &History) -> CheckResult {
    let collected = collect(history);
    let logs = index_logs(&collected);
    let anomalies = [
        inconsistent_offsets(&logs),
        lost_writes(&collected, &logs),
        nonmonotonic_sends(&collected),
        nonmonotonic_polls(&collected),
        poll_skips(&collected, &logs),
        committed_offsets_regress(&collected),
    ];

    let mut problems = Vec::new();
    let mut valid = Validity::Valid;
    let mut details = Map::new();
    details.insert("send-count".to_string(), json!(collected.sends.len()));
    details.insert("poll-count".to_string(), json!(collected.polls.len()));
    details.insert("key-count".to_string(), json!(logs.len()));
    for a in anomalies {
        if a.count > 0 {
            valid = Validity::Invalid;
        }
        if a.count > a.sentences.len() {
            let more = a.count - a.sentences.len();
            problems.extend(a.sentences);
            problems.push(format!("{more} more {}", a.noun));
        } else {
            problems.extend(a.sentences);
        }
        details.insert(format!("{}-count", a.name), json!(a.count));
        details.insert(a.name.to_string(), Value::Array(a.examples));
    }
    details.insert(
        "malformed-count".to_string(),
        json!(collected.malformed.len()),
    );
    if let Some(&first) = collected.malformed.first() {
        valid = valid.merge(Validity::Unknown);
        let op = &history.ops[first];
        problems.push(format!(
            "{} completed with a value of an unexpected shape, e.g. {} by process {} (op {}); \
             they were ignored",
            plural(collected.malformed.len(), "operation"),
            op.value,
            op.process,
            op.index
        ));
    }
    CheckResult::new(valid, problems, details)
}

/// Gathers the successful ops of the four functions; the others say nothing
/// about the log (an `info` send may have been appended, but its offset is
/// unknown).
fn collect(history: &History) -> Collected<'_> {
    let ops = &history.ops;
    let at = |pos: usize| -> Instant { (ops[pos].time, pos) };
    let mut c = Collected::default();
    for (inv, done) in history.pair_positions() {
        let Some(d) = done.filter(|&d| ops[d].kind == OpType::Ok) else {
            continue;
        };
        let (invoke, completion) = (&ops[inv], &ops[d]);
        let op = OpRef::of(completion);
        let timed = |offsets| Offsets {
            op,
            invoke: at(inv),
            completion: at(d),
            offsets,
        };
        let parsed = match invoke.f.as_str() {
            "send" => parse_send(&completion.value).map(|(key, msg, offset)| {
                c.sends.push(Send {
                    op,
                    key,
                    msg,
                    offset,
                })
            }),
            "poll" => parse_poll_result(&completion.value).map(|result| {
                let requested = parse_offsets(&invoke.value).unwrap_or_default();
                c.polls.push(Poll {
                    op,
                    requested: requested.into_iter().collect(),
                    result,
                })
            }),
            // A commit's acknowledgement confirms what it asked for; a
            // list's completion carries what it found.
            "commit_offsets" => {
                parse_offsets(&invoke.value).map(|offsets| c.commits.push(timed(offsets)))
            }
            "list_committed_offsets" => {
                parse_offsets(&completion.value).map(|offsets| c.lists.push(timed(offsets)))
            }
            _ => Some(()),
        };
        if parsed.is_none() {
            c.malformed.push(d);
        }
    }
    c
}

/// `[key, message, offset]`.
fn parse_send(value: &Value) -> Option<(String, Msg, i64)> {
    match value.as_array()?.as_slice() {
        [key, msg, offset] => Some((key_of(key), Msg::of(msg), offset.as_i64()?)),
        _ => None,
    }
}

/// `{key: [[offset, message], ...]}`.
fn parse_poll_result(value: &Value) -> Option<PollResult> {
    value
        .as_object()?
        .iter()
        .map(|(key, pairs)| {
            let pairs = pairs
                .as_array()?
                .iter()
                .map(|pair| match pair.as_array()?.as_slice() {
                    [offset, msg] => Some((offset.as_i64()?, Msg::of(msg))),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some((key.clone(), pairs))
        })
        .collect()
}

/// `{key: offset}`.
fn parse_offsets(value: &Value) -> Option<Vec<(String, i64)>> {
    value
        .as_object()?
        .iter()
        .map(|(key, offset)| Some((key.clone(), offset.as_i64()?)))
        .collect()
}

/// What sends and polls together say about one key's log.
#[derive(Debug, Default)]
struct KeyLog<'h> {
    /// Offset -> the distinct messages seen there, each with the first op
    /// that showed it. One entry, unless offsets are inconsistent.
    at_offset: BTreeMap<i64, Vec<(Msg, OpRef<'h>)>>,
    /// Message -> the distinct offsets it was seen at, likewise.
    offsets_of: BTreeMap<Msg, Vec<(i64, OpRef<'h>)>>,
    /// Messages some poll returned.
    polled: BTreeSet<Msg>,
    /// The highest offset some poll returned.
    polled_max: Option<i64>,
}

impl<'h> KeyLog<'h> {
    fn observe(&mut self, offset: i64, msg: &Msg, op: OpRef<'h>) {
        let msgs = self.at_offset.entry(offset).or_default();
        if !msgs.iter().any(|(m, _)| m == msg) {
            msgs.push((msg.clone(), op));
        }
        // Looked up before inserting: most messages are already known, and
        // a text message would be cloned for nothing.
        match self.offsets_of.get_mut(msg) {
            Some(offsets) => {
                if !offsets.iter().any(|(o, _)| *o == offset) {
                    offsets.push((offset, op));
                }
            }
            None => {
                self.offsets_of.insert(msg.clone(), vec![(offset, op)]);
            }
        }
    }
}

fn index_logs<'c, 'h>(c: &'c Collected<'h>) -> BTreeMap<&'c str, KeyLog<'h>> {
    let mut logs: BTreeMap<&str, KeyLog> = BTreeMap::new();
    for s in &c.sends {
        logs.entry(&s.key)
            .or_default()
            .observe(s.offset, &s.msg, s.op);
    }
    for p in &c.polls {
        for (key, pairs) in &p.result {
            let log = logs.entry(key).or_default();
            for (offset, msg) in pairs {
                log.observe(*offset, msg, p.op);
                if !log.polled.contains(msg) {
                    log.polled.insert(msg.clone());
                }
                log.polled_max = Some(log.polled_max.map_or(*offset, |m| m.max(*offset)));
            }
        }
    }
    logs
}

/// "42 (send, op 118, process 3), 43 (poll, op 130, process 5)".
fn sightings<T: fmt::Display>(seen: &[(T, OpRef)]) -> String {
    list_some(
        seen.iter().map(|(what, op)| format!("{what} ({op})")),
        seen.len(),
        seen.len(),
    )
}

fn inconsistent_offsets(logs: &BTreeMap<&str, KeyLog>) -> Anomaly {
    let mut a = Anomaly::new(
        "inconsistent-offsets",
        "inconsistent offsets",
        "inconsistent offsets",
    );
    for (key, log) in logs {
        for (offset, msgs) in log.at_offset.iter().filter(|(_, m)| m.len() > 1) {
            a.record(|| {
                let example = json!({
                    "kind": "offset-with-several-messages",
                    "key": key,
                    "offset": offset,
                    "messages": msgs.iter().map(|(m, _)| m.to_json()).collect::<Vec<_>>(),
                    "ops": msgs.iter().map(|(_, op)| op.to_json()).collect::<Vec<_>>(),
                });
                let sentence = format!(
                    "key {} offset {offset} holds different messages: {}",
                    quoted(key),
                    sightings(msgs)
                );
                (example, sentence)
            });
        }
        for (msg, offsets) in log.offsets_of.iter().filter(|(_, o)| o.len() > 1) {
            a.record(|| {
                let example = json!({
                    "kind": "message-at-several-offsets",
                    "key": key,
                    "message": msg.to_json(),
                    "offsets": offsets.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
                    "ops": offsets.iter().map(|(_, op)| op.to_json()).collect::<Vec<_>>(),
                });
                let sentence = format!(
                    "key {} message {msg} appears at different offsets: {}",
                    quoted(key),
                    sightings(offsets)
                );
                (example, sentence)
            });
        }
    }
    a
}

fn lost_writes(c: &Collected, logs: &BTreeMap<&str, KeyLog>) -> Anomaly {
    let mut a = Anomaly::new("lost-writes", "lost write", "lost writes");
    for s in &c.sends {
        let log = &logs[s.key.as_str()];
        let Some(reached) = log.polled_max.filter(|&m| m > s.offset) else {
            continue;
        };
        if log.polled.contains(&s.msg) {
            continue;
        }
        a.record(|| {
            let example = json!({
                "key": s.key,
                "message": s.msg.to_json(),
                "offset": s.offset,
                "polled-max": reached,
                "ops": [s.op.to_json()],
            });
            let sentence = format!(
                "key {} message {} acknowledged at offset {} (op {}, process {}) never appeared \
                 in a poll, though polls reached offset {reached}",
                quoted(&s.key),
                s.msg,
                s.offset,
                s.op.index,
                s.op.process
            );
            (example, sentence)
        });
    }
    a
}

fn nonmonotonic_sends(c: &Collected) -> Anomaly {
    let mut a = Anomaly::new(
        "nonmonotonic-send",
        "nonmonotonic send",
        "nonmonotonic sends",
    );
    // A process's ops are sequential, so invocation order is its order.
    let mut last: BTreeMap<(Process, &str), &Send> = BTreeMap::new();
    for s in &c.sends {
        if let Some(prev) = last.insert((s.op.process, &s.key), s) {
            if s.offset > prev.offset {
                continue;
            }
            a.record(|| {
                let example = json!({
                    "key": s.key,
                    "process": s.op.process,
                    "offsets": [prev.offset, s.offset],
                    "messages": [prev.msg.to_json(), s.msg.to_json()],
                    "ops": [prev.op.to_json(), s.op.to_json()],
                });
                let sentence = format!(
                    "process {} sent message {} to key {} at offset {} (op {}) after message {} \
                     at offset {} (op {})",
                    s.op.process,
                    s.msg,
                    quoted(&s.key),
                    s.offset,
                    s.op.index,
                    prev.msg,
                    prev.offset,
                    prev.op.index
                );
                (example, sentence)
            });
        }
    }
    a
}

fn nonmonotonic_polls(c: &Collected) -> Anomaly {
    let mut a = Anomaly::new(
        "nonmonotonic-poll",
        "nonmonotonic poll",
        "nonmonotonic polls",
    );
    for p in &c.polls {
        for (key, pairs) in &p.result {
            let who = format!(
                "a poll of key {} by process {} (op {})",
                quoted(key),
                p.op.process,
                p.op.index
            );
            if let Some(w) = pairs.windows(2).find(|w| w[1].0 <= w[0].0) {
                let (before, after) = (w[0].0, w[1].0);
                a.record(|| {
                    let example = json!({
                        "kind": "not-increasing",
                        "key": key,
                        "offsets": [before, after],
                        "ops": [p.op.to_json()],
                    });
                    (
                        example,
                        format!("{who} returned offset {after} after offset {before}"),
                    )
                });
            }
            let requested = p.requested.get(key);
            let below = requested.and_then(|&r| pairs.iter().map(|x| x.0).filter(|&o| o < r).min());
            if let (Some(&r), Some(lowest)) = (requested, below) {
                a.record(|| {
                    let example = json!({
                        "kind": "below-requested",
                        "key": key,
                        "requested": r,
                        "offset": lowest,
                        "ops": [p.op.to_json()],
                    });
                    (
                        example,
                        format!("{who} asked for offsets from {r} but returned offset {lowest}"),
                    )
                });
            }
        }
    }
    a
}

fn poll_skips(c: &Collected, logs: &BTreeMap<&str, KeyLog>) -> Anomaly {
    let mut a = Anomaly::new("poll-skip", "poll skip", "poll skips");
    for p in &c.polls {
        for (key, pairs) in &p.result {
            let known = &logs[key.as_str()].at_offset;
            // Gaps are judged on the offsets returned, in order and once
            // each: a poll out of order is a nonmonotonic poll, not a skip.
            let returned: BTreeSet<i64> = pairs.iter().map(|x| x.0).collect();
            let requested = p.requested.get(key).copied();
            // The offset just before the next one the poll owed us, and
            // whether it comes from the request rather than the result.
            let mut prev: Option<(i64, bool)> = requested.map(|r| (r.saturating_sub(1), true));
            for &offset in &returned {
                match prev {
                    Some((from, _)) if offset <= from => continue,
                    Some((from, leading)) => {
                        let skipped: Vec<i64> =
                            known.range(from + 1..offset).map(|(o, _)| *o).collect();
                        if !skipped.is_empty() {
                            record_skip(&mut a, p, key, (leading, from), offset, &skipped);
                        }
                    }
                    None => {}
                }
                prev = Some((offset, false));
            }
        }
    }
    a
}

/// Records one gap of a poll: from `from` (exclusive; when `leading`, the
/// gap runs from the requested offset `from + 1`) to `to` (exclusive).
fn record_skip(
    a: &mut Anomaly,
    p: &Poll,
    key: &str,
    (leading, from): (bool, i64),
    to: i64,
    skipped: &[i64],
) {
    a.record(|| {
        let shown: Vec<i64> = skipped.iter().copied().take(SKIPPED_SHOWN_MAX).collect();
        let example = json!({
            "key": key,
            "from": if leading { Value::Null } else { json!(from) },
            "requested": if leading { json!(from + 1) } else { Value::Null },
            "to": to,
            "skipped": shown,
            "skipped-count": skipped.len(),
            "ops": [p.op.to_json()],
        });
        let went = if leading {
            format!("asked for offsets from {} but began at {to}", from + 1)
        } else {
            format!("went from offset {from} to {to}")
        };
        let sentence = format!(
            "a poll of key {} by process {} (op {}) {went}, skipping {} {}, which {} messages",
            quoted(key),
            p.op.process,
            p.op.index,
            if skipped.len() == 1 {
                "offset"
            } else {
                "offsets"
            },
            list_some(
                skipped.iter().map(|o| o.to_string()),
                skipped.len(),
                SKIPPED_SHOWN_MAX
            ),
            if skipped.len() == 1 { "holds" } else { "hold" },
        );
        (example, sentence)
    });
}

fn committed_offsets_regress(c: &Collected) -> Anomaly {
    let mut a = Anomaly::new(
        "committed-offsets-regress",
        "committed offsets regressed",
        "committed-offset regressions",
    );
    let mut commits: Vec<&Offsets> = c.commits.iter().collect();
    commits.sort_by_key(|x| x.completion);
    let mut lists: Vec<&Offsets> = c.lists.iter().collect();
    lists.sort_by_key(|x| x.invoke);
    // Per key, the highest offset whose commit was acknowledged before the
    // current list began.
    let mut committed: BTreeMap<&str, (i64, OpRef)> = BTreeMap::new();
    let mut next_commit = 0;
    // Per process and key, what its last list returned.
    let mut last_listed: BTreeMap<(Process, &str), (i64, OpRef)> = BTreeMap::new();
    for list in lists {
        while let Some(commit) = commits
            .get(next_commit)
            .filter(|x| x.completion < list.invoke)
        {
            for (key, offset) in &commit.offsets {
                let best = committed.entry(key).or_insert((*offset, commit.op));
                if *offset > best.0 {
                    *best = (*offset, commit.op);
                }
            }
            next_commit += 1;
        }
        for (key, listed) in &list.offsets {
            let previous = last_listed.insert((list.op.process, key), (*listed, list.op));
            if let Some((before, before_op)) = previous.filter(|p| *listed < p.0) {
                a.record(|| regress_by_process(key, *listed, list.op, before, before_op));
            } else if let Some(&(done, commit_op)) =
                committed.get(key.as_str()).filter(|c| *listed < c.0)
            {
                a.record(|| regress_below_commit(key, *listed, list.op, done, commit_op));
            }
        }
    }
    a
}

fn regress_by_process(
    key: &str,
    listed: i64,
    op: OpRef,
    before: i64,
    before_op: OpRef,
) -> (Value, String) {
    let example = json!({
        "kind": "process-listed-lower",
        "key": key,
        "process": op.process,
        "offsets": [before, listed],
        "ops": [before_op.to_json(), op.to_json()],
    });
    let sentence = format!(
        "process {} listed key {} at {listed} (op {}) after listing it at {before} (op {})",
        op.process,
        quoted(key),
        op.index,
        before_op.index
    );
    (example, sentence)
}

fn regress_below_commit(
    key: &str,
    listed: i64,
    op: OpRef,
    committed: i64,
    commit_op: OpRef,
) -> (Value, String) {
    let example = json!({
        "kind": "listed-below-acknowledged-commit",
        "key": key,
        "committed": committed,
        "listed": listed,
        "ops": [commit_op.to_json(), op.to_json()],
    });
    let sentence = format!(
        "process {} listed key {} at {listed} (op {}), though offset {committed} was committed by \
         process {} (op {}) before the list began",
        op.process,
        quoted(key),
        op.index,
        commit_op.process,
        commit_op.index
    );
    (example, sentence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invoke, nemesis, ok, op};

    fn pair(h: &mut History, process: u64, f: &str, request: Value, reply: Value, time: u64) {
        h.push(invoke(process, f, request, time));
        h.push(ok(process, f, reply, time + 1));
    }

    #[test]
    fn parsers_accept_the_recorded_shapes_only() {
        assert_eq!(
            parse_send(&json!(["k1", 42, 7])),
            Some(("k1".to_string(), Msg::Int(42), 7))
        );
        assert_eq!(
            parse_send(&json!([3, "m", 0])),
            Some(("3".to_string(), Msg::Text("\"m\"".to_string()), 0))
        );
        assert_eq!(parse_send(&json!(["k1", 42])), None);
        assert_eq!(parse_send(&json!(["k1", 42, "7"])), None);
        assert_eq!(
            parse_poll_result(&json!({"k1": [[3, 10], [4, 11]], "k2": []})),
            Some(vec![
                ("k1".to_string(), vec![(3, Msg::Int(10)), (4, Msg::Int(11))]),
                ("k2".to_string(), vec![])
            ])
        );
        assert_eq!(parse_poll_result(&json!({"k1": [[3]]})), None);
        assert_eq!(parse_poll_result(&json!([])), None);
        assert_eq!(
            parse_offsets(&json!({"a": 1})),
            Some(vec![("a".to_string(), 1)])
        );
        assert_eq!(parse_offsets(&json!({"a": null})), None);
    }

    #[test]
    fn messages_keep_their_json() {
        for v in [json!(5), json!("five"), json!([1, 2]), json!(1.5)] {
            assert_eq!(Msg::of(&v).to_json(), v);
        }
        assert_ne!(Msg::of(&json!(5)), Msg::of(&json!("5")));
        assert_eq!(Msg::of(&json!("5")).to_string(), "\"5\"");
    }

    #[test]
    fn malformed_completions_make_a_clean_history_unknown() {
        let mut h = History::default();
        pair(&mut h, 0, "send", json!(["k", 1]), json!(["k", 1, 0]), 0);
        pair(&mut h, 1, "send", json!(["k", 2]), json!({"offset": 1}), 10);
        h.push(nemesis("start-partition", 20));
        let r = check(&h);
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.details["malformed-count"], json!(1));
        assert_eq!(r.details["send-count"], json!(1));
        assert!(
            r.problems[0].starts_with("1 operation completed"),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn failed_and_indeterminate_ops_say_nothing() {
        let mut h = History::default();
        h.push(invoke(0, "send", json!(["k", 1]), 0));
        h.push(op(0, OpType::Info, "send", json!(["k", 1]), 1));
        h.push(invoke(1, "poll", json!({"k": 0}), 2));
        h.push(op(1, OpType::Fail, "poll", json!({"k": 0}), 3));
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.problems);
        assert_eq!(r.details["send-count"], json!(0));
        assert_eq!(r.details["poll-count"], json!(0));
    }

    #[test]
    fn a_gap_after_a_result_below_the_request_is_not_leading() {
        let mut h = History::default();
        for (msg, offset) in [(1, 2), (2, 5), (3, 6), (4, 7)] {
            pair(
                &mut h,
                0,
                "send",
                json!(["k", msg]),
                json!(["k", msg, offset]),
                0,
            );
        }
        pair(
            &mut h,
            1,
            "poll",
            json!({"k": 5}),
            json!({"k": [[2, 1], [7, 4]]}),
            100,
        );
        pair(
            &mut h,
            2,
            "poll",
            json!({"k": 5}),
            json!({"k": [[5, 2], [6, 3], [7, 4]]}),
            200,
        );
        let r = check(&h);
        assert_eq!(r.details["nonmonotonic-poll-count"], json!(1));
        assert_eq!(r.details["poll-skip-count"], json!(1));
        let skip = &r.details["poll-skip"][0];
        assert_eq!(skip["requested"], json!(5));
        assert_eq!(skip["from"], Value::Null);
        assert_eq!(skip["skipped"], json!([5, 6]));
        assert_eq!(r.details["lost-writes-count"], json!(0));
    }

    #[test]
    fn examples_are_capped_but_counts_are_not() {
        let mut h = History::default();
        // 30 sends acknowledged at offsets 0..30, a poll returning only the
        // last: 29 lost writes, and one leading skip over 29 offsets.
        for i in 0..30 {
            pair(
                &mut h,
                0,
                "send",
                json!(["k", i]),
                json!(["k", i, i]),
                i as u64 * 10,
            );
        }
        pair(
            &mut h,
            1,
            "poll",
            json!({"k": 0}),
            json!({"k": [[29, 29]]}),
            1_000,
        );
        let r = check(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["lost-writes-count"], json!(29));
        assert_eq!(
            r.details["lost-writes"].as_array().unwrap().len(),
            EXAMPLES_SHOWN_MAX
        );
        assert_eq!(r.details["poll-skip-count"], json!(1));
        assert_eq!(r.details["poll-skip"][0]["skipped-count"], json!(29));
        assert_eq!(
            r.details["poll-skip"][0]["skipped"]
                .as_array()
                .unwrap()
                .len(),
            SKIPPED_SHOWN_MAX
        );
        let lost: Vec<&String> = r
            .problems
            .iter()
            .filter(|p| p.starts_with("lost write:"))
            .collect();
        assert_eq!(lost.len(), EXAMPLES_NAMED_MAX);
        assert!(
            r.problems.contains(&"26 more lost writes".to_string()),
            "{:?}",
            r.problems
        );
    }
}
