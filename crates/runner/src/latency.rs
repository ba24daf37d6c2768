//! The time messages spend inside the workbench, measured on the
//! monotonic clock: one fixed-size histogram per measurement (never a
//! vector of samples), merged at the end of the run.

use std::time::Duration;

use hdrhistogram::Histogram;
use lightcone_core::{MessageLatency, Quantiles, TimeQuantiles};

/// The longest time recorded as itself; longer ones count as this (a
/// message inside the workbench for 100 s has a bigger problem).
const LATENCY_NS_MAX: u64 = 100_000_000_000;
/// Two significant figures: 1% resolution, about 30 KB per histogram
/// (three per node process, four in the main loop).
const SIGNIFICANT_FIGURES: u8 = 2;

/// One measured time, in nanoseconds.
#[derive(Debug, Clone)]
pub(crate) struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Latencies(
            Histogram::new_with_bounds(1, LATENCY_NS_MAX, SIGNIFICANT_FIGURES)
                .expect("valid histogram bounds"),
        )
    }
}

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        self.0
            .saturating_record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn add(&mut self, other: &Latencies) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    pub fn summary(&self) -> TimeQuantiles {
        TimeQuantiles {
            count: self.0.len(),
            ms: quantiles_ms(&self.0, 1e6),
        }
    }
}

/// The median, p95, p99 and maximum of `h`, whose values are in units of
/// which `per_ms` make a millisecond, in milliseconds.
pub(crate) fn quantiles_ms(h: &Histogram<u64>, per_ms: f64) -> Quantiles {
    let q = |p: f64| h.value_at_quantile(p) as f64 / per_ms;
    Quantiles {
        median: q(0.5),
        p95: q(0.95),
        p99: q(0.99),
        max: h.max() as f64 / per_ms,
    }
}

/// What the writer thread of one node process measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriterLatencies {
    /// Each delivery written: from when it was due to the write.
    pub since_due: Latencies,
    /// Each delivery written: from its queueing to the write.
    pub writer_queue: Latencies,
}

impl WriterLatencies {
    pub fn add(&mut self, other: &WriterLatencies) {
        self.since_due.add(&other.since_due);
        self.writer_queue.add(&other.writer_queue);
    }
}

/// What the main loop measured, and the writers' totals once they end.
#[derive(Debug, Default)]
pub(crate) struct MessageClock {
    /// Replies to clients, from the read to their handling.
    pub client_replies: Latencies,
    pub reader_queue: Latencies,
    pub handling: Latencies,
    pub lateness: Latencies,
    /// The writers of node processes that have ended.
    pub writers: WriterLatencies,
}

impl MessageClock {
    /// The report: deliveries (due to written) and replies to clients
    /// (read to handled) together, then the stages.
    pub fn summary(&self) -> MessageLatency {
        let mut total = self.writers.since_due.clone();
        total.add(&self.client_replies);
        MessageLatency {
            total: total.summary(),
            reader_queue: self.reader_queue.summary(),
            handling: self.handling.summary(),
            lateness: self.lateness.summary(),
            writer_queue: self.writers.writer_queue.summary(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_in_ms_and_ordered() {
        let mut l = Latencies::default();
        for us in 1..=1000 {
            l.record(Duration::from_micros(us));
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert!((s.ms.median - 0.5).abs() < 0.01, "{s:?}");
        assert!(s.ms.median <= s.ms.p99 && s.ms.p99 <= s.ms.max, "{s:?}");
        assert!((s.ms.max - 1.0).abs() < 0.01, "{s:?}");
    }

    #[test]
    fn a_time_past_the_bound_counts_as_the_bound() {
        let mut l = Latencies::default();
        l.record(Duration::from_secs(1000));
        assert_eq!(l.summary().count, 1);
        assert!(l.summary().ms.max >= 99_000.0);
    }
}
