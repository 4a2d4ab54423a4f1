//! Dataset manifests: a small TOML file naming a dataset, its source, tokenizer and split.
//!
//! ```toml
//! name = "synthetic-arith"
//! description = "..."
//! tokenizer = "byte"          # default; or { hf-json = "tokenizer.json" } or { gguf = "m.gguf" }
//! eval_fraction = 0.1         # default; must be in (0, 0.5]
//!
//! [source]
//! kind = "synthetic-arith"
//! seed = 1234
//! lines = 20000
//! max_operand = 999
//! ```
//!
//! Unknown keys are rejected; every error names the manifest (file path, or
//! "built-in manifest `name`") and the key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::builtin::{builtin_text, BUILTIN_NAMES};
use crate::error::{io_error, DatasetError, Result};
use crate::source::SourceSpec;
use crate::tokenizer::TokenizerSpec;

/// A parsed and validated dataset manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tokenizer: TokenizerSpec,
    /// Fraction of the text (by bytes, rounded to a line boundary) held out for eval.
    #[serde(default = "default_eval_fraction")]
    pub eval_fraction: f64,
    pub source: SourceSpec,
    /// Where this manifest came from (for messages and relative paths).
    #[serde(skip)]
    origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Origin {
    #[default]
    Code,
    Builtin,
    File(PathBuf),
}

/// Default held-out fraction.
pub const DEFAULT_EVAL_FRACTION: f64 = 0.1;

fn default_eval_fraction() -> f64 {
    DEFAULT_EVAL_FRACTION
}

impl Manifest {
    /// A manifest made in code (not read from a file); validated.
    pub fn new(name: &str, source: SourceSpec) -> Result<Self> {
        let m = Manifest {
            name: name.to_string(),
            description: String::new(),
            tokenizer: TokenizerSpec::Byte,
            eval_fraction: DEFAULT_EVAL_FRACTION,
            source,
            origin: Origin::Code,
        };
        m.validate()?;
        Ok(m)
    }

