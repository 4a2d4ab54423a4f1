//! Single-process training: the inner loop over the whole schedule, with periodic evaluation
//! and a checkpoint at the end. Behind `coalition train-local`.

use candle_core::Device;
use coalition_config::RunConfig;
use coalition_datasets::{SampleSet, Sharder};
use coalition_model::{checkpoint, AdamWParams};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

use crate::batches::TokenBatch;
use crate::build::{self, HubOptions};
use crate::inner::{InnerTrainer, StepStats};
use crate::schedule::LrSchedule;
use crate::TrainerError;

/// Options that are not part of the run config.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Where to write the final checkpoint (`config.json` + `model.safetensors`).
    pub out_dir: PathBuf,
    /// Override `training.rounds × training.inner_steps`.
    pub steps: Option<usize>,
    pub hub: HubOptions,
    pub device: Device,
}

/// Receives progress; the CLI draws a progress bar from it.
pub trait Observer {
    fn start(&mut self, _total_steps: usize, _params: usize, _baseline_nats: f64) {}
    fn step(&mut self, _stats: &StepStats) {}
    fn eval(&mut self, _step: usize, _loss: f64) {}
}

/// An observer that ignores everything.
impl Observer for () {}

/// What a local run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LocalReport {
    pub steps: usize,
    pub parameters: usize,
    pub tokens: usize,
    pub seconds: f64,
    pub tokens_per_second: f64,
    /// Eval cross-entropy of predicting each token by its training-split frequency.
    pub unigram_baseline_nats: f64,
    /// `(step, eval loss)` pairs, starting with the untrained model at step 0.
    pub eval_curve: Vec<(usize, f64)>,
    pub final_eval_loss: f64,
    pub first_train_loss: f32,
    pub last_train_loss: f32,
    pub checkpoint: PathBuf,
    pub split_hash: String,
}

/// Train the config's model on its dataset in this process.
pub fn train_local(
    cfg: &RunConfig,
    opts: &LocalOptions,
    observer: &mut dyn Observer,
) -> Result<LocalReport, TrainerError> {
    let corpus = build::corpus(cfg)?;
    let model = build::initial_model(cfg, corpus.vocab_size, &opts.hub, &opts.device)?;
    let t = &cfg.training;
    let total = opts.steps.unwrap_or(cfg.total_steps()).max(1);
    let schedule = LrSchedule {
        peak: t.lr,
        floor: t.min_lr,
        warmup: t.warmup_steps.min(total / 2),
        total,
    };
    let hp = AdamWParams {
        lr: t.lr,
        beta1: t.beta1,
        beta2: t.beta2,
        eps: t.eps,
        weight_decay: t.weight_decay,
    };
    let mut trainer = InnerTrainer::new(model, hp, schedule, t.grad_clip);

    let seq = cfg.data.seq_len;
    let train_set = SampleSet::new(corpus.train.clone(), seq)?;
    let eval_set = SampleSet::new(corpus.eval.clone(), seq)?;
    let eval_batches = TokenBatch::eval_set(&eval_set, t.batch_size, t.eval_batches)?;
    if eval_batches.is_empty() {
        return Err(TrainerError::Config {
            path: cfg.source_path.clone(),
            message: format!(
                "the eval split has {} tokens, fewer than one sample of data.seq_len + 1 = {}",
                corpus.eval.len(),
                seq + 1
            ),
        });
    }
    // One slot taking one batch per "round": a global cursor over epochs.
    let sharder = Sharder::new(cfg.run.seed, train_set.len(), t.batch_size, 1, 1)?;
    let per_epoch = sharder.rounds_per_epoch().max(1) as usize;

    let baseline = corpus.unigram_baseline_nats();
    observer.start(total, trainer.model.params().num_elements(), baseline);
    let start = Instant::now();
    let mut curve = vec![(0, trainer.eval_loss(&eval_batches)?)];
    observer.eval(0, curve[0].1);
    let (mut tokens, mut first, mut last) = (0usize, f32::NAN, f32::NAN);
    for step in 0..total {
        let (epoch, index) = ((step / per_epoch) as u64, (step % per_epoch) as u64);
        let idx = sharder.batches(epoch, index, 0)?;
        let batch = TokenBatch::gather(&train_set, &idx[0])?;
        let stats = trainer.step(&batch)?;
        tokens += stats.tokens;
        if step == 0 {
            first = stats.loss;
        }
        last = stats.loss;
        observer.step(&stats);
        let done = step + 1;
        if (t.eval_every > 0 && done % t.eval_every == 0) || done == total {
            let l = trainer.eval_loss(&eval_batches)?;
            curve.push((done, l));
            observer.eval(done, l);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    checkpoint::save_llama(&trainer.model, &opts.out_dir)?;
    if let Some(json) = corpus.tokenizer.hf_json()? {
        checkpoint::save_tokenizer(&opts.out_dir, &json)?;
    }
    let final_eval_loss = curve.last().map(|c| c.1).unwrap_or(f64::NAN);
    Ok(LocalReport {
        steps: total,
        parameters: trainer.model.params().num_elements(),
        tokens,
        seconds,
        tokens_per_second: tokens as f64 / seconds.max(1e-9),
        unigram_baseline_nats: baseline,
        eval_curve: curve,
        final_eval_loss,
        first_train_loss: first,
        last_train_loss: last,
        checkpoint: opts.out_dir.clone(),
        split_hash: corpus.split_hash_hex(),
    })
}
