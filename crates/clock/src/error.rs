//! The one error type of the clock crate.

use crate::hlc_timestamp::HlcTimestamp;

/// What can go wrong when a clock takes in a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClockError {
    /// A remote hybrid-logical timestamp is further ahead of local physical time than the
    /// maximum clock offset allows. Taking it in would drag this node's clock (and every clock
    /// it talks to) away from physical time, so it is refused and the clock is left unchanged
    /// (the guard CockroachDB puts in front of Kulkarni et al.'s receive rule).
    #[error(
        "remote timestamp {remote} is {ahead_ns} ns ahead of local physical time {local_ns} ns, \
         more than the maximum offset of {max_offset_ns} ns; the sender's clock is too far \
         ahead (fix its clock or raise the maximum offset)",
        ahead_ns = remote.wall_ns.saturating_sub(*local_ns)
    )]
    RemoteTooFarAhead {
        /// The timestamp that was refused.
        remote: HlcTimestamp,
        /// Local physical time when it arrived, in nanoseconds.
        local_ns: u64,
        /// The bound it broke, in nanoseconds.
        max_offset_ns: u64,
    },
    /// The logical part of a hybrid-logical timestamp would pass `u32::MAX`. Kulkarni et al.
    /// 2014 (Theorem 3) bound it by the number of events within one clock-offset window, so
    /// this means physical time stood still for four billion events.
    #[error(
        "the logical counter of the hybrid logical clock overflowed at wall time {wall_ns} ns; \
         physical time is not advancing (is the time source stuck?)"
    )]
    LogicalOverflow {
        /// The wall part of the timestamp whose counter overflowed.
        wall_ns: u64,
    },
}
