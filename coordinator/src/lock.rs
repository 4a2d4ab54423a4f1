//! One coordinator per run directory: an exclusive lock on `runs/<name>.lock` (beside the run
//! directory, so that `--start-over` cannot move a live run aside), held for the coordinator's
//! life and released by the OS when the process ends, however it ends. The file holds the
//! holder's pid, so a second coordinator's error names it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{io, CoordinatorError, Result};

/// A held run lock (released when dropped).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Take the lock of run `name` under `runs_root`, or fail naming the pid that holds it.
    pub fn acquire(runs_root: &Path, name: &str) -> Result<RunLock> {
        if !crate::rundir::valid_run_name(name) {
            return Err(CoordinatorError::BadRunName { name: name.into() });
        }
        crate::fsutil::create_dir_all(runs_root)?;
        let path = runs_root.join(format!("{name}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open the run lock", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(CoordinatorError::RunLocked {
                    path,
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
        }
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .and_then(|_| file.sync_data())
            .map_err(io("write the run lock", &path))?;
        Ok(RunLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path(), "r").unwrap();
        let err = RunLock::acquire(dir.path(), "r").unwrap_err().to_string();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        assert!(err.contains("r.lock"), "{err}");
        // Another run is not affected; dropping the lock frees it.
        let _other = RunLock::acquire(dir.path(), "s").unwrap();
        drop(first);
        RunLock::acquire(dir.path(), "r").unwrap();
    }
}
