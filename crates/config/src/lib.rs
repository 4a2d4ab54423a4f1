//! Run configuration for coalition.
//!
//! A run is launched from one TOML file (see `configs/` in the repository). This crate owns its
//! schema and its validation, so every binary and test reads configs the same way:
//!
//! * [`RunConfig::from_file`] parses a file, rejects unknown keys anywhere, checks every range,
//!   and returns a [`ConfigError`] that names the file and the offending key.
//! * [`RunConfig::hash`] is the sha256 of the file's bytes as launched, recorded by the
//!   coordinator and on chain.
//!
//! Sections: `[run]`, `[model]`, `[data]`, `[training]`, `[network]`, `[attribution]`,
//! `[rewards]`. Only `[run]`, `[model]` and `[data]` are required; the others have defaults
//! documented on their fields.

mod error;
mod schema;
mod validate;

pub use error::ConfigError;
pub use schema::{
    AttributionSection, CodecSettings, DataSection, Estimator, ModelKind, ModelSection,
    NetworkSection, RewardsSection, RunConfig, RunSection, TrainingSection, UpdateCodec,
};
