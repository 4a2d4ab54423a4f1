//! The demo's last act: the run as recorded in the embedded validator, every round checked
//! against its report, then the first honest trainer claims its tokens twice (the second claim
//! finds nothing).

use anyhow::{Context, Result};
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
