//! `data.tokenizer`: a tokenizer that replaces the dataset manifest's, e.g. the model's own from
//! its GGUF file.
//!
//! ```toml
//! [data]
//! tokenizer = "gguf:../models/SmolLM2-135M-Instruct.Q4_1.gguf"   # or "byte"
//! ```
//!
//! Relative paths are resolved against the config file's directory (see
//! [`RunConfig::data_tokenizer`](crate::RunConfig::data_tokenizer)).

use std::fmt;
use std::path::PathBuf;

/// What `data.tokenizer` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerOverride {
    /// `"byte"`: one token per byte of UTF-8 (vocabulary 256).
    Byte,
    /// `"gguf:PATH"`: the byte-level BPE tokenizer in the metadata of a GGUF model file.
    Gguf(PathBuf),
}

impl TokenizerOverride {
    /// Parse the string form; the error says what is accepted.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "byte" {
            return Ok(TokenizerOverride::Byte);
        }
        match s.strip_prefix("gguf:") {
            Some("") => Err(format!("{s:?} names no file (use \"gguf:PATH\")")),
            Some(path) => Ok(TokenizerOverride::Gguf(PathBuf::from(path))),
            None => Err(format!(
                "{s:?} is not a tokenizer: use \"byte\" or \"gguf:PATH\" (a GGUF model file)"
            )),
        }
    }
}

/// The string form again (`byte` or `gguf:PATH`), which the datasets crate's `TokenizerSpec`
/// also parses.
impl fmt::Display for TokenizerOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizerOverride::Byte => f.write_str("byte"),
            TokenizerOverride::Gguf(p) => write!(f, "gguf:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms() {
        assert_eq!(
            TokenizerOverride::parse("byte"),
            Ok(TokenizerOverride::Byte)
        );
        let g = TokenizerOverride::parse("gguf:m/x.gguf").expect("gguf");
        assert_eq!(g, TokenizerOverride::Gguf("m/x.gguf".into()));
        assert_eq!(g.to_string(), "gguf:m/x.gguf");
        for bad in ["", "gguf:", "gguf", "bpe", "hf:x", "Byte"] {
            let e = TokenizerOverride::parse(bad).expect_err(bad);
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
