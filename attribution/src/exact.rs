//! Exact Shapley values by enumerating all 2^n coalitions.
//!
//! Coalitions are evaluated in reflected-binary Gray-code order (`k ^ (k >> 1)` for
//! k = 0, 1, …, 2^n − 1): each differs from the previous by one player, so a utility that keeps
//! a running aggregate Σ p_i Δ_i can add or remove a single update per step.
//!
//! Scores use the Shapley formula grouped by coalition size:
//! `φ_i = Σ_{s=0}^{n−1} w_s · Σ_{|S|=s, i∉S} (v(S ∪ {i}) − v(S))`, `w_s = 1 / (n·C(n−1, s))`.
//! The inner sums run over S in increasing mask order, the outer over s ascending; then the
//! efficiency residual is removed by [`crate::balance::balance`].

use crate::balance::balance;
use crate::cache::Cached;
use crate::coalition::gray;
use crate::error::AttributionError;
use crate::estimator::{Estimate, Stats, StopReason};
use crate::game::Game;

/// Exact enumeration never runs above this many players (2^20 utilities in memory).
pub const HARD_LIMIT: u32 = 20;

/// C(n, k) exactly (n ≤ 64 keeps every intermediate below 2^64 for the sizes used here).
pub(crate) fn binomial(n: u64, k: u64) -> u64 {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    let mut c: u64 = 1;
    for j in 0..k {
        // c * (n - j) is divisible by (j + 1); u128 avoids overflow for large n.
        c = ((c as u128 * (n - j) as u128) / (j as u128 + 1)) as u64;
    }
    c
}

