//! `coalition demo` tells its story: the honest trainers earn, the free-rider does not and the
//! trainer on shuffled labels next to nothing; every round is on the embedded ledger with the reports' roots,
//! and a claim moves exactly the earned tokens once. While it runs, its live dashboard updates
//! itself round by round and `/metrics` agrees with the journal; afterwards `coalition report`
//! writes a page whose numbers are the reports' (both looked at in headless Chromium when it is
//! installed; see tests/support/browser.rs).

#[path = "support/seeing.rs"]
mod seeing;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The cells of a comfy-table row.
fn cells(line: &str) -> Vec<String> {
    line.split(['│', '┆', '|'])
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Runs the demo with its stdout read line by line; returns the dashboard URL as soon as it is
/// printed, the channel of further lines and the child.
fn start_demo(dir: &std::path::Path) -> (std::process::Child, mpsc::Receiver<String>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coalition"))
        .args([
            "demo",
            "--rounds",
            "5",
            "--dashboard",
            "127.0.0.1:0",
            "--runs",
        ])
        .arg(dir.join("runs"))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("demo.stderr")).expect("stderr file"))
        .spawn()
        .expect("run coalition demo");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let end = Instant::now() + Duration::from_secs(120);
    while Instant::now() < end {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                return (child, rx, url.to_string());
            }
            seen.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the demo printed no dashboard URL:\n{}", seen.join("\n"));
}

#[test]
fn demo_pays_the_honest_trainers_and_not_the_free_rider() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().join("runs/demo");
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let started = Instant::now();
    let mut browser = support::browser::launch_or_skip("the demo's dashboard and report");
    let browser_secs = started.elapsed().as_secs_f64();
    let (mut child, rx, url) = start_demo(dir.path());
    seeing::check_live(&url, &run_dir, browser.as_mut(), &shots);
    let status = child.wait().expect("wait for the demo");
    let stdout: Vec<String> = rx.iter().collect();
    let stdout = stdout.join("\n");
    let stderr = std::fs::read_to_string(dir.path().join("demo.stderr")).unwrap_or_default();
    assert!(status.success(), "demo failed:\n{stdout}\n{stderr}");

    let total = stdout
        .split("total over the run:")
        .nth(1)
        .expect("a totals table");
    let earned = |name: &str| -> u64 {
        let row = total
            .lines()
            .map(cells)
            .find(|c| c.first().map(String::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no total for {name}:\n{stdout}"));
        row.last()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad total row {row:?}"))
    };
    assert!(earned("honest-1") > 0, "{stdout}");
    assert!(earned("honest-2") > 0, "{stdout}");
    assert_eq!(earned("free-rider"), 0, "{stdout}");
    // The shuffled-label trainer's update hurts in most rounds and is left out, but its score
    // is measured on a 64-sequence eval batch, and which data shard each trainer gets depends
    // on join order: in 2 of 7 demo runs on 2026-12-08 one early round scored it
    // slightly positive (+0.005 nats against the honest trainers' +0.11), which paid it ~2% of
    // that round. Scores within the eval noise are issue 15's subject; here the
    // claim is that it earns next to nothing.
    let honest = earned("honest-1").min(earned("honest-2"));
    assert!(
        earned("shuffled-labels") * 20 < honest,
        "shuffled-labels earned 5% or more of an honest trainer's total:\n{stdout}"
    );
    assert!(run_dir.join("reports/round-4.json").is_file());

    // On chain: 5 rounds recorded and closed, every root equal to the local report's.
    let onchain = stdout
        .split("on chain (embedded validator")
        .nth(1)
        .expect("on-chain part");
    assert!(
        onchain.contains("5 of 5 recorded rounds match the local reports"),
        "{onchain}"
    );
    assert!(onchain.contains("5 recorded, 5 closed"), "{onchain}");
    let claims: Vec<&str> = onchain
        .lines()
        .filter(|l| l.contains(" claim by "))
        .collect();
    assert_eq!(claims.len(), 2, "{onchain}");
    let moved = |line: &str| -> u64 {
        line.split("moved ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad claim line {line:?}"))
    };
    assert_eq!(moved(claims[0]), earned("honest-1"), "{onchain}");
    assert_eq!(moved(claims[1]), 0, "{onchain}");
    // A reviewer re-derived every round against the chain, challenged by its blockhash.
    assert!(onchain.contains("verified 5 round(s)"), "{onchain}");
    // ... and recorded it for the report and the dashboard.
    let verification: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("verification.json")).expect("verification.json"),
    )
    .expect("verification JSON");
    let statuses: Vec<&str> = verification["rounds"]
        .as_array()
        .expect("rounds")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses, ["verified"; 5], "{verification}");
    assert_eq!(verification["against"], "chain", "{verification}");
    assert!(
        onchain.contains("trainers' on-chain earnings equal their report payouts"),
        "{onchain}"
    );

    let demo_secs = started.elapsed().as_secs_f64() - browser_secs;
    inspect_and_bench(dir.path(), &run_dir, earned("honest-1"));
    let t = Instant::now();
    report(dir.path(), &run_dir, browser.as_mut(), &shots);
    let report_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    verify_and_tamper(&run_dir);
    eprintln!(
        "seconds: browser start {browser_secs:.1}, demo with live checks {demo_secs:.1}, \
         report and its checks {report_secs:.1}, verify {:.1}",
        t.elapsed().as_secs_f64()
    );
}

