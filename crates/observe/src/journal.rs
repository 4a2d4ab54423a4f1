//! Reading the coordinator's journal (`journal.jsonl`) tolerantly: only the fields this crate
//! draws, each with a default, unknown fields ignored and unknown entry kinds kept as
//! [`Event::Other`]. So a viewer built today reads journals written by older and newer
//! coordinators; the coordinator's own `Entry` stays the strict definition.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One journal line, as far as the viewer is concerned.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        #[serde(default)]
        run_id: Option<String>,
        #[serde(default)]
        config_hash: Option<String>,
        #[serde(default)]
        seed: Option<u64>,
    },
    TrainerAdmitted {
        wallet: String,
        #[serde(default)]
        slot: Option<u32>,
    },
    TrainerLeft {
        wallet: String,
        #[serde(default)]
        reason: Option<String>,
    },
    RoundOpened {
        round: u64,
        #[serde(default)]
        model_hash: Option<String>,
        #[serde(default)]
        participants: Vec<Participant>,
    },
    UpdateReceived {
        round: u64,
        trainer: String,
        #[serde(default)]
        bytes: u64,
    },
    RoundScored {
        round: u64,
        #[serde(default)]
        report: Option<String>,
        #[serde(default)]
        rejected: Vec<Rejected>,
        #[serde(default)]
        clipped: Vec<Clipped>,
        #[serde(default)]
        duplicates: Vec<Duplicate>,
    },
    RoundCommitted {
        round: u64,
        #[serde(default)]
        model_hash: Option<String>,
        #[serde(default)]
        eval_loss_before: Option<f64>,
        #[serde(default)]
        eval_loss_after: Option<f64>,
        #[serde(default)]
        round_seconds: Option<f64>,
        #[serde(default)]
        scoring_seconds: Option<f64>,
        #[serde(default)]
        bytes_up: Option<u64>,
        #[serde(default)]
        bytes_down: Option<u64>,
        #[serde(default)]
        phases: Option<BTreeMap<String, f64>>,
        #[serde(default)]
        verification: Option<VerificationField>,
    },
    /// A round's verification result, when a verifier journals one.
    RoundVerified {
        round: u64,
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        ok: Option<bool>,
        #[serde(default)]
        detail: Option<String>,
    },
    /// Any kind this reader does not know.
    #[serde(other)]
    Other,
}

/// A participant of a round.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Participant {
    pub trainer: String,
}

/// A refused update.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Rejected {
    pub trainer: String,
    #[serde(default)]
    pub reason: String,
}

/// A clipped update.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Clipped {
    pub trainer: String,
    pub factor: f32,
}

/// A duplicated update.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Duplicate {
    pub trainer: String,
    #[serde(default)]
    pub of: String,
}

/// `verification` on a committed round: a bare status or `{status, detail}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum VerificationField {
    Status(String),
    Full {
        status: String,
        #[serde(default)]
        detail: Option<String>,
    },
}

/// Parses one complete journal line.
pub fn parse_line(line: &str) -> Result<Event, String> {
    serde_json::from_str(line).map_err(|e| e.to_string())
}

/// Splits `bytes` into complete lines: returns the lines and how many bytes they span
/// (a torn last line without its newline is left for the next read).
pub fn complete_lines(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let Some(end) = bytes.iter().rposition(|&b| b == b'\n') else {
        return (Vec::new(), 0);
    };
    let lines = bytes[..end]
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    (lines, end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_kinds_parse_with_missing_and_extra_fields() {
        let e = parse_line(
            r#"{"event":"round_committed","round":3,"model_hash":"ab","eval_loss_before":2.0,"eval_loss_after":1.5,"new_field":[1,2]}"#,
        )
        .unwrap();
        match e {
            Event::RoundCommitted {
                round,
                eval_loss_after,
                bytes_up,
                phases,
                ..
            } => {
                assert_eq!((round, eval_loss_after, bytes_up), (3, Some(1.5), None));
                assert!(phases.is_none());
            }
            other => panic!("{other:?}"),
        }
        let e = parse_line(
            r#"{"event":"round_committed","round":1,"bytes_up":10,"bytes_down":20,"phases":{"train":1.5},"verification":"verified"}"#,
        )
        .unwrap();
        assert!(matches!(
            e,
            Event::RoundCommitted { bytes_up: Some(10), bytes_down: Some(20), phases: Some(ref p), verification: Some(VerificationField::Status(ref s)), .. }
                if p["train"] == 1.5 && s == "verified"
        ));
    }

    #[test]
    fn unknown_kinds_are_other_and_garbage_is_an_error() {
        assert_eq!(
            parse_line(r#"{"event":"artifact_published","round":1,"x":2}"#).unwrap(),
            Event::Other
        );
        assert!(parse_line("{not json").is_err());
        assert!(parse_line(r#"{"event":"update_received","round":"one"}"#).is_err());
    }

    #[test]
    fn a_torn_tail_is_left_for_later() {
        let (lines, used) = complete_lines(b"{\"a\":1}\n{\"b\":2}\n{\"c\"");
        assert_eq!(lines.len(), 2);
        assert_eq!(used, 16);
        let (lines, used) = complete_lines(b"{\"c\"");
        assert!(lines.is_empty());
        assert_eq!(used, 0);
    }
}
