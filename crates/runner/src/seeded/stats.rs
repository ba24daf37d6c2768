//! What waiting for foreign node processes cost: counted per process,
//! added up per run (or sweep), reported in workbench.json.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Reasons for failed starts kept for the report.
pub(super) const START_FAILURES_KEPT: usize = 8;
/// Lines a process may have printed and not yet sent (their handling time
/// not passed); more are dropped and counted.
pub(super) const HELD_LINES_MAX: usize = 1_000_000;

/// What waiting for quiescence cost, over every node of a run (or sweep).
#[derive(Debug)]
pub struct SettleStats {
    pub(super) settles: u64,
    pub(super) timeouts: u64,
    pub(super) looks: u64,
    /// Wall time from an event to quiet, in µs.
    pub(super) wall_us: Histogram<u64>,
    /// Settles at whose end some thread was asleep on a timer.
    pub(super) timer_sleeps: u64,
    /// The call each thread was blocked in when its node went quiet.
    pub(super) blocked_in: BTreeMap<&'static str, u64>,
    pub(super) lines: u64,
    pub(super) malformed_lines: u64,
    pub(super) dropped_lines: u64,
    pub(super) starts: u64,
    /// The first few reasons a start failed, and how many did.
    pub(super) start_failures: Vec<String>,
    pub(super) start_failure_count: u64,
    pub(super) exits: u64,
    pub(super) clock: ClockTotals,
}

/// The virtual clocks of a run's processes, added up.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClockTotals {
    /// Processes that loaded the clock library, and that did not (a Go or
    /// static program: their timers run on the wall clock).
    pub attached_count: u64,
    pub not_attached_count: u64,
    pub clock_read_count: u64,
    pub sleep_count: u64,
    pub timed_wait_count: u64,
    /// Waits that found the library's table of waiting threads full and
    /// fell back to the wall clock: the run was not deterministic.
    pub table_full_count: u64,
}

impl ClockTotals {
    pub(super) fn add(&mut self, other: &ClockTotals) {
        self.attached_count += other.attached_count;
        self.not_attached_count += other.not_attached_count;
        self.clock_read_count += other.clock_read_count;
        self.sleep_count += other.sleep_count;
        self.timed_wait_count += other.timed_wait_count;
        self.table_full_count += other.table_full_count;
    }
}

impl Default for SettleStats {
    fn default() -> Self {
        SettleStats {
            settles: 0,
            timeouts: 0,
            looks: 0,
            wall_us: Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid bounds"),
            timer_sleeps: 0,
            blocked_in: BTreeMap::new(),
            lines: 0,
            malformed_lines: 0,
            dropped_lines: 0,
            starts: 0,
            start_failures: Vec::new(),
            start_failure_count: 0,
            exits: 0,
            clock: ClockTotals::default(),
        }
    }
}

impl SettleStats {
    pub(super) fn merge(&mut self, other: &SettleStats) {
        self.settles += other.settles;
        self.timeouts += other.timeouts;
        self.looks += other.looks;
        let _ = self.wall_us.add(&other.wall_us);
        self.timer_sleeps += other.timer_sleeps;
        for (k, v) in &other.blocked_in {
            *self.blocked_in.entry(k).or_default() += v;
        }
        self.lines += other.lines;
        self.malformed_lines += other.malformed_lines;
        self.dropped_lines += other.dropped_lines;
        self.starts += other.starts;
        self.start_failure_count += other.start_failure_count;
        let room = START_FAILURES_KEPT.saturating_sub(self.start_failures.len());
        self.start_failures
            .extend(other.start_failures.iter().take(room).cloned());
        self.exits += other.exits;
        self.clock.add(&other.clock);
    }

    /// The report of these statistics (workbench.json, the sweep's
    /// closing lines).
    pub fn report(&self, settle_timeout: Duration) -> SeededReport {
        let q = |p: f64| self.wall_us.value_at_quantile(p) as f64 / 1000.0;
        SeededReport {
            settle_count: self.settles,
            settle_timeout_count: self.timeouts,
            settle_timeout_ms: settle_timeout.as_secs_f64() * 1000.0,
            looks_per_settle: self.looks as f64 / self.settles.max(1) as f64,
            settle_ms: SettleQuantiles {
                p50: q(0.5),
                p99: q(0.99),
                max: self.wall_us.max() as f64 / 1000.0,
            },
            timer_sleep_count: self.timer_sleeps,
            blocked_in: self
                .blocked_in
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            line_count: self.lines,
            malformed_line_count: self.malformed_lines,
            dropped_line_count: self.dropped_lines,
            start_count: self.starts,
            start_failures: self.start_failures.clone(),
            start_failure_count: self.start_failure_count,
            exit_count: self.exits,
            virtual_clock: self.clock.clone(),
        }
    }
}

