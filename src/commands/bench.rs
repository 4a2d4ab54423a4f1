//! `coalition bench ...`: throughput figures as JSON lines (no assertions on time).

use anyhow::Result;
use coalition_model::bench;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Which {
    /// Training throughput (steps/s, tokens/s, and where the time goes) for two fixed shapes
    /// we compare against PyTorch on the same cores: MLP 784-256-256-10 (batch 128) and a
    /// Llama decoder (d_model 256, 4 layers, 8 heads, ffn 768, seq 128, batch 16, vocab 76),
    /// both with AdamW.
    Train {
        /// Timed steps per model (after warm-up steps).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Untimed warm-up steps.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Only these models (`mlp`, `lm`); default both.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Figures of a finished (or running) distributed run read from its run directory: bytes
    /// per trainer per round on the wire, uploaded and downloaded (control messages, the model
    /// broadcast and update frames), against fp32 data-parallel training over the same optimizer
    /// steps (4P bytes up and 4P down per step), and attribution seconds per round with their
    /// share of the round time. E.g. `coalition bench run runs/demo` after `coalition demo`.
    Run {
        /// The run directory (runs/<name>).
        dir: std::path::PathBuf,
    },
}

pub fn run(which: &Which) -> Result<ExitCode> {
    match which {
        Which::Train {
            steps,
            warmup,
            only,
        } => {
            let wants = |m: &str| only.is_empty() || only.iter().any(|o| o == m);
            if wants("mlp") {
                println!("{}", bench::mlp(*steps, *warmup)?);
            }
            if wants("lm") {
                println!("{}", bench::lm(*steps, *warmup)?);
            }
        }
        Which::Run { dir } => super::bench_run::bench_run(dir)?,
    }
    Ok(ExitCode::SUCCESS)
}
