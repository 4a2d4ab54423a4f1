//! The coordinator killed at each named crash point (coordinator/src/crash.rs), restarted each
//! time on the same address, with two trainer processes reconnecting: every round commits
//! exactly once, and a reviewer re-derives every round bit for bit (the re-run rounds' reports,
//! checkpoints, broadcasts and manifests are the ones a run without crashes would publish).

mod support;

use std::time::Duration;
use support::*;

const LONG: Duration = Duration::from_secs(300);

/// Crash points in the order the runs below hit them (each restart goes on to the next).
const POINTS: [&str; 5] = [
    "after-report",
    "after-scored",
    "mid-checkpoint",
    "after-checkpoint",
    "after-commit",
];

#[test]
fn a_coordinator_killed_at_every_crash_point_commits_each_round_once() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: crash points exist in debug builds only");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = TestRun::new("faults");
    run.rounds = 4;
    run.min_trainers = 2;
    run.inner_steps = 8;
    // The broadcast's error feedback lives in the checkpoint: restarts must keep it exact.
    run.training = "broadcast_codec = \"int8\"".into();
    let config = run.write(dir.path());
    let run_dir = run.run_dir(dir.path());
    let marker = |p: &str| dir.path().join(format!("crashed-{p}"));
    let crash_env = |p: &str| format!("{p}:{}", marker(p).display());

    let spec = crash_env(POINTS[0]);
    let (mut coordinator, addr) = start_coordinator_env(
        dir.path(),
        &config,
        "coordinator-0",
        None,
        &[("COALITION_TEST_CRASH_AT", &spec)],
    );
    let listen = addr.split("/p2p/").next().expect("address").to_string();
    let (wa, _) = wallet(dir.path(), "a");
    let (wb, _) = wallet(dir.path(), "b");
    let mut a = start_trainer(dir.path(), "a", &addr, &wa, "honest");
    let mut b = start_trainer(dir.path(), "b", &addr, &wb, "honest");
    for (i, point) in POINTS.iter().enumerate() {
        // Each process either aborts at its point or (when the run ends first) exits.
        let exited = coordinator.wait(LONG);
        assert!(
            exited.is_some() && marker(point).exists(),
            "coordinator {i} did not crash at {point}:\n{}",
            coordinator.log_text()
        );
        let next = POINTS.get(i + 1).map(|p| crash_env(p));
        let env: Vec<(&str, &str)> = next
            .as_deref()
            .map(|s| vec![("COALITION_TEST_CRASH_AT", s)])
            .unwrap_or_default();
        let name = format!("coordinator-{}", i + 1);
        let (again, addr2) = start_coordinator_env(dir.path(), &config, &name, Some(&listen), &env);
        assert_eq!(addr2, addr, "a restart keeps the address and peer id");
        coordinator = again;
    }
    assert_eq!(
        coordinator.wait(LONG),
        Some(true),
        "{}\n--- a:\n{}\n--- b:\n{}",
        coordinator.log_text(),
        a.log_text(),
        b.log_text()
    );
    for t in [&mut a, &mut b] {
        assert_eq!(
            t.wait(Duration::from_secs(60)),
            Some(true),
            "{}",
            t.log_text()
        );
    }
    assert_eq!(
        committed_rounds(&journal(&run_dir)),
        vec![0, 1, 2, 3],
        "each round committed exactly once"
    );
    let (ok, text) = verify_every_record(&run_dir);
    assert!(ok, "{text}");
    assert!(text.contains("verified 4 round(s)"), "{text}");
}
