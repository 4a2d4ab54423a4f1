//! A multi-layer perceptron classifier (ReLU between layers), used for fast tests and the
//! MLP throughput benchmark.

use candle_core::{Device, Tensor};

use crate::config::MlpConfig;
use crate::linear::linear_bias;
use crate::loss::cross_entropy;
use crate::params::{Fill, Init, InitState, ParamStore};
use crate::{ModelError, Result};

#[derive(Debug)]
pub struct Mlp {
    layers: Vec<(Tensor, Tensor)>,
    store: ParamStore,
}

impl Mlp {
    /// Seeded random weights, std `1/sqrt(fan_in)` (so ReLU activations keep their scale).
    pub fn new_random(cfg: &MlpConfig, seed: u64, dev: &Device) -> Result<Self> {
        if cfg.dims.len() < 2 || cfg.dims.contains(&0) {
            return Err(ModelError::Config(format!(
                "MLP needs at least two positive layer sizes, got {:?}",
                cfg.dims
            )));
        }
        let mut store = ParamStore::new(dev);
        let mut init = InitState::new(Init::Random { seed });
        let mut layers = Vec::new();
        for (i, pair) in cfg.dims.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let std = (2.0 / fan_in as f64).sqrt();
            let w = store.register(
                &mut init,
                &format!("layers.{i}.weight"),
                &[fan_out, fan_in],
                Fill::Normal(std),
            )?;
            let b = store.register(
                &mut init,
                &format!("layers.{i}.bias"),
                &[fan_out],
                Fill::Zeros,
            )?;
            layers.push((w, b));
        }
        Ok(Self { layers, store })
    }

    pub fn params(&self) -> &ParamStore {
        &self.store
    }

    /// Logits `[batch, classes]` for inputs `[batch, dims[0]]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let last = self.layers.len().saturating_sub(1);
        for (i, (w, b)) in self.layers.iter().enumerate() {
            h = linear_bias(&h, w, b)?;
            if i < last {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// Mean cross-entropy against class ids `[batch]` (u32).
    pub fn loss(&self, x: &Tensor, labels: &Tensor) -> candle_core::Result<Tensor> {
        cross_entropy(&self.forward(x)?, labels)
    }
}
