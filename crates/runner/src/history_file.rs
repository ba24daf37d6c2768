//! history.jsonl on disk: whole lines only.
//!
//! The history is streamed as the run goes, so that a crash leaves a
//! prefix `lightcone check` can read. A buffered writer alone does not
//! keep that promise when a write fails: on a full disk `write(2)` stores
//! what fits and the rest of the buffer is lost, so the file ends inside a
//! line. [`WholeLines`] buffers whole lines, writes them out in one go, and
//! when a write fails cuts the file back to the end of the last whole line
//! before it returns the error.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

/// Bytes buffered before they are written out (whole lines only; a line
/// longer than this is written out on its own).
pub(crate) const BUFFER_BYTES: usize = 64 << 10;

/// A file that can be cut back to a length, the write position moving
/// with it.
pub(crate) trait Truncate: Write {
    fn truncate_to(&mut self, len: u64) -> io::Result<()>;
}

impl Truncate for File {
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        // set_len leaves the position where the failed write left it: a
        // later write there would leave a hole of zero bytes.
        self.seek(SeekFrom::Start(len)).map(drop)
    }
}

/// A writer of lines that leaves only whole lines in its file, even when
/// a write fails part way.
pub(crate) struct WholeLines<F: Truncate> {
    file: F,
    /// Lines not yet written, and perhaps the start of one not yet ended.
    buffer: Vec<u8>,
    /// The length of the file: whole lines, all written.
    written: u64,
}

impl<F: Truncate> WholeLines<F> {
    /// Writes lines to `file`, which is empty (or holds `written` bytes of
    /// whole lines).
    pub(crate) fn new(file: F, written: u64) -> Self {
        WholeLines {
            file,
            buffer: Vec::with_capacity(BUFFER_BYTES),
            written,
        }
    }

    /// Writes out the buffer's whole lines. On an error the file is cut
    /// back to the end of the last whole line that reached it, and the
    /// lines that did not stay in the buffer.
    fn write_lines(&mut self) -> io::Result<()> {
        let Some(last) = self.buffer.iter().rposition(|&b| b == b'\n') else {
            return Ok(());
        };
        let lines = last + 1;
        let mut done = 0;
        let failed = loop {
            if done == lines {
                break None;
            }
            match self.file.write(&self.buffer[done..lines]) {
                Ok(0) => break Some(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        // The whole lines among the bytes that reached the file.
        let whole = match failed {
            None => lines,
            Some(_) => self.buffer[..done]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |end| end + 1),
        };
        self.written += whole as u64;
        self.buffer.drain(..whole);
        let Some(e) = failed else {
            return Ok(());
        };
        if done == whole {
            return Err(e);
        }
        match self.file.truncate_to(self.written) {
            Ok(()) => Err(e),
            Err(cut) => Err(io::Error::new(
                e.kind(),
                format!(
                    "{e}; and cutting the file back to its last whole line (byte {}) failed too: {cut}",
                    self.written
                ),
            )),
        }
    }

    #[cfg(test)]
    pub(crate) fn file_mut(&mut self) -> &mut F {
        &mut self.file
    }
}

impl<F: Truncate> Write for WholeLines<F> {
    /// Takes all of `data` or, on an error, none of it: a line written
    /// with one `write_all` is never split between the buffer and the
    /// caller.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buffer.len() >= BUFFER_BYTES {
            self.write_lines()?;
        }
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_lines()?;
        self.file.flush()
    }
}

