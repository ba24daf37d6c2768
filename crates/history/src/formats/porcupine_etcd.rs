//! Jepsen's etcd logs as Porcupine keeps them (`jepsen/etcd_NNN.log`).
//!
//! ```text
//! INFO  jepsen.util - 2  :invoke  :cas  [3 0]
//! INFO  jepsen.util - 2  :fail  :cas  [3 0]
//! INFO  jepsen.util - 0  :ok  :read  nil
//! INFO  jepsen.util - 13  :info  :cas  :timed-out
//! ```
//!
//! Fields are separated by whitespace: tabs (shown as spaces above) in most
//! files, runs of spaces in some (etcd_100 to etcd_102), so both are
//! accepted, as Porcupine's own parser does. The register starts absent, so `:ok :read nil` is a definite
//! result (null = absent), unlike a Knossos nil read. A `:timed-out`
//! completion is indeterminate: it becomes `info` with the invocation's
//! value and the error "timed-out" (for a read, which cannot take effect,
//! that says the result is unknown).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::FormatError;
use crate::{History, Op, OpType, Process};

/// What a line looks like, for error messages.
pub(crate) const LINE_EXAMPLE: &str = "INFO  jepsen.util - 2<TAB>:invoke<TAB>:write<TAB>4";

const TIMED_OUT: &str = "timed-out";

pub(crate) fn read(text: &str) -> Result<History, FormatError> {
    let mut history = History::default();
    // The function and value of each process's open invocation, for its
    // completion and its timeout.
    let mut open: BTreeMap<u64, Invoked> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let number = i + 1;
        let event = Event::parse(line, number)?;
        let op = event.into_op(&mut open)?;
        history.push(op.at(number as u64));
    }
    Ok(history)
}

/// An invocation that has not completed yet.
struct Invoked {
    f: &'static str,
    value: Value,
    line: usize,
}

/// One log line, its fields checked.
struct Event {
    process: u64,
    kind: OpType,
    f: &'static str,
    value: EtcdValue,
    /// The column of the value, for errors found when pairing.
    value_column: usize,
    line: usize,
    kind_column: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum EtcdValue {
    Nil,
    Int(i64),
    Pair(i64, i64),
    TimedOut,
}

impl EtcdValue {
    fn to_json(&self) -> Value {
        match self {
            EtcdValue::Nil => Value::Null,
            EtcdValue::Int(v) => json!(v),
            EtcdValue::Pair(a, b) => json!([a, b]),
            EtcdValue::TimedOut => json!(TIMED_OUT),
        }
    }
}

/// Walks a line by characters, counting columns from 1.
struct Cursor<'a> {
    rest: &'a str,
    column: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn error(&self, column: usize, message: String) -> FormatError {
        FormatError {
            line: self.line,
            column,
            message,
        }
    }

    /// Consumes `literal` or says what was expected instead.
    fn expect(&mut self, literal: &str, what: &str) -> Result<(), FormatError> {
        match self.rest.strip_prefix(literal) {
            Some(rest) => {
                self.rest = rest;
                self.column += literal.chars().count();
                Ok(())
            }
            None => Err(self.error(
                self.column,
                format!("expected {what}, found {}", self.shown_word()),
            )),
        }
    }

    /// Consumes one or more spaces or tabs.
    fn gap(&mut self, before: &str) -> Result<(), FormatError> {
        let trimmed = self.rest.trim_start_matches([' ', '\t']);
        let skipped = self.rest.len() - trimmed.len();
        if skipped == 0 {
            return Err(self.error(
                self.column,
                format!(
                    "expected a tab or spaces before {before}, found {}",
                    self.shown_word()
                ),
            ));
        }
        self.rest = trimmed;
        self.column += skipped;
        Ok(())
    }

    /// The next whitespace-separated word and its column.
    fn word(&mut self) -> (&'a str, usize) {
        let end = self.rest.find([' ', '\t']).unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        let column = self.column;
        self.rest = rest;
        self.column += word.chars().count();
        (word, column)
    }

    fn shown_word(&self) -> String {
        match self.rest.split([' ', '\t']).next() {
            None | Some("") => "the end of the line".to_string(),
            Some(w) => format!("`{w}`"),
        }
    }
}

impl Event {
    fn parse(line: &str, number: usize) -> Result<Event, FormatError> {
        let mut c = Cursor {
            rest: line,
            column: 1,
            line: number,
        };
        c.expect("INFO", "`INFO  jepsen.util - ` at the start of the line")?;
        c.gap("`jepsen.util`")?;
        c.expect("jepsen.util", "`jepsen.util`")?;
        c.gap("`-`")?;
        c.expect("-", "`-` after `jepsen.util`")?;
        c.gap("the process number")?;
        let (word, column) = c.word();
        let process = word
            .parse::<u64>()
            .map_err(|_| c.error(column, format!("expected a process number, found `{word}`")))?;
        c.gap("the type")?;
        let (word, kind_column) = c.word();
        let kind = match word {
            ":invoke" => OpType::Invoke,
            ":ok" => OpType::Ok,
            ":fail" => OpType::Fail,
            ":info" => OpType::Info,
            _ => {
                return Err(c.error(
                    kind_column,
                    format!("expected the type :invoke, :ok, :fail or :info, found `{word}`"),
                ))
            }
        };
        c.gap("the function")?;
        let (word, column) = c.word();
        let f = match word {
            ":read" => "read",
            ":write" => "write",
            ":cas" => "cas",
            _ => {
                return Err(c.error(
                    column,
                    format!("expected the function :read, :write or :cas, found `{word}`"),
                ))
            }
        };
        c.gap("the value")?;
        let value_column = c.column;
        let text = c.rest.trim_end();
        let value = parse_value(text).ok_or_else(|| {
            c.error(
                value_column,
                format!(
                    "expected a value: nil, an integer, a pair like [3 0] or :timed-out, found `{text}`"
                ),
            )
        })?;
        Ok(Event {
            process,
            kind,
            f,
            value,
            value_column,
            line: number,
            kind_column,
        })
    }

