//! The tokenizer a GGUF file carries, rebuilt from its `tokenizer.ggml.*` metadata.
//!
//! A GGUF file (llama.cpp's model format) ships no `tokenizer.json`: the vocabulary, merges and
//! token types are metadata keys. Only the metadata is read (candle's `gguf_file::Content::read`
//! reads the header, key/value pairs and tensor infos, never tensor data). What is built, for
//! `tokenizer.ggml.model = "gpt2"` (byte-level BPE) only:
//!
//! * model: BPE with `tokenizer.ggml.tokens` as the vocabulary (id = position) and
//!   `tokenizer.ggml.merges` (`"left right"`, rank = position); no unknown token, no dropout, no
//!   subword prefix or suffix. This is what Hugging Face `transformers` builds from the same keys
//!   (`GGUFGPTConverter`, a `GPT2Converter`), including its one repair: a token that is not spelled
//!   in GPT-2's byte alphabet (llama.cpp wrote its raw text) is keyed by the spelling of its UTF-8
//!   bytes, the way the merges name it.
//! * pre-tokenizer, from `tokenizer.ggml.pre`: `gpt-2` is GPT-2's byte-level regex
//!   (`ByteLevel(add_prefix_space = false, use_regex = true)`); `smollm` first isolates every
//!   digit, as llama.cpp does for that name (regexes `\p{N}`, then GPT-2's) and as SmolLM's own
//!   `tokenizer.json` does: `Sequence[Digits(individual_digits = true), ByteLevel(..)]`. Other
//!   names (and a missing key) are refused rather than guessed: each names a different split.
//! * decoder: byte-level. Post-processor: byte-level without offset trimming, which adds no token:
//!   nothing like a BOS is ever inserted.
//! * tokens whose `tokenizer.ggml.token_type` is 3 (control, e.g. `<|im_start|>`) are special
//!   added tokens, matched whole in the input before the split.
//!
//! Every problem is a [`DatasetError`] naming the file and, for metadata, the key.

mod meta;
#[cfg(test)]
mod smollm2_tests;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashSet;
use std::path::Path;

use tokenizers::models::bpe::{Merges, Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::AddedToken;

use crate::error::Result;
use meta::Metadata;

/// The tokenizer family; only `gpt2` (byte-level BPE) is built.
const KEY_MODEL: &str = "tokenizer.ggml.model";
/// Which split precedes BPE (llama.cpp's pre-tokenizer name).
const KEY_PRE: &str = "tokenizer.ggml.pre";
/// The vocabulary, in id order.
const KEY_TOKENS: &str = "tokenizer.ggml.tokens";
/// The merges, `"left right"`, in rank order.
const KEY_MERGES: &str = "tokenizer.ggml.merges";
/// One llama.cpp token type per token (optional).
const KEY_TOKEN_TYPE: &str = "tokenizer.ggml.token_type";

/// `tokenizer.ggml.token_type` of a control token (llama.cpp's `LLAMA_TOKEN_TYPE_CONTROL`).
const CONTROL: i64 = 3;

/// Load the tokenizer described by the GGUF file at `path`.
pub(crate) fn load(path: &Path) -> Result<tokenizers::Tokenizer> {
    build(&Metadata::read(path)?)
}

fn build(meta: &Metadata) -> Result<tokenizers::Tokenizer> {
    check_model(meta)?;
    let split = Split::from_metadata(meta)?;
    let tokens = meta.strings(KEY_TOKENS)?;
    let spelling = ByteSpelling::new();
    let vocab = vocab(meta, &tokens, &spelling)?;
    let merges = merges(meta, &vocab)?;
    let control = control_tokens(meta, &tokens, &spelling)?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| meta.error(KEY_MERGES, e.to_string()))?;
    let mut tokenizer = tokenizers::Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(split.pre_tokenizer()));
    tokenizer.with_decoder(Some(ByteLevel::new(false, true, true)));
    tokenizer.with_post_processor(Some(ByteLevel::new(false, false, true)));
    tokenizer.add_special_tokens(&control);
    Ok(tokenizer)
}

/// Refuse anything but byte-level BPE.
fn check_model(meta: &Metadata) -> Result<()> {
    let model = meta.string(KEY_MODEL)?;
    if model == "gpt2" {
        return Ok(());
    }
    let what = match model {
        "llama" => " (sentencepiece)",
        "bert" => " (WordPiece)",
        "t5" => " (unigram)",
        _ => "",
    };
    Err(meta.error(
        KEY_MODEL,
        format!("is {model:?}{what}, which is not supported: only \"gpt2\" (byte-level BPE) is"),
    ))
}

/// How text is cut into pieces before BPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// GPT-2's regex.
    Gpt2,
    /// Every digit alone, then GPT-2's regex on the rest.
    DigitsThenGpt2,
}

