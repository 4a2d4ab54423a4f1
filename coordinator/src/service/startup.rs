//! Opening (or resuming) a run: the run directory, the journal, the model and the data.

use candle_core::Device;
use coalition_attribution::Hash32;
use coalition_config::RunConfig;
use coalition_datasets::{SampleSet, Sharder};
use coalition_model::checkpoint::params_hash;
use coalition_trainer::build::{self, HubOptions};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::engine::Engine;
use super::run::ServiceError;
use crate::journal::{Entry, Journal};
use crate::outer::{OuterOptimizer, OuterParams};
use crate::recovery::RecoveredState;
use crate::rundir::{Launch, RunDir};
use crate::score_round::ScoringPolicy;

/// A run ready to serve.
pub struct Started {
    pub engine: Engine,
    pub launch: Launch,
    pub next_round: u64,
    /// Global index of the next round's first batch.
    pub cursor: u64,
    /// Admitted trainers (wallet, id) from the journal.
    pub trainers: Vec<(String, u32)>,
    pub batches_per_epoch: u64,
    pub config_hash: [u8; 32],
}

pub fn open(
    cfg: &RunConfig,
    config_bytes: &[u8],
    runs_root: &Path,
    start_over: bool,
    hub: &HubOptions,
    device: &Device,
) -> Result<Started, ServiceError> {
    let (dir, launch) = RunDir::launch(runs_root, &cfg.run.name, config_bytes, start_over)?;
    let (journal, entries) = Journal::open(&dir.journal_path())?;
    let recovered = RecoveredState::from_entries(&entries)?;
    let corpus = build::corpus(cfg)?;
    let held_out = SampleSet::new(corpus.eval.clone(), cfg.data.seq_len)?;
    let train = SampleSet::new(corpus.train.clone(), cfg.data.seq_len)?;
    let sharder = Sharder::new(cfg.run.seed, train.len(), cfg.training.batch_size, 1, 1)?;
    let batches_per_epoch = sharder.rounds_per_epoch().max(1);
    let params = OuterParams::from_config(&cfg.training);
    let config_hash: [u8; 32] = Sha256::digest(config_bytes).into();
    let policy = ScoringPolicy::from_config(cfg)?;
    let journal = Arc::new(Mutex::new(journal));

    let (model, theta, outer, next_round) = match &recovered {
        None => {
            let model = build::initial_model(cfg, corpus.vocab_size, hub, device)?;
            let theta = model.params().flatten()?;
            let outer = OuterOptimizer::new(params, theta.len());
            let h0 = dir.save_checkpoint(0, &model, &theta, &outer)?;
            journal
                .lock()
                .map_err(|_| ServiceError::Internal("journal lock poisoned".into()))?
                .append(&Entry::RunStarted {
                    run_id: cfg.run.name.clone(),
                    config_hash: Hash32(config_hash),
                    initial_model_hash: h0,
                    seed: cfg.run.seed,
                    checkpoint: dir.relative(&dir.checkpoint_dir(0)),
                })?;
            (model, theta, outer, 0)
        }
        Some(state) => {
            // The momentum's length is the model's parameter count.
            let n = coalition_model::checkpoint::load_llama(
                &dir.checkpoint_dir(state.next_round),
                device,
            )?
            .params()
            .num_elements();
            let mut outer = OuterOptimizer::new(params, n);
            let (model, theta) = dir.load_checkpoint(
                state.next_round,
                device,
                Some(&state.model_hash),
                &mut outer,
            )?;
            (model, theta, outer, state.next_round)
        }
    };
    let theta_hash = Hash32(params_hash(&theta));

    // Replay what the journal knows: data cursor, published update hashes, trainers.
    let mut cursor = 0u64;
    let mut opened: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut received: HashMap<(u64, String), [u8; 32]> = HashMap::new();
    let mut accepted: HashMap<u64, Vec<String>> = HashMap::new();
    let mut published = HashMap::new();
    for e in &entries {
        match e {
            Entry::RoundOpened {
                round, assignment, ..
            } => {
                let first = assignment.epoch * batches_per_epoch + assignment.round_in_epoch;
                let span = assignment.slots as u64 * assignment.steps_per_round as u64;
                opened.insert(*round, (first, span));
            }
            Entry::UpdateReceived {
                round,
                trainer,
                update_hash,
                ..
            } => {
                received.insert((*round, trainer.clone()), update_hash.0);
            }
            Entry::RoundScored {
                round, accepted: a, ..
            } => {
                accepted.insert(*round, a.clone());
            }
            Entry::RoundCommitted { round, .. } => {
                if let Some((first, span)) = opened.get(round) {
                    cursor = first + span;
                }
                for t in accepted.get(round).into_iter().flatten() {
                    if let Some(h) = received.get(&(*round, t.clone())) {
                        published.insert(*h, *round);
                    }
                }
            }
            _ => {}
        }
    }
    let trainers = recovered
        .as_ref()
        .map(|s| {
            s.trainers
                .iter()
                .map(|t| (t.wallet.clone(), t.slot))
                .collect()
        })
        .unwrap_or_default();
    let engine = Engine {
        cfg: cfg.clone(),
        run_id: cfg.run.name.clone(),
        dir,
        journal,
        model,
        theta,
        theta_hash,
        outer,
        held_out,
        policy,
        published,
        last_median: None,
    };
    Ok(Started {
        engine,
        launch,
        next_round,
        cursor,
        trainers,
        batches_per_epoch,
        config_hash,
    })
}
