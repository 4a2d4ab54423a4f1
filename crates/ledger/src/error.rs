//! Typed errors: each names the cluster, account, round, file or key at fault.

use std::path::PathBuf;

/// Everything the ledger path can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A `--cluster` or `rewards.cluster` value that is not understood.
    #[error("cluster {value:?}: {message}")]
    BadCluster { value: String, message: String },
    /// The JSON-RPC endpoint failed (network, timeout, node error).
    #[error("{what}: JSON-RPC to {url} failed: {message}")]
    Rpc {
        what: String,
        url: String,
        message: String,
    },
    /// A transaction reached the chain and was refused.
    #[error("{what} was refused: {message}")]
    Refused {
        what: String,
        message: String,
        /// The registry's numbered error, when the refusal is one.
        code: Option<u32>,
    },
    /// A file (keypair, report, journal, info file) is missing or malformed.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// An account on chain is missing or is not what it should be.
    #[error("account {address}: {message}")]
    Account { address: String, message: String },
    /// The on-chain record of a round differs from the local report.
    #[error("round {round} on chain differs from the local report: {field} is {on_chain}, the report says {local}")]
    Mismatch {
        round: u64,
        field: &'static str,
        on_chain: String,
        local: String,
    },
    /// The embedded validator could not start.
    #[error("embedded validator (ledger {}): {message}", ledger.display())]
    Validator { ledger: PathBuf, message: String },
    /// Input that cannot be recorded (e.g. a player id that is not a wallet).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Coordinator(#[from] coalition_coordinator::CoordinatorError),
}

impl LedgerError {
    /// True when retrying the same step may succeed (the endpoint failed, not the program).
    pub fn is_transient(&self) -> bool {
        matches!(self, LedgerError::Rpc { .. })
    }
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
