//! Trainer wallets: solana-cli JSON keypairs, and the signature that binds a wallet to a libp2p
//! identity when a trainer joins.
//!
//! A solana-cli keypair file is a JSON array of 64 numbers: the 32-byte ed25519 secret key
//! followed by the 32-byte public key (the wallet address, shown in base58). Signing and
//! verification use `ed25519-dalek`; no Solana crate is involved.
//!
//! The join binding: the wallet signs [`join_message`]`(run_id, peer_id)`, so a signature made
//! for one run and one libp2p identity cannot be replayed by another peer or in another run.

use std::{fmt, io::Write, path::Path};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use libp2p::PeerId;

use crate::NetError;

/// Domain separator that starts every join message.
pub const JOIN_DOMAIN: &[u8] = b"coalition/join/v1\0";

/// An ed25519 wallet keypair (solana-cli format on disk).
#[derive(Clone)]
pub struct Wallet {
    key: SigningKey,
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret half.
        f.debug_struct("Wallet")
            .field("pubkey", &self.pubkey_base58())
            .finish()
    }
}

impl Wallet {
    /// Reads a solana-cli JSON keypair file, checking that its public half is the one its secret
    /// half derives.
    pub fn from_file(path: &Path) -> Result<Self, NetError> {
        let err = |reason: String| NetError::Wallet {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let bytes: Vec<u8> = serde_json::from_str(&text).map_err(|e| {
            err(format!(
                "not a solana-cli keypair (a JSON array of 64 numbers 0..=255): {e}"
            ))
        })?;
        let bytes: [u8; 64] = bytes.as_slice().try_into().map_err(|_| {
            err(format!(
                "a solana-cli keypair has 64 bytes (secret ‖ public), this one has {}",
                bytes.len()
            ))
        })?;
        let key = SigningKey::from_keypair_bytes(&bytes).map_err(|e| {
            err(format!(
                "the public half does not match the secret half ({e})"
            ))
        })?;
        Ok(Self { key })
    }

    /// A fresh random wallet (operating-system randomness), for tests and the demo.
    pub fn generate() -> Self {
        let secret: [u8; 32] = rand::random();
        Self {
            key: SigningKey::from_bytes(&secret),
        }
    }

    /// A wallet from a 32-byte ed25519 secret key.
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(secret),
        }
    }

    /// The 32-byte ed25519 secret key (to hand the same key to a Solana SDK signer).
    pub fn secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Writes the keypair in solana-cli format (a JSON array of 64 numbers) with mode 0600.
    ///
    /// Refuses to overwrite an existing file, as `solana-keygen new` does without `--force`:
    /// a keypair is where payouts go, and losing one loses them.
    pub fn write_file(&self, path: &Path) -> Result<(), NetError> {
        let err = |reason: String| NetError::Wallet {
            path: path.to_path_buf(),
            reason,
        };
        let json = serde_json::to_string(&self.key.to_keypair_bytes().to_vec())
            .map_err(|e| err(format!("cannot encode: {e}")))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                err("already exists; refusing to overwrite a keypair".into())
            } else {
                err(format!("cannot create: {e}"))
            }
        })?;
        file.write_all(json.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| err(format!("cannot write: {e}")))
    }

    /// The wallet's public key (its address).
    pub fn pubkey(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The public key in base58, as Solana tools print addresses.
    pub fn pubkey_base58(&self) -> String {
        bs58::encode(self.pubkey()).into_string()
    }

    /// An ed25519 signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// The signature a trainer sends in [`Request::Join`](crate::Request::Join).
    pub fn sign_join(&self, run_id: &str, peer_id: &PeerId) -> [u8; 64] {
        self.sign(&join_message(run_id, peer_id))
    }
}

/// The bytes a wallet signs to join run `run_id` as libp2p peer `peer_id`:
/// `b"coalition/join/v1\0" ‖ run_id ‖ 0x00 ‖ peer id bytes` (the multihash form).
pub fn join_message(run_id: &str, peer_id: &PeerId) -> Vec<u8> {
    let peer = peer_id.to_bytes();
    let mut msg = Vec::with_capacity(JOIN_DOMAIN.len() + run_id.len() + 1 + peer.len());
    msg.extend_from_slice(JOIN_DOMAIN);
    msg.extend_from_slice(run_id.as_bytes());
    msg.push(0);
    msg.extend_from_slice(&peer);
    msg
}

