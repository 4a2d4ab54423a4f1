use super::*;
use crate::recovery::RecoveredState;
use coalition_attribution::sha256;

fn h(s: &str) -> Hash32 {
    sha256(s.as_bytes())
}

fn assignment() -> DataAssignment {
    DataAssignment {
        data_seed: 7,
        epoch: 0,
        round_in_epoch: 0,
        slots: 2,
        steps_per_round: 4,
        batch_size: 8,
    }
}

/// A run with two committed rounds and a third open one.
pub(crate) fn sample_entries() -> Vec<Entry> {
    let mut e = vec![
        Entry::RunStarted {
            run_id: "demo".into(),
            config_hash: h("config"),
            initial_model_hash: h("m0"),
            seed: 7,
            checkpoint: "checkpoints/round-0".into(),
            eval_pool: None,
        },
        Entry::TrainerAdmitted {
            wallet: "Wa11et1".into(),
            peer_id: "12D3KooWA".into(),
            slot: 0,
        },
        Entry::TrainerAdmitted {
            wallet: "Wa11et2".into(),
            peer_id: "12D3KooWB".into(),
            slot: 1,
        },
    ];
    for r in 0..3u64 {
        e.push(Entry::RoundOpened {
            round: r,
            model_hash: h(&format!("m{r}")),
            participants: vec![
                Participant {
                    trainer: "Wa11et1".into(),
                    slot: 0,
                },
                Participant {
                    trainer: "Wa11et2".into(),
                    slot: 1,
                },
            ],
            assignment: DataAssignment {
                round_in_epoch: r,
                ..assignment()
            },
        });
        e.push(Entry::UpdateReceived {
            round: r,
            trainer: "Wa11et1".into(),
            update_hash: h(&format!("u{r}")),
            bytes: 1234,
            tokens: 4096,
        });
        if r == 2 {
            break;
        }
        e.push(Entry::RoundScored {
            round: r,
            report: format!("reports/round-{r}.json").into(),
            report_sha256: h(&format!("report{r}")),
            accepted: vec!["Wa11et1".into()],
            rejected: vec![Rejected {
                trainer: "Wa11et2".into(),
                reason: "non-finite value NaN at index 3".into(),
            }],
            clipped: vec![Clipped {
                trainer: "Wa11et1".into(),
                factor: 0.5,
            }],
            duplicates: vec![],
            eval_samples: vec![3, 1, 4],
        });
        e.push(Entry::RoundCommitted {
            round: r,
            model_hash: h(&format!("m{}", r + 1)),
            checkpoint: format!("checkpoints/round-{}", r + 1).into(),
            eval_loss_before: 2.5 - r as f64 * 0.1,
            eval_loss_after: 2.4 - r as f64 * 0.1,
            round_seconds: 0.0,
            scoring_seconds: 0.0,
            manifest_sha256: None,
            bytes_up: None,
            bytes_down: None,
            phases: None,
        });
    }
    e
}

fn write_journal(path: &Path, entries: &[Entry]) {
    let (mut j, replayed) = Journal::open(path).unwrap();
    assert!(replayed.is_empty());
    for e in entries {
        j.append(e).unwrap();
    }
    assert_eq!(j.len(), entries.len());
}

#[test]
fn entries_round_trip_through_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let entries = sample_entries();
    write_journal(&path, &entries);
    let (mut j, back) = Journal::open(&path).unwrap();
    assert_eq!(back, entries);
    assert_eq!(read_entries(&path).unwrap(), entries);
    j.append(&Entry::TrainerLeft {
        wallet: "Wa11et2".into(),
        reason: "left".into(),
    })
    .unwrap();
    let (_, back) = Journal::open(&path).unwrap();
    assert_eq!(back.len(), entries.len() + 1);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text
        .lines()
        .nth(3)
        .unwrap()
        .starts_with(r#"{"event":"round_opened","round":0"#));
}

#[test]
fn truncation_at_every_byte_offset_never_fails_and_never_loses_a_complete_entry() {
    let dir = tempfile::tempdir().unwrap();
    let full_path = dir.path().join("full.jsonl");
    let entries = sample_entries();
    write_journal(&full_path, &entries);
    let bytes = std::fs::read(&full_path).unwrap();
    // Byte offsets where each entry's line ends (exclusive of nothing: just after '\n').
    let ends: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(ends.len(), entries.len());
    let path = dir.path().join("cut.jsonl");
    let mut last_committed = None;
    for cut in 0..=bytes.len() {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (mut j, got) = Journal::open(&path).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(got, entries[..complete], "cut at {cut}");
        // The torn tail is gone from the file, and appending works after recovery.
        let boundary = if complete == 0 { 0 } else { ends[complete - 1] };
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, boundary);
        let state = RecoveredState::from_entries(&got).unwrap();
        if let Some(s) = &state {
            let committed = s.committed.len();
            assert!(
                last_committed.is_none_or(|c| c <= committed),
                "cut at {cut}"
            );
            last_committed = Some(committed);
        }
        j.append(&entries[complete.min(entries.len() - 1)]).unwrap();
        let (_, again) = Journal::open(&path).unwrap();
        assert_eq!(again.len(), complete + 1);
    }
    let state = RecoveredState::from_entries(&entries).unwrap().unwrap();
    assert_eq!(state.committed.len(), 2);
    assert_eq!(state.open_round.as_ref().map(|o| o.round), Some(2));
}

