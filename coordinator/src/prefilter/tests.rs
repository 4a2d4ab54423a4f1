use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

const N: usize = 64;

fn cfg() -> PrefilterConfig {
    PrefilterConfig {
        expected_len: N,
        max_norm: 1e4,
        clip_multiplier: 3.0,
        duplicate_cosine: 0.999,
        copy_cosine: 0.9,
    }
}

/// The pre-filter with no recent content published.
fn filter(
    cands: Vec<Candidate>,
    cfg: &PrefilterConfig,
    by_hash: impl Fn(&[u8; 32]) -> Option<u64>,
    reference_norm: Option<f64>,
) -> FilterOutcome {
    let history = History {
        by_hash,
        recent: &[],
        reference_norm,
    };
    prefilter(cands, cfg, &history)
}

/// A pseudo-random direction with norm ≈ `scale`·√N·0.5.
fn update(trainer: &str, seed: u32, scale: f32) -> Candidate {
    let values = (0..N as u32)
        .map(|k| {
            let h = (k ^ seed.wrapping_mul(0x9e37_79b9)).wrapping_mul(2_654_435_761);
            ((h >> 8) % 2001) as f32 / 1000.0 - 1.0
        })
        .map(|x| x * scale)
        .collect();
    let update_hash =
        coalition_attribution::sha256(format!("{trainer}/{seed}/{scale}").as_bytes()).0;
    Candidate {
        trainer: trainer.into(),
        update_hash,
        values,
        tokens: 100,
    }
}

fn none(_: &[u8; 32]) -> Option<u64> {
    None
}

fn reason_of<'a>(o: &'a FilterOutcome, t: &str) -> Option<&'a Reason> {
    o.rejected.iter().find(|(x, _)| x == t).map(|(_, r)| r)
}

#[test]
fn nan_and_infinity_are_rejected_naming_the_first_bad_index() {
    let mut a = update("a", 1, 1.0);
    a.values[5] = f32::NAN;
    a.values[9] = f32::NAN;
    let mut b = update("b", 2, 1.0);
    b.values[63] = f32::NEG_INFINITY;
    let o = filter(vec![a, b, update("c", 3, 1.0)], &cfg(), none, None);
    assert!(
        matches!(reason_of(&o, "a"), Some(Reason::NonFinite { index: 5, value }) if value.is_nan())
    );
    assert!(matches!(
        reason_of(&o, "b"),
        Some(Reason::NonFinite { index: 63, .. })
    ));
    assert_eq!(o.accepted.len(), 1);
    assert!(reason_of(&o, "a").unwrap().to_string().contains("index 5"));
}

#[test]
fn wrong_length_is_rejected() {
    let mut a = update("a", 1, 1.0);
    a.values.pop();
    let o = filter(vec![a], &cfg(), none, None);
    assert_eq!(
        reason_of(&o, "a"),
        Some(&Reason::WrongLength {
            got: N - 1,
            expected: N
        })
    );
}

#[test]
fn oversized_norm_beyond_the_hard_cap_is_rejected() {
    let o = filter(vec![update("a", 1, 1e4)], &cfg(), none, None);
    assert!(matches!(reason_of(&o, "a"), Some(Reason::Oversized { .. })));
    assert!(o.accepted.is_empty());
}

#[test]
fn replays_of_published_updates_are_rejected() {
    let a = update("a", 1, 1.0);
    let published: HashMap<[u8; 32], u64> = [(a.update_hash, 4)].into();
    let o = filter(
        vec![a, update("b", 2, 1.0)],
        &cfg(),
        |h| published.get(h).copied(),
        None,
    );
    assert_eq!(reason_of(&o, "a"), Some(&Reason::Replay { round: 4 }));
    assert_eq!(o.accepted.len(), 1);
}

#[test]
fn a_repeated_zero_update_is_a_null_player_not_a_replay() {
    let mut z = update("z", 1, 0.0);
    z.values.iter_mut().for_each(|v| *v = 0.0);
    let published: HashMap<[u8; 32], u64> = [(z.update_hash, 2)].into();
    let o = filter(
        vec![update("b", 2, 1.0), z],
        &cfg(),
        |h| published.get(h).copied(),
        None,
    );
    assert_eq!(reason_of(&o, "z"), None);
    assert_eq!(o.accepted.len(), 2);
}

#[test]
fn a_second_submission_from_one_trainer_is_rejected() {
    let o = filter(
        vec![update("a", 1, 1.0), update("a", 2, 1.0)],
        &cfg(),
        none,
        None,
    );
    assert_eq!(o.accepted.len(), 1);
    assert_eq!(o.accepted[0].update_hash, update("a", 1, 1.0).update_hash);
    assert_eq!(reason_of(&o, "a"), Some(&Reason::Resubmission));
}

