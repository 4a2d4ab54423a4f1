//! A reviewer re-derives rounds closed by the real engine (no network, no chain: the chain's
//! records are taken from the journal and reports, as the recorder writes them), and catches
//! each kind of lie.

use coalition_attribution::{Hash32, Seed};
use coalition_config::RunConfig;
use coalition_coordinator::manifest::UpdateStatus;
use coalition_coordinator::rederive::{
    journal_records, rederive_round, ChainRound, ChainRun, Challenge, DirArtifacts, History,
};
use coalition_coordinator::score_round::Tamper;
use coalition_coordinator::service::engine::{Engine, Submission};
use coalition_coordinator::service::{open_run, Placement};
use coalition_coordinator::RunDir;
use std::path::Path;
use std::time::Instant;

const CONFIG: &str = r#"
[run]
name = "rederive"
seed = 5
[model]
kind = "llama"
hidden_size = 16
intermediate_size = 32
num_layers = 1
num_heads = 2
[data]
dataset = "synthetic-arith"
seq_len = 16
[data.eval]
kind = "generated"
[training]
batch_size = 4
inner_steps = 2
broadcast_codec = "int8"
rounds = 3
lr = 1e-2
outer_lr = 0.7
outer_momentum = 0.9
[attribution]
estimator = "exact"
eval_sequences = 8
[rewards]
per_round = 1000
cluster = "none"
"#;

const TRAINERS: [&str; 3] = [
    "4vJ9JU1bJJE96FWSJKvHsmmFADCg4gpZQff4P3bkLKi",
    "8qbHbw2BbbTHBW1sbeqakYXVKRQM8Ne7pLK7m6CVfeR",
    "CktRuQ2mttgRGkXJtyksdKHjUdc2C4TgDzyB98oEzy8",
];
/// Sends trainer 0's update plus 5% noise (a near-copy) in round 0, and trainer 0's round-0
/// update again, re-encoded with another block size, in round 1 (a replay).
const COPIER: &str = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin";

