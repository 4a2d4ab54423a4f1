//! Tokenizers: raw bytes (vocabulary 256, lossless), a Hugging Face `tokenizer.json`, or the
//! byte-level BPE tokenizer a GGUF model file carries in its metadata
//! ([`Tokenizer::from_gguf`]).

mod gguf;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{io_error, DatasetError, Result};

/// The `tokenizer` key of a manifest: `tokenizer = "byte"` (the default),
/// `tokenizer = { hf-json = "path/to/tokenizer.json" }` or
/// `tokenizer = { gguf = "path/to/model.gguf" }`.
///
/// As one string ([`FromStr`], [`fmt::Display`]): `byte`, `hf-json:PATH` or `gguf:PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum TokenizerSpec {
    /// One token per byte of UTF-8; ids 0..=255.
    #[default]
    Byte,
    /// A Hugging Face `tokenizer.json`. Relative paths: see [`crate::LoadOptions::base_dir`].
    HfJson(PathBuf),
    /// The tokenizer in a GGUF model file's metadata (byte-level BPE only). Relative paths: see
    /// [`crate::LoadOptions::base_dir`].
    Gguf(PathBuf),
}

impl TokenizerSpec {
    /// The file this spec names, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            TokenizerSpec::Byte => None,
            TokenizerSpec::HfJson(p) | TokenizerSpec::Gguf(p) => Some(p),
        }
    }
}

impl FromStr for TokenizerSpec {
    type Err = String;

    /// `byte`, `hf-json:PATH` or `gguf:PATH` (PATH not empty).
    fn from_str(s: &str) -> Result<Self, String> {
        let path = |p: &str| {
            if p.is_empty() {
                Err(format!("{s:?} names no file"))
            } else {
                Ok(PathBuf::from(p))
            }
        };
        if s == "byte" {
            Ok(TokenizerSpec::Byte)
        } else if let Some(p) = s.strip_prefix("hf-json:") {
            path(p).map(TokenizerSpec::HfJson)
        } else if let Some(p) = s.strip_prefix("gguf:") {
            path(p).map(TokenizerSpec::Gguf)
        } else {
            Err(format!(
                "{s:?} is not a tokenizer: use \"byte\", \"hf-json:PATH\" or \"gguf:PATH\""
            ))
        }
    }
}

impl fmt::Display for TokenizerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizerSpec::Byte => f.write_str("byte"),
            TokenizerSpec::HfJson(p) => write!(f, "hf-json:{}", p.display()),
            TokenizerSpec::Gguf(p) => write!(f, "gguf:{}", p.display()),
        }
    }
}

