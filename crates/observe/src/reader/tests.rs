use super::*;
use crate::view::{Outcome, RoundState};
use std::io::Write;

const A: &str = "WalletA";
const B: &str = "WalletB";
const C: &str = "WalletC";

/// Writes a report for `round` with (player, score, payout) rows.
pub(crate) fn write_report(dir: &Path, round: u64, players: &[(&str, f64, u64)]) {
    let rows: Vec<String> = players
        .iter()
        .map(|(id, score, payout)| {
            format!(
                r#"{{"id":"{id}","update_hash":"00","score":"{:016x}","score_fixed":{},"payout":{payout}}}"#,
                score.to_bits(),
                (score * 1e9).round() as i64
            )
        })
        .collect();
    let paid: u64 = players.iter().map(|p| p.2).sum();
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    std::fs::write(
        dir.join(format!("reports/round-{round}.json")),
        format!(
            r#"{{"format":"coalition-report/v1","run_id":"r","round":{round},"reward":1000,"payout_status":"paid","paid":{paid},"dust":0,
            "estimator":{{"kind":"exact","max_players":12}},"stats":{{"evaluations":8,"path_points":0,"pairs":0,"max_std_error":null,"efficiency_gap":"0000000000000000","stop":"exhausted"}},
            "players":[{}],"future_field":1}}"#,
            rows.join(",")
        ),
    )
    .unwrap();
}

pub(crate) fn append(dir: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("journal.jsonl"))
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

pub(crate) fn round_lines(round: u64, committed: bool) -> Vec<String> {
    let mut v = vec![
        format!(
            r#"{{"event":"round_opened","round":{round},"model_hash":"m{round}","participants":[{{"trainer":"{A}","slot":0}},{{"trainer":"{B}","slot":1}},{{"trainer":"{C}","slot":2}}],"assignment":{{}}}}"#
        ),
        format!(
            r#"{{"event":"update_received","round":{round},"trainer":"{A}","update_hash":"00","bytes":1000,"tokens":5}}"#
        ),
        format!(
            r#"{{"event":"update_received","round":{round},"trainer":"{B}","update_hash":"01","bytes":1500,"tokens":5}}"#
        ),
        format!(
            r#"{{"event":"round_scored","round":{round},"report":"reports/round-{round}.json","report_sha256":"00","accepted":["{A}"],"rejected":[{{"trainer":"{B}","reason":"update norm 1e9 is above the limit"}}],"clipped":[{{"trainer":"{A}","factor":0.5}}]}}"#
        ),
    ];
    if committed {
        v.push(format!(
            r#"{{"event":"round_committed","round":{round},"model_hash":"m{}","checkpoint":"c","eval_loss_before":{},"eval_loss_after":{},"round_seconds":4.0,"scoring_seconds":1.0}}"#,
            round + 1,
            3.0 - round as f64 * 0.5,
            2.5 - round as f64 * 0.5
        ));
    }
    v
}

pub(crate) fn sample_run(dir: &Path, rounds: u64) {
    std::fs::write(
        dir.join("config.toml"),
        "[run]\nname = \"t\"\n[training]\nrounds = 3\ninner_steps = 10\n",
    )
    .unwrap();
    let mut lines = vec![
        r#"{"event":"run_started","run_id":"t-1","config_hash":"ab","initial_model_hash":"m0","seed":5,"checkpoint":"c"}"#.to_string(),
    ];
    for w in [A, B, C] {
        lines.push(format!(
            r#"{{"event":"trainer_admitted","wallet":"{w}","peer_id":"p","slot":0}}"#
        ));
    }
    for r in 0..rounds {
        write_report(dir, r, &[(A, 0.25, 1000)]);
        lines.extend(round_lines(r, true));
    }
    append(dir, &lines);
}

