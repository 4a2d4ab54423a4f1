//! Helpers for end-to-end tests that run the real `coalition` binary as separate processes on
//! loopback: a process guard that kills on drop, run configs, wallets and journal polling.

#![allow(dead_code)]

pub mod browser;

use coalition_coordinator::journal::{read_entries, Entry};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) when dropped.
pub struct Proc {
    pub name: String,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, args: &[String], dir: &Path) -> Proc {
        Self::spawn_env(name, args, dir, &[])
    }

    /// [`Proc::spawn`] with extra environment variables.
    pub fn spawn_env(name: &str, args: &[String], dir: &Path, env: &[(&str, &str)]) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("clone log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_coalition"))
            .args(args)
            .current_dir(dir)
            .envs(env.iter().copied())
            .env("RAYON_NUM_THREADS", "1")
            .env("COALITION_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn coalition");
        Proc {
            name: name.to_string(),
            child: Some(child),
            log,
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Wait for exit; `None` on timeout.
    pub fn wait(&mut self, timeout: Duration) -> Option<bool> {
        let end = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status.success());
            }
            if Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A small, fast run config for end-to-end tests.
pub struct TestRun {
    pub name: String,
    pub rounds: usize,
    pub inner_steps: usize,
    pub min_trainers: usize,
    pub deadline_secs: u64,
    pub join_window_secs: u64,
    pub listen: String,
    /// `rewards.cluster`: `none` (the default here: most tests are about training) or `embedded`.
    pub cluster: String,
    /// Extra `[training]` keys, e.g. `broadcast_codec = "int8"`.
    pub training: String,
    pub extra: String,
}

impl TestRun {
    pub fn new(name: &str) -> Self {
        TestRun {
            name: name.to_string(),
            rounds: 3,
            inner_steps: 15,
            min_trainers: 3,
            deadline_secs: 60,
            join_window_secs: 30,
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            cluster: "none".into(),
            training: String::new(),
            extra: String::new(),
        }
    }

    pub fn toml(&self) -> String {
        format!(
            r#"[run]
name = "{name}"
seed = 5

[model]
kind = "llama"
hidden_size = 32
intermediate_size = 96
num_layers = 2
num_heads = 4
tie_embeddings = true

[data]
dataset = "synthetic-arith"
seq_len = 32

[training]
batch_size = 8
inner_steps = {h}
rounds = {rounds}
lr = 1e-2
min_lr = 1e-3
warmup_steps = 5
{training}

[network]
listen = ["{listen}"]
join_window_secs = {window}
round_deadline_secs = {deadline}
min_trainers = {min}
max_trainers = 16

[attribution]
estimator = "exact"
eval_sequences = 16

[rewards]
cluster = "{cluster}"
{extra}
"#,
            name = self.name,
            h = self.inner_steps,
            rounds = self.rounds,
            listen = self.listen,
            window = self.join_window_secs,
            deadline = self.deadline_secs,
            min = self.min_trainers,
            cluster = self.cluster,
            training = self.training,
            extra = self.extra,
        )
    }

    /// Write the config into `dir` and return its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.toml", self.name));
        std::fs::write(&path, self.toml()).expect("write config");
        path
    }

    pub fn run_dir(&self, dir: &Path) -> PathBuf {
        dir.join("runs").join(&self.name)
    }
}

/// Start a coordinator for `config` and return it with its first TCP address.
pub fn start_coordinator(
    dir: &Path,
    config: &Path,
    name: &str,
    listen: Option<&str>,
) -> (Proc, String) {
    start_coordinator_env(dir, config, name, listen, &[])
}

