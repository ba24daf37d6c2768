//! Hybrid logical clocks (Kulkarni, Demirbas, Madappa, Avva, Leone 2014, "Logical Physical
//! Clocks and Consistent Snapshots in Globally Distributed Databases", Figure 5).
//!
//! An HLC timestamp `(l, c)` is a physical time `l` (the largest physical time this node has
//! heard of) and a counter `c` that orders events sharing an `l`. Like a Lamport clock it is
//! consistent with causality; unlike one it stays close to physical time: `l - pt` is bounded
//! by the clock offset between nodes (Theorem 2), so timestamps can be compared with wall time
//! (snapshot reads "as of" a time, leases). The paper packs `l` (48 bits) and `c` (16 bits)
//! into 64; lightcone keeps nanoseconds in `l` and gives `c` 32 bits of its own.
//!
//! A node whose clock runs far ahead would drag every clock it talks to along. The maximum
//! offset guard (as in CockroachDB) refuses a remote timestamp more than `max_offset_ns` ahead
//! of local physical time, so `l - pt <= max_offset_ns` holds for every timestamp this clock
//! hands out while local physical time does not go backwards.

use serde::{Deserialize, Serialize};

use crate::error::ClockError;
use crate::hlc_timestamp::HlcTimestamp;

/// A hybrid logical clock with a maximum-offset guard. Physical time is always an argument
/// (the SDK's `ctx.now()`), never read here, so the simulator can skew it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HybridLogicalClock {
    last: HlcTimestamp,
    max_offset_ns: u64,
}

impl HybridLogicalClock {
    /// A clock that has stamped nothing and refuses remote timestamps more than
    /// `max_offset_ns` ahead of local physical time.
    pub fn new(max_offset_ns: u64) -> Self {
        Self {
            last: HlcTimestamp::default(),
            max_offset_ns,
        }
    }

    /// The last timestamp handed out or taken in.
    pub fn last(&self) -> HlcTimestamp {
        self.last
    }

    /// The guard's bound in nanoseconds.
    pub fn max_offset_ns(&self) -> u64 {
        self.max_offset_ns
    }

    /// A local or send event at physical time `physical_ns` (Figure 5, "send or local event"):
    /// `l = max(l, pt)`, and `c` counts up while `l` does not move.
    pub fn now(&mut self, physical_ns: u64) -> Result<HlcTimestamp, ClockError> {
        let wall_ns = self.last.wall_ns.max(physical_ns);
        let logical = if wall_ns == self.last.wall_ns {
            self.next_logical(self.last.logical)?
        } else {
            0
        };
        self.last = HlcTimestamp { wall_ns, logical };
        Ok(self.last)
    }

    /// A receive of a message stamped `remote` at physical time `physical_ns` (Figure 5,
    /// "receive event of message m"). Refuses, leaving the clock unchanged, a `remote` whose
    /// wall time is more than the maximum offset ahead of `physical_ns`.
    pub fn update(
        &mut self,
        remote: HlcTimestamp,
        physical_ns: u64,
    ) -> Result<HlcTimestamp, ClockError> {
        if remote.wall_ns.saturating_sub(physical_ns) > self.max_offset_ns {
            return Err(ClockError::RemoteTooFarAhead {
                remote,
                local_ns: physical_ns,
                max_offset_ns: self.max_offset_ns,
            });
        }
        let local = self.last;
        let wall_ns = local.wall_ns.max(remote.wall_ns).max(physical_ns);
        let logical = if wall_ns == local.wall_ns && wall_ns == remote.wall_ns {
            self.next_logical(local.logical.max(remote.logical))?
        } else if wall_ns == local.wall_ns {
            self.next_logical(local.logical)?
        } else if wall_ns == remote.wall_ns {
            self.next_logical(remote.logical)?
        } else {
            0
        };
        self.last = HlcTimestamp { wall_ns, logical };
        Ok(self.last)
    }

    fn next_logical(&self, logical: u32) -> Result<u32, ClockError> {
        logical.checked_add(1).ok_or(ClockError::LogicalOverflow {
            wall_ns: self.last.wall_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_physical_time_when_it_moves() {
        let mut clock = HybridLogicalClock::new(1_000);
        assert_eq!(clock.now(10).unwrap(), HlcTimestamp::new(10, 0));
        assert_eq!(clock.now(10).unwrap(), HlcTimestamp::new(10, 1));
        assert_eq!(clock.now(12).unwrap(), HlcTimestamp::new(12, 0));
        // Physical time going back (a skewed clock) does not move the HLC back.
        assert_eq!(clock.now(5).unwrap(), HlcTimestamp::new(12, 1));
    }

    #[test]
    fn receive_cases_of_figure_5() {
        let mut clock = HybridLogicalClock::new(1_000);
        clock.now(100).unwrap();
        // Remote ahead: adopt its l, c = c_m + 1.
        let t = clock.update(HlcTimestamp::new(150, 4), 120).unwrap();
        assert_eq!(t, HlcTimestamp::new(150, 5));
        // Same l on both sides: max of counters + 1.
        let t = clock.update(HlcTimestamp::new(150, 9), 130).unwrap();
        assert_eq!(t, HlcTimestamp::new(150, 10));
        // Local l largest: c + 1.
        let t = clock.update(HlcTimestamp::new(140, 50), 130).unwrap();
        assert_eq!(t, HlcTimestamp::new(150, 11));
        // Physical time largest: c = 0.
        let t = clock.update(HlcTimestamp::new(140, 50), 200).unwrap();
        assert_eq!(t, HlcTimestamp::new(200, 0));
    }

    #[test]
    fn refuses_a_remote_timestamp_too_far_ahead() {
        let mut clock = HybridLogicalClock::new(100);
        clock.now(1_000).unwrap();
        let before = clock.clone();
        let remote = HlcTimestamp::new(1_101, 0);
        let error = clock.update(remote, 1_000).unwrap_err();
        assert_eq!(
            error,
            ClockError::RemoteTooFarAhead {
                remote,
                local_ns: 1_000,
                max_offset_ns: 100
            }
        );
        let message = error.to_string();
        assert!(message.contains("1101.0"), "{message}");
        assert!(message.contains("1000 ns"), "{message}");
        assert!(message.contains("100 ns"), "{message}");
        assert_eq!(clock, before);
        // Exactly at the bound is accepted.
        assert!(clock.update(HlcTimestamp::new(1_100, 0), 1_000).is_ok());
    }

    #[test]
    fn logical_overflow_is_an_error() {
        let mut clock = HybridLogicalClock::new(0);
        clock.update(HlcTimestamp::new(5, u32::MAX - 1), 5).unwrap();
        assert_eq!(
            clock.now(5),
            Err(ClockError::LogicalOverflow { wall_ns: 5 })
        );
    }
}
