//! The distributed run end to end: a coordinator and trainer nodes as separate `coalition`
//! processes talking libp2p on loopback (ephemeral ports).

mod support;

use coalition_attribution::verify_report;
use coalition_coordinator::journal::Entry;
use coalition_coordinator::read_report;
use std::time::Duration;
use support::*;

const LONG: Duration = Duration::from_secs(300);

fn eval_losses(entries: &[Entry]) -> Vec<(f64, f64)> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::RoundCommitted {
                eval_loss_before,
                eval_loss_after,
                ..
            } => Some((*eval_loss_before, *eval_loss_after)),
            _ => None,
        })
        .collect()
}

#[test]
fn three_trainers_three_rounds_lower_the_loss_with_verifiable_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = TestRun::new("three");
    // Trainers after round 0 get the model as a compressed broadcast and must rebuild it
    // bit for bit (the hash is checked), and a reviewer re-derives the broadcasts.
    run.training = "broadcast_codec = \"int8\"".into();
    run.extra = "[observe]\nhttp = \"127.0.0.1:0\"\n".into();
    let config = run.write(dir.path());
    let (mut coordinator, addr) = start_coordinator(dir.path(), &config, "coordinator", None);
    let mut trainers: Vec<Proc> = (0..3)
        .map(|i| {
            let (w, _) = wallet(dir.path(), &format!("w{i}"));
            start_trainer(dir.path(), &format!("trainer{i}"), &addr, &w, "honest")
        })
        .collect();
    // `[observe] http`: the coordinator serves /metrics while it runs.
    wait_journal(&run.run_dir(dir.path()), LONG, "round 0 committed", |e| {
        committed_rounds(e).contains(&0)
    });
    let log = coordinator.log_text();
    let url = log
        .lines()
        .find_map(|l| l.strip_prefix("dashboard "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no dashboard line:\n{log}"));
    // The dashboard re-reads the run directory every second: poll until it has.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = http_get(&format!("{url}metrics"));
        if metrics.contains("coalition_rounds_committed_total") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        metrics.contains("coalition_rounds_committed_total"),
        "GET {url}metrics: {metrics:?}\n{log}"
    );
    assert!(
        metrics.contains("coalition_trainers_connected 3"),
        "{metrics}"
    );
    let ok = coordinator.wait(LONG);
    assert_eq!(ok, Some(true), "coordinator:\n{}", coordinator.log_text());
    for t in &mut trainers {
        assert_eq!(
            t.wait(Duration::from_secs(60)),
            Some(true),
            "{}:\n{}",
            t.name,
            t.log_text()
        );
    }
    for t in &trainers {
        let log = t.log_text();
        assert!(!log.contains("fetching the model"), "{}: {log}", t.name);
    }
    let run_dir = run.run_dir(dir.path());
    let entries = journal(&run_dir);
    assert_eq!(committed_rounds(&entries), vec![0, 1, 2]);
    let losses = eval_losses(&entries);
    let (first, last) = (losses[0].0, losses[2].1);
    assert!(last < first, "eval loss did not fall: {losses:?}");
    for round in 0..3 {
        let report =
            read_report(&run_dir.join(format!("reports/round-{round}.json"))).expect("report");
        assert_eq!(report.players.len(), 3, "round {round}");
        let sum: f64 = report.players.iter().map(|p| p.score).sum();
        let gain = report.v_full - report.v_empty;
        assert!(
            (sum - gain).abs() <= 1e-9 * gain.abs().max(1.0),
            "round {round}: efficiency Σφ = {sum} vs v(N) − v(∅) = {gain}"
        );
        assert!(
            verify_report(&report).is_match(),
            "round {round} does not verify"
        );
    }
    // Every round's traffic was counted on the wire, both ways: the model (round 0) or its
    // compressed broadcast out to three trainers, their updates in.
    for e in &entries {
        if let Entry::RoundCommitted {
            round,
            bytes_up,
            bytes_down,
            phases,
            ..
        } = e
        {
            let phases = phases.clone().unwrap_or_default();
            let names: Vec<&str> = phases.keys().map(String::as_str).collect();
            assert_eq!(names, ["commit", "score", "train"], "round {round}");
            assert!(phases.values().all(|s| *s >= 0.0) && phases["train"] > 0.0);
            let (up, down) = (bytes_up.unwrap_or(0), bytes_down.unwrap_or(0));
            assert!(
                up > 3 * 1000 && down > 3 * 1000,
                "round {round}: {up} in, {down} out"
            );
        }
    }
    // A reviewer re-derives every round from the run directory, every record bit for bit.
    let (ok, text) = verify_every_record(&run_dir);
    assert!(ok, "{text}");
    assert!(text.contains("verified 3 round(s)"), "{text}");
}

