//! Where a dataset's text comes from: the `[source]` table of a manifest.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::hashing::parse_sha256;

/// The `[source]` table, tagged by `kind`.
///
/// ```toml
/// [source]
/// kind = "synthetic-arith"   # or "text", "jsonl", "hf-hub"
/// seed = 1234
/// lines = 20000
/// max_operand = 999
/// ops = ["+"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SourceSpec {
    /// Arithmetic lines such as `417+38=455\n`, generated from `seed` (see [`crate::synthetic`]).
    SyntheticArith {
        seed: u64,
        /// Number of lines to generate.
        lines: usize,
        /// Operands are uniform in `0..=max_operand`.
        max_operand: u32,
        /// Operators to draw from, uniformly: any of `+`, `-`, `*`.
        #[serde(default = "default_ops")]
        ops: Vec<String>,
    },
    /// A UTF-8 text file. Relative paths: see [`crate::LoadOptions::base_dir`].
    Text {
        path: PathBuf,
        /// If set (64 hex chars), the file must have this sha256.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    /// JSON lines: one object per line, its text in `field`. Blank lines are skipped.
    Jsonl {
        path: PathBuf,
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    /// One file from a Hugging Face Hub repository, fetched with `hf-hub` (or taken from its
    /// cache when offline) and refused unless its sha256 matches.
    HfHub {
        /// `owner/name`.
        repo: String,
        #[serde(default)]
        repo_type: HubRepoType,
        /// Branch, tag or 40-hex commit.
        #[serde(default = "default_revision")]
        revision: String,
        /// Path of the file inside the repository.
        file: String,
        /// Required: 64 hex chars.
        sha256: String,
        #[serde(default)]
        format: HubFormat,
        /// The JSON field holding the text, for `format = "jsonl"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
}

/// The kind of Hub repository a file lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HubRepoType {
    #[default]
    Dataset,
    Model,
}

/// How to read a file fetched from the Hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HubFormat {
    #[default]
    Text,
    Jsonl,
}

/// Operators `synthetic-arith` knows.
pub const ARITH_OPS: [&str; 3] = ["+", "-", "*"];

/// Upper bound on generated lines (keeps a typo from allocating gigabytes).
pub const MAX_SYNTHETIC_LINES: usize = 50_000_000;

fn default_ops() -> Vec<String> {
    vec!["+".to_string()]
}

fn default_revision() -> String {
    "main".to_string()
}

