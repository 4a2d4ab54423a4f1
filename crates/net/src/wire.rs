//! The control protocol's messages: the one definition both the coordinator and the trainers
//! use.
//!
//! They travel as CBOR (serde, through `libp2p::request_response::cbor`) on
//! [`CONTROL_PROTOCOL`](crate::CONTROL_PROTOCOL), one request and one response per stream, each
//! capped at [`NetConfig::max_message_bytes`](crate::NetConfig::max_message_bytes). A new field
//! or variant that an older peer cannot read means a new protocol version
//! (`/coalition/control/2`), not a silent change here.
//!
//! Bulk bytes (checkpoints, encoded updates) never travel in these messages: they go over the
//! blob protocol, named by their sha256, and the messages carry only that hash and the length.

use serde::{Deserialize, Serialize};

use crate::Hash32;

/// What a trainer asks of the coordinator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Ask to take part in run `run_id` as the owner of `wallet`.
    ///
    /// `signature` is the wallet's ed25519 signature over
    /// [`join_message`](crate::join_message)`(run_id, sender's peer id)`, which binds the wallet
    /// (where payouts go) to this libp2p identity; check it with
    /// [`verify_join`](crate::verify_join) against the peer id the request came from.
    Join {
        /// The run the trainer means to join (must match the coordinator's).
        run_id: String,
        /// The trainer's wallet public key (ed25519, as in a solana-cli keypair).
        wallet: [u8; 32],
        /// 64-byte ed25519 signature (a `Vec` because serde has no 64-byte arrays).
        signature: Vec<u8>,
        /// The trainer's software version, for logs and compatibility checks.
        client_version: String,
        /// The device the trainer trains on (`cpu`, `cuda:0`, ...), for logs.
        device: String,
    },
    /// Ask for the current round's assignment.
    GetWork,
    /// Report a finished update; its bytes were put as blob `update_hash` beforehand.
    Submit {
        /// The round the update belongs to.
        round: u64,
        /// sha256 of the encoded update (the blob's name).
        update_hash: Hash32,
        /// Length of the encoded update in bytes.
        bytes: u64,
        /// Tokens trained on.
        tokens: u64,
        /// Inner optimizer steps taken.
        steps: u32,
        /// Mean training loss over those steps.
        train_loss: f32,
    },
    /// Say "still here" (optionally: still working on `round`).
    Heartbeat {
        /// The round being trained, if any.
        round: Option<u64>,
    },
    /// Leave the run cleanly.
    Leave,
    /// Ask for the run's state (also used by monitoring tools).
    Status,
}

/// What the coordinator answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Join accepted: the trainer's index and the run's configuration.
    Joined {
        /// The trainer's index in this run (stable across rejoins of the same wallet).
        trainer: u32,
        /// The run id.
        run_id: String,
        /// sha256 of `config_toml`.
        config_hash: Hash32,
        /// The run configuration as TOML text.
        config_toml: String,
        /// The coordinator's `split_hash` of the run's tokenized training data: a trainer
        /// whose own copy of the data file or tokenizer gives another hash stops with a clear
        /// error instead of training on different token ids.
        #[serde(default)]
        data_hash: Option<Hash32>,
    },
    /// The request was refused (bad signature, not on the allowlist, wrong run, unknown
    /// trainer, stale round, ...).
    Rejected {
        /// Why, for the trainer's log.
        reason: String,
    },
    /// An assignment for this round.
    Work(Work),
    /// Nothing to do now; ask again later.
    Wait {
        /// Suggested delay before asking again.
        retry_after_ms: u64,
        /// Why (join window, aggregation in progress, ...).
        reason: String,
    },
    /// The run is over.
    Finished,
    /// A submission was accepted for consideration (not yet scored).
    Accepted,
    /// Acknowledgement of a heartbeat or a leave.
    Ack,
    /// The run's state.
    Status(StatusInfo),
}

/// One trainer's assignment for one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Work {
    /// Global round number.
    pub round: u64,
    /// sha256 of the model checkpoint to start from (fetch it as a blob).
    pub model_hash: Hash32,
    /// Length of that checkpoint in bytes.
    pub model_bytes: u64,
    /// Global index of this trainer's first batch in the run's data order: batches are
    /// numbered across epochs (batch `b` is batch `b mod B` of epoch `b div B`, where B is the
    /// number of batches per epoch); the trainer trains batches `first_batch .. first_batch +
    /// inner_steps`. Recomputable by anyone from the run seed, round and slot.
    pub first_batch: u64,
    /// Epoch of the first batch.
    pub epoch: u64,
    /// Round index within the epoch.
    pub round_in_epoch: u64,
    /// This trainer's data slot in the round.
    pub slot: u32,
    /// Number of slots in the round.
    pub slots: u32,
    /// Inner optimizer steps to take (H).
    pub inner_steps: u32,
    /// Sequences per inner step.
    pub batch_size: u32,
    /// Submit before this time (unix milliseconds) or be left out of the round.
    pub deadline_unix_ms: u64,
    /// The last round's model change, compressed: a trainer that holds the model
    /// `base_hash` fetches this frame instead of the whole model and applies it with
    /// [`crate::decode_into_add`]; the result must hash to `model_hash` (else it downloads the
    /// model). Absent when the coordinator broadcasts whole models, and in round 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<Broadcast>,
}

/// A compressed model broadcast: θ_{r+1} − θ_r as one codec frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broadcast {
    /// sha256 of θ_r's bytes, the model the frame applies to.
    pub base_hash: Hash32,
    /// sha256 of the frame (fetch it as a blob).
    pub frame_hash: Hash32,
    /// Length of the frame in bytes.
    pub frame_bytes: u64,
}

/// A summary of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// The run id.
    pub run_id: String,
    /// The current round.
    pub round: u64,
    /// Trainers currently joined.
    pub trainers: u32,
    /// sha256 of the current model checkpoint.
    pub model_hash: Hash32,
    /// Whether the run is over.
    pub finished: bool,
}
