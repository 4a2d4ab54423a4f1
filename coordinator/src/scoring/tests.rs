use super::*;
use crate::aggregate::{aggregate, weights, Weighting};
use crate::eval::eval_loss_and_grad;
use crate::outer::OuterParams;
use crate::test_support::*;
use coalition_attribution::{estimate, EstimatorSpec, Seed};

/// Δ = η·∇L(θ_r) on `batch`: one SGD step's pseudo-gradient.
fn sgd_update(model: &Llama, theta: &[f32], batch: &TokenBatch, eta: f64) -> Vec<f32> {
    model.params().load_flat(theta).unwrap();
    let (_, g) = eval_loss_and_grad(model, std::slice::from_ref(batch)).unwrap();
    g.iter().map(|&x| (eta * x) as f32).collect()
}

/// Deterministic pseudo-random noise scaled to norm `norm`.
fn noise(len: usize, norm: f64, seed: u32) -> Vec<f32> {
    let raw: Vec<f32> = (0..len as u32)
        .map(|k| {
            let h = (k ^ seed.wrapping_mul(0x9e37_79b9)).wrapping_mul(2_654_435_761);
            ((h >> 8) % 20_001) as f32 / 10_000.0 - 1.0
        })
        .collect();
    let s = (norm / vecmath::norm(&raw)) as f32;
    raw.iter().map(|x| x * s).collect()
}

/// An optimizer with non-zero momentum (one earlier step), so θ^∅ ≠ θ_r.
fn warmed_outer(n: usize, theta: &mut [f32], g: &[f32]) -> OuterOptimizer {
    let mut outer = OuterOptimizer::new(
        OuterParams {
            lr: 0.7,
            momentum: 0.9,
            nesterov: true,
        },
        n,
    );
    let small: Vec<f32> = g.iter().map(|x| 0.1 * x).collect();
    outer.apply(theta, &small).unwrap();
    outer
}

struct Fixture {
    model: Llama,
    theta: Vec<f32>,
    good: Vec<f32>,
    other: Vec<f32>,
    eval: Vec<TokenBatch>,
}

fn fixture(model: Llama) -> Fixture {
    let theta = model.params().flatten().unwrap();
    let train = counting(6, 10, 1, 0);
    let good = sgd_update(&model, &theta, &train, 1.0);
    let other = sgd_update(&model, &theta, &counting(6, 10, 1, 3), 1.0);
    let eval = vec![counting(4, 10, 1, 1), counting(4, 10, 1, 7)];
    Fixture {
        model,
        theta,
        good,
        other,
        eval,
    }
}

#[test]
fn a_zero_update_is_a_null_player_and_efficiency_holds() {
    let mut f = fixture(tiny_model(1));
    let n = f.theta.len();
    let outer = warmed_outer(n, &mut f.theta, &f.good.clone());
    let zero = vec![0f32; n];
    let deltas: Vec<&[f32]> = vec![&f.good, &zero, &f.other];
    let w = weights(Weighting::Uniform, &[1, 1, 1]).unwrap();
    let mut game = RoundGame::new(&f.model, &f.theta, &outer, deltas, w, &f.eval).unwrap();
    let a = estimate(&mut game, &EstimatorSpec::exact(), Seed([1; 32])).unwrap();
    let s = a.scores();
    assert_eq!(s[1], 0.0, "zero update must score exactly 0: {s:?}");
    assert!(s[0] > 0.0 && s[2] > 0.0, "{s:?}");
    let e = &a.estimate;
    assert_eq!(e.v_empty, 0.0);
    let sum: f64 = s.iter().sum();
    assert!(
        (sum - (e.v_full - e.v_empty)).abs() <= 1e-12 * e.v_full.abs().max(1.0),
        "Σφ = {sum}, v(N) − v(∅) = {}",
        e.v_full - e.v_empty
    );
}

#[test]
fn identical_updates_score_identically() {
    let f = fixture(tiny_model(2));
    let n = f.theta.len();
    let outer = OuterOptimizer::new(OuterParams::averaging(), n);
    let deltas: Vec<&[f32]> = vec![&f.other, &f.good, &f.good];
    let w = weights(Weighting::Uniform, &[1, 1, 1]).unwrap();
    let mut game = RoundGame::new(&f.model, &f.theta, &outer, deltas, w, &f.eval).unwrap();
    let s = estimate(&mut game, &EstimatorSpec::exact(), Seed([2; 32]))
        .unwrap()
        .estimate
        .scores;
    assert!(
        (s[1] - s[2]).abs() <= 1e-9 * s[1].abs(),
        "identical updates scored {} and {}",
        s[1],
        s[2]
    );
}

