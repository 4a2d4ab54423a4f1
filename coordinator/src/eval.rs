//! Eval loss, and its gradient with respect to the flat parameter vector.
//!
//! L_eval is the mean token cross-entropy (nats) over the round's eval batches, weighted by
//! tokens — the same quantity as the trainer's `eval_loss`. Both functions evaluate the
//! model's *current* parameters; the round game loads θ^S into the model before calling them.

use candle_core::DType;
use coalition_model::Llama;
use coalition_trainer::batches::TokenBatch;

use crate::error::{CoordinatorError, Result};

fn total_tokens(batches: &[TokenBatch]) -> Result<usize> {
    let tokens: usize = batches.iter().map(TokenBatch::tokens).sum();
    if tokens == 0 {
        return Err(CoordinatorError::Invalid {
            name: "eval batches",
            value: format!("{} batches", batches.len()),
            reason: "the eval set has no tokens".into(),
        });
    }
    Ok(tokens)
}

fn batch_loss(model: &Llama, b: &TokenBatch) -> Result<candle_core::Tensor> {
    let x = model.ids_tensor(&b.inputs)?;
    let y = model.ids_tensor(&b.targets)?;
    Ok(model.loss(&x, &y)?)
}

fn scalar(t: &candle_core::Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

/// Mean token cross-entropy of `model` over `batches`.
pub fn eval_loss(model: &Llama, batches: &[TokenBatch]) -> Result<f64> {
    let tokens = total_tokens(batches)?;
    let mut total = 0f64;
    for b in batches {
        total += scalar(&batch_loss(model, b)?)? * b.tokens() as f64;
    }
    Ok(total / tokens as f64)
}

/// [`eval_loss`] and its gradient ∇_θ L_eval, flattened in parameter order (f64).
/// A parameter that receives no gradient contributes zeros.
pub fn eval_loss_and_grad(model: &Llama, batches: &[TokenBatch]) -> Result<(f64, Vec<f64>)> {
    let tokens = total_tokens(batches)?;
    let store = model.params();
    let mut grad = vec![0f64; store.num_elements()];
    let mut total = 0f64;
    for b in batches {
        let loss = batch_loss(model, b)?;
        let w = b.tokens() as f64 / tokens as f64;
        total += scalar(&loss)? * b.tokens() as f64;
        let grads = loss.backward()?;
        let mut offset = 0;
        for p in store.params() {
            let n = p.var.elem_count();
            if let Some(g) = grads.get(p.var.as_tensor()) {
                let g: Vec<f64> = g.flatten_all()?.to_dtype(DType::F64)?.to_vec1()?;
                for (acc, x) in grad[offset..offset + n].iter_mut().zip(g) {
                    *acc += w * x;
                }
            }
            offset += n;
        }
    }
    Ok((total / tokens as f64, grad))
}
