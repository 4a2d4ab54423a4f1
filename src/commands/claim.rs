//! `coalition claim`: a volunteer claims the reward tokens its work earned in a run.

use anyhow::Result;
use coalition_ledger::{claim::claim, connect::embedded_authority_path, keys::load_keypair};
use std::path::PathBuf;
use std::process::ExitCode;

use super::ledger_args::Target;

#[derive(clap::Args)]
pub struct Args {
    /// The trainer's wallet (solana-cli JSON keypair) that joined the run.
    #[arg(long)]
    wallet: PathBuf,
    #[command(flatten)]
    target: Target,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let target = args.target.resolve()?;
    let trainer = load_keypair(&args.wallet)?;
    // On the embedded ledger the run authority (the ledger's genesis mint) pays the fee, since
    // a local wallet holds no SOL there. On real clusters the trainer pays.
    let fee_payer = match &target.run_dir {
        Some(d) if embedded_authority_path(d).exists() => {
            Some(load_keypair(&embedded_authority_path(d))?)
        }
        _ => None,
    };
    let conn = target.connect()?;
    let out = claim(&conn.chain, &trainer, fee_payer.as_ref(), &target.run)?;
    if out.amount == 0 {
        println!(
            "nothing to claim for {}: earned {}, already claimed {}",
            out.trainer, out.earned, out.claimed_before
        );
    } else {
        println!(
            "claimed {} tokens for {} into {} (balance now {})",
            out.amount, out.trainer, out.destination, out.balance_after
        );
        if let Some(sent) = &out.sent {
            match &sent.link {
                Some(link) => println!("  transaction {}: {link}", sent.signature),
                None => println!("  transaction {}", sent.signature),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
