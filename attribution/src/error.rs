//! Typed errors. Estimation and report building fail with [`AttributionError`]; replaying a
//! transcript fails with [`VerifyError`]; a utility callback reports failure with [`GameError`].

use crate::coalition::Coalition;
use crate::encoding::{Hash32, Seed};
use thiserror::Error;

/// A failure reported by a [`Game`](crate::Game) callback (e.g. the model evaluation failed).
///
/// It carries only a message so that any error type can be converted into it with
/// [`GameError::new`] (anything that implements `Display`, including `anyhow::Error`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct GameError(pub String);

impl GameError {
    /// Wraps any displayable error.
    pub fn new(message: impl std::fmt::Display) -> Self {
        GameError(message.to_string())
    }
}

/// Everything that can go wrong while estimating scores or building a report.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AttributionError {
    /// The utility callback failed.
    #[error("utility of coalition {coalition} failed: {error}")]
    Utility {
        coalition: Coalition,
        error: GameError,
    },
    /// The path-gradient callback failed.
    #[error("path point at t = {t} failed: {error}")]
    Path { t: f64, error: GameError },
    /// A utility came back NaN or infinite. Map such outcomes to a finite penalty inside the
    /// callback if that is the policy you want; the library never guesses.
    #[error("utility of coalition {coalition} is not finite ({value})")]
    NonFiniteUtility { coalition: Coalition, value: f64 },
    /// A path point's value or gradient was NaN or infinite.
    #[error("path point at t = {t}: {what} is not finite")]
    NonFinitePath { t: f64, what: String },
    /// A path point's gradient had the wrong number of entries.
    #[error("path point at t = {t} has {got} gradient entries, expected {expected}")]
    GradientLength { t: f64, expected: usize, got: usize },
    /// A coalition named a player outside `0..players`.
    #[error("coalition {coalition} names a player outside 0..{players}")]
    PlayerOutOfRange {
        coalition: Coalition,
        players: usize,
    },
    /// Exact enumeration was asked for more players than its configured maximum.
    #[error(
        "exact enumeration refused: {players} players would need 2^{players} evaluations; \
         the configured maximum is {max} players"
    )]
    TooManyPlayersForExact { players: usize, max: u32 },
    /// Coalition bitmasks hold at most 64 players.
    #[error(
        "the {estimator} estimator needs coalition bitmasks, which hold at most 64 players, \
         but the game has {players}; use integrated gradients"
    )]
    TooManyPlayersForMask {
        estimator: &'static str,
        players: usize,
    },
    /// Integrated gradients was asked for a game without a path-gradient hook.
    #[error("the game has no path-gradient hook, which integrated gradients needs")]
    NoPathGradient,
    /// The evaluation budget cannot pay for a single antithetic permutation pair.
    #[error(
        "evaluation budget {budget} is below the {needed} coalition evaluations that one \
         antithetic permutation pair needs with {players} players"
    )]
    BudgetTooSmall {
        budget: u64,
        needed: u64,
        players: usize,
    },
    /// The auto policy found no estimator that fits the game and budget.
    #[error(
        "no estimator fits {players} players with a budget of {budget} evaluations \
         (path-gradient hook: {has_path})"
    )]
    NoEstimatorFits {
        players: usize,
        budget: u64,
        has_path: bool,
    },
    /// A configuration parameter is out of range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    /// A score was NaN or infinite where a finite number was required.
    #[error("score {value} cannot be converted to fixed point")]
    NonFiniteScore { value: f64 },
    /// Two players in a report share an id.
    #[error("duplicate player id {id:?} at positions {first} and {second}")]
    DuplicatePlayerId {
        id: String,
        first: usize,
        second: usize,
    },
    /// Two players in a report share an update hash (copies must be merged before scoring).
    #[error("players {first} and {second} submitted the same update {hash}; merge duplicates before scoring")]
    DuplicateUpdateHash {
        hash: Hash32,
        first: usize,
        second: usize,
    },
    /// A player id is empty.
    #[error("player {index} has an empty id")]
    EmptyPlayerId { index: usize },
    /// The number of players does not match the number of scores.
    #[error("{players} players were given but the attribution has {scores} scores")]
    PlayerCountMismatch { players: usize, scores: usize },
    /// The attribution's seed is not the round seed derived from the report's inputs.
    #[error("attribution seed {got} is not the round seed {expected} derived from run id, round, model hash and update hashes")]
    SeedMismatch { expected: Seed, got: Seed },
}

/// Why a transcript could not be replayed into scores.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum VerifyError {
    /// The transcript's format string is not one this version understands.
    #[error("unsupported transcript format {0:?}")]
    UnsupportedFormat(String),
    /// Coalition entries are not strictly increasing by mask.
    #[error(
        "coalition entries are not strictly increasing by mask at entry {index} (mask {mask})"
    )]
    CoalitionsNotSorted { index: usize, mask: u64 },
    /// A coalition entry names a player outside the game.
    #[error("coalition entry {index} (mask {mask:#x}) names a player outside 0..{players}")]
    MaskOutOfRange {
        index: usize,
        mask: u64,
        players: u32,
    },
    /// Path entries are not strictly increasing by t.
    #[error("path entries are not strictly increasing by t at entry {index}")]
    PathNotSorted { index: usize },
    /// A recorded utility is NaN or infinite.
    #[error("entry {index} holds a non-finite number")]
    NonFinite { index: usize },
    /// A path entry's gradient has the wrong length.
    #[error("path entry {index} has {got} gradient entries, expected {expected}")]
    GradientLength {
        index: usize,
        expected: usize,
        got: usize,
    },
    /// Replaying the estimator needed a coalition the transcript does not contain.
    #[error("the estimator needs coalition {coalition} (mask {mask:#x}), which the transcript lacks", mask = .coalition.mask())]
    MissingCoalition { coalition: Coalition },
    /// Replaying the estimator needed a path point the transcript does not contain.
    #[error("the estimator needs the path point at t = {t}, which the transcript lacks")]
    MissingPathPoint { t: f64 },
    /// The transcript holds entries the estimator never asked for.
    #[error("the transcript holds {count} entries the estimator never evaluated (first: {first})")]
    UnusedEntries { count: usize, first: String },
    /// The replayed estimator itself failed (bad parameters, too many players, ...).
    #[error("replaying the estimator failed: {0}")]
    Replay(AttributionError),
}
