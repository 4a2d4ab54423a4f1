//! `coalition train --join MULTIADDR --wallet FILE`: run a volunteer trainer node.

use anyhow::{Context, Result};
use coalition_net::{Multiaddr, Wallet};
use coalition_trainer::build::HubOptions;
use coalition_trainer::node::{run_node, NodeOptions};
use coalition_trainer::round::Behavior;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::train_progress::{poll_earnings, Earned, Progress};

#[derive(clap::Args)]
pub struct Args {
    /// The coordinator's address, as it prints it, e.g.
    /// /ip4/203.0.113.7/tcp/9000/p2p/12D3KooW...
    #[arg(long, required_unless_present = "run")]
    join: Option<String>,
    /// Instead of --join: the run's address on chain (base58); the coordinator's peer id and
    /// addresses are read from its Run account. Needs --cluster (and --program-id).
    #[arg(long, conflicts_with = "join", requires = "cluster")]
    run: Option<String>,
    /// With --run: the cluster holding the run (`devnet`, `localnet`, `mainnet-beta` or a URL).
    #[arg(long)]
    cluster: Option<String>,
    /// With --run: the registry program id.
    #[arg(long)]
    program_id: Option<String>,
    /// Your solana-cli JSON keypair (e.g. ~/.config/solana/id.json): rewards are credited to
    /// its public key, and the join request is signed with it.
    #[arg(long)]
    wallet: PathBuf,
    /// Compute device: `cpu`, or `cuda:N` when built with the `cuda` feature.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Local copy of the run's dataset file, when its manifest names a file.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Local copy of the run's tokenizer, when its config names a model file's
    /// (`data.tokenizer = "gguf:..."`), e.g. gguf:models/SmolLM2-135M-Instruct.Q4_1.gguf.
    #[arg(long)]
    tokenizer: Option<String>,
    /// Hugging Face Hub cache directory.
    #[arg(long)]
    hub_cache: Option<PathBuf>,
    /// Give up after this many consecutive failed reconnections.
    #[arg(long, default_value_t = 8)]
    max_retries: u32,
    /// Seconds to wait for an answer from the coordinator.
    #[arg(long, default_value_t = 120)]
    request_timeout_secs: u64,
    /// For demonstrations and tests: `honest`, `shuffled-labels` (train on corrupted data) or
    /// `free-rider` (send zero updates).
    #[arg(long, default_value = "honest", hide = true)]
    behavior: Behavior,
    /// Serve this node's Prometheus metrics (round, inner step, loss, bytes, updates, earned)
    /// at http://ADDR/metrics, e.g. 127.0.0.1:9301.
    #[arg(long)]
    metrics: Option<SocketAddr>,
}

/// The coordinator address to dial: --join, or the first address published in the run's
/// account on chain.
fn join_address(args: &Args) -> Result<String> {
    if let Some(j) = &args.join {
        return Ok(j.clone());
    }
    let target = super::ledger_args::Target {
        cluster: args.cluster.clone().unwrap_or_default(),
        run: args.run.clone(),
        program_id: args.program_id.clone(),
    }
    .resolve()?;
    let conn = target.connect()?;
    let run = coalition_ledger::setup::read_run(&conn.chain, &target.run)?
        .with_context(|| format!("no run {} on {}", target.run, target.cluster))?;
    let (peer, addrs) = coalition_registry::client::coordinator_of(&run);
    match addrs.first() {
        Some(a) if !peer.is_empty() => Ok(format!("{a}/p2p/{peer}")),
        _ => anyhow::bail!(
            "run {} has no coordinator address on chain yet (is its coordinator running?)",
            target.run
        ),
    }
}

/// With `--run` on a remote cluster: the trainer's earnings, read from the chain every 15 s.
fn earnings(args: &Args, wallet: &Wallet) -> Earned {
    let Some(run) = &args.run else {
        return Earned::unknown();
    };
    let target = super::ledger_args::Target {
        cluster: args.cluster.clone().unwrap_or_default(),
        run: Some(run.clone()),
        program_id: args.program_id.clone(),
    };
    let connected = target.resolve().and_then(|t| {
        if t.run_dir.is_some() {
            anyhow::bail!("not on an embedded ledger (its validator belongs to the coordinator)");
        }
        Ok((t.connect()?, t.run))
    });
    match connected {
        Ok((conn, run)) => {
            let me = coalition_ledger::Pubkey::new_from_array(wallet.pubkey());
            poll_earnings(conn, run, me, Duration::from_secs(15))
        }
        Err(e) => {
            tracing::warn!("earnings will not be shown: {e:#}");
            Earned::unknown()
        }
    }
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let address = join_address(args)?;
    let join: Multiaddr = address
        .parse()
        .with_context(|| format!("coordinator address {address:?} is not a multiaddr"))?;
    let wallet = Wallet::from_file(&args.wallet)?;
    let opts = NodeOptions {
        join,
        wallet,
        device: coalition_model::device(&args.device)?,
        data: args.data.clone(),
        tokenizer: args.tokenizer.clone(),
        hub: HubOptions {
            cache: args.hub_cache.clone(),
            offline: false,
        },
        behavior: args.behavior,
        max_retries: args.max_retries,
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        leak: None,
        leaks: false,
    };
    let _metrics = match args.metrics {
        Some(addr) => {
            let d = coalition_observe::start(coalition_observe::ServeOptions::metrics_only(addr))?;
            eprintln!("metrics at {}metrics", d.url());
            Some(d)
        }
        None => None,
    };
    let terminal = std::io::stderr().is_terminal();
    let bar = if terminal {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} steps  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = Progress::new(bar, !terminal, earnings(args, &opts.wallet));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let summary = runtime.block_on(run_node(opts, &mut progress));
    progress.bar.finish_and_clear();
    let summary = summary?;
    println!(
        "run finished: {} rounds, {} bytes sent and {} received on the wire",
        summary.rounds, summary.bytes_sent, summary.bytes_received
    );
    Ok(ExitCode::SUCCESS)
}
