//! Randomness, in one place. Every random choice of a run derives from its
//! one `u64` seed:
//!
//! - [`Rng`] is the generator everything draws from: ChaCha8, whose output
//!   is stable across versions and platforms, behind a small newtype with
//!   independent *streams* per concern (network, generator, nemesis, ...),
//!   so a change in one does not shift the others.
//! - [`node_seed`] gives each node's RNG its seed, in the simulator and in
//!   process mode alike (process mode passes it in `LIGHTCONE_NODE_SEED`),
//!   so one `--seed` gives a node the same randomness in both modes.
//! - [`SplitMix64`] is the small generator of generated histories and
//!   randomised tests, which must give the same histories on every run.
//! - [`fresh_seed`] picks a seed for a run that was given none. It reads
//!   the wall clock, so it is for the command line only, which prints the
//!   seed so the run can be replayed.
//!
//! ```
//! use lightcone_rng::{node_seed, Rng};
//!
//! let mut a = Rng::new(42, 1);
//! let mut b = Rng::new(42, 1);
//! assert_eq!(a.below(100), b.below(100));
//! assert_ne!(node_seed(42, 0, 0), node_seed(42, 1, 0));
//! ```

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The project's random number generator: ChaCha8, whose output is stable
/// across versions and platforms, so a seed replays the same run.
#[derive(Debug, Clone)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// The generator for `stream` of a run seeded with `seed`. Streams are
    /// independent: the network, the generator and the nemesis each take
    /// their own, so a change in one does not shift the others. Stream 0 of
    /// a seed is ChaCha8's `seed_from_u64(seed)`.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut inner = ChaCha8Rng::seed_from_u64(seed);
        inner.set_stream(stream);
        Rng(inner)
    }

    /// A uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below needs a non-empty range");
        self.0.gen_range(0..n)
    }

    /// A uniform integer in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        self.0.gen_range(lo..=hi)
    }

    /// A uniform integer in `lo..hi` (`lo < hi`).
    pub fn in_range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0.gen_range(lo..hi)
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0.gen::<f64>()
    }

    /// True with probability `numerator / denominator`, exactly.
    /// Draws nothing when the probability is 0 (no loss, no duplication:
    /// the common case, asked once per message).
    pub fn ratio(&mut self, numerator: u64, denominator: u64) -> bool {
        numerator > 0 && denominator > 0 && self.below(denominator) < numerator
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.gen()
    }
}

/// SplitMix64's finaliser (Steele, Lea & Flood 2014): spreads a 64-bit
/// value over all 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of node `index`'s RNG in its `incarnation`-th life (0 at the
/// start, one more at each restart) in a run seeded with `seed`: the same
/// in the simulator and in process mode.
pub fn node_seed(seed: u64, index: usize, incarnation: u64) -> u64 {
    mix64(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ incarnation.rotate_left(32))
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, fast, version-stable
/// generator for generated histories and randomised tests.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// A number below `n` (with the slight modulo bias, which none of the
    /// users cares about).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `p` / 1000.
    pub fn permille(&mut self, p: u32) -> bool {
        self.below(1000) < u64::from(p)
    }
}

/// A seed for a run that was given none, from the wall clock and the
/// process id. Not reproducible by itself, which is why every caller prints
/// it; never called by the deterministic cores.
#[allow(clippy::disallowed_methods)]
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ (u64::from(std::process::id()) << 40)) % 1_000_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(seed: u64, stream: u64) -> Vec<u64> {
        let mut r = Rng::new(seed, stream);
        (0..5).map(|_| r.next_u64()).collect()
    }

    #[test]
    fn same_seed_same_stream_same_numbers() {
        assert_eq!(draws(7, 1), draws(7, 1));
        assert_ne!(draws(7, 1), draws(7, 2));
        assert_ne!(draws(7, 1), draws(8, 1));
    }

    #[test]
    fn stream_zero_is_chacha8_seeded_from_u64() {
        let mut plain = ChaCha8Rng::seed_from_u64(9);
        let expected: Vec<u64> = (0..5).map(|_| plain.gen()).collect();
        assert_eq!(draws(9, 0), expected);
    }

    #[test]
    fn ratio_is_exact_at_the_edges() {
        let mut r = Rng::new(1, 0);
        assert!((0..100).all(|_| !r.ratio(0, 10)));
        assert!((0..100).all(|_| r.ratio(10, 10)));
        assert!(!r.ratio(1, 0));
    }

    #[test]
    fn node_seeds_differ_by_node_and_incarnation() {
        let seeds = [
            node_seed(1, 0, 0),
            node_seed(1, 1, 0),
            node_seed(1, 0, 1),
            node_seed(2, 0, 0),
        ];
        for (i, a) in seeds.iter().enumerate() {
            for b in &seeds[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn splitmix_is_the_published_sequence() {
        // The first outputs of SplitMix64 seeded with 0 (Vigna's reference).
        let mut s = SplitMix64(0);
        assert_eq!(s.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(s.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }
}
