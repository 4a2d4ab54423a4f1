//! One round through the public API, then a crash mid-round and a resume: the pieces compose
//! the way the network glue will drive them.

use candle_core::Device;
use coalition_attribution::{verify_report, Hash32};
use coalition_coordinator::pool::{EvalPool, PoolOrigin};
use coalition_coordinator::*;
use coalition_datasets::SampleSet;
use coalition_model::checkpoint::params_hash;
use coalition_model::{Llama, LlamaConfig};

fn model() -> Llama {
    let cfg = LlamaConfig {
        vocab_size: 12,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: None,
        max_position_embeddings: 16,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        tie_word_embeddings: false,
    };
    Llama::new_random(&cfg, 0.2, 3, &Device::Cpu).unwrap()
}

fn assignment(round: u64) -> DataAssignment {
    DataAssignment {
        data_seed: 1,
        epoch: 0,
        round_in_epoch: round,
        slots: 3,
        steps_per_round: 1,
        batch_size: 4,
    }
}

fn participants() -> Vec<Participant> {
    ["alice", "bob", "carol"]
        .iter()
        .enumerate()
        .map(|(i, t)| Participant {
            trainer: t.to_string(),
            slot: i as u32,
        })
        .collect()
}

#[test]
fn a_round_commits_and_a_crash_mid_round_resumes_at_that_round() {
    let runs = tempfile::tempdir().unwrap();
    let (dir, launch) =
        RunDir::launch(runs.path(), "flow", b"[run]\nname = \"flow\"\n", false).unwrap();
    assert_eq!(launch, Launch::Fresh);
    let model = model();
    let mut theta = model.params().flatten().unwrap();
    let n = theta.len();
    let params = OuterParams {
        lr: 0.7,
        momentum: 0.9,
        nesterov: true,
    };
    let mut outer = OuterOptimizer::new(params, n);
    let h0 = dir.save_checkpoint(0, &model, &theta, &outer).unwrap();
    let (mut journal, replayed) = Journal::open(&dir.journal_path()).unwrap();
    assert!(replayed.is_empty());
    journal
        .append(&Entry::RunStarted {
            run_id: "flow".into(),
            config_hash: dir.config_hash().unwrap(),
            initial_model_hash: h0,
            seed: 1,
            checkpoint: dir.relative(&dir.checkpoint_dir(0)),
            eval_pool: None,
        })
        .unwrap();

    // Round 0.
    journal
        .append(&Entry::RoundOpened {
            round: 0,
            model_hash: h0,
            participants: participants(),
            assignment: assignment(0),
        })
        .unwrap();
    let helpful: Vec<f32> = (0..n)
        .map(|k| if k % 3 == 0 { 1e-3 } else { -1e-3 })
        .collect();
    let mut nan = helpful.clone();
    nan[7] = f32::NAN;
    let frames: Vec<(&str, Vec<f32>)> =
        vec![("alice", helpful), ("bob", vec![0.0; n]), ("carol", nan)];
    let mut candidates = Vec::new();
    for (trainer, values) in frames {
        let frame: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        let hash = dir.store_update(0, &frame).unwrap();
        journal
            .append(&Entry::UpdateReceived {
                round: 0,
                trainer: trainer.into(),
                update_hash: hash,
                bytes: frame.len() as u64,
                tokens: 40,
            })
            .unwrap();
        candidates.push(Candidate {
            trainer: trainer.into(),
            update_hash: hash.0,
            values,
            tokens: 40,
        });
    }
    let pcfg = PrefilterConfig {
        expected_len: n,
        max_norm: 1e3,
        clip_multiplier: 3.0,
        duplicate_cosine: 0.999,
        copy_cosine: 0.9,
    };
    let history = coalition_coordinator::prefilter::History {
        by_hash: |_: &[u8; 32]| None,
        recent: &[],
        reference_norm: None,
    };
    let outcome = prefilter(candidates, &pcfg, &history);
    assert_eq!(outcome.accepted.len(), 2);
    assert_eq!(outcome.rejected[0].0, "carol");
    let tokens: Vec<u64> = outcome.accepted.iter().map(|c| c.tokens).collect();
    let p = weights(Weighting::Uniform, &tokens).unwrap();
    let held_out = SampleSet::new((0..300u32).map(|j| j % 12).collect::<Vec<_>>(), 8).unwrap();
    let pool = EvalPool::new(
        held_out,
        PoolOrigin::PublicSplit {
            split_hash: [0; 32],
        },
    )
    .unwrap();
    let revealed = std::collections::BTreeSet::new();
    let policy = ScoringPolicy {
        estimator: coalition_config::Estimator::Auto,
        auto: Default::default(),
        eval_sequences: 6,
        eval_batch_size: 3,
        reward: 1000,
        noise_threshold: 0,
        tamper: None,
    };
    let scored = score_round(
        &RoundInputs {
            run_id: "flow",
            round: 0,
            model: &model,
            theta: &theta,
            model_hash: h0,
            outer: &outer,
            players: &outcome.accepted,
            weights: &p,
            pool: &pool,
            revealed: &revealed,
        },
        &policy,
    )
    .unwrap();
    assert!(verify_report(&scored.report).is_match());
    let report_path = dir.report_path(0);
    let sha = write_report(&report_path, &scored.report).unwrap();
    journal
        .append(&Entry::round_scored(
            0,
            dir.relative(&report_path),
            sha,
            &outcome,
            &scored.eval_samples,
        ))
        .unwrap();
    let deltas: Vec<&[f32]> = outcome
        .accepted
        .iter()
        .map(|c| c.values.as_slice())
        .collect();
    let g = aggregate(&deltas, &p, n).unwrap();
    outer.apply(&mut theta, &g).unwrap();
    let h1 = dir.save_checkpoint(1, &model, &theta, &outer).unwrap();
    assert_eq!(h1, Hash32(params_hash(&theta)));
    journal
        .append(&Entry::RoundCommitted {
            round: 0,
            model_hash: h1,
            checkpoint: dir.relative(&dir.checkpoint_dir(1)),
            eval_loss_before: scored.loss_before,
            eval_loss_after: scored.loss_full,
            round_seconds: 0.0,
            scoring_seconds: 0.0,
            manifest_sha256: None,
            bytes_up: None,
            bytes_down: None,
            phases: None,
        })
        .unwrap();

    // Round 1 opens, one update arrives, then the coordinator is killed mid-append.
    journal
        .append(&Entry::RoundOpened {
            round: 1,
            model_hash: h1,
            participants: participants(),
            assignment: assignment(1),
        })
        .unwrap();
    drop(journal);
    let mut bytes = std::fs::read(dir.journal_path()).unwrap();
    bytes.extend_from_slice(br#"{"event":"update_received","round":1,"trai"#);
    std::fs::write(dir.journal_path(), &bytes).unwrap();

    // Restart.
    let (dir, launch) =
        RunDir::launch(runs.path(), "flow", b"[run]\nname = \"flow\"\n", false).unwrap();
    assert_eq!(launch, Launch::Resumed);
    let (_journal, entries) = Journal::open(&dir.journal_path()).unwrap();
    let state = RecoveredState::from_entries(&entries).unwrap().unwrap();
    assert_eq!(state.next_round, 1);
    assert_eq!(state.model_hash, h1);
    assert_eq!(state.open_round.as_ref().map(|o| o.round), Some(1));
    let last = state.last_committed().unwrap();
    let report = read_report_checked(&dir.resolve(&last.report), &last.report_sha256).unwrap();
    assert_eq!(report, scored.report);
    let mut restored = OuterOptimizer::new(params, n);
    let (_m, th) = dir
        .load_checkpoint(1, &Device::Cpu, Some(&state.model_hash), &mut restored)
        .unwrap();
    assert_eq!(th, theta);
    assert_eq!(restored, outer);
    assert_eq!(dir.prune_updates(1, 1).unwrap(), vec![0]);
}
