//! `coalition demo`: the whole loop on one machine. A coordinator and four trainer processes
//! on loopback train configs/demo.toml (embedded in the binary): two honest trainers, one
//! trained on shuffled labels, one free-rider sending zero updates. Prints who earned what in
//! every round and the loss curve.

use anyhow::{bail, Context, Result};
use coalition_coordinator::journal::{read_entries, Entry};
use coalition_coordinator::read_report;
use coalition_ledger::{
    claim::claim,
    connect::{Connection, Genesis},
    inspect::{check_reports, read_view, render},
    keys::load_keypair,
    pubkey_from_base58, Cluster, RunAccounts,
};
use coalition_net::Wallet;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The demo's run config (also in configs/demo.toml, where a test validates it).
const DEMO_CONFIG: &str = include_str!("../../configs/demo.toml");

const TRAINERS: [(&str, &str); 4] = [
    ("honest-1", "honest"),
    ("honest-2", "honest"),
    ("shuffled-labels", "shuffled-labels"),
    ("free-rider", "free-rider"),
];

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the demo's run (`<runs>/demo/`) and its files (`<runs>/demo-files/`);
    /// both are replaced on every demo run.
    #[arg(long, default_value = "runs")]
    runs: PathBuf,
    /// Rounds to train (default: the demo config's).
    #[arg(long)]
    rounds: Option<usize>,
    /// Give up if the demo takes longer than this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout_secs: u64,
}

struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

