//! Deterministic reductions over long `f32` vectors: fixed-size chunks summed in parallel in
//! f64, then the chunk sums added in order, so results do not depend on the thread count.

use rayon::prelude::*;

/// Elements per chunk (the order of summation is fixed by this constant).
const CHUNK: usize = 1 << 15;

/// Σ a_k·b_k in f64 (lengths must match; extra elements of the longer slice are ignored).
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    let partial: Vec<f64> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum::<f64>()
        })
        .collect();
    partial.iter().sum()
}

/// ‖a‖₂ in f64.
pub fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// Σ a_k·b_k with `b` in f64.
pub fn dot_f64(a: &[f32], b: &[f64]) -> f64 {
    let partial: Vec<f64> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(&x, &y)| f64::from(x) * y)
                .sum::<f64>()
        })
        .collect();
    partial.iter().sum()
}

/// Index and value of the first non-finite element.
pub fn first_non_finite(a: &[f32]) -> Option<(usize, f32)> {
    a.par_chunks(CHUNK).enumerate().find_map_first(|(c, xs)| {
        xs.iter()
            .position(|x| !x.is_finite())
            .map(|i| (c * CHUNK + i, xs[i]))
    })
}

/// a ← s·a.
pub fn scale(a: &mut [f32], s: f32) {
    a.par_chunks_mut(CHUNK)
        .for_each(|xs| xs.iter_mut().for_each(|x| *x *= s));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions() {
        let a: Vec<f32> = (0..100_000).map(|i| (i % 7) as f32 - 3.0).collect();
        let seq: f64 = a.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
        assert_eq!(dot(&a, &a), seq);
        assert_eq!(norm(&[3.0, 4.0]), 5.0);
        let mut b = a.clone();
        b[77_777] = f32::NAN;
        b[90_000] = f32::INFINITY;
        let (i, v) = first_non_finite(&b).unwrap();
        assert_eq!(i, 77_777);
        assert!(v.is_nan());
        assert!(first_non_finite(&a).is_none());
        scale(&mut b[..2], 2.0);
        assert_eq!(&b[..2], &[-6.0, -4.0]);
        assert_eq!(dot_f64(&[1.0, 2.0], &[0.5, 0.25]), 1.0);
    }
}
