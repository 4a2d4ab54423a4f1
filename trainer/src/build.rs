//! From a run config to a model and a tokenised corpus.

use candle_core::Device;
use coalition_config::{CodecSettings, RunConfig, TokenizerOverride};
use coalition_datasets::{Corpus, LoadOptions, Manifest, TokenizerSpec};
use coalition_model::hub::{resolve, HubModel};
use coalition_model::{checkpoint, Llama, LlamaConfig};
use std::path::PathBuf;

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
        tokenizer_override: cfg.data_tokenizer().map(|t| match t {
            TokenizerOverride::Byte => TokenizerSpec::Byte,
            TokenizerOverride::Gguf(p) => TokenizerSpec::Gguf(p),
        }),
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

/// Build the initial model: from `model.init_from` when set (a checkpoint directory,
/// `hf:owner/name[@rev]` or `gguf:PATH`), otherwise seeded random weights.
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
        checkpoint::load_llama_spec(init, &cfg.base_dir(), dev)?
    };
    let mismatch = checkpoint_mismatch(model.config(), &wanted, cfg.data.seq_len);
    if !mismatch.is_empty() {
        return Err(TrainerError::Config {
            path: cfg.source_path.clone(),
            message: format!(
                "key `model.init_from`: checkpoint {init} does not fit the config ({}); trainers \
                 build the model from the config, so `[model]` must describe the checkpoint",
                mismatch.join("; ")
            ),
        });
    }
    Ok(model)
}

/// Where a loaded checkpoint's architecture differs from the one the config describes (which
/// is what trainers build): one `key: config vs checkpoint` item per difference. The
/// checkpoint may cover more positions than the run needs.
fn checkpoint_mismatch(got: &LlamaConfig, wanted: &LlamaConfig, seq_len: usize) -> Vec<String> {
    type Field = fn(&LlamaConfig) -> String;
    let keys: [(&str, Field); 8] = [
        ("hidden_size", |c| c.hidden_size.to_string()),
        ("intermediate_size", |c| c.intermediate_size.to_string()),
        ("num_layers", |c| c.num_hidden_layers.to_string()),
        ("num_heads", |c| c.num_attention_heads.to_string()),
        ("num_kv_heads", |c| c.kv_heads().to_string()),
        ("rms_norm_eps", |c| c.rms_norm_eps.to_string()),
        ("rope_theta", |c| c.rope_theta.to_string()),
        ("tie_embeddings", |c| c.tie_word_embeddings.to_string()),
    ];
    let mut out: Vec<String> = keys
        .iter()
        .filter(|(_, field)| field(wanted) != field(got))
        .map(|(key, field)| {
            format!(
                "`model.{key}` = {}, the checkpoint has {}",
                field(wanted),
                field(got)
            )
        })
        .collect();
    if wanted.vocab_size != got.vocab_size {
        out.push(format!(
            "the tokenizer's vocabulary (or `model.vocab_size`) is {}, the checkpoint's {}: set \
             `model.vocab_size` or `data.tokenizer` to match",
            wanted.vocab_size, got.vocab_size
        ));
    }
    if got.max_position_embeddings < seq_len {
        out.push(format!(
            "`data.seq_len` = {seq_len}, the checkpoint covers {} positions",
            got.max_position_embeddings
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LlamaConfig {
        LlamaConfig {
            vocab_size: 100,
            hidden_size: 16,
            intermediate_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: Some(2),
            max_position_embeddings: 64,
            rms_norm_eps: 1e-5,
            rope_theta: 10_000.0,
            tie_word_embeddings: true,
        }
    }

    #[test]
    fn a_checkpoint_must_match_the_config_key_by_key() {
        assert!(checkpoint_mismatch(&cfg(), &cfg(), 64).is_empty());
        let got = LlamaConfig {
            rope_theta: 100_000.0,
            vocab_size: 200,
            max_position_embeddings: 32,
            ..cfg()
        };
        let m = checkpoint_mismatch(&got, &cfg(), 64);
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(
            m[0],
            "`model.rope_theta` = 10000, the checkpoint has 100000"
        );
        assert!(m[1].contains("vocabulary") && m[1].contains("200"), "{m:?}");
        assert!(m[2].contains("`data.seq_len` = 64") && m[2].contains("32 positions"));
    }
}
