use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::Value;

use crate::{History, Op, OpType, Process};

/// A line of a JSONL history that is not an op.
#[derive(Debug, thiserror::Error)]
#[error("line {line}, column {column}: {message}; each line of a JSONL history is one op like {{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}}")]
pub struct ReadError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl History {
    /// Parses a JSONL history; blank lines are skipped. Indices are
    /// renumbered in file order. A large input is read in pieces on a few
    /// threads; the result, and the error for a bad input (the first bad
    /// line), are the same as reading it line by line.
    pub fn from_jsonl(text: &str) -> Result<History, ReadError> {
        let threads = if text.len() < PARALLEL_MIN_BYTES {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(THREADS_MAX)
                .min(text.len() / PARALLEL_MIN_BYTES)
        };
        read_pieces(text, threads.max(1))
    }

    /// [`History::from_jsonl`] for a file that a run may have stopped
    /// writing in the middle of a line (a full disk, a crash): a last line
    /// with no newline after it that is not an op is left out, and comes
    /// back as the error it would have been, for the caller to warn of. A
    /// bad line anywhere else is still the error.
    pub fn from_jsonl_torn(text: &str) -> Result<(History, Option<ReadError>), ReadError> {
        if text.ends_with('\n') {
            return History::from_jsonl(text).map(|h| (h, None));
        }
        let cut = text.rfind('\n').map_or(0, |nl| nl + 1);
        let (body, tail) = text.split_at(cut);
        let mut history = History::from_jsonl(body)?;
        if tail.trim().is_empty() {
            return Ok((history, None));
        }
        match read_op(tail) {
            Ok(mut op) => {
                op.index = history.ops.len() as u64;
                history.ops.push(op);
                Ok((history, None))
            }
            Err(e) => {
                let torn = ReadError {
                    line: count_lines(body) + 1,
                    column: e.column(),
                    message: e.to_string(),
                };
                Ok((history, Some(torn)))
            }
        }
    }

    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for op in &self.ops {
            out.push_str(&serde_json::to_string(op).expect("an op always serializes"));
            out.push('\n');
        }
        out
    }
}

/// The shortest line that is an op: `{"f":"","type":"ok","process":0}`
/// (every other field has a default, and JSON needs no spaces).
const OP_BYTES_MIN: usize = 32;

/// Inputs smaller than this are read on one thread, and each thread reads
/// at least this much.
const PARALLEL_MIN_BYTES: usize = 8 << 20;

/// The most threads a history is read on.
const THREADS_MAX: usize = 8;

/// Reads `text` split into `pieces` pieces of whole lines, all but the
/// first on threads of their own. Each piece writes its ops straight into
/// the history's vector, over the placeholders in the slots of its lines
/// (the vector is not copied; BENCHMARKS.md has the figures).
fn read_pieces(text: &str, pieces: usize) -> Result<History, ReadError> {
    let pieces = split_lines(text, pieces);
    // A slot for an op on each line, but no more than the piece has room
    // for: a text of blank lines (or short bad ones) gets no slots it
    // cannot fill.
    let lines: Vec<usize> = pieces
        .iter()
        .map(|p| count_lines(p).min(p.len() / OP_BYTES_MIN))
        .collect();
    let starts: Vec<usize> = lines
        .iter()
        .scan(0, |at, &n| Some(std::mem::replace(at, *at + n)))
        .collect();
    let total = lines.iter().sum();
    let placeholder = Op::new(Process::Nemesis, OpType::Invoke, String::new(), Value::Null);
    let mut ops: Vec<Op> = vec![placeholder; total];
    let mut slots: Vec<Mutex<Option<&mut [Op]>>> = Vec::with_capacity(pieces.len());
    let mut spare = &mut ops[..];
    for &n in &lines {
        let (piece, rest) = std::mem::take(&mut spare).split_at_mut(n);
        slots.push(Mutex::new(Some(piece)));
        spare = rest;
    }
    // The first piece that found a bad line: later ones stop.
    let failed = AtomicUsize::new(usize::MAX);
    let read = |k: usize| {
        let slots = slots[k]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("each piece is read once");
        read_lines(pieces[k], slots, starts[k] as u64, || {
            failed.load(Ordering::Relaxed) < k
        })
        .inspect_err(|_| {
            failed.fetch_min(k, Ordering::Relaxed);
        })
    };
    let results: Vec<Result<usize, (usize, ReadError)>> = std::thread::scope(|scope| {
        let rest: Vec<_> = (1..pieces.len())
            .map(|k| {
                let read = &read;
                std::thread::Builder::new()
                    .name("read-jsonl".into())
                    .spawn_scoped(scope, move || read(k))
                    .map_err(|_| k)
            })
            .collect();
        let mut results = vec![read(0)];
        for handle in rest {
            results.push(match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to be had: read the piece here.
                Err(k) => read(k),
            });
        }
        results
    });
    drop(slots);

    // Close the gaps that blank lines left, so that the ops written are
    // the first ones of the vector.
    let mut len = 0;
    let mut gaps = false;
    for (result, &start) in results.iter().zip(&starts) {
        let written = match result {
            Ok(n) | Err((n, _)) => *n,
        };
        if start != len {
            gaps = true;
            for i in 0..written {
                ops.swap(start + i, len + i);
            }
        }
        len += written;
    }
    ops.truncate(len);
    // The first bad line (with its number in the whole text).
    for (result, &start) in results.into_iter().zip(&starts) {
        if let Err((_, mut e)) = result {
            e.line += start;
            return Err(e);
        }
    }
    if gaps {
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
        }
    }
    Ok(History { ops })
}

