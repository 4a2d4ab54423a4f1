//! The coordinator's blob store: it serves the current model and every published artifact
//! (the files each round's manifest lists, and the manifests themselves, by sha256, read from
//! the run directory on request), and receives update frames from admitted trainers, holding
//! each until its `Submit` arrives.

use coalition_net::{BlobStore, Hash32, PeerId};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// Shared between the network task and the round loop.
#[derive(Default)]
pub struct CoordinatorBlobs {
    model: RwLock<Option<(Hash32, Arc<Vec<u8>>)>>,
    received: Mutex<HashMap<(PeerId, Hash32), Vec<u8>>>,
    uploaders: RwLock<HashSet<PeerId>>,
    /// Published artifacts: sha256 → file.
    published: RwLock<HashMap<Hash32, PathBuf>>,
    max_update_bytes: u64,
}

impl CoordinatorBlobs {
    pub fn new(max_update_bytes: u64) -> Self {
        Self {
            max_update_bytes,
            ..Self::default()
        }
    }

    /// Serve `bytes` (the model θ_r as little-endian f32) under `hash`.
    pub fn set_model(&self, hash: Hash32, bytes: Vec<u8>) {
        if let Ok(mut m) = self.model.write() {
            *m = Some((hash, Arc::new(bytes)));
        }
    }

    /// Peers allowed to upload (the open round's participants).
    pub fn set_uploaders(&self, peers: impl IntoIterator<Item = PeerId>) {
        if let Ok(mut u) = self.uploaders.write() {
            *u = peers.into_iter().collect();
        }
        if let Ok(mut r) = self.received.lock() {
            r.clear();
        }
    }

    /// Serve these files (sha256, path) to any peer from now on.
    pub fn publish(&self, files: impl IntoIterator<Item = (Hash32, PathBuf)>) {
        if let Ok(mut p) = self.published.write() {
            p.extend(files);
        }
    }

    /// Take the frame `peer` uploaded under `hash`, if any.
    pub fn take(&self, peer: &PeerId, hash: &Hash32) -> Option<Vec<u8>> {
        self.received.lock().ok()?.remove(&(*peer, *hash))
    }
}

impl BlobStore for CoordinatorBlobs {
    fn get(&self, hash: &Hash32) -> Option<Vec<u8>> {
        if let Some((h, bytes)) = self.model.read().ok()?.as_ref() {
            if h == hash {
                return Some(bytes.as_ref().clone());
            }
        }
        let path = self.published.read().ok()?.get(hash)?.clone();
        // The file was hashed when it was published; a file changed since is not served.
        let bytes = std::fs::read(path).ok()?;
        (coalition_net::blob_hash(&bytes) == *hash).then_some(bytes)
    }

    fn accept(&self, peer: &PeerId, _hash: &Hash32, len: u64) -> bool {
        len <= self.max_update_bytes
            && self
                .uploaders
                .read()
                .map(|u| u.contains(peer))
                .unwrap_or(false)
    }

    fn put(&self, peer: &PeerId, hash: &Hash32, bytes: Vec<u8>) -> Result<(), String> {
        let mut r = self
            .received
            .lock()
            .map_err(|_| "blob store lock poisoned".to_string())?;
        // One pending frame per peer: a newer upload replaces an older one.
        r.retain(|(p, _), _| p != peer);
        r.insert((*peer, *hash), bytes);
        Ok(())
    }
}
