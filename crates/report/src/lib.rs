//! `report.html`: one self-contained page for a run or a checked history,
//! inline SVG and CSS with a few lines of inline script, no network and no
//! system dependency. The page is drawn from the history and what the
//! caller knows of the run (verdict, problems, figures, the replay command,
//! the workload checker's section of results.json).
//!
//! Sections: the summary; the operation timeline (a row per client
//! process, a bar from invocation to completion coloured by outcome, the
//! operation on hover, nemesis periods shaded); latency over time (a point
//! per operation by outcome, with per-interval quantile lines); throughput
//! over time by outcome; and, for a transactional verdict, each anomaly's
//! first cycle drawn as a small graph with its edges labelled (ww, wr, rw,
//! process, realtime).
//!
//! Bounded: at most [`OPS_DRAWN_MAX`] operations are drawn as bars and
//! points (evenly chosen when there are more, and the page says how many of
//! how many), at most [`ROWS_MAX`] timeline rows (processes beyond it share
//! rows), and [`BUCKETS`] intervals for the quantile and throughput lines,
//! so a page stays a few megabytes at most and opens at once whatever the
//! run's size.
//!
//! Deterministic: the page is a function of its input (no clock, no
//! randomness), so a simulated run's report is the same bytes for the same
//! seed.

use std::collections::BTreeMap;
use std::io::Write;

mod lin_witness;

use lightcone_history::message_log::{Fate, MessageLog};
use lightcone_history::{History, Op, OpType, Process};
use minijinja::{context, Environment};
use serde::Serialize;
use serde_json::Value;

/// Operations drawn as bars and points, at most.
pub const OPS_DRAWN_MAX: usize = 20_000;
/// Timeline rows, at most; more processes share rows.
pub const ROWS_MAX: usize = 200;
/// Intervals of the quantile and throughput lines.
pub const BUCKETS: usize = 60;
/// Characters of an operation's value shown on hover, at most.
const HOVER_CHARS_MAX: usize = 160;

/// Width of the plots' drawing area, in SVG units.
const WIDTH: f64 = 1000.0;
const ROW_HEIGHT: f64 = 10.0;
const PLOT_HEIGHT: f64 = 240.0;

/// What a report shows besides the history.
#[derive(Debug, Clone, Default)]
pub struct ReportInput<'a> {
    /// The page's title (workload, or the checked file).
    pub title: String,
    /// `valid`, `invalid` or `unknown`.
    pub verdict: String,
    pub command_line: String,
    /// The command that replays the run, if there is one.
    pub replay: Option<String>,
    pub problems: Vec<String>,
    /// Key figures, in order: (name, value).
    pub figures: Vec<(String, String)>,
    /// The workload checker's section (results.json `workload`), for
    /// drawing its witness.
    pub workload: Option<&'a Value>,
    /// The run's message log, for the space-time diagram.
    pub messages: Option<&'a MessageLog>,
    /// Each node's inbound queue depth over time (process mode).
    pub queues: Option<&'a QueueSeries>,
}

/// Each node's inbound queue depth, sampled over a run.
#[derive(Debug, Clone, Default)]
pub struct QueueSeries {
    pub nodes: Vec<String>,
    /// (time in ns since the test began, depth of each node's queue).
    pub samples: Vec<(u64, Vec<u64>)>,
}

#[derive(Serialize)]
struct Bar {
    x: f64,
    y: f64,
    w: f64,
    class: &'static str,
    /// `witness` (the operation a checker's witness names), `concurrent`
    /// (operations concurrent with it), or empty.
    mark: &'static str,
    title: String,
    /// The invocation's index in the history, the node the operation went
    /// to, and when it completed (µs; -1 for never), which the diagram's
    /// script uses to find the operation's reply.
    index: u64,
    node: String,
    done_us: i64,
}

/// What a checker's witness points at in the history: the operations it
/// names (by invocation index), the operations concurrent with them, and
/// sentences saying what is wrong.
#[derive(Default)]
struct WitnessMarks {
    ops: std::collections::BTreeSet<u64>,
    concurrent: std::collections::BTreeSet<u64>,
    notes: Vec<String>,
}

/// Reads the witness out of a workload checker's section: linearizability's
/// unlinearizable operation and its concurrent operations; set-full's lost
/// elements (marking the operations that added them); a counter's final
/// reads outside the acceptable ranges.
fn witness_marks(workload: &Value, history: &History) -> WitnessMarks {
    let mut marks = WitnessMarks::default();
    let witness = &workload["witness"];
    if let Some(index) = witness["op"]["index"].as_u64() {
        marks.ops.insert(index);
        for c in witness["concurrent"].as_array().into_iter().flatten() {
            if let Some(i) = c["index"].as_u64() {
                marks.concurrent.insert(i);
            }
        }
        marks.notes.push(format!(
            "Not linearizable: {} ({}). Outlined in black on the timeline, with the operations \
             concurrent with it dashed.",
            witness["op"]["text"].as_str().unwrap_or("an operation"),
            witness["cause"]
                .as_str()
                .unwrap_or("no linearization reaches it")
        ));
    }
    if let Some(lost) = workload["lost"].as_array().filter(|l| !l.is_empty()) {
        for op in history.iter().filter(|op| op.is_invoke()) {
            if lost.contains(&op.value) && op.f != "read" {
                marks.ops.insert(op.index);
            }
        }
        let count = workload["lost-count"].as_u64().unwrap_or(lost.len() as u64);
        marks.notes.push(format!(
            "Lost: {count} element(s) acknowledged and then missing from every read that should \
             hold them{}: {}. The operations that added {} are outlined on the timeline.",
            if count > lost.len() as u64 {
                format!(" (the checker lists {})", lost.len())
            } else {
                String::new()
            },
            short_json(&Value::Array(lost.clone())),
            if count > lost.len() as u64 {
                "those"
            } else {
                "them"
            },
        ));
    }
    if let (Some(reads), Some(ranges)) = (
        workload["final-reads"].as_array(),
        workload["acceptable"].as_array(),
    ) {
        let ok = |v: &Value| {
            ranges.iter().any(|r| {
                let (lo, hi) = (r[0].as_i64(), r[1].as_i64());
                matches!((v.as_i64(), lo, hi), (Some(v), Some(lo), Some(hi)) if lo <= v && v <= hi)
            })
        };
        let wrong: Vec<&Value> = reads.iter().filter(|v| !ok(v)).collect();
        if !wrong.is_empty() {
            marks.notes.push(format!(
                "Final reads outside the acceptable values: {} (acceptable: {}).",
                short_json(&Value::Array(wrong.into_iter().cloned().collect())),
                short_json(&Value::Array(ranges.clone()))
            ));
        }
    }
    marks
}

