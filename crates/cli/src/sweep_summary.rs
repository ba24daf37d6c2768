//! The sweep summary (`lightcone test --sim --seeds ... --sweep-out FILE`):
//! what one sweep, or one shard of a sweep, ran and found, as JSON, for
//! `lightcone merge` to add up across machines.
//!
//! The file is rewritten whole, atomically (a temporary file renamed over
//! it), when the sweep starts, at most once a second while seeds end, and
//! when it ends. A shard that is killed part-way (Ctrl-C, a scheduler's
//! time limit, a lost machine) so leaves a summary with `complete: false`
//! and every seed that had ended by its last rewrite: merging counts those
//! and names the seeds that never ran.

use std::fs::{self, File};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lightcone_core::{Validity, NANOS_PER_SEC};
use lightcone_runner::exit_code;
use lightcone_sim::SeedOutcome;
use serde::{Deserialize, Serialize};

/// The `format` field of a sweep summary.
pub const FORMAT: &str = "lightcone-sweep-summary";
/// The `format-version` field; a reader refuses any other.
pub const FORMAT_VERSION: u32 = 1;
/// The lightcone that wrote a summary: shards of one sweep must share it,
/// since a seed's run is only the same run in the same build.
pub const LIGHTCONE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Failures whose details (problem, replay command) a summary keeps: those
/// of the lowest failing seeds. Every failing seed is listed in
/// `failing-seeds` whatever their number, and its replay command is the
/// sweep command with `--seed S` for `--seeds A..B`.
pub const FAILURES_KEPT_MAX: usize = 1000;
/// The least time between two rewrites of the summary while a sweep runs.
const REWRITE_INTERVAL: Duration = Duration::from_secs(1);

/// A sweep's seeds, `start..end` (start included, end not).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedRange {
    pub start: u64,
    pub end: u64,
}

/// Shard `index` of `count` (the seeds whose position in the range modulo
/// `count` is `index`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardId {
    pub index: u64,
    pub count: u64,
}

/// Seeds counted by how they ended (aborted runs apart from the verdicts).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub seeds: u64,
    pub valid: u64,
    pub invalid: u64,
    pub unknown: u64,
    pub aborted: u64,
}

impl Counts {
    pub fn add_outcome(&mut self, o: &SeedOutcome) {
        self.seeds += 1;
        match (&o.aborted, o.valid) {
            (Some(_), _) => self.aborted += 1,
            (None, Validity::Valid) => self.valid += 1,
            (None, Validity::Invalid) => self.invalid += 1,
            (None, Validity::Unknown) => self.unknown += 1,
        }
    }

    pub fn add(&mut self, other: &Counts) {
        self.seeds += other.seeds;
        self.valid += other.valid;
        self.invalid += other.invalid;
        self.unknown += other.unknown;
        self.aborted += other.aborted;
    }

    /// A sweep's exit code: invalid beats aborted beats unknown.
    pub fn exit_code(&self) -> i32 {
        if self.invalid > 0 {
            exit_code::INVALID
        } else if self.aborted > 0 {
            exit_code::ABORTED
        } else if self.unknown > 0 {
            exit_code::UNKNOWN
        } else {
            exit_code::VALID
        }
    }

    /// "20 seeds: 19 valid, 1 invalid, 0 unknown, 0 aborted".
    pub fn sentence(&self) -> String {
        format!(
            "{} seeds: {} valid, {} invalid, {} unknown, {} aborted",
            self.seeds, self.valid, self.invalid, self.unknown, self.aborted
        )
    }
}

/// One failing seed (invalid, or aborted) and how to run it again.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Failure {
    pub seed: u64,
    /// `invalid`, or `unknown` for an aborted run.
    pub verdict: String,
    /// What failed: `aborted`, or the checker section (`workload`, `stats`
    /// ...), as shrinking keeps it.
    pub kind: String,
    /// The first problem (or why the run aborted), one line.
    pub problem: String,
    /// The command that replays this seed exactly.
    pub replay: String,
    /// The replay command of the shrunk run, when this seed was shrunk
    /// (a sweep shrinks its first failure unless `--no-shrink`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrunk_replay: Option<String>,
    /// What shrinking took away, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shrink_steps: Vec<String>,
}

