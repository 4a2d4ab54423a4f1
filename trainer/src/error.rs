//! Errors from building and running training.

#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    #[error(transparent)]
    Model(#[from] coalition_model::ModelError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Dataset(#[from] coalition_datasets::DatasetError),
    #[error("config {path}: {message}")]
    Config {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("training diverged at step {step}: loss is {loss}")]
    Diverged { step: usize, loss: f32 },
}
