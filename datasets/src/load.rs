//! Loading a manifest's data: read or generate the text, check its hash, tokenize, split.

use std::path::{Path, PathBuf};

use crate::corpus::Corpus;
use crate::error::{read_file, DatasetError, Result};
use crate::hashing::{check_sha256, sha256};
use crate::hub::{self, HubFile};
use crate::manifest::Manifest;
use crate::source::{HubFormat, SourceSpec};
use crate::synthetic::generate_arith;
use crate::text::{decode_utf8, parse_jsonl, SegmentedText};
use crate::tokenizer::{Tokenizer, TokenizerSpec};

/// How to find a manifest's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Use this data file instead of the manifest's `path` (or instead of fetching from the
    /// Hub). Relative to the current directory. Still checked against the manifest's sha256.
    pub path_override: Option<PathBuf>,
    /// Hugging Face hub cache directory (see [`crate::hub`] for the default).
    pub hub_cache: Option<PathBuf>,
    /// Never touch the network: hub files come only from the cache. `HF_HUB_OFFLINE=1` also sets it.
    pub offline: bool,
    /// Directory that relative paths in the manifest (`source.path`, `tokenizer.hf-json`,
    /// `tokenizer.gguf`) are resolved against. Default: the manifest file's directory; for
    /// built-in manifests, the current directory.
    pub base_dir: Option<PathBuf>,
    /// Use this tokenizer instead of the manifest's (e.g. a model's own, from its GGUF file). A
    /// relative path is relative to the current directory, like `path_override`.
    pub tokenizer_override: Option<TokenizerSpec>,
}

/// Load a dataset: its text (read, fetched or generated), tokenized and split.
pub fn load(manifest: &Manifest, options: &LoadOptions) -> Result<Corpus> {
    manifest.validate()?;
    let base = manifest.base_dir(options.base_dir.as_deref());
    let tokenizer = match &options.tokenizer_override {
        Some(spec) => Tokenizer::from_spec(spec, None)?,
        None => Tokenizer::from_spec(&manifest.tokenizer, base.as_deref())?,
    };
    let (text, source_sha256) = read_source(manifest, options, base.as_deref())?;
    Corpus::from_text(
        &manifest.name,
        &text,
        tokenizer,
        manifest.eval_fraction,
        source_sha256,
    )
}

impl Manifest {
    /// Shorthand for [`load`].
    pub fn load(&self, options: &LoadOptions) -> Result<Corpus> {
        load(self, options)
    }
}

/// The source text with its allowed cut points, and the sha256 of the source bytes.
pub fn read_source(
    manifest: &Manifest,
    options: &LoadOptions,
    base: Option<&Path>,
) -> Result<(SegmentedText, [u8; 32])> {
    let over = options.path_override.as_deref();
    match &manifest.source {
        SourceSpec::SyntheticArith {
            seed,
            lines,
            max_operand,
            ops,
        } => {
            if let Some(p) = over {
                return Err(DatasetError::BadOption {
                    dataset: manifest.name.clone(),
                    message: format!(
                        "a path override ({}) was given but source kind `synthetic-arith` reads no file",
                        p.display()
                    ),
                });
            }
            let text = generate_arith(*seed, *lines, *max_operand, ops);
            let hash = sha256(text.as_bytes());
            Ok((SegmentedText::from_lines(text), hash))
        }
        SourceSpec::Text { path, sha256 } => {
            let (path, bytes) = read_local(manifest, over, path, base)?;
            let hash = check_sha256(&path, &bytes, sha256.as_deref())?;
            Ok((SegmentedText::from_lines(decode_utf8(&path, bytes)?), hash))
        }
        SourceSpec::Jsonl {
            path,
            field,
            sha256,
        } => {
            let (path, bytes) = read_local(manifest, over, path, base)?;
            let hash = check_sha256(&path, &bytes, sha256.as_deref())?;
            let text = decode_utf8(&path, bytes)?;
            Ok((parse_jsonl(&path, &text, field)?, hash))
        }
        SourceSpec::HfHub {
            repo,
            repo_type,
            revision,
            file,
            sha256,
            format,
            field,
        } => {
            let path = match over {
                Some(p) => p.to_path_buf(),
                None => {
                    let cache = hub::cache_dir(options.hub_cache.as_deref())?;
                    let hub_file = HubFile {
                        repo: repo.clone(),
                        repo_type: *repo_type,
                        revision: revision.clone(),
                        file: file.clone(),
                    };
                    hub::fetch(
                        &hub_file,
                        &cache,
                        options.offline || hub::offline_from_env(),
                    )?
                }
            };
            let bytes = read_file("data file", &path, "")?;
            let hash = check_sha256(&path, &bytes, Some(sha256))?;
            let text = decode_utf8(&path, bytes)?;
            let segmented = match (format, field) {
                (HubFormat::Jsonl, Some(field)) => parse_jsonl(&path, &text, field)?,
                _ => SegmentedText::from_lines(text),
            };
            Ok((segmented, hash))
        }
    }
}

/// Read the override, or the manifest's path resolved against `base`.
fn read_local(
    manifest: &Manifest,
    over: Option<&Path>,
    path: &Path,
    base: Option<&Path>,
) -> Result<(PathBuf, Vec<u8>)> {
    let (resolved, hint) = match over {
        Some(p) => (p.to_path_buf(), "given as the path override".to_string()),
        None => {
            let resolved = match base {
                Some(b) if path.is_relative() => b.join(path),
                _ => path.to_path_buf(),
            };
            let against = match base {
                Some(b) => b.display().to_string(),
                None => "the current directory".to_string(),
            };
            let hint = format!(
                "{} has `source.path = {:?}` (relative paths are resolved against {against}); pass a path override to use another file",
                manifest.origin(),
                path.display().to_string(),
            );
            (resolved, hint)
        }
    };
    let bytes = read_file("data file", &resolved, &hint)?;
    Ok((resolved, bytes))
}

#[cfg(test)]
mod tests;