    /// Read and validate a manifest file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| {
            io_error(
                "dataset manifest",
                path,
                &format!("built-in manifests are {}", BUILTIN_NAMES.join(", ")),
                e,
            )
        })?;
        let origin = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| DatasetError::ManifestParse {
            origin: origin.clone(),
            message: format!("not UTF-8: {e}"),
        })?;
        let mut m = Self::parse(&text, &origin)?;
        m.origin = Origin::File(path.to_path_buf());
        Ok(m)
    }

    /// One of the manifests shipped in `datasets/manifests/` (embedded in the binary).
    pub fn builtin(name: &str) -> Result<Self> {
        let text = builtin_text(name).ok_or_else(|| DatasetError::UnknownManifest {
            name: name.to_string(),
            available: Self::builtin_names()
                .iter()
                .map(|s| s.to_string())
                .collect(),
        })?;
        let mut m = Self::parse(text, &format!("built-in manifest `{name}`"))?;
        m.origin = Origin::Builtin;
        Ok(m)
    }

    /// Names of the built-in manifests.
    pub fn builtin_names() -> &'static [&'static str] {
        BUILTIN_NAMES
    }

    /// A path (an existing file, or anything ending in `.toml` or containing a path separator)
    /// or else a built-in name.
    pub fn resolve(name_or_path: &str) -> Result<Self> {
        let p = Path::new(name_or_path);
        let looks_like_path = name_or_path.ends_with(".toml")
            || name_or_path.contains('/')
            || name_or_path.contains(std::path::MAIN_SEPARATOR);
        if p.is_file() || looks_like_path {
            Self::from_file(p)
        } else {
            Self::builtin(name_or_path)
        }
    }

    /// Parse TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let m: Manifest = toml::from_str(text).map_err(|e| DatasetError::ManifestParse {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        m.validate_as(origin)?;
        Ok(m)
    }

    /// The file this manifest came from, if any.
    pub fn origin_file(&self) -> Option<&Path> {
        match &self.origin {
            Origin::File(p) => Some(p),
            _ => None,
        }
    }

    /// How errors name this manifest.
    pub fn origin(&self) -> String {
        match &self.origin {
            Origin::File(p) => p.display().to_string(),
            Origin::Builtin => format!("built-in manifest `{}`", self.name),
            Origin::Code => format!("manifest `{}`", self.name),
        }
    }

    /// Check every key's range.
    pub fn validate(&self) -> Result<()> {
        self.validate_as(&self.origin())
    }

    fn validate_as(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, value: String, reason: &str| DatasetError::InvalidValue {
            origin: origin.to_string(),
            key: key.to_string(),
            value,
            reason: reason.to_string(),
        };
        if self.name.trim().is_empty() {
            return Err(bad("name", format!("{:?}", self.name), "must not be empty"));
        }
        let f = self.eval_fraction;
        if !(f.is_finite() && f > 0.0 && f <= 0.5) {
            return Err(bad("eval_fraction", f.to_string(), "must be in (0, 0.5]"));
        }
        let key = match &self.tokenizer {
            TokenizerSpec::Byte => "",
            TokenizerSpec::HfJson(_) => "tokenizer.hf-json",
            TokenizerSpec::Gguf(_) => "tokenizer.gguf",
        };
        if self
            .tokenizer
            .path()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(bad(key, "\"\"".into(), "must be a path"));
        }
        self.source.validate(origin)
    }

    /// Directory that relative paths in this manifest are resolved against:
    /// `override_dir` if given, else the manifest file's directory, else `None`
    /// (the current directory).
    pub fn base_dir(&self, override_dir: Option<&Path>) -> Option<PathBuf> {
        override_dir.map(Path::to_path_buf).or_else(|| {
            self.origin_file()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_is_named_after_its_file() {
        for name in Manifest::builtin_names() {
            let m = Manifest::builtin(name).unwrap();
            assert_eq!(&m.name, name);
            assert!(!m.description.is_empty(), "{name} has no description");
        }
    }

    #[test]
    fn shipped_files_equal_the_builtins() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut names: Vec<String> = BUILTIN_NAMES.iter().map(|s| s.to_string()).collect();
        names.sort();
        assert_eq!(
            files, names,
            "every manifests/*.toml must be listed in builtin.rs"
        );
        for name in names {
            let path = dir.join(format!("{name}.toml"));
            let from_file = Manifest::from_file(&path).unwrap();
            assert_eq!(from_file.origin_file(), Some(path.as_path()));
            let mut builtin = Manifest::builtin(&name).unwrap();
            builtin.origin = from_file.origin.clone();
            assert_eq!(from_file, builtin);
        }
    }

    #[test]
    fn resolve_takes_names_and_paths() {
        assert_eq!(
            Manifest::resolve("synthetic-arith").unwrap().name,
            "synthetic-arith"
        );
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/local-text.toml");
        assert!(Manifest::resolve(path).unwrap().origin_file().is_some());
        let e = Manifest::resolve("nope").unwrap_err().to_string();
        for name in BUILTIN_NAMES {
            assert!(e.contains(name), "{e}");
        }
        let e = Manifest::resolve("missing/dir/x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dataset manifest not found") && e.contains("missing/dir/x.toml"),
            "{e}"
        );
    }

    #[test]
    fn defaults_apply() {
        let m = Manifest::parse(
            "name = \"t\"\n[source]\nkind = \"text\"\npath = \"a.txt\"",
            "t.toml",
        )
        .unwrap();
        assert_eq!(m.eval_fraction, DEFAULT_EVAL_FRACTION);
        assert_eq!(m.tokenizer, TokenizerSpec::Byte);
        assert_eq!(m.description, "");
    }

    #[test]
    fn errors_name_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("name = \"t\"\neval_fraction = 0.7\n[source]\nkind = \"text\"\npath = \"a\"", "key `eval_fraction` = 0.7"),
            ("name = \"t\"\neval_fraction = 0.0\n[source]\nkind = \"text\"\npath = \"a\"", "key `eval_fraction` = 0"),
            ("name = \"t\"\nsplit = 1\n[source]\nkind = \"text\"\npath = \"a\"", "unknown field `split`"),
            ("name = \"t\"\n[source]\nkind = \"text\"\npath = \"a\"\nextra = 2", "unknown field `extra`"),
            ("name = \"t\"\n[source]\nkind = \"synthetic-arith\"\nseed = 1\nlines = 0\nmax_operand = 9", "key `source.lines` = 0"),
            ("name = \"t\"\n", "missing field `source`"),
            ("name = \"t\"\n[source]\nkind = \"text\"\npath = 3", "expected path string"),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("m{i}.toml"));
            std::fs::write(&path, text).unwrap();
            let e = Manifest::from_file(&path).unwrap_err().to_string();
            assert!(e.contains(&path.display().to_string()), "{e}");
            assert!(e.contains(want), "case {i}: {e}\n(wanted {want})");
        }
    }
}
