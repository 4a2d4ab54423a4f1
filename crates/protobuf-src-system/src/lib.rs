//! The system's protoc, in place of building protobuf from source.
//!
//! `protobuf-src` compiles protobuf 21.5 from C++ source so that build scripts have a `protoc`
//! to call; its two functions return paths into that build. This crate keeps the two functions
//! and returns the system's instead: `$PROTOC` when set, else the first `protoc` on `PATH`
//! (Debian: `apt install protobuf-compiler libprotobuf-dev`, which `scripts/install-deps.sh`
//! does). Both are called from build scripts, where a panic is the way to report an error.

use std::env;
use std::path::PathBuf;

/// Path of the `protoc` binary: `$PROTOC`, else the first `protoc` on `PATH`.
///
/// # Panics
/// When neither exists, with a message naming the package to install.
pub fn protoc() -> PathBuf {
    if let Some(path) = env::var_os("PROTOC") {
        return PathBuf::from(path);
    }
    let found = env::var_os("PATH").and_then(|paths| {
        env::split_paths(&paths)
            .map(|dir| dir.join("protoc"))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => path,
        None => panic!(
            "no protoc: set PROTOC or install Debian's protobuf-compiler \
             (scripts/install-deps.sh does)"
        ),
    }
}

/// Directory of protobuf's well-known `.proto` includes: `$PROTOC_INCLUDE`, else the
/// `include` directory beside the `bin` holding `protoc` (`/usr/include` on Debian).
pub fn include() -> PathBuf {
    if let Some(path) = env::var_os("PROTOC_INCLUDE") {
        return PathBuf::from(path);
    }
    let protoc = protoc();
    protoc
        .parent()
        .and_then(|bin| bin.parent())
        .map(|prefix| prefix.join("include"))
        .unwrap_or_else(|| PathBuf::from("/usr/include"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_protoc_that_runs() {
        let path = protoc();
        let out = std::process::Command::new(&path).arg("--version").output();
        let out = out.unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("libprotoc"));
    }
}
