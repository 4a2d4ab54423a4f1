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
//! * [`trainer_view`] is the config text trainers receive: the launched file without
//!   `[data.eval]`, the coordinator's private eval pool.
//!
//! * [`TokenizerOverride`] is `data.tokenizer`, a tokenizer that replaces the dataset manifest's.
//!
//! Sections: `[run]`, `[model]`, `[data]` (with `[data.eval]`), `[training]`, `[network]`,
//! `[attribution]`, `[rewards]`, `[observe]`. Only `[run]`, `[model]` and `[data]` are
//! required; the others have defaults documented on their fields.

mod error;
mod schema;
mod tokenizer;
mod validate;

pub use error::ConfigError;
mod trainer_view;

pub use schema::{
    AttributionSection, BroadcastCodec, CodecSettings, DataSection, Estimator, EvalKind,
    EvalSection, ModelKind, ModelSection, NetworkSection, ObserveSection, RewardsSection,
    RunConfig, RunSection, TrainingSection, UpdateCodec,
};
pub use tokenizer::TokenizerOverride;
pub use trainer_view::trainer_view;
