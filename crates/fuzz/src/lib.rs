//! Seeded mutation fuzzing of lightcone's parsers.
//!
//! A [`Target`] is a parser and a corpus of valid inputs. Case `k` of a
//! campaign seeded with `s` mutates one corpus entry with the generator
//! `Rng::new(s, k)` ([`Mutator`]: byte flips, byte sets, insertions of
//! random bytes or of the target's tokens, deletions, splices from other
//! entries, truncations, duplications and huge repeats), so any case can be
//! made again from its seed and number alone. [`run`] feeds each case to
//! the parser and asserts three things:
//!
//! - no panic: each case runs under `catch_unwind`; a panic is a
//!   [`Failure`] whose input is saved to a file;
//! - no hang: inputs are at most [`Limits::input_bytes_max`] long, and a
//!   watchdog thread saves the input of a case that runs longer than
//!   [`Limits::case_time_max`] and ends the process, saying which case;
//! - bounded memory: with a [`CountingAlloc`] as the global allocator, a
//!   case that allocates more at its peak than
//!   [`Limits::memory_bytes_max`] allows for its input is a failure.
//!
//! The campaigns themselves are in `tests/parsers.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use lightcone_rng::Rng;

/// A parser under test and what its inputs look like.
pub struct Target {
    pub name: &'static str,
    /// Valid inputs, mutated into cases.
    pub corpus: Vec<Vec<u8>>,
    /// Tokens of the format, inserted whole (`#_`, `\u00`, `":`...).
    pub tokens: Vec<&'static [u8]>,
    /// Parses one input. Errors are fine; a panic is not.
    pub parse: fn(&[u8]),
    /// A bound on this target's inputs below the campaign's, for inputs
    /// that cannot be longer (a command-line argument is at most 128 KiB
    /// on Linux).
    pub input_bytes_max: Option<usize>,
}

/// The bounds every case is held to.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Inputs are cut to this length.
    pub input_bytes_max: usize,
    /// A case still running after this long is a hang: the watchdog saves
    /// its input and ends the process.
    pub case_time_max: Duration,
    /// The most a case may allocate at its peak, per byte of input, and
    /// on top of that; checked only under a [`CountingAlloc`].
    pub memory_bytes_per_input_byte: usize,
    pub memory_bytes_extra: usize,
}

impl Limits {
    pub fn memory_bytes_max(&self, input_len: usize) -> usize {
        input_len
            .saturating_mul(self.memory_bytes_per_input_byte)
            .saturating_add(self.memory_bytes_extra)
    }
}

/// A case that broke an assertion.
#[derive(Debug, Clone)]
pub struct Failure {
    pub case: u64,
    pub input_path: PathBuf,
    pub what: String,
}

/// What a campaign found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub target: &'static str,
    pub seed: u64,
    pub cases: u64,
    pub failures: Vec<Failure>,
    /// The longest input, in bytes.
    pub input_bytes_max: usize,
    /// The slowest case, and its time.
    pub slowest: (u64, Duration),
    /// The most a case allocated at its peak per byte of its input (over
    /// inputs of at least 1 KiB), when memory was counted.
    pub memory_per_byte_max: Option<f64>,
    pub elapsed: Duration,
}

impl Outcome {
    /// One line for a person.
    pub fn summary(&self) -> String {
        let memory = match self.memory_per_byte_max {
            Some(m) => format!(", peak allocation at most {m:.1} bytes per input byte"),
            None => String::new(),
        };
        format!(
            "{}: {} cases (seed {}) in {:.1} s, {} failures; longest input {} bytes, slowest case {} ({:.1} ms){memory}",
            self.target,
            self.cases,
            self.seed,
            self.elapsed.as_secs_f64(),
            self.failures.len(),
            self.input_bytes_max,
            self.slowest.0,
            self.slowest.1.as_secs_f64() * 1000.0,
        )
    }
}

/// Makes the inputs of a target's cases.
pub struct Mutator<'t> {
    target: &'t Target,
    input_bytes_max: usize,
}

/// Bytes that mean something in one format or another.
const SPECIAL: &[u8] = b"{}[]()\"\\:,;#_ \n\t\r0123456789-+.eEN/M'`~^@!?*&%$|<>=";

