//! Datasets for coalition: manifests, sources, tokenizers, the train/eval split and
//! deterministic sharding.
//!
//! A dataset is described by a small TOML [`Manifest`] (the shipped ones live in
//! `datasets/manifests/` and are embedded, see [`Manifest::builtin`]). [`load`] turns a manifest
//! into a [`Corpus`]:
//!
//! 1. the source text is generated ([`synthetic`]: `417+38=455` lines from a seed), read from a
//!    local text or JSON-lines file ([`text`]), or fetched from the Hugging Face Hub / its cache
//!    ([`hub`]); file bytes are checked against the manifest's sha256 when it pins one;
//! 2. the text is cut once, on a line (or record) boundary, so its last `eval_fraction` is the
//!    eval split ([`corpus`]);
//! 3. each side is tokenized ([`Tokenizer::Byte`], a Hugging Face `tokenizer.json`, or the
//!    byte-level BPE tokenizer in a GGUF model file's metadata; [`LoadOptions::tokenizer_override`]
//!    replaces the manifest's) and the split is recorded as a hash ([`hashing::split_hash`]).
//!
//! Training consumes fixed-length windows ([`SampleSet`]) handed out by a [`Sharder`]: from
//! (run seed, epoch, round, trainer slot) to batches of sample indices, such that no sample is
//! assigned twice in an epoch and anyone can recompute who trained on what. Every random choice
//! uses ChaCha20 with our own, documented sampling ([`rng`]), so results do not drift with
//! `rand` versions.
//!
//! ```
//! use coalition_datasets::{load, LoadOptions, Manifest, SampleSet, Sharder};
//! let corpus = load(&Manifest::builtin("synthetic-arith")?, &LoadOptions::default())?;
//! let samples = SampleSet::new(corpus.train.clone(), 32)?;
//! let sharder = Sharder::new(7, samples.len(), 8, 2, 4)?;
//! let (epoch, round) = sharder.locate_round(0);
//! let batches = sharder.batches(epoch, round, 1)?; // slot 1's 4 batches of 8 samples
//! let (inputs, targets) = samples.batch(&batches[0])?;
//! assert_eq!(inputs.len(), 8 * 32);
//! assert!(corpus.unigram_baseline_nats() > 0.0);
//! # Ok::<(), coalition_datasets::DatasetError>(())
//! ```
//!
//! Every error is a [`DatasetError`] naming the file, key, line or value at fault; missing
//! files say where they were looked for.

mod builtin;
pub mod corpus;
pub mod error;
pub mod hashing;
pub mod hub;
mod load;
pub mod manifest;
pub mod rng;
pub mod samples;
pub mod shard;
pub mod source;
pub mod synthetic;
pub mod text;
pub mod tokenizer;

pub use corpus::Corpus;
pub use error::{DatasetError, Result};
pub use load::{load, read_source, LoadOptions};
pub use manifest::Manifest;
pub use samples::SampleSet;
pub use shard::{choose_indices, round_position, Sharder};
pub use source::{HubFormat, HubRepoType, SourceSpec};
pub use tokenizer::{Tokenizer, TokenizerSpec};
