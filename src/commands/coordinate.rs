//! `coalition coordinate --config FILE`: run a coordinator for a run.

use anyhow::{Context, Result};
use coalition_config::RunConfig;
use coalition_coordinator::service::{run, Outcome, RoundSummary, ServiceObserver, ServiceOptions};
use coalition_net::Multiaddr;
use coalition_trainer::build::HubOptions;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The run config (TOML), e.g. configs/demo.toml.
    #[arg(long)]
    config: PathBuf,
    /// Directory holding run directories (the run lives in <runs>/<run name>/).
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// Listen on these multiaddrs instead of `network.listen` (repeatable).
    #[arg(long)]
    listen: Vec<String>,
    /// If the run directory holds a run launched with a different config, move it aside and
    /// start fresh (by default that is refused).
    #[arg(long)]
    start_over: bool,
    /// Local text file for the dataset (overrides `data.path`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Compute device for scoring: `cpu`, or `cuda:N` with the `cuda` feature.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Hugging Face Hub cache directory.
    #[arg(long)]
    hub_cache: Option<PathBuf>,
    /// Write the listen addresses to this file once bound (used by `coalition demo`).
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Seconds to keep telling trainers the run is finished before exiting.
    #[arg(long, default_value_t = 10)]
    linger_secs: u64,
}

/// Prints the run's progress as plain lines.
pub struct Printer;

impl ServiceObserver for Printer {
    fn listening(&mut self, addrs: &[Multiaddr], resumed_at: u64) {
        if resumed_at > 0 {
            println!("resuming at round {resumed_at}");
        }
        println!("coordinator listening; trainers join with one of:");
        for a in addrs {
            println!("  coalition train --join {a} --wallet <keypair.json>");
        }
    }
    fn trainer_joined(&mut self, wallet: &str, id: u32) {
        println!("trainer {id} joined: {wallet}");
    }
    fn round_closed(&mut self, s: &RoundSummary) {
        print_round(s);
    }
    fn trainers_connected(&mut self, n: usize) {
        // A gauge on /metrics when `[observe] http` serves one (a no-op otherwise).
        coalition_observe::metrics::record_trainers_connected(n);
    }
}

/// One round as a table.
pub fn print_round(s: &RoundSummary) {
    if !s.committed {
        println!("round {}: no update accepted; running it again", s.round);
        return;
    }
    println!(
        "round {}: eval loss {:.4} -> {:.4}  ({}, {} evaluations, {:.1} s scoring)",
        s.round, s.loss_before, s.loss_after, s.estimator, s.evaluations, s.scoring_seconds
    );
    for row in &s.rows {
        let (verdict, score, payout) = match &row.outcome {
            Outcome::Scored { score, payout } => (
                "accepted".to_string(),
                format!("{score:+.6}"),
                payout.to_string(),
            ),
            Outcome::Rejected(why) => (format!("rejected: {why}"), "-".into(), "0".into()),
            Outcome::Duplicate(of) => (format!("duplicate of {of}"), "-".into(), "0".into()),
            Outcome::Missed => ("missed the deadline".into(), "-".into(), "0".into()),
        };
        println!(
            "  {:<44} {:>12} {:>10}  {verdict}",
            row.trainer, score, payout
        );
    }
}

pub fn run_command(args: &Args) -> Result<ExitCode> {
    let bytes = std::fs::read(&args.config)
        .with_context(|| format!("cannot read config {}", args.config.display()))?;
    let mut cfg = RunConfig::from_file(&args.config)?;
    if let Some(data) = &args.data {
        cfg.data.path = Some(std::path::absolute(data)?);
    }
    let listen = if args.listen.is_empty() {
        None
    } else {
        Some(
            args.listen
                .iter()
                .map(|a| {
                    a.parse::<Multiaddr>()
                        .with_context(|| format!("--listen {a:?} is not a multiaddr"))
                })
                .collect::<Result<Vec<_>>>()?,
        )
    };
    let opts = ServiceOptions {
        runs_root: args.runs.clone(),
        start_over: args.start_over,
        listen,
        ready_file: args.ready_file.clone(),
        device: coalition_model::device(&args.device)?,
        hub: HubOptions {
            cache: args.hub_cache.clone(),
            offline: false,
        },
        linger: Duration::from_secs(args.linger_secs),
    };
    // `[observe] http`: the live dashboard, its JSON and /metrics while the coordinator runs.
    let dashboard = match cfg.observe.http_addr() {
        Some(addr) => {
            let run_dir = args.runs.join(&cfg.run.name);
            let d = coalition_observe::start(coalition_observe::ServeOptions::run(addr, run_dir))
                .with_context(|| {
                format!("cannot serve the dashboard ([observe] http = {addr})")
            })?;
            println!("dashboard {} (metrics at {}metrics)", d.url(), d.url());
            Some(d)
        }
        None => None,
    };
    let recorder = super::recording::recorder_for(&cfg, &bytes, &args.runs)?;
    let mut observer = super::recording::Recording {
        inner: Printer,
        recorder,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = runtime.block_on(run(cfg, bytes, opts, &mut observer));
    // Let the recorder finish (and the embedded validator shut down) whatever happened.
    let recorded = observer.recorder.take().map(|r| r.finish());
    let summary = result?;
    println!(
        "run complete: {} rounds committed; run directory {}",
        summary.rounds_committed,
        summary.run_dir.display()
    );
    match recorded {
        None => println!("on-chain recording is off (rewards.cluster = \"none\")"),
        Some(Ok(r)) => {
            println!(
                "on chain ({}): run {} with {} rounds closed; this coordinator recorded {} in {} transactions ({:.1} s; ledger start-up {:.1} s)",
                r.accounts.cluster,
                r.accounts.run,
                r.rounds_on_chain,
                r.rounds_recorded,
                r.transactions,
                r.record_seconds,
                r.connect_seconds
            );
            println!(
                "  inspect: coalition inspect --cluster {} --run {} --program-id {}",
                r.accounts.cluster, r.accounts.run, r.accounts.program_id
            );
        }
        Some(Err(e)) => {
            eprintln!(
                "error: the rounds are trained but not all are recorded on chain: {e}\n  start the coordinator again with the same config to finish recording (it sends only what is missing)"
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    if let Some(d) = dashboard {
        d.stop()?;
    }
    Ok(ExitCode::SUCCESS)
}