impl<'t> Mutator<'t> {
    pub fn new(target: &'t Target, input_bytes_max: usize) -> Self {
        assert!(!target.corpus.is_empty(), "{} has no corpus", target.name);
        Mutator {
            target,
            input_bytes_max: target
                .input_bytes_max
                .map_or(input_bytes_max, |most| most.min(input_bytes_max)),
        }
    }

    /// The input of case `case` of a campaign seeded with `seed`.
    pub fn case(&self, seed: u64, case: u64) -> Vec<u8> {
        let mut rng = Rng::new(seed, case);
        let corpus = &self.target.corpus;
        let mut data = corpus[rng.below(corpus.len() as u64) as usize].clone();
        data.truncate(self.input_bytes_max);
        for _ in 0..=rng.below(8) {
            self.mutate(&mut rng, &mut data);
            data.truncate(self.input_bytes_max);
        }
        data
    }

    fn mutate(&self, rng: &mut Rng, data: &mut Vec<u8>) {
        let at = |rng: &mut Rng, data: &Vec<u8>| rng.below(data.len() as u64 + 1) as usize;
        match rng.below(10) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len() as u64) as usize;
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len() as u64) as usize;
                data[i] = if rng.below(2) == 0 {
                    SPECIAL[rng.below(SPECIAL.len() as u64) as usize]
                } else {
                    rng.below(256) as u8
                };
            }
            2 if !self.target.tokens.is_empty() => {
                let tokens = &self.target.tokens;
                let token = tokens[rng.below(tokens.len() as u64) as usize];
                let i = at(rng, data);
                data.splice(i..i, token.iter().copied());
            }
            3 => {
                let i = at(rng, data);
                let bytes: Vec<u8> = (0..=rng.below(8)).map(|_| rng.below(256) as u8).collect();
                data.splice(i..i, bytes);
            }
            4 if !data.is_empty() => {
                let (start, end) = range(rng, data.len());
                data.drain(start..end);
            }
            5 => {
                let corpus = &self.target.corpus;
                let other = &corpus[rng.below(corpus.len() as u64) as usize];
                if other.is_empty() {
                    return;
                }
                let (start, end) = range(rng, other.len());
                let i = at(rng, data);
                if rng.below(2) == 0 || i == data.len() {
                    data.splice(i..i, other[start..end].iter().copied());
                } else {
                    let j = (i + end - start).min(data.len());
                    data.splice(i..j, other[start..end].iter().copied());
                }
            }
            6 => {
                let i = at(rng, data);
                data.truncate(i);
            }
            7 if !data.is_empty() => {
                // A huge repeat: a short piece many times over.
                let start = rng.below(data.len() as u64) as usize;
                let end = (start + 1 + rng.below(32) as usize).min(data.len());
                let piece = data[start..end].to_vec();
                let times = 10usize.pow(1 + rng.below(5) as u32);
                let room = self.input_bytes_max.saturating_sub(data.len()) / piece.len();
                let repeated = piece.repeat(times.min(room));
                let i = at(rng, data);
                data.splice(i..i, repeated);
            }
            8 if !data.is_empty() => {
                let (start, end) = range(rng, data.len());
                let piece = data[start..end].to_vec();
                let i = at(rng, data);
                data.splice(i..i, piece);
            }
            _ => {
                // Nesting: the input inside a collection opener or two.
                let opener = [b"[".as_slice(), b"{", b"(", b"#{", b"{:value ["];
                let open = opener[rng.below(opener.len() as u64) as usize];
                let times = 1 + rng.below(200) as usize;
                let i = at(rng, data);
                data.splice(i..i, open.repeat(times));
            }
        }
    }
}

/// A random range of `0..len`, usually short.
fn range(rng: &mut Rng, len: usize) -> (usize, usize) {
    let start = rng.below(len as u64) as usize;
    let most = if rng.below(4) == 0 {
        len - start
    } else {
        16.min(len - start)
    };
    let end = start + 1 + rng.below(most as u64) as usize;
    (start, end.min(len))
}

