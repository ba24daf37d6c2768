//! The workbench's side of one node process's virtual clock.

use crate::layout::*;
use memmap2::{MmapMut, MmapOptions};
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

/// The environment variable naming the shared file for the library.
pub const ENV_PATH: &str = "LIGHTCONE_VTIME";

/// The preload library, compiled by build.rs from `preload/vtime.c`.
static LIBRARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/liblightcone_vtime.so"));

/// Writes the embedded preload library under `dir` as
/// `liblightcone_vtime-<content hash>.so`, once (an existing file of that name
/// is reused), and returns its path.
pub fn preload_library(dir: &Path) -> io::Result<PathBuf> {
    if LIBRARY.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "lightcone-vtime was built without its preload library (it is Linux and glibc only)",
        ));
    }
    let path = dir.join(format!("liblightcone_vtime-{:016x}.so", fnv1a(LIBRARY)));
    if fs::metadata(&path)
        .map(|m| m.len() == LIBRARY.len() as u64)
        .unwrap_or(false)
    {
        return Ok(path);
    }
    fs::create_dir_all(dir)?;
    // Write beside it and rename, so that a concurrent caller never maps a
    // half-written library.
    let partial = dir.join(format!(
        "liblightcone_vtime-{:016x}.so.partial-{}",
        fnv1a(LIBRARY),
        std::process::id()
    ));
    fs::write(&partial, LIBRARY).map_err(|e| annotate(e, "write the preload library", &partial))?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o755))?;
    fs::rename(&partial, &path).map_err(|e| annotate(e, "rename the preload library to", &path))?;
    Ok(path)
}

/// FNV-1a, 64 bits: a stable content name, no randomness.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn annotate(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("could not {what} {}: {e}", path.display()),
    )
}

/// The counters of one node process's clock, for results.json.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VtimeStats {
    /// Calls to clock_gettime (virtual clocks), gettimeofday, time, timespec_get.
    pub clock_read_count: u64,
    /// Calls to nanosleep, clock_nanosleep, usleep, sleep with a positive duration.
    pub sleep_count: u64,
    /// Timed waits on real objects (poll, select, epoll, semaphores, condvars).
    pub timed_wait_count: u64,
    /// Waits that found the slot table full and fell back to real time:
    /// nonzero means the run was not deterministic.
    pub table_full_count: u64,
    /// Signals the library sent to interrupt a timed wait at its deadline.
    pub kick_count: u64,
    /// Condvar broadcasts the library made at a waiter's deadline.
    pub broadcast_count: u64,
    /// Times the library's helper looked again after a real-time backoff
    /// because an interrupted waiter had not yet left its slot.
    pub kick_retry_count: u64,
}

/// What a registered wait is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitKind {
    /// nanosleep and friends: woken by the epoch futex.
    Sleep,
    /// poll, select, epoll, semaphores: woken by the real event or a signal.
    Signal,
    /// A condvar: woken by the real event or a broadcast.
    Condvar,
    /// A kind this crate does not know (a newer library).
    Other(u32),
}

/// One thread waiting for a virtual deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiter {
    pub pid: u32,
    pub tid: u32,
    pub kind: WaitKind,
    pub deadline_ns: u64,
}

/// The workbench's side of one node process's virtual clock: a shared file
/// holding `now_ns`, the epoch futex word, counters and [`SLOT_COUNT`] wait
/// slots.
///
/// Only the workbench writes the time; the library only reads it. Every
/// access goes through atomics in the shared mapping.
pub struct VirtualClock {
    map: MmapMut,
    path: PathBuf,
}

// SAFETY: every read and write of the mapping goes through atomic types;
// the mapping itself lives as long as `map`.
unsafe impl Send for VirtualClock {}
unsafe impl Sync for VirtualClock {}

