//! The linearizability witness drawn as Porcupine draws a partition: the
//! operations of the key that cannot be linearized, in a window of time
//! around the operation that gets stuck, a row per client process; the
//! longest linearization the checker found, each of its last operations
//! marked at a linearization point with its position and the model's state
//! after it; the stuck operation outlined, the operations concurrent with it
//! dashed; and the states the model could be in there.
//!
//! Read from the checker's JSON (`lightcone_linear`'s `Details`: `witness`
//! with `op`, `cause`, `prefix-length`, `prefix-tail`, `concurrent`,
//! `states`; `partitions` with each partition's `key`), so a run's
//! results.json and `lightcone check --html` draw the same picture.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_history::{History, Process};
use serde::Serialize;
use serde_json::Value;

use crate::{bar_title, outcome_class, push_json_prefix, Interval};

/// Width of the drawing, in SVG units.
const WIDTH: f64 = 1000.0;
const ROW: f64 = 26.0;
/// Operations drawn besides the ones the witness names, at most.
const OTHERS_MAX: usize = 60;
/// Characters of a state shown in a label, at most.
const STATE_MAX: usize = 40;

#[derive(Serialize)]
pub(crate) struct LinDrawing {
    /// "key 0", or "the history" for an unpartitioned model.
    key: String,
    cause: String,
    /// The stuck operation, as the model describes it.
    op_text: String,
    prefix_length: u64,
    /// Linearized operations numbered in the drawing (the last ones).
    numbered: usize,
    concurrent_count: u64,
    states: Vec<String>,
    width: f64,
    height: f64,
    rows: Vec<RowLabel>,
    bars: Vec<LinBar>,
    points: Vec<LinPoint>,
    ticks: Vec<crate::Tick>,
    /// The window shown (times since the test began).
    from_s: String,
    to_s: String,
}

#[derive(Serialize)]
struct RowLabel {
    y: f64,
    label: String,
}

#[derive(Serialize)]
struct LinBar {
    x: f64,
    y: f64,
    w: f64,
    class: &'static str,
    /// `stuck`, `concurrent`, `linearized` or empty.
    mark: &'static str,
    /// Text inside the bar (cut to fit by the browser's clipping).
    label: String,
    title: String,
}

/// A linearization point: a tick across its operation's bar, numbered.
#[derive(Serialize)]
struct LinPoint {
    x: f64,
    y: f64,
    label: String,
    title: String,
}

/// An operation the witness names: history index of its invocation, and
/// its times (ns).
struct Named {
    index: u64,
    invoke: u64,
    complete: Option<u64>,
}

fn named(op: &Value) -> Option<Named> {
    Some(Named {
        index: op["index"].as_u64()?,
        invoke: op["time"].as_u64()?,
        complete: op["complete-time"].as_u64(),
    })
}

/// A time (ns) in a unit that tells apart instants `span` ns apart:
/// histories from other tools may count time in any unit, or by position.
fn instant(t: u64, span: u64) -> String {
    let (unit, name) = match span {
        0..=9_999 => (1.0, "ns"),
        10_000..=9_999_999 => (1e3, "µs"),
        10_000_000..=9_999_999_999 => (1e6, "ms"),
        _ => (1e9, "s"),
    };
    let value = t as f64 / unit;
    if value.fract() == 0.0 {
        format!("{value} {name}")
    } else {
        format!("{value:.2} {name}")
    }
}

/// Width a bar the witness does not name needs for its label.
const LABEL_ROOM_MIN: f64 = 60.0;

