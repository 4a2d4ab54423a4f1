//! sha256 of data files and of token splits, and checking a file against a pinned hash.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{DatasetError, Result};

/// Domain tag that opens the split hash (see [`split_hash`]).
pub const SPLIT_HASH_TAG: &[u8] = b"coalition-datasets/split/v1\0";

/// sha256 of some bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The recorded hash of a train/eval split:
///
/// ```text
/// sha256( "coalition-datasets/split/v1\0"
///       ‖ len(train) as u64 LE ‖ each train token as u32 LE
///       ‖ len(eval)  as u64 LE ‖ each eval token as u32 LE )
/// ```
///
/// The lengths make the boundary between the two splits part of the hash.
pub fn split_hash(train: &[u32], eval: &[u32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(SPLIT_HASH_TAG);
    for part in [train, eval] {
        h.update((part.len() as u64).to_le_bytes());
        let mut buf = Vec::with_capacity(4 * 4096);
        for chunk in part.chunks(4096) {
            buf.clear();
            for t in chunk {
                buf.extend_from_slice(&t.to_le_bytes());
            }
            h.update(&buf);
        }
    }
    h.finalize().into()
}

/// Parse a 64-character hex sha256 (as written in manifests).
pub fn parse_sha256(hex_str: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_str.trim(), &mut out).ok()?;
    Some(out)
}

/// Refuse `bytes` (read from `path`) unless their sha256 is `expected` (hex); return the hash.
pub fn check_sha256(path: &Path, bytes: &[u8], expected: Option<&str>) -> Result<[u8; 32]> {
    let actual = sha256(bytes);
    if let Some(expected) = expected {
        if parse_sha256(expected) != Some(actual) {
            return Err(DatasetError::HashMismatch {
                path: path.to_path_buf(),
                expected: expected.to_string(),
                actual: hex::encode(actual),
            });
        }
    }
    Ok(actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_is_the_known_value() {
        assert_eq!(
            hex::encode(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn split_hash_matches_its_spec_and_sees_the_boundary() {
        let mut spec = SPLIT_HASH_TAG.to_vec();
        spec.extend_from_slice(&2u64.to_le_bytes());
        spec.extend_from_slice(&1u32.to_le_bytes());
        spec.extend_from_slice(&2u32.to_le_bytes());
        spec.extend_from_slice(&1u64.to_le_bytes());
        spec.extend_from_slice(&3u32.to_le_bytes());
        assert_eq!(split_hash(&[1, 2], &[3]), sha256(&spec));
        assert_ne!(split_hash(&[1, 2], &[3]), split_hash(&[1], &[2, 3]));
    }

    #[test]
    fn check_refuses_with_both_hashes() {
        let wrong = "00".repeat(32);
        let err = check_sha256(Path::new("f.txt"), b"abc", Some(&wrong)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&wrong), "{msg}");
        assert!(msg.contains(&hex::encode(sha256(b"abc"))), "{msg}");
        assert!(msg.contains("f.txt"), "{msg}");
        let right = hex::encode(sha256(b"abc"));
        assert_eq!(
            check_sha256(Path::new("f"), b"abc", Some(&right)).unwrap(),
            sha256(b"abc")
        );
        assert_eq!(
            check_sha256(Path::new("f"), b"abc", None).unwrap(),
            sha256(b"abc")
        );
    }
}