    /// Checks the value fits the type and function, and pairs a timeout
    /// with its invocation.
    fn into_op(self, open: &mut BTreeMap<u64, Invoked>) -> Result<Op, FormatError> {
        let process = Process::Client(self.process);
        if self.kind != OpType::Invoke {
            if let Some(invoked) = open.get(&self.process).filter(|i| i.f != self.f) {
                return Err(self.error(
                    self.kind_column,
                    format!(
                        "process {} completes :{} but invoked :{} at line {}: a completion names the function of its invocation; write :{} here, or fix the invocation",
                        self.process, self.f, invoked.f, invoked.line, invoked.f
                    ),
                ));
            }
        }
        if self.value == EtcdValue::TimedOut {
            if matches!(self.kind, OpType::Invoke | OpType::Ok) {
                return Err(self.error(
                    self.value_column,
                    format!(
                        "expected the {}'s value, found :timed-out; only :fail and :info completions time out",
                        self.f
                    ),
                ));
            }
            let Some(invoked) = open.remove(&self.process) else {
                return Err(self.unpaired());
            };
            let mut op = Op::new(process, OpType::Info, self.f, invoked.value);
            op.error = Some(Box::new(json!(TIMED_OUT)));
            return Ok(op);
        }
        let shape_ok = match (self.f, &self.value) {
            ("read", EtcdValue::Nil) => true,
            ("read", EtcdValue::Int(_)) => self.kind != OpType::Invoke,
            ("write", EtcdValue::Int(_)) | ("cas", EtcdValue::Pair(..)) => true,
            _ => false,
        };
        if !shape_ok {
            let expected = match (self.f, self.kind) {
                ("read", OpType::Invoke) => "nil",
                ("read", _) => "nil or an integer",
                ("write", _) => "an integer",
                _ => "a pair like [3 0]",
            };
            return Err(self.error(
                self.value_column,
                format!(
                    "expected {expected} as the value of {} {}, found {}",
                    self.kind.as_str(),
                    self.f,
                    describe(&self.value)
                ),
            ));
        }
        let value = self.value.to_json();
        if self.kind == OpType::Invoke {
            let invoked = Invoked {
                f: self.f,
                value: value.clone(),
                line: self.line,
            };
            if open.insert(self.process, invoked).is_some() {
                return Err(self.error(
                    self.kind_column,
                    format!(
                        "process {} invokes again before its previous operation completed: expected a completion line for it first",
                        self.process
                    ),
                ));
            }
        } else if open.remove(&self.process).is_none() {
            return Err(self.unpaired());
        }
        Ok(Op::new(process, self.kind, self.f, value))
    }

    fn unpaired(&self) -> FormatError {
        self.error(
            self.kind_column,
            format!(
                "a completion of process {} with no invocation before it: expected an :invoke line for the process first",
                self.process
            ),
        )
    }

    fn error(&self, column: usize, message: String) -> FormatError {
        FormatError {
            line: self.line,
            column,
            message,
        }
    }
}

fn describe(value: &EtcdValue) -> &'static str {
    match value {
        EtcdValue::Nil => "nil",
        EtcdValue::Int(_) => "an integer",
        EtcdValue::Pair(..) => "a pair",
        EtcdValue::TimedOut => ":timed-out",
    }
}