/// "read -> 4", "write 3", "cas [1,2]": an operation the witness does not
/// name, by its function and value (the value inside `[key, value]` for a
/// keyed model), or what a read returned.
fn unnamed_label(i: &Interval, keyed: bool) -> String {
    let inner = |v: &Value| -> Value {
        match v.as_array() {
            Some(pair) if keyed && pair.len() == 2 => pair[1].clone(),
            _ => v.clone(),
        }
    };
    let input = inner(&i.invoke.value);
    match i.complete {
        Some(c) if input.is_null() && c.kind == lightcone_history::OpType::Ok => {
            format!("{} -> {}", i.invoke.f, short(&inner(&c.value), 24))
        }
        _ if input.is_null() => i.invoke.f.to_string(),
        _ => format!("{} {}", i.invoke.f, short(&input, 24)),
    }
}

fn short(value: &Value, max: usize) -> String {
    let mut out = String::new();
    push_json_prefix(&mut out, value, max);
    out
}

/// The drawing of `section`'s witness, if it is a linearizability witness.
pub(crate) fn lin_drawing(section: &Value, history: &History) -> Option<LinDrawing> {
    let witness = &section["witness"];
    let stuck = named(&witness["op"])?;
    let tail: Vec<(Named, &Value, &Value)> = witness["prefix-tail"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| Some((named(&l["op"])?, &l["op"], &l["state"])))
        .collect();
    let concurrent: Vec<Named> = witness["concurrent"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(named)
        .collect();
    // The partition: the one whose witness is this one.
    let key = section["partitions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["witness"]["op"]["index"].as_u64() == Some(stuck.index))
        .map(|p| p["key"].clone())
        .or_else(|| section["invalid-partitions"].get(0).cloned())
        .unwrap_or(Value::Null);

    // The window: from the earliest named invocation to the stuck
    // operation's completion, padded.
    let all_named = tail
        .iter()
        .map(|t| &t.0)
        .chain(&concurrent)
        .chain(std::iter::once(&stuck));
    let from = all_named.clone().map(|n| n.invoke).min()?;
    let to = all_named
        .map(|n| n.complete.unwrap_or(n.invoke).max(n.invoke))
        .max()?
        .max(stuck.complete.unwrap_or(stuck.invoke));
    let pad = ((to - from) / 20).max(1);
    let (from, to) = (from.saturating_sub(pad), to + pad);
    let sx = |t: u64| (t.clamp(from, to) - from) as f64 / (to - from) as f64 * WIDTH;

    // The operations drawn: every named one, then others of the same key
    // that overlap the window, nearest the stuck operation first.
    let pairs = history.pairs();
    let intervals: BTreeMap<u64, Interval> = pairs
        .into_iter()
        .filter(|(i, _)| matches!(i.process, Process::Client(_)))
        .map(|(invoke, complete)| (invoke.index, Interval { invoke, complete }))
        .collect();
    let names: BTreeSet<u64> = tail
        .iter()
        .map(|t| t.0.index)
        .chain(concurrent.iter().map(|c| c.index))
        .chain([stuck.index])
        .collect();
    let same_key = |i: &Interval| {
        key.is_null() || i.invoke.value.as_array().and_then(|a| a.first()) == Some(&key)
    };
    let mut others: Vec<&Interval> = intervals
        .values()
        .filter(|i| !names.contains(&i.invoke.index))
        .filter(|i| i.invoke.time <= to && i.complete.is_none_or(|c| c.time >= from))
        .filter(|i| same_key(i))
        .collect();
    others.sort_by_key(|i| i.invoke.time.abs_diff(stuck.invoke));
    others.truncate(OTHERS_MAX);
    let drawn: Vec<&Interval> = names
        .iter()
        .filter_map(|n| intervals.get(n))
        .chain(others)
        .collect();

    let mut processes: Vec<u64> = drawn
        .iter()
        .filter_map(|i| match i.invoke.process {
            Process::Client(p) => Some(p),
            Process::Nemesis => None,
        })
        .collect();
    processes.sort_unstable();
    processes.dedup();
    let row_of: BTreeMap<u64, usize> = processes.iter().enumerate().map(|(r, &p)| (p, r)).collect();
    let y_of = |i: &Interval| match i.invoke.process {
        Process::Client(p) => row_of[&p] as f64 * ROW,
        Process::Nemesis => 0.0,
    };

    let position = |index: u64| tail.iter().position(|t| t.0.index == index);
    let concurrent_set: BTreeSet<u64> = concurrent.iter().map(|c| c.index).collect();
    let prefix_length = witness["prefix-length"].as_u64().unwrap_or(0);
    let first_number = prefix_length.saturating_sub(tail.len() as u64) + 1;
    let bars = drawn
        .iter()
        .map(|i| {
            let index = i.invoke.index;
            let (mark, label) = if index == stuck.index {
                (
                    "stuck",
                    format!("✗ {}", witness["op"]["text"].as_str().unwrap_or("")),
                )
            } else if let Some(k) = position(index) {
                (
                    "linearized",
                    tail[k].1["text"]
                        .as_str()
                        .unwrap_or(&i.invoke.f)
                        .to_string(),
                )
            } else if concurrent_set.contains(&index) {
                (
                    "concurrent",
                    witness["concurrent"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|c| c["index"].as_u64() == Some(index))
                        .and_then(|c| c["text"].as_str())
                        .unwrap_or(&i.invoke.f)
                        .to_string(),
                )
            } else {
                ("", unnamed_label(i, !key.is_null()))
            };
            let end = i.complete.map_or(to, |c| c.time);
            let p = match i.invoke.process {
                Process::Client(p) => p,
                Process::Nemesis => 0,
            };
            let w = (sx(end) - sx(i.invoke.time)).max(1.5);
            LinBar {
                x: sx(i.invoke.time),
                y: y_of(i),
                w,
                class: outcome_class(i.complete),
                mark,
                // Others are labelled where there is room for it.
                label: if mark.is_empty() && w < LABEL_ROOM_MIN {
                    String::new()
                } else {
                    label
                },
                title: bar_title(p, i),
            }
        })
        .collect();

    // Linearization points: each linearized operation at the latest of its
    // invocation and the previous point, which lies within its interval
    // (an operation linearized later cannot have completed before an
    // earlier one began).
    let mut at = 0u64;
    let points = tail
        .iter()
        .enumerate()
        .filter_map(|(k, (n, op, state))| {
            at = at.max(n.invoke);
            if let Some(c) = n.complete {
                at = at.min(c);
            }
            let i = intervals.get(&n.index)?;
            let number = first_number + k as u64;
            Some(LinPoint {
                x: sx(at),
                y: y_of(i),
                label: format!("{number}: {}", short(state, STATE_MAX)),
                title: format!(
                    "linearized {number} of {prefix_length}: {}, then the state is {}",
                    op["text"].as_str().unwrap_or(""),
                    short(state, 160)
                ),
            })
        })
        .collect();

    let ticks = (0..=5)
        .map(|k| {
            let t = from + (to - from) * k / 5;
            crate::Tick {
                x: sx(t),
                label: instant(t, to - from),
            }
        })
        .collect();
    Some(LinDrawing {
        key: if key.is_null() {
            "the history".to_string()
        } else {
            format!("key {}", short(&key, 40))
        },
        cause: witness["cause"].as_str().unwrap_or("").to_string(),
        op_text: witness["op"]["text"].as_str().unwrap_or("").to_string(),
        prefix_length,
        numbered: tail.len(),
        concurrent_count: witness["concurrent-count"]
            .as_u64()
            .unwrap_or(concurrent.len() as u64),
        states: witness["states"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| short(s, 160))
            .collect(),
        width: WIDTH,
        height: processes.len().max(1) as f64 * ROW,
        rows: processes
            .iter()
            .enumerate()
            .map(|(r, p)| RowLabel {
                y: r as f64 * ROW,
                label: format!("process {p}"),
            })
            .collect(),
        bars,
        points,
        ticks,
        from_s: instant(from, to - from),
        to_s: instant(to, to - from),
    })
}
