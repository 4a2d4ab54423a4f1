//! Reports: building, JSON round trips, verification, and the first-mismatch diagnostics.

use crate::auto::{auto, AutoPolicy};
use crate::coalition::Coalition;
use crate::encoding::{Hash32, Seed};
use crate::error::{AttributionError, VerifyError};
use crate::estimator::{estimate, Attribution, EstimatorSpec};
use crate::game::{from_fn, PathPoint};
use crate::games::QuadraticGame;
use crate::payout::PayoutStatus;
use crate::report::{PlayerInput, Report, RoundInfo};
use crate::seed::{round_seed, sha256};
use crate::transcript::CoalitionEval;
use crate::verify::{verify, verify_report, Mismatch, VerifyOutcome};

fn players(n: usize) -> Vec<PlayerInput> {
    (0..n)
        .map(|i| PlayerInput {
            id: format!("trainer-{i:02}"),
            update_hash: sha256(format!("update {i}").as_bytes()),
        })
        .collect()
}

fn info(players: &[PlayerInput]) -> RoundInfo<'_> {
    RoundInfo {
        run_id: "run-xyz",
        round: 4,
        model_hash: sha256(b"theta_4"),
        players,
        reward: 1_000_000_007,
        noise_threshold: 10_000_000,
    }
}

fn seed_for(players: &[PlayerInput]) -> Seed {
    let i = info(players);
    let h: Vec<Hash32> = players.iter().map(|p| p.update_hash).collect();
    round_seed(i.run_id.as_bytes(), i.round, &i.model_hash, &h)
}

fn report_with(spec: EstimatorSpec, n: usize) -> Report {
    let p = players(n);
    let mut game = QuadraticGame::random(n, 42, 0.5, 0.05);
    let a = estimate(&mut game, &spec, seed_for(&p)).unwrap();
    Report::build(&info(&p), a).unwrap()
}

fn round_trip(r: &Report) -> Report {
    Report::from_json(&r.to_json()).unwrap()
}

fn mismatch(r: &Report) -> Mismatch {
    match verify_report(r) {
        VerifyOutcome::Mismatch(m) => m,
        VerifyOutcome::Match(s) => panic!("expected a mismatch, got {s:?}"),
    }
}

#[test]
fn every_estimator_round_trips_and_verifies() {
    for (spec, n) in [
        (EstimatorSpec::exact(), 8),
        (EstimatorSpec::permutation(400), 20),
        (EstimatorSpec::integrated_gradients(6), 30),
    ] {
        let r = report_with(spec, n);
        assert_eq!(r.payout_status, PayoutStatus::Paid);
        assert_eq!(r.paid + r.dust, r.reward);
        let back = round_trip(&r);
        assert_eq!(back, r);
        let outcome = verify_report(&back);
        assert!(outcome.is_match(), "{spec}: {outcome}");
        let text = outcome.to_string();
        assert!(text.starts_with("OK: run run-xyz round 4"), "{text}");
        assert!(text.contains(&r.roots.transcript.to_hex()));
    }
}

