//! Count-sketches of update vectors, for recognising an update's content cheaply: a copy of
//! another trainer's update, or a replay of an update (or outer step) published in an earlier
//! round, whatever its encoding or frame hash.
//!
//! `sketch(x)[b] = Σ_{k : h(k) = b} s(k)·x_k` over [`SKETCH_LEN`] buckets, where
//! `(h(k), s(k))` come from splitmix64(k): the low bits pick the bucket, bit 63 the sign.
//! Inner products are preserved in expectation, and the cosine of two sketches is within about
//! 1/√[`SKETCH_LEN`] ≈ 0.016 of the vectors' cosine. Summation runs in index order in f64, so a
//! sketch is bit-reproducible; O(n) per vector, 16 KiB per sketch.

use serde::{Deserialize, Serialize};

/// Buckets per sketch.
pub const SKETCH_LEN: usize = 4096;

/// A count-sketch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sketch(pub Vec<f64>);

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The sketch of `x`.
pub fn sketch(x: &[f32]) -> Sketch {
    let mut s = vec![0f64; SKETCH_LEN];
    for (k, &v) in x.iter().enumerate() {
        let h = splitmix64(k as u64);
        let bucket = (h as usize) & (SKETCH_LEN - 1);
        let v = f64::from(v);
        s[bucket] += if h >> 63 == 1 { -v } else { v };
    }
    Sketch(s)
}

impl Sketch {
    /// The sketch of `a − b` (sketches are linear).
    pub fn minus(&self, other: &Sketch) -> Sketch {
        Sketch(self.0.iter().zip(&other.0).map(|(a, b)| a - b).collect())
    }

    fn dot(&self, other: &Sketch) -> f64 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    /// Estimated cosine similarity of the sketched vectors (0 if either is zero).
    pub fn cosine(&self, other: &Sketch) -> f64 {
        let (na, nb) = (self.dot(self).sqrt(), other.dot(other).sqrt());
        if na == 0.0 || nb == 0.0 {
            return 0.0;
        }
        self.dot(other) / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        (0..n)
            .map(|k| {
                (splitmix64(seed.wrapping_mul(1_000_003).wrapping_add(k as u64)) >> 40) as f32
                    / (1u64 << 24) as f32
                    - 0.5
            })
            .collect()
    }

    fn exact_cosine(a: &[f32], b: &[f32]) -> f64 {
        let d = |x: &[f32], y: &[f32]| {
            x.iter()
                .zip(y)
                .map(|(p, q)| f64::from(*p) * f64::from(*q))
                .sum::<f64>()
        };
        d(a, b) / (d(a, a).sqrt() * d(b, b).sqrt())
    }

    #[test]
    fn sketch_cosines_track_the_vectors_cosines() {
        let n = 100_000;
        let a = noise(n, 1);
        let b = noise(n, 2);
        for mix in [0.0f32, 0.3, 0.7, 0.95] {
            let c: Vec<f32> = a
                .iter()
                .zip(&b)
                .map(|(x, y)| mix * x + (1.0 - mix) * y)
                .collect();
            let est = sketch(&a).cosine(&sketch(&c));
            let exact = exact_cosine(&a, &c);
            assert!(
                (est - exact).abs() < 0.06,
                "mix {mix}: sketch {est} vs exact {exact}"
            );
        }
        assert_eq!(sketch(&a), sketch(&a));
        assert_eq!(sketch(&[0.0; 10]).cosine(&sketch(&a)), 0.0);
        // Linear: the sketch of a difference is the difference of sketches (up to rounding).
        let d: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        let lin = sketch(&a).minus(&sketch(&b));
        assert!(lin.cosine(&sketch(&d)) > 0.999_999);
    }
}
