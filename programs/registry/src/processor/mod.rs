//! Instruction processing: dispatch by tag, one file per instruction, shared account checks here.

mod claim;
mod close_round;
mod create_run;
mod fund;
mod record_contributions;
mod record_round;
mod set_coordinator;

use pinocchio::{
    cpi::{Seed, Signer},
    error::ProgramError,
    AccountView, Address, ProgramResult,
};

use crate::{
    error::RegistryError,
    instruction::{split, Tag},
    state::Run,
};

/// The program's instruction handler (the entrypoint calls this).
pub fn process_instruction(
    program_id: &Address,
    accounts: &mut [AccountView],
    instruction_data: &[u8],
) -> ProgramResult {
    let (tag, payload) = split(instruction_data)?;
    match tag {
        Tag::CreateRun => create_run::process(program_id, accounts, payload),
        Tag::Fund => fund::process(program_id, accounts, payload),
        Tag::RecordRound => record_round::process(program_id, accounts, payload),
        Tag::RecordContributions => record_contributions::process(program_id, accounts, payload),
        Tag::CloseRound => close_round::process(program_id, accounts, payload),
        Tag::Claim => claim::process(program_id, accounts, payload),
        Tag::SetCoordinator => set_coordinator::process(program_id, accounts, payload),
    }
}

/// Refuses unless `account` signed the transaction.
#[inline]
fn require_signer(account: &AccountView) -> ProgramResult {
    if account.is_signer() {
        Ok(())
    } else {
        Err(ProgramError::MissingRequiredSignature)
    }
}

/// Refuses unless `account` is owned by this program (it was created by it, at its PDA).
#[inline]
fn require_owned(account: &AccountView, program_id: &Address) -> ProgramResult {
    if account.owned_by(program_id) {
        Ok(())
    } else {
        Err(RegistryError::InvalidAccount.into())
    }
}

/// Refuses unless `signer` signed and is the run's authority.
#[inline]
fn require_authority(run: &Run, signer: &AccountView) -> ProgramResult {
    require_signer(signer)?;
    if &run.authority == signer.address().as_array() {
        Ok(())
    } else {
        Err(RegistryError::NotAuthority.into())
    }
}

/// Refuses unless `account` is the program `id`.
#[inline]
fn require_program(account: &AccountView, id: &Address) -> ProgramResult {
    if account.address() == id {
        Ok(())
    } else {
        Err(RegistryError::WrongProgram.into())
    }
}

/// A program-derived account to create: seeds, canonical bump and size.
struct Pda<'a> {
    seeds: [&'a [u8]; 3],
    bump: u8,
    space: usize,
}

/// Creates the program-owned PDA `account` of `space` bytes, rent paid by `payer`.
/// Works even if someone pre-funded the address.
///
/// (BPF passes at most five arguments in registers and has no stack arguments, and a returned
/// `ProgramResult` takes one of them: keep non-inlined functions to four parameters.)
fn create_pda(
    account: &mut AccountView,
    payer: &AccountView,
    program_id: &Address,
    pda: &Pda,
) -> ProgramResult {
    let Pda { seeds, bump, space } = *pda;
    if account.owned_by(program_id) || !account.is_data_empty() {
        return Err(RegistryError::AlreadyInitialized.into());
    }
    let bump = [bump];
    let signer_seeds = [
        Seed::from(seeds[0]),
        Seed::from(seeds[1]),
        Seed::from(seeds[2]),
        Seed::from(&bump),
    ];
    let signer = Signer::from(&signer_seeds);
    pinocchio_system::create_account_with_minimum_balance_signed(
        account,
        space,
        program_id,
        payer,
        None,
        &[signer],
    )
}
