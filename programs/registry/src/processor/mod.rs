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
use pinocchio_system::instructions::{Allocate, Assign, CreateAccount, Transfer};

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
    let signers = [Signer::from(&signer_seeds)];
    let lamports = rent_exempt_minimum(space)?;
    if account.lamports() == 0 {
        return CreateAccount {
            from: payer,
            to: account,
            lamports,
            space: space as u64,
            owner: program_id,
        }
        .invoke_signed(&signers);
    }
    // Someone pre-funded the address: top it up, then allocate and assign.
    let required = lamports.saturating_sub(account.lamports());
    if required > 0 {
        Transfer {
            from: payer,
            to: account,
            lamports: required,
        }
        .invoke_signed(&signers)?;
    }
    Allocate {
        account,
        space: space as u64,
    }
    .invoke_signed(&signers)?;
    Assign {
        account,
        owner: program_id,
    }
    .invoke_signed(&signers)
}

/// The rent-exempt minimum balance of an account of `space` bytes, from the Rent sysvar
/// (`lamports_per_byte_year` and `exemption_threshold`, read with `sol_get_sysvar`).
///
/// Not `pinocchio::sysvars::rent::Rent::get()`: in pinocchio 0.11 its `sol_get_sysvar` call is
/// compiled only for `target_os = "solana"`, so in this `bpfel-unknown-none` build it always
/// failed with `UnsupportedSysvar` (found by the SVM tests). The exemption threshold is
/// matched by its bits (1.0 or 2.0) to stay clear of floating point on BPF.
fn rent_exempt_minimum(space: usize) -> Result<u64, ProgramError> {
    const ACCOUNT_STORAGE_OVERHEAD: u64 = 128;
    let mut rent = [0u8; 16];
    #[cfg(any(target_os = "solana", target_arch = "bpf"))]
    {
        // SAFETY: `rent` is 16 writable bytes; the id is 32 readable bytes.
        let rc = unsafe {
            pinocchio::syscalls::sol_get_sysvar(
                pinocchio::sysvars::rent::RENT_ID.as_ref().as_ptr(),
                rent.as_mut_ptr(),
                0,
                16,
            )
        };
        if rc != 0 {
            return Err(ProgramError::UnsupportedSysvar);
        }
    }
    #[cfg(not(any(target_os = "solana", target_arch = "bpf")))]
    {
        // Host builds never run the processor against a runtime; use the default rent.
        rent[..8].copy_from_slice(&3480u64.to_le_bytes());
        rent[8..].copy_from_slice(&2.0f64.to_bits().to_le_bytes());
    }
    let per_byte_year = u64::from_le_bytes([
        rent[0], rent[1], rent[2], rent[3], rent[4], rent[5], rent[6], rent[7],
    ]);
    let threshold_bits = u64::from_le_bytes([
        rent[8], rent[9], rent[10], rent[11], rent[12], rent[13], rent[14], rent[15],
    ]);
    let years = if threshold_bits == 0x4000_0000_0000_0000 {
        2 // 2.0
    } else if threshold_bits == 0x3FF0_0000_0000_0000 {
        1 // 1.0
    } else {
        return Err(ProgramError::UnsupportedSysvar);
    };
    let bytes = ACCOUNT_STORAGE_OVERHEAD
        .checked_add(space as u64)
        .ok_or(RegistryError::Overflow)?;
    crate::math::mul_u64(bytes, per_byte_year)
        .and_then(|x| crate::math::mul_u64(x, years))
        .ok_or_else(|| RegistryError::Overflow.into())
}
