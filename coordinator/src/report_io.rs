//! Reports on disk: `reports/round-N.json`, written atomically, read back with errors that
//! name the file.

use coalition_attribution::{sha256, Hash32, Report};
use std::path::Path;

use crate::error::{io, CoordinatorError, Result};
use crate::fsutil;

/// Write `report` to `path` atomically and durably; returns the sha256 of the bytes written
/// (recorded in the journal's `round_scored` entry).
pub fn write_report(path: &Path, report: &Report) -> Result<Hash32> {
    let json = report.to_json();
    if json.is_empty() {
        return Err(CoordinatorError::BadFile {
            path: path.to_path_buf(),
            message: "report could not be serialised".into(),
        });
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fsutil::create_dir_all(dir)?;
    }
    fsutil::write_atomic(path, json.as_bytes())?;
    Ok(sha256(json.as_bytes()))
}

/// Read a report back.
pub fn read_report(path: &Path) -> Result<Report> {
    let bytes = std::fs::read(path).map_err(io("read report", path))?;
    parse(path, &bytes)
}

/// Read a report whose file must hash to `expected` (from the journal).
pub fn read_report_checked(path: &Path, expected: &Hash32) -> Result<Report> {
    let bytes = std::fs::read(path).map_err(io("read report", path))?;
    let got = sha256(&bytes);
    if got != *expected {
        return Err(CoordinatorError::HashMismatch {
            what: format!("report {}", path.display()),
            expected: *expected,
            got,
        });
    }
    parse(path, &bytes)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Report> {
    let bad = |message: String| CoordinatorError::BadFile {
        path: path.to_path_buf(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    Report::from_json(text).map_err(|e| bad(format!("not a coalition report: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use coalition_attribution::*;

    fn report() -> Report {
        let players: Vec<PlayerInput> = (0..2u8)
            .map(|i| PlayerInput {
                id: format!("t{i}"),
                update_hash: sha256(&[i]),
            })
            .collect();
        let hashes: Vec<Hash32> = players.iter().map(|p| p.update_hash).collect();
        let model_hash = sha256(b"m");
        let seed = round_seed(b"run", 3, &model_hash, &hashes);
        let mut game = from_fn(2, |c: Coalition| c.len() as f64 * 0.1);
        let att = estimate(&mut game, &EstimatorSpec::exact(), seed).unwrap();
        let info = RoundInfo {
            run_id: "run",
            round: 3,
            model_hash,
            players: &players,
            reward: 100,
            noise_threshold: 0,
        };
        Report::build(&info, att).unwrap()
    }

    #[test]
    fn round_trips_and_checks_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports").join("round-3.json");
        let r = report();
        let h = write_report(&path, &r).unwrap();
        assert_eq!(read_report(&path).unwrap(), r);
        assert_eq!(read_report_checked(&path, &h).unwrap(), r);
        assert!(verify_report(&read_report(&path).unwrap()).is_match());
        let err = read_report_checked(&path, &sha256(b"x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("round-3.json"), "{err}");
        std::fs::write(&path, b"{\"format\": 1}").unwrap();
        let err = read_report(&path).unwrap_err().to_string();
        assert!(
            err.contains("round-3.json") && err.contains("not a coalition report"),
            "{err}"
        );
        assert!(read_report(&dir.path().join("nope.json")).is_err());
    }
}