#[test]
fn a_helpful_update_scores_positive_and_noise_does_not() {
    let f = fixture(tiny_model(3));
    let n = f.theta.len();
    let outer = OuterOptimizer::new(OuterParams::averaging(), n);
    let junk = noise(n, vecmath::norm(&f.good), 9);
    let deltas: Vec<&[f32]> = vec![&f.good, &junk];
    let w = weights(Weighting::Uniform, &[1, 1]).unwrap();
    let mut game = RoundGame::new(&f.model, &f.theta, &outer, deltas, w, &f.eval).unwrap();
    let s = estimate(&mut game, &EstimatorSpec::exact(), Seed([3; 32]))
        .unwrap()
        .estimate
        .scores;
    assert!(s[0] > 1e-3, "helpful update scored {}", s[0]);
    assert!(
        s[1] <= 0.05 * s[0],
        "noise scored {} vs helpful {}",
        s[1],
        s[0]
    );
}

#[test]
fn the_path_gradient_matches_finite_differences_of_v() {
    // f64 model so the finite differences are not drowned in rounding.
    let mut f = fixture(tiny_model_f64(4));
    let n = f.theta.len();
    let outer = warmed_outer(n, &mut f.theta, &f.good.clone());
    let junk = noise(n, 0.5 * vecmath::norm(&f.good), 4);
    let deltas: Vec<&[f32]> = vec![&f.good, &junk, &f.other];
    let w = weights(Weighting::Tokens, &[1, 2, 3]).unwrap();
    let mut game = RoundGame::new(&f.model, &f.theta, &outer, deltas, w, &f.eval).unwrap();
    let t = 0.4;
    let at = vec![t; 3];
    let point = game.gradient_at(&at).unwrap();
    assert_eq!(point.value, game.value_at(&at).unwrap());
    let h = 1e-2;
    for i in 0..3 {
        let mut up = at.clone();
        up[i] += h;
        let mut down = at.clone();
        down[i] -= h;
        let fd = (game.value_at(&up).unwrap() - game.value_at(&down).unwrap()) / (2.0 * h);
        let an = point.gradient[i];
        assert!(
            (fd - an).abs() <= 1e-6 + 2e-3 * fd.abs().max(an.abs()),
            "player {i}: path gradient {an} vs finite difference {fd}"
        );
    }
    assert!(
        point.gradient[0] > 0.0,
        "a descent update must have a positive path gradient"
    );
    // The hook agrees with the coalition utilities at the endpoints.
    assert_eq!(game.path_point(0.0).unwrap().value, 0.0);
    let full = Coalition::full(3).unwrap();
    assert_eq!(
        game.path_point(1.0).unwrap().value,
        game.value(full).unwrap()
    );
}

#[test]
fn v_of_n_is_the_committed_models_improvement() {
    let mut f = fixture(tiny_model(5));
    let n = f.theta.len();
    let mut outer = warmed_outer(n, &mut f.theta, &f.good.clone());
    let deltas: Vec<&[f32]> = vec![&f.good, &f.other];
    let w = weights(Weighting::Tokens, &[3, 1]).unwrap();
    let loss_full = {
        let mut game = RoundGame::new(
            &f.model,
            &f.theta,
            &outer,
            deltas.clone(),
            w.clone(),
            &f.eval,
        )
        .unwrap();
        game.loss_of(Coalition::full(2).unwrap()).unwrap()
    };
    let g = aggregate(&deltas, &w, n).unwrap();
    let mut next = f.theta.clone();
    outer.apply(&mut next, &g).unwrap();
    f.model.params().load_flat(&next).unwrap();
    assert_eq!(
        crate::eval::eval_loss(&f.model, &f.eval).unwrap(),
        loss_full
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let f = fixture(tiny_model(6));
    let n = f.theta.len();
    let outer = OuterOptimizer::new(OuterParams::averaging(), n);
    let short = vec![0f32; n - 1];
    let err = RoundGame::new(&f.model, &f.theta, &outer, vec![&short], vec![1.0], &f.eval)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("player 0"), "{err}");
    assert!(RoundGame::new(&f.model, &f.theta, &outer, vec![&f.good], vec![], &f.eval).is_err());
    assert!(RoundGame::new(&f.model, &f.theta, &outer, vec![], vec![], &[]).is_err());
    let mut game = RoundGame::new(
        &f.model,
        &f.theta,
        &outer,
        vec![&f.good],
        vec![1.0],
        &f.eval,
    )
    .unwrap();
    assert!(game.value(Coalition::from_mask(0b10)).is_err());
    assert!(game.value_at(&[0.5, 0.5]).is_err());
}
