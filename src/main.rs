//! `coalition`: train open models across volunteer machines and pay each volunteer by its
//! Shapley-measured contribution. This binary is thin: clap parsing and dispatch; the work is
//! in the workspace crates.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod alloc;
mod commands;
mod progress;
mod tables;

#[derive(Parser)]
#[command(
    name = "coalition",
    version,
    about = "Train open models across volunteer machines; pay each by its measured contribution.",
    long_about = "coalition trains open models (Llama-style, Hugging Face safetensors layout) across \
                  volunteer machines and scores every contributor with Shapley values.\n\n\
                  Start with `coalition train-local --config configs/tiny-local.toml`."
)]
struct Cli {
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `coalition=debug`.
    #[arg(long, global = true, default_value = "warn", env = "COALITION_LOG")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole loop on this machine: a coordinator and four trainer processes on loopback
    /// (two honest, one on shuffled labels, one free-rider), with per-round Shapley scores and
    /// payouts. No network, wallet or download needed.
    Demo(commands::demo::Args),
    /// Simulate many trainers on this machine: N trainer nodes (the real trainer code, each with
    /// its own libp2p connection) as tasks in this process against a coordinator process, with
    /// free-riders, shuffled labels, copiers, late nodes and dropouts from flags.
    Simulate(commands::simulate::Args),
    /// Coordinate a run: admit trainers, hand out work, collect updates over libp2p, score every
    /// trainer each round (Shapley values) and apply the outer optimizer.
    Coordinate(commands::coordinate::Args),
    /// Run a volunteer trainer node that joins a coordinator.
    Train(commands::train::Args),
    /// Parse and validate a run config; print a summary or the first error (naming file and key).
    CheckConfig {
        /// The run config (TOML), e.g. configs/tiny-local.toml.
        file: PathBuf,
    },
    /// Train the config's model on its dataset in this process, with a progress bar, periodic
    /// eval loss and a checkpoint at the end.
    TrainLocal(commands::train_local::Args),
    /// Eval loss of a checkpoint on a run's held-out split (JSON line).
    Eval(commands::eval::Args),
    /// Benchmarks that print machine-readable figures (JSON lines).
    Bench {
        #[command(subcommand)]
        which: commands::bench::Which,
    },
    /// Show a run's on-chain record (rounds, roots, each trainer's score, earned and claimed)
    /// and check the roots against local reports.
    Inspect(commands::inspect::Args),
    /// Write a run's report: one self-contained HTML page with plots of eval loss, Shapley
    /// scores, cumulative earnings, bytes and round timings, every update's outcome and the
    /// on-chain addresses (or `--serve ADDR` for the live dashboard).
    Report(commands::report::Args),
    /// Claim the reward tokens a wallet earned in a run (creates its token account if missing).
    Claim(commands::claim::Args),
    /// Re-derive committed rounds from a run's published files (`--from RUN_DIR`), against the
    /// chain with `--cluster`: the model, updates, pre-filter, eval samples (opened against the
    /// committed pool), challenged coalition utilities, the next model, the credits and each
    /// trainer's earnings. One line per round (per check with -v); exits non-zero at the first
    /// discrepancy, naming it; records the result in RUN_DIR/verification.json. With a
    /// REPORT.json instead: replay that report's scores from its transcript.
    Verify(commands::verify::Args),
}

/// The embedded Solana validator logs a great deal through `log` (including harmless errors
/// about file limits and tower storage): keep its crates silent unless the filter names them.
/// Its failures still surface as our own errors.
fn quiet_validator(filter: &str) -> String {
    if filter.contains("solana") || filter.contains("agave") {
        return filter.to_string();
    }
    format!("{filter},solana=off,agave=off")
}

fn main() -> std::process::ExitCode {
    alloc::tune();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(quiet_validator(&cli.log))
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(&args),
        Command::Simulate(args) => commands::simulate::run(&args),
        Command::Coordinate(args) => commands::coordinate::run_command(&args),
        Command::Train(args) => commands::train::run(&args),
        Command::CheckConfig { file } => commands::check_config::run(&file),
        Command::TrainLocal(args) => commands::train_local::run(&args),
        Command::Eval(args) => commands::eval::run(&args),
        Command::Bench { which } => commands::bench::run(&which),
        Command::Verify(args) => commands::verify::run(&args),
        Command::Inspect(args) => commands::inspect::run(&args),
        Command::Claim(args) => commands::claim::run(&args),
        Command::Report(args) => commands::report::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
