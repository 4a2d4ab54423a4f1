//! `coalition report RUN_DIR [-o FILE.html]`: one self-contained HTML page of a run (plots of
//! eval loss, Shapley scores, cumulative earnings, bytes and round timings; every update with
//! its outcome; on-chain addresses), or `--serve ADDR` for the live dashboard of a run
//! directory on this machine.

use anyhow::{Context, Result};
use coalition_observe::{report_html, ServeOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The run directory, e.g. runs/demo.
    run_dir: PathBuf,
    /// Where to write the page (default: RUN_DIR/report.html).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Draw this single-process baseline beside the run's eval loss: the output of
    /// `coalition train-local --json` on the same config (default: RUN_DIR/baseline.json when
    /// it exists).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Instead of writing a file, serve the live dashboard of RUN_DIR (and /api/run,
    /// /api/rounds, /metrics) on this address until interrupted, e.g. 127.0.0.1:9300.
    #[arg(long, conflicts_with = "output")]
    serve: Option<SocketAddr>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    if let Some(addr) = args.serve {
        let opts = ServeOptions {
            baseline: args.baseline.clone(),
            ..ServeOptions::run(addr, &args.run_dir)
        };
        let dashboard = coalition_observe::start(opts)?;
        println!(
            "dashboard of {} at {} (Ctrl-C to stop)",
            args.run_dir.display(),
            dashboard.url()
        );
        loop {
            std::thread::park();
        }
    }
    let (html, view) = report_html(&args.run_dir, args.baseline.as_deref())?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| args.run_dir.join("report.html"));
    std::fs::write(&out, html).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} ({} rounds committed, {} trainers, {} tokens paid)",
        out.display(),
        view.rounds_committed,
        view.trainers.len(),
        view.total_paid()
    );
    for w in &view.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
