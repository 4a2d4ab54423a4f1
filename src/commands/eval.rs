//! `coalition eval --config FILE --checkpoint DIR`: eval loss of a checkpoint on the run's
//! held-out split, for comparing runs (e.g. a distributed run against `train-local`).

use anyhow::{Context, Result};
use coalition_config::RunConfig;
use coalition_datasets::SampleSet;
use coalition_trainer::batches::TokenBatch;
use coalition_trainer::build;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The run config whose dataset (held-out split) to evaluate on.
    #[arg(long)]
    config: PathBuf,
    /// Checkpoint directory (config.json + model.safetensors), e.g.
    /// runs/demo/checkpoints/round-10 or runs/tiny-local/checkpoints/local.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Evaluate the first this many batches of 16 held-out sequences (default: all).
    #[arg(long)]
    batches: Option<usize>,
    /// Local text file for the dataset (overrides `data.path`).
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let mut cfg = RunConfig::from_file(&args.config)?;
    if let Some(d) = &args.data {
        cfg.data.path = Some(std::path::absolute(d)?);
    }
    let corpus = build::corpus(&cfg)?;
    let model =
        coalition_model::checkpoint::load_llama(&args.checkpoint, &candle_core::Device::Cpu)
            .with_context(|| format!("loading {}", args.checkpoint.display()))?;
    let held_out = SampleSet::new(corpus.eval.clone(), cfg.data.seq_len)?;
    let count = args.batches.unwrap_or(usize::MAX);
    let batches = TokenBatch::eval_set(&held_out, 16, count)?;
    let loss = coalition_trainer::eval_loss(&model, &batches)?;
    let tokens: usize = batches.iter().map(TokenBatch::tokens).sum();
    println!(
        "{}",
        serde_json::json!({
            "checkpoint": args.checkpoint.display().to_string(),
            "eval_loss": loss,
            "tokens": tokens,
            "unigram_baseline_nats": corpus.unigram_baseline_nats(),
        })
    );
    Ok(ExitCode::SUCCESS)
}
