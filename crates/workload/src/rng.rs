use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The project's random number generator: ChaCha8, whose output is stable
/// across versions and platforms, so a seed replays the same run.
#[derive(Debug, Clone)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// The generator for `stream` of a run seeded with `seed`. Streams are
    /// independent: the network, the generator and the nemesis each take
    /// their own, so a change in one does not shift the others.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_same_numbers() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7, 2);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn ratio_is_exact_at_the_edges() {
        let mut r = Rng::new(1, 0);
        assert!((0..100).all(|_| !r.ratio(0, 10)));
        assert!((0..100).all(|_| r.ratio(10, 10)));
        assert!(!r.ratio(1, 0));
    }
}
