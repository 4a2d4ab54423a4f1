//! The TOML schema. Every struct rejects unknown keys; defaults are documented per field.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

use crate::{ConfigError, TokenizerOverride};

/// A whole run config, as read from one TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub run: RunSection,
    pub model: ModelSection,
    pub data: DataSection,
    #[serde(default)]
    pub training: TrainingSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub attribution: AttributionSection,
    #[serde(default)]
    pub rewards: RewardsSection,
    #[serde(default)]
    pub observe: ObserveSection,
    /// Where the file was read from (not a TOML key).
    #[serde(skip)]
    pub source_path: PathBuf,
    /// sha256 of the file's bytes (not a TOML key).
    #[serde(skip)]
    pub source_hash: [u8; 32],
}

/// `[run]`: identity of the run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// Run name: letters, digits, `-` and `_`; names the run directory `runs/<name>/`.
    pub name: String,
    /// Seed for initialisation, data order and attribution sampling.
    #[serde(default)]
    pub seed: u64,
}

/// Which architecture `[model]` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Llama-style decoder: RMSNorm, RoPE, SwiGLU, causal attention.
    Llama,
}

/// `[model]`: the architecture (Hugging Face Llama names for the sizes).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    pub kind: ModelKind,
    /// Vocabulary size; defaults to the tokenizer's.
    pub vocab_size: Option<usize>,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    /// Key/value heads (grouped-query attention); defaults to `num_heads`.
    pub num_kv_heads: Option<usize>,
    /// Longest sequence the RoPE tables cover; defaults to `data.seq_len`.
    pub max_seq_len: Option<usize>,
    #[serde(default = "default_rms_eps")]
    pub rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default)]
    pub tie_embeddings: bool,
    /// Standard deviation of the normal initialisation.
    #[serde(default = "default_init_std")]
    pub init_std: f64,
    /// Seed the run from a checkpoint: a local directory with config.json + model.safetensors,
    /// or `hf:owner/name[@revision]` resolved through the Hugging Face Hub cache.
    pub init_from: Option<String>,
}

/// `[data]`: which dataset and how it is cut into samples.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// A built-in dataset manifest name (e.g. `synthetic-arith`) or a path to a manifest TOML.
    pub dataset: String,
    /// Local file to use instead of the manifest's source (still sha256-checked if the
    /// manifest records a hash). Relative paths are resolved against the config's directory.
    pub path: Option<PathBuf>,
    /// Hugging Face Hub cache directory (default: the hub's own default).
    pub hub_cache: Option<PathBuf>,
    /// Never touch the network; only use files already in the cache.
    #[serde(default)]
    pub offline: bool,
    /// Tokenizer replacing the dataset manifest's: `"gguf:PATH"` (the byte-level BPE tokenizer in
    /// a GGUF model file's metadata; relative to the config's directory) or `"byte"`. Absent: the
    /// manifest's. Read it through [`RunConfig::data_tokenizer`].
    pub tokenizer: Option<String>,
    /// Tokens per training sample.
    pub seq_len: usize,
    /// `[data.eval]`: the coordinator's held-out pool that scores every round. Never sent to
    /// trainers. Absent: the held-out tail of the training text (`kind = "public-split"`).
    pub eval: Option<EvalSection>,
}

/// Where the eval pool comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvalKind {
    /// The run's own generator (a synthetic dataset) with a secret seed the coordinator draws
    /// when the run is created and reveals when it ends.
    Generated,
    /// Another dataset (a manifest, optionally with a local file) that only the coordinator
    /// holds.
    Dataset,
    /// The held-out tail of the training text. Trainers have that text: they can train on the
    /// eval pool and inflate their own scores. For trusted trainers or experiments only.
    PublicSplit,
}