fn spawn(name: &str, args: &[&str], log: &Path, threads: &str) -> Result<Proc> {
    let exe = std::env::current_exe().context("cannot find the coalition executable")?;
    let out =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let err = out.try_clone()?;
    let child = Command::new(exe)
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .env("COALITION_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    Ok(Proc {
        name: name.to_string(),
        child,
        log: log.to_path_buf(),
    })
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let run_dir = args.runs.join("demo");
    let files = args.runs.join("demo-files");
    for d in [&run_dir, &files] {
        if d.exists() {
            std::fs::remove_dir_all(d).with_context(|| format!("cannot clear {}", d.display()))?;
        }
    }
    std::fs::create_dir_all(files.join("logs"))?;
    let mut config = DEMO_CONFIG.to_string();
    if let Some(r) = args.rounds {
        config = config.replace("rounds = 10", &format!("rounds = {r}"));
    }
    let config_path = files.join("demo.toml");
    std::fs::write(&config_path, &config)?;
    let ready = files.join("coordinator.addr");
    let mut names = BTreeMap::new();
    let mut wallets = Vec::new();
    for (name, _) in TRAINERS {
        let w = Wallet::generate();
        let path = files.join(format!("{name}.json"));
        w.write_file(&path)?;
        names.insert(w.pubkey_base58(), name.to_string());
        wallets.push(path);
    }

    println!(
        "coalition demo: a coordinator and {} trainers on loopback",
        TRAINERS.len()
    );
    println!(
        "  run directory {}; logs in {}",
        run_dir.display(),
        files.join("logs").display()
    );
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let coord_args = [
        "coordinate",
        "--config",
        &s(&config_path),
        "--runs",
        &s(&args.runs),
        "--ready-file",
        &s(&ready),
        "--linger-secs",
        "5",
    ];
    let mut coordinator = spawn(
        "coordinator",
        &coord_args,
        &files.join("logs/coordinator.log"),
        "2",
    )?;
    let started = Instant::now();
    let addr = loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            if let Some(a) = text.lines().find(|l| l.contains("/tcp/")) {
                break a.to_string();
            }
        }
        if let Some(status) = coordinator.child.try_wait()? {
            bail!(
                "the coordinator exited ({status}) before listening:\n{}",
                tail(&coordinator.log)
            );
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = coordinator.child.kill();
            bail!(
                "the coordinator did not start listening within 120 s:\n{}",
                tail(&coordinator.log)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!("  coordinator at {addr}");
    let mut trainers = Vec::new();
    for ((name, behavior), wallet) in TRAINERS.iter().zip(&wallets) {
        let log = files.join(format!("logs/{name}.log"));
        let targs = [
            "train",
            "--join",
            &addr,
            "--wallet",
            &s(wallet),
            "--behavior",
            behavior,
        ];
        trainers.push(spawn(name, &targs, &log, "1")?);
        println!("  started trainer {name} ({behavior})");
    }

    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut printed = 0u64;
    let status = loop {
        printed = print_new_rounds(&run_dir, &names, printed)?;
        if let Some(status) = coordinator.child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = coordinator.child.kill();
            for t in &mut trainers {
                let _ = t.child.kill();
            }
            bail!("the demo did not finish within {} s", args.timeout_secs);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    print_new_rounds(&run_dir, &names, printed)?;
    let grace = Instant::now() + Duration::from_secs(20);
    for t in &mut trainers {
        while t.child.try_wait()?.is_none() && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(100));
        }
        if t.child.try_wait()?.is_none() {
            let _ = t.child.kill();
            let _ = t.child.wait();
            println!("  trainer {} did not exit by itself; stopped it", t.name);
        }
    }
    if !status.success() {
        bail!(
            "the coordinator failed ({status}):\n{}",
            tail(&coordinator.log)
        );
    }
    summarize(&run_dir, &names)?;
    onchain(&run_dir, &names, &wallets)?;
    println!(
        "done in {:.0} s; inspect {}",
        started.elapsed().as_secs_f64(),
        run_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Print the table of every round whose report appeared since `done`; returns the new count.
fn print_new_rounds(run_dir: &Path, names: &BTreeMap<String, String>, done: u64) -> Result<u64> {
    let journal = run_dir.join("journal.jsonl");
    if !journal.exists() {
        return Ok(done);
    }
    let entries = read_entries(&journal)?;
    let mut next = done;
    for e in &entries {
        let Entry::RoundCommitted {
            round,
            eval_loss_before,
            eval_loss_after,
            ..
        } = e
        else {
            continue;
        };
        if *round < next {
            continue;
        }
        let report = read_report(&run_dir.join(format!("reports/round-{round}.json")))?;
        println!();
        println!("round {round}: eval loss {eval_loss_before:.4} -> {eval_loss_after:.4}");
        println!(
            "  {:<16} {:<9} {:>14} {:>10}",
            "trainer", "accepted", "shapley (nats)", "payout"
        );
        for p in &report.players {
            let name = names.get(&p.id).cloned().unwrap_or_else(|| p.id.clone());
            println!(
                "  {name:<16} {:<9} {:>+14.6} {:>10}",
                "yes", p.score, p.payout
            );
        }
        for e2 in &entries {
            if let Entry::RoundScored {
                round: r,
                rejected,
                duplicates,
                ..
            } = e2
            {
                if r != round {
                    continue;
                }
                for x in rejected {
                    let name = names
                        .get(&x.trainer)
                        .cloned()
                        .unwrap_or_else(|| x.trainer.clone());
                    println!(
                        "  {name:<16} {:<9} {:>14} {:>10}  {}",
                        "no", "-", 0, x.reason
                    );
                }
                for d in duplicates {
                    let name = names
                        .get(&d.trainer)
                        .cloned()
                        .unwrap_or_else(|| d.trainer.clone());
                    println!("  {name:<16} {:<9} {:>14} {:>10}  duplicate", "no", "-", 0);
                }
            }
        }
        next = round + 1;
    }
    Ok(next)
}

/// The run as recorded in the embedded validator: every round checked against its report, then
/// the first honest trainer claims its tokens twice (the second claim finds nothing).
fn onchain(run_dir: &Path, names: &BTreeMap<String, String>, wallets: &[PathBuf]) -> Result<()> {
    let info = RunAccounts::read(&run_dir.join("onchain.json"))
        .context("the coordinator did not record the run on chain")?;
    let program_id = pubkey_from_base58(&info.program_id).context("program id")?;
    let cluster = Cluster::Embedded {
        run_dir: run_dir.to_path_buf(),
    };
    println!();
    println!(
        "on chain (embedded validator, ledger {}):",
        run_dir.join("ledger").display()
    );
    let started = Instant::now();
    let conn = Connection::open(&cluster, program_id, Genesis::MustExist)?;
    let view = read_view(&conn.chain, &info.run()?)?;
    let checks = check_reports(&view, &run_dir.join("reports"));
    for line in render(&view, Some(&checks)).lines() {
        let mut line = line.to_string();
        for (wallet, name) in names {
            line = line.replace(wallet.as_str(), &format!("{name:<44}"));
        }
        println!("  {line}");
    }
    if let Some(wallet) = wallets.first() {
        let trainer = load_keypair(wallet)?;
        let authority = load_keypair(&run_dir.join("authority.json"))?;
        for attempt in ["first", "second"] {
            let out = claim(&conn.chain, &trainer, Some(&authority), &info.run()?)?;
            println!(
                "  {attempt} claim by {}: moved {} tokens (earned {}); its token account holds {}",
                TRAINERS[0].0, out.amount, out.earned, out.balance_after
            );
        }
    }
    println!(
        "  ({:.1} s with the validator restarted on the run's ledger)",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  again: coalition inspect --cluster embedded:{}",
        run_dir.display()
    );
    if let Some(w) = wallets.get(1) {
        println!(
            "         coalition claim --cluster embedded:{} --wallet {}",
            run_dir.display(),
            w.display()
        );
    }
    Ok(())
}

/// Totals per trainer and the loss curve.
fn summarize(run_dir: &Path, names: &BTreeMap<String, String>) -> Result<()> {
    let entries = read_entries(&run_dir.join("journal.jsonl"))?;
    let mut earned: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for n in names.values() {
        earned.insert(n.clone(), (0, 0.0));
    }
    println!();
    println!("eval loss by round:");
    for e in &entries {
        if let Entry::RoundCommitted {
            round,
            eval_loss_before,
            eval_loss_after,
            ..
        } = e
        {
            if *round == 0 {
                println!("  start    {eval_loss_before:.4}");
            }
            println!("  round {round:<2} {eval_loss_after:.4}");
            let report = read_report(&run_dir.join(format!("reports/round-{round}.json")))?;
            for p in &report.players {
                let name = names.get(&p.id).cloned().unwrap_or_else(|| p.id.clone());
                let slot = earned.entry(name).or_insert((0, 0.0));
                slot.0 += p.payout;
                slot.1 += p.score;
            }
        }
    }
    println!();
    println!("total over the run:");
    println!(
        "  {:<16} {:>16} {:>12}",
        "trainer", "shapley (nats)", "earned"
    );
    for (name, (paid, score)) in &earned {
        println!("  {name:<16} {score:>+16.6} {paid:>12}");
    }
    Ok(())
}
