//! A reviewer's copies of a run's published files, fetched from its coordinator over
//! `/coalition/blob/1` by sha256 into `~/.cache/coalition/verify/<run>/` (laid out like the run
//! directory). Files already there with the right sha256 are not fetched again.

use anyhow::{Context, Result};
use coalition_attribution::Hash32;
use coalition_coordinator::manifest::FileRef;
use coalition_coordinator::rederive::Artifacts;
use coalition_coordinator::RunDir;
use coalition_net::{Client, Keypair, Multiaddr, NetConfig, PeerId};
use std::path::{Path, PathBuf};

/// Files fetched from a coordinator.
pub struct PeerArtifacts {
    runtime: tokio::runtime::Runtime,
    client: Client,
    peer: PeerId,
    root: PathBuf,
}

impl PeerArtifacts {
    /// Dial the coordinator at `addr` (a multiaddr ending in `/p2p/<peer id>`); files for run
    /// `run` go under the cache.
    pub fn connect(addr: &str, run: &str) -> Result<PeerArtifacts> {
        let addr: Multiaddr = addr
            .parse()
            .with_context(|| format!("--from {addr:?} is neither a directory nor a multiaddr"))?;
        let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
        let mut cfg = NetConfig::new(Keypair::generate_ed25519());
        cfg.max_blob_bytes = 1 << 34;
        let (client, peer) = runtime
            .block_on(async {
                let (client, _events) = coalition_net::start(
                    cfg,
                    std::sync::Arc::new(coalition_net::MemoryBlobStore::new()),
                )
                .await?;
                let peer = client.dial(addr.clone()).await?;
                Ok::<_, coalition_net::NetError>((client, peer))
            })
            .with_context(|| format!("cannot reach the coordinator at {addr}"))?;
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let root = home.join(".cache/coalition/verify").join(run);
        Ok(PeerArtifacts {
            runtime,
            client,
            peer,
            root,
        })
    }

    fn fetch(&mut self, sha: &Hash32, max: u64, to: &Path) -> Result<Vec<u8>, String> {
        if let Ok(bytes) = std::fs::read(to) {
            if coalition_attribution::sha256(&bytes) == *sha {
                return Ok(bytes);
            }
        }
        let bytes = self
            .runtime
            .block_on(self.client.get_blob(self.peer, sha.0, max))
            .map_err(|e| {
                format!(
                    "cannot fetch {} ({sha}) from the coordinator: {e}",
                    to.display()
                )
            })?;
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(to, &bytes).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
        Ok(bytes)
    }
}

impl Artifacts for PeerArtifacts {
    fn root(&self) -> &Path {
        &self.root
    }

    fn ensure(&mut self, file: &FileRef) -> Result<PathBuf, String> {
        if file.path.is_absolute() || file.path.components().any(|c| c.as_os_str() == "..") {
            return Err(format!(
                "{} is not a path inside the run",
                file.path.display()
            ));
        }
        let to = self.root.join(&file.path);
        self.fetch(&file.sha256, file.bytes, &to)?;
        Ok(to)
    }

    fn manifest(&mut self, round: u64, sha: &Hash32) -> Result<Vec<u8>, String> {
        let to = RunDir::at(&self.root).manifest_path(round);
        self.fetch(sha, 64 << 20, &to)
    }
}

impl Drop for PeerArtifacts {
    fn drop(&mut self) {
        self.runtime.block_on(self.client.shutdown());
    }
}