#[test]
fn first_mismatch_is_named() {
    let r = report_with(EstimatorSpec::permutation(200), 10);

    let mut t = r.clone();
    t.players[3].score = f64::from_bits(t.players[3].score.to_bits() ^ 1);
    match mismatch(&t) {
        Mismatch::Score {
            index,
            id,
            reported,
            recomputed,
        } => {
            assert_eq!((index, id.as_str()), (3, "trainer-03"));
            assert_eq!(recomputed.to_bits(), r.players[3].score.to_bits());
            assert_ne!(reported.to_bits(), recomputed.to_bits());
        }
        m => panic!("{m}"),
    }
    assert!(mismatch(&t).to_string().contains("player 3 (trainer-03)"));

    let mut t = r.clone();
    t.players[5].payout += 1;
    assert!(matches!(mismatch(&t), Mismatch::Payout { index: 5, .. }));

    let mut t = r.clone();
    t.players[2].score_fixed -= 1;
    assert!(matches!(
        mismatch(&t),
        Mismatch::FixedScore { index: 2, .. }
    ));

    let mut t = r.clone();
    t.transcript.coalitions[4].value += 1e-3;
    assert!(matches!(
        mismatch(&t),
        Mismatch::Root {
            root: "transcript",
            ..
        }
    ));
    // With the root "fixed up" too, the replay exposes the changed scores.
    t.roots.transcript = t.transcript.root();
    assert!(matches!(
        mismatch(&t),
        Mismatch::Field { .. } | Mismatch::Score { .. }
    ));

    let mut t = r.clone();
    t.round += 1;
    assert!(matches!(mismatch(&t), Mismatch::Seed { .. }));

    let mut t = r.clone();
    t.players.swap(0, 1);
    assert!(matches!(
        mismatch(&t),
        Mismatch::Root {
            root: "updates",
            ..
        }
    ));

    let mut t = r.clone();
    t.players[1].id = t.players[0].id.clone();
    let m = mismatch(&t);
    assert!(matches!(m, Mismatch::Malformed { .. }));
    assert!(m.to_string().contains("duplicate player id"), "{m}");

    let mut t = r.clone();
    t.dust += 1;
    assert!(matches!(
        mismatch(&t),
        Mismatch::Field { field: "dust", .. }
    ));

    let mut t = r.clone();
    t.roots.scores = Hash32([0; 32]);
    assert!(matches!(
        mismatch(&t),
        Mismatch::Root { root: "scores", .. }
    ));

    let mut t = r.clone();
    t.estimator = EstimatorSpec::exact();
    assert!(matches!(
        mismatch(&t),
        Mismatch::Field {
            field: "estimator",
            ..
        }
    ));

    let mut t = r.clone();
    t.format = "coalition-report/v0".into();
    assert!(matches!(mismatch(&t), Mismatch::Malformed { .. }));
    assert!(verify_report(&t).to_string().starts_with("MISMATCH: "));
}

#[test]
fn verify_replays_and_polices_entries() {
    let p = players(9);
    let mut game = QuadraticGame::random(9, 1, 0.5, 0.1);
    let a = estimate(&mut game, &EstimatorSpec::permutation(100), seed_for(&p)).unwrap();
    let e = verify(&a.transcript).unwrap();
    let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&e.scores), bits(&a.estimate.scores));
    assert_eq!(e.stats, a.estimate.stats);

    let mut t = a.transcript.clone();
    let removed = t.coalitions.remove(3);
    assert_eq!(
        verify(&t).unwrap_err(),
        VerifyError::MissingCoalition {
            coalition: removed.coalition()
        }
    );

    let mut t = a.transcript.clone();
    let unused = (0..512u64)
        .find(|m| t.value(Coalition::from_mask(*m)).is_none())
        .unwrap();
    let pos = t.coalitions.partition_point(|c| c.mask < unused);
    t.coalitions.insert(
        pos,
        CoalitionEval {
            mask: unused,
            value: 1.0,
        },
    );
    assert!(matches!(
        verify(&t),
        Err(VerifyError::UnusedEntries { count: 1, .. })
    ));

    let mut t = a.transcript.clone();
    t.coalitions[2].value = f64::INFINITY;
    assert!(matches!(
        verify(&t),
        Err(VerifyError::NonFinite { index: 2 })
    ));

    let mut t = a.transcript.clone();
    t.estimator = EstimatorSpec::Permutation {
        tolerance_ppm: 0,
        max_evaluations: 3,
        min_pairs: 2,
    };
    assert!(matches!(
        verify(&t),
        Err(VerifyError::Replay(AttributionError::BudgetTooSmall { .. }))
    ));
}