#[test]
fn a_run_reads_into_rounds_trainers_and_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), 2);
    let r = RunReader::open(dir.path()).unwrap();
    let v = r.view();
    assert_eq!(v.run.run_id.as_deref(), Some("t-1"));
    assert_eq!(v.run.rounds_planned, Some(3));
    assert_eq!(v.rounds_committed, 2);
    assert_eq!(v.status, RunStatus::Running);
    assert_eq!(v.current_round, None);
    let r0 = &v.rounds[0];
    assert_eq!(r0.eval_loss_before, Some(3.0));
    assert_eq!(r0.update_bytes, 2500);
    let outcome = |w: &str| r0.updates.iter().find(|u| u.trainer == w).unwrap().clone();
    assert_eq!(outcome(A).outcome, Outcome::Merged);
    assert_eq!(outcome(A).clip_factor, Some(0.5));
    assert_eq!(outcome(A).score, Some(0.25));
    assert_eq!(outcome(B).outcome, Outcome::Refused);
    assert!(outcome(B).reason.unwrap().contains("norm"));
    assert_eq!(outcome(C).outcome, Outcome::Missed);
    assert!(!r0.timeline_measured);
    assert_eq!(r0.timeline.len(), 2);
    assert_eq!(r0.timeline[0].seconds, 3.0);
    let a = v.trainer(A).unwrap();
    assert_eq!((a.rounds_scored, a.earned_total), (2, 2000));
    assert_eq!(a.score_total, 0.5);
    assert_eq!(v.trainer(B).unwrap().rounds_not_scored, 2);
    assert_eq!(v.total_paid(), 2000);
    assert_eq!(v.cumulative_earnings()[A], vec![1000, 2000]);
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
}

#[test]
fn refresh_reads_only_what_was_appended_and_waits_for_torn_lines() {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), 1);
    let mut r = RunReader::open(dir.path()).unwrap();
    let offset = r.journal_offset();
    let version = r.version();
    assert!(!r.refresh().unwrap(), "nothing new");
    assert_eq!(r.version(), version);

    write_report(dir.path(), 1, &[(A, 0.5, 1000)]);
    let mut lines = round_lines(1, true);
    let last = lines.pop().unwrap();
    append(dir.path(), &lines);
    // Half of the commit line: a torn tail is not read.
    let (head, tail) = last.split_at(30);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("journal.jsonl"))
        .unwrap();
    f.write_all(head.as_bytes()).unwrap();
    assert!(r.refresh().unwrap());
    assert!(r.journal_offset() > offset);
    assert_eq!(r.view().rounds_committed, 1);
    assert_eq!(r.view().current_round, Some(1));
    assert_eq!(r.view().rounds[1].state, RoundState::Scored);
    writeln!(f, "{tail}").unwrap();
    assert!(r.refresh().unwrap());
    assert_eq!(r.view().rounds_committed, 2);
    assert_eq!(r.view().trainer(A).unwrap().earned_total, 2000);
    assert_eq!(
        r.journal_offset(),
        std::fs::metadata(dir.path().join("journal.jsonl"))
            .unwrap()
            .len()
    );
}

#[test]
fn a_replaced_journal_is_read_again_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), 2);
    let mut r = RunReader::open(dir.path()).unwrap();
    assert_eq!(r.view().rounds_committed, 2);
    std::fs::remove_file(dir.path().join("journal.jsonl")).unwrap();
    sample_run(dir.path(), 1);
    assert!(r.refresh().unwrap());
    assert_eq!(r.view().rounds_committed, 1);
    assert_eq!(r.view().rounds.len(), 1);
    assert_eq!(r.view().trainer(A).unwrap().earned_total, 1000);
}

#[test]
fn unknown_kinds_malformed_lines_and_missing_reports_do_not_stop_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), 1);
    let mut lines = vec![
        r#"{"event":"artifact_published","round":0}"#.to_string(),
        "this is not json".to_string(),
    ];
    lines.extend(round_lines(1, true));
    append(dir.path(), &lines);
    let r = RunReader::open(dir.path()).unwrap();
    let v = r.view();
    assert_eq!(v.unknown_entries, 1);
    assert_eq!(v.rounds_committed, 2);
    assert!(
        v.warnings.iter().any(|w| w.contains("skipped")),
        "{:?}",
        v.warnings
    );
    assert!(
        v.warnings.iter().any(|w| w.contains("round-1.json")),
        "{:?}",
        v.warnings
    );
}

