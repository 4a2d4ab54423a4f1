//! `coalition verify`: re-derive a run's rounds from its published files (the pre-filter's
//! decisions, the eval draw, challenged coalition utilities, the next model, the credits), or
//! replay one report's scores from its transcript.

use anyhow::{bail, Context, Result};
use coalition_attribution::{verify_report, Report, Seed};
use coalition_coordinator::rederive::{
    rederive_round, ChainRound, Challenge, DirArtifacts, History, RoundCheck,
};
use coalition_coordinator::RunDir;
use coalition_ledger::inspect::{read_view, RunView};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::ledger_args::Target;
use super::verify_records::{self, Records};

#[derive(clap::Args)]
pub struct Args {
    /// A round report (`reports/round-N.json`): replay its scores from its own transcript.
    /// This checks the arithmetic only; use --from to re-derive the utilities themselves.
    #[arg(conflicts_with_all = ["from", "all", "round", "cluster"])]
    pub report: Option<PathBuf>,
    /// The run's published files: the coordinator's run directory (e.g. `runs/demo`) or a
    /// copy of it.
    #[arg(long, value_name = "RUN_DIR")]
    pub from: Option<PathBuf>,
    /// Re-derive every committed round.
    #[arg(long, conflicts_with = "round")]
    pub all: bool,
    /// Re-derive rounds 0..=N (a round's checks depend on the rounds before it: the updates
    /// they published, the eval samples they revealed).
    #[arg(long, value_name = "N")]
    pub round: Option<u64>,
    /// Check against the run's records on this cluster (`embedded:RUN_DIR`, `localnet`,
    /// `devnet`, an RPC URL). Without it the run directory is checked against itself.
    #[arg(long)]
    pub cluster: Option<String>,
    /// The run's address on the cluster (optional with `embedded:RUN_DIR`).
    #[arg(long, requires = "cluster")]
    pub run: Option<String>,
    /// The registry program id (optional with `embedded:RUN_DIR`).
    #[arg(long, requires = "cluster")]
    pub program_id: Option<String>,
    /// Challenge seed, 64 hex digits: which transcript records are re-evaluated. Default: the
    /// cluster's latest blockhash (which the coordinator could not know when it published), or
    /// a fresh random seed without a cluster. Printed either way, so a check can be repeated.
    #[arg(long)]
    pub seed: Option<Seed>,
    /// Transcript records (coalitions or path points) to re-evaluate per round; every record
    /// when a round has fewer.
    #[arg(long, default_value_t = 8)]
    pub records: usize,
    /// Largest allowed difference between a re-evaluated utility and the transcript's, in
    /// nats. On the machine that ran the round the eval is bit-reproducible (0 passes); across
    /// machines, float reduction orders differ (docs/ATTRIBUTION.md).
    #[arg(long, default_value_t = 1e-5)]
    pub tolerance: f64,
    /// Print what each check established, not only its name.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    if let Some(report) = &args.report {
        return replay(report);
    }
    let Some(from) = &args.from else {
        bail!("say what to verify: a REPORT.json, or --from RUN_DIR with --all or --round N");
    };
    if !args.all && args.round.is_none() {
        bail!("say which rounds: --all or --round N");
    }
    if !from.join("journal.jsonl").is_file() {
        bail!(
            "--from {}: not a run directory (no journal.jsonl)",
            from.display()
        );
    }
    let dir = RunDir::at(from);
    let (records, view, chain_seed) = match &args.cluster {
        Some(cluster) => on_chain(args, cluster, &dir)?,
        None => (verify_records::from_journal(&dir)?, None, None),
    };
    let seed = match (args.seed, chain_seed) {
        (Some(s), _) => s,
        (None, Some(s)) => s,
        (None, None) => Seed(rand::random()),
    };
    let challenge = Challenge {
        seed,
        records: args.records,
        tolerance: args.tolerance,
    };
    let upto = args.round.unwrap_or(u64::MAX);
    if let Some(n) = args.round {
        if !records.rounds.iter().any(|r| r.round == n) {
            bail!("round {n} was not committed (or not recorded on the cluster)");
        }
    }
    let ok = review(
        from,
        &records,
        view.as_ref(),
        upto,
        &challenge,
        args.verbose,
    )?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Re-derives the rounds up to `upto` in `records` from the files under `from`, then (given
/// the chain's `view`) checks every trainer's on-chain earnings; prints a line per check and
/// returns false at the first discrepancy.
pub fn review(
    from: &Path,
    records: &Records,
    view: Option<&RunView>,
    upto: u64,
    challenge: &Challenge,
    verbose: bool,
) -> Result<bool> {
    for line in &records.provenance {
        println!("records: {line}");
    }
    println!("challenge seed: {}", challenge.seed);
    let rounds: Vec<&ChainRound> = records.rounds.iter().filter(|r| r.round <= upto).collect();
    let (ok, outcomes) = rederive(records, &rounds, from, challenge, verbose)?;
    let ok = ok
        && match view {
            Some(view) => check_earnings(view, &RunDir::at(from), records)?,
            None => true,
        };
    record(from, challenge, view.is_some(), &outcomes);
    Ok(ok)
}

/// One round's result, as `verification.json` lists it (the report and dashboard show it).
#[derive(serde::Serialize)]
struct Outcome {
    round: u64,
    status: &'static str,
    detail: String,
}

/// Writes `RUN_DIR/verification.json` (best effort: a reviewer's copy may be read-only).
fn record(from: &Path, challenge: &Challenge, on_chain: bool, outcomes: &[Outcome]) {
    let doc = serde_json::json!({
        "format": "coalition-verification/v1",
        "at_unix": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        "against": if on_chain { "chain" } else { "run directory" },
        "seed": challenge.seed.to_string(),
        "records": challenge.records,
        "tolerance": challenge.tolerance,
        "rounds": outcomes,
    });
    let path = from.join("verification.json");
    let tmp = from.join("verification.json.tmp");
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    let written = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        println!("(not recorded in {}: {e})", path.display());
    }
}

