//! Named crash points for the fault suite: a debug build started with
//! `COALITION_TEST_CRASH_AT=<point>:<marker file>` aborts the process (no unwinding, no
//! destructors, as close to SIGKILL as a process can do to itself) the first time it reaches
//! `<point>`, after creating the marker file so that the restarted coordinator goes on. Release
//! builds never read the variable.
//!
//! Points: `after-report` (report written, `RoundScored` not journaled), `after-scored`
//! (`RoundScored` journaled, nothing committed), `mid-checkpoint` (the old checkpoint directory
//! removed, the new one not yet renamed into place), `after-checkpoint` (θ_{r+1} on disk,
//! `RoundCommitted` not journaled), `after-commit` (`RoundCommitted` journaled, the round not
//! yet served or recorded).

/// Abort here if the fault suite asked for a crash at `point` and it has not happened yet.
pub fn point(point: &str) {
    if !cfg!(debug_assertions) {
        return;
    }
    let Ok(spec) = std::env::var("COALITION_TEST_CRASH_AT") else {
        return;
    };
    let Some((wanted, marker)) = spec.split_once(':') else {
        return;
    };
    if wanted != point || std::path::Path::new(marker).exists() {
        return;
    }
    let _ = std::fs::write(marker, point);
    eprintln!("crash point {point}: aborting (COALITION_TEST_CRASH_AT)");
    std::process::abort();
}