/// `[data.eval]`: the eval pool (see [`EvalKind`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    pub kind: EvalKind,
    /// `kind = "dataset"`: a built-in manifest name or a path to a manifest TOML.
    pub dataset: Option<String>,
    /// `kind = "dataset"`: a local file instead of the manifest's source (relative to the
    /// config file).
    pub path: Option<PathBuf>,
    /// Pool size in samples (token windows of `data.seq_len + 1`). `generated`: this many are
    /// generated (default: enough for every round); otherwise at most this many are used
    /// (default: all). Each sample scores at most one round.
    pub samples: Option<usize>,
}

/// `[training]`: inner (local) optimiser, outer optimiser and schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingSection {
    /// Sequences per inner step.
    pub batch_size: usize,
    /// Inner AdamW steps per round (H). H = 1 with outer SGD lr 1.0 is gradient averaging.
    pub inner_steps: usize,
    /// Rounds to run (`train-local` runs `rounds * inner_steps` steps).
    pub rounds: usize,
    pub lr: f64,
    pub min_lr: f64,
    pub warmup_steps: usize,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Clip the global gradient norm to this value (0 disables).
    pub grad_clip: f64,
    /// Outer (Nesterov SGD) learning rate; DiLoCo default 0.7.
    pub outer_lr: f64,
    /// Outer momentum; DiLoCo default 0.9.
    pub outer_momentum: f64,
    pub nesterov: bool,
    /// Evaluate every this many inner steps in `train-local` (0: only at the end).
    pub eval_every: usize,
    /// Eval batches (of `batch_size` sequences) per evaluation.
    pub eval_batches: usize,
    /// How trainers encode their updates: `int8` (blockwise int8 + zstd, the default) or
    /// `sparse` (top-k per block with 2-4-bit values, SparseLoCo-style). Either way the
    /// encoder keeps error feedback; the coordinator decodes both.
    pub codec: UpdateCodec,
    /// Values per codec block. Default: 256 for int8 (1..=1048576), 4096 for sparse
    /// (1..=65536).
    pub codec_block_size: Option<u32>,
    /// sparse only: share of each block sent, in parts per million (1..=1000000, at least one
    /// entry per block). Default 15625: 64 of every 4096 values.
    pub codec_topk_ppm: Option<u32>,
    /// sparse only: bits per sent value, sign included (2..=4). Default 2.
    pub codec_bits: Option<u8>,
    /// How the coordinator sends each round's new model to trainers that hold the previous
    /// one: `full` (the default: the whole model every round), `int8` (θ_{r+1} − θ_r as an int8
    /// frame, block `codec_block_size`, with the coordinator's own error feedback, and θ_{r+1}
    /// defined as θ_r plus the decoded frame, so every trainer rebuilds the same bits), or
    /// `sparse` (the same with the sparse codec). Trainers that join late or fall out of step
    /// download the whole model either way. The compressed broadcasts cut a demo trainer's
    /// download 3x but ended demos about 4% higher in eval loss on average in our measurements
    /// (docs/PERFORMANCE.md), so they are opt-in until that is understood.
    pub broadcast_codec: BroadcastCodec,
}

/// The broadcast codec named by `training.broadcast_codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BroadcastCodec {
    /// The whole model as raw f32, every round.
    #[default]
    Full,
    /// θ_{r+1} − θ_r as blockwise int8 + zstd.
    Int8,
    /// θ_{r+1} − θ_r as top-k per block with low-bit values.
    Sparse,
}

/// The update codec named by `training.codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateCodec {
    /// Blockwise int8 with an f32 scale per block, then zstd.
    #[default]
    Int8,
    /// Top-k per block, low-bit values, Rice-coded positions.
    Sparse,
}

/// `training.codec` and its parameters with defaults filled in (see [`TrainingSection::codec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecSettings {
    Int8 {
        block_size: u32,
    },
    Sparse {
        block_size: u32,
        topk_ppm: u32,
        bits: u8,
    },
}

/// `codec_block_size` for int8 when unset.
const INT8_BLOCK: u32 = 256;
/// The sparse codec's parameters when unset: 64 of every 4096 values, 2 bits.
const SPARSE_BLOCK: u32 = 4096;
const SPARSE_TOPK_PPM: u32 = 15_625;
const SPARSE_BITS: u8 = 2;

