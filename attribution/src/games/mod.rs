//! Reference games with closed-form Shapley values, used by the tests and the accuracy bench
//! (and handy for trying the estimators).

mod airport;
mod glove;
mod majority;
mod quadratic;

pub use airport::AirportGame;
pub use glove::GloveGame;
pub use majority::WeightedMajority;
pub use quadratic::QuadraticGame;