#[test]
fn a_malformed_complete_line_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    write_journal(&path, &sample_entries()[..3]);
    let mut bytes = std::fs::read(&path).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes[second] = b'#';
    std::fs::write(&path, &bytes).unwrap();
    let err = Journal::open(&path).unwrap_err().to_string();
    assert!(err.contains("journal.jsonl:2:"), "{err}");
    // Same for an unknown event and for a blank line.
    std::fs::write(&path, b"{\"event\":\"nope\"}\n").unwrap();
    let err = Journal::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("journal.jsonl:1:") && err.contains("nope"),
        "{err}"
    );
    std::fs::write(&path, b"\n").unwrap();
    assert!(Journal::open(&path).is_err());
    std::fs::write(&path, [0xff, 0xfe, b'\n']).unwrap();
    let err = Journal::open(&path).unwrap_err().to_string();
    assert!(err.contains("UTF-8"), "{err}");
}

#[test]
fn entries_that_would_not_replay_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let (mut j, _) = Journal::open(&path).unwrap();
    let err = j
        .append(&Entry::RoundCommitted {
            round: 0,
            model_hash: h("m"),
            checkpoint: "c".into(),
            eval_loss_before: f64::NAN,
            eval_loss_after: 1.0,
            round_seconds: 0.0,
            scoring_seconds: 0.0,
            manifest_sha256: None,
            bytes_up: None,
            bytes_down: None,
            phases: None,
        })
        .unwrap_err();
    assert!(
        matches!(err, CoordinatorError::EntryNotReplayable { .. }),
        "{err}"
    );
    assert!(j.is_empty());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn any_finite_losses_append_and_replay(before in -1e300f64..1e300, after in proptest::num::f64::NORMAL) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let (mut j, _) = Journal::open(&path).unwrap();
        let e = Entry::RoundCommitted {
            round: 1,
            model_hash: h("m"),
            checkpoint: "checkpoints/round-2".into(),
            eval_loss_before: before,
            eval_loss_after: after,
            round_seconds: 0.0,
            scoring_seconds: 0.0,
            manifest_sha256: None,
            bytes_up: None,
            bytes_down: None,
            phases: None,
        };
        j.append(&e).unwrap();
        let (_, back) = Journal::open(&path).unwrap();
        proptest::prop_assert_eq!(back.len(), 1);
    }
}

#[test]
fn round_scored_lists_come_from_the_filter_outcome() {
    use crate::prefilter::{Candidate, FilterOutcome, Reason};
    let outcome = FilterOutcome {
        projected: vec![],
        sketches: vec![],
        accepted: vec![Candidate {
            trainer: "a".into(),
            update_hash: [1; 32],
            values: vec![0.0],
            tokens: 1,
        }],
        rejected: vec![(
            "b".into(),
            Reason::NonFinite {
                index: 3,
                value: f32::NAN,
            },
        )],
        clipped: vec![("a".into(), 0.25)],
        duplicates: vec![("c".into(), "a".into())],
        median_norm: Some(1.0),
    };
    let e = Entry::round_scored(2, "reports/round-2.json".into(), h("r"), &outcome, &[5, 1]);
    let Entry::RoundScored {
        accepted,
        rejected,
        clipped,
        duplicates,
        eval_samples,
        ..
    } = &e
    else {
        panic!("wrong variant");
    };
    assert_eq!(accepted, &["a"]);
    assert!(rejected[0].reason.contains("index 3"));
    assert_eq!(clipped[0].factor, 0.25);
    assert_eq!(duplicates[0].of, "a");
    assert_eq!(eval_samples, &[5, 1]);
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(&dir.path().join("j.jsonl")).unwrap();
    j.append(&e).unwrap();
}

#[test]
fn round_committed_traffic_and_phases_are_optional() {
    let old = r#"{"event":"round_committed","round":2,"model_hash":"0000000000000000000000000000000000000000000000000000000000000000","checkpoint":"checkpoints/round-3","eval_loss_before":2.0,"eval_loss_after":1.5}"#;
    let e: Entry = serde_json::from_str(old).unwrap();
    let Entry::RoundCommitted {
        bytes_up,
        bytes_down,
        phases,
        ..
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!((*bytes_up, *bytes_down, phases.clone()), (None, None, None));
    let line = serde_json::to_string(&e).unwrap();
    assert!(
        !line.contains("bytes_up") && !line.contains("phases"),
        "{line}"
    );

    let mut phases = std::collections::BTreeMap::new();
    phases.insert("train".to_string(), 3.5);
    phases.insert("score".to_string(), 0.25);
    let full = Entry::RoundCommitted {
        round: 2,
        model_hash: h("m"),
        checkpoint: "checkpoints/round-3".into(),
        eval_loss_before: 2.0,
        eval_loss_after: 1.5,
        round_seconds: 4.0,
        scoring_seconds: 0.25,
        manifest_sha256: Some(h("manifest")),
        bytes_up: Some(1_000),
        bytes_down: Some(50_000),
        phases: Some(phases),
    };
    let back: Entry = serde_json::from_str(&serde_json::to_string(&full).unwrap()).unwrap();
    assert_eq!(back, full);
}
