//! `coalition demo` tells its story: the honest trainers earn, the trainer on shuffled labels
//! and the free-rider do not; every round is on the embedded ledger with the reports' roots,
//! and a claim moves exactly the earned tokens once.

use std::process::Command;

#[test]
fn demo_pays_the_honest_trainers_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_coalition"))
        .args(["demo", "--rounds", "5", "--runs"])
        .arg(dir.path().join("runs"))
        .current_dir(dir.path())
        .output()
        .expect("run coalition demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = stdout
        .split("total over the run:")
        .nth(1)
        .expect("a totals table");
    let earned = |name: &str| -> u64 {
        let line = total
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no total for {name}:\n{stdout}"));
        line.split_whitespace()
            .last()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad total line {line:?}"))
    };
    assert!(earned("honest-1") > 0, "{stdout}");
    assert!(earned("honest-2") > 0, "{stdout}");
    assert_eq!(earned("shuffled-labels"), 0, "{stdout}");
    assert_eq!(earned("free-rider"), 0, "{stdout}");
    assert!(dir.path().join("runs/demo/reports/round-4.json").is_file());

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

    // A reviewer's inspect on the same ledger (the validator restarted on it once more).
    let inspect = Command::new(env!("CARGO_BIN_EXE_coalition"))
        .args(["inspect", "--cluster"])
        .arg(format!(
            "embedded:{}",
            dir.path().join("runs/demo").display()
        ))
        .output()
        .expect("run coalition inspect");
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        inspect.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    assert!(text.contains("5 of 5 recorded rounds match"), "{text}");

    // The run's figures: bytes per trainer per round against fp32 data-parallel.
    let bench = Command::new(env!("CARGO_BIN_EXE_coalition"))
        .args(["bench", "run"])
        .arg(dir.path().join("runs/demo"))
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
    // H = 40 steps per round and int8 + zstd: far fewer bytes than a gradient per step.
    assert!(reduction > 40.0, "{summary}");
    let share = summary["attribution_share_of_round_time"]
        .as_f64()
        .expect("share");
    assert!(share > 0.0 && share < 1.0, "{summary}");
}
