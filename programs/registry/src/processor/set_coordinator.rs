//! set_coordinator: the authority writes the coordinator's libp2p peer id and multiaddrs into
//! the Run, so volunteers can join knowing only the run's address.

use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};

use super::{require_authority, require_owned};
use crate::{
    instruction::{Payload, SetCoordinatorArgs},
    state::{Layout, Run},
};

pub fn process(
    program_id: &Address,
    accounts: &mut [AccountView],
    payload: &[u8],
) -> ProgramResult {
    let [authority, run, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    let args = SetCoordinatorArgs::from_bytes(payload)?;
    require_owned(run, program_id)?;
    let mut data = run.try_borrow_mut()?;
    let state = Run::load_mut(&mut data)?;
    require_authority(state, authority)?;
    let (peer_id, multiaddrs) = args.parts()?;
    state.set_coordinator(peer_id, multiaddrs)?;
    Ok(())
}
