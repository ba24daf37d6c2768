//! A write-ahead log file: an append-only sequence of checksummed records.
//!
//! A caller encodes everything one batch makes durable (for a Raft node,
//! what one `Ready` persists: entries, term and vote, a truncation) as one
//! payload, and [`Wal::append`] writes it as one record with one `write`
//! and one `fdatasync`. That replaces a file per key (temporary file,
//! fsync, rename, fsync of the folder) by one sequential write, and makes
//! the batch atomic: recovery sees all of it or none of it.
//!
//! # The file
//!
//! An 8-byte header, [`MAGIC`], and then records, each:
//!
//! ```text
//! length: u32   the payload's length in bytes, never 0
//! crc:    u32   CRC-32 (IEEE) of `offset` and the payload
//! offset: u64   where this record starts in the file
//! payload
//! ```
//!
//! All numbers are little-endian. The offset inside the checksum ties a
//! record to its place, so bytes left over from an older record (say after
//! a rewrite) never pass for a record elsewhere.
//!
//! # Recovery: a torn tail versus damage
//!
//! [`Wal::open`] reads records until the first offset that does not hold a
//! valid one. What follows decides what that means:
//!
//! * **No valid record anywhere after it: a torn tail.** Every append is
//!   fsynced before the next one starts, so only the last write can be
//!   torn by a crash, and its `append` never returned: nothing was
//!   acknowledged on its strength. The bytes from there on are cut off
//!   (and the cut fsynced), and the log goes on from there.
//! * **A valid record after it: damage.** A later record was written, and
//!   so the earlier one had been fsynced when it was: the disk or someone
//!   changed bytes that were durable. Dropping them silently could forget a
//!   vote or an acknowledged entry, which breaks Raft's safety, so `open`
//!   fails with [`Error::Corrupt`], naming the file and the offset and the
//!   two ways out (start the node afresh, or cut the file at that offset
//!   knowingly).
//!
//! # Bounds
//!
//! The file grows by one record per batch. The owner bounds it with
//! [`Wal::rewrite`]: it writes the live state as fresh records into a
//! temporary file, fsyncs it, renames it over the log and fsyncs the
//! folder, so a crash leaves the old or the new log. The owners in this
//! workspace rewrite when the file holds more than twice their live state
//! plus a fixed slack (see each owner's docs).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The first 8 bytes of every log file (format version 1).
pub const MAGIC: &[u8; 8] = b"LCWAL01\n";
/// Length (u32), checksum (u32) and offset (u64) before each payload.
pub const RECORD_HEADER_LEN: u64 = 16;
/// The largest payload a record may carry (1 GiB): a larger length field
/// is read as damage, not as a record to allocate for.
pub const PAYLOAD_LEN_MAX: usize = 1 << 30;
/// Garbage a log may hold beyond its live data before its owner rewrites
/// it ([`Wal::outgrown`]).
pub const REWRITE_SLACK_BYTES: u64 = 1 << 20;

/// What can go wrong with a log file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("write-ahead log I/O failed on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with [`MAGIC`].
    #[error(
        "{} is not a lightcone write-ahead log (its first bytes are not {MAGIC:?}); \
         move it away, or point the node at another folder",
        path.display()
    )]
    NotAWal { path: PathBuf },
    /// A record in the middle of the log fails its checksum while a valid
    /// record follows it: durable bytes were damaged.
    #[error(
        "write-ahead log {} is damaged at byte {offset}: {detail}, and a valid record follows \
         at byte {next_valid}, so this is not a torn write from a crash; remove the node's \
         folder to start it afresh (it catches up from its peers), or truncate the file to \
         {offset} bytes to keep only the records before the damage",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        next_valid: u64,
        detail: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// An open log file, positioned at its end.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    file: File,
    /// The file's length: where the next record goes.
    len: u64,
    /// Reused for each record's bytes.
    buffer: Vec<u8>,
    sync_count: u64,
}

/// What [`Wal::open`] found.
#[derive(Debug)]
pub struct Recovered {
    /// The valid records' payloads, in the order they were appended.
    pub payloads: Vec<Vec<u8>>,
    /// Bytes cut off after the last valid record (a torn tail), 0 if none.
    pub torn_bytes: u64,
}