/// GET `url` (http://HOST:PORT/PATH) with a plain HTTP/1.0 request; the body.
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to the dashboard");
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
        "{response}"
    );
    response
        .split_once("\r\n\r\n")
        .map_or(response.clone(), |(_, b)| b.to_string())
}

#[test]
fn a_trainer_killed_mid_round_is_left_out_and_rejoins_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = TestRun::new("killed");
    run.rounds = 4;
    // Long enough that the kill below lands while c trains (60 steps once finished first).
    run.inner_steps = 150;
    run.deadline_secs = 30;
    run.join_window_secs = 2;
    run.min_trainers = 2;
    let config = run.write(dir.path());
    let run_dir = run.run_dir(dir.path());
    let (mut coordinator, addr) = start_coordinator(dir.path(), &config, "coordinator", None);
    let (wa, _) = wallet(dir.path(), "a");
    let (wb, _) = wallet(dir.path(), "b");
    let (wc, c_key) = wallet(dir.path(), "c");
    let _a = start_trainer(dir.path(), "a", &addr, &wa, "honest");
    let _b = start_trainer(dir.path(), "b", &addr, &wb, "honest");
    let mut c = start_trainer(dir.path(), "c", &addr, &wc, "honest");
    // Wait until round 1 is open with c in it, then kill c while it trains.
    wait_journal(&run_dir, LONG, "round 1 with three participants", |e| {
        e.iter().any(|x| matches!(x, Entry::RoundOpened { round: 1, participants, .. } if participants.len() == 3))
    });
    std::thread::sleep(Duration::from_millis(100));
    c.kill();
    wait_journal(&run_dir, LONG, "round 1 committed", |e| {
        committed_rounds(e).contains(&1)
    });
    let r1 = read_report(&run_dir.join("reports/round-1.json")).expect("round 1 report");
    assert!(
        r1.players.iter().all(|p| p.id != c_key),
        "the killed trainer was scored in round 1"
    );
    assert_eq!(r1.players.len(), 2);
    // c comes back with the same wallet and is scored again in a later round.
    let _c2 = start_trainer(dir.path(), "c-again", &addr, &wc, "honest");
    assert_eq!(
        coordinator.wait(LONG),
        Some(true),
        "{}",
        coordinator.log_text()
    );
    let later: Vec<_> = (2..4)
        .filter_map(|r| read_report(&run_dir.join(format!("reports/round-{r}.json"))).ok())
        .collect();
    assert!(
        later
            .iter()
            .any(|r| r.players.iter().any(|p| p.id == c_key)),
        "the restarted trainer never took part again"
    );
}