#[test]
fn a_1000x_update_is_clipped_to_c_times_the_median() {
    let honest = [
        update("h1", 1, 1.0),
        update("h2", 2, 1.0),
        update("h3", 3, 1.0),
    ];
    let big = update("big", 4, 1000.0);
    let mut all = honest.to_vec();
    all.push(big);
    let o = filter(all, &cfg(), none, None);
    assert_eq!(o.accepted.len(), 4);
    assert_eq!(o.clipped.len(), 1);
    assert_eq!(o.clipped[0].0, "big");
    let m = o.median_norm.unwrap();
    let big_norm = vecmath::norm(&o.accepted[3].values);
    assert!(big_norm <= 3.0 * m * (1.0 + 1e-6), "{big_norm} vs {m}");
    assert!(o.clipped[0].1 < 0.01);
    for h in &o.accepted[..3] {
        assert!(vecmath::norm(&h.values) <= 3.0 * m);
    }
}

#[test]
fn a_lone_giant_is_clipped_against_the_previous_rounds_median() {
    let big = update("big", 4, 1000.0);
    let o = filter(vec![big.clone()], &cfg(), none, None);
    assert!(
        o.clipped.is_empty(),
        "without history a lone update sets the median itself"
    );
    let reference = vecmath::norm(&update("h", 1, 1.0).values);
    let o = filter(vec![big], &cfg(), none, Some(reference));
    assert_eq!(o.clipped.len(), 1);
    assert!(vecmath::norm(&o.accepted[0].values) <= 3.0 * reference * (1.0 + 1e-6));
}

#[test]
fn a_zero_update_passes_and_does_not_drag_the_median_down() {
    let zero = Candidate {
        trainer: "free-rider".into(),
        update_hash: [9; 32],
        values: vec![0.0; N],
        tokens: 100,
    };
    let mut zero2 = zero.clone();
    zero2.trainer = "free-rider-2".into();
    zero2.update_hash = [8; 32];
    let o = filter(
        vec![
            zero.clone(),
            zero2,
            update("h1", 1, 1.0),
            update("h2", 2, 1.2),
        ],
        &cfg(),
        none,
        None,
    );
    assert_eq!(o.accepted.len(), 3);
    assert_eq!(o.accepted[0], zero);
    assert!(o.clipped.is_empty(), "{:?}", o.clipped);
    assert_eq!(
        o.duplicates,
        vec![("free-rider-2".to_string(), "free-rider".to_string())]
    );
    assert!(o.rejected.is_empty());
}

#[test]
fn copies_are_merged_into_the_earliest_submission() {
    let orig = update("orig", 1, 1.0);
    let mut same = orig.clone();
    same.trainer = "copy".into();
    let mut scaled = orig.clone();
    scaled.trainer = "scaled".into();
    scaled.update_hash = [7; 32];
    scaled.values.iter_mut().for_each(|x| *x *= 2.0);
    let mut noisy = orig.clone();
    noisy.trainer = "noisy".into();
    noisy.update_hash = [6; 32];
    noisy.values[0] += 1e-3;
    let other = update("other", 2, 1.0);
    let o = filter(vec![orig, same, scaled, noisy, other], &cfg(), none, None);
    let names: Vec<&str> = o.accepted.iter().map(|c| c.trainer.as_str()).collect();
    assert_eq!(names, ["orig", "other"]);
    assert_eq!(o.duplicates.len(), 3);
    assert!(o.duplicates.iter().all(|(_, of)| of == "orig"));
}

/// `a` plus noise of relative size `rel` (in norm).
fn perturbed(a: &Candidate, trainer: &str, rel: f32, seed: u32) -> Candidate {
    let noise = update("noise", seed, 1.0);
    let (na, nn) = (vecmath::norm(&a.values), vecmath::norm(&noise.values));
    let k = rel * (na / nn) as f32;
    Candidate {
        trainer: trainer.into(),
        update_hash: coalition_attribution::sha256(format!("{trainer}/{seed}").as_bytes()).0,
        values: a
            .values
            .iter()
            .zip(&noise.values)
            .map(|(x, e)| x + k * e)
            .collect(),
        tokens: 100,
    }
}