impl VirtualClock {
    /// Creates (or truncates) the shared file at `path`, with virtual time 0.
    pub fn create(path: &Path) -> io::Result<VirtualClock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| annotate(e, "create the virtual clock file", path))?;
        file.set_len(FILE_BYTES as u64)?;
        // SAFETY: the file is ours, just sized; the library in the node maps
        // it too and only ever touches it through atomics.
        let mut map = unsafe { MmapOptions::new().len(FILE_BYTES).map_mut(&file) }
            .map_err(|e| annotate(e, "map the virtual clock file", path))?;
        map[OFF_MAGIC..OFF_MAGIC + 8].copy_from_slice(&MAGIC.to_le_bytes());
        map[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&VERSION.to_le_bytes());
        map[OFF_SLOT_COUNT..OFF_SLOT_COUNT + 4].copy_from_slice(&(SLOT_COUNT as u32).to_le_bytes());
        Ok(VirtualClock {
            map,
            path: path.to_path_buf(),
        })
    }

    /// The shared file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The variables to start the node with: LD_PRELOAD (the library before
    /// anything this process's own LD_PRELOAD holds) and LIGHTCONE_VTIME.
    pub fn env(&self, library: &Path) -> Vec<(String, String)> {
        self.env_over(library, std::env::var_os("LD_PRELOAD").as_deref())
    }

    /// [`VirtualClock::env`] over a given inherited LD_PRELOAD.
    pub fn env_over(&self, library: &Path, inherited: Option<&OsStr>) -> Vec<(String, String)> {
        let mut preload = library.to_string_lossy().into_owned();
        if let Some(rest) = inherited
            .map(|s| s.to_string_lossy())
            .filter(|s| !s.is_empty())
        {
            preload.push(':');
            preload.push_str(&rest);
        }
        vec![
            ("LD_PRELOAD".to_string(), preload),
            (
                ENV_PATH.to_string(),
                self.path.to_string_lossy().into_owned(),
            ),
        ]
    }

    fn u64_at(&self, offset: usize) -> &AtomicU64 {
        assert!(
            offset % 8 == 0 && offset + 8 <= FILE_BYTES,
            "offset {offset} inside the file, aligned"
        );
        // SAFETY: in bounds and aligned (asserted; the mapping is page aligned).
        unsafe { &*(self.map.as_ptr().add(offset) as *const AtomicU64) }
    }

    fn u32_at(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset % 4 == 0 && offset + 4 <= FILE_BYTES,
            "offset {offset} inside the file, aligned"
        );
        // SAFETY: as in u64_at.
        unsafe { &*(self.map.as_ptr().add(offset) as *const AtomicU32) }
    }

    fn i32_at(&self, offset: usize) -> &AtomicI32 {
        assert!(
            offset % 4 == 0 && offset + 4 <= FILE_BYTES,
            "offset {offset} inside the file, aligned"
        );
        // SAFETY: as in u64_at.
        unsafe { &*(self.map.as_ptr().add(offset) as *const AtomicI32) }
    }

    /// Virtual nanoseconds since the test began.
    pub fn now(&self) -> u64 {
        self.u64_at(OFF_NOW_NS).load(Ordering::Acquire)
    }

    /// Moves virtual time forward to `now_ns` (never back: an earlier value
    /// leaves it where it is) and wakes the node: its sleepers re-check their
    /// deadlines, and its helper thread interrupts the timed waits whose
    /// deadline is now past. Returns the time after the call.
    ///
    /// The wake is asynchronous: the node is done with this step when it is
    /// quiet again and [`VirtualClock::overdue`] is 0.
    pub fn advance_to(&self, now_ns: u64) -> u64 {
        let now = self
            .u64_at(OFF_NOW_NS)
            .fetch_max(now_ns, Ordering::AcqRel)
            .max(now_ns);
        let epoch = self.u32_at(OFF_EPOCH);
        epoch.fetch_add(1, Ordering::AcqRel);
        // SAFETY: FUTEX_WAKE on a word of the shared mapping; not
        // FUTEX_PRIVATE, because the waiters are in another process.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                epoch.as_ptr(),
                libc::FUTEX_WAKE,
                i32::MAX,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<u32>(),
                0u32,
            );
        }
        now
    }

    /// Every registered wait, in slot order.
    pub fn waiters(&self) -> Vec<Waiter> {
        let mut out = Vec::new();
        for i in 0..SLOT_COUNT {
            let base = HEADER_BYTES + i * SLOT_BYTES;
            // The library publishes the other fields before the state
            // (release), so an acquire load of a non-free state sees them.
            if self.u32_at(base + SLOT_OFF_STATE).load(Ordering::Acquire) == STATE_FREE {
                continue;
            }
            let kind = match self.u32_at(base + SLOT_OFF_KIND).load(Ordering::Relaxed) {
                KIND_SLEEP => WaitKind::Sleep,
                KIND_SIGNAL => WaitKind::Signal,
                KIND_CONDVAR => WaitKind::Condvar,
                other => WaitKind::Other(other),
            };
            out.push(Waiter {
                pid: self.i32_at(base + SLOT_OFF_PID).load(Ordering::Relaxed) as u32,
                tid: self.i32_at(base + SLOT_OFF_TID).load(Ordering::Relaxed) as u32,
                kind,
                deadline_ns: self
                    .u64_at(base + SLOT_OFF_DEADLINE_NS)
                    .load(Ordering::Relaxed),
            });
        }
        out
    }

    /// The earliest virtual deadline any thread of the node is waiting for.
    pub fn next_deadline(&self) -> Option<u64> {
        self.waiters().iter().map(|w| w.deadline_ns).min()
    }

    /// How many registered waits have a deadline at or before now: threads
    /// that virtual time has released but that have not run yet. A node with
    /// an overdue wait is not quiet, whatever /proc says.
    pub fn overdue(&self) -> usize {
        let now = self.now();
        self.waiters()
            .iter()
            .filter(|w| w.deadline_ns <= now)
            .count()
    }

    /// The process that loaded the library, if one did. A Go program or a
    /// static binary never does.
    pub fn attached_pid(&self) -> Option<u32> {
        match self.i32_at(OFF_ATTACHED_PID).load(Ordering::Acquire) {
            0 => None,
            pid => Some(pid as u32),
        }
    }

    /// Whether a process loaded the library and mapped this clock.
    pub fn attached(&self) -> bool {
        self.attached_pid().is_some()
    }

    /// The real-time signal the library interrupts timed waits with (0 until
    /// it attached).
    pub fn wake_signal(&self) -> i32 {
        self.i32_at(OFF_WAKE_SIGNAL).load(Ordering::Relaxed)
    }

    /// The library's counters.
    pub fn stats(&self) -> VtimeStats {
        let read = |offset| self.u64_at(offset).load(Ordering::Relaxed);
        VtimeStats {
            clock_read_count: read(OFF_CLOCK_READS),
            sleep_count: read(OFF_SLEEPS),
            timed_wait_count: read(OFF_TIMED_WAITS),
            table_full_count: read(OFF_TABLE_FULL),
            kick_count: read(OFF_KICKS),
            broadcast_count: read(OFF_BROADCASTS),
            kick_retry_count: read(OFF_KICK_RETRIES),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lightcone-vtime-unit-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn a_new_clock_is_at_zero_with_no_waiters_and_detached() {
        let clock = VirtualClock::create(&scratch("new.vtime")).unwrap();
        assert_eq!(clock.now(), 0);
        assert_eq!(clock.next_deadline(), None);
        assert_eq!(clock.overdue(), 0);
        assert!(!clock.attached());
        assert_eq!(clock.stats(), VtimeStats::default());
        assert_eq!(fs::metadata(clock.path()).unwrap().len(), FILE_BYTES as u64);
    }

    #[test]
    fn advance_to_never_moves_back() {
        let clock = VirtualClock::create(&scratch("monotone.vtime")).unwrap();
        assert_eq!(clock.advance_to(5), 5);
        assert_eq!(clock.advance_to(3), 5);
        assert_eq!(clock.now(), 5);
    }

    #[test]
    fn env_puts_the_library_first_in_ld_preload() {
        let clock = VirtualClock::create(&scratch("env.vtime")).unwrap();
        let env = clock.env_over(Path::new("/lib/v.so"), Some(OsStr::new("/other.so")));
        assert_eq!(
            env[0],
            ("LD_PRELOAD".to_string(), "/lib/v.so:/other.so".to_string())
        );
        assert_eq!(env[1].0, ENV_PATH);
        let env = clock.env_over(Path::new("/lib/v.so"), None);
        assert_eq!(env[0].1, "/lib/v.so");
    }

    #[test]
    fn the_library_is_written_once_under_a_content_name() {
        let dir = scratch("lib");
        let a = preload_library(&dir).unwrap();
        let b = preload_library(&dir).unwrap();
        assert_eq!(a, b);
        assert_eq!(fs::read(&a).unwrap(), LIBRARY);
    }
}