impl Wal {
    /// Opens the log at `path`, creating it (with its folder) if it does
    /// not exist, and returns the payloads it holds. A torn tail is cut
    /// off; damage in the middle is an error (see the crate docs).
    pub fn open(path: impl AsRef<Path>) -> Result<(Wal, Recovered)> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        }
        if !path.exists() {
            write_file_atomically(&path, MAGIC)?;
        }
        let bytes = read_file(&path)?;
        if !bytes.starts_with(MAGIC) {
            return Err(Error::NotAWal { path });
        }
        let (payloads, end) = scan(&path, &bytes)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| io_error(&path, source))?;
        let torn_bytes = bytes.len() as u64 - end;
        if torn_bytes > 0 {
            file.set_len(end)
                .and_then(|()| file.sync_all())
                .map_err(|source| io_error(&path, source))?;
        }
        file.seek(SeekFrom::Start(end))
            .map_err(|source| io_error(&path, source))?;
        let wal = Wal {
            path,
            file,
            len: end,
            buffer: Vec::new(),
            sync_count: 0,
        };
        Ok((
            wal,
            Recovered {
                payloads,
                torn_bytes,
            },
        ))
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.len
    }

    /// Whether the file has outgrown the `live_bytes` a rewrite would
    /// write: it is longer than twice that plus [`REWRITE_SLACK_BYTES`].
    /// Owners that rewrite when it has keep their log within about twice
    /// its live data plus 1 MiB.
    pub fn outgrown(&self, live_bytes: u64) -> bool {
        self.len > 2 * live_bytes + REWRITE_SLACK_BYTES
    }

    /// How many times this handle fsynced (appends and rewrites).
    pub fn sync_count(&self) -> u64 {
        self.sync_count
    }

    /// Appends `payload` as one record: one write, one `fdatasync`. Durable
    /// when it returns.
    ///
    /// Panics if `payload` is empty or longer than [`PAYLOAD_LEN_MAX`] (the
    /// owner encodes at least one change per batch).
    pub fn append(&mut self, payload: &[u8]) -> Result<()> {
        self.buffer.clear();
        encode_record(self.len, payload, &mut self.buffer);
        let written = self
            .file
            .write_all(&self.buffer)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // Leave no half record behind to be read as the next one's
            // start, and write the next one where this one began; if even
            // this fails, recovery treats the bytes as a torn tail.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(io_error(&self.path, source));
        }
        self.sync_count += 1;
        self.len += self.buffer.len() as u64;
        Ok(())
    }

    /// Creates the log at `path` holding `payloads`, replacing any file
    /// there, atomically: the file appears whole or not at all (a crash
    /// leaves the old file, or none). For an owner that moves state from
    /// another format into a log.
    pub fn create<'a>(
        path: impl AsRef<Path>,
        payloads: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Wal> {
        let path = path.as_ref().to_path_buf();
        let bytes = encode_log(payloads);
        write_file_atomically(&path, &bytes)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|source| io_error(&path, source))?;
        Ok(Wal {
            path,
            file,
            len: bytes.len() as u64,
            buffer: Vec::new(),
            sync_count: 2,
        })
    }

    /// Replaces the whole log by `payloads` (the owner's live state),
    /// atomically: a crash leaves either the old log or the new one.
    pub fn rewrite<'a>(&mut self, payloads: impl IntoIterator<Item = &'a [u8]>) -> Result<()> {
        let sync_count = self.sync_count;
        *self = Wal::create(&self.path, payloads)?;
        self.sync_count += sync_count;
        Ok(())
    }
}

/// The header and the records of `payloads`: a whole log file.
fn encode_log<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    for payload in payloads {
        let at = bytes.len() as u64;
        encode_record(at, payload, &mut bytes);
    }
    bytes
}

/// Appends the record of `payload`, to be placed at `offset`, to `out`.
fn encode_record(offset: u64, payload: &[u8], out: &mut Vec<u8>) {
    assert!(
        !payload.is_empty() && payload.len() <= PAYLOAD_LEN_MAX,
        "a record's payload holds 1 to {PAYLOAD_LEN_MAX} bytes, not {}",
        payload.len()
    );
    let mut crc = crc32fast::Hasher::new();
    crc.update(&offset.to_le_bytes());
    crc.update(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The payload of the valid record at `offset` and the offset after it,
/// or why there is none.
fn decode_record(bytes: &[u8], offset: u64) -> std::result::Result<(&[u8], u64), String> {
    let at = offset as usize;
    let Some(header) = bytes.get(at..at + RECORD_HEADER_LEN as usize) else {
        return Err(format!(
            "a record header needs {RECORD_HEADER_LEN} bytes, {} are left",
            bytes.len().saturating_sub(at)
        ));
    };
    let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    let stored_offset = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
    if len == 0 || len > PAYLOAD_LEN_MAX {
        return Err(format!("the record length {len} is out of range"));
    }
    if stored_offset != offset {
        return Err(format!("the record says it starts at byte {stored_offset}"));
    }
    let start = at + RECORD_HEADER_LEN as usize;
    let Some(payload) = bytes.get(start..start + len) else {
        return Err(format!(
            "the record is {len} bytes long and only {} are left",
            bytes.len() - start
        ));
    };
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header[8..16]);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return Err("the record fails its checksum".to_string());
    }
    Ok((payload, (start + len) as u64))
}