/// A global allocator that counts the bytes allocated now and at their
/// peak, for the memory bound. Install it in a test binary with
/// `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc::new();`
pub struct CountingAlloc {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingAlloc {
    pub const fn new() -> Self {
        CountingAlloc {
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Starts a new peak from what is allocated now, which it returns.
    pub fn reset_peak(&self) -> usize {
        let now = self.now.load(Ordering::Relaxed);
        self.peak.store(now, Ordering::Relaxed);
        now
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn added(&self, bytes: usize) {
        let now = self.now.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        CountingAlloc::new()
    }
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counters are only read for the memory bound.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.added(layout.size());
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.now.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.added(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Both blocks are held while the old one is copied.
        self.added(new_size);
        let moved = System.realloc(ptr, layout, new_size);
        self.now.fetch_sub(layout.size(), Ordering::Relaxed);
        moved
    }
}

thread_local! {
    /// The message of a panic caught while fuzzing on this thread.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
    static FUZZING: RefCell<bool> = const { RefCell::new(false) };
}

/// Installs, once, a panic hook that keeps quiet about the panics of cases
/// (their message is kept for the failure) and passes any other to the
/// hook that was there.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if FUZZING.with(|f| *f.borrow()) {
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_string());
                CAUGHT.with(|c| *c.borrow_mut() = Some(format!("{message}{at}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Where a failing input of `target`'s case `case` is saved.
pub fn input_path(dir: &Path, target: &str, seed: u64, case: u64) -> PathBuf {
    dir.join(format!("{target}-seed{seed}-case{case}.bin"))
}

/// Runs cases `first..first + count` of `target`, seeded with `seed`.
/// Failing inputs are saved under `dir`. `alloc` is the global allocator
/// when it counts.
pub fn run(
    target: &Target,
    seed: u64,
    cases: std::ops::Range<u64>,
    limits: &Limits,
    dir: &Path,
    alloc: Option<&CountingAlloc>,
) -> Outcome {
    install_panic_hook();
    std::fs::create_dir_all(dir).expect("the failures folder can be made");
    let mutator = Mutator::new(target, limits.input_bytes_max);
    let began = Instant::now();
    let watch = Watchdog::start(target, seed, limits, dir);
    let mut outcome = Outcome {
        target: target.name,
        seed,
        cases: 0,
        failures: Vec::new(),
        input_bytes_max: 0,
        slowest: (0, Duration::ZERO),
        memory_per_byte_max: alloc.map(|_| 0.0),
        elapsed: Duration::ZERO,
    };
    for case in cases {
        let input = mutator.case(seed, case);
        outcome.cases += 1;
        outcome.input_bytes_max = outcome.input_bytes_max.max(input.len());
        let before = alloc.map(CountingAlloc::reset_peak);
        watch.started(case);
        let case_began = Instant::now();
        FUZZING.with(|f| *f.borrow_mut() = true);
        let result = panic::catch_unwind(AssertUnwindSafe(|| (target.parse)(&input)));
        FUZZING.with(|f| *f.borrow_mut() = false);
        let took = case_began.elapsed();
        watch.finished();
        if took > outcome.slowest.1 {
            outcome.slowest = (case, took);
        }
        let mut what = Vec::new();
        if result.is_err() {
            let message = CAUGHT.with(|c| c.borrow_mut().take()).unwrap_or_default();
            what.push(format!("panicked: {message}"));
        }
        if let (Some(alloc), Some(before)) = (alloc, before) {
            let peak = alloc.peak().saturating_sub(before);
            if input.len() >= 1024 {
                let per_byte = peak as f64 / input.len() as f64;
                let most = outcome.memory_per_byte_max.get_or_insert(0.0);
                *most = most.max(per_byte);
            }
            let allowed = limits.memory_bytes_max(input.len());
            if peak > allowed {
                what.push(format!(
                    "allocated {peak} bytes at its peak for {} bytes of input (allowed {allowed})",
                    input.len()
                ));
            }
        }
        if !what.is_empty() {
            let path = input_path(dir, target.name, seed, case);
            std::fs::write(&path, &input).expect("a failing input can be saved");
            outcome.failures.push(Failure {
                case,
                input_path: path,
                what: what.join("; "),
            });
        }
    }
    outcome.elapsed = began.elapsed();
    outcome
}

/// Ends the process when a case runs past its time, after saving its
/// input: a hang cannot be caught like a panic.
struct Watchdog {
    shared: Arc<Watched>,
}

struct Watched {
    /// The case running, and since when (ms from `base`), or `u64::MAX`.
    case: AtomicU64,
    since_ms: AtomicU64,
    base: Instant,
    done: AtomicBool,
}

impl Watchdog {
    fn start(target: &Target, seed: u64, limits: &Limits, dir: &Path) -> Watchdog {
        let shared = Arc::new(Watched {
            case: AtomicU64::new(u64::MAX),
            since_ms: AtomicU64::new(0),
            base: Instant::now(),
            done: AtomicBool::new(false),
        });
        let watched = Arc::clone(&shared);
        let (name, corpus, tokens, parse, most) = (
            target.name,
            target.corpus.clone(),
            target.tokens.clone(),
            target.parse,
            target.input_bytes_max,
        );
        let (limit, input_bytes_max, dir) = (
            limits.case_time_max,
            limits.input_bytes_max,
            dir.to_path_buf(),
        );
        std::thread::Builder::new()
            .name(format!("fuzz-watchdog-{name}"))
            .spawn(move || {
                let target = Target {
                    name,
                    corpus,
                    tokens,
                    parse,
                    input_bytes_max: most,
                };
                while !watched.done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    let case = watched.case.load(Ordering::Relaxed);
                    let since = watched.since_ms.load(Ordering::Relaxed);
                    let now = watched.base.elapsed().as_millis() as u64;
                    if case != u64::MAX && now.saturating_sub(since) > limit.as_millis() as u64 {
                        let input = Mutator::new(&target, input_bytes_max).case(seed, case);
                        let path = input_path(&dir, name, seed, case);
                        let _ = std::fs::write(&path, input);
                        eprintln!(
                            "FUZZ HANG: {name} case {case} (seed {seed}) has run for more than {:.1} s; its input is saved to {}; replay it with LIGHTCONE_FUZZ_REPLAY={name}:{seed}:{case} LIGHTCONE_FUZZ_INPUT_BYTES_MAX={input_bytes_max}",
                            limit.as_secs_f64(),
                            path.display()
                        );
                        std::process::exit(101);
                    }
                }
            })
            .expect("the watchdog thread starts");
        Watchdog { shared }
    }

    fn started(&self, case: u64) {
        let now = self.shared.base.elapsed().as_millis() as u64;
        self.shared.since_ms.store(now, Ordering::Relaxed);
        self.shared.case.store(case, Ordering::Relaxed);
    }

    fn finished(&self) {
        self.shared.case.store(u64::MAX, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.done.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            name: "test",
            corpus: vec![b"{:a [1 2]}".to_vec(), b"[\"x\", 3]".to_vec()],
            tokens: vec![b"#_", b"\\u00"],
            parse: |input| {
                if input.starts_with(b"PANIC") {
                    panic!("asked to");
                }
            },
            input_bytes_max: None,
        }
    }

    #[test]
    fn cases_are_made_again_from_seed_and_number() {
        let t = target();
        let m = Mutator::new(&t, 4096);
        for case in 0..200 {
            let a = m.case(7, case);
            assert_eq!(a, m.case(7, case));
            assert!(a.len() <= 4096);
        }
        assert!((0..50).any(|case| m.case(7, case) != m.case(8, case)));
    }

    #[test]
    fn a_panic_is_a_failure_with_its_input_saved() {
        let mut t = target();
        t.corpus = vec![b"PANIC".to_vec()];
        // Only the mutations that keep the prefix panic; some will.
        let dir = std::env::temp_dir().join(format!("lightcone-fuzz-{}", std::process::id()));
        let limits = Limits {
            input_bytes_max: 1024,
            case_time_max: Duration::from_secs(10),
            memory_bytes_per_input_byte: 1000,
            memory_bytes_extra: 1 << 20,
        };
        let out = run(&t, 1, 0..100, &limits, &dir, None);
        assert_eq!(out.cases, 100);
        assert!(!out.failures.is_empty());
        let f = &out.failures[0];
        assert!(f.what.contains("panicked: asked to"), "{}", f.what);
        let saved = std::fs::read(&f.input_path).unwrap();
        assert_eq!(saved, Mutator::new(&t, 1024).case(1, f.case));
        let _ = std::fs::remove_dir_all(dir);
    }
}