/// What one sweep, or one shard of a sweep, ran and found.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct SweepSummary {
    pub format: String,
    pub format_version: u32,
    pub lightcone_version: String,
    /// A hash of the lightcone executable that ran the sweep
    /// (`fnv1a64:` and 16 hex digits); absent if it could not be read.
    /// Two builds of one version from different commits differ here (and
    /// so may two builds of one commit: the merge warns, it does not refuse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lightcone_binary: Option<String>,
    /// The whole sweep in canonical flags, without `--shard`: the
    /// configuration every shard of the sweep shares.
    pub sweep_command: String,
    /// This process's command line, as typed.
    pub command_line: String,
    pub seeds: SeedRange,
    pub shard: ShardId,
    /// The sweep ended (false while it runs, and in a killed shard's file).
    pub complete: bool,
    /// How many seeds this shard was to run.
    pub seeds_planned: u64,
    /// The seeds that ended, ascending.
    pub seeds_run: Vec<u64>,
    pub counts: Counts,
    /// Virtual seconds simulated, over all seeds run.
    pub virtual_s: f64,
    /// Wall-clock seconds from the sweep's start to this rewrite.
    pub wall_s: f64,
    pub threads: usize,
    /// Every failing seed (invalid or aborted), ascending.
    pub failing_seeds: Vec<u64>,
    /// The failures of the lowest [`FAILURES_KEPT_MAX`] failing seeds,
    /// ascending.
    pub failures: Vec<Failure>,
    /// The exit code of the seeds run so far, as `lightcone test` returns it.
    pub exit_code: i32,
}

impl SweepSummary {
    /// A summary of a sweep about to start: nothing run yet.
    pub fn start(
        sweep_command: String,
        seeds: SeedRange,
        shard: ShardId,
        seeds_planned: u64,
        threads: usize,
    ) -> SweepSummary {
        SweepSummary {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            lightcone_version: LIGHTCONE_VERSION.to_string(),
            lightcone_binary: None,
            sweep_command,
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
            seeds,
            shard,
            complete: false,
            seeds_planned,
            seeds_run: Vec::new(),
            counts: Counts::default(),
            virtual_s: 0.0,
            wall_s: 0.0,
            threads,
            failing_seeds: Vec::new(),
            failures: Vec::new(),
            exit_code: exit_code::VALID,
        }
    }

    /// Counts `o`, with `failure` when it failed (in the order seeds end:
    /// [`SweepSummary::sort`] puts them in seed order).
    pub fn add(&mut self, o: &SeedOutcome, failure: Option<Failure>) {
        self.seeds_run.push(o.seed);
        self.counts.add_outcome(o);
        self.virtual_s += o.virtual_ns as f64 / NANOS_PER_SEC as f64;
        if let Some(f) = failure {
            self.failing_seeds.push(f.seed);
            self.failures.push(f);
            // Amortized: trimmed to the lowest seeds when twice the bound.
            if self.failures.len() >= 2 * FAILURES_KEPT_MAX {
                self.trim_failures();
            }
        }
        self.exit_code = self.counts.exit_code();
    }

    fn trim_failures(&mut self) {
        self.failures.sort_by_key(|f| f.seed);
        self.failures.truncate(FAILURES_KEPT_MAX);
    }

    /// Seeds in order and failures trimmed to the bound, as the file has
    /// them.
    pub fn sort(&mut self) {
        self.seeds_run.sort_unstable();
        self.failing_seeds.sort_unstable();
        self.trim_failures();
    }
}

/// FNV-1a (64 bits) of this process's executable, or `None` if it cannot
/// be read. Read in blocks: a release binary is tens of MB.
fn binary_hash() -> Option<String> {
    let path = std::env::current_exe().ok()?;
    let mut file = std::io::BufReader::with_capacity(1 << 20, File::open(path).ok()?);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    loop {
        let block = file.fill_buf().ok()?;
        if block.is_empty() {
            break;
        }
        for &b in block {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let n = block.len();
        file.consume(n);
    }
    Some(format!("fnv1a64:{hash:016x}"))
}

/// Writes `summary` to `path` atomically: a reader sees the old file or
/// the new one, never half of one.
pub fn write_atomically(path: &Path, summary: &SweepSummary) -> Result<(), String> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let failed = |e: std::io::Error, what: &Path| {
        format!(
            "cannot write the sweep summary {}: {e}; give --sweep-out a file in a folder that \
             exists and can be written",
            what.display()
        )
    };
    let mut json = serde_json::to_vec_pretty(summary).expect("a sweep summary serializes");
    json.push(b'\n');
    let mut file = File::create(&tmp).map_err(|e| failed(e, &tmp))?;
    file.write_all(&json).map_err(|e| failed(e, &tmp))?;
    file.sync_all().map_err(|e| failed(e, &tmp))?;
    fs::rename(&tmp, path).map_err(|e| failed(e, path))
}

/// A sweep's summary as seeds end, rewritten to `path` (if any) at most
/// once every [`REWRITE_INTERVAL`].
pub struct SummaryRecorder {
    path: Option<PathBuf>,
    start: Instant,
    /// The summary, and when a rewrite last began.
    state: Mutex<(SweepSummary, Instant)>,
    /// Held while a rewrite writes, outside `state`, so that sweep threads
    /// do not wait on a slow disk; a rewrite due while one is writing is
    /// skipped.
    writing: Mutex<()>,
    /// A rewrite failed (reported once, not every second).
    failed: AtomicBool,
}

