//! The errors that stop the coordinator service.

/// Errors that stop the coordinator.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Core(#[from] crate::CoordinatorError),
    #[error(transparent)]
    Trainer(#[from] coalition_trainer::TrainerError),
    #[error(transparent)]
    Model(#[from] coalition_model::ModelError),
    #[error(transparent)]
    Dataset(#[from] coalition_datasets::DatasetError),
    #[error("network: {0}")]
    Net(Box<coalition_net::NetError>),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<coalition_net::NetError> for ServiceError {
    fn from(e: coalition_net::NetError) -> Self {
        ServiceError::Net(Box::new(e))
    }
}
