//! `coalition inspect`: a run's on-chain record for reviewers, checked against local reports;
//! tables by default, `--json` for scripts.

use anyhow::Result;
use coalition_ledger::inspect::{check_reports, read_view, summarize, RootCheck};
use std::path::PathBuf;
use std::process::ExitCode;

use super::ledger_args::Target;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    target: Target,
    /// Check each recorded round's model hash, roots, payout total and trainer count against
    /// the reports in this directory (round-N.json). Default with `embedded:RUN_DIR`:
    /// RUN_DIR/reports.
    #[arg(long)]
    reports: Option<PathBuf>,
    /// Print the record as one JSON object (the run's accounts, rounds with their report
    /// checks, trainers) instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let target = args.target.resolve()?;
    let conn = target.connect()?;
    let view = read_view(&conn.chain, &target.run)?;
    let reports = args
        .reports
        .clone()
        .or_else(|| target.run_dir.as_ref().map(|d| d.join("reports")))
        .filter(|d| d.is_dir());
    let checks = reports.as_ref().map(|d| check_reports(&view, d));
    let summary = summarize(&view, checks.as_deref());
    if args.json {
        let mut value = serde_json::to_value(&summary)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("cluster".into(), target.cluster.to_string().into());
            obj.insert("program_id".into(), target.program_id.to_string().into());
        }
        println!("{value}");
    } else {
        println!("cluster {} (program {})", target.cluster, target.program_id);
        print!("{}", crate::tables::inspect(&summary, &Default::default()));
    }
    let bad = checks
        .iter()
        .flatten()
        .any(|(_, c)| matches!(c, RootCheck::Differs(_) | RootCheck::Unreadable(_)));
    Ok(if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