/// Whether `signature` is `wallet`'s signature over [`join_message`]`(run_id, peer_id)`.
///
/// Strict verification (no small-order keys, canonical encodings); any malformed key or
/// signature is simply `false`.
pub fn verify_join(wallet: &[u8; 32], run_id: &str, peer_id: &PeerId, signature: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(wallet) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(&join_message(run_id, peer_id), &signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.json");
        let w = Wallet::generate();
        w.write_file(&path).unwrap();
        let back = Wallet::from_file(&path).unwrap();
        assert_eq!(back.pubkey(), w.pubkey());
        assert_eq!(back.pubkey_base58(), w.pubkey_base58());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = w.write_file(&path).unwrap_err().to_string();
        assert!(again.contains("refusing to overwrite"), "{again}");
        // The file is a JSON array of 64 numbers.
        let v: Vec<u8> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v.len(), 64);
        assert_eq!(&v[32..], &w.pubkey());
    }

    #[test]
    fn bad_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let e = Wallet::from_file(&missing).unwrap_err().to_string();
        assert!(
            e.contains("missing.json") && e.contains("cannot read"),
            "{e}"
        );

        let short = dir.path().join("short.json");
        std::fs::write(&short, "[1,2,3]").unwrap();
        let e = Wallet::from_file(&short).unwrap_err().to_string();
        assert!(e.contains("short.json") && e.contains("has 3"), "{e}");

        let junk = dir.path().join("junk.json");
        std::fs::write(&junk, "{\"not\": 1}").unwrap();
        let e = Wallet::from_file(&junk).unwrap_err().to_string();
        assert!(e.contains("junk.json") && e.contains("JSON array"), "{e}");

        // A public half that does not belong to the secret half.
        let a = Wallet::generate();
        let b = Wallet::generate();
        let mut bytes = a.key.to_keypair_bytes();
        bytes[32..].copy_from_slice(&b.pubkey());
        let mixed = dir.path().join("mixed.json");
        std::fs::write(&mixed, serde_json::to_string(&bytes.to_vec()).unwrap()).unwrap();
        let e = Wallet::from_file(&mixed).unwrap_err().to_string();
        assert!(
            e.contains("mixed.json") && e.contains("does not match"),
            "{e}"
        );
    }

    #[test]
    fn known_solana_keypair_reads() {
        // Secret key 1, 2, ..., 32 and its public key as solana-keygen would write them.
        let secret: [u8; 32] = std::array::from_fn(|i| i as u8 + 1);
        let w = Wallet::from_secret(&secret);
        let mut bytes = secret.to_vec();
        bytes.extend_from_slice(&w.pubkey());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        std::fs::write(&path, serde_json::to_string(&bytes).unwrap()).unwrap();
        assert_eq!(Wallet::from_file(&path).unwrap().pubkey(), w.pubkey());
        assert_eq!(
            bs58::decode(w.pubkey_base58()).into_vec().unwrap(),
            w.pubkey()
        );
    }

    #[test]
    fn join_signature_binds_wallet_run_and_peer() {
        let w = Wallet::generate();
        let peer = PeerId::random();
        let other_peer = PeerId::random();
        let sig = w.sign_join("run-a", &peer);
        assert!(verify_join(&w.pubkey(), "run-a", &peer, &sig));
        assert!(!verify_join(&w.pubkey(), "run-b", &peer, &sig));
        assert!(!verify_join(&w.pubkey(), "run-a", &other_peer, &sig));
        assert!(!verify_join(
            &Wallet::generate().pubkey(),
            "run-a",
            &peer,
            &sig
        ));
        let mut bad = sig;
        bad[5] ^= 1;
        assert!(!verify_join(&w.pubkey(), "run-a", &peer, &bad));
        assert!(!verify_join(&w.pubkey(), "run-a", &peer, &sig[..63]));
        assert!(!verify_join(&[0u8; 32], "run-a", &peer, &sig));
        let msg = join_message("r", &peer);
        assert!(msg.starts_with(b"coalition/join/v1\0r\0"));
        assert!(msg.ends_with(&peer.to_bytes()));
    }
}