#[test]
fn malformed_and_malicious_updates_never_reach_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = TestRun::new("hostile");
    run.rounds = 2;
    run.min_trainers = 5;
    let config = run.write(dir.path());
    let run_dir = run.run_dir(dir.path());
    let (mut coordinator, addr) = start_coordinator(dir.path(), &config, "coordinator", None);
    // Raw garbage on the coordinator's TCP port: the handshake fails, nothing else happens.
    if let Some(port) = addr.split("/tcp/").nth(1).and_then(|s| s.split('/').next()) {
        if let Ok(mut s) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
            use std::io::Write;
            let _ = s.write_all(&[0xde; 4096]);
        }
    }
    let roles = [
        ("honest-1", "honest"),
        ("honest-2", "honest"),
        ("huge", "huge-norm"),
        ("shape", "wrong-shape"),
        ("corrupt", "corrupt-frame"),
    ];
    let mut keys = std::collections::HashMap::new();
    let _trainers: Vec<Proc> = roles
        .iter()
        .map(|(name, behavior)| {
            let (w, key) = wallet(dir.path(), name);
            keys.insert(key, *behavior);
            start_trainer(dir.path(), name, &addr, &w, behavior)
        })
        .collect();
    assert_eq!(
        coordinator.wait(LONG),
        Some(true),
        "{}",
        coordinator.log_text()
    );
    let entries = journal(&run_dir);
    assert_eq!(committed_rounds(&entries), vec![0, 1]);
    for e in &entries {
        let Entry::RoundScored {
            round,
            accepted,
            rejected,
            clipped,
            ..
        } = e
        else {
            continue;
        };
        let role = |k: &str| keys.get(k).copied().unwrap_or("?");
        let rejected_roles: Vec<&str> = rejected.iter().map(|r| role(&r.trainer)).collect();
        assert!(
            rejected_roles.contains(&"wrong-shape"),
            "round {round}: {rejected:?}"
        );
        assert!(
            rejected_roles.contains(&"corrupt-frame"),
            "round {round}: {rejected:?}"
        );
        // The 1000x update is either refused or clipped to the honest scale.
        let huge_accepted = accepted.iter().any(|a| role(a) == "huge-norm");
        if huge_accepted {
            let c = clipped
                .iter()
                .find(|c| role(&c.trainer) == "huge-norm")
                .expect("an accepted 1000x update must be clipped");
            assert!(c.factor < 0.01, "clip factor {}", c.factor);
        } else {
            assert!(
                rejected_roles.contains(&"huge-norm"),
                "round {round}: {rejected:?}"
            );
        }
        let honest = accepted.iter().filter(|a| role(a) == "honest").count();
        assert_eq!(honest, 2, "round {round}: honest updates must be accepted");
    }
    let losses = eval_losses(&entries);
    assert!(losses.iter().all(|(a, b)| a.is_finite() && b.is_finite()));
    assert!(
        losses[1].1 < losses[0].0,
        "eval loss did not fall: {losses:?}"
    );
}

