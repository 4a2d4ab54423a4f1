//! The coordinator as a network service: admission, the round lifecycle with a join window and
//! a deadline per round, work assignment, update collection over libp2p, and the blocking
//! round close ([`engine::Engine::close_round`]) run off the async threads.
//!
//! Lifecycle of round r: *gathering* (wait until `network.min_trainers` are connected, or
//! `network.join_window_secs` passed with at least one) → *open* (`RoundOpened` journaled;
//! participants fetch θ_r by hash, train, upload and submit) → closed when every participant
//! submitted, every missing one disconnected, or the deadline passed (stragglers are left out of
//! this round only) → *scoring* (blocking) → committed; then round r + 1. A round in which no
//! update survives the pre-filter is run again. Trainers that connect mid-round wait and join
//! the next round (elastic membership).

pub mod blobs;
pub mod engine;
mod run;
mod startup;

pub use engine::{Outcome, RoundSummary, Row};
pub use run::{run, RunSummary, ServiceError, ServiceObserver, ServiceOptions};
