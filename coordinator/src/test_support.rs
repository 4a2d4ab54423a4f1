//! Shared fixtures for the crate's tests: a tiny Llama and hand-made token batches.

use candle_core::{DType, Device};
use coalition_model::{Llama, LlamaConfig};
use coalition_trainer::batches::TokenBatch;

pub const VOCAB: usize = 12;

pub fn tiny_config() -> LlamaConfig {
    LlamaConfig {
        vocab_size: VOCAB,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: None,
        max_position_embeddings: 16,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        tie_word_embeddings: false,
    }
}

pub fn tiny_model(seed: u64) -> Llama {
    Llama::new_random(&tiny_config(), 0.2, seed, &Device::Cpu).expect("tiny model")
}

pub fn tiny_model_f64(seed: u64) -> Llama {
    Llama::new_random_dtype(&tiny_config(), 0.2, seed, &Device::Cpu, DType::F64)
        .expect("tiny model")
}

/// Tokens of the "counting" language: each token is the previous plus `step` (mod VOCAB).
pub fn counting(rows: usize, len: usize, step: u32, offset: u32) -> TokenBatch {
    let v = VOCAB as u32;
    let row = |r: u32| -> Vec<u32> {
        (0..=len as u32)
            .map(|j| (offset + r * 5 + j * step) % v)
            .collect()
    };
    let windows: Vec<Vec<u32>> = (0..rows as u32).map(row).collect();
    TokenBatch {
        inputs: windows.iter().map(|w| w[..len].to_vec()).collect(),
        targets: windows.iter().map(|w| w[1..].to_vec()).collect(),
    }
}

/// The token stream of the counting language (for a held-out `SampleSet`).
pub fn counting_stream(len: usize, step: u32) -> Vec<u32> {
    (0..len as u32).map(|j| (j * step) % VOCAB as u32).collect()
}