fn replay(path: &Path) -> Result<ExitCode> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read report {}", path.display()))?;
    let report = Report::from_json(&text)
        .with_context(|| format!("{} is not a round report", path.display()))?;
    let outcome = verify_report(&report);
    println!("{outcome}");
    Ok(if outcome.is_match() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads the run on `cluster`; the records, the view, and the cluster's latest blockhash as a
/// challenge seed.
fn on_chain(
    args: &Args,
    cluster: &str,
    dir: &RunDir,
) -> Result<(Records, Option<RunView>, Option<Seed>)> {
    let target = Target {
        cluster: cluster.to_string(),
        run: args.run.clone(),
        program_id: args.program_id.clone(),
    };
    let resolved = target.resolve()?;
    let connection = resolved.connect()?;
    let view = read_view(&connection.chain, &resolved.run)
        .with_context(|| format!("cannot read run {} on {}", resolved.run, resolved.cluster))?;
    let blockhash = connection
        .chain
        .latest_blockhash()
        .with_context(|| format!("cannot read the latest blockhash of {}", resolved.cluster))?;
    let records = verify_records::from_chain(&view, dir)?;
    Ok((records, Some(view), Some(Seed(blockhash))))
}

/// Re-derives `rounds` in order, printing a line per check; false at the first discrepancy.
/// Also returns each round's outcome.
fn rederive(
    records: &Records,
    rounds: &[&ChainRound],
    from: &Path,
    challenge: &Challenge,
    verbose: bool,
) -> Result<(bool, Vec<Outcome>)> {
    let mut outcomes = Vec::new();
    let device = candle_core::Device::Cpu;
    let mut artifacts = DirArtifacts::new(from);
    let mut history = History::default();
    let start = Instant::now();
    let (mut reevaluated, mut max_difference) = (0usize, 0f64);
    for chain in rounds {
        match rederive_round(
            &records.run,
            chain,
            &history,
            &mut artifacts,
            challenge,
            &device,
        ) {
            Ok(check) => {
                print_round(&check, verbose);
                outcomes.push(Outcome {
                    round: check.round,
                    status: "verified",
                    detail: format!(
                        "{} checks passed; {} coalition utilities re-evaluated",
                        check.passed.len(),
                        check.reevaluated
                    ),
                });
                reevaluated += check.reevaluated;
                max_difference = max_difference.max(check.max_difference);
                history.absorb(
                    &check.manifest,
                    &check.reveal,
                    &check.content,
                    check.replay_window,
                );
            }
            Err(discrepancy) => {
                println!("FAILED {discrepancy}");
                outcomes.push(Outcome {
                    round: discrepancy.round,
                    status: "failed",
                    detail: format!("{}: {}", discrepancy.check, discrepancy.detail),
                });
                return Ok((false, outcomes));
            }
        }
    }
    println!(
        "verified {} round(s): {reevaluated} coalition utilities re-evaluated in {:.1} s, \
         largest difference {max_difference:.3e} nats (tolerance {:.1e})",
        rounds.len(),
        start.elapsed().as_secs_f64(),
        challenge.tolerance
    );
    Ok((true, outcomes))
}

fn print_round(check: &RoundCheck, verbose: bool) {
    if verbose {
        for p in &check.passed {
            println!("round {:>3}  ok  {:<11} {}", check.round, p.check, p.detail);
        }
    }
    let names: Vec<&str> = check.passed.iter().map(|p| p.check).collect();
    println!(
        "round {:>3}  ok  {} ({} re-evaluated, {:.1} s)",
        check.round,
        names.join(", "),
        check.reevaluated,
        check.seconds
    );
}

/// Every trainer's on-chain earnings equal the sum of its payouts in the reports of the
/// recorded rounds.
fn check_earnings(view: &RunView, dir: &RunDir, records: &Records) -> Result<bool> {
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for r in &records.rounds {
        let path = dir.report_path(r.round);
        let report = coalition_coordinator::read_report(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for p in &report.players {
            *expected.entry(p.id.clone()).or_default() += p.payout;
        }
    }
    let mut on_chain: BTreeMap<String, u64> = view
        .trainers
        .iter()
        .map(|(k, c)| (k.to_string(), c.earned()))
        .collect();
    for (id, want) in &expected {
        let got = on_chain.remove(id).unwrap_or(0);
        if got != *want {
            println!("FAILED earnings: trainer {id} has {got} on chain, the reports pay it {want}");
            return Ok(false);
        }
    }
    if let Some((id, got)) = on_chain.into_iter().find(|(_, got)| *got > 0) {
        println!("FAILED earnings: trainer {id} has {got} on chain and no payout in any report");
        return Ok(false);
    }
    println!(
        "earnings   ok  {} trainers' on-chain earnings equal their report payouts",
        expected.len()
    );
    Ok(true)
}
