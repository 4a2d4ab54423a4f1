//! `coalition verify` on a report built by the attribution library: a faithful report
//! verifies; a tampered score, payout or transcript entry is caught and named.

mod support;

use coalition_attribution::{
    auto, from_fn, round_seed, sha256, AutoPolicy, Coalition, PlayerInput, Report, RoundInfo,
};

fn report(players: usize) -> Report {
    // A near-additive game with a small interaction term, like a real round's loss drop.
    let weights: Vec<f64> = (0..players).map(|i| 0.1 * (i as f64 + 1.0)).collect();
    let w = weights.clone();
    let mut game = from_fn(players, move |c: Coalition| {
        let s: f64 = c.members().map(|i| w[i]).sum();
        s - 0.05 * s * s
    });
    let inputs: Vec<PlayerInput> = (0..players)
        .map(|i| PlayerInput {
            id: format!("trainer-{i}"),
            update_hash: sha256(format!("update {i}").as_bytes()),
        })
        .collect();
    let hashes: Vec<_> = inputs.iter().map(|p| p.update_hash).collect();
    let model_hash = sha256(b"model at round 3");
    let seed = round_seed(b"verify-test", 3, &model_hash, &hashes);
    let attribution = auto(&mut game, &AutoPolicy::default(), seed).expect("attribution");
    Report::build(
        &RoundInfo {
            run_id: "verify-test",
            round: 3,
            model_hash,
            players: &inputs,
            reward: 1_000_000,
            noise_threshold: 0,
        },
        attribution,
    )
    .expect("report")
}

fn verify(json: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("round-3.json");
    std::fs::write(&path, json).expect("write report");
    support::verify(&[path.to_str().expect("utf-8 path")])
}

#[test]
fn faithful_reports_verify_for_exact_and_sampled_estimators() {
    for n in [4, 20] {
        let (ok, text) = verify(&report(n).to_json());
        assert!(ok, "n={n}: {text}");
        assert!(text.contains("OK"), "{text}");
    }
}

#[test]
fn tampered_reports_are_caught() {
    let json = report(5).to_json();
    let mut v: serde_json::Value = serde_json::from_str(&json).expect("json");
    v["players"][2]["payout"] = serde_json::json!(999_999);
    let (ok, text) = verify(&v.to_string());
    assert!(!ok, "tampered payout passed: {text}");
    assert!(text.contains("MISMATCH"), "{text}");

    let mut v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let fixed = v["players"][1]["score_fixed"]
        .as_i64()
        .expect("score_fixed");
    v["players"][1]["score_fixed"] = serde_json::json!(fixed + 1);
    let (ok, text) = verify(&v.to_string());
    assert!(!ok, "tampered score passed: {text}");
}

#[test]
fn garbage_is_a_clear_error() {
    let (ok, text) = verify("{\"not\": \"a report\"}");
    assert!(!ok);
    assert!(text.contains("round-3.json"), "{text}");
}