#[test]
fn a_coordinator_killed_between_rounds_resumes_at_the_next_round() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = TestRun::new("restart");
    run.rounds = 4;
    run.min_trainers = 2;
    // Recorded on the embedded ledger, which dies with the coordinator's SIGKILL too.
    run.cluster = "embedded".into();
    let config = run.write(dir.path());
    let run_dir = run.run_dir(dir.path());
    let (mut coordinator, addr) = start_coordinator(dir.path(), &config, "coordinator", None);
    let port = addr
        .split("/tcp/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("tcp port")
        .to_string();
    let (wa, wallet_a) = wallet(dir.path(), "a");
    let (wb, _) = wallet(dir.path(), "b");
    let mut a = start_trainer(dir.path(), "a", &addr, &wa, "honest");
    let mut b = start_trainer(dir.path(), "b", &addr, &wb, "honest");
    wait_journal(&run_dir, LONG, "round 1 committed", |e| {
        committed_rounds(e).contains(&1)
    });
    coordinator.kill(); // SIGKILL
    let before = committed_rounds(&journal(&run_dir));
    let listen = format!("/ip4/127.0.0.1/tcp/{port}");
    let (mut again, addr2) = start_coordinator(dir.path(), &config, "coordinator-2", Some(&listen));
    assert_eq!(
        addr2, addr,
        "the restarted coordinator must keep its address and peer id"
    );
    assert!(
        again.log_text().contains("resuming at round"),
        "{}",
        again.log_text()
    );
    assert_eq!(
        again.wait(Duration::from_secs(120)),
        Some(true),
        "{}\n--- a:\n{}\n--- b:\n{}",
        again.log_text(),
        a.log_text(),
        b.log_text()
    );
    assert_eq!(
        a.wait(Duration::from_secs(60)),
        Some(true),
        "{}",
        a.log_text()
    );
    assert_eq!(
        b.wait(Duration::from_secs(60)),
        Some(true),
        "{}",
        b.log_text()
    );
    let rounds = committed_rounds(&journal(&run_dir));
    assert_eq!(
        rounds,
        vec![0, 1, 2, 3],
        "each round committed exactly once (before kill: {before:?})"
    );
    for r in 0..4 {
        let report = read_report(&run_dir.join(format!("reports/round-{r}.json"))).expect("report");
        assert!(verify_report(&report).is_match());
    }

    // The ledger survived the kill: all four rounds recorded once, roots equal to the reports,
    // and each trainer's earnings equal to the sum of its payouts in the reports.
    let cluster = format!("embedded:{}", run_dir.display());
    let (ok, text) = coalition(&["inspect", "--cluster", &cluster]);
    assert!(ok, "{text}");
    assert!(text.contains("4 recorded, 4 closed"), "{text}");
    assert!(
        text.contains("4 of 4 recorded rounds match the local reports"),
        "{text}"
    );
    let earned: u64 = (0..4)
        .map(|r| {
            let report =
                read_report(&run_dir.join(format!("reports/round-{r}.json"))).expect("report");
            report
                .players
                .iter()
                .filter(|p| p.id == wallet_a)
                .map(|p| p.payout)
                .sum::<u64>()
        })
        .sum();
    let wa_arg = wa.to_string_lossy().into_owned();
    let (ok, text) = coalition(&["claim", "--cluster", &cluster, "--wallet", &wa_arg]);
    assert!(ok, "{text}");
    if earned > 0 {
        assert!(text.contains(&format!("claimed {earned} tokens")), "{text}");
    }
    let (ok, text) = coalition(&["claim", "--cluster", &cluster, "--wallet", &wa_arg]);
    assert!(ok, "{text}");
    assert!(text.contains("nothing to claim"), "{text}");
}

#[test]
fn a_trainer_whose_data_gives_other_tokens_is_stopped_at_join() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = |word: &str| -> String { (0..4000).map(|i| format!("{word} {i}\n")).collect() };
    std::fs::write(dir.path().join("corpus.txt"), lines("line")).expect("write corpus");
    std::fs::write(dir.path().join("other.txt"), lines("verse")).expect("write other");
    std::fs::write(
        dir.path().join("text.toml"),
        "name = \"lines\"\neval_fraction = 0.1\n[source]\nkind = \"text\"\npath = \"corpus.txt\"\n",
    )
    .expect("write manifest");
    let mut run = TestRun::new("datahash");
    run.min_trainers = 1;
    run.rounds = 1;
    let toml = run
        .toml()
        .replace("dataset = \"synthetic-arith\"", "dataset = \"text.toml\"");
    let config = dir.path().join("datahash.toml");
    std::fs::write(&config, toml).expect("write config");
    let (_coordinator, addr) = start_coordinator(dir.path(), &config, "coordinator", None);
    let (w, _) = wallet(dir.path(), "w");
    let mut wrong = start_trainer_args(
        dir.path(),
        "wrong",
        &addr,
        &w,
        "honest",
        &["--data", "other.txt"],
    );
    assert_eq!(
        wrong.wait(Duration::from_secs(120)),
        Some(false),
        "{}",
        wrong.log_text()
    );
    let log = wrong.log_text();
    assert!(
        log.contains("gives other tokens than the coordinator's"),
        "{log}"
    );
    assert!(log.contains("check --data and --tokenizer"), "{log}");
    // The same file as the coordinator's joins and trains.
    let mut right = start_trainer_args(
        dir.path(),
        "right",
        &addr,
        &w,
        "honest",
        &["--data", "corpus.txt"],
    );
    let run_dir = run.run_dir(dir.path());
    wait_journal(&run_dir, LONG, "a committed round", |e| {
        !committed_rounds(e).is_empty()
    });
    right.kill();
}