impl SummaryRecorder {
    /// Writes the empty summary once (with the executable's hash), so that
    /// a bad path is found before any seed runs.
    pub fn start(
        path: Option<PathBuf>,
        mut summary: SweepSummary,
    ) -> Result<SummaryRecorder, String> {
        if let Some(p) = &path {
            summary.lightcone_binary = binary_hash();
            write_atomically(p, &summary)?;
        }
        let now = Instant::now();
        Ok(SummaryRecorder {
            path,
            start: now,
            state: Mutex::new((summary, now)),
            writing: Mutex::new(()),
            failed: AtomicBool::new(false),
        })
    }

    /// Counts an ended seed; rewrites the file if the last rewrite is old
    /// enough. A failed rewrite is reported and the sweep goes on (the
    /// final write reports it again, and fails the sweep).
    pub fn record(&self, o: &SeedOutcome, failure: Option<Failure>) {
        let Some(path) = &self.path else {
            self.lock_state().0.add(o, failure);
            return;
        };
        let snapshot = {
            let mut state = self.lock_state();
            state.0.add(o, failure);
            if state.1.elapsed() < REWRITE_INTERVAL {
                return;
            }
            state.1 = Instant::now();
            state.0.clone()
        };
        let Ok(_writing) = self.writing.try_lock() else {
            return;
        };
        if let Err(e) = write_atomically(path, &self.as_of_now(snapshot)) {
            if !self.failed.swap(true, Ordering::Relaxed) {
                crate::flags::print_error(&e);
            }
        }
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, (SweepSummary, Instant)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `summary` sorted, with the wall time up to now.
    fn as_of_now(&self, mut summary: SweepSummary) -> SweepSummary {
        summary.sort();
        summary.wall_s = self.start.elapsed().as_secs_f64();
        summary
    }

    /// The summary so far, sorted, with the wall time up to now.
    pub fn summary(&self) -> SweepSummary {
        let summary = self.lock_state().0.clone();
        self.as_of_now(summary)
    }

    /// Writes the final summary (marked complete), after any rewrite.
    pub fn finish(&self, mut summary: SweepSummary) -> Result<(), String> {
        summary.complete = true;
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        match &self.path {
            Some(p) => write_atomically(p, &summary),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(seed: u64, valid: Validity) -> SeedOutcome {
        SeedOutcome {
            seed,
            valid,
            aborted: None,
            problems: vec![],
            virtual_ns: 2 * NANOS_PER_SEC,
            step_count: 1,
        }
    }

    #[test]
    fn a_summary_keeps_seeds_and_failures_in_order_and_reads_back() {
        let mut s = SweepSummary::start(
            "lightcone test --sim --seeds 0..8".into(),
            SeedRange { start: 0, end: 8 },
            ShardId { index: 1, count: 2 },
            4,
            2,
        );
        for seed in [7, 1, 5] {
            let failure = (seed != 5).then(|| Failure {
                seed,
                verdict: "invalid".into(),
                kind: "workload".into(),
                problem: "p".into(),
                replay: format!("lightcone test --seed {seed}"),
                shrunk_replay: None,
                shrink_steps: vec![],
            });
            let valid = if failure.is_some() {
                Validity::Invalid
            } else {
                Validity::Valid
            };
            s.add(&outcome(seed, valid), failure);
        }
        s.sort();
        assert_eq!(s.seeds_run, [1, 5, 7]);
        let failing: Vec<u64> = s.failures.iter().map(|f| f.seed).collect();
        assert_eq!(failing, [1, 7]);
        assert_eq!(s.failing_seeds, [1, 7]);
        assert_eq!((s.counts.valid, s.counts.invalid), (1, 2));
        assert_eq!(s.exit_code, exit_code::INVALID);
        assert_eq!(s.virtual_s, 6.0);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shard-1.json");
        write_atomically(&path, &s).unwrap();
        let back: SweepSummary = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(!dir.path().join("shard-1.json.tmp").exists());
        let err = write_atomically(&dir.path().join("no/such/folder.json"), &s).unwrap_err();
        assert!(err.contains("no/such/folder.json.tmp"), "{err}");
    }

    #[test]
    fn a_summary_keeps_the_details_of_the_lowest_failing_seeds_and_every_seed() {
        let mut s = SweepSummary::start(
            String::new(),
            SeedRange {
                start: 0,
                end: 10_000,
            },
            ShardId { index: 0, count: 1 },
            10_000,
            1,
        );
        for seed in (0..3 * FAILURES_KEPT_MAX as u64).rev() {
            let failure = Failure {
                seed,
                verdict: "invalid".into(),
                kind: "workload".into(),
                problem: String::new(),
                replay: String::new(),
                shrunk_replay: None,
                shrink_steps: vec![],
            };
            s.add(&outcome(seed, Validity::Invalid), Some(failure));
            assert!(s.failures.len() < 2 * FAILURES_KEPT_MAX);
        }
        s.sort();
        assert_eq!(s.failing_seeds.len(), 3 * FAILURES_KEPT_MAX);
        let kept: Vec<u64> = s.failures.iter().map(|f| f.seed).collect();
        assert_eq!(kept, (0..FAILURES_KEPT_MAX as u64).collect::<Vec<_>>());
    }
}
