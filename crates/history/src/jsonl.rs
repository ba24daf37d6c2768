use std::io::{self, Write};

use crate::{History, Op};

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
    /// renumbered in file order.
    pub fn from_jsonl(text: &str) -> Result<History, ReadError> {
        let mut history = History::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let op: Op = serde_json::from_str(line).map_err(|e| ReadError {
                line: i + 1,
                column: e.column(),
                message: e.to_string(),
            })?;
            history.push(op);
        }
        Ok(history)
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

/// Streams ops to a writer as they happen, numbering them.
pub struct HistoryWriter<W: Write> {
    out: W,
    next_index: u64,
}

impl<W: Write> HistoryWriter<W> {
    pub fn new(out: W) -> Self {
        HistoryWriter { out, next_index: 0 }
    }

    /// Writes one op (renumbered) and returns it as written.
    pub fn append(&mut self, mut op: Op) -> io::Result<Op> {
        op.index = self.next_index;
        self.next_index += 1;
        serde_json::to_writer(&mut self.out, &op)?;
        self.out.write_all(b"\n")?;
        Ok(op)
    }

    /// Writes one op as it is, keeping its index (for ops already
    /// numbered, such as the workbench's).
    pub fn write(&mut self, op: &Op) -> io::Result<()> {
        self.next_index = op.index + 1;
        serde_json::to_writer(&mut self.out, op)?;
        self.out.write_all(b"\n")
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
    use serde_json::json;

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
}
