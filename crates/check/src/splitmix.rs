//! SplitMix64 (Steele, Lea & Flood 2014): a small, fast, version-stable
//! generator for the history generator (`linear::gen`) and the crate's
//! randomised tests, which must give the same histories on every run.

pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (with the slight modulo bias, which none of the
    /// users cares about).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `p` / 1000.
    pub(crate) fn permille(&mut self, p: u32) -> bool {
        self.below(1000) < u64::from(p)
    }
}
