//! `coalition simulate --trainers N`: N trainer nodes — the real trainer code, each with its own
//! libp2p connection, codec and data slot — as tasks in this process, against a coordinator
//! process on loopback that records on the embedded ledger, with a mix of behaviours from flags.
//! Prints each round's outcome by behaviour and writes a normal run directory, so `bench run`,
//! `inspect`, `verify` and `report` work on it.

use anyhow::{bail, Context, Result};
use coalition_coordinator::journal::{read_entries, Entry};
use coalition_coordinator::read_report;
use coalition_net::Wallet;
use coalition_trainer::leak::LeakBoard;
use coalition_trainer::node::{run_node, NodeOptions};
use coalition_trainer::round::Behavior;
use coalition_trainer::TrainerError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default config (also in configs/simulate.toml, where a test validates it).
const SIMULATE_CONFIG: &str = include_str!("../../configs/simulate.toml");

#[derive(clap::Args)]
pub struct Args {
    /// Trainer nodes to run (tasks in this process).
    #[arg(long, default_value_t = 16)]
    trainers: usize,
    /// Run config (default: the tiny configs/simulate.toml, embedded in the binary).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rounds to train (default: the config's).
    #[arg(long)]
    rounds: Option<usize>,
    /// Nodes that send zero updates.
    #[arg(long, default_value_t = 0)]
    free_riders: usize,
    /// Nodes that train on shuffled labels.
    #[arg(long, default_value_t = 0)]
    shuffled: usize,
    /// Nodes that submit an honest node's leaked update plus 5% noise as their own.
    #[arg(long, default_value_t = 0)]
    copiers: usize,
    /// Nodes that submit after the deadline.
    #[arg(long, default_value_t = 0)]
    late: usize,
    /// Nodes that leave in their second round and never come back.
    #[arg(long, default_value_t = 0)]
    dropouts: usize,
    /// Directory for the run (`<runs>/<run name>/`) and its files (`<runs>/<run name>-files/`).
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout_secs: u64,
}

/// (name, behaviour) of every node, the honest ones first.
fn cast(args: &Args) -> Result<Vec<(String, Behavior)>> {
    let groups = [
        ("free-rider", args.free_riders, Behavior::FreeRider),
        ("shuffled", args.shuffled, Behavior::ShuffledLabels),
        ("copier", args.copiers, Behavior::Copier),
        ("late", args.late, Behavior::Late),
        ("dropout", args.dropouts, Behavior::Dropout),
    ];
    let others: usize = groups.iter().map(|g| g.1).sum();
    if args.trainers == 0 || others >= args.trainers {
        bail!(
            "--trainers {} must exceed the {others} free-riders, shuffled, copiers, late and dropouts (at least one honest node)",
            args.trainers
        );
    }
    let mut out: Vec<(String, Behavior)> = (0..args.trainers - others)
        .map(|i| (format!("honest-{i:02}"), Behavior::Honest))
        .collect();
    for (name, count, behavior) in groups {
        out.extend((0..count).map(|i| (format!("{name}-{i:02}"), behavior)));
    }
    Ok(out)
}

