//! The Llama feed-forward block: `down(silu(gate(x)) * up(x))`.

use candle_core::Tensor;

use crate::linear::linear;
use crate::params::{Fill, InitState, ParamStore};
use crate::Result;

#[derive(Debug, Clone)]
pub struct SwiGlu {
    gate: Tensor,
    up: Tensor,
    down: Tensor,
}

impl SwiGlu {
    pub fn new(
        store: &mut ParamStore,
        init: &mut InitState<'_>,
        name: &str,
        hidden: usize,
        ffn: usize,
        std: f64,
        out_std: f64,
    ) -> Result<Self> {
        let gate = store.register(
            init,
            &format!("{name}.gate_proj.weight"),
            &[ffn, hidden],
            Fill::Normal(std),
        )?;
        let up = store.register(
            init,
            &format!("{name}.up_proj.weight"),
            &[ffn, hidden],
            Fill::Normal(std),
        )?;
        let down = store.register(
            init,
            &format!("{name}.down_proj.weight"),
            &[hidden, ffn],
            Fill::Normal(out_std),
        )?;
        Ok(Self { gate, up, down })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        // Tensor::silu has a backward in candle-core (unlike the fused nn ops).
        let silu = linear(x, &self.gate)?.silu()?;
        linear(&(silu * linear(x, &self.up)?)?, &self.down)
    }
}
