//! Integrated gradients along the straight path from ∅ to N.
//!
//! By Owen's theorem the Shapley value is `φ_i = ∫₀¹ ∂_i v̂(t·1) dt` where v̂ is the multilinear
//! extension. We integrate the game's own continuous extension instead (the model at weights
//! `w = t·1`, see [`game`](crate::game)): the two agree on any game whose interactions are at
//! most pairwise — the near-quadratic regime the aggregation is designed for — and differ by
//! the higher-order terms otherwise. The integral uses the k-point Gauss–Legendre rule mapped
//! to [0, 1]: nodes `t_j = (x_j + 1)/2`, weights `w_j/2`, evaluated in ascending t, and
//! `φ_i = Σ_j (w_j/2) · g_i(t_j)` summed in node order. It is exact when `t ↦ ∂_i v(t·1)` is a
//! polynomial of degree ≤ 2k − 1.
//!
//! v(∅) and v(N) come from coalition utilities when n ≤ 64, else from the path hook at
//! t = 0 and t = 1. Efficiency is *not* forced: `Stats::efficiency_gap` reports
//! `(v(N) − v(∅)) − Σφ`, which measures quadrature plus extension error. Cost: k path points
//! (one forward + backward pass each) plus two endpoint evaluations.

use crate::cache::Cached;
use crate::coalition::{Coalition, MAX_MASK_PLAYERS};
use crate::error::AttributionError;
use crate::estimator::{Estimate, Stats, StopReason};
use crate::game::Game;
use crate::gauss_legendre::gauss_legendre;

/// Largest number of Gauss–Legendre points accepted.
pub const MAX_POINTS: u32 = 64;

pub(crate) fn run<G: Game>(
    cache: &mut Cached<G>,
    points: u32,
) -> Result<Estimate, AttributionError> {
    if !cache.has_path() {
        return Err(AttributionError::NoPathGradient);
    }
    let n = cache.players();
    let (v_empty, v_full) = match Coalition::full(n) {
        Some(full) if n <= MAX_MASK_PLAYERS => (cache.eval(Coalition::EMPTY)?, cache.eval(full)?),
        _ => (cache.eval_path(0.0)?.value, cache.eval_path(1.0)?.value),
    };
    let (nodes, weights) = gauss_legendre(points as usize);
    let mut scores = vec![0.0; n];
    for (x, w) in nodes.iter().zip(&weights) {
        let t = 0.5 * (x + 1.0);
        let half = 0.5 * w;
        let point = cache.eval_path(t)?;
        for (s, g) in scores.iter_mut().zip(&point.gradient) {
            *s += half * g;
        }
    }
    let gap = (v_full - v_empty) - crate::balance::ordered_sum(&scores);
    Ok(Estimate {
        scores,
        v_empty,
        v_full,
        stats: Stats {
            evaluations: cache.evaluations(),
            path_points: cache.path_evaluations(),
            pairs: 0,
            max_std_error: None,
            efficiency_gap: gap,
            stop: StopReason::Complete,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Seed;
    use crate::estimator::{estimate, EstimatorSpec};
    use crate::game::{from_fn, PathPoint};
    use crate::games::QuadraticGame;

    #[test]
    fn exact_on_pure_quadratic_games_with_two_points() {
        let mut g = QuadraticGame::random(30, 5, 0.5, 0.0);
        let a = estimate(
            &mut g,
            &EstimatorSpec::integrated_gradients(2),
            Seed([0; 32]),
        )
        .unwrap();
        let want = g.shapley();
        for (x, y) in a.estimate.scores.iter().zip(&want) {
            assert!((x - y).abs() < 1e-12);
        }
        assert_eq!(a.estimate.stats.path_points, 2);
        assert_eq!(a.estimate.stats.evaluations, 2);
        assert!(a.estimate.stats.efficiency_gap.abs() < 1e-12);
    }

    #[test]
    fn more_than_64_players_use_path_endpoints() {
        let n = 100;
        let mut g = from_fn(n, |_| -> f64 {
            unreachable!("no coalition utilities above 64")
        })
        .with_path(move |t| PathPoint {
            value: 3.0 * t * t * n as f64,
            gradient: vec![6.0 * t; n],
        });
        let a = estimate(
            &mut g,
            &EstimatorSpec::integrated_gradients(3),
            Seed([0; 32]),
        )
        .unwrap();
        assert_eq!(a.estimate.scores.len(), n);
        for s in &a.estimate.scores {
            assert!((s - 3.0).abs() < 1e-13);
        }
        assert_eq!(a.estimate.v_full, 300.0);
        assert_eq!(a.estimate.stats.path_points, 5);
        assert_eq!(a.transcript.path.len(), 5);
    }

    #[test]
    fn bad_hooks_are_clear_errors() {
        let mut g = from_fn(3, |c: Coalition| c.len() as f64);
        assert_eq!(
            estimate(
                &mut g,
                &EstimatorSpec::integrated_gradients(4),
                Seed([0; 32])
            )
            .unwrap_err(),
            AttributionError::NoPathGradient
        );
        let mut g = from_fn(3, |c: Coalition| c.len() as f64).with_path(|t| PathPoint {
            value: t,
            gradient: vec![1.0; 2],
        });
        assert!(matches!(
            estimate(
                &mut g,
                &EstimatorSpec::integrated_gradients(4),
                Seed([0; 32])
            ),
            Err(AttributionError::GradientLength {
                expected: 3,
                got: 2,
                ..
            })
        ));
        let mut g = from_fn(2, |c: Coalition| c.len() as f64).with_path(|t| PathPoint {
            value: t,
            gradient: vec![1.0, f64::NAN],
        });
        assert!(matches!(
            estimate(
                &mut g,
                &EstimatorSpec::integrated_gradients(4),
                Seed([0; 32])
            ),
            Err(AttributionError::NonFinitePath { .. })
        ));
        for points in [0, 65] {
            assert!(matches!(
                estimate(
                    &mut g,
                    &EstimatorSpec::integrated_gradients(points),
                    Seed([0; 32])
                ),
                Err(AttributionError::InvalidParameter { name: "points", .. })
            ));
        }
    }
}