#[test]
fn bad_rounds_give_clear_errors_or_defined_reports() {
    // Duplicate ids and duplicate update hashes are refused.
    let mut p = players(3);
    p[2].id = p[0].id.clone();
    let mut g = QuadraticGame::random(3, 1, 0.5, 0.0);
    let a = estimate(&mut g, &EstimatorSpec::exact(), seed_for(&p)).unwrap();
    assert!(matches!(
        Report::build(&info(&p), a),
        Err(AttributionError::DuplicatePlayerId {
            first: 0,
            second: 2,
            ..
        })
    ));
    let mut p = players(3);
    p[1].update_hash = p[0].update_hash;
    let a = estimate(&mut g, &EstimatorSpec::exact(), seed_for(&p)).unwrap();
    assert!(matches!(
        Report::build(&info(&p), a),
        Err(AttributionError::DuplicateUpdateHash { .. })
    ));
    let mut p = players(3);
    p[1].id.clear();
    let a = estimate(&mut g, &EstimatorSpec::exact(), seed_for(&p)).unwrap();
    assert!(matches!(
        Report::build(&info(&p), a),
        Err(AttributionError::EmptyPlayerId { index: 1 })
    ));

    // Wrong seed and wrong player count.
    let p = players(3);
    let a = estimate(&mut g, &EstimatorSpec::exact(), Seed([0; 32])).unwrap();
    assert!(matches!(
        Report::build(&info(&p), a),
        Err(AttributionError::SeedMismatch { .. })
    ));
    let a = estimate(&mut g, &EstimatorSpec::exact(), seed_for(&p)).unwrap();
    assert!(matches!(
        Report::build(&info(&p[..2]), a),
        Err(AttributionError::PlayerCountMismatch {
            players: 2,
            scores: 3
        })
    ));

    // An empty round: no scores, nothing paid, the whole reward is dust; it verifies.
    let p: Vec<PlayerInput> = vec![];
    let mut g = from_fn(0, |_| 0.0);
    let a = auto(&mut g, &AutoPolicy::default(), seed_for(&p)).unwrap();
    let r = Report::build(&info(&p), a).unwrap();
    assert_eq!(
        (r.payout_status, r.paid, r.dust),
        (PayoutStatus::NoPlayers, 0, r.reward)
    );
    assert!(verify_report(&round_trip(&r)).is_match());

    // One player takes the whole reward when the round clears the noise threshold…
    let p = players(1);
    let mut g = from_fn(1, |c: Coalition| if c.is_empty() { 0.0 } else { 0.5 });
    let a = auto(&mut g, &AutoPolicy::default(), seed_for(&p)).unwrap();
    let r = Report::build(&info(&p), a).unwrap();
    assert_eq!(r.players[0].payout, r.reward);
    assert!(verify_report(&round_trip(&r)).is_match());
    // …and nothing when it does not.
    let mut g = from_fn(1, |c: Coalition| if c.is_empty() { 0.0 } else { 0.001 });
    let a = auto(&mut g, &AutoPolicy::default(), seed_for(&p)).unwrap();
    let r = Report::build(&info(&p), a).unwrap();
    assert_eq!(r.payout_status, PayoutStatus::BelowNoiseThreshold);
    assert_eq!(r.dust, r.reward);

    // A NaN utility anywhere stops the round with an error naming the coalition.
    let p = players(4);
    let mut g = from_fn(4, |c: Coalition| {
        if c.len() == 3 {
            f64::NAN
        } else {
            c.len() as f64
        }
    });
    let err = auto(&mut g, &AutoPolicy::default(), seed_for(&p)).unwrap_err();
    assert!(
        matches!(err, AttributionError::NonFiniteUtility { .. }),
        "{err}"
    );
}

#[test]
fn negative_scores_are_recorded_not_paid() {
    // Player 2's update hurts (adds loss) in every coalition.
    let p = players(3);
    let effect = [0.4, 0.2, -0.1];
    let mut g = from_fn(3, move |c: Coalition| c.members().map(|i| effect[i]).sum());
    let a: Attribution = auto(&mut g, &AutoPolicy::default(), seed_for(&p)).unwrap();
    let r = Report::build(&info(&p), a).unwrap();
    assert!(r.players[2].score < 0.0);
    assert_eq!(r.players[2].payout, 0);
    assert_eq!(r.players[0].payout, 666_666_671);
    assert_eq!(r.players[1].payout, 333_333_335);
    assert_eq!(r.paid + r.dust, r.reward);
    assert!(verify_report(&round_trip(&r)).is_match());
}

#[test]
fn ig_report_above_64_players_verifies() {
    let n = 80;
    let p = players(n);
    let mut g = from_fn(n, |_| 0.0).with_path(move |t| PathPoint {
        value: t * n as f64 - 0.25 * t * t * n as f64,
        gradient: (0..n)
            .map(|i| (1.0 - 0.5 * t) * (1.0 + (i % 3) as f64) / 2.0)
            .collect(),
    });
    let a = auto(&mut g, &AutoPolicy::default(), seed_for(&p)).unwrap();
    assert_eq!(a.estimator(), EstimatorSpec::integrated_gradients(4));
    let r = Report::build(&info(&p), a).unwrap();
    assert!(verify_report(&round_trip(&r)).is_match());
}
