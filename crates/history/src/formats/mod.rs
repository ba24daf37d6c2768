//! Reading histories written by other tools, for `lightcone check`.
//!
//! Four formats read into the same [`History`]:
//!
//! | [`Format`] | what | detected by its first line |
//! | --- | --- | --- |
//! | `jsonl` | lightcone's own `history.jsonl` | `{"` |
//! | `edn` | Jepsen's `history.edn` (a vector or a stream of op maps) | `{:`, `[`, `#jepsen` |
//! | `porcupine-etcd` | Porcupine's `jepsen/etcd_NNN.log` | `INFO  jepsen.util - ` |
//! | `porcupine-kv` | Porcupine's `kv/cNN-*.txt` | EDN maps with a `:key` |
//!
//! Values follow Jepsen's conventions as JSON: a `cas` value is
//! `[old, new]`, and a multi-key op carries the independent tuple
//! `[key, value]`. An op's `time` is its nanoseconds when the input has
//! them, otherwise its line number; `index` is its position. A malformed
//! input is a [`FormatError`] naming the line and column and what was
//! expected there; it never becomes a verdict.
//!
//! ```
//! use lightcone_history::formats::{self, Format};
//! let text = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
//!             INFO  jepsen.util - 0\t:ok\t:read\t3\n";
//! let (history, format) = formats::read_auto(text).unwrap();
//! assert_eq!(format, Format::PorcupineEtcd);
//! assert_eq!(history.pairs().len(), 1);
//! let edn = formats::to_edn(&history);
//! assert_eq!(formats::read(&edn, Format::Edn).unwrap(), history);
//! ```

mod edn_json;
mod edn_syntax;
mod edn_writer;
mod jepsen_edn;
mod pairing;
mod porcupine_etcd;
mod porcupine_kv;

use std::fmt;
use std::str::FromStr;

use crate::History;

pub use edn_writer::to_edn;
pub use pairing::LoneCompletions;

/// A history format `lightcone check` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// lightcone's `history.jsonl`: one JSON op per line.
    Jsonl,
    /// Jepsen's `history.edn`.
    Edn,
    /// Porcupine's etcd logs (`INFO  jepsen.util - ...` lines).
    PorcupineEtcd,
    /// Porcupine's kv histories (EDN maps with `:key`).
    PorcupineKv,
}

impl Format {
    /// Every format, in the order detection tries them.
    pub const ALL: [Format; 4] = [
        Format::PorcupineEtcd,
        Format::Jsonl,
        Format::PorcupineKv,
        Format::Edn,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::PorcupineEtcd => "porcupine-etcd",
            Format::PorcupineKv => "porcupine-kv",
        }
    }

    /// What a well-formed line looks like, for error messages.
    fn example(self) -> String {
        match self {
            Format::Jsonl => {
                "each line is one JSON op like {\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}".to_string()
            }
            Format::Edn => format!("each op is an EDN map like {}", jepsen_edn::OP_MAP_EXAMPLE),
            Format::PorcupineEtcd => format!("each line looks like {}", porcupine_etcd::LINE_EXAMPLE),
            Format::PorcupineKv => {
                "each line is an EDN map like {:process 9, :type :invoke, :f :append, :key \"0\", :value \"x 9 0 y\"}".to_string()
            }
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|format| format.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown history format `{s}`: expected one of {}",
                    choices()
                )
            })
    }
}

/// "jsonl, edn, porcupine-etcd or porcupine-kv".
fn choices() -> &'static str {
    "jsonl, edn, porcupine-etcd or porcupine-kv"
}

/// A history that cannot be read: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct FormatError {
    /// Counting from 1.
    pub line: usize,
    /// Counting from 1, in characters.
    pub column: usize,
    /// What is wrong and what was expected, then how the format looks.
    pub message: String,
}

impl FormatError {
    fn with_hint(mut self, hint: &str) -> FormatError {
        self.message.push_str("; ");
        self.message.push_str(hint);
        self
    }
}

/// Lines of the head of the input that detection looks at.
const DETECT_LINES_MAX: usize = 20;

