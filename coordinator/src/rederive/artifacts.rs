//! Where a reviewer's copies of the published files come from. Every file is checked against
//! the sha256 its manifest lists before it is used.

use coalition_attribution::{sha256, Hash32};
use std::path::{Path, PathBuf};

use crate::manifest::FileRef;

/// A source of a run's published files, laid out under [`Artifacts::root`] with the paths the
/// manifests give.
pub trait Artifacts {
    /// The directory the files are (or will be) under.
    fn root(&self) -> &Path;
    /// Make `file` available under the root, checked against its sha256; its local path.
    fn ensure(&mut self, file: &FileRef) -> Result<PathBuf, String>;
    /// The bytes of round `round`'s manifest, checked against `sha`.
    fn manifest(&mut self, round: u64, sha: &Hash32) -> Result<Vec<u8>, String>;
}

/// A run directory on this machine (the coordinator's, or a copy).
pub struct DirArtifacts {
    root: PathBuf,
}

impl DirArtifacts {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirArtifacts { root: root.into() }
    }
}

/// Read `path` and check its sha256.
pub fn read_checked(path: &Path, sha: &Hash32) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let got = sha256(&bytes);
    if got != *sha {
        return Err(format!(
            "{} has sha256 {got}, the manifest says {sha}",
            path.display()
        ));
    }
    Ok(bytes)
}

impl Artifacts for DirArtifacts {
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
        let path = self.root.join(&file.path);
        read_checked(&path, &file.sha256)?;
        Ok(path)
    }

    fn manifest(&mut self, round: u64, sha: &Hash32) -> Result<Vec<u8>, String> {
        let path = crate::RunDir::at(&self.root).manifest_path(round);
        read_checked(&path, sha)
    }
}
