//! The coordinator's libp2p identity and its "ready" file.

use coalition_net::{Keypair, Multiaddr};
use std::path::Path;

use super::error::ServiceError;
use crate::fsutil;

/// File name of the node key inside the run directory.
pub const NODE_KEY_FILE: &str = "coordinator.key";

/// The coordinator's libp2p identity, kept in the run directory (`coordinator.key`, mode 0600,
/// fsynced) so a restarted coordinator has the same peer id and trainers find it at the same
/// address.
pub fn node_identity(run_dir: &Path) -> Result<Keypair, ServiceError> {
    let path = run_dir.join(NODE_KEY_FILE);
    if path.exists() {
        let bytes = std::fs::read(&path).map_err(crate::error::io("read", &path))?;
        return Keypair::from_protobuf_encoding(&bytes).map_err(|e| {
            ServiceError::Internal(format!("{} is not a libp2p key: {e}", path.display()))
        });
    }
    let key = Keypair::generate_ed25519();
    let bytes = key
        .to_protobuf_encoding()
        .map_err(|e| ServiceError::Internal(format!("cannot encode the node key: {e}")))?;
    fsutil::write_atomic_private(&path, &bytes)?;
    Ok(key)
}

/// Write the listen addresses, one per line, to `path` (atomically), for scripts and tests
/// that wait for the coordinator to be up.
pub fn write_ready_file(path: &Path, addrs: &[Multiaddr]) -> Result<(), ServiceError> {
    let text: String = addrs.iter().map(|a| format!("{a}\n")).collect();
    fsutil::write_atomic(path, text.as_bytes())?;
    Ok(())
}
