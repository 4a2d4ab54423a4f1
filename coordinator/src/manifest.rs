//! A round's manifest (`manifests/round-N.json`): every artifact a reviewer needs to re-derive
//! the round, each named by its path in the run directory, its sha256 and its length. Its own
//! sha256 is journaled (`RoundCommitted`) and recorded in the Round account, so one on-chain
//! hash pins them all; the coordinator serves every listed file read-only over
//! `/coalition/blob/1` by its sha256.
//!
//! What it lists:
//! - `config`: the launched config (its sha256 is the run's config hash);
//! - `before` / `after`: the checkpoint files of θ_r and θ_{r+1} (Hugging Face layout plus the
//!   outer momentum), with the model hashes (`params_hash` of the flat f32 weights);
//! - `updates`: every frame received, in arrival order, accepted or not, with what the
//!   pre-filter did to it (its player index, weight p_i, clip factor and the earlier updates it
//!   was projected off as a near-copy; or the refusal reason; or whom it copied),
//!   and the pre-filter's inputs carried from the previous round (`prev_median`);
//! - `eval`: the pool commitment, how many samples earlier rounds revealed, and the reveal file;
//! - `report`: the attribution report;
//! - `secret`: a generated eval pool's secret, in the run's last manifest only.

use coalition_attribution::Hash32;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::{io, CoordinatorError, Result};
use crate::journal::PoolCommitment;
use crate::rundir::RunDir;

/// Format string of [`Manifest`].
pub const MANIFEST_FORMAT: &str = "coalition-manifest/v1";

/// One file: where it is in the run directory, its sha256 and length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    pub path: PathBuf,
    pub sha256: Hash32,
    pub bytes: u64,
}

impl FileRef {
    /// Hash the file at `path` (inside `dir`; recorded relative to it).
    pub fn of(dir: &RunDir, path: &Path) -> Result<FileRef> {
        let bytes = std::fs::read(path).map_err(io("read", path))?;
        Ok(FileRef {
            path: dir.relative(path),
            sha256: coalition_attribution::sha256(&bytes),
            bytes: bytes.len() as u64,
        })
    }
}

/// A checkpoint: the model hash and its files (config.json, model.safetensors,
/// outer.safetensors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRef {
    pub model_hash: Hash32,
    pub files: Vec<FileRef>,
}

/// What the pre-filter did with a frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum UpdateStatus {
    /// Scored as player `player` with aggregation weight `weight`, after scaling by `clip`
    /// (1.0 when not clipped) and removing its components along the updates of
    /// `projected_off` (a near-copy of theirs).
    Accepted {
        player: u32,
        weight: f32,
        clip: f32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        projected_off: Vec<String>,
    },
    Rejected {
        reason: String,
    },
    Duplicate {
        of: String,
    },
}

/// One received frame (serde cannot refuse unknown fields beside a flattened enum).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRef {
    /// The trainer's wallet (base58).
    pub trainer: String,
    /// Tokens its assignment covered (the weights' input).
    pub tokens: u64,
    /// Its data slot: players are scored in slot order.
    pub slot: u32,
    pub frame: FileRef,
    #[serde(flatten)]
    pub status: UpdateStatus,
}

/// The eval pool facts of a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalRef {
    pub pool: PoolCommitment,
    /// Samples revealed by earlier rounds (the draw excludes them).
    pub revealed_before: u64,
    pub reveal: FileRef,
}

/// A round's manifest (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub run_id: String,
    pub round: u64,
    pub config: FileRef,
    pub before: CheckpointRef,
    pub after: CheckpointRef,
    pub updates: Vec<UpdateRef>,
    /// The previous round's median update norm the pre-filter used (f64 bits as hex), if any.
    #[serde(with = "opt_f64_hex")]
    pub prev_median: Option<f64>,
    /// The median norm this round carries to the next one (this round's, else `prev_median`).
    #[serde(with = "opt_f64_hex")]
    pub next_median: Option<f64>,
    pub eval: EvalRef,
    pub report: FileRef,
    /// A generated eval pool's secret (the run's last manifest only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Hash32>,
    /// The compressed broadcast of θ_{r+1} − θ_r (`broadcasts/round-N.bin`): θ_{r+1} is
    /// θ_r plus this frame decoded. Absent with `training.broadcast_codec = "full"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<FileRef>,
}

impl Manifest {
    /// Every file the manifest lists.
    pub fn files(&self) -> Vec<&FileRef> {
        let mut out = vec![&self.config];
        out.extend(&self.before.files);
        out.extend(&self.after.files);
        out.extend(self.updates.iter().map(|u| &u.frame));
        out.push(&self.eval.reveal);
        out.push(&self.report);
        out.extend(&self.broadcast);
        out
    }

    /// Canonical bytes (pretty JSON); their sha256 is the manifest hash.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain data: serialising cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Parse, refusing unknown fields and other formats; `what` names the source in errors.
    pub fn from_bytes(bytes: &[u8], what: &Path) -> Result<Manifest> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| CoordinatorError::BadFile {
            path: what.to_path_buf(),
            message: format!("not a round manifest: {e}"),
        })?;
        if m.format != MANIFEST_FORMAT {
            return Err(CoordinatorError::BadFile {
                path: what.to_path_buf(),
                message: format!("format {:?}, expected {MANIFEST_FORMAT:?}", m.format),
            });
        }
        Ok(m)
    }
}

/// What `Work` offers a trainer holding the model `base` (θ_r): the broadcast `frame` that
/// takes it to θ_{r+1}.
pub fn broadcast_offer(base: Hash32, frame: &FileRef) -> coalition_net::Broadcast {
    coalition_net::Broadcast {
        base_hash: base.0,
        frame_hash: frame.sha256.0,
        frame_bytes: frame.bytes,
    }
}

/// The files round `round` published, as (sha256, absolute path): its manifest and every file
/// the manifest lists. Empty when the round has no manifest.
pub fn published_files(dir: &RunDir, round: u64) -> Result<Vec<(Hash32, PathBuf)>> {
    let path = dir.manifest_path(round);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let bytes = std::fs::read(&path).map_err(io("read", &path))?;
    let manifest = Manifest::from_bytes(&bytes, &path)?;
    let mut out = vec![(coalition_attribution::sha256(&bytes), path)];
    out.extend(
        manifest
            .files()
            .into_iter()
            .map(|f| (f.sha256, dir.resolve(&f.path))),
    );
    Ok(out)
}

mod opt_f64_hex {
    use coalition_attribution::{f64_from_hex, f64_to_hex};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match x {
            Some(v) => s.serialize_some(&f64_to_hex(*v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| f64_from_hex(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}
