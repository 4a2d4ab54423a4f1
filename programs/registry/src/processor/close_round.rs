//! close_round: the authority closes the open round once every declared trainer is recorded and
//! the entries sum exactly to the declared total (itself within the reward per round).

use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

use super::{require_authority, require_owned};
use crate::{
    error::RegistryError,
    instruction::{CloseRoundArgs, Payload},
    state::{Layout, Round, Run},
};

pub fn process(
    program_id: &Address,
    accounts: &mut [AccountView],
    payload: &[u8],
) -> ProgramResult {
    let [authority, run, round, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    let args = CloseRoundArgs::from_bytes(payload)?;
    require_owned(run, program_id)?;
    require_owned(round, program_id)?;
    let run_key = run.address().to_bytes();
    let mut run_data = run.try_borrow_mut()?;
    let run_state = Run::load_mut(&mut run_data)?;
    require_authority(run_state, authority)?;

    let mut round_data = round.try_borrow_mut()?;
    let round_state = Round::load_mut(&mut round_data)?;
    if round_state.run != run_key {
        return Err(RegistryError::WrongRun.into());
    }
    if round_state.index != args.round_index {
        return Err(RegistryError::RoundOutOfOrder.into());
    }
    round_state.close(run_state.reward_per_round())?;
    run_state.close_round(round_state.total_payout())?;
    Ok(())
}
