//! record_contributions: the authority credits a batch of trainers for the open round. Each
//! entry names the trainer, its score and payout; the matching Contribution PDA is passed in the
//! same position and created on first credit. A trainer already credited for this round is an
//! error (the whole batch fails), so a retried batch never pays twice.

use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

use super::{create_pda, require_authority, require_owned, require_program, Pda};
use crate::{
    error::RegistryError,
    instruction::contribution_entries,
    pda,
    state::{Contribution, Layout, Round, Run},
};

pub fn process(
    program_id: &Address,
    accounts: &mut [AccountView],
    payload: &[u8],
) -> ProgramResult {
    let [authority, run, round, system_program, contributions @ ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    let (args, entries) = contribution_entries(payload)?;
    if contributions.len() != entries.len() {
        return Err(RegistryError::AccountCountMismatch.into());
    }
    require_program(system_program, &pinocchio_system::ID)?;
    require_owned(run, program_id)?;
    require_owned(round, program_id)?;
    {
        let data = run.try_borrow()?;
        require_authority(Run::load(&data)?, authority)?;
    }
    let run_key = run.address().to_bytes();
    let round_index = {
        let data = round.try_borrow()?;
        let state = Round::load(&data)?;
        if state.run != run_key {
            return Err(RegistryError::WrongRun.into());
        }
        state.index()
    };
    if round_index != u64::from_le_bytes(args.round_index) {
        return Err(RegistryError::RoundOutOfOrder.into());
    }

    let mut round_data = round.try_borrow_mut()?;
    let round_state = Round::load_mut(&mut round_data)?;
    for (entry, contribution) in entries.iter().zip(contributions.iter_mut()) {
        round_state.record_entry(entry.payout())?;

        if contribution.owned_by(program_id) {
            let mut data = contribution.try_borrow_mut()?;
            let state = Contribution::load_mut(&mut data)?;
            if state.run != run_key || state.trainer != entry.trainer {
                return Err(RegistryError::WrongRun.into());
            }
            state.credit(round_index, entry.score(), entry.payout())?;
        } else {
            let seeds = pda::contribution_seeds(&run_key, &entry.trainer);
            let (expected, bump) = pda::find(&seeds, program_id).ok_or(RegistryError::WrongPda)?;
            if contribution.address() != &expected {
                return Err(RegistryError::WrongPda.into());
            }
            create_pda(
                contribution,
                authority,
                program_id,
                &Pda {
                    seeds,
                    bump,
                    space: Contribution::LEN,
                },
            )?;
            let mut data = contribution.try_borrow_mut()?;
            let state = Contribution::init(&mut data)?;
            state.bump = bump;
            state.run = run_key;
            state.trainer = entry.trainer;
            state.credit(round_index, entry.score(), entry.payout())?;
        }
    }
    Ok(())
}
