//! The timestamp of a hybrid logical clock (`hlc.rs`), on its own so that
//! the clock and its error both name it without naming each other.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A hybrid-logical timestamp. The derived order (wall first, then logical) is the HLC order.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct HlcTimestamp {
    /// `l`: the largest physical time heard of, in nanoseconds.
    pub wall_ns: u64,
    /// `c`: orders events with the same `l`.
    pub logical: u32,
}

impl HlcTimestamp {
    /// The timestamp `(wall_ns, logical)`.
    pub fn new(wall_ns: u64, logical: u32) -> Self {
        Self { wall_ns, logical }
    }
}

impl fmt::Display for HlcTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.wall_ns, self.logical)
    }
}