/// Parses the non-blank lines of `text` into the first of `slots`, one a
/// line, numbering them from `first`, until a bad line (whose number
/// counts from the start of `text`) or `stop`. Says how many slots it
/// wrote, also with the error.
fn read_lines(
    text: &str,
    slots: &mut [Op],
    first: u64,
    stop: impl Fn() -> bool,
) -> Result<usize, (usize, ReadError)> {
    let mut written = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if i % 4096 == 0 && stop() {
            break;
        }
        let mut op = read_op(line).map_err(|e| {
            let e = ReadError {
                line: i + 1,
                column: e.column(),
                message: e.to_string(),
            };
            (written, e)
        })?;
        op.index = first + written as u64;
        assert!(
            written < slots.len(),
            "an op line is at least {OP_BYTES_MIN} bytes, so a piece has a slot for each"
        );
        slots[written] = op;
        written += 1;
    }
    Ok(written)
}

/// One op from one line: serde_json's reading of an [`Op`], but quicker
/// for a line exactly as [`HistoryWriter`] writes one (the fields in
/// order, no spaces, plain strings), whose parts other than the value and
/// the error are then read by hand.
fn read_op(line: &str) -> Result<Op, serde_json::Error> {
    match read_written_op(line) {
        Some(op) => Ok(op),
        None => serde_json::from_str(line),
    }
}

/// [`read_op`] for a line as [`HistoryWriter`] writes it, or `None` for
/// any other line (malformed or not), which serde_json then reads.
fn read_written_op(line: &str) -> Option<Op> {
    let mut at = Cursor { line, at: 0 };
    at.expect("{\"index\":")?;
    let index = at.uint()?;
    at.expect(",\"time\":")?;
    let time = at.uint()?;
    at.expect(",\"process\":")?;
    let process = if at.expect("\"nemesis\"").is_some() {
        Process::Nemesis
    } else {
        Process::Client(at.uint()?)
    };
    at.expect(",\"type\":")?;
    let kind = match at.plain_string()? {
        "invoke" => OpType::Invoke,
        "ok" => OpType::Ok,
        "fail" => OpType::Fail,
        "info" => OpType::Info,
        _ => return None,
    };
    at.expect(",\"f\":")?;
    let f = at.plain_string()?;
    at.expect(",\"value\":")?;
    let value = at.json_value()?;
    // The fields the writer leaves out when they are empty, in its order.
    let error = match at.expect(",\"error\":") {
        Some(()) => Some(at.json_value()?),
        None => None,
    };
    let node = match at.expect(",\"node\":") {
        Some(()) => Some(at.plain_string()?),
        None => None,
    };
    let is_final = at.expect(",\"final\":true").is_some();
    at.expect("}")?;
    if at.at != line.len() {
        return None;
    }
    let value = read_value(value)?;
    let error = match error {
        Some(text) => Some(read_value(text)?)
            .filter(|e| !e.is_null())
            .map(Box::new),
        None => None,
    };
    Some(Op {
        index,
        time,
        process,
        kind,
        f: f.to_owned(),
        value,
        error,
        node: node.map(Box::from),
        is_final,
    })
}

