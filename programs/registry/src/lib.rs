//! coalition's on-chain attribution registry.
//!
//! A small Solana program, written with `pinocchio`, that records each training round's
//! attribution (model hash, Merkle roots of the updates, scores and transcript, eval losses) and
//! each trainer's payout, holds the reward tokens in a vault, and lets trainers claim what they
//! earned. Payouts are computed off-chain by the coordinator and *checked* here: the entries of a
//! round must sum to the round's declared total, which may not exceed the run's reward per round,
//! and a trainer can be credited at most once per round.
//!
//! Layout of the crate (the SPL token program's):
//! - [`state`]: the account layouts (Run, Round, Contribution), fixed-size, versioned, little-endian;
//! - [`instruction`]: the instruction encodings and their account lists;
//! - [`processor`]: one file per instruction;
//! - [`error`]: numbered errors;
//! - [`math`] and [`pda`]: pure helpers (BPF-safe multiply, sum checks, seeds);
//! - `entrypoint` (unless `no-entrypoint`): the program entrypoint;
//! - `client` (feature `client`): off-chain instruction builders and account decoders.
//!
//! The same layouts serve the program and the client, so there is one place to change them.
//! The crate builds to an SBF ELF with `build-sbf.sh` (see README.md); on BPF it is `no_std` and
//! must avoid 128-bit arithmetic and `checked_mul` (see `check-bpf-safe.sh`).
#![cfg_attr(target_arch = "bpf", no_std)]

#[cfg(all(target_arch = "bpf", feature = "client"))]
compile_error!("the `client` feature is for host builds only");

pub mod error;
pub mod instruction;
pub mod math;
pub mod pda;
pub mod processor;
pub mod state;

#[cfg(not(feature = "no-entrypoint"))]
pub mod entrypoint;

#[cfg(feature = "client")]
pub mod client;

pub use pinocchio::Address;
