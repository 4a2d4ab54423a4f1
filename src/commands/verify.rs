//! `coalition verify REPORT.json`: recompute a round's scores from its transcript.

use anyhow::{Context, Result};
use coalition_attribution::{verify_report, Report};
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path) -> Result<ExitCode> {
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