/// `coalition verify` on the run directory: every record of every round re-evaluated
/// bit-identically (same machine, same threads); then one published update frame changed on
/// disk is caught and named.
fn verify_and_tamper(run_dir: &std::path::Path) {
    let from = run_dir.to_str().expect("utf-8 path");
    let seed = "07".repeat(32);
    let args = [
        "--from",
        from,
        "--all",
        "--records",
        "64",
        "--tolerance",
        "0",
        "--seed",
        &seed,
    ];
    let (ok, text) = support::verify(&args);
    assert!(ok, "{text}");
    assert!(text.contains("verified 5 round(s)"), "{text}");
    assert!(text.contains("largest difference 0.000e0 nats"), "{text}");

    let manifest = std::fs::read_to_string(run_dir.join("manifests/round-2.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&manifest).expect("manifest JSON");
    let path = v["updates"][0]["frame"]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no update path in {v}"));
    let file = run_dir.join(path);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let (ok, text) = support::verify(&args);
    assert!(!ok, "{text}");
    assert!(text.contains("FAILED round 2: manifest:"), "{text}");
    let verification = std::fs::read_to_string(run_dir.join("verification.json")).unwrap();
    assert!(verification.contains("\"failed\""), "{verification}");
    assert!(text.contains(path), "{text}");
}

/// A reviewer's inspect on the same ledger (the validator restarted on it once more), as JSON;
/// the run's figures from `bench run`.
fn inspect_and_bench(dir: &std::path::Path, run_dir: &std::path::Path, honest_1: u64) {
    let inspect = Command::new(env!("CARGO_BIN_EXE_coalition"))
        .args(["inspect", "--json", "--cluster"])
        .arg(format!("embedded:{}", run_dir.display()))
        .current_dir(dir)
        .output()
        .expect("run coalition inspect");
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        inspect.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    // Only the JSON: the embedded validator's own progress prints go to stderr.
    let json = text.trim();
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| {
        panic!("inspect --json printed more than one JSON value ({e}):\n{text}")
    });
    assert_eq!(v["rounds_recorded"], 5, "{v}");
    assert_eq!(v["reports_matched"], serde_json::json!([5, 5]), "{v}");
    assert_eq!(
        v["cluster"].as_str().map(|c| c.starts_with("embedded:")),
        Some(true)
    );
    let earned: Vec<u64> = v["trainers"]
        .as_array()
        .expect("trainers")
        .iter()
        .filter_map(|t| t["earned"].as_u64())
        .collect();
    assert!(earned.contains(&honest_1), "{v}");

    // The run's figures: bytes per trainer per round against fp32 data-parallel.
    let bench = Command::new(env!("CARGO_BIN_EXE_coalition"))
        .args(["bench", "run"])
        .arg(run_dir)
        .output()
        .expect("run coalition bench run");
    assert!(
        bench.status.success(),
        "{}",
        String::from_utf8_lossy(&bench.stderr)
    );
    let text = String::from_utf8_lossy(&bench.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("a summary line")).expect("JSON");
    let reduction = summary["reduction_vs_fp32_dp"].as_f64().expect("reduction");
    // Counted on the wire, both directions: H = 40 steps per round, int8 + zstd updates up,
    // the model down; far fewer bytes than a gradient and the weights per step.
    assert!(
        summary["counted"]
            .as_str()
            .is_some_and(|c| c.starts_with("wire")),
        "{summary}"
    );
    let bytes = |key: &str| {
        summary[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {summary}"))
    };
    let (up, down) = (
        bytes("upload_bytes_per_trainer_per_round"),
        bytes("download_bytes_per_trainer_per_round"),
    );
    assert!(up > 0.0 && down > up, "{summary}");
    let total = bytes("total_bytes_per_trainer_per_round");
    assert!((total - (up + down)).abs() <= 1e-9 * total, "{summary}");
    assert!(reduction > 20.0, "{summary}");
    let share = summary["attribution_share_of_round_time"]
        .as_f64()
        .expect("share");
    assert!(share > 0.0 && share < 1.0, "{summary}");
}

/// `coalition report` writes one self-contained page whose numbers are the run's.
fn report(
    dir: &std::path::Path,
    run_dir: &std::path::Path,
    browser: Option<&mut support::browser::Browser>,
    shots: &std::path::Path,
) {
    let file = dir.join("report.html");
    let (ok, text) = support::coalition(&[
        "report",
        &run_dir.to_string_lossy(),
        "-o",
        &file.to_string_lossy(),
    ]);
    assert!(ok && text.contains("5 rounds committed"), "{text}");
    let html = std::fs::read_to_string(&file).expect("report.html");
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "not self-contained"
    );
    let expect = seeing::expected(run_dir);
    for earned in expect.earned.values() {
        assert!(
            html.contains(&format!("data-k=\"earned\" data-v=\"{earned}\"")),
            "{earned}"
        );
    }
    if let Some(b) = browser {
        seeing::check_report(b, &file, run_dir, shots);
        eprintln!("screenshots: {}/live.png, report.png", shots.display());
    }
}
