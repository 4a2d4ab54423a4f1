//! Opening (or resuming) a run: the run directory, the journal (replayed once, by
//! [`RecoveredState`]), the model and the data.

use candle_core::Device;
use coalition_attribution::Hash32;
use coalition_config::RunConfig;
use coalition_datasets::{Corpus, SampleSet, Sharder};
use coalition_model::checkpoint::params_hash;
use coalition_model::Llama;
use coalition_trainer::build::{self, HubOptions};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::engine::Engine;
use super::error::ServiceError;
use crate::error::CoordinatorError;
use crate::journal::{Entry, Journal, PoolCommitment};
use crate::lock::RunLock;
use crate::manifest::Manifest;
use crate::outer::{OuterOptimizer, OuterParams};
use crate::pool::{self, EvalPool};
use crate::recovery::RecoveredState;
use crate::rundir::{Launch, RunDir};
use crate::score_round::ScoringPolicy;
use crate::sketch::sketch;

/// Where the run directory is and how to build the model.
pub struct Placement {
    pub runs_root: PathBuf,
    /// Move an existing run directory with a different config aside.
    pub start_over: bool,
    pub hub: HubOptions,
    pub device: Device,
}

/// A run ready to serve.
pub struct Started {
    pub engine: Engine,
    /// This process's hold on the run directory.
    pub lock: RunLock,
    pub launch: Launch,
    pub next_round: u64,
    /// Global index of the next round's first batch.
    pub cursor: u64,
    /// Admitted trainers (wallet, id) from the journal.
    pub trainers: Vec<(String, u32)>,
    pub batches_per_epoch: u64,
    pub config_hash: [u8; 32],
    /// `split_hash` of the tokenized training data, sent to trainers at join.
    pub data_hash: [u8; 32],
}

/// Open the run directory for `cfg` and resume from its journal, or start the run.
pub fn open(
    cfg: &RunConfig,
    config_bytes: &[u8],
    place: &Placement,
) -> Result<Started, ServiceError> {
    let lock = RunLock::acquire(&place.runs_root, &cfg.run.name)?;
    let (dir, launch) = RunDir::launch(
        &place.runs_root,
        &cfg.run.name,
        config_bytes,
        place.start_over,
    )?;
    let (journal, entries) = Journal::open(&dir.journal_path())?;
    let recovered = RecoveredState::from_entries(&entries)?;
    let corpus = build::corpus(cfg)?;
    if let Some(json) = corpus.tokenizer.hf_json()? {
        dir.save_tokenizer(&json)?;
    }
    let pool = pool::build(cfg, &corpus, dir.root(), recovered.is_none())?;
    let train = SampleSet::new(corpus.train.clone(), cfg.data.seq_len)?;
    let sharder = Sharder::new(cfg.run.seed, train.len(), cfg.training.batch_size, 1, 1)?;
    let batches_per_epoch = sharder.rounds_per_epoch().max(1);
    let config_hash: [u8; 32] = Sha256::digest(config_bytes).into();
    let journal = Arc::new(Mutex::new(journal));
    let model = match &recovered {
        None => fresh_model(cfg, &corpus, &pool, config_hash, &dir, &journal, place)?,
        Some(state) => resumed_model(cfg, state, &pool, &dir, &place.device)?,
    };
    let (model, theta, outer, next_round) = model;
    let theta_hash = Hash32(params_hash(&theta));
    let theta_for_sketch = theta.clone();
    let committed = recovered.as_ref().map_or(&[][..], |s| &s.committed[..]);
    let revealed: BTreeSet<u64> = committed
        .iter()
        .flat_map(|c| c.eval_samples.iter().copied())
        .collect();
    check_pool_capacity(cfg, &pool, revealed.len() as u64, next_round)?;
    let cursor = committed
        .last()
        .map_or(0, |c| c.next_batch(batches_per_epoch));
    let published: HashMap<[u8; 32], u64> = committed
        .iter()
        .flat_map(|c| c.accepted_updates.iter().map(move |h| (h.0, c.round)))
        .collect();
    let last_manifest = match committed.last() {
        Some(c) => read_manifest(&dir, c.round)?,
        None => None,
    };
    let last_median = last_manifest.as_ref().and_then(|m| m.next_median);
    let last_broadcast = last_manifest.and_then(broadcast_of);
    let recent = recent_content(cfg, &dir, committed, &place.device, theta.len() as u64)?;
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
        pool,
        revealed,
        policy: ScoringPolicy::from_config(cfg)?,
        published,
        recent,
        theta_sketch: sketch(&theta_for_sketch),
        last_median,
        traffic: None,
        traffic_mark: Default::default(),
        last_broadcast,
    };
    Ok(Started {
        engine,
        lock,
        launch,
        next_round,
        cursor,
        trainers,
        batches_per_epoch,
        config_hash,
        data_hash: corpus.split_hash,
    })
}

type Model = (Llama, Vec<f32>, OuterOptimizer, u64);

