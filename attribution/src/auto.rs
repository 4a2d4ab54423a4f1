//! The `auto` policy: pick an estimator from the number of players and the evaluation budget.
//!
//! In order, the first that fits wins:
//! 1. **exact** if n ≤ `exact_max_players` (≤ 20) and 2^n ≤ `max_evaluations`;
//! 2. **permutation** if n ≤ 64 and `max_evaluations` ≥ 2n (one antithetic pair), with the
//!    whole budget as its cap and `tolerance_ppm` / `min_pairs` as its stopping rule;
//! 3. **integrated gradients** with `ig_points` nodes if the game has a path hook and
//!    `max_evaluations` ≥ `ig_points` + 2 (nodes plus the two endpoints) — this is the only
//!    choice above 64 players;
//! 4. otherwise [`AttributionError::NoEstimatorFits`].
//!
//! With the defaults (12 players, 4096 evaluations) rounds of up to 12 trainers are scored
//! exactly and larger ones by permutation sampling until every standard error is below 0.1% of
//! |v(N) − v(∅)| (or the budget runs out).

use crate::encoding::Seed;
use crate::error::AttributionError;
use crate::estimator::{
    estimate, Attribution, EstimatorSpec, DEFAULT_EXACT_MAX_PLAYERS, DEFAULT_IG_POINTS,
    DEFAULT_MIN_PAIRS, DEFAULT_TOLERANCE_PPM, MAX_EVALUATIONS,
};
use crate::exact::HARD_LIMIT;
use crate::game::Game;
use crate::permutation::min_budget;

/// Inputs of the auto policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoPolicy {
    /// Largest n scored exactly (default 12; at most 20).
    pub exact_max_players: u32,
    /// Budget in coalition evaluations (default 4096 = 2^12; clamped to
    /// [`MAX_EVALUATIONS`](crate::estimator::MAX_EVALUATIONS)).
    pub max_evaluations: u64,
    /// Permutation tolerance in ppm of |v(N) − v(∅)| (default 1 000 = 0.1%).
    pub tolerance_ppm: u32,
    /// Permutation minimum pairs (default 2).
    pub min_pairs: u32,
    /// Gauss–Legendre points for integrated gradients (default 4).
    pub ig_points: u32,
}

impl Default for AutoPolicy {
    fn default() -> Self {
        AutoPolicy {
            exact_max_players: DEFAULT_EXACT_MAX_PLAYERS,
            max_evaluations: 1 << DEFAULT_EXACT_MAX_PLAYERS,
            tolerance_ppm: DEFAULT_TOLERANCE_PPM,
            min_pairs: DEFAULT_MIN_PAIRS,
            ig_points: DEFAULT_IG_POINTS,
        }
    }
}

/// The estimator the policy picks for `players` players.
pub fn choose(
    players: usize,
    has_path: bool,
    policy: &AutoPolicy,
) -> Result<EstimatorSpec, AttributionError> {
    let budget = policy.max_evaluations.min(MAX_EVALUATIONS);
    let exact_max = policy.exact_max_players.min(HARD_LIMIT);
    if players <= exact_max as usize && (1u64 << players) <= budget {
        return Ok(EstimatorSpec::Exact {
            max_players: exact_max,
        });
    }
    if players <= 64 && budget >= min_budget(players) {
        return Ok(EstimatorSpec::Permutation {
            tolerance_ppm: policy.tolerance_ppm,
            max_evaluations: budget,
            min_pairs: policy.min_pairs.max(1),
        });
    }
    if has_path && budget >= u64::from(policy.ig_points) + 2 {
        return Ok(EstimatorSpec::IntegratedGradients {
            points: policy.ig_points,
        });
    }
    Err(AttributionError::NoEstimatorFits {
        players,
        budget,
        has_path,
    })
}

/// Chooses an estimator with [`choose`] and runs it.
pub fn auto<G: Game + ?Sized>(
    game: &mut G,
    policy: &AutoPolicy,
    seed: Seed,
) -> Result<Attribution, AttributionError> {
    let spec = choose(game.players(), game.has_path(), policy)?;
    estimate(game, &spec, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_size_and_budget() {
        let p = AutoPolicy::default();
        assert!(matches!(
            choose(0, false, &p),
            Ok(EstimatorSpec::Exact { .. })
        ));
        assert!(matches!(
            choose(12, false, &p),
            Ok(EstimatorSpec::Exact { .. })
        ));
        assert!(matches!(
            choose(13, false, &p),
            Ok(EstimatorSpec::Permutation {
                max_evaluations: 4096,
                ..
            })
        ));
        assert!(matches!(
            choose(64, false, &p),
            Ok(EstimatorSpec::Permutation { .. })
        ));
        assert!(matches!(
            choose(65, true, &p),
            Ok(EstimatorSpec::IntegratedGradients { points: 4 })
        ));
        assert!(matches!(
            choose(65, false, &p),
            Err(AttributionError::NoEstimatorFits { .. })
        ));
        let small = AutoPolicy {
            max_evaluations: 20,
            ..p
        };
        assert!(matches!(
            choose(4, false, &small),
            Ok(EstimatorSpec::Exact { .. })
        ));
        assert!(matches!(
            choose(8, false, &small),
            Ok(EstimatorSpec::Permutation { .. })
        ));
        assert!(matches!(
            choose(11, true, &small),
            Ok(EstimatorSpec::IntegratedGradients { .. })
        ));
        assert!(matches!(
            choose(11, false, &small),
            Err(AttributionError::NoEstimatorFits { .. })
        ));
        let tiny = AutoPolicy {
            max_evaluations: 0,
            ..p
        };
        assert!(choose(0, true, &tiny).is_err());
    }
}