/// Guesses the format from the first non-blank line (and, for EDN, the
/// first op map, which may run over a few lines). `None` if no format fits.
pub fn detect(text: &str) -> Option<Format> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'));
    let first = lines.next()?;
    if first.starts_with("INFO") && first.contains("jepsen.util") {
        return Some(Format::PorcupineEtcd);
    }
    // JSONL: `{"key"...`. EDN: `{:key ...`, `#jepsen.history.Op{...`, or a
    // vector `[{:key ...` (a `[` alone may open a pretty-printed vector).
    let head: String = std::iter::once(first)
        .chain(lines.take(DETECT_LINES_MAX - 1))
        .collect::<Vec<_>>()
        .join("\n");
    let edn = if let Some(rest) = head.strip_prefix('{') {
        let rest = after_brace(rest);
        if rest.starts_with('"') {
            return Some(Format::Jsonl);
        }
        rest.starts_with(':')
    } else if head.starts_with("#jepsen") {
        true
    } else if let Some(rest) = head.strip_prefix(['[', '(']) {
        let rest = after_brace(rest);
        // A JSON array of ops is no format we read.
        !(rest.starts_with('{') && after_brace(&rest[1..]).starts_with('"'))
    } else {
        false
    };
    if !edn {
        return None;
    }
    Some(if has_key_field(&head) {
        Format::PorcupineKv
    } else {
        Format::Edn
    })
}

/// `s` after any whitespace and commas.
fn after_brace(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_whitespace() || c == ',')
}

/// Whether the first op map of an EDN head has a `:key` entry.
fn has_key_field(head: &str) -> bool {
    let first_map = match head.find('}') {
        Some(end) => &head[..end],
        None => head,
    };
    first_map.match_indices(":key").any(|(i, _)| {
        let before_ok = first_map[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_whitespace() || matches!(c, ',' | '{'));
        let after_ok = first_map[i + 4..]
            .chars()
            .next()
            .is_some_and(|c| c.is_whitespace() || matches!(c, ',' | '"'));
        before_ok && after_ok
    })
}

/// Reads `text` as `format`. Blank lines are skipped; an empty input is an
/// empty history. Client ops must pair up as Jepsen's do (see
/// [`Reading::lone_completions`] for the one thing that is let pass): a
/// process that invokes while its previous op is still running, or
/// completes another function than it invoked, is an error naming the
/// line.
pub fn read(text: &str, format: Format) -> Result<History, FormatError> {
    read_as(text, format, false).map(|r| r.history)
}

/// Detects the format, then reads. An input no format fits is an error that
/// says what was tried and suggests `--format`; so is an empty input, which
/// every format would read as an empty history.
pub fn read_auto(text: &str) -> Result<(History, Format), FormatError> {
    read_detected(text, false).map(|r| (r.history, r.format))
}

/// A history read as `lightcone check` reads a file, and what the reader
/// let pass.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Reading {
    pub history: History,
    pub format: Format,
    /// A torn last line that was left out (JSONL only): where it is and
    /// why it is not an op. A run that stops in the middle of writing a
    /// line (a full disk, a crash) leaves one.
    pub torn_line: Option<FormatError>,
    /// Client completions that had no invocation open. A history of
    /// completions alone is how Elle's tests write transactions, which the
    /// transactional checks take as whole; any other check would leave
    /// them out, so it should refuse the history ([`read`] and
    /// [`read_auto`] let them pass).
    pub lone_completions: LoneCompletions,
}

/// Reads `text` as `format`, or as the format detected when `None`, as
/// [`read`] and [`read_auto`] do, except that the last line of a JSONL
/// history, when it has no newline after it and is not an op, is left out
/// and reported in [`Reading::torn_line`] (for a warning) rather than
/// failing the whole file. A bad line elsewhere is still an error.
pub fn read_for_check(text: &str, format: Option<Format>) -> Result<Reading, FormatError> {
    match format {
        Some(format) => read_as(text, format, true),
        None => read_detected(text, true),
    }
}

fn read_as(text: &str, format: Format, torn_ok: bool) -> Result<Reading, FormatError> {
    let hint = |e: FormatError| e.with_hint(&format!("reading as {format}, {}", format.example()));
    let mut torn_line = None;
    let (history, lone_completions) = match format {
        Format::Jsonl => read_jsonl(text, torn_ok).map(|(history, torn, lone)| {
            torn_line = torn;
            (history, lone)
        }),
        Format::Edn => jepsen_edn::read(text),
        Format::PorcupineEtcd => {
            porcupine_etcd::read(text).map(|h| (h, LoneCompletions::default()))
        }
        Format::PorcupineKv => porcupine_kv::read(text),
    }
    .map_err(hint)?;
    Ok(Reading {
        history,
        format,
        torn_line: torn_line.map(hint),
        lone_completions,
    })
}