#[test]
fn a_copy_plus_noise_keeps_only_the_noise_and_the_first_submitter_keeps_the_credit() {
    let orig = update("orig", 1, 1.0);
    let copy = perturbed(&orig, "copier", 0.05, 50);
    // The copier arrives second: it is projected off the original, not the other way round.
    let o = filter(
        vec![orig.clone(), copy.clone(), update("other", 2, 1.0)],
        &cfg(),
        none,
        None,
    );
    assert_eq!(
        o.projected,
        vec![("copier".to_string(), "orig".to_string())]
    );
    let kept = o.accepted.iter().find(|c| c.trainer == "copier").unwrap();
    let left = vecmath::norm(&kept.values) / vecmath::norm(&copy.values);
    assert!(left < 0.06, "a 5% perturbation keeps {left} of its norm");
    let along = vecmath::dot(&kept.values, &orig.values).abs();
    assert!(
        along < 1e-3 * vecmath::norm(&orig.values).powi(2),
        "{along}"
    );
    assert_eq!(
        o.accepted.iter().find(|c| c.trainer == "orig").unwrap(),
        &orig
    );
    // Independent updates (cosine ≈ 0) are untouched.
    assert!(o.accepted.iter().any(|c| c == &update("other", 2, 1.0)));
    // Arriving first, the copier would be the one credited: arrival order decides authorship.
    let o = filter(vec![copy, orig], &cfg(), none, None);
    assert_eq!(
        o.projected,
        vec![("orig".to_string(), "copier".to_string())]
    );
}

#[test]
fn replays_are_recognised_by_content_whatever_their_encoding() {
    let old = update("old", 1, 1.0);
    let step = update("step", 9, 0.3);
    let recent = [
        Published {
            round: 3,
            what: "update of old".into(),
            sketch: crate::sketch::sketch(&old.values),
        },
        Published {
            round: 3,
            what: "outer step".into(),
            sketch: crate::sketch::sketch(&step.values),
        },
    ];
    let history = History {
        by_hash: none,
        recent: &recent,
        reference_norm: None,
    };
    // Re-encoded (a new hash), rescaled, lightly perturbed: still a replay.
    let mut again = perturbed(&old, "stale", 0.05, 7);
    again.values.iter_mut().for_each(|v| *v *= 0.5);
    let mut outer = step.clone();
    outer.trainer = "thief".into();
    outer.update_hash = [3; 32];
    let o = prefilter(
        vec![again, outer, update("fresh", 2, 1.0)],
        &cfg(),
        &history,
    );
    assert!(
        matches!(reason_of(&o, "stale"), Some(Reason::ContentReplay { round: 3, what, .. }) if what == "update of old"),
        "{:?}",
        o.rejected
    );
    assert!(
        matches!(reason_of(&o, "thief"), Some(Reason::ContentReplay { what, .. }) if what == "outer step")
    );
    assert!(reason_of(&o, "thief")
        .unwrap()
        .to_string()
        .contains("round 3"));
    assert_eq!(o.accepted.len(), 1);
    assert_eq!(
        o.sketches.len(),
        1,
        "the fresh update's content is remembered"
    );
}

#[test]
fn from_config_uses_the_adamw_bound() {
    let b = adamw_norm_bound(1e-3, 50, 10_000);
    assert!((b - 10.0 * 1e-3 * 50.0 * 100.0).abs() < 1e-9);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn nan_never_survives(pos in 0usize..N, which in 0usize..3, honest in 1usize..4) {
        let mut all: Vec<Candidate> = (0..honest).map(|i| update(&format!("h{i}"), i as u32 + 1, 1.0)).collect();
        let mut bad = update("bad", 99, 1.0);
        bad.values[pos] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][which];
        all.insert(honest / 2, bad);
        let o = filter(all, &cfg(), none, None);
        prop_assert!(o.accepted.iter().all(|c| c.values.iter().all(|x| x.is_finite())));
        let is_non_finite = matches!(reason_of(&o, "bad"), Some(Reason::NonFinite { index, .. }) if *index == pos);
        prop_assert!(is_non_finite);
    }

    #[test]
    fn a_giant_never_survives_unclipped(scale in 100f32..5000.0, honest in 1usize..6, at in 0usize..6) {
        let cfg = PrefilterConfig { max_norm: f64::INFINITY, ..cfg() };
        let mut all: Vec<Candidate> = (0..honest).map(|i| update(&format!("h{i}"), i as u32 + 1, 1.0)).collect();
        all.insert(at.min(honest), update("big", 77, scale));
        let honest_norm = vecmath::norm(&update("h0", 1, 1.0).values);
        let o = filter(all, &cfg, none, None);
        let big = o.accepted.iter().find(|c| c.trainer == "big").unwrap();
        // Never more than c × (a norm some honest update has), give or take the honest spread.
        prop_assert!(vecmath::norm(&big.values) <= 3.0 * 1.5 * honest_norm);
        prop_assert!(o.clipped.iter().any(|(t, _)| t == "big"));
    }
}
