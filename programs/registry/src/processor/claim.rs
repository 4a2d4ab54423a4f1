//! claim: a trainer takes everything it earned and has not claimed, from the vault to its token
//! account, by an SPL token transfer the Run PDA signs. Refused while a round is open, so what
//! is claimable is exactly the trainer's share of closed rounds.

use pinocchio::{
    cpi::{Seed, Signer},
    error::ProgramError,
    AccountView, Address, ProgramResult,
};
use pinocchio_token::instructions::Transfer;

use super::{require_owned, require_program, require_signer};
use crate::{
    error::RegistryError,
    pda,
    state::{Contribution, Layout, Run},
};

pub fn process(
    program_id: &Address,
    accounts: &mut [AccountView],
    payload: &[u8],
) -> ProgramResult {
    let [trainer, run, contribution, vault, destination, token_program, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    if !payload.is_empty() {
        return Err(RegistryError::InvalidInstruction.into());
    }
    require_signer(trainer)?;
    require_program(token_program, &pinocchio_token::ID)?;
    require_owned(run, program_id)?;
    require_owned(contribution, program_id)?;
    let run_key = run.address().to_bytes();

    let (authority, run_id, bump, amount) = {
        let mut run_data = run.try_borrow_mut()?;
        let run_state = Run::load_mut(&mut run_data)?;
        if run_state.is_round_open() {
            return Err(RegistryError::RoundStillOpen.into());
        }
        if &run_state.vault != vault.address().as_array() {
            return Err(RegistryError::WrongVault.into());
        }
        let mut data = contribution.try_borrow_mut()?;
        let state = Contribution::load_mut(&mut data)?;
        if state.run != run_key {
            return Err(RegistryError::WrongRun.into());
        }
        if &state.trainer != trainer.address().as_array() {
            return Err(RegistryError::NotTrainer.into());
        }
        let amount = state.take_claimable()?;
        run_state.add_claimed(amount)?;
        (
            run_state.authority,
            run_state.run_id,
            run_state.bump,
            amount,
        )
    };

    let seeds = pda::run_seeds(&authority, &run_id);
    let bump = [bump];
    let signer_seeds = [
        Seed::from(seeds[0]),
        Seed::from(seeds[1]),
        Seed::from(seeds[2]),
        Seed::from(&bump),
    ];
    Transfer::new(vault, destination, run, amount).invoke_signed(&[Signer::from(&signer_seeds)])
}
