//! `coalition demo` tells its story: the honest trainers earn, the trainer on shuffled labels
//! and the free-rider do not.

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
