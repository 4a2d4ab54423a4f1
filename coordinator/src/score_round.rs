//! Scoring one round end to end: seed → eval batch → game → estimator → report.
//!
//! 1. seed = `round_seed(run id, round, model hash, accepted update hashes)`;
//! 2. eval batch = [`crate::pool::draw`] from that seed over the pool's unrevealed samples
//!    ([`crate::evalset`] cuts it into batches);
//! 3. the [`RoundGame`] over the accepted players (in the given order) with weights p_i;
//! 4. the estimator: `[attribution] estimator = "auto"` runs `coalition_attribution::auto`
//!    with an [`AutoPolicy`] from the config; `exact`, `permutation` and
//!    `integrated-gradients` force that estimator with the config's parameters;
//! 5. `Report::build` with reward `[rewards] per_round` and the noise threshold
//!    `[attribution] noise_threshold` in fixed point.
//!
//! The model hash is checked against θ_r before anything is scored.

use coalition_attribution::{
    auto, estimate, round_seed, to_fixed, AutoPolicy, Coalition, EstimatorSpec, Game, Hash32,
    PlayerInput, Report, RoundInfo,
};
use coalition_config::{Estimator, RunConfig};
use coalition_model::checkpoint::params_hash;
use coalition_model::Llama;
use std::collections::BTreeSet;

use crate::error::{CoordinatorError, Result};
use crate::evalset::eval_batches;
use crate::outer::OuterOptimizer;
use crate::pool::{draw, unrevealed, EvalPool};
use crate::prefilter::Candidate;
use crate::scoring::RoundGame;

/// Minimum antithetic pairs for forced permutation sampling.
const MIN_PAIRS: u32 = coalition_attribution::estimator::DEFAULT_MIN_PAIRS;

/// How rounds are scored and paid, from `[attribution]`, `[rewards]` and `[training]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringPolicy {
    pub estimator: Estimator,
    pub auto: AutoPolicy,
    /// Sequences in the round's eval batch.
    pub eval_sequences: usize,
    /// Sequences per forward pass when evaluating.
    pub eval_batch_size: usize,
    /// R, token base units per round.
    pub reward: u64,
    /// Noise threshold on v(N) − v(∅), fixed point (10⁻⁹ nats).
    pub noise_threshold: i64,
    /// A deliberate lie, for tests that a reviewer catches it ([`Tamper::from_env`]).
    pub tamper: Option<Tamper>,
}

/// A deliberate lie a test coordinator tells, to show that `coalition verify` catches it.
/// Only debug builds read it (from `COALITION_TEST_TAMPER`); release builds never lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// `utility:R`: in round R, v(N) is reported 0.01 nats higher than measured (scores,
    /// report and roots stay consistent with the lie).
    Utility { round: u64 },
    /// `next-model:R`: in round R, θ_{r+1} gets 10⁻³ added to its first weight after the outer
    /// step (checkpoint, hashes and records follow the lie).
    NextModel { round: u64 },
}

/// Nats added to v(N) by [`Tamper::Utility`].
pub const TAMPER_UTILITY: f64 = 0.01;

impl Tamper {
    /// Parse `COALITION_TEST_TAMPER` in debug builds; `None` otherwise.
    pub fn from_env() -> Option<Tamper> {
        if !cfg!(debug_assertions) {
            return None;
        }
        let v = std::env::var("COALITION_TEST_TAMPER").ok()?;
        let (kind, round) = v.split_once(':')?;
        let round = round.parse().ok()?;
        match kind {
            "utility" => Some(Tamper::Utility { round }),
            "next-model" => Some(Tamper::NextModel { round }),
            _ => None,
        }
    }
}

impl ScoringPolicy {
    pub fn from_config(cfg: &RunConfig) -> Result<Self> {
        let a = &cfg.attribution;
        let tolerance_ppm = (a.tolerance * 1e6).round();
        if !(0.0..=f64::from(u32::MAX)).contains(&tolerance_ppm) {
            return Err(CoordinatorError::Invalid {
                name: "attribution.tolerance",
                value: a.tolerance.to_string(),
                reason: "out of range".into(),
            });
        }
        Ok(ScoringPolicy {
            estimator: a.estimator,
            auto: AutoPolicy {
                exact_max_players: a.max_exact_players.min(u32::MAX as usize) as u32,
                max_evaluations: a.max_evaluations as u64,
                tolerance_ppm: tolerance_ppm as u32,
                min_pairs: MIN_PAIRS,
                ig_points: a.ig_points.min(u32::MAX as usize) as u32,
            },
            eval_sequences: a.eval_sequences,
            eval_batch_size: cfg.training.batch_size.max(1),
            reward: cfg.rewards.per_round,
            noise_threshold: to_fixed(a.noise_threshold)?,
            tamper: Tamper::from_env(),
        })
    }

