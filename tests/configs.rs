//! Every run config shipped in configs/ parses and validates, and `check-config` accepts it.

use std::path::PathBuf;
use std::process::Command;

fn configs() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("configs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_config_parses_and_validates() {
    let files = configs();
    assert!(files.len() >= 2, "expected configs, found {files:?}");
    for f in files {
        coalition_config::RunConfig::from_file(&f)
            .unwrap_or_else(|e| panic!("{} does not validate: {e}", f.display()));
    }
}

#[test]
fn check_config_command_accepts_every_config() {
    for f in configs() {
        let out = Command::new(env!("CARGO_BIN_EXE_coalition"))
            .arg("check-config")
            .arg(&f)
            .output()
            .expect("run coalition");
        assert!(
            out.status.success(),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(": ok"));
        // The demo pays strangers: its eval pool must be private; the others say if theirs is not.
        let public = stdout.contains("PUBLIC");
        assert_eq!(public, stdout.contains("warning: "), "{stdout}");
        if f.ends_with("demo.toml") {
            assert!(!public && stdout.contains("Generated"), "{stdout}");
        }
    }
}

#[test]
fn check_config_names_file_and_key_on_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    let good = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/tiny-local.toml"),
    )
    .expect("read");
    std::fs::write(&bad, good.replace("batch_size = 16", "batch_size = 0")).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_coalition"))
        .arg("check-config")
        .arg(&bad)
        .output()
        .expect("run coalition");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("training.batch_size"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
