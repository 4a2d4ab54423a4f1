//! A trainer's claim: everything it earned and has not claimed moves from the run's vault to
//! its token account of the reward mint (created if missing), in one transaction the trainer
//! signs. A second claim finds nothing claimable and sends nothing (the program would refuse
//! it with NothingToClaim).

use coalition_registry::client::{self, spl};
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use crate::chain::{Chain, Sent};
use crate::error::{LedgerError, Result};
use crate::setup::read_run;

/// What a claim did.
#[derive(Debug, Clone)]
pub struct ClaimOutcome {
    pub trainer: Pubkey,
    /// Tokens moved (0: nothing was claimable, nothing sent).
    pub amount: u64,
    pub earned: u64,
    pub claimed_before: u64,
    /// The trainer's token account of the reward mint and its balance afterwards.
    pub destination: Pubkey,
    pub balance_after: u64,
    pub sent: Option<Sent>,
}

/// Claims `trainer`'s rewards from `run`. `fee_payer` pays fees and the token account's rent
/// (the trainer itself if `None`).
pub fn claim(
    chain: &Chain,
    trainer: &Keypair,
    fee_payer: Option<&Keypair>,
    run: &Pubkey,
) -> Result<ClaimOutcome> {
    let program = chain.program_id();
    let state = read_run(chain, run)?.ok_or_else(|| LedgerError::Account {
        address: run.to_string(),
        message: format!("no run here on {}", chain.cluster()),
    })?;
    let me = trainer.pubkey();
    let contribution = client::contribution_address(&program, run, &me)
        .map_err(|e| LedgerError::Invalid(e.message().into()))?;
    let (data, _) = chain
        .account(&contribution)?
        .ok_or_else(|| LedgerError::Account {
            address: contribution.to_string(),
            message: format!("wallet {me} has no contributions in run {run}"),
        })?;
    let c = client::decode_contribution(&data).map_err(|e| LedgerError::Account {
        address: contribution.to_string(),
        message: e.message().into(),
    })?;
    let mint = Pubkey::new_from_array(state.reward_mint);
    let vault = Pubkey::new_from_array(state.vault);
    let payer = fee_payer.unwrap_or(trainer);
    let (ata_ix, destination) = spl::create_ata_idempotent(&payer.pubkey(), &me, &mint)
        .ok_or_else(|| LedgerError::Invalid("no token account address".into()))?;
    let mut out = ClaimOutcome {
        trainer: me,
        amount: c.claimable(),
        earned: c.earned(),
        claimed_before: c.claimed(),
        destination,
        balance_after: chain.token_amount(&destination)?.unwrap_or(0),
        sent: None,
    };
    if out.amount == 0 {
        return Ok(out);
    }
    if chain.lamports(&payer.pubkey())? == 0 {
        return Err(LedgerError::Account {
            address: payer.pubkey().to_string(),
            message: format!(
                "no SOL on {} to pay the claim's fee and token account rent",
                chain.cluster()
            ),
        });
    }
    let ix = client::claim(&program, &me, run, &vault, &destination)
        .map_err(|e| LedgerError::Invalid(e.message().into()))?;
    let sent = chain.send(
        &format!("claim {} tokens for {me}", out.amount),
        vec![ata_ix, ix],
        payer,
        &[trainer],
    )?;
    out.sent = Some(sent);
    out.balance_after = chain.token_amount(&destination)?.unwrap_or(0);
    Ok(out)
}
