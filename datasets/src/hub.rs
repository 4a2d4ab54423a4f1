//! Fetching one file from the Hugging Face Hub with `hf-hub`, or finding it in the local
//! hub cache when offline.
//!
//! The cache has the Hub's usual layout:
//! `<cache>/datasets--owner--name/refs/<revision>` holds a commit hash and the file lives at
//! `<cache>/datasets--owner--name/snapshots/<commit>/<file>` (`models--...` for model repos).
//! The cache directory is [`crate::LoadOptions::hub_cache`], else `$HF_HUB_CACHE`, else
//! `$HF_HOME/hub`, else `$HOME/.cache/huggingface/hub`.
//! Offline mode ([`crate::LoadOptions::offline`] or `HF_HUB_OFFLINE=1`) reads only the cache;
//! a revision that is a 40-hex commit is also looked up directly under `snapshots/`.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use crate::error::{DatasetError, Result};
use crate::source::HubRepoType;

/// One file in one repository at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    pub repo: String,
    pub repo_type: HubRepoType,
    pub revision: String,
    pub file: String,
}

impl HubFile {
    fn hf_repo(&self) -> Repo {
        let repo_type = match self.repo_type {
            HubRepoType::Dataset => RepoType::Dataset,
            HubRepoType::Model => RepoType::Model,
        };
        Repo::with_revision(self.repo.clone(), repo_type, self.revision.clone())
    }

    /// `<cache>/datasets--owner--name`.
    pub fn repo_dir(&self, cache: &Path) -> PathBuf {
        cache.join(self.hf_repo().folder_name())
    }

    fn error(&self, cache: &Path, message: String) -> DatasetError {
        let repo_type = match self.repo_type {
            HubRepoType::Dataset => "dataset",
            HubRepoType::Model => "model",
        };
        DatasetError::Hub {
            target: format!(
                "{} from hub {repo_type} repo {} at revision {}",
                self.file, self.repo, self.revision
            ),
            cache: cache.to_path_buf(),
            message,
        }
    }
}

/// The hub cache directory: `explicit`, else from the environment (see the module docs).
pub fn cache_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("HF_HUB_CACHE")
        .or_else(|| env("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| env("HOME").map(|h| h.join(".cache").join("huggingface").join("hub")))
        .ok_or(DatasetError::NoHubCache)
}

/// True when `HF_HUB_OFFLINE` is set to `1`/`true`/`yes`/`on`.
pub fn offline_from_env() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// Local path of the file: from the cache when `offline`, else via the Hub API (which also
/// answers from the cache when the revision's file is already there).
pub fn fetch(file: &HubFile, cache: &Path, offline: bool) -> Result<PathBuf> {
    if offline {
        return find_in_cache(file, cache);
    }
    let mut builder = ApiBuilder::from_cache(Cache::new(cache.to_path_buf())).with_progress(false);
    if let Some(endpoint) = std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()) {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(token) = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty()) {
        builder = builder.with_token(Some(token));
    }
    let api = builder
        .build()
        .map_err(|e| file.error(cache, format!("cannot build the hub client: {e}")))?;
    api.repo(file.hf_repo()).get(&file.file).map_err(|e| {
        file.error(
            cache,
            format!("{e} (set offline mode to use only the cache)"),
        )
    })
}

/// Offline lookup in the cache, saying every place it looked.
pub fn find_in_cache(file: &HubFile, cache: &Path) -> Result<PathBuf> {
    if let Some(path) = Cache::new(cache.to_path_buf())
        .repo(file.hf_repo())
        .get(&file.file)
    {
        return Ok(path);
    }
    let repo_dir = file.repo_dir(cache);
    let ref_path = repo_dir.join("refs").join(&file.revision);
    let mut looked_in = vec![ref_path.clone()];
    // A ref written with a trailing newline, or a revision that is itself a commit hash.
    let mut commits = Vec::new();
    if let Ok(commit) = std::fs::read_to_string(&ref_path) {
        commits.push(commit.trim().to_string());
    }
    if file.revision.len() == 40 && file.revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        commits.push(file.revision.clone());
    }
    for commit in commits {
        let candidate = repo_dir.join("snapshots").join(commit).join(&file.file);
        if candidate.is_file() {
            return Ok(candidate);
        }
        looked_in.push(candidate);
    }
    if looked_in.len() == 1 {
        looked_in.push(repo_dir.join("snapshots").join("<commit>").join(&file.file));
    }
    Err(DatasetError::NotFound {
        what: format!("hub file {} in {} (offline)", file.file, file.repo),
        looked_in,
        hint: "; download it once online, or pass a local path".to_string(),
    })
}

/// Test helper: write `bytes` as `file` into a hub cache at `cache`, with `refs/<revision>`
/// pointing at `commit`. Returns the snapshot path.
#[cfg(test)]
pub(crate) fn write_cache_entry(
    cache: &Path,
    file: &HubFile,
    commit: &str,
    bytes: &[u8],
) -> PathBuf {
    let repo_dir = file.repo_dir(cache);
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::write(repo_dir.join("refs").join(&file.revision), commit).unwrap();
    let path = repo_dir.join("snapshots").join(commit).join(&file.file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn file() -> HubFile {
        HubFile {
            repo: "someone/corpus".into(),
            repo_type: HubRepoType::Dataset,
            revision: "main".into(),
            file: "data/input.txt".into(),
        }
    }

    #[test]
    fn offline_finds_the_snapshot_through_refs() {
        let cache = tempfile::tempdir().unwrap();
        let written = write_cache_entry(cache.path(), &file(), COMMIT, b"hello\n");
        assert!(written.starts_with(cache.path().join("datasets--someone--corpus/snapshots")));
        assert_eq!(fetch(&file(), cache.path(), true).unwrap(), written);
    }

    #[test]
    fn online_client_answers_from_the_cache_without_network() {
        let cache = tempfile::tempdir().unwrap();
        let written = write_cache_entry(cache.path(), &file(), COMMIT, b"hello\n");
        assert_eq!(fetch(&file(), cache.path(), false).unwrap(), written);
    }

    #[test]
    fn offline_accepts_commit_revisions_and_newline_refs() {
        let cache = tempfile::tempdir().unwrap();
        let written = write_cache_entry(cache.path(), &file(), COMMIT, b"x");
        let by_commit = HubFile {
            revision: COMMIT.into(),
            ..file()
        };
        assert_eq!(find_in_cache(&by_commit, cache.path()).unwrap(), written);
        std::fs::write(
            file().repo_dir(cache.path()).join("refs/main"),
            format!("{COMMIT}\n"),
        )
        .unwrap();
        assert_eq!(find_in_cache(&file(), cache.path()).unwrap(), written);
    }

    #[test]
    fn offline_miss_says_where_it_looked() {
        let cache = tempfile::tempdir().unwrap();
        let model = HubFile {
            repo_type: HubRepoType::Model,
            ..file()
        };
        let e = fetch(&model, cache.path(), true).unwrap_err().to_string();
        assert!(e.contains("models--someone--corpus/refs/main"), "{e}");
        assert!(e.contains("snapshots/<commit>/data/input.txt"), "{e}");
        assert!(e.contains("offline"), "{e}");
    }

    #[test]
    fn explicit_cache_dir_wins() {
        assert_eq!(
            cache_dir(Some(Path::new("/x/y"))).unwrap(),
            PathBuf::from("/x/y")
        );
    }
}
