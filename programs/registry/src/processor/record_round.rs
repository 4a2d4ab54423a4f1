//! record_round: the authority records a round header (hashes, roots, losses, declared payout
//! total and trainer count) into a new Round PDA and opens the round.

use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

use super::{create_pda, require_authority, require_owned, require_program, Pda};
use crate::{
    error::RegistryError,
    instruction::{Payload, RecordRoundArgs},
    pda,
    state::{Layout, Round, Run},
};

pub fn process(
    program_id: &Address,
    accounts: &mut [AccountView],
    payload: &[u8],
) -> ProgramResult {
    let [authority, run, round, system_program, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    let args = RecordRoundArgs::from_bytes(payload)?;
    require_program(system_program, &pinocchio_system::ID)?;
    require_owned(run, program_id)?;
    let index = u64::from_le_bytes(args.index);
    {
        let mut data = run.try_borrow_mut()?;
        let state = Run::load_mut(&mut data)?;
        require_authority(state, authority)?;
        if u64::from_le_bytes(args.total_payout) > state.reward_per_round() {
            return Err(RegistryError::PayoutExceedsReward.into());
        }
        state.open_next_round(index)?;
    }

    let run_key = run.address().to_bytes();
    let seeds = pda::round_seeds(&run_key, &args.index);
    let (expected, bump) = pda::find(&seeds, program_id).ok_or(RegistryError::WrongPda)?;
    if round.address() != &expected {
        return Err(RegistryError::WrongPda.into());
    }
    create_pda(
        round,
        authority,
        program_id,
        &Pda {
            seeds,
            bump,
            space: Round::LEN,
        },
    )?;
    let mut data = round.try_borrow_mut()?;
    let state = Round::init(&mut data)?;
    state.bump = bump;
    state.trainer_count = args.trainer_count;
    state.run = run_key;
    state.index = args.index;
    state.model_hash = args.model_hash;
    state.updates_root = args.updates_root;
    state.scores_root = args.scores_root;
    state.transcript_root = args.transcript_root;
    state.eval_loss_before = args.eval_loss_before;
    state.eval_loss_after = args.eval_loss_after;
    state.total_payout = args.total_payout;
    Ok(())
}
