//! `coalition train-local` end to end: the real binary trains, the eval loss falls well below
//! the unigram (character-frequency) baseline, a checkpoint is written, and bad input gets a
//! clear error instead of a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn coalition(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coalition"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run coalition")
}

fn report(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "train-local failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().expect("a JSON report line");
    serde_json::from_str(line).expect("valid JSON report")
}

#[test]
fn synthetic_arithmetic_loss_falls_well_below_frequency_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = repo().join("configs/tiny-local.toml");
    let out_dir = dir.path().join("ckpt");
    let out = coalition(
        &[
            "train-local",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--out",
            out_dir.to_str().expect("utf-8 path"),
            "--json",
        ],
        dir.path(),
    );
    let r = report(&out);
    let baseline = r["unigram_baseline_nats"].as_f64().expect("baseline");
    let first = r["eval_curve"][0][1].as_f64().expect("initial eval loss");
    let last = r["final_eval_loss"].as_f64().expect("final eval loss");
    eprintln!("synthetic-arith: baseline {baseline:.4}, eval {first:.4} -> {last:.4}");
    assert!(last < first, "eval loss did not fall: {first} -> {last}");
    assert!(
        last < 0.75 * baseline,
        "eval loss {last} is not well below the frequency baseline {baseline}"
    );
    assert!(out_dir.join("model.safetensors").is_file());
    assert!(out_dir.join("config.json").is_file());

    // `coalition eval` scores the checkpoint on the held-out split.
    let eval = coalition(
        &[
            "eval",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--checkpoint",
            out_dir.to_str().expect("utf-8 path"),
            "--batches",
            "8",
        ],
        dir.path(),
    );
    let e = report(&eval);
    let loss = e["eval_loss"].as_f64().expect("eval_loss");
    assert!(loss < 0.8 * baseline, "eval of the checkpoint: {e}");
}

#[test]
fn tinyshakespeare_loss_falls_below_frequency_baseline() {
    let data = repo().join("../shared/datasets/tinyshakespeare.txt");
    if !data.is_file() {
        eprintln!("skipping: {} not found", data.display());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // A smaller model than configs/shakespeare-char.toml so the test stays quick on 2 cores.
    let cfg = format!(
        r#"
[run]
name = "shakespeare-test"
seed = 3
[model]
kind = "llama"
hidden_size = 96
intermediate_size = 256
num_layers = 2
num_heads = 4
[data]
dataset = "tinyshakespeare"
path = "{}"
seq_len = 64
[training]
batch_size = 16
inner_steps = 150
rounds = 1
lr = 1e-2
min_lr = 1e-3
warmup_steps = 15
eval_every = 0
eval_batches = 8
"#,
        data.display()
    );
    let cfg_path = dir.path().join("shakespeare-test.toml");
    std::fs::write(&cfg_path, cfg).expect("write config");
    let out = coalition(
        &[
            "train-local",
            "--config",
            cfg_path.to_str().expect("utf-8"),
            "--json",
        ],
        dir.path(),
    );
    let r = report(&out);
    let baseline = r["unigram_baseline_nats"].as_f64().expect("baseline");
    let last = r["final_eval_loss"].as_f64().expect("final");
    eprintln!("tinyshakespeare: baseline {baseline:.4}, final eval {last:.4}");
    assert!(
        last < 0.85 * baseline,
        "eval loss {last} is not well below the frequency baseline {baseline}"
    );
    assert!(dir
        .path()
        .join("runs/shakespeare-test/checkpoints/local/model.safetensors")
        .is_file());
}

#[test]
fn missing_data_file_says_where_it_looked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = repo().join("configs/shakespeare-char.toml");
    let missing = dir.path().join("no-such-input.txt");
    let out = coalition(
        &[
            "train-local",
            "--config",
            config.to_str().expect("utf-8"),
            "--data",
            missing.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-input.txt"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_config_is_refused_with_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(repo().join("configs/tiny-local.toml")).expect("read");
    let bad = dir.path().join("typo.toml");
    std::fs::write(
        &bad,
        text.replace("[training]", "[training]\nlearning_rate = 0.1"),
    )
    .expect("write");
    let out = coalition(
        &["train-local", "--config", bad.to_str().expect("utf-8")],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typo.toml") && err.contains("learning_rate"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
