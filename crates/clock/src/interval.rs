//! A bounded-uncertainty interval clock in the style of Spanner's TrueTime (Corbett et al.
//! 2012, "Spanner: Google's Globally-Distributed Database", section 3 and 4.1.2).
//!
//! `now()` returns an interval `[earliest, latest]` that contains absolute time, given that the
//! local clock is within `uncertainty_ns` of it. Two intervals that do not overlap order their
//! events in real time. A transaction that takes `s = now().latest` as its commit timestamp and
//! waits until `now().earliest > s` before making its writes visible ("commit wait") makes
//! timestamp order agree with real-time order (external consistency). The wait is about twice
//! the uncertainty, so the whole design rests on keeping the uncertainty small and bounded.

use serde::{Deserialize, Serialize};

/// An interval of absolute time, in nanoseconds, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeInterval {
    /// Absolute time is at least this.
    pub earliest_ns: u64,
    /// Absolute time is at most this.
    pub latest_ns: u64,
}

impl TimeInterval {
    /// Whether `time_ns` lies in the interval.
    pub fn contains(&self, time_ns: u64) -> bool {
        self.earliest_ns <= time_ns && time_ns <= self.latest_ns
    }

    /// Whether every time in `self` is before every time in `other`: then the events behind
    /// them are ordered in real time.
    pub fn before(&self, other: &Self) -> bool {
        self.latest_ns < other.earliest_ns
    }

    /// Twice the uncertainty, unless clipped at zero.
    pub fn width_ns(&self) -> u64 {
        self.latest_ns - self.earliest_ns
    }
}

/// TrueTime's API over a caller-supplied physical time with a fixed uncertainty bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IntervalClock {
    uncertainty_ns: u64,
}

impl IntervalClock {
    /// A clock whose local physical time is within `uncertainty_ns` of absolute time
    /// (TrueTime's epsilon).
    pub fn new(uncertainty_ns: u64) -> Self {
        Self { uncertainty_ns }
    }

    /// The uncertainty bound epsilon.
    pub fn uncertainty_ns(&self) -> u64 {
        self.uncertainty_ns
    }

    /// `TT.now()`: the interval that contains absolute time when local physical time reads
    /// `physical_ns`.
    pub fn now(&self, physical_ns: u64) -> TimeInterval {
        TimeInterval {
            earliest_ns: physical_ns.saturating_sub(self.uncertainty_ns),
            latest_ns: physical_ns.saturating_add(self.uncertainty_ns),
        }
    }

    /// `TT.after(t)`: absolute time has certainly passed `time_ns`.
    pub fn after(&self, time_ns: u64, physical_ns: u64) -> bool {
        time_ns < self.now(physical_ns).earliest_ns
    }

    /// `TT.before(t)`: absolute time has certainly not reached `time_ns`.
    pub fn before(&self, time_ns: u64, physical_ns: u64) -> bool {
        time_ns > self.now(physical_ns).latest_ns
    }

    /// A commit timestamp chosen at `physical_ns`: no smaller than any time that may already
    /// have passed (section 4.1.2, "Start").
    pub fn commit_timestamp(&self, physical_ns: u64) -> u64 {
        self.now(physical_ns).latest_ns
    }

    /// The first local physical time at which `after(commit_ns)` holds: when a commit stamped
    /// `commit_ns` may become visible (section 4.1.2, "Commit Wait").
    pub fn commit_wait_until(&self, commit_ns: u64) -> u64 {
        commit_ns
            .saturating_add(self.uncertainty_ns)
            .saturating_add(1)
    }

    /// How much longer a commit stamped `commit_ns` must wait at `physical_ns`; zero when the
    /// wait is over. A node sets a timer for this long.
    pub fn commit_wait_ns(&self, commit_ns: u64, physical_ns: u64) -> u64 {
        self.commit_wait_until(commit_ns)
            .saturating_sub(physical_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_brackets_physical_time() {
        let clock = IntervalClock::new(7);
        let interval = clock.now(100);
        assert_eq!(
            interval,
            TimeInterval {
                earliest_ns: 93,
                latest_ns: 107
            }
        );
        assert!(interval.contains(100));
        assert_eq!(interval.width_ns(), 14);
        assert_eq!(clock.now(3).earliest_ns, 0);
    }

    #[test]
    fn commit_wait_makes_timestamps_agree_with_real_time() {
        let clock = IntervalClock::new(10);
        let commit = clock.commit_timestamp(1_000);
        assert_eq!(commit, 1_010);
        assert!(!clock.after(commit, 1_000));
        assert_eq!(clock.commit_wait_ns(commit, 1_000), 21);
        let visible_at = clock.commit_wait_until(commit);
        assert!(clock.after(commit, visible_at));
        assert!(!clock.after(commit, visible_at - 1));
        assert_eq!(clock.commit_wait_ns(commit, visible_at), 0);
        // Any node (with the same bound) that starts after the commit became visible picks a
        // larger timestamp, whatever its own error within the bound.
        let true_time = visible_at - 10;
        for error in [-10i64, 0, 10] {
            let reading = (true_time as i64 + error) as u64;
            assert!(clock.commit_timestamp(reading) > commit);
        }
        assert!(clock.before(2_000, 1_000));
    }
}