impl TrainingSection {
    /// The codec and its parameters, defaults filled in.
    pub fn codec_settings(&self) -> CodecSettings {
        match self.codec {
            UpdateCodec::Int8 => CodecSettings::Int8 {
                block_size: self.codec_block_size.unwrap_or(INT8_BLOCK),
            },
            UpdateCodec::Sparse => CodecSettings::Sparse {
                block_size: self.codec_block_size.unwrap_or(SPARSE_BLOCK),
                topk_ppm: self.codec_topk_ppm.unwrap_or(SPARSE_TOPK_PPM),
                bits: self.codec_bits.unwrap_or(SPARSE_BITS),
            },
        }
    }

    /// The broadcast codec and its parameters (None: the whole model every round).
    pub fn broadcast_settings(&self) -> Option<CodecSettings> {
        match (self.broadcast_codec, self.codec_settings()) {
            (BroadcastCodec::Full, _) => None,
            (BroadcastCodec::Int8, CodecSettings::Int8 { block_size }) => {
                Some(CodecSettings::Int8 { block_size })
            }
            (BroadcastCodec::Int8, CodecSettings::Sparse { .. }) => Some(CodecSettings::Int8 {
                block_size: INT8_BLOCK,
            }),
            (BroadcastCodec::Sparse, sparse @ CodecSettings::Sparse { .. }) => Some(sparse),
            (BroadcastCodec::Sparse, CodecSettings::Int8 { .. }) => Some(CodecSettings::Sparse {
                block_size: SPARSE_BLOCK,
                topk_ppm: SPARSE_TOPK_PPM,
                bits: SPARSE_BITS,
            }),
        }
    }
}

/// `[network]`: libp2p listen addresses, limits and deadlines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    pub listen: Vec<String>,
    /// Request-response timeout (libp2p's default of 10 s is too short for large models).
    pub request_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    /// Cap on one control message.
    pub max_message_bytes: usize,
    /// Cap on one blob (checkpoint or update).
    pub max_blob_bytes: u64,
    pub join_window_secs: u64,
    pub round_deadline_secs: u64,
    pub min_trainers: usize,
    pub max_trainers: usize,
    /// Wallet public keys (base58) allowed to join; empty means open admission.
    pub allowlist: Vec<String>,
    /// A participant that misses this many rounds in a row (no update by the deadline) is
    /// evicted: disconnected and its slot freed. It may join again.
    pub evict_after_missed: u32,
    /// Joins accepted from one peer per minute (a reconnecting trainer needs a few).
    pub joins_per_peer_per_minute: u32,
    /// Once three quarters of a round's participants have submitted, the round closes when
    /// `straggler_factor ×` the median submitter's time has passed (at least 5 s), rather than
    /// waiting for the deadline. 0 disables the cutoff.
    pub straggler_factor: f64,
}

/// Which Shapley estimator scores a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Estimator {
    Auto,
    Exact,
    Permutation,
    IntegratedGradients,
}

/// `[attribution]`: how each round's contributions are scored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributionSection {
    pub estimator: Estimator,
    /// Largest player count the exact estimator accepts.
    pub max_exact_players: usize,
    /// Permutation sampling stops when every standard error < tolerance * |v(N)|.
    pub tolerance: f64,
    /// Hard cap on coalition evaluations per round.
    pub max_evaluations: usize,
    /// Gauss–Legendre points for integrated gradients.
    pub ig_points: usize,
    /// Sequences in the round's eval batch.
    pub eval_sequences: usize,
    /// Clip each update's norm to `clip_multiplier * median norm`.
    pub clip_multiplier: f64,
    /// Updates with cosine similarity above this in one round are merged (the later one is
    /// left out).
    pub duplicate_cosine: f64,
    /// An update with cosine similarity above this with an earlier one in the round keeps only
    /// its orthogonal part (a near-copy); above this with an update or outer step of the last
    /// `replay_window` rounds, it is refused as a replay.
    pub copy_cosine: f64,
    /// Rounds whose published updates and outer steps a new update is compared with.
    pub replay_window: u64,
    /// A round pays only when v(N) exceeds this (nats).
    pub noise_threshold: f64,
    /// Aggregate only updates whose score is non-negative.
    pub aggregate_nonnegative_only: bool,
    /// Rounds whose update frames stay on disk (and are served) for re-verification;
    /// 0 keeps the whole run.
    pub verification_window: u64,
}