/// A new run: build θ_0, checkpoint it and journal `RunStarted` with the pool commitment.
fn fresh_model(
    cfg: &RunConfig,
    corpus: &Corpus,
    pool: &EvalPool,
    config_hash: [u8; 32],
    dir: &RunDir,
    journal: &Mutex<Journal>,
    place: &Placement,
) -> Result<Model, ServiceError> {
    let model = build::initial_model(cfg, corpus.vocab_size, &place.hub, &place.device)?;
    let theta = model.params().flatten()?;
    let outer = OuterOptimizer::new(OuterParams::from_config(&cfg.training), theta.len());
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
            eval_pool: Some(PoolCommitment {
                root: pool.root(),
                count: pool.len(),
            }),
        })?;
    Ok((model, theta, outer, 0))
}

/// A resumed run: θ and the outer momentum of the next round, checked against the journal;
/// the rebuilt eval pool must be the one the run committed to.
fn resumed_model(
    cfg: &RunConfig,
    state: &RecoveredState,
    pool: &EvalPool,
    dir: &RunDir,
    device: &Device,
) -> Result<Model, ServiceError> {
    if let Some(c) = &state.run.eval_pool {
        if c.root != pool.root() || c.count != pool.len() {
            return Err(CoordinatorError::EvalPool {
                key: "data.eval",
                message: format!(
                    "the run committed to an eval pool of {} samples with root {}; this config \
                     builds {} samples with root {}",
                    c.count,
                    c.root,
                    pool.len(),
                    pool.root()
                ),
            }
            .into());
        }
    }
    // The momentum's length is the model's parameter count.
    let n = coalition_model::checkpoint::load_llama(&dir.checkpoint_dir(state.next_round), device)?
        .params()
        .num_elements();
    let mut outer = OuterOptimizer::new(OuterParams::from_config(&cfg.training), n);
    let (model, theta) = dir.load_checkpoint(
        state.next_round,
        device,
        Some(&state.model_hash),
        &mut outer,
    )?;
    Ok((model, theta, outer, state.next_round))
}

/// Refuse to start a run whose pool cannot score its remaining rounds (each sample scores one
/// round only).
fn check_pool_capacity(
    cfg: &RunConfig,
    pool: &EvalPool,
    revealed: u64,
    next_round: u64,
) -> Result<(), ServiceError> {
    let rounds_left = (cfg.training.rounds as u64).saturating_sub(next_round);
    let needed = rounds_left * cfg.attribution.eval_sequences as u64;
    let left = pool.len().saturating_sub(revealed);
    if needed > left {
        return Err(CoordinatorError::EvalPool {
            key: "data.eval.samples",
            message: format!(
                "{rounds_left} rounds of `attribution.eval_sequences = {}` need {needed} unrevealed \
                 eval samples, and the pool has {left} (each sample scores one round only)",
                cfg.attribution.eval_sequences
            ),
        }
        .into());
    }
    Ok(())
}

/// The updates and outer steps of the last `attribution.replay_window` committed rounds, by
/// content (from their manifests' frames and checkpoints), as the engine remembered them.
fn recent_content(
    cfg: &RunConfig,
    dir: &RunDir,
    committed: &[crate::recovery::CommittedRound],
    device: &Device,
    n: u64,
) -> Result<Vec<crate::prefilter::Published>, ServiceError> {
    let window = cfg.attribution.replay_window as usize;
    let mut out = Vec::new();
    for c in &committed[committed.len().saturating_sub(window)..] {
        let Some(manifest) = read_manifest(dir, c.round)? else {
            continue;
        };
        for u in &manifest.updates {
            let accepted = matches!(u.status, crate::manifest::UpdateStatus::Accepted { .. });
            if !accepted || !dir.update_path(c.round, &u.frame.sha256).exists() {
                continue; // refused, or pruned outside the verification window
            }
            let frame = dir.read_update(c.round, &u.frame.sha256)?;
            let values = coalition_net::decode(&frame, n).map_err(|e| {
                CoordinatorError::Internal(format!(
                    "a published frame of round {} does not decode: {e}",
                    c.round
                ))
            })?;
            if values.iter().any(|v| *v != 0.0) {
                out.push(crate::prefilter::Published {
                    round: c.round,
                    what: format!("update of {}", u.trainer),
                    sketch: sketch(&values),
                });
            }
        }
        let theta = |r: u64| -> Result<Vec<f32>, ServiceError> {
            Ok(
                coalition_model::checkpoint::load_llama(&dir.checkpoint_dir(r), device)?
                    .params()
                    .flatten()?,
            )
        };
        out.push(crate::prefilter::Published {
            round: c.round,
            what: "outer step".into(),
            sketch: sketch(&theta(c.round)?).minus(&sketch(&theta(c.round + 1)?)),
        });
    }
    Ok(out)
}

/// Round `round`'s manifest, if it has one (rounds committed before manifests existed do not).
fn read_manifest(dir: &RunDir, round: u64) -> Result<Option<Manifest>, ServiceError> {
    let path = dir.manifest_path(round);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(crate::error::io("read", &path))?;
    Ok(Some(Manifest::from_bytes(&bytes, &path)?))
}

/// A round's compressed broadcast, as offered in `Work` (None with whole-model broadcasts).
fn broadcast_of(m: Manifest) -> Option<coalition_net::Broadcast> {
    let base = m.before.model_hash;
    m.broadcast
        .map(|frame| crate::manifest::broadcast_offer(base, &frame))
}
