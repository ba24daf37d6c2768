//! Writes a history as Jepsen EDN, one op map per line.
//!
//! The output reads back with `read(.., Format::Edn)` into the same history,
//! with two exceptions that follow from Jepsen's conventions: a nemesis op is
//! skipped on reading, and an `ok` read of nil (or of `[k nil]`) reads back
//! as an `info` "nil-read", because that is what nil means in Knossos EDN.
//! JSON strings are written as EDN strings (never keywords), so they read
//! back as the same strings. A set read in its compact form
//! ([`IntMultiset`]) is written as the vector of its elements, ascending,
//! which reads back as a plain array.

use std::fmt::Write;

use serde_json::Value;

use crate::{History, IntMultiset, Op, Process};

/// One EDN op map per line, with `:index` and `:time`.
pub fn to_edn(history: &History) -> String {
    let mut out = String::new();
    for op in &history.ops {
        write_op(&mut out, op);
        out.push('\n');
    }
    out
}

fn write_op(out: &mut String, op: &Op) {
    write!(out, "{{:index {}, :time {}, :process ", op.index, op.time).expect("String writes");
    match op.process {
        Process::Client(p) => write!(out, "{p}").expect("String writes"),
        Process::Nemesis => out.push_str(":nemesis"),
    }
    write!(out, ", :type :{}, :f ", op.kind.as_str()).expect("String writes");
    write_name(out, &op.f);
    out.push_str(", :value ");
    // Jepsen knows reads as vectors: a compact set read is written out
    // element by element (IntMultiset's docs).
    match IntMultiset::expand(&op.value) {
        Some(elements) => write_value(out, &elements),
        None => write_value(out, &op.value),
    }
    if let Some(error) = &op.error {
        out.push_str(", :error ");
        write_value(out, error);
    }
    if let Some(node) = &op.node {
        out.push_str(", :node ");
        write_string(out, node);
    }
    if op.is_final {
        out.push_str(", :final true");
    }
    out.push('}');
}

/// A function name as a keyword when it can be one, else as a string; both
/// read back as the same name.
fn write_name(out: &mut String, name: &str) {
    let keyword_safe = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_?!*+<>=.".contains(c));
    if keyword_safe {
        out.push(':');
        out.push_str(name);
    } else {
        write_string(out, name);
    }
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => write!(out, "{b}").expect("String writes"),
        Value::Number(n) => match n.as_f64() {
            // `{:?}` keeps a decimal point or exponent (1.0, 1e300), so a
            // float reads back as a float, and prints the shortest text that
            // reads back to the same bits.
            Some(x) if !n.is_i64() && !n.is_u64() => write!(out, "{x:?}").expect("String writes"),
            _ => write!(out, "{n}").expect("String writes"),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push(' ');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                // Characters beyond the Basic Multilingual Plane are never
                // control characters, so one \u escape always suffices.
                write!(out, "\\u{:04x}", c as u32).expect("String writes")
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpType;
    use serde_json::json;

    #[test]
    fn writes_jepsen_op_maps() {
        let mut h = History::default();
        h.push(Op::new(Process::Client(3), OpType::Invoke, "cas", json!([1, 2])).at(7));
        let mut done = Op::new(Process::Client(3), OpType::Info, "cas", json!([1, 2])).at(9);
        done.error = Some(Box::new(json!("timed-out")));
        done.node = Some("n1".into());
        h.push(done);
        h.push(Op::new(
            Process::Nemesis,
            OpType::Info,
            "start partition",
            Value::Null,
        ));
        assert_eq!(
            to_edn(&h),
            "{:index 0, :time 7, :process 3, :type :invoke, :f :cas, :value [1 2]}\n\
             {:index 1, :time 9, :process 3, :type :info, :f :cas, :value [1 2], :error \"timed-out\", :node \"n1\"}\n\
             {:index 2, :time 0, :process :nemesis, :type :info, :f \"start partition\", :value nil}\n"
        );
    }

    #[test]
    fn compact_set_reads_are_written_as_vectors() {
        let mut h = History::default();
        let read = IntMultiset::compact(json!([4, 2, 3, 2, 9]));
        h.push(Op::new(Process::Client(0), OpType::Ok, "read", read));
        assert_eq!(
            to_edn(&h),
            "{:index 0, :time 0, :process 0, :type :ok, :f :read, :value [2 2 3 4 9]}\n"
        );
    }

    #[test]
    fn values_are_escaped_and_typed() {
        let mut out = String::new();
        write_value(
            &mut out,
            &json!({"a\"b": [1.0, -2, 1e300, "x\\y\n\u{1}", true, null]}),
        );
        assert_eq!(
            out,
            "{\"a\\\"b\" [1.0 -2 1e300 \"x\\\\y\\n\\u0001\" true nil]}"
        );
    }
}
