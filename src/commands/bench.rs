//! `coalition bench ...`: throughput figures as JSON lines (no assertions on time).

use anyhow::Result;
use candle_core::{Device, Tensor};
use coalition_model::{AdamW, AdamWParams, Llama, LlamaConfig, Mlp, MlpConfig};
use serde_json::json;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum Which {
    /// Training throughput (steps/s, tokens/s, and where the time goes) for two fixed shapes
    /// we compare against PyTorch on the same cores: MLP 784-256-256-10 (batch 128) and a
    /// Llama decoder (d_model 256, 4 layers, 8 heads, ffn 768, seq 128, batch 16, vocab 76),
    /// both with AdamW.
    Train {
        /// Timed steps per model (after warm-up steps).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Untimed warm-up steps.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Only these models (`mlp`, `lm`); default both.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Figures of a finished (or running) distributed run read from its run directory: bytes
    /// per trainer per round on the wire, uploaded and downloaded (control messages, the model
    /// broadcast and update frames), against fp32 data-parallel training over the same optimizer
    /// steps (4P bytes up and 4P down per step), and attribution seconds per round with their
    /// share of the round time. E.g. `coalition bench run runs/demo` after `coalition demo`.
    Run {
        /// The run directory (runs/<name>).
        dir: std::path::PathBuf,
    },
}

pub fn run(which: &Which) -> Result<ExitCode> {
    match which {
        Which::Train {
            steps,
            warmup,
            only,
        } => {
            let wants = |m: &str| only.is_empty() || only.iter().any(|o| o == m);
            if wants("mlp") {
                println!("{}", bench_mlp(*steps, *warmup)?);
            }
            if wants("lm") {
                println!("{}", bench_lm(*steps, *warmup)?);
            }
        }
        Which::Run { dir } => super::bench_run::bench_run(dir)?,
    }
    Ok(ExitCode::SUCCESS)
}

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
        })
        .to_string()
    }
}

fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Time `steps` steps of `loss → backward → AdamW`.
fn time_steps(
    steps: usize,
    warmup: usize,
    store: &coalition_model::ParamStore,
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

fn bench_mlp(steps: usize, warmup: usize) -> Result<String> {
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
    Ok(phases.json(
        "mlp-784-256-256-10-b128",
        steps,
        batch,
        model.params().num_elements(),
    ))
}

fn bench_lm(steps: usize, warmup: usize) -> Result<String> {
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
    Ok(phases.json(
        "llama-d256-l4-h8-ffn768-s128-b16-v76",
        steps,
        b * t,
        model.params().num_elements(),
    ))
}