impl<F: Truncate> Drop for WholeLines<F> {
    /// What a run that stops on an error has recorded still reaches the
    /// file, in whole lines (the error, if any, was the run's to report).
    fn drop(&mut self) {
        let _ = self.write_lines();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcone_history::{History, HistoryWriter, Op, OpType, Process};
    use serde_json::json;

    /// A disk that holds `room` bytes: a write that does not fit stores
    /// what fits, as `write(2)` does, and the next one fails with ENOSPC.
    struct SmallDisk {
        bytes: Vec<u8>,
        at: usize,
        room: usize,
    }

    impl Write for SmallDisk {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let free = self.room.saturating_sub(self.at);
            if free == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            let n = data.len().min(free);
            self.bytes.truncate(self.at);
            self.bytes.extend_from_slice(&data[..n]);
            self.at += n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Truncate for SmallDisk {
        fn truncate_to(&mut self, len: u64) -> io::Result<()> {
            self.bytes.truncate(len as usize);
            self.at = len as usize;
            Ok(())
        }
    }

    fn op(i: u64) -> Op {
        let kind = if i.is_multiple_of(2) {
            OpType::Invoke
        } else {
            OpType::Ok
        };
        let mut op = Op::new(Process::Client(i / 2 % 5), kind, "write", json!([i, "x"])).at(i);
        op.index = i;
        op
    }

    /// Writes ops until the disk is full; returns what the disk holds.
    fn fill(room: usize, flush_every: u64) -> (Vec<u8>, u64) {
        let disk = SmallDisk {
            bytes: Vec::new(),
            at: 0,
            room,
        };
        let mut writer = HistoryWriter::new(WholeLines::new(disk, 0));
        let mut i = 0;
        let failed = loop {
            let written = writer.write(&op(i)).and_then(|()| {
                if (i + 1).is_multiple_of(flush_every) {
                    writer.flush()
                } else {
                    Ok(())
                }
            });
            i += 1;
            if let Err(e) = written {
                break e;
            }
            assert!(i < 1_000_000, "the disk never filled");
        };
        assert_eq!(failed.raw_os_error(), Some(libc::ENOSPC), "{failed}");
        let mut lines = writer.into_inner();
        (std::mem::take(&mut lines.file_mut().bytes), i)
    }

    #[test]
    fn a_full_disk_leaves_whole_lines_only() {
        // Room for a part of a buffer, at many places within a line, with
        // flushes after every op and after many.
        for room in [
            0,
            1,
            50,
            1000,
            5000,
            BUFFER_BYTES + 33,
            3 * BUFFER_BYTES + 7,
        ] {
            for flush_every in [1, 7, u64::MAX] {
                let (bytes, tried) = fill(room, flush_every);
                assert!(bytes.len() <= room);
                assert!(
                    bytes.is_empty() || bytes.ends_with(b"\n"),
                    "room {room}, flush every {flush_every}: the file ends inside a line"
                );
                let text = String::from_utf8(bytes).unwrap();
                let history = History::from_jsonl(&text).unwrap();
                assert!((history.len() as u64) < tried);
                for (i, got) in history.ops.iter().enumerate() {
                    assert_eq!(got, &op(i as u64));
                }
            }
        }
    }

    #[test]
    fn a_real_file_is_cut_back_and_written_on_from_there() {
        /// A file that refuses writes past `room` bytes, after storing
        /// what fits.
        struct Quota {
            file: File,
            at: u64,
            room: u64,
        }
        impl Write for Quota {
            fn write(&mut self, data: &[u8]) -> io::Result<usize> {
                let free = self.room.saturating_sub(self.at) as usize;
                if free == 0 {
                    return Err(io::Error::from_raw_os_error(libc::ENOSPC));
                }
                let n = self.file.write(&data[..data.len().min(free)])?;
                self.at += n as u64;
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.file.flush()
            }
        }
        impl Truncate for Quota {
            fn truncate_to(&mut self, len: u64) -> io::Result<()> {
                self.at = len;
                self.file.truncate_to(len)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let file = File::create(&path).unwrap();
        let mut lines = WholeLines::new(
            Quota {
                file,
                at: 0,
                room: 30,
            },
            0,
        );
        lines.write_all(b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        lines
            .write_all(b"{\"c\":\"a long line that does not fit\"}\n")
            .unwrap();
        let e = lines.flush().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n{\"b\":2}\n");
        // Room again (the disk was cleared): the line is written whole,
        // after the others, with no hole.
        lines.file_mut().room = 1000;
        lines.flush().unwrap();
        drop(lines);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n{\"c\":\"a long line that does not fit\"}\n"
        );
    }
}