/// A value's text as serde_json reads it, if it is JSON and within
/// serde_json's nesting limit as it counts inside the op.
fn read_value(text: &str) -> Option<Value> {
    if text.bytes().filter(|&b| b == b'[' || b == b'{').count() >= NESTING_MAX {
        return None;
    }
    crate::value::from_str_sized(text).ok()
}

/// Nesting in a value that the quick reading leaves to serde_json (whose
/// limit is 128 levels, the op's own braces included).
const NESTING_MAX: usize = 100;

/// A position in a line.
struct Cursor<'a> {
    line: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// Steps over `text`, if the line goes on with it.
    fn expect(&mut self, text: &str) -> Option<()> {
        self.line[self.at..]
            .starts_with(text)
            .then(|| self.at += text.len())
    }

    /// A non-negative integer as JSON writes it (no leading zeros) that
    /// fits in 64 bits.
    fn uint(&mut self) -> Option<u64> {
        let digits = &self.line.as_bytes()[self.at..];
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || (len > 1 && digits[0] == b'0') {
            return None;
        }
        let mut n: u64 = 0;
        for &d in &digits[..len] {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.at += len;
        Some(n)
    }

    /// The text of the JSON value that starts here: up to the first `,`,
    /// `]` or `}` outside its brackets and strings. Only its extent is
    /// found here; serde_json reads it, and refuses what is not JSON.
    fn json_value(&mut self) -> Option<&'a str> {
        let rest = &self.line.as_bytes()[self.at..];
        let mut depth = 0usize;
        let mut i = 0;
        while i < rest.len() {
            match rest[i] {
                b'"' => {
                    i += 1;
                    while *rest.get(i)? != b'"' {
                        i += if rest[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'[' | b'{' => depth += 1,
                b']' | b'}' | b',' if depth == 0 => break,
                b']' | b'}' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        let text = &self.line[self.at..self.at + i];
        self.at += i;
        Some(text)
    }

    /// A string without escapes or control characters.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect("\"")?;
        let rest = &self.line[self.at..];
        let len = rest
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest.as_bytes()[len] != b'"' {
            return None;
        }
        self.at += len + 1;
        Some(&rest[..len])
    }
}

/// `text` cut into at most `pieces` pieces of about equal length, each
/// ending just after a newline (but the last).
fn split_lines(text: &str, pieces: usize) -> Vec<&str> {
    let mut out = Vec::with_capacity(pieces);
    let mut rest = text;
    for k in (1..pieces).rev() {
        let target = rest.len() - rest.len() * k / (k + 1);
        let Some(nl) = rest.as_bytes()[target..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let (piece, tail) = rest.split_at(target + nl + 1);
        out.push(piece);
        rest = tail;
    }
    out.push(rest);
    out
}

/// The number of lines of `text`, as `str::lines` counts them.
fn count_lines(text: &str) -> usize {
    // Counted in runs short enough for a byte counter, which vectorizes.
    let newlines: usize = text
        .as_bytes()
        .chunks(255)
        .map(|run| usize::from(run.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n'))))
        .sum();
    newlines + usize::from(!text.is_empty() && !text.ends_with('\n'))
}

/// The most room [`HistoryWriter`] keeps between lines.
const LINE_KEPT_BYTES_MAX: usize = 1 << 20;

/// Streams ops to a writer as they happen, numbering them. Each op's line
/// is handed to the writer whole, in one `write_all`, so a writer that
/// keeps whole lines (the runner's history.jsonl does) never sees a part
/// of one.
pub struct HistoryWriter<W: Write> {
    out: W,
    next_index: u64,
    /// The line being made (kept for its allocation).
    line: Vec<u8>,
}

impl<W: Write> HistoryWriter<W> {
    pub fn new(out: W) -> Self {
        HistoryWriter {
            out,
            next_index: 0,
            line: Vec::new(),
        }
    }

    /// Writes one op (renumbered) and returns it as written.
    pub fn append(&mut self, mut op: Op) -> io::Result<Op> {
        op.index = self.next_index;
        self.write_line(&op)?;
        self.next_index += 1;
        Ok(op)
    }

    /// Writes one op as it is, keeping its index (for ops already
    /// numbered, such as the workbench's).
    pub fn write(&mut self, op: &Op) -> io::Result<()> {
        self.write_line(op)?;
        self.next_index = op.index + 1;
        Ok(())
    }

    fn write_line(&mut self, op: &Op) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, op)?;
        self.line.push(b'\n');
        let written = self.out.write_all(&self.line);
        if self.line.capacity() > LINE_KEPT_BYTES_MAX {
            // One huge op does not keep its room for the rest of the run.
            self.line = Vec::new();
        }
        written
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OpType, Process};
    use serde_json::{json, Value};

    #[test]
    fn writer_numbers_and_reader_reads() {
        let mut w = HistoryWriter::new(Vec::new());
        w.append(Op::new(Process::Client(3), OpType::Invoke, "add", json!(1)))
            .unwrap();
        w.append(Op::new(
            Process::Nemesis,
            OpType::Info,
            "start-partition",
            json!("one"),
        ))
        .unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        let h = History::from_jsonl(&text).unwrap();
        assert_eq!(h.ops[1].index, 1);
        assert_eq!(h.ops[1].process, Process::Nemesis);
        assert!(text.contains("\"process\":\"nemesis\""));
    }

    #[test]
    fn bad_line_names_line_and_column() {
        let text = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":0,\"type\":\"maybe\",\"f\":\"read\"}\n";
        let err = History::from_jsonl(text).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.column > 0);
        assert!(err.to_string().contains("line 2"));
    }

    #[test]
    fn reading_in_pieces_reads_what_reading_line_by_line_reads() {
        let mut text = String::new();
        for i in 0..40u64 {
            match i % 7 {
                0 => text.push('\n'),
                1 => text.push_str("   \r\n"),
                _ => {}
            }
            let op = Op::new(
                Process::Client(i % 3),
                OpType::Invoke,
                "write",
                json!([i, i]),
            )
            .at(i);
            text.push_str(&serde_json::to_string(&op).unwrap());
            text.push_str(if i % 5 == 0 { "\r\n" } else { "\n" });
        }
        let whole = read_pieces(&text, 1).unwrap();
        assert_eq!(whole.len(), 40);
        assert!(whole
            .ops
            .iter()
            .enumerate()
            .all(|(i, op)| op.index == i as u64));
        for pieces in 2..12 {
            assert_eq!(
                read_pieces(&text, pieces).unwrap(),
                whole,
                "{pieces} pieces"
            );
        }
        let unterminated = text.trim_end();
        assert_eq!(read_pieces(unterminated, 5).unwrap(), whole);
        assert!(read_pieces("", 3).unwrap().is_empty());
        assert!(read_pieces("\n\n\n", 3).unwrap().is_empty());

        // The first bad line, wherever the pieces are cut.
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for bad in [0, 1, 9, 25, lines.len() - 1] {
            let mut broken: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            broken[bad] = "{\"process\":0,\"type\":\"maybe\"}\n".to_string();
            if bad + 3 < broken.len() {
                broken[bad + 3] = "nonsense\n".to_string();
            }
            let broken = broken.concat();
            let want = read_pieces(&broken, 1).unwrap_err();
            assert_eq!(want.line, bad + 1);
            for pieces in 2..12 {
                let got = read_pieces(&broken, pieces).unwrap_err();
                assert_eq!(
                    (got.line, got.column, &got.message),
                    (want.line, want.column, &want.message),
                    "{pieces} pieces"
                );
            }
        }
    }

    /// Fuzzing found (jsonl case 82304 of seed 17) that a float of 17
    /// significant digits read back one ULP off once written: serde_json's
    /// default float parsing is not exact. The workspace turns on its
    /// `float_roundtrip`.
    #[test]
    fn floats_read_back_exactly_as_written() {
        for text in [
            "-2.18446744073709551615",
            "-2.1844674407370954",
            "0.30000000000000004",
            "1e-300",
            "5e-324",
            "1.7976931348623157e308",
        ] {
            let line = format!("{{\"process\":0,\"type\":\"ok\",\"f\":\"r\",\"value\":[{text}]}}");
            let h = History::from_jsonl(&line).unwrap();
            let want: f64 = text.parse().unwrap();
            assert_eq!(h.ops[0].value[0].as_f64(), Some(want), "{text}");
            assert_eq!(History::from_jsonl(&h.to_jsonl()).unwrap(), h, "{text}");
        }
    }

    #[test]
    fn the_shortest_op_has_a_slot_and_blank_lines_take_none() {
        let shortest = "{\"f\":\"\",\"type\":\"ok\",\"process\":0}";
        assert_eq!(shortest.len(), OP_BYTES_MIN);
        for pieces in 1..4 {
            let text = format!("{shortest}\n").repeat(10);
            assert_eq!(read_pieces(&text, pieces).unwrap().len(), 10);
            assert_eq!(
                read_pieces(&text.replace('\n', ""), pieces)
                    .unwrap_err()
                    .line,
                1
            );
            let blank = format!("{}{shortest}", "\n".repeat(1000));
            assert_eq!(read_pieces(&blank, pieces).unwrap().len(), 1);
        }
        // Shorter lines are never ops.
        for text in [
            "{\"f\":\"\",\"type\":\"ok\",\"process\":\"0\"",
            "{\"process\":0,\"type\":\"ok\"}",
        ] {
            assert!(read_op(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_torn_last_line_is_left_out_and_reported() {
        let good = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}";
        let whole = format!("{good}\n\n{good}\n");
        let (h, torn) = History::from_jsonl_torn(&whole).unwrap();
        assert_eq!((h.len(), torn.is_none()), (2, true));
        // No newline after a whole op: it is read.
        let (h, torn) = History::from_jsonl_torn(whole.trim_end()).unwrap();
        assert_eq!((h.len(), torn.is_none()), (2, true));
        // Blank space after the last newline is no line.
        let (h, torn) = History::from_jsonl_torn(&format!("{whole}  ")).unwrap();
        assert_eq!((h.len(), torn.is_none()), (2, true));
        for cut in 1..good.len() {
            let text = format!("{whole}{}", &good[..cut]);
            let (h, torn) = History::from_jsonl_torn(&text).unwrap();
            assert_eq!(h.len(), 2, "{text}");
            let torn = torn.unwrap_or_else(|| panic!("{text}"));
            assert_eq!(torn.line, 4, "{text}");
            assert!(torn.column >= 1, "{text}");
            // Read strictly, the same line is the error.
            let e = History::from_jsonl(&text).unwrap_err();
            assert_eq!((e.line, e.column), (torn.line, torn.column));
        }
        // A bad line before the last is an error, torn tail or not.
        let text = format!("{good}\nnonsense\n{}", &good[..5]);
        let e = History::from_jsonl_torn(&text).unwrap_err();
        assert_eq!(e.line, 2);
        let e = History::from_jsonl_torn("nonsense\n").unwrap_err();
        assert_eq!(e.line, 1);
        // A file that is one torn line is an empty history.
        let (h, torn) = History::from_jsonl_torn(&good[..9]).unwrap();
        assert_eq!((h.len(), torn.map(|t| t.line)), (0, Some(1)));
    }

    #[test]
    fn pieces_end_at_newlines() {
        let text = "a\nbb\nccc\n\ndddd";
        for pieces in 1..8 {
            let cut = split_lines(text, pieces);
            assert_eq!(cut.concat(), text);
            assert!(cut.len() <= pieces);
            assert!(cut[..cut.len() - 1].iter().all(|p| p.ends_with('\n')));
        }
        assert_eq!(count_lines(text), 5);
        assert_eq!(count_lines("a\n"), 1);
        assert_eq!(count_lines(""), 0);
        assert_eq!(count_lines(&"x\n".repeat(1000)), 1000);
    }

    #[test]
    fn the_quick_reading_reads_what_serde_json_reads() {
        let ops = [
            Op::new(
                Process::Client(3),
                OpType::Invoke,
                "read",
                json!([396, null]),
            )
            .at(17),
            Op::new(
                Process::Client(0),
                OpType::Ok,
                "write",
                json!(["k", {"a": [1, 2.5]}]),
            ),
            Op::new(
                Process::Nemesis,
                OpType::Info,
                "start-partition",
                json!("one"),
            ),
            Op::new(
                Process::Client(u64::MAX),
                OpType::Fail,
                "cas",
                json!([1, 2]),
            )
            .at(u64::MAX),
            Op::new(Process::Client(1), OpType::Invoke, "é \"q\"", Value::Null),
            Op::new(Process::Client(1), OpType::Invoke, "add", json!("a\nb")),
            // As the workbench writes them: with an error, a node, the
            // final mark.
            {
                let mut op = Op::new(
                    Process::Client(4),
                    OpType::Info,
                    "cas",
                    json!(["k,}]", [1, {"a": "]"}]]),
                );
                op.error = Some(Box::new(json!({"code": 11, "text": "a \"b\", c}"})));
                op.node = Some("n3".into());
                op
            },
            {
                let mut op = Op::new(Process::Client(2), OpType::Ok, "read", json!(null));
                op.node = Some("n1".into());
                op.is_final = true;
                op
            },
        ];
        let mut lines: Vec<String> = Vec::new();
        for op in &ops {
            let line = serde_json::to_string(op).unwrap();
            // The line, and lines that differ from it a little: each must
            // read as serde_json reads it, op or error.
            lines.push(line.clone());
            for (from, to) in [
                ("\"index\":0", "\"index\":00"),
                ("\"index\":0", "\"index\":-0"),
                ("\"index\":0", "\"index\":1e3"),
                ("\"index\":0", "\"index\":18446744073709551616"),
                ("\"index\":0", "\"index\": 0"),
                ("\"time\":", "\"tim\":"),
                ("\"process\":", "\"process\":\"nemesis\",\"process\":"),
                ("\"nemesis\"", "\"nemesi\""),
                ("\"type\":\"", "\"type\":\"x"),
                ("\"f\":\"", "\"f\":\"\\u0041"),
                ("\"f\":\"", "\"f\":\"\t"),
                ("\"value\":", "\"value\": "),
                ("\"value\":", "\"value\":1,\"value\":"),
                ("\"value\":", "\"error\":\"x\",\"value\":"),
                ("\"value\":", "\"value\":["),
                ("{", " {"),
            ] {
                lines.push(line.replacen(from, to, 1));
            }
            lines.push(format!("{line} "));
            lines.push(line[..line.len() - 1].to_string());
            lines.push(format!("{}}}", &line[..line.len() - 1]));
            lines.push(line.replace('}', ",\"final\":true}"));
            for (from, to) in [
                ("\"node\":", "\"node\": "),
                ("\"node\":\"", "\"node\":\"\\n"),
                ("\"error\":", "\"error\":null,\"error\":"),
                ("\"error\":{", "\"error\":{{"),
                (",\"final\":true", ",\"final\":false"),
                (",\"final\":true", ",\"final\":true,\"final\":true"),
                (",\"node\":\"n1\"", ""),
                ("\"n1\"", "null"),
            ] {
                if line.contains(from) {
                    lines.push(line.replacen(from, to, 1));
                }
            }
            lines.push(line.replacen("\"value\":", "\"value\":null,\"error\":null,\"x\":", 1));
        }
        let deep = |n: usize| {
            format!(
                "{{\"index\":0,\"time\":0,\"process\":0,\"type\":\"ok\",\"f\":\"r\",\"value\":{}{}}}",
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        lines.extend([deep(99), deep(126), deep(127), deep(128)]);
        let mut quick = 0;
        for line in &lines {
            let want = serde_json::from_str::<Op>(line).map_err(|e| e.to_string());
            assert_eq!(read_op(line).map_err(|e| e.to_string()), want, "{line}");
            quick += usize::from(read_written_op(line).is_some());
        }
        assert!(quick >= ops.len(), "{quick}");
        // Every line as the writer writes it is read the quick way, but for
        // a function name with escapes.
        for op in ops.iter().filter(|op| !op.f.contains(['"', '\\'])) {
            let line = serde_json::to_string(op).unwrap();
            assert_eq!(read_written_op(&line).as_ref(), Some(op), "{line}");
        }
    }
}
