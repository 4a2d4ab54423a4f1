//! create_run: the authority creates the Run PDA, naming the reward mint and the vault.

use pinocchio::{error::ProgramError, AccountView, Address, ProgramResult};
use pinocchio_token::state::{Account as TokenAccount, Mint};

use super::{create_pda, require_program, require_signer, Pda};
use crate::{
    error::RegistryError,
    instruction::{CreateRunArgs, Payload},
    pda,
    state::{Layout, Run},
};

pub fn process(
    program_id: &Address,
    accounts: &mut [AccountView],
    payload: &[u8],
) -> ProgramResult {
    let [authority, run, mint, vault, system_program, ..] = accounts else {
        return Err(ProgramError::NotEnoughAccountKeys);
    };
    let args = CreateRunArgs::from_bytes(payload)?;
    require_signer(authority)?;
    require_program(system_program, &pinocchio_system::ID)?;

    let seeds = pda::run_seeds(authority.address().as_array(), &args.run_id);
    let (expected, bump) = pda::find(&seeds, program_id).ok_or(RegistryError::WrongPda)?;
    if run.address() != &expected {
        return Err(RegistryError::WrongPda.into());
    }
    if Mint::from_account_view(mint).is_err() {
        return Err(RegistryError::WrongMint.into());
    }
    {
        let vault_state =
            TokenAccount::from_account_view(vault).map_err(|_| RegistryError::WrongVault)?;
        if vault_state.mint() != mint.address()
            || vault_state.owner() != run.address()
            || !vault_state.is_initialized()
            || vault_state.has_delegate()
            || vault_state.has_close_authority()
        {
            return Err(RegistryError::WrongVault.into());
        }
    }

    create_pda(
        run,
        authority,
        program_id,
        &Pda {
            seeds,
            bump,
            space: Run::LEN,
        },
    )?;
    let mut data = run.try_borrow_mut()?;
    let state = Run::init(&mut data)?;
    state.bump = bump;
    state.run_id = args.run_id;
    state.authority = authority.address().to_bytes();
    state.reward_mint = mint.address().to_bytes();
    state.vault = vault.address().to_bytes();
    state.config_hash = args.config_hash;
    state.dataset_hash = args.dataset_hash;
    state.reward_per_round = args.reward_per_round;
    Ok(())
}
