//! `coalition train-local --config FILE`.

use anyhow::{Context, Result};
use coalition_config::RunConfig;
use coalition_trainer::build::HubOptions;
use coalition_trainer::{train_local, LocalOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::progress::TrainBar;

#[derive(clap::Args)]
pub struct Args {
    /// Run config (TOML), e.g. configs/tiny-local.toml.
    #[arg(long)]
    config: PathBuf,
    /// Checkpoint directory to write (config.json + model.safetensors).
    /// Default: runs/<run name>/checkpoints/local.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Train this many steps instead of `training.rounds × training.inner_steps`.
    #[arg(long)]
    steps: Option<usize>,
    /// Local text file for the dataset (overrides `data.path`), e.g. a copy of tinyshakespeare.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Compute device: `cpu`, or `cuda:N` when built with the `cuda` feature.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Hugging Face Hub cache directory for `hf:` checkpoints and hub datasets.
    #[arg(long)]
    hub_cache: Option<PathBuf>,
    /// Use only files already in the Hub cache.
    #[arg(long)]
    offline: bool,
    /// Print the final report as one JSON line on stdout (and no progress bar).
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let mut cfg = RunConfig::from_file(&args.config)?;
    if let Some(data) = &args.data {
        let abs = std::path::absolute(data)
            .with_context(|| format!("cannot resolve --data {}", data.display()))?;
        cfg.data.path = Some(abs);
    }
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs")
            .join(&cfg.run.name)
            .join("checkpoints")
            .join("local")
    });
    let opts = LocalOptions {
        out_dir: out,
        steps: args.steps,
        hub: HubOptions {
            cache: args.hub_cache.clone(),
            offline: args.offline,
        },
        device: coalition_model::device(&args.device)?,
    };
    let mut bar = TrainBar::new(args.json || !std::io::stderr().is_terminal());
    let report = train_local(&cfg, &opts, &mut bar);
    bar.finish();
    let report = report.with_context(|| format!("training {}", args.config.display()))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("eval loss by step (nats/token):");
    for (step, loss) in &report.eval_curve {
        println!("  {step:>6}  {loss:.4}");
    }
    println!(
        "unigram baseline {:.4}; final eval loss {:.4} ({:.1}% of baseline)",
        report.unigram_baseline_nats,
        report.final_eval_loss,
        100.0 * report.final_eval_loss / report.unigram_baseline_nats
    );
    println!(
        "{} steps, {} tokens in {:.1} s ({:.0} tokens/s); checkpoint in {}",
        report.steps,
        report.tokens,
        report.seconds,
        report.tokens_per_second,
        report.checkpoint.display()
    );
    Ok(ExitCode::SUCCESS)
}