#[test]
fn measured_phases_traffic_verification_labels_and_onchain() {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), 1);
    write_report(dir.path(), 1, &[(A, -0.1, 0)]);
    std::fs::write(
        dir.path().join("config.toml"),
        "[run]\nname = \"t\"\n[training]\nrounds = 2\n[attribution]\naggregate_nonnegative_only = true\n",
    )
    .unwrap();
    let mut lines = round_lines(1, false);
    lines.push(
        r#"{"event":"round_committed","round":1,"eval_loss_before":2,"eval_loss_after":1.9,"bytes_up":10,"bytes_down":20,"phases":{"score":1.0,"train":2.0,"upload":0.5}}"#
            .to_string(),
    );
    lines.push(r#"{"event":"round_verified","round":1,"ok":true}"#.to_string());
    append(dir.path(), &lines);
    std::fs::write(
        dir.path().join("labels.json"),
        format!(r#"{{"{A}":"honest-1"}}"#),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("onchain.json"),
        r#"{"cluster":"devnet","program_id":"P","run":"R","authority":"Au","mint":"M","vault":"V","run_id":1}"#,
    )
    .unwrap();
    let r = RunReader::open(dir.path()).unwrap();
    let v = r.view();
    let r1 = &v.rounds[1];
    assert!(r1.timeline_measured);
    let names: Vec<&str> = r1.timeline.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["train", "score", "upload"]);
    assert_eq!((r1.bytes_up, r1.bytes_down), (Some(10), Some(20)));
    assert_eq!(r1.verification.as_ref().unwrap().status, "verified");
    let a1 = r1.updates.iter().find(|u| u.trainer == A).unwrap();
    assert_eq!(a1.outcome, Outcome::LeftOut);
    assert_eq!(v.status, RunStatus::Finished);
    assert_eq!(v.trainer(A).unwrap().name(), "honest-1");
    let on = v.onchain.as_ref().unwrap();
    assert_eq!(on.addresses[0].what, "run");
    assert!(on.addresses[0]
        .explorer
        .as_deref()
        .unwrap()
        .ends_with("R?cluster=devnet"));
}

#[test]
fn a_directory_without_journal_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = RunReader::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("no journal.jsonl"), "{err}");
    let mut live = RunReader::new(dir.path().join("later"));
    assert!(!live.refresh().unwrap());
    assert_eq!(live.view().status, RunStatus::Starting);
}

#[test]
fn verification_json_sets_each_rounds_status_and_is_reread_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), 2);
    let file = dir.path().join("verification.json");
    std::fs::write(
        &file,
        r#"{"seed":"ab","rounds":[{"round":0,"status":"verified","detail":"8 re-evaluated"}]}"#,
    )
    .unwrap();
    let mut r = RunReader::open(dir.path()).unwrap();
    let status = |r: &RunReader, round: usize| {
        r.view().rounds[round]
            .verification
            .as_ref()
            .map(|v| v.status.clone())
    };
    assert_eq!(status(&r, 0).as_deref(), Some("verified"));
    assert_eq!(status(&r, 1), None);
    // A later verify run that found round 1 wrong (mtime resolution: wait past it).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(
        &file,
        r#"{"rounds":[{"round":0,"status":"verified"},{"round":1,"status":"failed","detail":"next model"}]}"#,
    )
    .unwrap();
    assert!(r.refresh().unwrap());
    assert_eq!(status(&r, 1).as_deref(), Some("failed"));
    std::fs::write(&file, "not json").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&file, "{").unwrap();
    r.refresh().unwrap();
    assert!(r
        .view()
        .warnings
        .iter()
        .any(|w| w.contains("verification.json")));
}
