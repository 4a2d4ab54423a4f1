//! Which ledger a command talks to, and explorer links for its signatures.

use std::path::{Path, PathBuf};

use crate::error::{LedgerError, Result};

/// A ledger reachable over JSON-RPC (or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cluster {
    /// Record nothing.
    None,
    /// The in-process test validator whose ledger is `<run_dir>/ledger`.
    Embedded {
        run_dir: PathBuf,
    },
    /// A local `solana-test-validator` on the default port.
    Localnet,
    Devnet,
    MainnetBeta,
    /// Any JSON-RPC URL.
    Url(String),
}

impl Cluster {
    /// Parses `none`, `embedded` (with the run directory given), `embedded:RUN_DIR`, `localnet`,
    /// `devnet`, `mainnet-beta` or an http(s) URL.
    pub fn parse(value: &str, run_dir: Option<&Path>) -> Result<Cluster> {
        let bad = |message: &str| LedgerError::BadCluster {
            value: value.to_string(),
            message: message.to_string(),
        };
        Ok(match value {
            "none" => Cluster::None,
            "localnet" => Cluster::Localnet,
            "devnet" => Cluster::Devnet,
            "mainnet-beta" => Cluster::MainnetBeta,
            "embedded" => Cluster::Embedded {
                run_dir: run_dir
                    .ok_or_else(|| {
                        bad("say which run: embedded:RUN_DIR (e.g. embedded:runs/demo)")
                    })?
                    .to_path_buf(),
            },
            v if v.starts_with("embedded:") => {
                let dir = &v["embedded:".len()..];
                if dir.is_empty() {
                    return Err(bad("embedded: needs a run directory after the colon"));
                }
                Cluster::Embedded {
                    run_dir: PathBuf::from(dir),
                }
            }
            v if v.starts_with("http://") || v.starts_with("https://") => Cluster::Url(v.into()),
            _ => return Err(bad(
                "expected none, embedded:RUN_DIR, localnet, devnet, mainnet-beta or an http(s) URL",
            )),
        })
    }

    /// The JSON-RPC URL of a remote cluster (`None` for embedded and none).
    pub fn rpc_url(&self) -> Option<String> {
        match self {
            Cluster::Localnet => Some("http://127.0.0.1:8899".into()),
            Cluster::Devnet => Some("https://api.devnet.solana.com".into()),
            Cluster::MainnetBeta => Some("https://api.mainnet-beta.solana.com".into()),
            Cluster::Url(u) => Some(u.clone()),
            Cluster::None | Cluster::Embedded { .. } => None,
        }
    }

    /// An explorer link for a transaction signature on a public cluster.
    pub fn explorer_tx(&self, signature: &str) -> Option<String> {
        let base = format!("https://explorer.solana.com/tx/{signature}");
        match self {
            Cluster::Devnet => Some(format!("{base}?cluster=devnet")),
            Cluster::MainnetBeta => Some(base),
            _ => None,
        }
    }

    /// An explorer link for an account on a public cluster.
    pub fn explorer_address(&self, address: &str) -> Option<String> {
        let base = format!("https://explorer.solana.com/address/{address}");
        match self {
            Cluster::Devnet => Some(format!("{base}?cluster=devnet")),
            Cluster::MainnetBeta => Some(base),
            _ => None,
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Cluster::None)
    }
}

impl std::fmt::Display for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cluster::None => write!(f, "none"),
            Cluster::Embedded { run_dir } => write!(f, "embedded:{}", run_dir.display()),
            Cluster::Localnet => write!(f, "localnet"),
            Cluster::Devnet => write!(f, "devnet"),
            Cluster::MainnetBeta => write!(f, "mainnet-beta"),
            Cluster::Url(u) => write!(f, "{u}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_names_bad_values() {
        let dir = Path::new("runs/demo");
        assert_eq!(
            Cluster::parse("embedded", Some(dir)).unwrap(),
            Cluster::Embedded {
                run_dir: dir.into()
            }
        );
        assert_eq!(
            Cluster::parse("embedded:runs/x", None).unwrap(),
            Cluster::Embedded {
                run_dir: "runs/x".into()
            }
        );
        assert_eq!(Cluster::parse("devnet", None).unwrap(), Cluster::Devnet);
        assert_eq!(
            Cluster::parse("http://127.0.0.1:8899", None)
                .unwrap()
                .rpc_url(),
            Some("http://127.0.0.1:8899".into())
        );
        let e = Cluster::parse("embedded", None).unwrap_err().to_string();
        assert!(e.contains("embedded:RUN_DIR"), "{e}");
        let e = Cluster::parse("moon", None).unwrap_err().to_string();
        assert!(e.contains("\"moon\""), "{e}");
        assert!(Cluster::parse("embedded:", None).is_err());
        assert_eq!(
            Cluster::Devnet.explorer_tx("abc").unwrap(),
            "https://explorer.solana.com/tx/abc?cluster=devnet"
        );
        assert!(Cluster::Localnet.explorer_tx("abc").is_none());
    }
}
