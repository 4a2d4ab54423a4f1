//! Program-derived addresses: the seeds of each account kind, in one place.
//!
//! - Run: `["run", authority, run_id (u64 LE)]`
//! - Round: `["round", run, index (u64 LE)]`
//! - Contribution: `["contrib", run, trainer]`
//!
//! The program derives the canonical bump with `find_program_address` when it creates an
//! account and stores it; afterwards an account is recognised by its owner (this program), its
//! kind byte and the run/trainer fields it stores, which only the program could have written.

use pinocchio::Address;

pub const RUN_SEED: &[u8] = b"run";
pub const ROUND_SEED: &[u8] = b"round";
pub const CONTRIB_SEED: &[u8] = b"contrib";

/// Seeds of a Run account (without the bump).
#[inline]
pub fn run_seeds<'a>(authority: &'a [u8; 32], run_id_le: &'a [u8; 8]) -> [&'a [u8]; 3] {
    [RUN_SEED, authority, run_id_le]
}

/// Seeds of a Round account (without the bump).
#[inline]
pub fn round_seeds<'a>(run: &'a [u8; 32], index_le: &'a [u8; 8]) -> [&'a [u8]; 3] {
    [ROUND_SEED, run, index_le]
}

/// Seeds of a Contribution account (without the bump).
#[inline]
pub fn contribution_seeds<'a>(run: &'a [u8; 32], trainer: &'a [u8; 32]) -> [&'a [u8]; 3] {
    [CONTRIB_SEED, run, trainer]
}

/// The canonical program-derived address and bump for `seeds` (a syscall on BPF, software on host).
#[inline]
pub fn find(seeds: &[&[u8]], program_id: &Address) -> Option<(Address, u8)> {
    Address::try_find_program_address(seeds, program_id)
}

/// The Run address for `(authority, run_id)`.
pub fn find_run(program_id: &Address, authority: &Address, run_id: u64) -> Option<(Address, u8)> {
    let id = run_id.to_le_bytes();
    find(&run_seeds(authority.as_array(), &id), program_id)
}

/// The Round address for `(run, index)`.
pub fn find_round(program_id: &Address, run: &Address, index: u64) -> Option<(Address, u8)> {
    let ix = index.to_le_bytes();
    find(&round_seeds(run.as_array(), &ix), program_id)
}

/// The Contribution address for `(run, trainer)`.
pub fn find_contribution(
    program_id: &Address,
    run: &Address,
    trainer: &Address,
) -> Option<(Address, u8)> {
    find(
        &contribution_seeds(run.as_array(), trainer.as_array()),
        program_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(b: u8) -> Address {
        Address::new_from_array([b; 32])
    }

    #[test]
    fn seeds_are_laid_out_as_documented() {
        let a = [7u8; 32];
        let id = 42u64.to_le_bytes();
        let s = run_seeds(&a, &id);
        assert_eq!(s[0], b"run");
        assert_eq!(s[1], &a[..]);
        assert_eq!(s[2], &[42, 0, 0, 0, 0, 0, 0, 0]);
        let s = round_seeds(&a, &id);
        assert_eq!(s[0], b"round");
        let t = [9u8; 32];
        let s = contribution_seeds(&a, &t);
        assert_eq!((s[0], s[1], s[2]), (&b"contrib"[..], &a[..], &t[..]));
    }

    #[test]
    fn derived_addresses_are_canonical_and_distinct() {
        let program = addr(1);
        let (run, bump) = find_run(&program, &addr(2), 5).unwrap();
        let id = 5u64.to_le_bytes();
        let authority = addr(2).to_bytes();
        let mut seeds: Vec<&[u8]> = run_seeds(&authority, &id).to_vec();
        let b = [bump];
        seeds.push(&b);
        assert_eq!(
            Address::create_program_address(&seeds, &program).unwrap(),
            run
        );
        assert!(!run.is_on_curve());

        let (r0, _) = find_round(&program, &run, 0).unwrap();
        let (r1, _) = find_round(&program, &run, 1).unwrap();
        assert_ne!(r0, r1);
        let (c1, _) = find_contribution(&program, &run, &addr(3)).unwrap();
        let (c2, _) = find_contribution(&program, &run, &addr(4)).unwrap();
        assert_ne!(c1, c2);
        // Another run id or authority gives another run.
        assert_ne!(find_run(&program, &addr(2), 6).unwrap().0, run);
        assert_ne!(find_run(&program, &addr(3), 5).unwrap().0, run);
    }
}