fn parse_value(text: &str) -> Option<EtcdValue> {
    match text {
        "nil" => return Some(EtcdValue::Nil),
        ":timed-out" => return Some(EtcdValue::TimedOut),
        _ => {}
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let mut parts = inner.split_whitespace();
        let a = parts.next()?.parse().ok()?;
        let b = parts.next()?.parse().ok()?;
        return parts.next().is_none().then_some(EtcdValue::Pair(a, b));
    }
    text.parse().ok().map(EtcdValue::Int)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "INFO  jepsen.util - ";

    fn log(lines: &[&str]) -> String {
        lines
            .iter()
            .map(|l| format!("{T}{}\n", l.replace(' ', "\t")))
            .collect()
    }

    #[test]
    fn maps_reads_writes_and_cas() {
        let h = read(&log(&[
            "0 :invoke :read nil",
            "2 :invoke :cas [3 0]",
            "0 :ok :read nil",
            "2 :fail :cas [3 0]",
            "1 :invoke :write 4",
            "1 :ok :write 4",
            "0 :invoke :read nil",
            "0 :ok :read 4",
        ]))
        .unwrap();
        let o = &h.ops;
        assert_eq!(o.len(), 8);
        assert_eq!(
            (o[0].kind, o[0].f.as_str(), &o[0].value),
            (OpType::Invoke, "read", &Value::Null)
        );
        assert_eq!(o[1].value, json!([3, 0]));
        // A nil read here is a definite "absent", not a Knossos nil read.
        assert_eq!(
            (o[2].kind, &o[2].value, &o[2].error),
            (OpType::Ok, &Value::Null, &None)
        );
        assert_eq!((o[3].kind, &o[3].value), (OpType::Fail, &json!([3, 0])));
        assert_eq!(o[4].value, json!(4));
        assert_eq!(o[7].value, json!(4));
        assert_eq!(o[7].time, 8, "time is the line number");
        assert_eq!(o[7].index, 7);
    }

    #[test]
    fn timeouts_are_info_with_the_invocation_value() {
        let h = read(&log(&[
            "13 :invoke :cas [1 2]",
            "7 :invoke :read nil",
            "4 :invoke :write 3",
            "13 :info :cas :timed-out",
            "7 :fail :read :timed-out",
            "4 :info :write :timed-out",
        ]))
        .unwrap();
        let o = &h.ops;
        assert_eq!((o[3].kind, &o[3].value), (OpType::Info, &json!([1, 2])));
        assert_eq!(o[3].error.as_deref(), Some(&json!("timed-out")));
        assert_eq!((o[4].kind, &o[4].value), (OpType::Info, &Value::Null));
        assert_eq!(o[4].error.as_deref(), Some(&json!("timed-out")));
        assert_eq!(
            (o[5].kind, o[5].f.as_str(), &o[5].value),
            (OpType::Info, "write", &json!(3))
        );
    }

    #[test]
    fn spaces_between_fields_are_accepted() {
        let h = read(
            "INFO  jepsen.util - 1   :invoke :cas    [1 2]\n\
                      INFO  jepsen.util - 1   :ok     :cas    [1 2]\n",
        )
        .unwrap();
        assert_eq!(h.ops[1].kind, OpType::Ok);
        assert_eq!(h.ops[1].value, json!([1, 2]));
    }

    #[test]
    fn empty_input_is_an_empty_history() {
        assert!(read("").unwrap().is_empty());
        assert!(read("\n  \n").unwrap().is_empty());
    }

    fn error(lines: &[&str]) -> FormatError {
        read(&log(lines)).unwrap_err()
    }

    #[test]
    fn bad_type_names_line_and_column() {
        let e = error(&["0 :invoke :read nil", "0 :maybe :read nil"]);
        // "INFO  jepsen.util - " is 20 characters, "0\t" two more.
        assert_eq!((e.line, e.column), (2, 23));
        assert!(
            e.message.contains(":invoke, :ok, :fail or :info"),
            "{}",
            e.message
        );
        assert!(e.message.contains(":maybe"), "{}", e.message);
    }

    #[test]
    fn other_malformed_lines() {
        let e = read("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nWARN something\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("INFO"), "{}", e.message);
        let e = error(&["x :invoke :read nil"]);
        assert_eq!((e.line, e.column), (1, 21));
        let e = error(&["0 :invoke :append nil"]);
        assert_eq!((e.line, e.column), (1, 31));
        let e = error(&["0 :invoke :cas [3]"]);
        assert_eq!((e.line, e.column), (1, 36));
        assert!(e.message.contains("[3 0]"), "{}", e.message);
        let e = error(&["0 :invoke :write nil"]);
        assert_eq!((e.line, e.column), (1, 38));
        assert!(e.message.contains("an integer"), "{}", e.message);
        let e = error(&["0 :invoke :read 3"]);
        assert!(e.message.contains("expected nil"), "{}", e.message);
        let e = error(&["0 :invoke :read nil", "0 :ok :read :timed-out"]);
        assert_eq!((e.line, e.column), (2, 33));
        let e = error(&["0 :invoke :read nil", "0 :invoke :read nil"]);
        assert_eq!((e.line, e.column), (2, 23));
        assert!(e.message.contains("invokes again"), "{}", e.message);
        let e = error(&["0 :ok :read 1"]);
        assert!(e.message.contains("no invocation"), "{}", e.message);
        let e = error(&["0 :invoke :write 1", "0 :ok :read 1"]);
        assert_eq!((e.line, e.column), (2, 23));
        assert!(
            e.message
                .contains("completes :read but invoked :write at line 1"),
            "{}",
            e.message
        );
        let e = error(&["0 :invoke :write 1", "0 :info :cas :timed-out"]);
        assert!(e.message.contains("invoked :write"), "{}", e.message);
        let e = error(&["3 :info :cas :timed-out"]);
        assert!(e.message.contains("no invocation"), "{}", e.message);
        let e = read("INFO  jepsen.util - 0\t:invoke\n").unwrap_err();
        assert!(e.message.contains("end of the line"), "{}", e.message);
    }
}