/// Reads the records after the header. Returns the payloads and where the
/// valid records end.
fn scan(path: &Path, bytes: &[u8]) -> Result<(Vec<Vec<u8>>, u64)> {
    let mut payloads = Vec::new();
    let mut at = MAGIC.len() as u64;
    while at < bytes.len() as u64 {
        match decode_record(bytes, at) {
            Ok((payload, next)) => {
                payloads.push(payload.to_vec());
                at = next;
            }
            Err(detail) => {
                if let Some(next_valid) = next_valid_record(bytes, at + 1) {
                    return Err(Error::Corrupt {
                        path: path.to_path_buf(),
                        offset: at,
                        next_valid,
                        detail,
                    });
                }
                break;
            }
        }
    }
    Ok((payloads, at))
}

/// The first offset at or after `from` that holds a valid record. Only
/// offsets whose header names them are checksummed, so this is one pass.
fn next_valid_record(bytes: &[u8], from: u64) -> Option<u64> {
    let last = bytes.len().checked_sub(RECORD_HEADER_LEN as usize)? as u64;
    (from..=last).find(|&at| {
        let field = at as usize + 8;
        bytes[field..field + 8] == at.to_le_bytes() && decode_record(bytes, at).is_ok()
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|source| io_error(path, source))?;
    Ok(bytes)
}

/// Replaces `path` by `bytes` so that a crash leaves the old or the new
/// contents: temporary file, fsync, rename, fsync of the folder.
fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|source| io_error(path, source))
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &Path) -> (Wal, Vec<Vec<u8>>) {
        let (wal, recovered) = Wal::open(path).unwrap();
        (wal, recovered.payloads)
    }

    #[test]
    fn appended_records_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, payloads) = open(&path);
        assert!(payloads.is_empty());
        wal.append(b"one").unwrap();
        wal.append(b"two").unwrap();
        assert_eq!(wal.sync_count(), 2);
        drop(wal);
        let (_, payloads) = open(&path);
        assert_eq!(payloads, [b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_the_log_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = open(&path);
        wal.append(b"kept").unwrap();
        wal.append(b"torn by the crash").unwrap();
        let len = wal.len_bytes();
        drop(wal);
        for cut in 1..(RECORD_HEADER_LEN + 17) {
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(len - cut).unwrap();
            drop(file);
            let (wal, recovered) = Wal::open(&path).unwrap();
            assert_eq!(recovered.payloads, [b"kept".to_vec()], "cut {cut}");
            assert_eq!(wal.len_bytes(), 8 + RECORD_HEADER_LEN + 4);
            // Put the torn record back whole for the next cut.
            let mut wal = wal;
            wal.append(b"torn by the crash").unwrap();
        }
        let (mut wal, _) = open(&path);
        wal.append(b"after").unwrap();
        drop(wal);
        let (_, payloads) = open(&path);
        assert_eq!(payloads.len(), 3);
    }

    #[test]
    fn garbage_or_zeros_after_the_last_record_are_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = open(&path);
        wal.append(b"kept").unwrap();
        drop(wal);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[0; 4096]).unwrap();
        file.write_all(b"some garbage that is no record").unwrap();
        drop(file);
        let (wal, recovered) = Wal::open(&path).unwrap();
        assert_eq!(recovered.payloads, [b"kept".to_vec()]);
        assert_eq!(recovered.torn_bytes, 4096 + 30);
        assert_eq!(fs::metadata(&path).unwrap().len(), wal.len_bytes());
    }

    #[test]
    fn damage_before_a_valid_record_names_the_file_offset_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = open(&path);
        wal.append(b"first").unwrap();
        let second = wal.len_bytes();
        wal.append(b"second").unwrap();
        wal.append(b"third").unwrap();
        drop(wal);
        let mut bytes = fs::read(&path).unwrap();
        bytes[second as usize + RECORD_HEADER_LEN as usize] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let error = Wal::open(&path).unwrap_err();
        let Error::Corrupt { offset, .. } = &error else {
            panic!("expected Corrupt, got {error}");
        };
        assert_eq!(*offset, second);
        let text = error.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(&format!("byte {second}")), "{text}");
        assert!(text.contains("remove the node's folder"), "{text}");
        // The file is left as it was for a person to look at.
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn a_rewrite_replaces_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        let (mut wal, _) = open(&path);
        for i in 0..100u8 {
            wal.append(&[i; 100]).unwrap();
        }
        wal.rewrite([&b"live"[..], b"state"]).unwrap();
        wal.append(b"next").unwrap();
        assert_eq!(
            wal.len_bytes(),
            fs::metadata(&path).unwrap().len(),
            "the handle writes to the new file"
        );
        drop(wal);
        let (_, payloads) = open(&path);
        assert_eq!(
            payloads,
            [b"live".to_vec(), b"state".to_vec(), b"next".to_vec()]
        );
    }

    #[test]
    fn a_file_that_is_not_a_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        fs::write(&path, b"hello\nworld").unwrap();
        let error = Wal::open(&path).unwrap_err();
        assert!(matches!(error, Error::NotAWal { .. }), "{error}");
    }
}
