//! Errors from building and running training.

#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    #[error(transparent)]
    Model(#[from] coalition_model::ModelError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Dataset(#[from] coalition_datasets::DatasetError),
    #[error("update encoding: {0}")]
    Codec(#[from] coalition_net::codec::CodecError),
    #[error("network: {0}")]
    Net(Box<coalition_net::NetError>),
    #[error("the coordinator refused: {0}")]
    Rejected(String),
    #[error("the coordinator does not know this node (it may have restarted): {0}")]
    NotJoined(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("config {path}: {message}")]
    Config {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("training diverged at step {step}: loss is {loss}")]
    Diverged { step: usize, loss: f32 },
    /// A simulated dropout (`Behavior::Dropout`) left the run in round `round`.
    #[error("dropped out in round {round} (simulated)")]
    DroppedOut { round: u64 },
}

impl From<coalition_net::NetError> for TrainerError {
    fn from(e: coalition_net::NetError) -> Self {
        TrainerError::Net(Box::new(e))
    }
}

impl TrainerError {
    /// Whether redialling the coordinator may fix this.
    pub fn is_connection(&self) -> bool {
        matches!(self, TrainerError::Net(_) | TrainerError::NotJoined(_))
    }
}
