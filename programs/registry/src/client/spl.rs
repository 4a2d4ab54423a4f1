//! The few system, SPL token and associated-token-account instructions a run needs around the
//! registry (create a reward mint, mint to an account, create a token account), hand-encoded
//! so the client needs no SPL crates. Encodings follow the programs' public interfaces:
//! system `CreateAccount` (0) and `Transfer` (2), token `InitializeMint2` (20) and `MintTo` (7),
//! ATA `CreateIdempotent` (1).

use super::{AccountMeta, Instruction, SYSTEM_PROGRAM_ID, TOKEN_PROGRAM_ID};
use crate::{pda, Address};

/// The associated token account program.
/// `ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL`.
pub const ATA_PROGRAM_ID: Address = Address::new_from_array([
    140, 151, 37, 143, 78, 36, 137, 241, 187, 61, 16, 41, 20, 142, 13, 131, 11, 90, 19, 153, 218,
    255, 16, 132, 4, 142, 123, 216, 219, 233, 248, 89,
]);
/// Size of an SPL token mint account.
pub const MINT_LEN: u64 = 82;
/// Size of an SPL token account.
pub const TOKEN_ACCOUNT_LEN: u64 = 165;

/// The associated token account of `owner` for `mint` (owners may be PDAs, e.g. the Run).
pub fn ata_address(owner: &Address, mint: &Address) -> Option<Address> {
    pda::find(
        &[owner.as_ref(), TOKEN_PROGRAM_ID.as_ref(), mint.as_ref()],
        &ATA_PROGRAM_ID,
    )
    .map(|(a, _)| a)
}

/// System `CreateAccount`: `to` (a new keypair, signing) with `space` bytes owned by `owner`.
pub fn create_account(
    from: &Address,
    to: &Address,
    lamports: u64,
    space: u64,
    owner: &Address,
) -> Instruction {
    let mut data = 0u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    data.extend_from_slice(&space.to_le_bytes());
    data.extend_from_slice(owner.as_ref());
    Instruction {
        program_id: SYSTEM_PROGRAM_ID,
        accounts: vec![
            AccountMeta::new(*from, true, true),
            AccountMeta::new(*to, true, true),
        ],
        data,
    }
}

/// System `Transfer` of lamports.
pub fn transfer_lamports(from: &Address, to: &Address, lamports: u64) -> Instruction {
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    Instruction {
        program_id: SYSTEM_PROGRAM_ID,
        accounts: vec![
            AccountMeta::new(*from, true, true),
            AccountMeta::new(*to, false, true),
        ],
        data,
    }
}

/// Token `InitializeMint2` with `authority` as mint authority and no freeze authority.
pub fn initialize_mint2(mint: &Address, authority: &Address, decimals: u8) -> Instruction {
    let mut data = vec![20u8, decimals];
    data.extend_from_slice(authority.as_ref());
    data.push(0);
    Instruction {
        program_id: TOKEN_PROGRAM_ID,
        accounts: vec![AccountMeta::new(*mint, false, true)],
        data,
    }
}

/// Token `MintTo`: `amount` base units of `mint` into `to`, signed by the mint authority.
pub fn mint_to(mint: &Address, to: &Address, authority: &Address, amount: u64) -> Instruction {
    let mut data = vec![7u8];
    data.extend_from_slice(&amount.to_le_bytes());
    Instruction {
        program_id: TOKEN_PROGRAM_ID,
        accounts: vec![
            AccountMeta::new(*mint, false, true),
            AccountMeta::new(*to, false, true),
            AccountMeta::new(*authority, true, false),
        ],
        data,
    }
}

/// ATA `CreateIdempotent`: `owner`'s token account for `mint`, paid by `payer`; a no-op if it
/// exists. Returns the instruction and the account's address.
pub fn create_ata_idempotent(
    payer: &Address,
    owner: &Address,
    mint: &Address,
) -> Option<(Instruction, Address)> {
    let ata = ata_address(owner, mint)?;
    let ix = Instruction {
        program_id: ATA_PROGRAM_ID,
        accounts: vec![
            AccountMeta::new(*payer, true, true),
            AccountMeta::new(ata, false, true),
            AccountMeta::new(*owner, false, false),
            AccountMeta::new(*mint, false, false),
            AccountMeta::new(SYSTEM_PROGRAM_ID, false, false),
            AccountMeta::new(TOKEN_PROGRAM_ID, false, false),
        ],
        data: vec![1],
    };
    Some((ix, ata))
}

/// The amount (base units) held by an SPL token account, from its data (offset 64).
pub fn token_account_amount(data: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = data.get(64..72)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_the_programs_interfaces() {
        let a = Address::new_from_array([1; 32]);
        let b = Address::new_from_array([2; 32]);
        let ix = create_account(&a, &b, 5, 82, &TOKEN_PROGRAM_ID);
        assert_eq!(ix.data.len(), 4 + 8 + 8 + 32);
        assert!(ix.accounts.iter().all(|m| m.is_signer));
        let ix = initialize_mint2(&b, &a, 6);
        assert_eq!((ix.data[0], ix.data[1], ix.data.len()), (20, 6, 35));
        let ix = mint_to(&b, &a, &a, 9);
        assert_eq!(ix.data, [vec![7u8], 9u64.to_le_bytes().to_vec()].concat());
        let (ix, ata) = create_ata_idempotent(&a, &b, &a).unwrap();
        assert_eq!((ix.data.clone(), ix.accounts[1].pubkey), (vec![1], ata));
        let mut acct = vec![0u8; TOKEN_ACCOUNT_LEN as usize];
        acct[64..72].copy_from_slice(&77u64.to_le_bytes());
        assert_eq!(token_account_amount(&acct), Some(77));
        assert_eq!(token_account_amount(&acct[..70]), None);
    }
}