#[derive(Serialize)]
struct Point {
    x: f64,
    y: f64,
    class: &'static str,
}

#[derive(Serialize)]
struct Shade {
    x: f64,
    w: f64,
    title: String,
}

#[derive(Serialize)]
struct Line {
    class: &'static str,
    label: String,
    points: String,
}

#[derive(Serialize)]
struct Tick {
    x: f64,
    label: String,
}

#[derive(Serialize)]
struct CycleNode {
    x: f64,
    y: f64,
    label: String,
    title: String,
}

#[derive(Serialize)]
struct CycleEdge {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    lx: f64,
    ly: f64,
    label: String,
}

#[derive(Serialize)]
struct CycleDrawing {
    kind: String,
    nodes: Vec<CycleNode>,
    edges: Vec<CycleEdge>,
}

/// One client operation: invocation, completion (if any), row.
struct Interval<'h> {
    invoke: &'h Op,
    complete: Option<&'h Op>,
}

fn outcome_class(complete: Option<&Op>) -> &'static str {
    match complete.map(|c| c.kind) {
        Some(OpType::Ok) => "ok",
        Some(OpType::Fail) => "fail",
        _ => "info",
    }
}

/// A value's JSON, cut at [`HOVER_CHARS_MAX`] bytes without serializing
/// the rest (a broadcast read can hold thousands of elements).
fn short_json(value: &Value) -> String {
    lightcone_history::message_log::json_prefix(value, HOVER_CHARS_MAX).0
}

/// "p50 1.2 ms, p95 3.4 ms, p99 5.6 ms, max 7.8 ms (of 1234)": nearest-rank
/// quantiles of the ok operations' latencies.
fn latency_quantiles(intervals: &[Interval]) -> String {
    let mut ok: Vec<u64> = intervals
        .iter()
        .filter_map(|i| {
            let c = i.complete.filter(|c| c.kind == OpType::Ok)?;
            Some(c.time.saturating_sub(i.invoke.time))
        })
        .collect();
    if ok.is_empty() {
        return "none completed ok".to_string();
    }
    ok.sort_unstable();
    let at = |q: f64| ms(ok[((ok.len() as f64 * q).ceil() as usize).clamp(1, ok.len()) - 1]);
    format!(
        "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms (of {})",
        at(0.5),
        at(0.95),
        at(0.99),
        at(1.0),
        ok.len()
    )
}

/// A bar's hover text: the process, the operation and its value, the
/// outcome and its value, any error and the latency; each value cut at
/// [`TITLE_VALUE_MAX`] bytes (a broadcast read holds thousands of
/// elements), written directly (a run has thousands of bars).
fn bar_title(process: u64, i: &Interval) -> String {
    use std::fmt::Write as _;
    let mut t = String::with_capacity(2 * TITLE_VALUE_MAX + 64);
    let _ = write!(t, "process {process} {} ", i.invoke.f);
    push_json_prefix(&mut t, &i.invoke.value, TITLE_VALUE_MAX);
    match i.complete {
        None => t.push_str("\n-> (no completion) "),
        Some(c) => {
            let _ = write!(t, "\n-> {} ", c.kind.as_str());
            push_json_prefix(&mut t, &c.value, TITLE_VALUE_MAX);
            if let Some(e) = &c.error {
                t.push_str(" error ");
                push_json_prefix(&mut t, e, TITLE_VALUE_MAX);
            }
            let _ = write!(t, " ({:.1} ms)", ms(c.time - i.invoke.time));
        }
    }
    t
}

/// Bytes of each value a bar's hover text shows, at most.
const TITLE_VALUE_MAX: usize = 80;

