//! Accuracy against exact Shapley values on near-quadratic random games (issue 3's targets).
//!
//! Games: `QuadraticGame::random(n, seed, interaction = 0.5, cubic_share = 0.05)` — pairwise
//! interactions remove ~25% of Σa from v(N) and a third-order term worth 5% of Σa stands in for
//! higher-order effects. Error is the relative L1 error `Σ|φ̂ − φ| / Σ|φ|` against the exact
//! estimator; we take the median over 11 games. Budgets count coalition evaluations as charged
//! by the permutation estimator (2 + 2(n−1) per pair): 2n buys one antithetic pair, 10n five.

use crate::encoding::Seed;
use crate::estimator::{estimate, EstimatorSpec};
use crate::games::QuadraticGame;
use crate::seed::sha256;

const GAMES: u64 = 11;
const CUBIC_SHARE: f64 = 0.05;

fn rel_l1(est: &[f64], exact: &[f64]) -> f64 {
    let num: f64 = est.iter().zip(exact).map(|(a, b)| (a - b).abs()).sum();
    let den: f64 = exact.iter().map(|b| b.abs()).sum();
    num / den
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn check(n: usize) {
    let mut perm_2n = Vec::new();
    let mut perm_10n = Vec::new();
    let mut ig_4 = Vec::new();
    for g in 0..GAMES {
        let mut game = QuadraticGame::random(n, 1000 * n as u64 + g, 0.5, CUBIC_SHARE);
        let exact = estimate(
            &mut game,
            &EstimatorSpec::Exact { max_players: 16 },
            Seed([0; 32]),
        )
        .unwrap()
        .estimate
        .scores;
        // The closed form agrees with enumeration.
        assert!(rel_l1(&game.shapley(), &exact) < 1e-12);
        let seed = Seed(sha256(&g.to_le_bytes()).0);
        let run = |game: &mut QuadraticGame, spec: EstimatorSpec| {
            estimate(game, &spec, seed).unwrap().estimate
        };
        let budget = |b: u64| EstimatorSpec::Permutation {
            tolerance_ppm: 0,
            max_evaluations: b,
            min_pairs: 2,
        };
        let e = run(&mut game, budget(2 * n as u64));
        assert_eq!(e.stats.pairs, 1);
        assert!(e.stats.evaluations <= 2 * n as u64);
        perm_2n.push(rel_l1(&e.scores, &exact));
        let e = run(&mut game, budget(10 * n as u64));
        assert_eq!(e.stats.pairs, 5);
        assert!(e.stats.evaluations <= 10 * n as u64);
        perm_10n.push(rel_l1(&e.scores, &exact));
        let e = run(&mut game, EstimatorSpec::integrated_gradients(4));
        ig_4.push(rel_l1(&e.scores, &exact));
    }
    let (m2, m10, mig) = (median(perm_2n), median(perm_10n), median(ig_4));
    eprintln!("n={n}: permutation 2n {m2:.5}, 10n {m10:.5}; IG(4) {mig:.6}");
    assert!(m2 <= 0.02, "n={n}: permutation at 2n: median rel L1 {m2}");
    assert!(
        m10 <= 0.01,
        "n={n}: permutation at 10n: median rel L1 {m10}"
    );
    assert!(mig <= 0.01, "n={n}: IG with 4 points: median rel L1 {mig}");
}

#[test]
fn near_quadratic_n12() {
    check(12);
}

#[test]
fn near_quadratic_n16() {
    check(16);
}

#[test]
fn closed_form_holds_for_strongly_cubic_games() {
    // A large cubic share stresses the cubic closed form.
    for n in [1usize, 2, 3, 7, 10] {
        let mut game = QuadraticGame::random(n, n as u64, 1.0, 0.5);
        let exact = estimate(&mut game, &EstimatorSpec::exact(), Seed([0; 32]))
            .unwrap()
            .estimate
            .scores;
        assert!(rel_l1(&game.shapley(), &exact) < 1e-12, "n={n}");
    }
}