/// [`start_coordinator`] with extra environment variables.
pub fn start_coordinator_env(
    dir: &Path,
    config: &Path,
    name: &str,
    listen: Option<&str>,
    env: &[(&str, &str)],
) -> (Proc, String) {
    let ready = dir.join(format!("{name}.addr"));
    let _ = std::fs::remove_file(&ready);
    let mut args = vec![
        "coordinate".to_string(),
        "--config".into(),
        config.to_string_lossy().into_owned(),
        "--runs".into(),
        dir.join("runs").to_string_lossy().into_owned(),
        "--ready-file".into(),
        ready.to_string_lossy().into_owned(),
        "--linger-secs".into(),
        "3".into(),
    ];
    if let Some(l) = listen {
        args.push("--listen".into());
        args.push(l.to_string());
    }
    let mut p = Proc::spawn_env(name, &args, dir, env);
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            if let Some(a) = text.lines().find(|l| l.contains("/tcp/")) {
                return (p, a.to_string());
            }
        }
        if let Some(Ok(Some(status))) = p.child.as_mut().map(|c| c.try_wait()) {
            panic!("coordinator exited early ({status}):\n{}", p.log_text());
        }
        assert!(
            Instant::now() < end,
            "coordinator did not listen:\n{}",
            p.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `coalition ARGS` to completion: (success, stdout + stderr).
pub fn coalition(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coalition"))
        .args(args)
        .output()
        .expect("run coalition");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `coalition verify ARGS`: (success, stdout + stderr); a panic is a failure whatever the
/// exit code says.
pub fn verify(args: &[&str]) -> (bool, String) {
    let all: Vec<&str> = std::iter::once("verify")
        .chain(args.iter().copied())
        .collect();
    let (ok, text) = coalition(&all);
    assert!(!text.contains("panicked"), "{text}");
    (ok, text)
}

/// `coalition verify --from RUN_DIR --all --records 64 --tolerance 0`: every transcript
/// record of every round re-evaluated, bit for bit.
pub fn verify_every_record(run_dir: &Path) -> (bool, String) {
    let from = run_dir.to_string_lossy().into_owned();
    verify(&[
        "--from",
        &from,
        "--all",
        "--records",
        "64",
        "--tolerance",
        "0",
    ])
}

/// Write a fresh wallet and return its path.
pub fn wallet(dir: &Path, name: &str) -> (PathBuf, String) {
    let w = coalition_net::Wallet::generate();
    let path = dir.join(format!("{name}.json"));
    w.write_file(&path).expect("write wallet");
    (path, w.pubkey_base58())
}

pub fn start_trainer(dir: &Path, name: &str, addr: &str, wallet: &Path, behavior: &str) -> Proc {
    start_trainer_args(dir, name, addr, wallet, behavior, &[])
}

/// [`start_trainer`] with extra `coalition train` arguments (e.g. `--data FILE`).
pub fn start_trainer_args(
    dir: &Path,
    name: &str,
    addr: &str,
    wallet: &Path,
    behavior: &str,
    extra: &[&str],
) -> Proc {
    let wallet = wallet.to_string_lossy();
    let base = [
        "train",
        "--join",
        addr,
        "--wallet",
        &wallet,
        "--behavior",
        behavior,
        "--max-retries",
        "12",
    ];
    let args: Vec<String> = base.iter().chain(extra).map(|s| s.to_string()).collect();
    Proc::spawn(name, &args, dir)
}

/// Journal entries of a run (empty if there is no journal yet).
pub fn journal(run_dir: &Path) -> Vec<Entry> {
    let path = run_dir.join("journal.jsonl");
    if !path.exists() {
        return Vec::new();
    }
    read_entries(&path).unwrap_or_default()
}

/// Wait until `pred` holds for the run's journal.
pub fn wait_journal(
    run_dir: &Path,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&[Entry]) -> bool,
) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if pred(&journal(run_dir)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

pub fn committed_rounds(entries: &[Entry]) -> Vec<u64> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::RoundCommitted { round, .. } => Some(*round),
            _ => None,
        })
        .collect()
}

pub fn opened(entries: &[Entry], round: u64) -> bool {
    entries
        .iter()
        .any(|e| matches!(e, Entry::RoundOpened { round: r, .. } if *r == round))
}
