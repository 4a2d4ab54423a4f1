//! Deterministic randomness, specified exactly so anyone can recompute it.
//!
//! * Streams are ChaCha20 ([`rand_chacha::ChaCha20Rng`]) keyed by a 32-byte seed derived as
//!   `sha256(domain_tag ‖ part_1 ‖ part_2 ‖ ...)`, each part a little-endian `u64`.
//! * [`uniform_below`]`(rng, n)` draws `x = rng.next_u64()` until `x >= 2^64 mod n`, then
//!   returns `x mod n` (unbiased rejection; independent of `rand`'s own range sampling, whose
//!   algorithm may change between versions).
//! * [`shuffle`] is Fisher–Yates from the top: for `i` from `len-1` down to `1`,
//!   `j = uniform_below(rng, i+1)`, swap `v[i]` and `v[j]`.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// A ChaCha20 stream keyed by `sha256(domain ‖ parts as LE u64)`.
pub fn stream(domain: &[u8], parts: &[u64]) -> ChaCha20Rng {
    let mut h = Sha256::new();
    h.update(domain);
    for p in parts {
        h.update(p.to_le_bytes());
    }
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// A ChaCha20 stream keyed directly by a 32-byte seed.
pub fn stream_from_seed(seed: [u8; 32]) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(seed)
}

/// Uniform integer in `0..n` by rejection (see the module docs). `n == 0` returns 0.
pub fn uniform_below(rng: &mut impl RngCore, n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // 2^64 mod n: values below it are rejected so the rest split evenly into n classes.
    let reject_below = n.wrapping_neg() % n;
    loop {
        let x = rng.next_u64();
        if x >= reject_below {
            return x % n;
        }
    }
}

/// Fisher–Yates shuffle in place (see the module docs).
pub fn shuffle<T>(rng: &mut impl RngCore, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = uniform_below(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_below_stays_in_range_and_covers_it() {
        let mut rng = stream(b"test", &[1]);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let x = uniform_below(&mut rng, 7);
            seen[x as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
        assert_eq!(uniform_below(&mut rng, 1), 0);
        assert_eq!(uniform_below(&mut rng, 0), 0);
    }

    #[test]
    fn streams_are_reproducible_and_domain_separated() {
        let draw = |domain: &[u8]| {
            let mut r = stream(domain, &[1, 2]);
            (0..4).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        let (a, b, c) = (draw(b"a"), draw(b"a"), draw(b"b"));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<usize> = (0..100).collect();
        shuffle(&mut stream(b"s", &[3]), &mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    /// Pins the exact output so a dependency upgrade cannot silently change every shard.
    #[test]
    fn golden_values() {
        let mut rng = stream(b"coalition-datasets/golden", &[42]);
        let draws: Vec<u64> = (0..4).map(|_| uniform_below(&mut rng, 1000)).collect();
        let mut v: Vec<u32> = (0..10).collect();
        shuffle(&mut rng, &mut v);
        // Also reproduced by an independent implementation of the spec (datasets/tools/spec_check.py).
        assert_eq!(draws, [359, 739, 818, 113]);
        assert_eq!(v, [9, 7, 2, 4, 8, 1, 5, 0, 6, 3]);
    }
}
