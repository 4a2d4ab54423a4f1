//! # coalition-coordinator
//!
//! The coordinator's network-free core: everything a round needs between "updates arrived"
//! and "the new model is committed", plus the run directory and journal that make a killed
//! coordinator resume where it stopped. The libp2p glue (admission, deadlines, blob transfer)
//! drives it; nothing here touches the network or a ledger.
//!
//! A round r, in order:
//!
//! 1. [`journal`]: append `RoundOpened` (model hash, participants, data assignment).
//! 2. Updates arrive: store each frame with [`RunDir::store_update`], append `UpdateReceived`.
//! 3. [`prefilter()`]: decoded updates → accepted players (non-finite, wrong length, oversized and
//!    replayed updates rejected; norms clipped to c × median; duplicates merged into the
//!    earliest submission).
//! 4. [`aggregate::weights`]: p_i (uniform or by tokens).
//! 5. [`score_round()`]: the round game ([`scoring::RoundGame`], docs/DESIGN.md §5:
//!    v(S) = L_eval(θ^∅) − L_eval(θ^S), θ^S = outer step of Σ_{i∈S} p_i Δ_i with the momentum
//!    fixed) on an eval batch the round seed draws from the committed, hidden eval pool's
//!    unrevealed samples ([`pool`]), scored by
//!    `coalition-attribution`'s estimators into a `Report`;
//!    [`report_io::write_report`] → `reports/round-N.json`; append `RoundScored`.
//! 6. [`aggregate::aggregate`] + [`OuterOptimizer::apply`]: θ_{r+1} (bit-identical to the
//!    game's θ^N); [`RunDir::save_checkpoint`]; the round's eval samples revealed
//!    (`reveals/round-N.json`) and every artifact a reviewer needs listed in
//!    `manifests/round-N.json` ([`manifest`]); append `RoundCommitted` — the commit point.
//!
//! On restart, [`Journal::open`] replays the journal (truncating a torn last entry) and
//! [`RecoveredState::from_entries`] says where to resume: the last committed round, the current
//! model and checkpoint, the admitted trainers, and an open round to rerun from its start.
//!
//! Modules: [`rundir`] (layout and checkpoints), [`journal`] (append-only JSON lines),
//! [`recovery`] (journal → state), [`outer`] (Nesterov SGD on flat vectors), [`aggregate`](mod@aggregate),
//! [`prefilter`](mod@prefilter), [`eval`] (eval loss and gradient), [`evalset`] (the round's eval batch),
//! [`scoring`] (the game), [`score_round`](mod@score_round) (seed → report), [`report_io`],
//! [`fsutil`] (durable writes), [`vecmath`] (deterministic reductions).
//! Errors are [`CoordinatorError`]s that name the file, key or value at fault.

pub mod aggregate;
pub mod crash;
pub mod error;
pub mod eval;
pub mod evalset;
pub mod fsutil;
pub mod journal;
pub mod lock;
pub mod manifest;
pub mod outer;
pub mod pool;
pub mod prefilter;
pub mod recovery;
pub mod rederive;
pub mod report_io;
pub mod rundir;
pub mod score_round;
pub mod scoring;
pub mod service;
pub mod sketch;
pub mod vecmath;

#[cfg(test)]
mod test_support;

pub use aggregate::{aggregate, combine, weights, Weighting};
pub use error::{CoordinatorError, Result};
pub use journal::{
    Clipped, DataAssignment, Duplicate, Entry, Journal, Participant, PoolCommitment, Rejected,
};
pub use outer::{OuterOptimizer, OuterParams};
pub use prefilter::{prefilter, Candidate, FilterOutcome, PrefilterConfig, Reason};
pub use recovery::{AdmittedTrainer, CommittedRound, OpenRound, RecoveredState, RunStart};
pub use report_io::{read_report, read_report_checked, write_report};
pub use rundir::{Launch, RunDir};
pub use score_round::{score_round, RoundInputs, ScoredRound, ScoringPolicy};
pub use scoring::RoundGame;
