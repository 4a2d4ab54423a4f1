//! Re-deriving a committed round from its published artifacts, trusting nothing the
//! coordinator says that cannot be checked (docs/ATTRIBUTION.md, "What a reviewer can
//! establish").
//!
//! Inputs: what the chain recorded ([`ChainRun`], [`ChainRound`]; the CLI reads them through
//! the ledger), and an [`Artifacts`] source that yields each file a manifest lists, checked
//! against its sha256 (a run directory, or files fetched from the coordinator over
//! `/coalition/blob/1`). For round r, in order (the first failing check stops it):
//!
//! 1. `manifest`: the manifest's sha256 is the Round account's `manifest_hash`;
//! 2. `config`: the launched config hashes to the Run account's config hash;
//! 3. `model`: θ_r loads from the listed checkpoint and hashes to the Round's model hash;
//! 4. `report`: the report's round, model hash and roots equal the Round account's, and its
//!    scores replay from its transcript (`verify_report`);
//! 5. `prefilter`: every listed frame decoded and run through the pre-filter with the
//!    published hashes of earlier rounds and the carried median gives the same players (order,
//!    clip factors, weights), refusals and merges; the players' frames are the report's;
//! 6. `eval`: every revealed sample opens against the Run's committed pool root, and the
//!    indices are the round seed's draw from the samples earlier rounds had not revealed;
//! 7. `coalitions`: k coalitions (or path points) of the transcript, chosen by a challenge
//!    seed the coordinator could not know when it published, re-evaluated on θ_r, m_r, the
//!    decoded updates and the revealed samples, equal the transcript's values;
//! 8. `next model`: θ_{r+1} = outer step(θ_r, m_r, Σ p_i Δ_i) hashes to the Round's next model
//!    hash, and m_{r+1} equals the listed momentum;
//! 9. `credits`: the round is closed on chain with the report's total payout credited to
//!    as many trainers as the report has players (each credit is a leaf of the scores root:
//!    the program checks its Merkle proof).

mod artifacts;
mod checks;
mod context;
mod journaled;

pub use artifacts::{Artifacts, DirArtifacts};
pub use checks::{rederive_round, Challenge, RoundCheck};
pub use context::History;
pub use journaled::{journal_records, read_journal, Committed, Journaled};

use coalition_attribution::Hash32;

/// What the Run account records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRun {
    pub config_hash: Hash32,
    pub eval_pool_root: Hash32,
    pub eval_pool_count: u64,
}

/// What a Round account records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRound {
    pub round: u64,
    pub model_hash: Hash32,
    pub next_model_hash: Hash32,
    pub manifest_hash: Hash32,
    pub updates_root: Hash32,
    pub scores_root: Hash32,
    pub transcript_root: Hash32,
    pub total_payout: u64,
    pub credited_payout: u64,
    pub trainer_count: u32,
    pub contributions_recorded: u32,
    pub closed: bool,
}

/// One passed check: its name and what it established.
#[derive(Debug, Clone, PartialEq)]
pub struct Passed {
    pub check: &'static str,
    pub detail: String,
}

/// The first discrepancy: which check, in which round, and what differs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("round {round}: {check}: {detail}")]
pub struct Discrepancy {
    pub round: u64,
    pub check: &'static str,
    pub detail: String,
}