/// A loaded tokenizer.
#[derive(Clone)]
pub enum Tokenizer {
    /// Bytes are tokens: vocabulary 256, `decode(encode(s)) == s` for every string.
    Byte,
    /// A Hugging Face tokenizer loaded from `path`.
    HfJson {
        path: PathBuf,
        inner: Box<tokenizers::Tokenizer>,
    },
    /// The tokenizer built from the metadata of the GGUF file at `path`.
    Gguf {
        path: PathBuf,
        inner: Box<tokenizers::Tokenizer>,
    },
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Tokenizer {
    /// Load a `tokenizer.json`.
    pub fn from_hf_json(path: &Path) -> Result<Self> {
        // Read it ourselves first so a missing file gets the "looked for" message.
        let bytes = std::fs::read(path).map_err(|e| io_error("tokenizer.json", path, "", e))?;
        let inner =
            tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| DatasetError::TokenizerLoad {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(Tokenizer::HfJson {
            path: path.to_path_buf(),
            inner: Box::new(inner),
        })
    }

    /// This tokenizer as a Hugging Face `tokenizer.json` text, for checkpoints that
    /// `transformers` loads with their tokenizer (`None` for the byte tokenizer, which has no
    /// such form).
    pub fn hf_json(&self) -> Result<Option<String>> {
        let (path, inner) = match self {
            Tokenizer::Byte => return Ok(None),
            Tokenizer::HfJson { path, inner } | Tokenizer::Gguf { path, inner } => (path, inner),
        };
        inner
            .to_string(false)
            .map(Some)
            .map_err(|e| DatasetError::TokenizerLoad {
                path: path.clone(),
                message: format!("cannot write it as tokenizer.json: {e}"),
            })
    }

    /// Build the byte-level BPE tokenizer in a GGUF file's metadata. Other tokenizer kinds
    /// (`tokenizer.ggml.model` not `gpt2`) and unknown pre-tokenizers are refused with an error
    /// naming the key.
    pub fn from_gguf(path: &Path) -> Result<Self> {
        Ok(Tokenizer::Gguf {
            path: path.to_path_buf(),
            inner: Box::new(gguf::load(path)?),
        })
    }

    /// Build the tokenizer a spec names; relative `hf-json` and `gguf` paths are joined to
    /// `base`.
    pub fn from_spec(spec: &TokenizerSpec, base: Option<&Path>) -> Result<Self> {
        let resolve = |path: &Path| match base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_path_buf(),
        };
        match spec {
            TokenizerSpec::Byte => Ok(Tokenizer::Byte),
            TokenizerSpec::HfJson(path) => Self::from_hf_json(&resolve(path)),
            TokenizerSpec::Gguf(path) => Self::from_gguf(&resolve(path)),
        }
    }

    /// The Hugging Face tokenizer behind `HfJson` and `Gguf`.
    fn hf(&self) -> Option<&tokenizers::Tokenizer> {
        match self {
            Tokenizer::Byte => None,
            Tokenizer::HfJson { inner, .. } | Tokenizer::Gguf { inner, .. } => Some(inner),
        }
    }

    /// Number of token ids (for `HfJson` and `Gguf`, including added tokens).
    pub fn vocab_size(&self) -> usize {
        match self.hf() {
            None => 256,
            Some(inner) => inner.get_vocab_size(true),
        }
    }

    /// A short human description, recorded with the corpus: `byte`, `hf-json:<path>` or
    /// `gguf:<path>`.
    pub fn describe(&self) -> String {
        match self {
            Tokenizer::Byte => "byte".to_string(),
            Tokenizer::HfJson { path, .. } => format!("hf-json:{}", path.display()),
            Tokenizer::Gguf { path, .. } => format!("gguf:{}", path.display()),
        }
    }

    /// Text to token ids (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self.hf() {
            None => Ok(text.bytes().map(u32::from).collect()),
            Some(inner) => inner
                .encode(text, false)
                .map(|enc| enc.get_ids().to_vec())
                .map_err(|e| self.tokenize_error(e.to_string())),
        }
    }

    /// Token ids to text. `Byte` replaces byte sequences that are not UTF-8 (e.g. a sample
    /// cut inside a character) with U+FFFD; ids ≥ 256 are an error.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let vocab_size = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab_size) {
            return Err(DatasetError::TokenOutOfVocab {
                id,
                tokenizer: self.describe(),
                vocab_size,
            });
        }
        match self.hf() {
            None => {
                let bytes: Vec<u8> = ids.iter().map(|&id| id as u8).collect();
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
            Some(inner) => inner
                .decode(ids, false)
                .map_err(|e| self.tokenize_error(e.to_string())),
        }
    }

    fn tokenize_error(&self, message: String) -> DatasetError {
        DatasetError::Tokenize {
            tokenizer: self.describe(),
            message,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) use super::gguf::tests::{tiny_metadata, write_gguf};

    /// Build a small WordLevel tokenizer in code, save it as `dir/tokenizer.json`, return the path.
    pub(crate) fn write_word_level(dir: &Path) -> PathBuf {
        let words = [
            "[UNK]", "to", "be", "or", "not", "that", "is", "the", "question",
        ];
        let vocab: serde_json::Map<String, serde_json::Value> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.to_string(), serde_json::Value::from(i)))
            .collect();
        let vocab_path = dir.join("vocab.json");
        std::fs::write(&vocab_path, serde_json::to_string(&vocab).unwrap()).unwrap();
        let model = tokenizers::models::wordlevel::WordLevel::builder()
            .files(vocab_path.to_string_lossy().into_owned())
            .unk_token("[UNK]".into())
            .build()
            .unwrap();
        let mut tok = tokenizers::Tokenizer::new(model);
        tok.with_pre_tokenizer(Some(tokenizers::pre_tokenizers::whitespace::Whitespace));
        let path = dir.join("tokenizer.json");
        tok.save(&path, false).unwrap();
        path
    }

    #[test]
    fn hf_json_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_word_level(dir.path());
        let tok = Tokenizer::from_spec(
            &TokenizerSpec::HfJson("tokenizer.json".into()),
            Some(dir.path()),
        )
        .unwrap();
        assert_eq!(tok.vocab_size(), 9);
        let ids = tok.encode("to be or not to be").unwrap();
        assert_eq!(ids, vec![1, 2, 3, 4, 1, 2]);
        assert_eq!(tok.decode(&ids).unwrap(), "to be or not to be");
        assert_eq!(tok.encode("to flee").unwrap(), vec![1, 0]);
        assert_eq!(tok.describe(), format!("hf-json:{}", path.display()));
        assert!(matches!(
            tok.decode(&[9]),
            Err(DatasetError::TokenOutOfVocab { id: 9, .. })
        ));
    }

    #[test]
    fn hf_json_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        let e = Tokenizer::from_hf_json(&missing).unwrap_err().to_string();
        assert!(e.contains("not found") && e.contains("nope.json"), "{e}");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"model\": 3}").unwrap();
        let e = Tokenizer::from_hf_json(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.json"), "{e}");
    }

    #[test]
    fn spec_serde_shape() {
        #[derive(Deserialize, Serialize, Debug, PartialEq)]
        struct W {
            tokenizer: TokenizerSpec,
        }
        let w: W = toml::from_str("tokenizer = \"byte\"").unwrap();
        assert_eq!(w.tokenizer, TokenizerSpec::Byte);
        let w: W = toml::from_str("tokenizer = { hf-json = \"t/tokenizer.json\" }").unwrap();
        assert_eq!(
            w.tokenizer,
            TokenizerSpec::HfJson("t/tokenizer.json".into())
        );
        assert_eq!(
            toml::from_str::<W>(&toml::to_string(&w).unwrap()).unwrap(),
            w
        );
        assert!(toml::from_str::<W>("tokenizer = \"bpe\"").is_err());
        let w: W = toml::from_str("tokenizer = { gguf = \"m/model.gguf\" }").unwrap();
        assert_eq!(w.tokenizer, TokenizerSpec::Gguf("m/model.gguf".into()));
    }

    #[test]
    fn spec_string_form() {
        for s in ["byte", "hf-json:t/tokenizer.json", "gguf:/abs/model.gguf"] {
            let spec: TokenizerSpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
        }
        assert_eq!(
            "gguf:m.gguf".parse::<TokenizerSpec>().unwrap().path(),
            Some(Path::new("m.gguf"))
        );
        for bad in ["", "gguf:", "hf-json:", "bpe", "gguf"] {
            let e = bad.parse::<TokenizerSpec>().unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn byte_rejects_ids_outside_vocab() {
        let e = Tokenizer::Byte.decode(&[104, 256]).unwrap_err().to_string();
        assert!(e.contains("256") && e.contains("byte"), "{e}");
    }

    proptest! {
        #[test]
        fn byte_is_lossless(s in any::<String>()) {
            let ids = Tokenizer::Byte.encode(&s).unwrap();
            prop_assert_eq!(ids.len(), s.len());
            prop_assert!(ids.iter().all(|&i| i < 256));
            prop_assert_eq!(Tokenizer::Byte.decode(&ids).unwrap(), s);
        }
    }
}