/// `[rewards]`: token rewards per round and which ledger records them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RewardsSection {
    /// Reward tokens (base units) paid per round.
    pub per_round: u64,
    /// Where rounds are recorded: `embedded` (an in-process test validator whose ledger lives
    /// in the run directory), `localnet`, `devnet`, `mainnet-beta`, an http(s) JSON-RPC URL, or
    /// `none` (record nothing on chain; reports are still written).
    pub cluster: String,
    /// Registry program id (base58). Required on real clusters (where you deployed the ELF);
    /// `embedded` loads the ELF at a fixed id unless this is set.
    pub program_id: Option<String>,
    /// solana-cli JSON keypair of the run authority (pays fees, records rounds). Required on
    /// real clusters; `embedded` keeps one in the run directory (`authority.json`). Relative
    /// paths are relative to the config file.
    pub authority_keypair: Option<PathBuf>,
    /// SPL mint of the reward token (base58). Unset: the coordinator creates a mint with the
    /// authority as mint authority and mints each round's reward into the vault. Set: the
    /// authority's token account of this mint funds the vault.
    pub mint: Option<String>,
}

/// `[observe]`: the coordinator's dashboard and Prometheus metrics (off by default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObserveSection {
    /// Serve the live dashboard (`/`), its JSON (`/api/run`, `/api/rounds`) and `/metrics` on
    /// this TCP address, e.g. `"127.0.0.1:9300"`. Unset: no HTTP server. Everything it shows
    /// is about the run, not secrets, but bind to a public interface only on purpose.
    pub http: Option<String>,
}

impl ObserveSection {
    /// The parsed `http` address (validation has checked it parses).
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.as_deref().and_then(|a| a.parse().ok())
    }
}

fn default_rms_eps() -> f64 {
    1e-5
}
fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_init_std() -> f64 {
    0.02
}

impl Default for TrainingSection {
    fn default() -> Self {
        Self {
            batch_size: 16,
            inner_steps: 50,
            rounds: 10,
            lr: 3e-3,
            min_lr: 3e-4,
            warmup_steps: 20,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            grad_clip: 1.0,
            outer_lr: 0.7,
            outer_momentum: 0.9,
            nesterov: true,
            eval_every: 50,
            eval_batches: 4,
            codec: UpdateCodec::Int8,
            codec_block_size: None,
            codec_topk_ppm: None,
            codec_bits: None,
            broadcast_codec: BroadcastCodec::Full,
        }
    }
}

impl Default for NetworkSection {
    fn default() -> Self {
        Self {
            listen: vec![
                "/ip4/127.0.0.1/tcp/0".to_string(),
                "/ip4/127.0.0.1/udp/0/quic-v1".to_string(),
            ],
            request_timeout_secs: 120,
            idle_timeout_secs: 600,
            max_message_bytes: 1 << 20,
            max_blob_bytes: 1 << 30,
            join_window_secs: 10,
            round_deadline_secs: 300,
            min_trainers: 1,
            max_trainers: 64,
            allowlist: Vec::new(),
            evict_after_missed: 2,
            joins_per_peer_per_minute: 6,
            straggler_factor: 2.0,
        }
    }
}

impl Default for AttributionSection {
    fn default() -> Self {
        Self {
            estimator: Estimator::Auto,
            max_exact_players: 12,
            tolerance: 0.01,
            max_evaluations: 2048,
            ig_points: 4,
            eval_sequences: 32,
            clip_multiplier: 3.0,
            duplicate_cosine: 0.999,
            copy_cosine: 0.995,
            replay_window: 4,
            noise_threshold: 1e-4,
            aggregate_nonnegative_only: false,
            verification_window: 0,
        }
    }
}

