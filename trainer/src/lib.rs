//! The trainer side of coalition: local inner training on an assigned data shard.
//!
//! * [`build`]: turn a run config into a model (seeded random init, a checkpoint directory, or
//!   a Hugging Face Hub checkpoint) and a tokenised corpus.
//! * [`InnerTrainer`]: AdamW steps with warmup + cosine learning rate, global-norm clipping,
//!   and evaluation; its optimiser state persists across rounds.
//! * [`train_local`]: the single-process run behind `coalition train-local` — the same inner
//!   loop a trainer node runs each round, over `rounds × inner_steps` steps, with periodic
//!   evaluation, progress callbacks and a final checkpoint.

pub mod batches;
pub mod build;
mod error;
mod inner;
pub mod leak;
mod local;
pub mod node;
pub mod round;
mod schedule;
pub mod thief;

pub use error::TrainerError;
pub use inner::{eval_loss, InnerTrainer, StepStats};
pub use local::{train_local, LocalOptions, LocalReport, Observer};
pub use schedule::LrSchedule;