    /// The estimator forced by the config, or `None` for `auto`.
    pub fn forced_spec(&self) -> Option<EstimatorSpec> {
        let p = &self.auto;
        match self.estimator {
            Estimator::Auto => None,
            Estimator::Exact => Some(EstimatorSpec::Exact {
                max_players: p.exact_max_players,
            }),
            Estimator::Permutation => Some(EstimatorSpec::Permutation {
                tolerance_ppm: p.tolerance_ppm,
                max_evaluations: p.max_evaluations,
                min_pairs: p.min_pairs,
            }),
            Estimator::IntegratedGradients => Some(EstimatorSpec::IntegratedGradients {
                points: p.ig_points,
            }),
        }
    }
}

/// One round's inputs.
pub struct RoundInputs<'a> {
    pub run_id: &'a str,
    pub round: u64,
    /// Scratch model (its parameters are overwritten).
    pub model: &'a Llama,
    /// θ_r.
    pub theta: &'a [f32],
    /// Hash of θ_r; checked.
    pub model_hash: Hash32,
    /// Outer optimizer holding m_r.
    pub outer: &'a OuterOptimizer,
    /// Accepted players (after the pre-filter), in player order.
    pub players: &'a [Candidate],
    /// p_i, one per player.
    pub weights: &'a [f32],
    /// The eval pool, and the samples earlier rounds revealed (never drawn again).
    pub pool: &'a EvalPool,
    pub revealed: &'a BTreeSet<u64>,
}

/// A scored round.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredRound {
    pub report: Report,
    /// Pool indices of the eval batch, in draw order.
    pub eval_samples: Vec<u64>,
    /// L_eval(θ_r): the eval loss before the round.
    pub loss_before: f64,
    /// L_eval(θ^∅) (differs from `loss_before` when the momentum is non-zero).
    pub loss_empty: f64,
    /// L_eval(θ^N): the eval loss after committing every player's update.
    pub loss_full: f64,
}

