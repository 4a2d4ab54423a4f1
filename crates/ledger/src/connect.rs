//! Opening a [`Chain`] for a [`Cluster`]: a JSON-RPC client for remote clusters, or the embedded
//! validator (started on the run directory's ledger) plus a client for it.

use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use std::path::{Path, PathBuf};

use crate::chain::Chain;
use crate::cluster::Cluster;
use crate::error::{LedgerError, Result};

/// The embedded ledger's directory inside a run directory.
pub fn ledger_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("ledger")
}

/// The run authority's keypair for `cluster = "embedded"` when the config names none.
pub fn embedded_authority_path(run_dir: &Path) -> PathBuf {
    run_dir.join("authority.json")
}

/// The registry's program id on the embedded validator (any address works for a genesis
/// program; this one is sha256 of a fixed label, so every embedded ledger agrees).
pub fn embedded_program_id() -> Pubkey {
    use sha2::{Digest, Sha256};
    Pubkey::new_from_array(Sha256::digest(b"coalition-registry/embedded-program-id/v1").into())
}

/// A chain connection; for `embedded` it owns the validator (dropped = shut down).
pub struct Connection {
    pub chain: Chain,
    #[cfg(feature = "embedded")]
    _validator: Option<crate::embedded::EmbeddedValidator>,
}

/// How to open the embedded ledger.
pub enum Genesis<'a> {
    /// Create the ledger if missing, with this keypair as the genesis mint (the run authority).
    CreateWith(&'a Keypair),
    /// The ledger must exist (inspect, claim).
    MustExist,
}

impl Connection {
    /// Connects to `cluster`, with the registry at `program_id`.
    pub fn open(cluster: &Cluster, program_id: Pubkey, genesis: Genesis<'_>) -> Result<Connection> {
        match cluster {
            Cluster::None => Err(LedgerError::BadCluster {
                value: "none".into(),
                message: "no ledger to talk to".into(),
            }),
            Cluster::Embedded { run_dir } => open_embedded(cluster, run_dir, program_id, genesis),
            remote => {
                let url = remote.rpc_url().unwrap_or_default();
                Ok(Connection {
                    chain: Chain::new(&url, remote.clone(), program_id),
                    #[cfg(feature = "embedded")]
                    _validator: None,
                })
            }
        }
    }
}

#[cfg(feature = "embedded")]
fn open_embedded(
    cluster: &Cluster,
    run_dir: &Path,
    program_id: Pubkey,
    genesis: Genesis<'_>,
) -> Result<Connection> {
    let ledger = ledger_dir(run_dir);
    let throwaway;
    let mint = match genesis {
        Genesis::CreateWith(k) => k,
        Genesis::MustExist => {
            if !solana_test_validator::TestValidatorGenesis::ledger_exists(&ledger) {
                return Err(LedgerError::Validator {
                    ledger,
                    message: "no embedded ledger here (has a coordinator run this run with cluster = \"embedded\"?)".into(),
                });
            }
            throwaway = Keypair::new();
            &throwaway
        }
    };
    let validator = crate::embedded::EmbeddedValidator::start(&ledger, mint, program_id)?;
    Ok(Connection {
        chain: Chain::new(&validator.rpc_url(), cluster.clone(), program_id),
        _validator: Some(validator),
    })
}

#[cfg(not(feature = "embedded"))]
fn open_embedded(
    _cluster: &Cluster,
    run_dir: &Path,
    _program_id: Pubkey,
    _genesis: Genesis<'_>,
) -> Result<Connection> {
    Err(LedgerError::Validator {
        ledger: ledger_dir(run_dir),
        message: "this build has no embedded validator (feature `embedded` of coalition-ledger)"
            .into(),
    })
}
