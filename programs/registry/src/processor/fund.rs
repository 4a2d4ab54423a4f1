//! fund: anyone moves reward tokens into a run's vault (SPL token transfer, funder signing).

use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};
use pinocchio_token::instructions::Transfer;

use super::{require_owned, require_program, require_signer};
use crate::{
    error::RegistryError,
    instruction::{FundArgs, Payload},
    state::{Layout, Run},
};

pub fn process(
    program_id: &Address,
    accounts: &mut [AccountView],
    payload: &[u8],
) -> ProgramResult {
    let [funder, source, run, vault, token_program, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    let args = FundArgs::from_bytes(payload)?;
    require_signer(funder)?;
    require_program(token_program, &pinocchio_token::ID)?;
    require_owned(run, program_id)?;
    {
        let data = run.try_borrow()?;
        let state = Run::load(&data)?;
        if &state.vault != vault.address().as_array() {
            return Err(RegistryError::WrongVault.into());
        }
    }
    Transfer::new(source, vault, funder, u64::from_le_bytes(args.amount)).invoke()
}