/// Reads JSONL, leaving out a torn last line if `torn_ok`, and checks how
/// the ops pair up.
fn read_jsonl(
    text: &str,
    torn_ok: bool,
) -> Result<(History, Option<FormatError>, LoneCompletions), FormatError> {
    let (history, torn) = if torn_ok {
        History::from_jsonl_torn(text).map_err(jsonl_error)?
    } else {
        (History::from_jsonl(text).map_err(jsonl_error)?, None)
    };
    let lone = pairing::check_pairs(&history.ops, |k| jsonl_place(text, k))?;
    Ok((history, torn.map(jsonl_error), lone))
}

/// The line and column of the `k`th op of a JSONL text (its `k`th
/// non-blank line), for errors found after reading.
fn jsonl_place(text: &str, k: usize) -> (usize, usize) {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .nth(k)
        .map_or((1, 1), |(i, line)| {
            let blank = line.len() - line.trim_start().len();
            (i + 1, line[..blank].chars().count() + 1)
        })
}

/// A JSONL reading error as a [`FormatError`].
fn jsonl_error(e: crate::ReadError) -> FormatError {
    // serde_json repeats the position the error already carries.
    let suffix = format!(" at line 1 column {}", e.column);
    let message = e.message.strip_suffix(&suffix).unwrap_or(&e.message);
    FormatError {
        line: e.line,
        column: e.column,
        message: message.to_string(),
    }
}

fn read_detected(text: &str, torn_ok: bool) -> Result<Reading, FormatError> {
    let Some((line, column, first)) = first_content(text) else {
        return Err(FormatError {
            line: 1,
            column: 1,
            message: format!(
                "the history is empty: there is nothing to check; if an empty history is what you meant, pass --format ({})",
                choices()
            ),
        });
    };
    let Some(format) = detect(text) else {
        let shown: String = first.chars().take(60).collect();
        return Err(FormatError {
            line,
            column,
            message: format!(
                "cannot tell the history's format from `{shown}`: tried porcupine-etcd (lines start with `INFO  jepsen.util - `), jsonl (lines start with `{{\"`), edn and porcupine-kv (maps start with `{{:`, a vector with `[`, a record with `#jepsen`); pass --format ({}) to choose one",
                choices()
            ),
        });
    };
    read_as(text, format, torn_ok).map_err(|e| FormatError {
        message: format!(
            "{} (the format was detected from the first line; pass --format to choose another)",
            e.message
        ),
        ..e
    })
}

