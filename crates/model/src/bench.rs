//! The training-throughput benchmark behind `coalition bench train` and
//! `cargo run --release -p coalition-model --example bench_train`: two fixed shapes we compare
//! with PyTorch on the same cores (`scripts/bench_pytorch.py` builds the same two), timed per
//! phase (forward, backward, AdamW). Returns JSON lines; asserts nothing about time.

use candle_core::{Device, Tensor};
use serde_json::json;
use std::time::Instant;

use crate::{AdamW, AdamWParams, Llama, LlamaConfig, Mlp, MlpConfig, ParamStore, Result};

/// Name of the MLP shape (784-256-256-10, batch 128).
pub const MLP: &str = "mlp-784-256-256-10-b128";
/// Name of the Llama shape (d_model 256, 4 layers, 8 heads, ffn 768, seq 128, batch 16,
/// vocab 76).
pub const LM: &str = "llama-d256-l4-h8-ffn768-s128-b16-v76";

#[derive(Default)]
struct Phases {
    forward: f64,
    backward: f64,
    optimizer: f64,
}

impl Phases {
    fn json(&self, model: &str, steps: usize, tokens_per_step: usize, params: usize) -> String {
        let total = self.forward + self.backward + self.optimizer;
        let per = |x: f64| 1e3 * x / steps as f64;
        json!({
            "bench": "train",
            "model": model,
            "parameters": params,
            "steps": steps,
            "steps_per_s": steps as f64 / total,
            "tokens_per_s": (steps * tokens_per_step) as f64 / total,
            "forward_ms": per(self.forward),
            "backward_ms": per(self.backward),
            "optimizer_ms": per(self.optimizer),
            "threads": rayon_threads(),
            "profile": if cfg!(debug_assertions) { "dev" } else { "release" },
        })
        .to_string()
    }
}

/// The thread count rayon uses (`RAYON_NUM_THREADS`, else every core).
pub fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Time `steps` steps of `loss → backward → AdamW`.
fn time_steps(
    steps: usize,
    warmup: usize,
    store: &ParamStore,
    loss: &dyn Fn() -> candle_core::Result<Tensor>,
) -> Result<Phases> {
    let mut opt = AdamW::new(store, AdamWParams::default());
    let mut phases = Phases::default();
    for i in 0..warmup + steps {
        let t0 = Instant::now();
        let l = loss()?;
        let t1 = Instant::now();
        let grads = l.backward()?;
        let t2 = Instant::now();
        opt.step(store, &grads, 1.0)?;
        let t3 = Instant::now();
        if i >= warmup {
            phases.forward += (t1 - t0).as_secs_f64();
            phases.backward += (t2 - t1).as_secs_f64();
            phases.optimizer += (t3 - t2).as_secs_f64();
        }
    }
    Ok(phases)
}

/// `steps` timed steps (after `warmup`) of the MLP shape, as one JSON line.
pub fn mlp(steps: usize, warmup: usize) -> Result<String> {
    let dev = Device::Cpu;
    let model = Mlp::new_random(
        &MlpConfig {
            dims: vec![784, 256, 256, 10],
        },
        0,
        &dev,
    )?;
    let batch = 128;
    let x: Vec<f32> = (0..batch * 784)
        .map(|i| ((i * 2_654_435_761usize) % 1000) as f32 / 1000.0)
        .collect();
    let x = Tensor::from_vec(x, (batch, 784), &dev)?;
    let y: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
    let y = Tensor::from_vec(y, batch, &dev)?;
    let phases = time_steps(steps, warmup, model.params(), &|| model.loss(&x, &y))?;
    Ok(phases.json(MLP, steps, batch, model.params().num_elements()))
}

/// `steps` timed steps (after `warmup`) of the Llama shape, as one JSON line.
pub fn lm(steps: usize, warmup: usize) -> Result<String> {
    let dev = Device::Cpu;
    let cfg = LlamaConfig {
        vocab_size: 76,
        hidden_size: 256,
        intermediate_size: 768,
        num_hidden_layers: 4,
        num_attention_heads: 8,
        num_key_value_heads: Some(8),
        max_position_embeddings: 128,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        tie_word_embeddings: false,
    };
    let model = Llama::new_random(&cfg, 0.02, 0, &dev)?;
    let (b, t) = (16usize, 128usize);
    let rows = |off: usize| -> Vec<Vec<u32>> {
        (0..b)
            .map(|i| {
                (0..t)
                    .map(|j| ((i * 131 + (j + off) * 17) % 76) as u32)
                    .collect()
            })
            .collect()
    };
    let x = model.ids_tensor(&rows(0))?;
    let y = model.ids_tensor(&rows(1))?;
    let phases = time_steps(steps, warmup, model.params(), &|| model.loss(&x, &y))?;
    Ok(phases.json(LM, steps, b * t, model.params().num_elements()))
}