/// Waiting for quiescence, as reported.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SeededReport {
    /// Events after which a node was waited for.
    pub settle_count: u64,
    /// Waits that reached the bound and went on without quiet.
    pub settle_timeout_count: u64,
    pub settle_timeout_ms: f64,
    pub looks_per_settle: f64,
    /// Wall time from an event to quiet.
    pub settle_ms: SettleQuantiles,
    /// Quiet moments with a thread asleep on the wall clock (its timer
    /// will fire outside the seed's control).
    pub timer_sleep_count: u64,
    /// Threads' blocking calls at quiet moments, counted.
    pub blocked_in: BTreeMap<String, u64>,
    pub line_count: u64,
    pub malformed_line_count: u64,
    /// Lines dropped past the bound of lines printed and not yet sent.
    pub dropped_line_count: u64,
    pub start_count: u64,
    /// Starts that failed, and the first few reasons.
    pub start_failure_count: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_failures: Vec<String>,
    /// Node processes that exited by themselves.
    pub exit_count: u64,
    /// The processes' virtual clocks (all zero when they run on the wall
    /// clock).
    pub virtual_clock: ClockTotals,
}

#[derive(Debug, Clone, Serialize)]
pub struct SettleQuantiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl SeededReport {
    /// One line for people.
    pub fn sentence(&self) -> String {
        let blocked: Vec<String> = self
            .blocked_in
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "node processes: {} events waited for (median {:.2} ms, p99 {:.2} ms, max {:.1} ms; {:.1} looks each), \
             {} reached the {:.0} ms bound; threads at quiet blocked in: {}; {} quiet moments had a thread asleep on a wall-clock timer; {}",
            self.settle_count,
            self.settle_ms.p50,
            self.settle_ms.p99,
            self.settle_ms.max,
            self.looks_per_settle,
            self.settle_timeout_count,
            self.settle_timeout_ms,
            if blocked.is_empty() { "-".to_string() } else { blocked.join(", ") },
            self.timer_sleep_count,
            self.clock_sentence(),
        ) + &self.trouble_sentence()
    }

    /// What went wrong with the processes themselves, if anything.
    fn trouble_sentence(&self) -> String {
        let mut s = String::new();
        if let Some(first) = self.start_failures.first() {
            s += &format!(
                "; {} starts failed, the first: {first}",
                self.start_failures.len()
            );
        }
        if self.exit_count > 0 {
            s += &format!(
                "; {} processes exited by themselves (see node-logs/)",
                self.exit_count
            );
        }
        if self.malformed_line_count > 0 {
            s += &format!(
                "; {} stdout lines were not messages (see node-logs/)",
                self.malformed_line_count
            );
        }
        if self.dropped_line_count > 0 {
            s += &format!(
                "; {} lines dropped past the bound of {HELD_LINES_MAX} held",
                self.dropped_line_count
            );
        }
        s
    }

    fn clock_sentence(&self) -> String {
        let c = &self.virtual_clock;
        if c.attached_count == 0 && c.not_attached_count == 0 {
            return "timers on the wall clock (no virtual clock)".to_string();
        }
        let mut s = format!(
            "virtual clock in {} of {} processes ({} clock reads, {} sleeps, {} timed waits)",
            c.attached_count,
            c.attached_count + c.not_attached_count,
            c.clock_read_count,
            c.sleep_count,
            c.timed_wait_count
        );
        if c.not_attached_count > 0 {
            s += "; the others did not load it (Go or a static program?): their timers ran on the wall clock";
        }
        if c.table_full_count > 0 {
            s += &format!(
                "; {} waits found the clock's table full and ran on the wall clock: NOT deterministic",
                c.table_full_count
            );
        }
        s
    }
}