impl SourceSpec {
    /// The `kind` tag, as written in manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::SyntheticArith { .. } => "synthetic-arith",
            SourceSpec::Text { .. } => "text",
            SourceSpec::Jsonl { .. } => "jsonl",
            SourceSpec::HfHub { .. } => "hf-hub",
        }
    }

    /// The pinned sha256 of the source file, if any.
    pub fn sha256(&self) -> Option<&str> {
        match self {
            SourceSpec::SyntheticArith { .. } => None,
            SourceSpec::Text { sha256, .. } | SourceSpec::Jsonl { sha256, .. } => sha256.as_deref(),
            SourceSpec::HfHub { sha256, .. } => Some(sha256),
        }
    }

    /// Check every range and set; `origin` names the manifest in errors.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, value: String, reason: &str| DatasetError::InvalidValue {
            origin: origin.to_string(),
            key: format!("source.{key}"),
            value,
            reason: reason.to_string(),
        };
        let check_sha = |sha: &str| {
            if sha.len() == 64 && parse_sha256(sha).is_some() {
                Ok(())
            } else {
                Err(bad(
                    "sha256",
                    format!("{sha:?}"),
                    "must be 64 hex characters",
                ))
            }
        };
        let check_nonempty = |key: &str, value: &str| {
            if value.trim().is_empty() {
                Err(bad(key, format!("{value:?}"), "must not be empty"))
            } else {
                Ok(())
            }
        };
        match self {
            SourceSpec::SyntheticArith { lines, ops, .. } => {
                if *lines == 0 || *lines > MAX_SYNTHETIC_LINES {
                    return Err(bad(
                        "lines",
                        lines.to_string(),
                        &format!("must be in 1..={MAX_SYNTHETIC_LINES}"),
                    ));
                }
                if ops.is_empty() {
                    return Err(bad("ops", "[]".into(), "must list at least one operator"));
                }
                if let Some(op) = ops.iter().find(|op| !ARITH_OPS.contains(&op.as_str())) {
                    return Err(bad(
                        "ops",
                        format!("{op:?}"),
                        &format!("operators must be among {ARITH_OPS:?}"),
                    ));
                }
            }
            SourceSpec::Text { path, sha256 } => {
                check_nonempty("path", &path.to_string_lossy())?;
                sha256.as_deref().map(check_sha).transpose()?;
            }
            SourceSpec::Jsonl {
                path,
                field,
                sha256,
            } => {
                check_nonempty("path", &path.to_string_lossy())?;
                check_nonempty("field", field)?;
                sha256.as_deref().map(check_sha).transpose()?;
            }
            SourceSpec::HfHub {
                repo,
                revision,
                file,
                sha256,
                format,
                field,
                ..
            } => {
                check_nonempty("repo", repo)?;
                check_nonempty("revision", revision)?;
                check_nonempty("file", file)?;
                check_sha(sha256)?;
                match (format, field) {
                    (HubFormat::Jsonl, None) => {
                        return Err(bad(
                            "field",
                            "(missing)".into(),
                            "format = \"jsonl\" needs `field`",
                        ))
                    }
                    (HubFormat::Jsonl, Some(f)) => check_nonempty("field", f)?,
                    (HubFormat::Text, Some(f)) => {
                        return Err(bad(
                            "field",
                            format!("{f:?}"),
                            "only used with format = \"jsonl\"",
                        ))
                    }
                    (HubFormat::Text, None) => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> std::result::Result<SourceSpec, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn parses_each_kind_with_defaults() {
        let s = parse("kind = \"synthetic-arith\"\nseed = 1\nlines = 3\nmax_operand = 9").unwrap();
        assert_eq!(
            s,
            SourceSpec::SyntheticArith {
                seed: 1,
                lines: 3,
                max_operand: 9,
                ops: vec!["+".into()]
            }
        );
        let s =
            parse("kind = \"hf-hub\"\nrepo = \"a/b\"\nfile = \"x.txt\"\nsha256 = \"ab\"").unwrap();
        let SourceSpec::HfHub {
            repo_type,
            revision,
            format,
            field,
            ..
        } = &s
        else {
            panic!()
        };
        assert_eq!(
            (*repo_type, revision.as_str(), *format, field),
            (HubRepoType::Dataset, "main", HubFormat::Text, &None)
        );
        assert_eq!(s.kind(), "hf-hub");
    }

    #[test]
    fn unknown_keys_and_kinds_are_rejected_by_name() {
        let e = parse("kind = \"text\"\npath = \"a\"\npth = \"b\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pth"), "{e}");
        let e = parse("kind = \"csv\"\npath = \"a\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("csv"), "{e}");
    }

    #[test]
    fn validation_names_the_key_and_value() {
        let e = SourceSpec::SyntheticArith {
            seed: 0,
            lines: 5,
            max_operand: 9,
            ops: vec!["/".into()],
        }
        .validate("m.toml")
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("m.toml") && e.contains("source.ops") && e.contains("\"/\""),
            "{e}"
        );
        let e = SourceSpec::Text {
            path: "a".into(),
            sha256: Some("xyz".into()),
        }
        .validate("m.toml")
        .unwrap_err()
        .to_string();
        assert!(e.contains("source.sha256") && e.contains("xyz"), "{e}");
        let e = SourceSpec::HfHub {
            repo: "a/b".into(),
            repo_type: HubRepoType::Model,
            revision: "main".into(),
            file: "f.jsonl".into(),
            sha256: "0".repeat(64),
            format: HubFormat::Jsonl,
            field: None,
        }
        .validate("m.toml")
        .unwrap_err()
        .to_string();
        assert!(e.contains("source.field"), "{e}");
        let e = SourceSpec::SyntheticArith {
            seed: 0,
            lines: 0,
            max_operand: 9,
            ops: vec!["+".into()],
        }
        .validate("m.toml")
        .unwrap_err()
        .to_string();
        assert!(e.contains("source.lines") && e.contains("= 0"), "{e}");
    }
}
