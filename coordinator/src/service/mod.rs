//! The coordinator as a network service: admission, the round lifecycle with a join window and
//! a deadline per round, work assignment, update collection over libp2p, and the blocking
//! round close run off the async threads.
//!
//! Lifecycle of round r: *gathering* (wait until `network.min_trainers` are connected, or
//! `network.join_window_secs` passed with at least one) → *open* (`RoundOpened` journaled;
//! participants fetch θ_r by hash, train, upload and submit) → closed when every participant
//! submitted, every missing one disconnected, or the deadline passed (stragglers are left out of
//! this round only) → *scoring* (blocking) → committed; then round r + 1. A round in which no
//! update survives the pre-filter is run again. Trainers that connect mid-round wait and join
//! the next round (elastic membership).
//!
//! Where each part lives:
//! - [`run()`] (run.rs): start-up, the network, the event loop;
//! - startup.rs: the run directory, the journal replay ([`crate::RecoveredState`]), θ_r;
//! - handlers.rs: the control protocol's requests (join, work, submit, leave, status);
//! - lifecycle.rs: gathering → open → close (a [`ScoringJob`]) → scored;
//! - [`engine`]: the state a round close needs, and `Engine::close_round`;
//! - close.rs: its phases — screen (decode + pre-filter), score, commit;
//! - [`blobs`]: the blob store (the served model, uploads held until submitted).

pub mod blobs;
mod close;
pub mod engine;
mod error;
mod handlers;
mod identity;
mod lifecycle;
mod options;
mod publish;
mod run;
pub mod startup;
mod state;

pub use close::{published_content, sort_by_slot, Frame, Scored, Screened};
pub use engine::{Outcome, RoundSummary, Row};
pub use error::ServiceError;
pub use identity::NODE_KEY_FILE;
pub use options::{RunSummary, ServiceObserver, ServiceOptions};
pub use run::run;
pub use startup::{open as open_run, Placement, Started};
pub use state::ScoringJob;
