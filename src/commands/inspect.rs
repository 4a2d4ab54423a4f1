//! `coalition inspect`: a run's on-chain record for reviewers, checked against local reports.

use anyhow::Result;
use coalition_ledger::inspect::{check_reports, read_view, render, RootCheck};
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
    println!("cluster {} (program {})", target.cluster, target.program_id);
    print!("{}", render(&view, checks.as_deref()));
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
