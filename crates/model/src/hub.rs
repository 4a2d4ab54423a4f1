//! Resolve a Llama checkpoint on the Hugging Face Hub into local files with `hf-hub`,
//! online (downloads into the cache) or offline (the cache only).

use hf_hub::{Cache, Repo, RepoType};
use std::path::{Path, PathBuf};

use crate::checkpoint::{shard_files, CONFIG_FILE, INDEX_FILE, WEIGHTS_FILE};
use crate::{ModelError, Result};

/// A Hub model reference: `owner/name` and a revision (branch, tag or commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubModel {
    pub repo: String,
    pub revision: String,
}

impl HubModel {
    /// Parse `owner/name` or `owner/name@revision` (an optional `hf:` prefix is accepted).
    pub fn parse(spec: &str) -> Result<Self> {
        let s = spec.strip_prefix("hf:").unwrap_or(spec);
        let (repo, revision) = match s.split_once('@') {
            Some((r, rev)) => (r, rev),
            None => (s, "main"),
        };
        let valid = repo.split('/').count() == 2
            && repo.split('/').all(|p| !p.is_empty())
            && !revision.is_empty();
        if !valid {
            return Err(ModelError::Hub(format!(
                "{spec:?} is not a Hub model reference (expected owner/name or owner/name@revision)"
            )));
        }
        Ok(Self {
            repo: repo.to_string(),
            revision: revision.to_string(),
        })
    }

    fn repo(&self) -> Repo {
        Repo::with_revision(self.repo.clone(), RepoType::Model, self.revision.clone())
    }
}

/// Files of a resolved checkpoint: its config and its weight files (all in one snapshot dir).
#[derive(Debug, Clone)]
pub struct HubFiles {
    pub config: PathBuf,
    pub weights: Vec<PathBuf>,
}

/// Resolve `model` to local files. With `offline`, only the cache at `cache_dir` (or the
/// default `~/.cache/huggingface/hub`) is consulted; otherwise missing files are downloaded.
pub fn resolve(model: &HubModel, cache_dir: Option<&Path>, offline: bool) -> Result<HubFiles> {
    let cache = match cache_dir {
        Some(d) => Cache::new(d.to_path_buf()),
        None => Cache::from_env(),
    };
    if offline {
        let repo = cache.repo(model.repo());
        let not_cached = |file: &str| {
            ModelError::Hub(format!(
                "{file} of {}@{} is not in the Hub cache at {} (offline mode)",
                model.repo,
                model.revision,
                cache.path().display()
            ))
        };
        let config = repo
            .get(CONFIG_FILE)
            .ok_or_else(|| not_cached(CONFIG_FILE))?;
        let weights = match repo.get(WEIGHTS_FILE) {
            Some(w) => vec![w],
            None => {
                let index = repo
                    .get(INDEX_FILE)
                    .ok_or_else(|| not_cached(WEIGHTS_FILE))?;
                shard_files(&index)?
            }
        };
        return Ok(HubFiles { config, weights });
    }
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache)
        .with_progress(true)
        .build()
        .map_err(|e| ModelError::Hub(e.to_string()))?;
    let repo = api.repo(model.repo());
    let fetch = |file: &str| {
        repo.get(file).map_err(|e| {
            ModelError::Hub(format!("{file} of {}@{}: {e}", model.repo, model.revision))
        })
    };
    let config = fetch(CONFIG_FILE)?;
    let weights = match fetch(WEIGHTS_FILE) {
        Ok(w) => vec![w],
        Err(single_err) => {
            let index = fetch(INDEX_FILE).map_err(|_| single_err)?;
            let mut out = Vec::new();
            for shard in shard_files(&index)? {
                let name = shard.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
                    ModelError::Hub(format!("bad shard name {}", shard.display()))
                })?;
                out.push(fetch(name)?);
            }
            out
        }
    };
    Ok(HubFiles { config, weights })
}
