//! From a run config to a model and a tokenised corpus.

use candle_core::Device;
use coalition_config::{CodecSettings, RunConfig};
use coalition_datasets::{Corpus, LoadOptions, Manifest};
use coalition_model::hub::{resolve, HubModel};
use coalition_model::{checkpoint, Llama, LlamaConfig};
use std::path::{Path, PathBuf};

use crate::TrainerError;

/// Where to look for Hub files, and whether the network may be used.
#[derive(Debug, Clone, Default)]
pub struct HubOptions {
    pub cache: Option<PathBuf>,
    pub offline: bool,
}

/// The update codec `training.codec` selects, with its parameters.
pub fn codec(cfg: &RunConfig) -> coalition_net::CodecSpec {
    codec_spec(cfg.training.codec_settings())
}

/// The coordinator's broadcast codec (`training.broadcast_codec`; None: the whole model).
pub fn broadcast_codec(cfg: &RunConfig) -> Option<coalition_net::CodecSpec> {
    cfg.training.broadcast_settings().map(codec_spec)
}

/// A codec as the net crate takes it.
pub fn codec_spec(settings: CodecSettings) -> coalition_net::CodecSpec {
    match settings {
        CodecSettings::Int8 { block_size } => coalition_net::CodecSpec::Int8 { block_size },
        CodecSettings::Sparse {
            block_size,
            topk_ppm,
            bits,
        } => coalition_net::CodecSpec::Sparse(coalition_net::SparseSpec {
            block_size,
            topk_ppm,
            bits,
        }),
    }
}

/// Load and tokenise the config's dataset.
pub fn corpus(cfg: &RunConfig) -> Result<Corpus, TrainerError> {
    let manifest = manifest(cfg, &cfg.data.dataset)?;
    Ok(coalition_datasets::load(
        &manifest,
        &load_options(cfg, cfg.data_path()),
    )?)
}

/// The manifest `name` refers to in `cfg`: a path to a manifest TOML (relative to the config
/// file) or a built-in name.
pub fn manifest(cfg: &RunConfig, name: &str) -> Result<Manifest, TrainerError> {
    let as_path = cfg.base_dir().join(name);
    Ok(if name.ends_with(".toml") && as_path.is_file() {
        Manifest::from_file(&as_path)?
    } else {
        Manifest::resolve(name)?
    })
}

/// How the config's data files are found, with `path_override` replacing a manifest's source.
pub fn load_options(cfg: &RunConfig, path_override: Option<PathBuf>) -> LoadOptions {
    LoadOptions {
        path_override,
        hub_cache: cfg.data.hub_cache.as_ref().map(|p| cfg.base_dir().join(p)),
        offline: cfg.data.offline,
        base_dir: Some(cfg.base_dir()),
    }
}

/// The model architecture the config describes, for a tokenizer of `vocab` tokens.
pub fn llama_config(cfg: &RunConfig, vocab: usize) -> Result<LlamaConfig, TrainerError> {
    let m = &cfg.model;
    let vocab_size = m.vocab_size.unwrap_or(vocab);
    if vocab_size < vocab {
        return Err(TrainerError::Config {
            path: cfg.source_path.clone(),
            message: format!(
                "key `model.vocab_size`: {vocab_size} is smaller than the tokenizer's vocabulary ({vocab})"
            ),
        });
    }
    Ok(LlamaConfig {
        vocab_size,
        hidden_size: m.hidden_size,
        intermediate_size: m.intermediate_size,
        num_hidden_layers: m.num_layers,
        num_attention_heads: m.num_heads,
        num_key_value_heads: Some(cfg.num_kv_heads()),
        max_position_embeddings: cfg.max_seq_len(),
        rms_norm_eps: m.rms_norm_eps,
        rope_theta: m.rope_theta,
        tie_word_embeddings: m.tie_embeddings,
    })
}

/// Build the initial model: from `model.init_from` when set (a checkpoint directory or
/// `hf:owner/name[@rev]`), otherwise seeded random weights.
pub fn initial_model(
    cfg: &RunConfig,
    vocab: usize,
    hub: &HubOptions,
    dev: &Device,
) -> Result<Llama, TrainerError> {
    let wanted = llama_config(cfg, vocab)?;
    let Some(init) = &cfg.model.init_from else {
        return Ok(Llama::new_random(
            &wanted,
            cfg.model.init_std,
            cfg.run.seed,
            dev,
        )?);
    };
    let model = if init.starts_with("hf:") {
        let files = resolve(&HubModel::parse(init)?, hub.cache.as_deref(), hub.offline)?;
        checkpoint::load_llama_files(&files.config, &files.weights, dev)?
    } else {
        let dir = cfg.base_dir().join(init);
        checkpoint::load_llama(Path::new(&dir), dev)?
    };
    let got = model.config();
    let fits = got.vocab_size >= vocab
        && got.max_position_embeddings >= cfg.data.seq_len
        && got.hidden_size == wanted.hidden_size
        && got.num_hidden_layers == wanted.num_hidden_layers;
    if !fits {
        return Err(TrainerError::Config {
            path: cfg.source_path.clone(),
            message: format!(
                "key `model.init_from`: checkpoint {init} has hidden_size {}, {} layers, vocab {}, \
                 {} positions; the config needs hidden_size {}, {} layers, vocab >= {vocab}, >= {} positions",
                got.hidden_size,
                got.num_hidden_layers,
                got.vocab_size,
                got.max_position_embeddings,
                wanted.hidden_size,
                wanted.num_hidden_layers,
                cfg.data.seq_len
            ),
        });
    }
    Ok(model)
}
