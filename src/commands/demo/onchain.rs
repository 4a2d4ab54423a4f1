//! The demo's last act: the run as recorded in the embedded validator, every round checked
//! against its report, the first honest trainer claims its tokens twice (the second claim
//! finds nothing), and a reviewer re-derives every round from the run's files against the
//! chain (as `coalition verify --all` does).

use anyhow::{bail, Context, Result};
use coalition_attribution::Seed;
use coalition_coordinator::rederive::Challenge;
use coalition_coordinator::RunDir;
use coalition_ledger::{
    claim::claim,
    connect::{Connection, Genesis},
    inspect::{check_reports, read_view, summarize},
    keys::load_keypair,
    pubkey_from_base58, Cluster, RunAccounts,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::tables::{self, Names};

/// Prints the on-chain record (as `coalition inspect` does, with the trainers' names) and the
/// claims of `claimer` (the first wallet).
pub fn show(run_dir: &Path, names: &Names, wallets: &[PathBuf], claimer: &str) -> Result<()> {
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
    let summary = summarize(&view, Some(&checks));
    print!(
        "{}",
        tables::indent(&tables::inspect(&summary, names), "  ")
    );
    if let Some(wallet) = wallets.first() {
        let trainer = load_keypair(wallet)?;
        let authority = load_keypair(&run_dir.join("authority.json"))?;
        for attempt in ["first", "second"] {
            let out = claim(&conn.chain, &trainer, Some(&authority), &info.run()?)?;
            println!(
                "  {attempt} claim by {claimer}: moved {} tokens (earned {}); its token account holds {}",
                out.amount, out.earned, out.balance_after
            );
        }
    }
    println!(
        "  ({:.1} s with the validator restarted on the run's ledger)",
        started.elapsed().as_secs_f64()
    );
    review(run_dir, &conn, &view)?;
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
    println!(
        "         coalition verify --from {0} --all --cluster embedded:{0}",
        run_dir.display()
    );
    Ok(())
}

/// A reviewer's re-derivation of every round, challenged with the chain's latest blockhash.
fn review(
    run_dir: &Path,
    conn: &Connection,
    view: &coalition_ledger::inspect::RunView,
) -> Result<()> {
    println!();
    println!("a reviewer re-derives every round from the run's files (coalition verify --all):");
    let records = crate::commands::verify_records::from_chain(view, &RunDir::at(run_dir))?;
    let challenge = Challenge {
        seed: Seed(conn.chain.latest_blockhash()?),
        records: 8,
        tolerance: 1e-5,
    };
    let ok = crate::commands::verify::review(
        run_dir,
        &records,
        Some(view),
        u64::MAX,
        &challenge,
        false,
    )?;
    if !ok {
        bail!("the re-derivation found a discrepancy (above)");
    }
    Ok(())
}
