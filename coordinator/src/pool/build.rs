//! Building the eval pool from `[data.eval]` (see [`coalition_config::EvalKind`]).
//!
//! * `generated`: the training manifest's generator (it must be synthetic) run with a seed
//!   derived from a 32-byte secret, `u64le(sha256("coalition/eval-pool/v1" ‖ secret)[..8])`.
//!   The secret is drawn from the OS when the run is created and kept in
//!   `runs/<name>/eval-secret.json` (mode 0600) until the run ends; then it is published.
//! * `dataset`: another manifest's text (with `data.eval.path` as its file), tokenized with the
//!   run's tokenizer.
//! * `public-split`: the held-out tail of the training text.
//!
//! `data.eval.samples` caps the pool (for `generated`, sets its size; default: enough samples
//! for every round).

use coalition_attribution::Hash32;
use coalition_config::{EvalKind, RunConfig};
use coalition_datasets::{read_source, Corpus, SampleSet, SourceSpec};
use coalition_trainer::build::{load_options, manifest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

use super::EvalPool;
use crate::error::{io, CoordinatorError, Result};
use crate::fsutil;

/// Where a generated pool's secret lives in the run directory.
pub const SECRET_FILE: &str = "eval-secret.json";

/// Domain tag of the generator seed derived from the secret.
const SEED_TAG: &[u8] = b"coalition/eval-pool/v1";

/// The 32-byte secret a generated pool's seed derives from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalSecret {
    pub secret: Hash32,
}

impl EvalSecret {
    /// The generator seed.
    pub fn generator_seed(&self) -> u64 {
        let mut h = Sha256::new();
        h.update(SEED_TAG);
        h.update(self.secret.0);
        let d: [u8; 32] = h.finalize().into();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        u64::from_le_bytes(b)
    }
}

/// Where the pool's samples came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolOrigin {
    Generated(EvalSecret),
    /// A manifest's text; the sha256 of its source bytes.
    Dataset {
        name: String,
        sha256: [u8; 32],
    },
    /// The public held-out split (its split hash).
    PublicSplit {
        split_hash: [u8; 32],
    },
}

/// Build the pool for `cfg` (whose training data is `corpus`) in `run_dir`. A generated pool's
/// secret is created when `run_dir` has none and `fresh` is set; a resumed run must find it.
pub fn build(cfg: &RunConfig, corpus: &Corpus, run_dir: &Path, fresh: bool) -> Result<EvalPool> {
    let seq = cfg.data.seq_len;
    let mut cap = cfg.data.eval.as_ref().and_then(|e| e.samples);
    let (tokens, origin) = match cfg.eval_kind() {
        EvalKind::Generated => {
            let secret = secret(run_dir, fresh)?;
            let samples = *cap.get_or_insert(cfg.training.rounds * cfg.attribution.eval_sequences);
            let tokens = generated(cfg, corpus, &secret, samples * seq + 1)?;
            (tokens, PoolOrigin::Generated(secret))
        }
        EvalKind::Dataset => private_dataset(cfg, corpus)?,
        EvalKind::PublicSplit => (
            corpus.eval.clone(),
            PoolOrigin::PublicSplit {
                split_hash: corpus.split_hash,
            },
        ),
    };
    let mut tokens = tokens;
    if let Some(n) = cap {
        tokens.truncate(n * seq + 1);
    }
    EvalPool::new(SampleSet::new(tokens, seq)?, origin)
}

/// The run's secret: read it, or draw and store it for a fresh run.
fn secret(run_dir: &Path, fresh: bool) -> Result<EvalSecret> {
    let path = run_dir.join(SECRET_FILE);
    if path.exists() {
        let bytes = std::fs::read(&path).map_err(io("read", &path))?;
        return serde_json::from_slice(&bytes).map_err(|e| CoordinatorError::BadFile {
            path,
            message: format!("not an eval secret: {e}"),
        });
    }
    if !fresh {
        return Err(CoordinatorError::BadFile {
            path,
            message: "missing: the run's eval pool was generated from this secret, so the run \
                      cannot be resumed without it"
                .into(),
        });
    }
    let secret = EvalSecret {
        secret: Hash32(rand::random()),
    };
    let json = serde_json::to_vec_pretty(&secret).unwrap_or_default();
    fsutil::write_atomic_private(&path, &json)?;
    Ok(secret)
}

/// At least `min_tokens` tokens of the training generator's text under the secret seed.
fn generated(
    cfg: &RunConfig,
    corpus: &Corpus,
    secret: &EvalSecret,
    min_tokens: usize,
) -> Result<Vec<u32>> {
    let bad = |message: String| CoordinatorError::EvalPool {
        key: "data.eval.kind",
        message,
    };
    let m = manifest(cfg, &cfg.data.dataset).map_err(|e| bad(e.to_string()))?;
    let SourceSpec::SyntheticArith {
        max_operand, ops, ..
    } = &m.source
    else {
        return Err(bad(format!(
            "\"generated\" needs a synthetic training dataset; `data.dataset = {:?}` is a {} source \
             (use kind = \"dataset\" with a private file instead)",
            cfg.data.dataset,
            m.source.kind()
        )));
    };
    let seed = secret.generator_seed();
    let mut lines = 1024usize;
    loop {
        let text = coalition_datasets::synthetic::generate_arith(seed, lines, *max_operand, ops);
        let tokens = corpus.tokenizer.encode(&text)?;
        if tokens.len() >= min_tokens || lines >= 1 << 26 {
            return Ok(tokens);
        }
        lines *= 2;
    }
}

/// A manifest's whole text (with `data.eval.path` as its file), in the run's tokens.
fn private_dataset(cfg: &RunConfig, corpus: &Corpus) -> Result<(Vec<u32>, PoolOrigin)> {
    let name = cfg
        .data
        .eval
        .as_ref()
        .and_then(|e| e.dataset.clone())
        .unwrap_or_default();
    let bad = |message: String| CoordinatorError::EvalPool {
        key: "data.eval.dataset",
        message,
    };
    let m = manifest(cfg, &name).map_err(|e| bad(e.to_string()))?;
    let opts = load_options(cfg, cfg.eval_path());
    let base = m.base_dir(opts.base_dir.as_deref());
    let (text, sha256) = read_source(&m, &opts, base.as_deref()).map_err(|e| bad(e.to_string()))?;
    let tokens = corpus.tokenizer.encode(&text.text)?;
    Ok((tokens, PoolOrigin::Dataset { name, sha256 }))
}
