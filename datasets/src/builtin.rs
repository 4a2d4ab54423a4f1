//! The manifests in `datasets/manifests/`, embedded so the binary works from any directory.

/// Names of the built-in manifests (each is `manifests/<name>.toml`).
pub const BUILTIN_NAMES: &[&str] = &[
    "synthetic-arith",
    "tinyshakespeare",
    "local-text",
    "local-jsonl",
];

/// The TOML text of a built-in manifest.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    Some(match name {
        "synthetic-arith" => include_str!("../manifests/synthetic-arith.toml"),
        "tinyshakespeare" => include_str!("../manifests/tinyshakespeare.toml"),
        "local-text" => include_str!("../manifests/local-text.toml"),
        "local-jsonl" => include_str!("../manifests/local-jsonl.toml"),
        _ => return None,
    })
}