fn start(dir: &Path) -> Engine {
    let path = dir.join("rederive.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let cfg = RunConfig::from_file(&path).unwrap();
    let place = Placement {
        runs_root: dir.join("runs"),
        start_over: false,
        hub: Default::default(),
        device: candle_core::Device::Cpu,
    };
    open_run(&cfg, CONFIG.as_bytes(), &place).unwrap().engine
}

fn values(n: usize, i: usize, round: u64) -> Vec<f32> {
    (0..n)
        .map(|j| match i {
            2 => 0.0,
            _ => ((j * 7 + i * 13 + round as usize) % 17) as f32 * 1e-4 - 8e-4,
        })
        .collect()
}

fn submission(
    engine: &Engine,
    round: u64,
    trainer: &str,
    v: &[f32],
    block: u32,
    slot: u32,
) -> Submission {
    let frame = coalition_net::encode(v, block).unwrap();
    let update_hash = engine.dir.store_update(round, &frame).unwrap();
    Submission {
        trainer: trainer.to_string(),
        update_hash,
        frame,
        tokens: 128,
        slot,
    }
}

/// Close `round` with three updates (two small directions and a zero update), and the
/// copier's (see [`COPIER`]).
fn close(engine: &mut Engine, round: u64) {
    let n = engine.theta.len();
    let mut subs: Vec<Submission> = TRAINERS
        .iter()
        .enumerate()
        .map(|(i, t)| submission(engine, round, t, &values(n, i, round), 64, i as u32 + 1))
        .collect();
    let copied: Vec<f32> = if round == 0 {
        values(n, 0, 0)
            .iter()
            .enumerate()
            .map(|(j, v)| v + if j % 2 == 0 { 4e-5 } else { -4e-5 })
            .collect()
    } else {
        values(n, 0, 0)
    };
    // The copier holds the lowest slot but arrives last.
    subs.push(submission(engine, round, COPIER, &copied, 32, 0));
    let summary = engine
        .close_round(round, subs, vec![], Instant::now())
        .unwrap();
    assert!(summary.committed);
}

/// What the recorder would put on chain, from the run directory.
fn chain(root: &Path) -> (ChainRun, Vec<ChainRound>) {
    journal_records(&RunDir::at(root)).unwrap()
}

fn challenge() -> Challenge {
    Challenge {
        seed: Seed([9; 32]),
        records: 8,
        tolerance: 0.0,
    }
}

/// Re-derive every round in order; the first discrepancy as text.
fn rederive_all(root: &Path, run: &ChainRun, rounds: &[ChainRound]) -> Result<usize, String> {
    let mut history = History::default();
    let mut artifacts = DirArtifacts::new(root);
    let mut checked = 0;
    for r in rounds {
        let check = rederive_round(
            run,
            r,
            &history,
            &mut artifacts,
            &challenge(),
            &candle_core::Device::Cpu,
        )
        .map_err(|d| d.to_string())?;
        assert_eq!(check.passed.len(), 9, "{:?}", check.passed);
        checked += check.reevaluated;
        history.absorb(
            &check.manifest,
            &check.reveal,
            &check.content,
            check.replay_window,
        );
    }
    Ok(checked)
}

#[test]
fn honest_rounds_rederive_and_every_lie_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = start(dir.path());
    let root = engine.dir.root().to_path_buf();
    for round in 0..2 {
        close(&mut engine, round);
    }
    let (run, rounds) = chain(&root);
    assert_eq!(rounds.len(), 2);
    let reevaluated = rederive_all(&root, &run, &rounds).unwrap();
    assert_eq!(
        reevaluated,
        8 + 8,
        "16 coalitions of 4 players, then 8 of 3"
    );
    // The copier was scored on what it added (projected off trainer 0), then refused as a
    // replay; a reviewer re-derived both decisions.
    let manifest = |r: u64| {
        let text = std::fs::read_to_string(root.join(format!("manifests/round-{r}.json"))).unwrap();
        coalition_coordinator::manifest::Manifest::from_bytes(text.as_bytes(), Path::new("m"))
            .unwrap()
    };
    let status = |r: u64| {
        manifest(r)
            .updates
            .into_iter()
            .find(|u| u.trainer == COPIER)
            .unwrap()
            .status
    };
    assert!(
        matches!(&status(0), UpdateStatus::Accepted { player: 0, projected_off, .. } if projected_off == &[TRAINERS[0].to_string()]),
        "{:?}",
        status(0)
    );
    assert!(
        matches!(&status(1), UpdateStatus::Rejected { reason } if reason.contains("replays the update of") && reason.contains("round 0")),
        "{:?}",
        status(1)
    );
    // A credit that differs from the report.
    let mut credited = rounds.clone();
    credited[1].credited_payout += 1;
    let e = rederive_all(&root, &run, &credited).unwrap_err();
    assert!(e.contains("round 1: credits"), "{e}");

    // A pool other than the committed one.
    let other = ChainRun {
        eval_pool_root: Hash32([1; 32]),
        ..run.clone()
    };
    let e = rederive_all(&root, &other, &rounds).unwrap_err();
    assert!(e.contains("round 0: eval"), "{e}");

    // A swapped update frame.
    let manifest = std::fs::read_to_string(root.join("manifests/round-1.json")).unwrap();
    let frame =
        coalition_coordinator::manifest::Manifest::from_bytes(manifest.as_bytes(), Path::new("m"))
            .unwrap()
            .updates[0]
            .frame
            .clone();
    let frame_path = root.join(&frame.path);
    let original = std::fs::read(&frame_path).unwrap();
    let mut swapped = original.clone();
    let last = swapped.len() - 1;
    swapped[last] ^= 1;
    std::fs::write(&frame_path, &swapped).unwrap();
    let e = rederive_all(&root, &run, &rounds).unwrap_err();
    assert!(e.contains("round 1: manifest") && e.contains(".bin"), "{e}");
    std::fs::write(&frame_path, &original).unwrap();
    rederive_all(&root, &run, &rounds).unwrap();
}

#[test]
fn a_fabricated_utility_and_a_wrong_next_model_are_caught() {
    for (tamper, check) in [
        (
            Tamper::Utility { round: 1 },
            "round 1: coalitions: coalition [0, 1, 2]",
        ),
        (Tamper::NextModel { round: 0 }, "round 0: next model"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = start(dir.path());
        engine.policy.tamper = Some(tamper);
        let root = engine.dir.root().to_path_buf();
        for round in 0..2 {
            close(&mut engine, round);
        }
        let (run, rounds) = chain(&root);
        let e = rederive_all(&root, &run, &rounds).unwrap_err();
        assert!(e.contains(check), "{tamper:?}: {e}");
    }
}
