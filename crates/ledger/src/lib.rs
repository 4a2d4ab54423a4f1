//! # coalition-ledger
//!
//! The one ledger path: the coordinator, `coalition inspect` and `coalition claim` all talk
//! JSON-RPC to a cluster running the registry program (`programs/registry`).
//!
//! - [`cluster`]: `embedded` (an in-process `solana-test-validator` whose ledger lives in the run
//!   directory; feature `embedded`, on by default), `localnet`, `devnet`, `mainnet-beta`, a URL,
//!   or `none`; explorer links.
//! - [`connect`]: a [`chain::Chain`] for a cluster (starting the embedded validator if needed).
//! - [`chain`]: reads accounts, sends transactions, names refusals by the registry's numbered
//!   errors.
//! - [`setup`]: the run's accounts (reward mint, vault, Run), funding, the coordinator's
//!   addresses — all idempotent.
//! - [`record`]: one committed round → record_round, record_contributions batches,
//!   close_round; idempotent and retried.
//! - [`recorder`]: the coordinator's background thread that records each round as it commits.
//! - [`inspect`]: a run, its rounds and trainers as reviewers see them, checked against local
//!   reports.
//! - [`claim`]: a trainer's claim of its earned tokens.
//! - [`keys`]: solana-cli keypair files.

pub mod chain;
pub mod claim;
pub mod cluster;
pub mod connect;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
pub mod inspect;
pub mod keys;
pub mod record;
pub mod recorder;
pub mod setup;
#[cfg(feature = "embedded")]
mod stdout_guard;

pub use cluster::Cluster;
pub use error::{LedgerError, Result};
pub use recorder::{Recorder, RecorderOptions, RecorderReport};
pub use setup::{RunAccounts, RunSpec};
pub use solana_pubkey::Pubkey;

/// A base58 address, or `None` if it is not 32 bytes of base58.
pub fn pubkey_from_base58(s: &str) -> Option<Pubkey> {
    let bytes = bs58::decode(s).into_vec().ok()?;
    let arr: [u8; 32] = bytes.try_into().ok()?;
    Some(Pubkey::new_from_array(arr))
}
