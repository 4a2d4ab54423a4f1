//! The specified random stream, uniform integers and the permutation shuffle.
//!
//! Every draw is fully specified so that any implementation reproduces it bit for bit:
//!
//! * **Stream.** ChaCha20 (20 rounds, RFC 7539 block function) keyed with the 32-byte sub-seed,
//!   nonce/stream 0, block counter starting at 0. The keystream bytes are read as consecutive
//!   little-endian `u64` words (`rand_chacha::ChaCha20Rng::next_u64`, used only through `next_u64`).
//! * **Uniform below k** (k ≥ 1). Let `r = 2^64 mod k`. Draw a word `x`; if `x ≥ 2^64 − r`
//!   discard it and draw again; otherwise return `x mod k`. (Rejection, so exactly uniform. We do
//!   not use `rand`'s `gen_range`/`shuffle`, whose algorithms may change between versions.)
//! * **Shuffle.** Fisher–Yates from the back on a fresh identity array `[0, 1, …, n−1]`:
//!   for `i = n−1` down to `1`: `j = below(i + 1)`, swap positions `i` and `j`.
//!   No draw is made for `n ≤ 1`.

use crate::encoding::Seed;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// The specified ChaCha20 word stream.
pub struct Stream(ChaCha20Rng);

impl Stream {
    /// A stream keyed by `seed` (use a labelled [`Seed::derive`] sub-seed).
    pub fn new(seed: &Seed) -> Self {
        Stream(ChaCha20Rng::from_seed(seed.0))
    }

    /// The next little-endian 64-bit word of the keystream.
    pub fn next_word(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform integer in `0..k` by rejection; returns 0 without drawing when `k ≤ 1`.
    pub fn below(&mut self, k: u64) -> u64 {
        if k <= 1 {
            return 0;
        }
        // 2^64 mod k, computed without 128-bit arithmetic: (2^64 - k) mod k == 2^64 mod k.
        let r = k.wrapping_neg() % k;
        let limit = u64::MAX - r; // accept x <= limit, i.e. x < 2^64 - r
        loop {
            let x = self.next_word();
            if x <= limit {
                return x % k;
            }
        }
    }

    /// A uniformly random permutation of `0..n` by the specified Fisher–Yates shuffle.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_the_rfc7539_chacha20_keystream() {
        // RFC 7539 appendix A.1, test vector #1: zero key, zero nonce, counter 0.
        let mut s = Stream::new(&Seed([0; 32]));
        let expect: [u8; 32] = [
            0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86,
            0xbd, 0x28, 0xbd, 0xd2, 0x19, 0xb8, 0xa0, 0x8d, 0xed, 0x1a, 0xa8, 0x36, 0xef, 0xcc,
            0x8b, 0x77, 0x0d, 0xc7,
        ];
        for chunk in expect.chunks(8) {
            let w = u64::from_le_bytes(chunk.try_into().unwrap());
            assert_eq!(s.next_word(), w);
        }
    }

    #[test]
    fn below_rejects_exactly_the_top_remainder() {
        // k = 3: 2^64 mod 3 = 1, so only u64::MAX is rejected.
        assert_eq!(3u64.wrapping_neg() % 3, 1);
        // k = 2^63 + 1 rejects almost half the words, exercising the loop.
        let mut s = Stream::new(&Seed([1; 32]));
        let k = (1u64 << 63) + 1;
        for _ in 0..100 {
            assert!(s.below(k) < k);
        }
        assert_eq!(s.below(1), 0);
        assert_eq!(s.below(0), 0);
    }

    #[test]
    fn shuffle_is_pinned() {
        // Golden vector for seed 0^32: changing the sub-seed, the stream, the rejection rule or
        // the shuffle breaks it, and with it every published transcript.
        let mut s = Stream::new(&Seed([0; 32]).derive("permutations"));
        let p = s.permutation(10);
        let mut sorted = p.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_eq!(p, GOLDEN_PERMUTATION);
        assert_eq!(Stream::new(&Seed([5; 32])).permutation(1), vec![0]);
        assert!(Stream::new(&Seed([5; 32])).permutation(0).is_empty());
    }

    /// Produced independently by a Python reimplementation of this module's spec on top of
    /// the `cryptography` package's ChaCha20 (see docs/ATTRIBUTION.md).
    const GOLDEN_PERMUTATION: [usize; 10] = [9, 2, 7, 5, 4, 6, 3, 0, 8, 1];

    #[test]
    fn shuffle_is_uniform_enough() {
        // All 24 orders of 4 items appear with roughly equal frequency.
        let mut s = Stream::new(&Seed([3; 32]));
        let mut counts = std::collections::HashMap::new();
        for _ in 0..24_000 {
            *counts.entry(s.permutation(4)).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 24);
        for &c in counts.values() {
            assert!((800..1200).contains(&c), "count {c}");
        }
    }
}
