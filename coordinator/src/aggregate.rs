//! Aggregation weights p_i and the aggregated pseudo-gradient g = Σ p_i Δ_i.
//!
//! The same [`combine`] computes the real aggregate and every coalition's aggregate in the
//! round game, so the game's θ^N is bit-identical to the committed θ_{r+1}. Each output element
//! is summed in player order (players with coefficient 0 are skipped), in f32, parallel over
//! chunks of elements: the result does not depend on the thread count.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CoordinatorError, Result};

/// Elements per parallel chunk.
const CHUNK: usize = 1 << 15;

/// How the aggregation weights p_i are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weighting {
    /// p_i = 1/n.
    #[default]
    Uniform,
    /// p_i = tokens_i / Σ tokens. Use the tokens of each trainer's *assignment* (which the
    /// coordinator computes), not a trainer's own claim, or a trainer could inflate its weight.
    Tokens,
}

/// The weights p_i for players that processed `tokens[i]` tokens (summing to 1 up to
/// rounding; empty for no players).
pub fn weights(weighting: Weighting, tokens: &[u64]) -> Result<Vec<f32>> {
    let n = tokens.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    match weighting {
        Weighting::Uniform => Ok(vec![(1.0 / n as f64) as f32; n]),
        Weighting::Tokens => {
            let total: f64 = tokens.iter().map(|&t| t as f64).sum();
            if total <= 0.0 {
                return Err(CoordinatorError::Invalid {
                    name: "tokens",
                    value: format!("{tokens:?}"),
                    reason: "token weighting needs at least one player with tokens".into(),
                });
            }
            Ok(tokens.iter().map(|&t| (t as f64 / total) as f32).collect())
        }
    }
}

/// `out = Σ_i coeffs[i]·deltas[i]`, skipping zero coefficients, in player order per element.
pub fn combine(deltas: &[&[f32]], coeffs: &[f32], out: &mut [f32]) -> Result<()> {
    if deltas.len() != coeffs.len() {
        return Err(CoordinatorError::Length {
            what: "aggregation coefficients".into(),
            got: coeffs.len(),
            expected: deltas.len(),
        });
    }
    for (i, d) in deltas.iter().enumerate() {
        if d.len() != out.len() {
            return Err(CoordinatorError::Length {
                what: format!("update {i}"),
                got: d.len(),
                expected: out.len(),
            });
        }
    }
    let active: Vec<(&[f32], f32)> = deltas
        .iter()
        .zip(coeffs)
        .filter(|(_, &c)| c != 0.0)
        .map(|(d, &c)| (*d, c))
        .collect();
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, o)| {
            let start = chunk * CHUNK;
            let end = start + o.len();
            o.fill(0.0);
            for &(d, c) in &active {
                for (o, &x) in o.iter_mut().zip(&d[start..end]) {
                    *o += c * x;
                }
            }
        });
    Ok(())
}

/// g = Σ p_i Δ_i.
pub fn aggregate(deltas: &[&[f32]], weights: &[f32], len: usize) -> Result<Vec<f32>> {
    let mut out = vec![0f32; len];
    combine(deltas, weights, &mut out)?;
    Ok(out)
}

/// The coefficients for the option "aggregate only updates with φ_i ≥ 0" (docs/DESIGN.md §5):
/// p_i where `scores[i] ≥ 0`, else 0. The weights of the others are *not* renormalised, so the
/// committed model is the game's θ^S for S = {i : φ_i ≥ 0}.
pub fn nonnegative_only(weights: &[f32], scores: &[f64]) -> Vec<f32> {
    weights
        .iter()
        .zip(scores)
        .map(|(&p, &s)| if s >= 0.0 { p } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uniform_and_token_weights() {
        assert_eq!(
            weights(Weighting::Uniform, &[5, 7]).unwrap(),
            vec![0.5, 0.5]
        );
        assert_eq!(
            weights(Weighting::Tokens, &[1, 3]).unwrap(),
            vec![0.25, 0.75]
        );
        assert!(weights(Weighting::Tokens, &[0, 0]).is_err());
        assert!(weights(Weighting::Uniform, &[]).unwrap().is_empty());
    }

    #[test]
    fn aggregate_is_the_weighted_sum() {
        let a = [1.0f32, 2.0, 3.0];
        let b = [-1.0f32, 0.0, 1.0];
        let g = aggregate(&[&a, &b], &[0.25, 0.75], 3).unwrap();
        assert_eq!(g, vec![-0.5, 0.5, 1.5]);
        assert!(aggregate(&[&a, &b[..2]], &[0.5, 0.5], 3).is_err());
        assert!(aggregate(&[&a], &[0.5, 0.5], 3).is_err());
        let none = nonnegative_only(&[0.25, 0.75], &[0.1, -0.2]);
        assert_eq!(
            aggregate(&[&a, &b], &none, 3).unwrap(),
            vec![0.25, 0.5, 0.75]
        );
    }

    proptest! {
        #[test]
        fn parallel_matches_sequential(n in 1usize..4, len in 0usize..70_000, seed in 0u32..1000) {
            let deltas: Vec<Vec<f32>> = (0..n)
                .map(|i| (0..len).map(|k| ((k as u32 ^ seed).wrapping_mul(2654435761).wrapping_add(i as u32) % 1000) as f32 * 1e-3 - 0.5).collect())
                .collect();
            let refs: Vec<&[f32]> = deltas.iter().map(Vec::as_slice).collect();
            let w = weights(Weighting::Uniform, &vec![1; n]).unwrap();
            let g = aggregate(&refs, &w, len).unwrap();
            for k in (0..len).step_by(997) {
                let mut s = 0f32;
                for i in 0..n { s += w[i] * deltas[i][k]; }
                prop_assert_eq!(g[k].to_bits(), s.to_bits());
            }
        }
    }
}