/// Appends `value`'s JSON to `out`, cut (on a character boundary, ending in
/// `...`) once it has written `max` bytes, without writing the rest.
fn push_json_prefix(out: &mut String, value: &Value, max: usize) {
    let limit = out.len() + max;
    if !push_json_until(out, value, limit) {
        let mut cut = limit.min(out.len());
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
}

/// Writes `value`'s JSON to `out` until `out` reaches `limit` bytes;
/// false when it stopped there.
fn push_json_until(out: &mut String, value: &Value, limit: usize) -> bool {
    use std::fmt::Write as _;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(text) => {
            // Escaped as JSON; a long string is cut below.
            let end = text.len().min(limit.saturating_sub(out.len()) + 1);
            let mut end_char = end;
            while !text.is_char_boundary(end_char) {
                end_char += 1;
            }
            let _ = write!(out, "{}", Value::String(text[..end_char].to_string()));
            if end_char < text.len() {
                return false;
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                if out.len() >= limit || !push_json_until(out, item, limit) {
                    return false;
                }
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (k, (key, item)) in fields.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(key.clone()));
                if out.len() >= limit || !push_json_until(out, item, limit) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    out.len() <= limit
}

fn shorten(text: String) -> String {
    if text.chars().count() <= HOVER_CHARS_MAX {
        return text;
    }
    let cut: String = text.chars().take(HOVER_CHARS_MAX).collect();
    format!("{cut}...")
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Renders the page.
pub fn render(input: &ReportInput, history: &History) -> String {
    let mut page = Vec::new();
    render_to(input, history, &mut page).expect("writing to memory cannot fail");
    String::from_utf8(page).expect("the page is UTF-8")
}

/// Where the page's three large parts go in the rendered template: the
/// timeline's bars, the latency points and the diagram's data are streamed
/// to the writer there rather than built as strings (a long run's are
/// megabytes). A comment cannot come out of escaped text, so the markers
/// are found only where the template put them.
const BARS_MARK: &str = "<!--lightcone:bars-->";
const POINTS_MARK: &str = "<!--lightcone:points-->";
const DIAGRAM_MARK: &str = "<!--lightcone:diagram-->";

/// Writes the page to `out` as [`render`] returns it, streaming its large
/// parts (give it a buffered writer).
pub fn render_to(
    input: &ReportInput,
    history: &History,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let intervals: Vec<Interval> = history
        .pairs()
        .into_iter()
        .filter(|(invoke, _)| matches!(invoke.process, Process::Client(_)))
        .map(|(invoke, complete)| Interval { invoke, complete })
        .collect();
    let end_ns = history.iter().map(|op| op.time).max().unwrap_or(0).max(1);
    let sx = |t: u64| t as f64 / end_ns as f64 * WIDTH;

    // Which operations are drawn: all, or an even choice of OPS_DRAWN_MAX.
    let stride = intervals.len().div_ceil(OPS_DRAWN_MAX).max(1);
    let drawn: Vec<&Interval> = intervals.iter().step_by(stride).collect();

    // Timeline rows: processes in order, folded beyond ROWS_MAX.
    let mut rows: BTreeMap<u64, usize> = BTreeMap::new();
    for i in &intervals {
        if let Process::Client(p) = i.invoke.process {
            let next = rows.len();
            rows.entry(p).or_insert(next);
        }
    }
    let row_count = rows.len().clamp(1, ROWS_MAX);
    let marks = input
        .workload
        .map(|w| witness_marks(w, history))
        .unwrap_or_default();
    // A bar is made as it is written (titles of thousands of operations
    // would be megabytes held at once).
    let bar = |i: &Interval| {
        let p = match i.invoke.process {
            Process::Client(p) => p,
            Process::Nemesis => 0,
        };
        let row = rows[&p] % ROWS_MAX;
        let end = i.complete.map_or(end_ns, |c| c.time);
        let title = bar_title(p, i);
        let mark = if marks.ops.contains(&i.invoke.index) {
            "witness"
        } else if marks.concurrent.contains(&i.invoke.index) {
            "concurrent"
        } else {
            ""
        };
        Bar {
            x: sx(i.invoke.time),
            y: row as f64 * ROW_HEIGHT,
            w: (sx(end) - sx(i.invoke.time)).max(0.8),
            class: outcome_class(i.complete),
            mark,
            title,
            index: i.invoke.index,
            node: i.invoke.node.as_deref().unwrap_or_default().to_string(),
            done_us: i.complete.map_or(-1, |c| (c.time / 1000) as i64),
        }
    };

    let shades = nemesis_periods(history, end_ns)
        .into_iter()
        .map(|(start, stop, what)| Shade {
            x: sx(start),
            w: (sx(stop) - sx(start)).max(1.0),
            title: what,
        })
        .collect::<Vec<_>>();

    // Latency: log scale between the least and the greatest.
    let latencies: Vec<(u64, f64, &'static str)> = intervals
        .iter()
        .filter_map(|i| {
            let c = i.complete?;
            Some((
                i.invoke.time,
                ms(c.time - i.invoke.time).max(0.001),
                outcome_class(Some(c)),
            ))
        })
        .collect();
    let (lo, hi) = latencies
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), l| (lo.min(l.1), hi.max(l.1)));
    let (lo, hi) = if latencies.is_empty() {
        (1.0, 10.0)
    } else {
        (lo, hi.max(lo * 10.0))
    };
    let sy = |v: f64| PLOT_HEIGHT - (v.ln() - lo.ln()) / (hi.ln() - lo.ln()) * PLOT_HEIGHT;
    let points: Vec<Point> = latencies
        .iter()
        .step_by(stride)
        .map(|&(t, l, class)| Point {
            x: sx(t),
            y: sy(l),
            class,
        })
        .collect();
    let bucket_of = |t: u64| ((t as f64 / end_ns as f64) * BUCKETS as f64) as usize;
    let mut per_bucket: Vec<Vec<f64>> = vec![Vec::new(); BUCKETS + 1];
    for &(t, l, _) in &latencies {
        per_bucket[bucket_of(t).min(BUCKETS)].push(l);
    }
    let bucket_x = |b: usize| (b as f64 + 0.5) / BUCKETS as f64 * WIDTH;
    let quantile_lines: Vec<Line> = [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")]
        .into_iter()
        .map(|(q, label)| {
            let points = per_bucket
                .iter_mut()
                .enumerate()
                .filter(|(_, v)| !v.is_empty())
                .map(|(b, v)| {
                    v.sort_by(f64::total_cmp);
                    let at = ((v.len() - 1) as f64 * q).round() as usize;
                    format!("{:.1},{:.1}", bucket_x(b), sy(v[at]))
                })
                .collect::<Vec<_>>()
                .join(" ");
            Line {
                class: "q",
                label: label.to_string(),
                points,
            }
        })
        .collect();
    let latency_ticks: Vec<Tick> = {
        let mut ticks = Vec::new();
        let mut v = 10f64.powf(lo.log10().floor());
        while v <= hi * 1.0001 {
            if v >= lo * 0.999 {
                ticks.push(Tick {
                    x: sy(v),
                    label: format!("{v} ms"),
                });
            }
            v *= 10.0;
        }
        ticks
    };

    // Throughput: completions per second by outcome, per interval.
    let bucket_s = end_ns as f64 / BUCKETS as f64 / 1e9;
    let mut counts: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    for i in &intervals {
        if let Some(c) = i.complete {
            counts
                .entry(outcome_class(Some(c)))
                .or_insert_with(|| vec![0; BUCKETS + 1])[bucket_of(c.time).min(BUCKETS)] += 1;
        }
    }
    let rate_max = counts
        .values()
        .flat_map(|v| v.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64
        / bucket_s;
    let throughput: Vec<Line> = counts
        .iter()
        .map(|(class, v)| Line {
            class,
            label: (*class).to_string(),
            points: v
                .iter()
                .take(BUCKETS)
                .enumerate()
                .map(|(b, n)| {
                    let rate = *n as f64 / bucket_s;
                    format!(
                        "{:.1},{:.1}",
                        bucket_x(b),
                        PLOT_HEIGHT - rate / rate_max * PLOT_HEIGHT
                    )
                })
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();

    let time_ticks: Vec<Tick> = (0..=10)
        .map(|k| Tick {
            x: k as f64 / 10.0 * WIDTH,
            label: format!("{:.1} s", end_ns as f64 * k as f64 / 10.0 / 1e9),
        })
        .collect();

    let cycles = input.workload.map(cycle_drawings).unwrap_or_default();
    let (queue_lines, queue_max) = input
        .queues
        .filter(|q| !q.samples.is_empty())
        .map(|q| queue_lines(q, end_ns))
        .unwrap_or_default();
    let (message_count, truncated_count) = input
        .messages
        .map(|m| (m.messages.len(), m.truncated_count))
        .unwrap_or((0, 0));

    let mut figures = input.figures.clone();
    figures.push((
        "latency of ok operations".to_string(),
        latency_quantiles(&intervals),
    ));

    let mut env = Environment::new();
    env.add_template("report.html", include_str!("../templates/report.html"))
        .expect("the report template parses");
    let template = env.get_template("report.html").expect("just added");
    let page = template
        .render(context! {
            title => input.title,
            verdict => input.verdict,
            command_line => input.command_line,
            replay => input.replay,
            problems => input.problems,
            figures => figures,
            op_count => intervals.len(),
            drawn_count => drawn.len(),
            width => WIDTH,
            timeline_height => row_count as f64 * ROW_HEIGHT,
            folded => rows.len() > ROWS_MAX,
            process_count => rows.len(),
            rows_max => ROWS_MAX,
            plot_height => PLOT_HEIGHT,
            bars_svg => minijinja::Value::from_safe_string(BARS_MARK.into()),
            shades => shades,
            points_svg => minijinja::Value::from_safe_string(POINTS_MARK.into()),
            quantile_lines => quantile_lines,
            latency_ticks => latency_ticks,
            throughput => throughput,
            rate_max => format!("{rate_max:.0}"),
            time_ticks => time_ticks,
            cycles => cycles,
            witness_notes => marks.notes,
            lin => input.workload.and_then(|w| lin_witness::lin_drawing(w, history)),
            queue_lines => queue_lines,
            queue_max => queue_max,
            diagram => input.messages.map(|_| minijinja::Value::from_safe_string(DIAGRAM_MARK.into())),
            message_count => message_count,
            truncated_count => truncated_count,
        })
        .expect("the report renders");
    // The template's text around the three parts, in the page's order.
    let mut rest = page.as_str();
    let mut parts: Vec<&str> = vec![BARS_MARK, POINTS_MARK];
    if input.messages.is_some() {
        parts.insert(0, DIAGRAM_MARK);
    }
    for mark in parts {
        let (before, after) = rest
            .split_once(mark)
            .expect("the template holds each mark once, in this order");
        out.write_all(before.as_bytes())?;
        match mark {
            BARS_MARK => write_bars(out, drawn.iter().map(|i| bar(i)))?,
            POINTS_MARK => write_points(out, &points)?,
            _ => write_diagram(
                out,
                input.messages.expect("a diagram mark only with messages"),
                history,
            )?,
        }
        rest = after;
    }
    out.write_all(rest.as_bytes())
}

/// The space-time diagram's data, as compact JSON for the page's script:
/// `parties` (nodes first, then services, then clients), `kinds` (message
/// types), `m` (per message `[src, dest, sent µs, arrived µs or -1, fate
/// (0 delivered, 1 dropped by a partition, 2 lost), kind, body]`, a
/// duplicated message once per copy), `faults` (`[start µs, stop µs,
/// what]`) and `end` (µs). Safe inside a `<script>` element: `<` is
/// written as `\u003c`.
fn write_diagram(out: &mut dyn Write, log: &MessageLog, history: &History) -> std::io::Result<()> {
    let parties = &log.parties;
    let rank = |id: &str| match id.chars().next() {
        Some('n') => 0,
        Some('c') => 2,
        _ => 1,
    };
    let mut order: Vec<usize> = (0..parties.len()).collect();
    order.sort_by_key(|&i| (rank(&parties[i]), parties[i].len(), &parties[i]));
    let mut column = vec![0usize; parties.len()];
    for (c, &i) in order.iter().enumerate() {
        column[i] = c;
    }
    let end_ns = history.iter().map(|op| op.time).max().unwrap_or(0);
    let faults: Vec<Value> = nemesis_periods(history, end_ns)
        .into_iter()
        .map(|(a, b, what)| serde_json::json!([a / 1000, b / 1000, what]))
        .collect();
    // Faults that name nodes (kill, start, pause, resume, clock changes),
    // marked on those nodes' lines.
    let column_of: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(c, &i)| (parties[i].as_str(), c))
        .collect();
    let events: Vec<Value> = history
        .iter()
        .filter(|op| op.process == Process::Nemesis)
        .filter_map(|op| Some((op, op.value.as_array()?)))
        .flat_map(|(op, nodes)| {
            let column_of = &column_of;
            nodes.iter().filter_map(move |n| {
                let c = column_of.get(n.as_str()?)?;
                Some(serde_json::json!([op.time / 1000, c, op.f]))
            })
        })
        .collect();
    let sides: Vec<Value> = partition_sides(history, end_ns)
        .into_iter()
        .filter_map(|(a, b, node, side)| {
            let c = column_of.get(node.as_str())?;
            Some(serde_json::json!([a / 1000, b / 1000, c, side]))
        })
        .collect();
    let head = serde_json::json!({
        "parties": order.iter().map(|&i| &parties[i]).collect::<Vec<_>>(),
        "kinds": log.kinds,
        "faults": faults,
        "events": events,
        "sides": sides,
        "end": end_ns / 1000,
    })
    .to_string();
    let head = head.replace('<', "\\u003c");
    // Written directly into a reused buffer, flushed as it fills: a run can
    // hold a hundred thousand messages, and formatting through layers of
    // writers took most of the page's time.
    let mut buf: Vec<u8> = Vec::with_capacity(DIAGRAM_CHUNK + 1024);
    buf.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    buf.extend_from_slice(b",\"m\":[");
    let mut numbers = itoa::Buffer::new();
    let mut first = true;
    for msg in &log.messages {
        let (src, dest) = (column[msg.src as usize], column[msg.dest as usize]);
        let sent = msg.sent_ns / 1000;
        let mut one = |buf: &mut Vec<u8>, at: Option<u64>, fate: u8| {
            if !std::mem::take(&mut first) {
                buf.push(b',');
            }
            buf.push(b'[');
            for n in [src as u64, dest as u64, sent] {
                buf.extend_from_slice(numbers.format(n).as_bytes());
                buf.push(b',');
            }
            match at {
                Some(at) => buf.extend_from_slice(numbers.format(at).as_bytes()),
                None => buf.extend_from_slice(b"-1"),
            }
            buf.extend_from_slice(&[b',', b'0' + fate, b',']);
            buf.extend_from_slice(numbers.format(msg.kind).as_bytes());
            buf.push(b',');
            json_string_in_script(buf, &msg.body);
            buf.push(b']');
        };
        let mut copies = msg.arrivals.iter().flatten().peekable();
        if copies.peek().is_none() {
            one(&mut buf, None, if msg.lost { 2 } else { 0 });
        }
        for (at, fate) in copies {
            one(&mut buf, Some(at / 1000), u8::from(*fate == Fate::Dropped));
        }
        if buf.len() >= DIAGRAM_CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    buf.extend_from_slice(b"]}");
    out.write_all(&buf)
}

/// Bytes of the diagram's data gathered before they are written out.
const DIAGRAM_CHUNK: usize = 1 << 16;

/// Appends `text` as a JSON string that is safe inside a `<script>`
/// element: escaped as serde_json escapes strings, and `<` written as
/// `\u003c` so no `</script>` can close the element.
fn json_string_in_script(buf: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.push(b'"');
    let bytes = text.as_bytes();
    let mut plain = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !NEEDS_ESCAPE[b as usize] {
            i += 1;
            continue;
        }
        buf.extend_from_slice(&bytes[plain..i]);
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0x08 => buf.extend_from_slice(b"\\b"),
            0x0c => buf.extend_from_slice(b"\\f"),
            _ => buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
        i += 1;
        plain = i;
    }
    buf.extend_from_slice(&bytes[plain..]);
    buf.push(b'"');
}

/// The bytes [`json_string_in_script`] escapes: `"`, `\\`, controls and `<`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'<' as usize] = true;
    table
};

/// The timeline's bars as SVG, written directly (a run has thousands; the
/// template engine would take most of the page's time), text escaped.
fn write_bars(out: &mut dyn Write, bars: impl Iterator<Item = Bar>) -> std::io::Result<()> {
    for b in bars {
        let mark = if b.mark.is_empty() {
            String::new()
        } else {
            format!(" {}", b.mark)
        };
        writeln!(
            out,
            "<rect class=\"bar {}{mark}\" data-op=\"{}\" data-node=\"{}\" data-done=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"8\"><title>{}</title></rect>",
            b.class,
            b.index,
            minijinja::HtmlEscape(&b.node),
            b.done_us,
            Fixed2(b.x),
            b.y,
            Fixed2(b.w),
            minijinja::HtmlEscape(&b.title)
        )?;
    }
    Ok(())
}

/// The latency plot's points as SVG, written directly.
fn write_points(out: &mut dyn Write, points: &[Point]) -> std::io::Result<()> {
    for p in points {
        writeln!(
            out,
            "<circle class=\"pt {}\" cx=\"{}\" cy=\"{}\" r=\"1.6\"/>",
            p.class,
            Fixed2(p.x),
            Fixed2(p.y)
        )?;
    }
    Ok(())
}

/// A coordinate with two decimals, as `{:.2}` writes it but by integer
/// arithmetic: the float formatter's exact mode took a quarter of a long
/// run's page.
struct Fixed2(f64);

impl std::fmt::Display for Fixed2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hundredths = (self.0 * 100.0).round();
        if !hundredths.is_finite() || hundredths.abs() >= 1e15 {
            return write!(f, "{:.2}", self.0);
        }
        let h = hundredths as i64;
        let sign = if h < 0 { "-" } else { "" };
        let h = h.unsigned_abs();
        write!(f, "{sign}{}.{:02}", h / 100, h % 100)
    }
}

/// A polyline per node of its queue depth over time, on a shared scale,
/// and that scale's top.
fn queue_lines(q: &QueueSeries, end_ns: u64) -> (Vec<Line>, u64) {
    let top = q
        .samples
        .iter()
        .flat_map(|(_, d)| d.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let end = q
        .samples
        .iter()
        .map(|s| s.0)
        .max()
        .unwrap_or(0)
        .max(end_ns)
        .max(1);
    let lines = q
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| Line {
            class: "queue",
            label: node.clone(),
            points: q
                .samples
                .iter()
                .map(|(t, d)| {
                    let depth = d.get(i).copied().unwrap_or(0);
                    format!(
                        "{:.1},{:.1}",
                        *t as f64 / end as f64 * WIDTH,
                        PLOT_HEIGHT - depth as f64 / top as f64 * PLOT_HEIGHT
                    )
                })
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    (lines, top)
}

/// Nemesis periods as (start, stop, what): a fault from its start op
/// (`start-partition`, `kill`, `pause`) to its stop op (`stop-partition`,
/// `start`, `resume`), or to the end of the history; a runtime flag
/// (`flag` `[name, true]`) from its flip on to its flip off.
fn nemesis_periods(history: &History, end_ns: u64) -> Vec<(u64, u64, String)> {
    let mut open: BTreeMap<&str, (u64, String)> = BTreeMap::new();
    let mut periods = Vec::new();
    for op in history
        .iter()
        .filter(|op| op.process == Process::Nemesis && !op.value.is_null())
    {
        if op.f == "flag" {
            let (Some(name), Some(on)) = (
                op.value.get(0).and_then(Value::as_str),
                op.value.get(1).and_then(Value::as_bool),
            ) else {
                continue;
            };
            if on {
                open.entry(name)
                    .or_insert((op.time, format!("flag {name} on")));
            } else if let Some((start, what)) = open.remove(name) {
                periods.push((start, op.time, what));
            }
            continue;
        }
        let (fault, starts) = match op.f.as_str() {
            "start-partition" => ("partition", true),
            "stop-partition" => ("partition", false),
            "kill" => ("kill", true),
            "start" => ("kill", false),
            "pause" => ("pause", true),
            "resume" => ("pause", false),
            _ => continue,
        };
        if starts {
            open.entry(fault)
                .or_insert((op.time, format!("{} {}", op.f, op.value)));
        } else if let Some((start, what)) = open.remove(fault) {
            periods.push((start, op.time, what));
        }
    }
    for (_, (start, what)) in open {
        periods.push((start, end_ns, what));
    }
    periods.sort_by_key(|p| p.0);
    periods
}

/// Which side of each partition every node was on: (start, stop, node,
/// side), sides numbered from 0 in the order of their first node. Nodes are
/// on one side when they drop messages from the same nodes (the grudge
/// maps a node to those it drops): for a split into two halves, the
/// halves; for overlapping partitions (a ring of majorities), a side per
/// distinct view.
fn partition_sides(history: &History, end_ns: u64) -> Vec<(u64, u64, String, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(u64, BTreeMap<String, usize>)> = None;
    for op in history
        .iter()
        .filter(|op| op.process == Process::Nemesis && !op.value.is_null())
    {
        match op.f.as_str() {
            "start-partition" => {
                let Some(grudge) = op.value["grudge"].as_object() else {
                    continue;
                };
                let mut nodes: Vec<&str> = grudge.keys().map(String::as_str).collect();
                for h in grudge.values().filter_map(Value::as_array) {
                    nodes.extend(h.iter().filter_map(Value::as_str));
                }
                nodes.sort_unstable();
                nodes.dedup();
                let dropped = |n: &str| -> Vec<&str> {
                    let mut d: Vec<&str> = grudge
                        .get(n)
                        .and_then(Value::as_array)
                        .map(|h| h.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    d.sort_unstable();
                    d
                };
                let mut views: Vec<Vec<&str>> = Vec::new();
                let mut side: BTreeMap<String, usize> = BTreeMap::new();
                for &n in &nodes {
                    let view = dropped(n);
                    let s = views.iter().position(|v| *v == view).unwrap_or_else(|| {
                        views.push(view);
                        views.len() - 1
                    });
                    side.insert(n.to_string(), s);
                }
                open = Some((op.time, side));
            }
            "stop-partition" => {
                if let Some((start, side)) = open.take() {
                    out.extend(side.into_iter().map(|(n, s)| (start, op.time, n, s)));
                }
            }
            _ => {}
        }
    }
    if let Some((start, side)) = open {
        out.extend(side.into_iter().map(|(n, s)| (start, end_ns, n, s)));
    }
    out
}

/// The first cycle of each transactional anomaly type, laid out on a
/// circle.
fn cycle_drawings(workload: &Value) -> Vec<CycleDrawing> {
    let Some(anomalies) = workload.get("anomalies").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (kind, cases) in anomalies {
        let Some(case) = cases.as_array().and_then(|c| c.first()) else {
            continue;
        };
        let (Some(cycle), Some(steps)) = (
            case.get("cycle").and_then(Value::as_array),
            case.get("steps").and_then(Value::as_array),
        ) else {
            continue;
        };
        let n = steps.len().max(1);
        let (cx, cy, r) = (160.0, 130.0, 95.0);
        let at = |i: usize| {
            let a = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
            (cx + r * a.cos(), cy + r * a.sin())
        };
        let nodes = (0..n)
            .map(|i| {
                let (x, y) = at(i);
                CycleNode {
                    x,
                    y,
                    label: format!("T{}", i + 1),
                    title: shorten(cycle.get(i).map(Value::to_string).unwrap_or_default()),
                }
            })
            .collect();
        let edges = steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let ((x1, y1), (x2, y2)) = (at(i), at((i + 1) % n));
                // Stop short of the target's circle.
                let (dx, dy) = (x2 - x1, y2 - y1);
                let len = (dx * dx + dy * dy).sqrt().max(1.0);
                let shrink = 16.0 / len;
                CycleEdge {
                    x1: x1 + dx * shrink,
                    y1: y1 + dy * shrink,
                    x2: x2 - dx * shrink,
                    y2: y2 - dy * shrink,
                    lx: (x1 + x2) / 2.0 + (cy - (y1 + y2) / 2.0) * 0.12,
                    ly: (y1 + y2) / 2.0 - (cx - (x1 + x2) / 2.0) * 0.12,
                    label: step
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string(),
                }
            })
            .collect();
        out.push(CycleDrawing {
            kind: kind.clone(),
            nodes,
            edges,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(process: Process, kind: OpType, f: &str, value: Value, time: u64) -> Op {
        Op {
            time,
            ..Op::new(process, kind, f, value)
        }
    }

    fn history() -> History {
        let mut h = History::default();
        let c = Process::Client;
        h.push(op(c(0), OpType::Invoke, "read", Value::Null, 0));
        h.push(op(c(1), OpType::Invoke, "add", json!(3), 1_000_000));
        h.push(op(
            Process::Nemesis,
            OpType::Info,
            "start-partition",
            Value::Null,
            2_000_000,
        ));
        h.push(op(
            Process::Nemesis,
            OpType::Info,
            "start-partition",
            json!("<script>"),
            2_000_000,
        ));
        h.push(op(c(0), OpType::Ok, "read", json!([3]), 5_000_000));
        h.push(op(c(1), OpType::Fail, "add", json!(3), 6_000_000));
        h.push(op(c(0), OpType::Invoke, "read", Value::Null, 7_000_000));
        h.push(op(
            Process::Nemesis,
            OpType::Info,
            "stop-partition",
            json!("healed"),
            8_000_000,
        ));
        h.push(op(c(0), OpType::Info, "read", Value::Null, 9_000_000));
        h
    }

    fn input() -> ReportInput<'static> {
        ReportInput {
            title: "g-set".into(),
            verdict: "invalid".into(),
            command_line: "lightcone test -w g-set".into(),
            replay: Some("lightcone test --sim -w g-set --seed 7".into()),
            problems: vec!["lost <3> & more".into()],
            figures: vec![("ops".into(), "3".into())],
            workload: None,
            messages: None,
            queues: None,
        }
    }

    #[test]
    fn a_bar_per_operation_coloured_by_outcome_and_text_escaped() {
        let page = render(&input(), &history());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert_eq!(page.matches("class=\"bar ok\"").count(), 1, "{page}");
        assert_eq!(page.matches("class=\"bar fail\"").count(), 1);
        assert_eq!(page.matches("class=\"bar info\"").count(), 1);
        // One partition, shaded on each of the three plots.
        assert_eq!(page.matches("class=\"shade\"").count(), 3);
        assert!(page.contains("INVALID"));
        assert!(page.contains("lost &lt;3&gt; &amp; more"), "{page}");
        // The latency quantiles of the one ok operation, among the figures.
        assert!(page.contains("<td>latency of ok operations</td><td>p50 "));
        assert!(page.contains(" ms (of 1)</td>"), "{page}");
        assert!(!page.contains("<script>\""), "values are escaped");
        assert!(page.contains("lightcone test --sim -w g-set --seed 7"));
        // Self-contained: nothing fetched.
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(!page.contains(" src="));
    }

    #[test]
    fn a_partitions_sides_are_the_nodes_that_hear_each_other() {
        let mut h = History::default();
        let grudge = json!({"grudge": {"n0": ["n1", "n2"], "n1": ["n0"], "n2": ["n0"], "n3": []}});
        h.push(op(
            Process::Nemesis,
            OpType::Info,
            "start-partition",
            grudge,
            10,
        ));
        h.push(op(
            Process::Nemesis,
            OpType::Info,
            "stop-partition",
            json!("healed"),
            20,
        ));
        h.push(op(
            Process::Nemesis,
            OpType::Info,
            "start-partition",
            json!({"grudge": {"n0": ["n1"]}}),
            30,
        ));
        let sides = partition_sides(&h, 40);
        let got: Vec<(u64, u64, &str, usize)> = sides
            .iter()
            .map(|(a, b, n, s)| (*a, *b, n.as_str(), *s))
            .collect();
        assert_eq!(
            got,
            [
                (10, 20, "n0", 0),
                (10, 20, "n1", 1),
                (10, 20, "n2", 1),
                (10, 20, "n3", 2),
                // A one-way grudge: two views; still open at the end.
                (30, 40, "n0", 0),
                (30, 40, "n1", 1),
            ]
        );
    }

    #[test]
    fn a_values_prefix_is_its_json_or_a_cut_of_it() {
        let values = [
            json!(null),
            json!([1, -2.5, true, "x<\"y\"", {"k": [null, {}], "é": "ü"}]),
            json!((0..1000).collect::<Vec<_>>()),
            json!({"text": "é".repeat(100)}),
            json!("ab\ncd".repeat(50)),
        ];
        for value in &values {
            let whole = value.to_string();
            for max in [0, 1, 5, 17, 80, 10_000] {
                let mut out = String::from("> ");
                push_json_prefix(&mut out, value, max);
                let shown = &out[2..];
                if whole.len() <= max {
                    assert_eq!(shown, whole);
                } else {
                    let cut = shown.strip_suffix("...").expect("a cut value ends in ...");
                    assert!(cut.len() <= max, "{max}: {shown}");
                    // What is shown is the JSON's start (a string may be
                    // cut inside an escape-free run of characters).
                    let stem = cut.trim_end_matches('"');
                    assert!(whole.starts_with(stem), "{max}: {shown} of {whole}");
                }
            }
        }
    }

    #[test]
    fn the_same_input_gives_the_same_page() {
        assert_eq!(render(&input(), &history()), render(&input(), &history()));
    }

    #[test]
    fn a_large_history_is_drawn_in_part_and_says_so() {
        let mut h = History::default();
        for i in 0..(3 * OPS_DRAWN_MAX as u64) {
            h.push(op(
                Process::Client(i % 7),
                OpType::Invoke,
                "r",
                Value::Null,
                10 * i,
            ));
            h.push(op(
                Process::Client(i % 7),
                OpType::Ok,
                "r",
                json!(1),
                10 * i + 5,
            ));
        }
        let page = render(&input(), &h);
        assert_eq!(page.matches("class=\"bar ok\"").count(), OPS_DRAWN_MAX);
        assert!(page.contains(&format!(
            "{OPS_DRAWN_MAX} of {} operations drawn",
            3 * OPS_DRAWN_MAX
        )));
    }

    #[test]
    fn a_transactional_cycle_is_drawn_with_its_edges_labelled() {
        let workload = json!({"anomalies": {"G1c": [{
            "cycle": [{"index": 2}, {"index": 3}, {"index": 2}],
            "steps": [{"type": "wr"}, {"type": "ww"}],
            "type": "G1c"
        }]}});
        let input = ReportInput {
            workload: Some(&workload),
            ..input()
        };
        let page = render(&input, &history());
        assert!(page.contains("G1c"));
        assert_eq!(page.matches("class=\"edge ").count(), 2, "{page}");
        assert!(page.contains(">wr</text>") && page.contains(">ww</text>"));
    }
}

/// One run in a results store, as `lightcone serve`'s index lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    /// `<workload>/<folder>`, relative to the store.
    pub path: String,
    pub started: String,
    pub workload: String,
    /// `valid`, `invalid`, `unknown`, or `?` when results.json is absent.
    pub verdict: String,
    pub ops: String,
    pub duration: String,
    pub command: String,
    /// The run's files that exist, by name (`report.html`, ...).
    pub files: Vec<String>,
}

/// The index page of a results store: a table of runs (newest first),
/// each linking to its files under `/runs/<path>/`. `total` counts every
/// run, of which `runs` are shown.
pub fn store_index(store: &str, runs: &[RunRow], total: usize) -> String {
    let mut env = Environment::new();
    env.add_template("index.html", include_str!("../templates/index.html"))
        .expect("the index template parses");
    env.get_template("index.html")
        .expect("just added")
        .render(context! {
            store => store,
            runs => runs,
            total => total,
            more => total > runs.len(),
        })
        .expect("the index renders")
}

#[cfg(test)]
mod flag_tests {
    use super::*;
    use serde_json::json;

    fn op(kind: OpType, value: Value, time: u64) -> Op {
        Op {
            time,
            ..Op::new(Process::Nemesis, kind, "flag", value)
        }
    }

    #[test]
    fn a_flag_is_shaded_from_its_flip_on_to_its_flip_off_or_the_end() {
        let mut h = History::default();
        let flip = |name: &str, on: bool, t: u64| op(OpType::Info, json!([name, on]), t);
        h.push(flip("degraded-reads", true, 1_000));
        h.push(flip("other", true, 1_500));
        h.push(flip("degraded-reads", false, 3_000));
        h.push(op(OpType::Info, Value::Null, 4_000));
        h.push(op(OpType::Info, json!("not a flip"), 4_000));
        let periods = nemesis_periods(&h, 9_000);
        assert_eq!(
            periods,
            vec![
                (1_000, 3_000, "flag degraded-reads on".to_string()),
                (1_500, 9_000, "flag other on".to_string()),
            ]
        );
    }
}