/// Score a round (see the module docs).
pub fn score_round(inputs: &RoundInputs<'_>, policy: &ScoringPolicy) -> Result<ScoredRound> {
    let got = Hash32(params_hash(inputs.theta));
    if got != inputs.model_hash {
        return Err(CoordinatorError::HashMismatch {
            what: format!("θ of round {}", inputs.round),
            expected: inputs.model_hash,
            got,
        });
    }
    let players: Vec<PlayerInput> = inputs
        .players
        .iter()
        .map(|c| PlayerInput {
            id: c.trainer.clone(),
            update_hash: Hash32(c.update_hash),
        })
        .collect();
    let hashes: Vec<Hash32> = players.iter().map(|p| p.update_hash).collect();
    let seed = round_seed(
        inputs.run_id.as_bytes(),
        inputs.round,
        &inputs.model_hash,
        &hashes,
    );
    let left = unrevealed(inputs.pool.len(), inputs.revealed);
    let eval_samples = draw(&seed, &left, policy.eval_sequences)?;
    let samples = inputs.pool.samples();
    let eval = eval_batches(samples, &eval_samples, policy.eval_batch_size)?;

    let deltas: Vec<&[f32]> = inputs.players.iter().map(|c| c.values.as_slice()).collect();
    let mut game = RoundGame::new(
        inputs.model,
        inputs.theta,
        inputs.outer,
        deltas,
        inputs.weights.to_vec(),
        &eval,
    )?;
    let lie = matches!(policy.tamper, Some(Tamper::Utility { round }) if round == inputs.round);
    let attribution = if lie {
        let n = inputs.players.len();
        let full = Coalition::full(n).map(|c| c.mask());
        let mut fabricated = coalition_attribution::try_from_fn(n, |c: Coalition| {
            let v = game.utility(c)?;
            Ok::<f64, coalition_attribution::GameError>(if Some(c.mask()) == full {
                v + TAMPER_UTILITY
            } else {
                v
            })
        });
        match policy.forced_spec() {
            None => auto(&mut fabricated, &policy.auto, seed)?,
            Some(spec) => estimate(&mut fabricated, &spec, seed)?,
        }
    } else {
        match policy.forced_spec() {
            None => auto(&mut game, &policy.auto, seed)?,
            Some(spec) => estimate(&mut game, &spec, seed)?,
        }
    };
    let n = players.len();
    let loss_full = match Coalition::full(n) {
        Some(full) if n <= 64 => game.loss_of(full)?,
        _ => {
            let all = game.weights().to_vec();
            game.loss_with(&all)?
        }
    };
    let loss_empty = game.base_loss();
    inputs.model.params().load_flat(inputs.theta)?;
    let loss_before = crate::eval::eval_loss(inputs.model, &eval)?;
    let info = RoundInfo {
        run_id: inputs.run_id,
        round: inputs.round,
        model_hash: inputs.model_hash,
        players: &players,
        reward: policy.reward,
        noise_threshold: policy.noise_threshold,
    };
    let report = Report::build(&info, attribution)?;
    Ok(ScoredRound {
        report,
        eval_samples,
        loss_before,
        loss_empty,
        loss_full,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{aggregate, weights, Weighting};
    use crate::eval::{eval_loss, eval_loss_and_grad};
    use crate::evalset::eval_batches;
    use crate::outer::OuterParams;
    use crate::pool::PoolOrigin;
    use crate::test_support::*;
    use coalition_attribution::{verify_report, PayoutStatus};
    use coalition_datasets::SampleSet;
    use std::path::Path;

    fn policy(estimator: Estimator) -> ScoringPolicy {
        ScoringPolicy {
            estimator,
            auto: AutoPolicy::default(),
            eval_sequences: 8,
            eval_batch_size: 4,
            reward: 1_000_000,
            noise_threshold: to_fixed(1e-4).unwrap(),
            tamper: None,
        }
    }

    fn counting_pool(tokens: usize) -> EvalPool {
        let set = SampleSet::new(counting_stream(tokens, 1), 10).unwrap();
        EvalPool::new(
            set,
            PoolOrigin::PublicSplit {
                split_hash: [0; 32],
            },
        )
        .unwrap()
    }

    #[test]
    fn revealed_samples_never_score_again() {
        let model = tiny_model(13);
        let theta = model.params().flatten().unwrap();
        let n = theta.len();
        let players = vec![
            candidate("a", vec![0.001; n]),
            candidate("b", vec![-0.001; n]),
        ];
        let pool = counting_pool(171); // 17 samples: two rounds of 8, then exhausted
        let outer = OuterOptimizer::new(OuterParams::averaging(), n);
        let w = weights(Weighting::Uniform, &[1, 1]).unwrap();
        let mut revealed = BTreeSet::new();
        for round in 0..2 {
            let inputs = RoundInputs {
                run_id: "run-x",
                round,
                model: &model,
                theta: &theta,
                model_hash: Hash32(params_hash(&theta)),
                outer: &outer,
                players: &players,
                weights: &w,
                pool: &pool,
                revealed: &revealed,
            };
            let scored = score_round(&inputs, &policy(Estimator::Auto)).unwrap();
            for i in scored.eval_samples {
                assert!(revealed.insert(i), "round {round} reused sample {i}");
            }
        }
        let inputs = RoundInputs {
            run_id: "run-x",
            round: 2,
            model: &model,
            theta: &theta,
            model_hash: Hash32(params_hash(&theta)),
            outer: &outer,
            players: &players,
            weights: &w,
            pool: &pool,
            revealed: &revealed,
        };
        let err = score_round(&inputs, &policy(Estimator::Auto)).unwrap_err();
        assert!(
            matches!(err, CoordinatorError::PoolExhausted { needed: 8, left: 1 }),
            "{err}"
        );
    }

    fn candidate(trainer: &str, values: Vec<f32>) -> Candidate {
        Candidate {
            trainer: trainer.into(),
            update_hash: coalition_attribution::sha256(trainer.as_bytes()).0,
            values,
            tokens: 60,
        }
    }

    #[test]
    fn a_scored_round_verifies_pays_the_helpful_and_not_the_free_rider() {
        let model = tiny_model(11);
        let theta = model.params().flatten().unwrap();
        let n = theta.len();
        let (_, grad) = eval_loss_and_grad(&model, &[counting(6, 10, 1, 2)]).unwrap();
        let good: Vec<f32> = grad.iter().map(|&g| g as f32).collect();
        let shuffled: Vec<f32> = good.iter().rev().copied().collect();
        let players = vec![
            candidate("honest", good),
            candidate("free-rider", vec![0.0; n]),
            candidate("corrupt", shuffled),
        ];
        let pool = counting_pool(400);
        let revealed = BTreeSet::new();
        let outer = OuterOptimizer::new(OuterParams::averaging(), n);
        let w = weights(Weighting::Uniform, &[1, 1, 1]).unwrap();
        let model_hash = Hash32(params_hash(&theta));
        let inputs = RoundInputs {
            run_id: "run-x",
            round: 4,
            model: &model,
            theta: &theta,
            model_hash,
            outer: &outer,
            players: &players,
            weights: &w,
            pool: &pool,
            revealed: &revealed,
        };
        let scored = score_round(&inputs, &policy(Estimator::Auto)).unwrap();
        let r = &scored.report;
        let outcome = verify_report(r);
        assert!(outcome.is_match(), "{outcome}");
        assert_eq!(r.estimator, EstimatorSpec::exact());
        assert_eq!(r.players[1].score, 0.0);
        assert!(r.players[0].score > 0.0, "{:?}", r.players);
        assert_eq!(r.payout_status, PayoutStatus::Paid);
        assert!(r.players[0].payout > 0);
        assert_eq!(r.players[1].payout, 0);
        let sum: f64 = r.players.iter().map(|p| p.score).sum();
        assert!((sum - (r.v_full - r.v_empty)).abs() < 1e-12);
        assert_eq!(scored.eval_samples.len(), 8);
        assert!(scored.loss_full < scored.loss_empty);
        assert_eq!(
            scored.loss_before, scored.loss_empty,
            "no momentum: θ^∅ = θ_r"
        );

        // θ_{r+1} from the real aggregator scores exactly loss_full on the recorded samples.
        let eval = eval_batches(pool.samples(), &scored.eval_samples, 4).unwrap();
        let deltas: Vec<&[f32]> = players.iter().map(|c| c.values.as_slice()).collect();
        let mut next = theta.clone();
        let mut o2 = outer.clone();
        o2.apply(&mut next, &aggregate(&deltas, &w, n).unwrap())
            .unwrap();
        model.params().load_flat(&next).unwrap();
        assert_eq!(eval_loss(&model, &eval).unwrap(), scored.loss_full);

        // Same inputs, same bits.
        let again = score_round(&inputs, &policy(Estimator::Auto)).unwrap();
        assert_eq!(again.report, scored.report);

        // Forced estimators agree with the exact scores.
        for est in [Estimator::Permutation, Estimator::IntegratedGradients] {
            let other = score_round(&inputs, &policy(est)).unwrap();
            assert!(verify_report(&other.report).is_match());
            let a = other.report.players[0].score;
            let b = r.players[0].score;
            assert!((a - b).abs() <= 0.05 * b.abs(), "{est:?}: {a} vs exact {b}");
        }

        // A wrong model hash is refused before scoring.
        let bad = RoundInputs {
            model_hash: coalition_attribution::sha256(b"not it"),
            ..inputs
        };
        assert!(matches!(
            score_round(&bad, &policy(Estimator::Auto)),
            Err(CoordinatorError::HashMismatch { .. })
        ));
    }

    #[test]
    fn a_round_without_players_scores_and_pays_nothing() {
        let model = tiny_model(12);
        let theta = model.params().flatten().unwrap();
        let outer = OuterOptimizer::new(OuterParams::averaging(), theta.len());
        let pool = counting_pool(200);
        let revealed = BTreeSet::new();
        let inputs = RoundInputs {
            run_id: "run-x",
            round: 0,
            model: &model,
            theta: &theta,
            model_hash: Hash32(params_hash(&theta)),
            outer: &outer,
            players: &[],
            weights: &[],
            pool: &pool,
            revealed: &revealed,
        };
        let scored = score_round(&inputs, &policy(Estimator::Auto)).unwrap();
        assert!(verify_report(&scored.report).is_match());
        assert_eq!(scored.report.payout_status, PayoutStatus::NoPlayers);
        assert_eq!(scored.loss_full, scored.loss_before);
    }

    #[test]
    fn policy_comes_from_the_config() {
        let toml = r#"
            [run]
            name = "p"
            [model]
            kind = "llama"
            hidden_size = 16
            intermediate_size = 32
            num_layers = 1
            num_heads = 2
            [data]
            dataset = "synthetic-arith"
            seq_len = 8
            [attribution]
            estimator = "permutation"
            tolerance = 0.002
            max_evaluations = 500
            noise_threshold = 0.001
            [rewards]
            per_round = 77
        "#;
        let cfg = RunConfig::from_toml_str(toml, Path::new("p.toml")).unwrap();
        let p = ScoringPolicy::from_config(&cfg).unwrap();
        assert_eq!(p.reward, 77);
        assert_eq!(p.noise_threshold, 1_000_000);
        assert_eq!(
            p.forced_spec(),
            Some(EstimatorSpec::Permutation {
                tolerance_ppm: 2000,
                max_evaluations: 500,
                min_pairs: 2
            })
        );
    }
}
