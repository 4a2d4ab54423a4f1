//! The inner optimisation loop a trainer runs: AdamW steps on its batches, and evaluation.

use coalition_model::{AdamW, AdamWParams, Llama};
use std::time::Instant;

use crate::batches::TokenBatch;
use crate::schedule::LrSchedule;
use crate::TrainerError;

/// What one step did.
#[derive(Debug, Clone, Copy)]
pub struct StepStats {
    pub step: usize,
    pub loss: f32,
    pub lr: f64,
    pub grad_norm: f64,
    pub tokens: usize,
    pub seconds: f64,
}

/// A model with its optimiser state and schedule. The optimiser state stays with the trainer
/// across rounds (DiLoCo keeps inner AdamW state local).
pub struct InnerTrainer {
    pub model: Llama,
    pub opt: AdamW,
    pub schedule: LrSchedule,
    pub grad_clip: f64,
    step: usize,
}

impl InnerTrainer {
    pub fn new(model: Llama, hp: AdamWParams, schedule: LrSchedule, grad_clip: f64) -> Self {
        let opt = AdamW::new(model.params(), hp);
        Self {
            model,
            opt,
            schedule,
            grad_clip,
            step: 0,
        }
    }

    /// Steps taken so far (the position in the learning-rate schedule).
    pub fn steps(&self) -> usize {
        self.step
    }

    /// Move to position `step` of the learning-rate schedule (a trainer joining at round r
    /// continues the run's schedule instead of warming up again).
    pub fn set_step(&mut self, step: usize) {
        self.step = step;
    }

    /// One AdamW step on `batch`. A non-finite loss is refused before it can reach the weights.
    pub fn step(&mut self, batch: &TokenBatch) -> Result<StepStats, TrainerError> {
        let start = Instant::now();
        let x = self.model.ids_tensor(&batch.inputs)?;
        let y = self.model.ids_tensor(&batch.targets)?;
        let loss = self.model.loss(&x, &y)?;
        let loss_value = loss.to_scalar::<f32>()?;
        if !loss_value.is_finite() {
            return Err(TrainerError::Diverged {
                step: self.step,
                loss: loss_value,
            });
        }
        let grads = loss.backward()?;
        let lr = self.schedule.at(self.step);
        self.opt.params.lr = lr;
        let grad_norm = self.opt.step(self.model.params(), &grads, self.grad_clip)?;
        self.step += 1;
        Ok(StepStats {
            step: self.step,
            loss: loss_value,
            lr,
            grad_norm,
            tokens: batch.tokens(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Mean token cross-entropy (nats) over `batches`, weighted by tokens.
    pub fn eval_loss(&self, batches: &[TokenBatch]) -> Result<f64, TrainerError> {
        eval_loss(&self.model, batches)
    }
}

/// Mean token cross-entropy (nats) of `model` over `batches`, weighted by tokens.
pub fn eval_loss(model: &Llama, batches: &[TokenBatch]) -> Result<f64, TrainerError> {
    let mut total = 0f64;
    let mut tokens = 0usize;
    for b in batches {
        let x = model.ids_tensor(&b.inputs)?;
        let y = model.ids_tensor(&b.targets)?;
        let l = model.loss(&x, &y)?.to_scalar::<f32>()? as f64;
        total += l * b.tokens() as f64;
        tokens += b.tokens();
    }
    Ok(if tokens == 0 {
        f64::NAN
    } else {
        total / tokens as f64
    })
}
