//! solana-cli JSON keypair files as `solana_keypair::Keypair`s (parsed by `coalition_net::Wallet`,
//! which checks that the public half matches the secret half).

use coalition_net::Wallet;
use solana_keypair::Keypair;
use std::path::Path;

use crate::error::{LedgerError, Result};

/// Reads a keypair file.
pub fn load_keypair(path: &Path) -> Result<Keypair> {
    let wallet = Wallet::from_file(path).map_err(|e| LedgerError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(Keypair::new_from_array(wallet.secret()))
}

/// Reads the keypair at `path`, creating it (mode 0600) if the file does not exist.
pub fn load_or_create_keypair(path: &Path) -> Result<Keypair> {
    if !path.exists() {
        Wallet::generate()
            .write_file(path)
            .map_err(|e| LedgerError::File {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
    }
    load_keypair(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_signer::Signer;

    #[test]
    fn created_keys_read_back_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        let a = load_or_create_keypair(&path).unwrap();
        let b = load_or_create_keypair(&path).unwrap();
        assert_eq!(a.pubkey(), b.pubkey());
        let wallet = Wallet::from_file(&path).unwrap();
        assert_eq!(a.pubkey().to_bytes(), wallet.pubkey());
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "[1,2,3]").unwrap();
        let e = load_keypair(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.json"), "{e}");
    }
}
