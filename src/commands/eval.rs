//! `coalition eval --checkpoint DIR|gguf:PATH (--config FILE | --windows FILE)`: eval loss of a
//! checkpoint on a run's held-out split, for comparing runs (e.g. a distributed run against
//! `train-local`), or on fixed token windows, for comparing with another implementation (e.g.
//! `scripts/transformers-parity.py` on the same windows).

use anyhow::{bail, Context, Result};
use coalition_config::RunConfig;
use coalition_datasets::SampleSet;
use coalition_model::Llama;
use coalition_trainer::batches::TokenBatch;
use coalition_trainer::build;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The run config whose dataset (held-out split) to evaluate on.
    #[arg(long, required_unless_present = "windows")]
    config: Option<PathBuf>,
    /// Instead of a run's split: a JSON file whose `window_token_ids` holds token windows
    /// (each `seq + 1` ids), e.g. ../shared/reference/smollm2-135m-q4_1-transformers.json.
    /// Prints the loss of each window and their mean.
    #[arg(long, conflicts_with_all = ["config", "batches", "data"])]
    windows: Option<PathBuf>,
    /// Checkpoint directory (config.json + model.safetensors), e.g.
    /// runs/demo/checkpoints/round-10 or runs/tiny-local/checkpoints/local, or a llama.cpp
    /// GGUF file as gguf:PATH (e.g. gguf:models/SmolLM2-135M-Instruct.Q4_1.gguf).
    #[arg(long)]
    checkpoint: String,
    /// Evaluate the first this many batches of 16 held-out sequences (default: all).
    #[arg(long)]
    batches: Option<usize>,
    /// Local text file for the dataset (overrides `data.path`).
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let device = candle_core::Device::Cpu;
    let model =
        coalition_model::checkpoint::load_llama_spec(&args.checkpoint, Path::new("."), &device)
            .with_context(|| format!("loading {}", args.checkpoint))?;
    let mut line = match (&args.windows, &args.config) {
        (Some(file), _) => on_windows(&model, file)?,
        (None, Some(config)) => on_split(&model, config, args)?,
        (None, None) => bail!("pass --config FILE or --windows FILE"),
    };
    line["checkpoint"] = args.checkpoint.clone().into();
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

fn on_split(model: &Llama, config: &Path, args: &Args) -> Result<serde_json::Value> {
    let mut cfg = RunConfig::from_file(config)?;
    if let Some(d) = &args.data {
        cfg.data.path = Some(std::path::absolute(d)?);
    }
    let corpus = build::corpus(&cfg)?;
    let held_out = SampleSet::new(corpus.eval.clone(), cfg.data.seq_len)?;
    let count = args.batches.unwrap_or(usize::MAX);
    let batches = TokenBatch::eval_set(&held_out, 16, count)?;
    let loss = coalition_trainer::eval_loss(model, &batches)?;
    let tokens: usize = batches.iter().map(TokenBatch::tokens).sum();
    Ok(serde_json::json!({
        "eval_loss": loss,
        "tokens": tokens,
        "unigram_baseline_nats": corpus.unigram_baseline_nats(),
    }))
}

fn on_windows(model: &Llama, file: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let windows: Vec<Vec<u32>> = json
        .get("window_token_ids")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .with_context(|| format!("{}: `window_token_ids` is not lists of ids", file.display()))?
        .with_context(|| format!("{}: no key `window_token_ids`", file.display()))?;
    let vocab = model.config().vocab_size;
    let mut losses = Vec::with_capacity(windows.len());
    for (i, w) in windows.iter().enumerate() {
        if w.len() < 2 || w.iter().any(|&id| id as usize >= vocab) {
            bail!(
                "{}: window {i} needs at least 2 ids below the model's vocabulary ({vocab})",
                file.display()
            );
        }
        let batch = TokenBatch {
            inputs: vec![w[..w.len() - 1].to_vec()],
            targets: vec![w[1..].to_vec()],
        };
        losses.push(coalition_trainer::eval_loss(model, &[batch])?);
    }
    if losses.is_empty() {
        bail!("{}: `window_token_ids` is empty", file.display());
    }
    let mean = losses.iter().sum::<f64>() / losses.len() as f64;
    Ok(serde_json::json!({ "window_mean_loss": losses, "mean_loss": mean }))
}
