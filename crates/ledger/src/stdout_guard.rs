//! Keeps a dependency's progress prints off our stdout.
//!
//! solana-test-validator prints "Waiting for first slot N..." with `println!` while it starts,
//! which would land in the middle of our commands' output (and break `inspect --json`). While
//! a [`StdoutToStderr`] guard lives, this process's file descriptor 1 points at descriptor 2,
//! so such lines go to stderr with the logs; dropping the guard puts stdout back. Anything our
//! own threads print to stdout in that window goes to stderr too: the validator starts before
//! a command prints its results.

use std::io::Write;

/// Stdout redirected to stderr until dropped.
pub struct StdoutToStderr {
    saved: Option<libc::c_int>,
}

impl StdoutToStderr {
    /// Redirect (a no-op guard when the descriptors cannot be duplicated).
    pub fn new() -> Self {
        let _ = std::io::stdout().flush();
        // SAFETY: dup/dup2 on the process's own standard descriptors; failures are checked and
        // leave stdout as it was.
        let saved = unsafe {
            let saved = libc::dup(1);
            if saved < 0 {
                None
            } else if libc::dup2(2, 1) < 0 {
                libc::close(saved);
                None
            } else {
                Some(saved)
            }
        };
        StdoutToStderr { saved }
    }
}

impl Default for StdoutToStderr {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        let _ = std::io::stdout().flush();
        if let Some(saved) = self.saved.take() {
            // SAFETY: restores the descriptor saved in `new`, then closes the copy.
            unsafe {
                libc::dup2(saved, 1);
                libc::close(saved);
            }
        }
    }
}