pub(crate) fn run<G: Game>(
    cache: &mut Cached<G>,
    max_players: u32,
) -> Result<Estimate, AttributionError> {
    let n = cache.players();
    let limit = max_players.min(HARD_LIMIT);
    if n > limit as usize {
        return Err(AttributionError::TooManyPlayersForExact {
            players: n,
            max: limit,
        });
    }
    let size = 1usize << n;
    let mut values = vec![0.0f64; size];
    for k in 0..size as u64 {
        let c = gray(k);
        values[c.mask() as usize] = cache.eval(c)?;
    }
    let v_empty = values[0];
    let v_full = values[size - 1];

    // buckets[i * n + s] = Σ_{|S|=s, i∉S} (v(S∪i) − v(S))
    let mut buckets = vec![0.0f64; n * n];
    for (mask, &v_s) in values.iter().enumerate() {
        let s = mask.count_ones() as usize;
        for i in 0..n {
            if mask & (1 << i) == 0 {
                buckets[i * n + s] += values[mask | (1 << i)] - v_s;
            }
        }
    }
    let weights: Vec<f64> = (0..n)
        .map(|s| 1.0 / (n as f64 * binomial(n as u64 - 1, s as u64) as f64))
        .collect();
    let mut scores: Vec<f64> = (0..n)
        .map(|i| (0..n).fold(0.0, |acc, s| acc + weights[s] * buckets[i * n + s]))
        .collect();
    let gap = balance(&mut scores, v_full - v_empty);
    Ok(Estimate {
        scores,
        v_empty,
        v_full,
        stats: Stats {
            evaluations: cache.evaluations(),
            path_points: 0,
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
    use crate::balance::ordered_sum;
    use crate::coalition::Coalition;
    use crate::encoding::Seed;
    use crate::estimator::{estimate, EstimatorSpec};
    use crate::game::from_fn;
    use crate::games::{AirportGame, GloveGame, QuadraticGame, WeightedMajority};
    use crate::test_support::{brute_force, table_game};
    use proptest::prelude::*;

    fn exact_scores<G: Game>(mut g: G, max: u32) -> Vec<f64> {
        estimate(
            &mut g,
            &EstimatorSpec::Exact { max_players: max },
            Seed([0; 32]),
        )
        .unwrap()
        .estimate
        .scores
    }

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn binomials() {
        assert_eq!(binomial(5, 2), 10);
        assert_eq!(binomial(19, 9), 92378);
        assert_eq!(binomial(63, 31), 916312070471295267);
        assert_eq!(binomial(3, 5), 0);
    }

    #[test]
    fn glove_game_closed_form() {
        for right in 1..=6 {
            let g = GloveGame::new(1, right);
            let want = g.shapley().unwrap();
            assert!(close(&exact_scores(g, 12), &want, 1e-12));
        }
        // 2 left, 1 right is the mirror image.
        let g = GloveGame::new(2, 1);
        assert!(close(
            &exact_scores(g, 12),
            &[1.0 / 6.0, 1.0 / 6.0, 2.0 / 3.0],
            1e-12
        ));
    }

    #[test]
    fn airport_game_closed_form() {
        let g = AirportGame::new(vec![4.0, 1.0, 3.0, 3.0, 9.0, 2.5, 7.0, 0.0]);
        let want = g.shapley();
        assert!(close(&exact_scores(g, 12), &want, 1e-12));
    }

    #[test]
    fn weighted_majority_published_values() {
        // Any two of the three form a majority: 1/3 each.
        let g = WeightedMajority::new(51, vec![49, 48, 3]);
        assert!(close(&exact_scores(g, 12), &[1.0 / 3.0; 3], 1e-14));
        // UN Security Council (15 members, quota 39, permanent weight 7): the Shapley–Shubik
        // index is 421/2145 per permanent and 4/2145 per elected member.
        let g = WeightedMajority::un_security_council();
        let got = exact_scores(g, 16);
        for (i, &s) in got.iter().enumerate() {
            let want = if i < 5 { 421.0 / 2145.0 } else { 4.0 / 2145.0 };
            assert!((s - want).abs() < 1e-13, "player {i}: {s} vs {want}");
        }
    }

    #[test]
    fn weighted_majority_dp_matches_enumeration() {
        let g = WeightedMajority::new(10, vec![1, 2, 3, 4, 5, 6, 2]);
        let want = g.shapley();
        assert!(close(&exact_scores(g, 12), &want, 1e-13));
    }

    #[test]
    fn refuses_above_max_and_handles_sixteen_players() {
        let mut g = QuadraticGame::random(16, 1, 0.5, 0.05);
        let err = estimate(&mut g, &EstimatorSpec::exact(), Seed([0; 32])).unwrap_err();
        assert!(matches!(
            err,
            AttributionError::TooManyPlayersForExact {
                players: 16,
                max: 12
            }
        ));
        assert!(err.to_string().contains("2^16"));
        let a = estimate(
            &mut g,
            &EstimatorSpec::Exact { max_players: 16 },
            Seed([0; 32]),
        )
        .unwrap();
        assert_eq!(a.estimate.stats.evaluations, 1 << 16);
        let want = g.shapley();
        assert!(close(&a.estimate.scores, &want, 1e-10));
        let bad = EstimatorSpec::Exact { max_players: 21 };
        assert!(matches!(
            estimate(&mut g, &bad, Seed([0; 32])),
            Err(AttributionError::InvalidParameter { .. })
        ));
    }

    #[test]
    fn evaluates_in_gray_code_order() {
        let mut order = Vec::new();
        let mut g = from_fn(4, |c: Coalition| {
            order.push(c.mask());
            c.len() as f64
        });
        estimate(&mut g, &EstimatorSpec::exact(), Seed([0; 32])).unwrap();
        drop(g);
        let want: Vec<u64> = (0..16).map(|k| gray(k).mask()).collect();
        assert_eq!(order, want);
    }

    #[test]
    fn zero_and_one_player() {
        let mut g = from_fn(0, |_| 3.0);
        let a = estimate(&mut g, &EstimatorSpec::exact(), Seed([0; 32])).unwrap();
        assert!(a.estimate.scores.is_empty());
        assert_eq!((a.estimate.v_empty, a.estimate.v_full), (3.0, 3.0));
        let mut g = from_fn(1, |c: Coalition| if c.is_empty() { 1.0 } else { 3.5 });
        let a = estimate(&mut g, &EstimatorSpec::exact(), Seed([0; 32])).unwrap();
        assert_eq!(a.estimate.scores, vec![2.5]);
    }

    #[test]
    fn nan_utility_is_a_clear_error() {
        let mut g = from_fn(3, |c: Coalition| if c.mask() == 5 { f64::NAN } else { 1.0 });
        let err = estimate(&mut g, &EstimatorSpec::exact(), Seed([0; 32])).unwrap_err();
        assert!(err.to_string().contains("{0,2}"), "{err}");
        assert!(err.to_string().contains("not finite"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn matches_brute_force_over_all_orders(values in prop::collection::vec(-10.0f64..10.0, 1..=64)) {
            // n chosen so that 2^n ≤ len(values) … up to 6 players.
            let n = (values.len().ilog2() as usize).min(6);
            let g = table_game(n, &values);
            let want = brute_force(&g);
            let got = exact_scores(g, 12);
            prop_assert!(close(&got, &want, 1e-10), "{got:?} vs {want:?}");
        }

        #[test]
        fn efficiency_null_symmetry_additivity(
            n in 2usize..=7,
            seed in any::<u64>(),
            scale in 1e-3f64..1e3,
        ) {
            let base = crate::test_support::random_values(n, seed, scale);
            // Efficiency.
            let g = table_game(n, &base);
            let s = exact_scores(g, 12);
            let gain = base[(1 << n) - 1] - base[0];
            prop_assert!((ordered_sum(&s) - gain).abs() <= 1e-9 * gain.abs().max(scale));

            // Null player: player n−1 never changes the value.
            let null = crate::test_support::with_null_player(n, &base, n - 1);
            let s = exact_scores(table_game(n, &null), 12);
            prop_assert_eq!(s[n - 1], 0.0);

            // Symmetric players 0 and 1.
            let sym = crate::test_support::symmetrised(n, &base, 0, 1);
            let s = exact_scores(table_game(n, &sym), 12);
            prop_assert!((s[0] - s[1]).abs() <= 1e-12 * scale.max(1.0));

            // Additivity: φ(v + w) = φ(v) + φ(w).
            let other = crate::test_support::random_values(n, seed ^ 0x5555, scale);
            let sum: Vec<f64> = base.iter().zip(&other).map(|(a, b)| a + b).collect();
            let sv = exact_scores(table_game(n, &base), 12);
            let sw = exact_scores(table_game(n, &other), 12);
            let ss = exact_scores(table_game(n, &sum), 12);
            for i in 0..n {
                prop_assert!((ss[i] - sv[i] - sw[i]).abs() <= 1e-9 * scale.max(1.0));
            }

            // Additive game: φ_i = a_i.
            let a: Vec<f64> = (0..n).map(|i| base[1 << i] - base[0]).collect();
            let additive: Vec<f64> = (0..1usize << n)
                .map(|m| (0..n).filter(|i| m & (1 << i) != 0).map(|i| a[i]).sum())
                .collect();
            let s = exact_scores(table_game(n, &additive), 12);
            for i in 0..n {
                prop_assert!((s[i] - a[i]).abs() <= 1e-12 * scale.max(1.0));
            }
        }
    }
}