/// The first non-blank line: its number, the column of its first
/// non-blank character, and its text from there.
fn first_content(text: &str) -> Option<(usize, usize, &str)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let trimmed = line.trim_start();
        (!trimmed.trim_end().is_empty()).then(|| {
            let column = line[..line.len() - trimmed.len()].chars().count() + 1;
            (i + 1, column, trimmed.trim_end())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
        }
        assert_eq!("porcupine-kv".parse::<Format>(), Ok(Format::PorcupineKv));
        let e = "json".parse::<Format>().unwrap_err();
        assert!(e.contains("`json`"), "{e}");
        assert!(
            e.contains("jsonl, edn, porcupine-etcd or porcupine-kv"),
            "{e}"
        );
    }

    #[test]
    fn detects_each_format() {
        let etcd = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n";
        assert_eq!(detect(etcd), Some(Format::PorcupineEtcd));
        assert_eq!(detect("\n\n{\"process\":0}\n"), Some(Format::Jsonl));
        assert_eq!(detect("{ \"process\": 0 }"), Some(Format::Jsonl));
        assert_eq!(detect("{:process 0, :type :invoke}"), Some(Format::Edn));
        assert_eq!(detect("[{:process 0}]"), Some(Format::Edn));
        assert_eq!(detect("[\n  {:process 0}\n]"), Some(Format::Edn));
        assert_eq!(detect("#jepsen.history.Op{:index 0}"), Some(Format::Edn));
        assert_eq!(detect("; a comment\n{:process 0}"), Some(Format::Edn));
        let kv = "{:process 9, :type :invoke, :f :append, :key \"0\", :value \"x\"}";
        assert_eq!(detect(kv), Some(Format::PorcupineKv));
        assert_eq!(detect(&format!("[{kv}]")), Some(Format::PorcupineKv));
        assert_eq!(
            detect("{:process 0\n :key \"k\"}"),
            Some(Format::PorcupineKv)
        );
    }

    #[test]
    fn key_detection_wants_the_exact_keyword_in_the_first_map() {
        assert_eq!(detect("{:process 0, :keys [1]}"), Some(Format::Edn));
        assert_eq!(detect("{:process 0, :value :key}"), Some(Format::Edn));
        assert_eq!(
            detect("{:process 0}\n{:process 1, :key 2}"),
            Some(Format::Edn)
        );
    }

    #[test]
    fn detects_nothing_in_other_text() {
        assert_eq!(detect(""), None);
        assert_eq!(detect("  \n\t\n"), None);
        assert_eq!(detect("hello"), None);
        assert_eq!(detect("[{\"process\": 0}]"), None);
        assert_eq!(detect("INFO something else"), None);
        assert_eq!(detect("{}"), None);
    }

    #[test]
    fn read_wraps_jsonl_errors_with_their_position() {
        let text = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n\n{\"process\":0,\"type\":\"maybe\",\"f\":\"read\"}\n";
        let e = read(text, Format::Jsonl).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.column > 1);
        assert!(e.message.contains("maybe"), "{}", e.message);
        assert!(!e.message.contains("at line 1 column"), "{}", e.message);
        assert!(e.message.contains("reading as jsonl"), "{}", e.message);
        assert!(e.to_string().starts_with("line 3, column "), "{e}");
    }

    #[test]
    fn read_for_check_leaves_out_a_torn_jsonl_line() {
        let good = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n";
        let other = good.replace("\"process\":0", "\"process\":1");
        let text = format!("{good}{other}{{\"process\":2,\"ty");
        for format in [None, Some(Format::Jsonl)] {
            let r = read_for_check(&text, format).unwrap();
            assert_eq!((r.history.len(), r.format), (2, Format::Jsonl));
            let torn = r.torn_line.unwrap();
            assert_eq!(torn.line, 3);
            assert!(
                torn.message.contains("reading as jsonl"),
                "{}",
                torn.message
            );
            assert!(
                !torn.message.contains("at line 1 column"),
                "{}",
                torn.message
            );
        }
        // Strict reading refuses it, at the same place.
        let e = read(&text, Format::Jsonl).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(read_auto(&text).is_err());
        // Other formats are read as they are.
        let edn = "{:process 0, :type :invoke, :f :read}\n{:process 0, :ty";
        assert!(read_for_check(edn, None).is_err());
        let whole = read_for_check(&format!("{good}{other}"), None).unwrap();
        assert_eq!((whole.history.len(), whole.torn_line), (2, None));
    }

    #[test]
    fn read_auto_reports_the_format_and_detection() {
        let (h, format) = read_auto("{:process 0, :type :invoke, :f :read}\n").unwrap();
        assert_eq!(format, Format::Edn);
        assert_eq!(h.len(), 1);
        let e = read_auto(
            "{:process 0, :type :invoke, :f :read}\n{:process 0, :type :oops, :f :read}\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 20));
        assert!(e.message.contains("detected"), "{}", e.message);
        assert!(e.message.contains("reading as edn"), "{}", e.message);
    }

    #[test]
    fn read_auto_explains_an_undetectable_input() {
        let e = read_auto("\n\n   hello world\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 4));
        for tried in ["porcupine-etcd", "jsonl", "edn", "porcupine-kv", "--format"] {
            assert!(e.message.contains(tried), "{tried}: {}", e.message);
        }
        assert!(e.message.contains("hello world"), "{}", e.message);
    }

    #[test]
    fn read_auto_refuses_an_empty_input() {
        let e = read_auto(" \n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("empty"), "{}", e.message);
        assert!(read("", Format::PorcupineEtcd).unwrap().is_empty());
        assert!(read("", Format::Edn).unwrap().is_empty());
    }
}