impl Split {
    /// The `tokenizer.ggml.pre` names built, with their splits.
    const NAMES: [(&'static str, Split); 2] =
        [("gpt-2", Split::Gpt2), ("smollm", Split::DigitsThenGpt2)];

    fn from_metadata(meta: &Metadata) -> Result<Self> {
        let supported = || {
            let names: Vec<String> = Self::NAMES.iter().map(|(n, _)| format!("{n:?}")).collect();
            format!("the pre-tokenizers built are {}", names.join(" and "))
        };
        let Some(pre) = meta.string_opt(KEY_PRE)? else {
            return Err(meta.error(KEY_PRE, format!("is missing; {}", supported())));
        };
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == pre)
            .map(|&(_, split)| split)
            .ok_or_else(|| {
                meta.error(
                    KEY_PRE,
                    format!("is {pre:?}, which is not supported; {}", supported()),
                )
            })
    }

    fn pre_tokenizer(self) -> PreTokenizerWrapper {
        let byte_level = ByteLevel::new(false, true, true);
        match self {
            Split::Gpt2 => byte_level.into(),
            Split::DigitsThenGpt2 => {
                Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into()
            }
        }
    }
}

/// GPT-2's printable spelling of bytes (`bytes_to_unicode`): printable Latin-1 bytes stand for
/// themselves, the other 68 for U+0100 onwards in byte order.
struct ByteSpelling {
    chars: [char; 256],
    alphabet: HashSet<char>,
}

impl ByteSpelling {
    fn new() -> Self {
        let mut chars = ['\0'; 256];
        let mut next = 0x100u32;
        for (byte, slot) in (0u8..=255).zip(chars.iter_mut()) {
            *slot = if matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF) {
                char::from(byte)
            } else {
                next += 1;
                char::from_u32(next - 1).unwrap_or(char::REPLACEMENT_CHARACTER)
            };
        }
        let alphabet = chars.iter().copied().collect();
        ByteSpelling { chars, alphabet }
    }

    /// Whether `token` is written in the byte alphabet.
    fn is_spelled(&self, token: &str) -> bool {
        token.chars().all(|c| self.alphabet.contains(&c))
    }

    /// `bytes` in the byte alphabet.
    fn spell(&self, bytes: &[u8]) -> String {
        bytes.iter().map(|&b| self.chars[usize::from(b)]).collect()
    }

    /// `token` as merges name it: itself, or the spelling of its UTF-8 bytes.
    fn key(&self, token: &str) -> String {
        if self.is_spelled(token) {
            token.to_string()
        } else {
            self.spell(token.as_bytes())
        }
    }
}

/// Token string to id; a string that appears twice is refused (one id would be unreachable).
fn vocab(meta: &Metadata, tokens: &[&str], spelling: &ByteSpelling) -> Result<Vocab> {
    let mut vocab = Vocab::default();
    for (i, token) in tokens.iter().enumerate() {
        let id = u32::try_from(i)
            .map_err(|_| meta.error(KEY_TOKENS, format!("has more than {} entries", u32::MAX)))?;
        if let Some(first) = vocab.insert(spelling.key(token), id) {
            return Err(meta.error(
                KEY_TOKENS,
                format!("entries {first} and {i} are both {token:?}"),
            ));
        }
    }
    Ok(vocab)
}

/// The merges as pairs, each checked against the vocabulary.
fn merges(meta: &Metadata, vocab: &Vocab) -> Result<Merges> {
    let entries = meta.strings(KEY_MERGES)?;
    let mut merges = Merges::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let bad = |what: String| meta.error(KEY_MERGES, format!("entry {i} ({entry:?}) {what}"));
        let Some((left, right)) = entry.split_once(' ') else {
            return Err(bad("is not two tokens separated by a space".into()));
        };
        if right.contains(' ') {
            return Err(bad("has more than two tokens".into()));
        }
        let merged = format!("{left}{right}");
        for token in [left, right, merged.as_str()] {
            if !vocab.contains_key(token) {
                return Err(bad(format!(
                    "needs `{token}`, which is not in `{KEY_TOKENS}`"
                )));
            }
        }
        merges.push((left.to_string(), right.to_string()));
    }
    Ok(merges)
}

/// Control tokens (type 3) as special added tokens. A token llama.cpp wrote outside the byte
/// alphabet is left to the merges, as `transformers` does: it is a mislabelled byte sequence.
fn control_tokens(
    meta: &Metadata,
    tokens: &[&str],
    spelling: &ByteSpelling,
) -> Result<Vec<AddedToken>> {
    let Some(types) = meta.integers_opt(KEY_TOKEN_TYPE)? else {
        return Ok(Vec::new());
    };
    if types.len() != tokens.len() {
        return Err(meta.error(
            KEY_TOKEN_TYPE,
            format!(
                "has {} entries but `{KEY_TOKENS}` has {}",
                types.len(),
                tokens.len()
            ),
        ));
    }
    Ok(tokens
        .iter()
        .zip(&types)
        .filter(|&(token, &kind)| kind == CONTROL && spelling.is_spelled(token))
        .map(|(token, _)| AddedToken::from(*token, true))
        .collect())
}