/// The run config with the participant counts (and rounds) set for this simulation.
fn config_text(args: &Args) -> Result<String> {
    let text = match &args.config {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        None => SIMULATE_CONFIG.to_string(),
    };
    let mut doc: toml_edit::DocumentMut = text.parse().context("the config is not TOML")?;
    let n = args.trainers as i64;
    doc["network"]["min_trainers"] = toml_edit::value(n);
    doc["network"]["max_trainers"] = toml_edit::value(n);
    if let Some(r) = args.rounds {
        doc["training"]["rounds"] = toml_edit::value(r as i64);
    }
    Ok(doc.to_string())
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let cast = cast(args)?;
    let text = config_text(args)?;
    let cfg = coalition_config::RunConfig::from_toml_str(&text, Path::new("simulate.toml"))?;
    let run_dir = args.runs.join(&cfg.run.name);
    let files = args.runs.join(format!("{}-files", cfg.run.name));
    for d in [&run_dir, &files] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("cannot clear {}", d.display()))?;
        }
    }
    std::fs::create_dir_all(&files)?;
    let config_path = files.join("simulate.toml");
    std::fs::write(&config_path, &text)?;
    println!(
        "coalition simulate: {} trainer nodes in this process, a coordinator process; run directory {}",
        cast.len(),
        run_dir.display()
    );
    let started = Instant::now();
    let (mut coordinator, addr) = start_coordinator(&config_path, &args.runs, &files)?;
    println!("  coordinator at {addr}");
    let wallets: Vec<Wallet> = cast.iter().map(|_| Wallet::generate()).collect();
    let names: BTreeMap<String, String> = wallets
        .iter()
        .zip(&cast)
        .map(|(w, (n, _))| (w.pubkey_base58(), n.clone()))
        .collect();
    std::fs::write(
        files.join("labels.json"),
        serde_json::to_vec_pretty(&names)?,
    )?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let nodes = spawn_nodes(&runtime, &addr, &cast, wallets)?;
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let mut printed = 0;
    let status = loop {
        printed = print_rounds(&run_dir, &names, printed)?;
        if let Some(status) = coordinator.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = coordinator.kill();
            bail!(
                "the simulation did not finish within {} s",
                args.timeout_secs
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    print_rounds(&run_dir, &names, printed)?;
    let outcomes = runtime.block_on(collect(nodes));
    if !status.success() {
        bail!(
            "the coordinator failed ({status}); its log: {}",
            files.join("coordinator.log").display()
        );
    }
    totals(&run_dir, &names, &outcomes)?;
    let dir = run_dir.display();
    println!(
        "done in {:.0} s; figures: coalition bench run {dir}; review: coalition verify --from {dir} --all --cluster embedded:{dir}",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Start `coalition coordinate` and wait for its address.
fn start_coordinator(
    config: &Path,
    runs: &Path,
    files: &Path,
) -> Result<(std::process::Child, String)> {
    let exe = std::env::current_exe().context("cannot find the coalition executable")?;
    let ready = files.join("coordinator.addr");
    let log = std::fs::File::create(files.join("coordinator.log"))?;
    let mut child = Command::new(exe)
        .arg("coordinate")
        .arg("--config")
        .arg(config)
        .arg("--runs")
        .arg(runs)
        .arg("--ready-file")
        .arg(&ready)
        .args(["--linger-secs", "5"])
        .env("COALITION_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start the coordinator")?;
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            if let Some(a) = text.lines().find(|l| l.contains("/tcp/")) {
                return Ok((child, a.to_string()));
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the coordinator exited ({status}) before listening; see {}",
                files.join("coordinator.log").display()
            );
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            bail!("the coordinator did not listen within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

type NodeTask = tokio::task::JoinHandle<(String, Result<u64, TrainerError>)>;

/// One task per node; the first honest node leaks its updates when there are copiers.
fn spawn_nodes(
    runtime: &tokio::runtime::Runtime,
    addr: &str,
    cast: &[(String, Behavior)],
    wallets: Vec<Wallet>,
) -> Result<Vec<NodeTask>> {
    let join: coalition_net::Multiaddr = addr.parse().context("the coordinator's address")?;
    let copiers = cast.iter().any(|(_, b)| *b == Behavior::Copier);
    let board = Arc::new(LeakBoard::default());
    let mut tasks = Vec::new();
    for (i, ((name, behavior), wallet)) in cast.iter().zip(wallets).enumerate() {
        let opts = NodeOptions {
            join: join.clone(),
            wallet,
            device: candle_core::Device::Cpu,
            data: None,
            tokenizer: None,
            hub: Default::default(),
            behavior: *behavior,
            max_retries: 12,
            request_timeout: Duration::from_secs(120),
            leak: copiers.then(|| board.clone()),
            leaks: copiers && i == 0,
        };
        let name = name.clone();
        tasks.push(runtime.spawn(async move {
            let mut quiet = ();
            let result = run_node(opts, &mut quiet).await.map(|s| s.rounds);
            (name, result)
        }));
    }
    Ok(tasks)
}

/// Each node's outcome: rounds done, or why it stopped.
async fn collect(nodes: Vec<NodeTask>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for task in nodes {
        let outcome = tokio::time::timeout(Duration::from_secs(60), task).await;
        let (name, text) = match outcome {
            Ok(Ok((name, Ok(rounds)))) => (name, format!("{rounds} rounds")),
            Ok(Ok((name, Err(e)))) => (name, e.to_string()),
            Ok(Err(e)) => ("?".into(), format!("task failed: {e}")),
            Err(_) => ("?".into(), "still running after the run ended".into()),
        };
        out.insert(name, text);
    }
    out
}

/// The behaviour group of a node name (`honest-03` → `honest`).
fn group(name: &str) -> &str {
    name.rsplit_once('-').map_or(name, |(g, _)| g)
}

/// One line per behaviour group for each newly committed round; returns the rounds printed.
fn print_rounds(run_dir: &Path, names: &BTreeMap<String, String>, done: u64) -> Result<u64> {
    let journal = run_dir.join("journal.jsonl");
    if !journal.exists() {
        return Ok(done);
    }
    let mut next = done;
    for e in read_entries(&journal)? {
        let Entry::RoundCommitted {
            round,
            eval_loss_before,
            eval_loss_after,
            scoring_seconds,
            round_seconds,
            ..
        } = e
        else {
            continue;
        };
        if round < next {
            continue;
        }
        let report = read_report(&run_dir.join(format!("reports/round-{round}.json")))?;
        println!(
            "\nround {round}: eval loss {eval_loss_before:.4} -> {eval_loss_after:.4}; {} players, {:?}, {} evaluations, scoring {scoring_seconds:.1} s of {round_seconds:.1} s",
            report.players.len(),
            report.estimator,
            report.stats.evaluations
        );
        let mut by_group: BTreeMap<&str, (usize, f64, u64)> = BTreeMap::new();
        for p in &report.players {
            let name = names.get(&p.id).map_or("?", String::as_str);
            let g = by_group.entry(group(name)).or_default();
            g.0 += 1;
            g.1 += p.score;
            g.2 += p.payout;
        }
        for (g, (n, score, paid)) in by_group {
            println!("  {g:<12} {n:>3} scored  shapley {score:>+10.5}  paid {paid:>9}");
        }
        next = round + 1;
    }
    Ok(next)
}

/// Earnings by behaviour group over the run, and what each node said at the end.
fn totals(
    run_dir: &Path,
    names: &BTreeMap<String, String>,
    outcomes: &BTreeMap<String, String>,
) -> Result<()> {
    let mut earned: BTreeMap<String, u64> = names.values().map(|n| (n.clone(), 0)).collect();
    for e in read_entries(&run_dir.join("journal.jsonl"))? {
        if let Entry::RoundCommitted { round, .. } = e {
            let report = read_report(&run_dir.join(format!("reports/round-{round}.json")))?;
            for p in &report.players {
                if let Some(n) = names.get(&p.id) {
                    *earned.entry(n.clone()).or_default() += p.payout;
                }
            }
        }
    }
    let mut by_group: BTreeMap<&str, (usize, u64, u64, u64)> = BTreeMap::new();
    for (name, paid) in &earned {
        let g = by_group.entry(group(name)).or_insert((0, 0, u64::MAX, 0));
        g.0 += 1;
        g.1 += paid;
        g.2 = g.2.min(*paid);
        g.3 = g.3.max(*paid);
    }
    println!("\ntotal over the run, by behaviour:");
    println!(
        "  {:<12} {:>5} {:>14} {:>12} {:>12}",
        "behaviour", "nodes", "earned", "min", "max"
    );
    for (g, (n, sum, min, max)) in by_group {
        println!("  {g:<12} {n:>5} {sum:>14} {min:>12} {max:>12}");
    }
    let stopped: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| !o.ends_with(" rounds"))
        .map(|(n, o)| format!("{n}: {o}"))
        .collect();
    if !stopped.is_empty() {
        println!("nodes that stopped early: {}", stopped.join("; "));
    }
    Ok(())
}