impl Default for RewardsSection {
    fn default() -> Self {
        Self {
            per_round: 1_000_000,
            cluster: "embedded".to_string(),
            program_id: None,
            authority_keypair: None,
            mint: None,
        }
    }
}

impl RunConfig {
    /// Read, parse and validate a config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: format!("not UTF-8: {e}"),
        })?;
        let mut cfg = Self::from_toml_str(&text, path)?;
        cfg.source_hash = Sha256::digest(&bytes).into();
        Ok(cfg)
    }

    /// Parse and validate TOML text; `path` is used in error messages and to resolve
    /// relative paths.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut cfg: RunConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.source_path = path.to_path_buf();
        cfg.source_hash = Sha256::digest(text.as_bytes()).into();
        cfg.validate()?;
        Ok(cfg)
    }

    /// sha256 of the config file's bytes, hex.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.source_hash)
    }

    /// Directory relative paths in this config are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.source_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// `data.path` resolved against the config's directory.
    pub fn data_path(&self) -> Option<PathBuf> {
        self.data.path.as_ref().map(|p| self.base_dir().join(p))
    }

    /// `data.tokenizer`, with a relative GGUF path resolved against the config's directory.
    /// `None` when the key is absent (a config that did not pass validation, which
    /// [`RunConfig::from_file`] and [`RunConfig::from_toml_str`] never return, reads as absent).
    pub fn data_tokenizer(&self) -> Option<TokenizerOverride> {
        let parsed = TokenizerOverride::parse(self.data.tokenizer.as_deref()?).ok()?;
        Some(match parsed {
            TokenizerOverride::Gguf(p) => TokenizerOverride::Gguf(self.base_dir().join(p)),
            other => other,
        })
    }

    /// The eval pool's kind (`public-split` when `[data.eval]` is absent).
    pub fn eval_kind(&self) -> EvalKind {
        self.data
            .eval
            .as_ref()
            .map_or(EvalKind::PublicSplit, |e| e.kind)
    }

    /// `data.eval.path` resolved against the config's directory.
    pub fn eval_path(&self) -> Option<PathBuf> {
        let e = self.data.eval.as_ref()?;
        e.path.as_ref().map(|p| self.base_dir().join(p))
    }

    /// Why this run's eval pool is public text that trainers can read (and so train on), or
    /// `None` when the pool is the coordinator's own.
    pub fn public_eval_pool(&self) -> Option<String> {
        let eval = self.data.eval.as_ref();
        match self.eval_kind() {
            EvalKind::Generated => None,
            EvalKind::PublicSplit => Some(format!(
                "the eval pool is the held-out tail of `data.dataset = {:?}`, which every trainer loads",
                self.data.dataset
            )),
            EvalKind::Dataset => {
                let dataset = eval.and_then(|e| e.dataset.as_deref()).unwrap_or_default();
                let private_file = eval.is_some_and(|e| e.path.is_some());
                let same = dataset == self.data.dataset && eval.and_then(|e| e.path.as_ref()) == self.data.path.as_ref();
                if same {
                    Some(format!("`data.eval.dataset = {dataset:?}` is the training data itself"))
                } else if private_file {
                    None
                } else {
                    Some(format!(
                        "`data.eval.dataset = {dataset:?}` is a published dataset without a private `data.eval.path`"
                    ))
                }
            }
        }
    }

    /// Total inner steps a single-process run takes.
    pub fn total_steps(&self) -> usize {
        self.training.rounds * self.training.inner_steps
    }

    /// Key/value heads, defaulted.
    pub fn num_kv_heads(&self) -> usize {
        self.model.num_kv_heads.unwrap_or(self.model.num_heads)
    }

    /// RoPE table length, defaulted.
    pub fn max_seq_len(&self) -> usize {
        self.model.max_seq_len.unwrap_or(self.data.seq_len)
    }
}
