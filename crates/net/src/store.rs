//! Where blobs live: the [`BlobStore`] trait the blob server serves from and stores into, and
//! two simple implementations.
//!
//! The server calls these from blocking threads (`tokio::task::spawn_blocking`), so an
//! implementation may do file I/O directly.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
};

use libp2p::PeerId;
use sha2::{Digest, Sha256};

use crate::{Hash32, NetError};

/// sha256 of `bytes`: a blob's name.
pub fn blob_hash(bytes: &[u8]) -> Hash32 {
    Sha256::digest(bytes).into()
}

/// Storage and policy behind the blob protocol.
pub trait BlobStore: Send + Sync + 'static {
    /// The blob named `hash`, to serve to a peer, or `None` if it is not held.
    fn get(&self, hash: &Hash32) -> Option<Vec<u8>>;

    /// The same blob, shared rather than copied: what the server sends from. Stores that keep
    /// blobs in memory behind an `Arc` override this, so serving a 64 MiB model to each trainer
    /// does not copy (and page in) 64 MiB first. The default wraps [`BlobStore::get`].
    fn get_shared(&self, hash: &Hash32) -> Option<Arc<Vec<u8>>> {
        self.get(hash).map(Arc::new)
    }

    /// Whether to receive a put of `len` bytes named `hash` from `peer`. Called after the
    /// size cap passed and before any byte is read.
    fn accept(&self, peer: &PeerId, hash: &Hash32, len: u64) -> bool;

    /// Keep a received blob. Called only after its sha256 matched `hash`. An `Err` is
    /// reported to the sender as a refusal.
    fn put(&self, peer: &PeerId, hash: &Hash32, bytes: Vec<u8>) -> Result<(), String>;
}

/// Blobs in memory, accepting every put (within the node's size cap).
#[derive(Debug, Default, Clone)]
pub struct MemoryBlobStore {
    blobs: Arc<Mutex<HashMap<Hash32, Arc<Vec<u8>>>>>,
}

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Hash32, Arc<Vec<u8>>>> {
        // A panic elsewhere while holding the lock leaves the map itself intact.
        self.blobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `bytes` locally and returns their hash.
    pub fn insert(&self, bytes: Vec<u8>) -> Hash32 {
        let hash = blob_hash(&bytes);
        self.lock().insert(hash, Arc::new(bytes));
        hash
    }

    /// Whether the blob is held.
    pub fn contains(&self, hash: &Hash32) -> bool {
        self.lock().contains_key(hash)
    }

    /// Drops a blob; returns whether it was held.
    pub fn remove(&self, hash: &Hash32) -> bool {
        self.lock().remove(hash).is_some()
    }

    /// Number of blobs held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no blob is held.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl BlobStore for MemoryBlobStore {
    fn get(&self, hash: &Hash32) -> Option<Vec<u8>> {
        self.lock().get(hash).map(|b| b.as_ref().clone())
    }

    fn get_shared(&self, hash: &Hash32) -> Option<Arc<Vec<u8>>> {
        self.lock().get(hash).cloned()
    }

    fn accept(&self, _peer: &PeerId, _hash: &Hash32, _len: u64) -> bool {
        true
    }

    fn put(&self, _peer: &PeerId, hash: &Hash32, bytes: Vec<u8>) -> Result<(), String> {
        self.lock().insert(*hash, Arc::new(bytes));
        Ok(())
    }
}

/// Blobs as files `<dir>/<hex sha256>.bin`, written atomically (a temporary file in the same
/// directory, synced, then renamed), accepting every put (within the node's size cap).
#[derive(Debug)]
pub struct DirBlobStore {
    dir: PathBuf,
    tmp_seq: AtomicU64,
}

impl DirBlobStore {
    /// A store in `dir`, created if missing.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, NetError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| NetError::Store {
            path: dir.clone(),
            reason: format!("cannot create the directory: {e}"),
        })?;
        Ok(Self {
            dir,
            tmp_seq: AtomicU64::new(0),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where blob `hash` is (or would be) kept.
    pub fn path_of(&self, hash: &Hash32) -> PathBuf {
        self.dir.join(format!("{}.bin", hex::encode(hash)))
    }

    /// Whether the blob is held.
    pub fn contains(&self, hash: &Hash32) -> bool {
        self.path_of(hash).is_file()
    }

    /// Stores `bytes` locally and returns their hash.
    pub fn insert(&self, bytes: &[u8]) -> Result<Hash32, NetError> {
        let hash = blob_hash(bytes);
        self.write(&hash, bytes).map_err(|reason| NetError::Store {
            path: self.path_of(&hash),
            reason,
        })?;
        Ok(hash)
    }

    fn write(&self, hash: &Hash32, bytes: &[u8]) -> Result<(), String> {
        let path = self.path_of(hash);
        if path.is_file() {
            return Ok(()); // content-addressed: same name, same bytes
        }
        let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!(
            ".{}.{}.{seq}.tmp",
            hex::encode(hash),
            std::process::id()
        ));
        let result = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
    }
}

impl BlobStore for DirBlobStore {
    fn get(&self, hash: &Hash32) -> Option<Vec<u8>> {
        std::fs::read(self.path_of(hash)).ok()
    }

    fn accept(&self, _peer: &PeerId, _hash: &Hash32, _len: u64) -> bool {
        true
    }

    fn put(&self, _peer: &PeerId, hash: &Hash32, bytes: Vec<u8>) -> Result<(), String> {
        self.write(hash, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_store_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirBlobStore::new(dir.path().join("blobs")).unwrap();
        let hash = store.insert(b"hello").unwrap();
        assert_eq!(hash, blob_hash(b"hello"));
        assert!(store.contains(&hash));
        assert_eq!(store.get(&hash).unwrap(), b"hello");
        assert!(store
            .path_of(&hash)
            .ends_with(format!("{}.bin", hex::encode(hash))));
        let other = blob_hash(b"other");
        assert!(store.get(&other).is_none());
        store
            .put(&PeerId::random(), &other, b"other".to_vec())
            .unwrap();
        assert_eq!(store.get(&other).unwrap(), b"other");
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| n.ends_with(".bin")), "{names:?}");
    }

    #[test]
    fn memory_store_round_trip() {
        let store = MemoryBlobStore::new();
        assert!(store.is_empty());
        let hash = store.insert(vec![1, 2, 3]);
        assert_eq!(store.get(&hash).unwrap(), vec![1, 2, 3]);
        assert_eq!(store.len(), 1);
        assert!(store.remove(&hash));
        assert!(!store.contains(&hash));
    }
}
