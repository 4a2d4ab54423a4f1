//! A tiny byte-level GGUF tokenizer written with candle's GGUF writer, and files that must be
//! refused.

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::QTensor;
use proptest::prelude::*;

use super::ByteSpelling;
use crate::error::DatasetError;
use crate::tokenizer::{Tokenizer, TokenizerSpec};

/// Control tokens first (ids 0..3), then the 256 byte tokens, then what the merges make.
const CONTROL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// Merges of the tiny vocabulary, lowest rank first, in their plain (unspelled) text.
/// `1 2` outranks `Ġ 1`, so under GPT-2's split " 12" is `Ġ`, `12`; under smollm's, digits never
/// meet.
const MERGES: [(&str, &str); 6] = [
    ("h", "e"),
    (" ", "t"),
    (" t", "he"),
    ("t", "he"),
    ("1", "2"),
    (" ", "1"),
];

/// A token llama.cpp wrote raw instead of byte-spelled (`transformers` respells such tokens).
const RAW_TOKEN: &str = "€";

/// Metadata of the tiny tokenizer, with `pre` as `tokenizer.ggml.pre`.
pub(crate) fn tiny_metadata(pre: &str) -> Vec<(String, Value)> {
    let spelling = ByteSpelling::new();
    let spell = |bytes: &[u8]| spelling.spell(bytes);
    let mut tokens: Vec<String> = CONTROL_TOKENS.iter().map(|s| s.to_string()).collect();
    tokens.extend(spelling.chars.iter().map(char::to_string));
    tokens.extend(
        MERGES
            .iter()
            .map(|(a, b)| spell(format!("{a}{b}").as_bytes())),
    );
    let mut merges: Vec<String> = MERGES
        .iter()
        .map(|(a, b)| format!("{} {}", spell(a.as_bytes()), spell(b.as_bytes())))
        .collect();
    // The raw token (last), and the merges that make it from its three bytes.
    let euro = RAW_TOKEN.as_bytes();
    tokens.push(spell(&euro[..2]));
    tokens.push(RAW_TOKEN.to_string());
    merges.push(format!("{} {}", spell(&euro[..1]), spell(&euro[1..2])));
    merges.push(format!("{} {}", spell(&euro[..2]), spell(&euro[2..])));
    let types: Vec<Value> = (0..tokens.len())
        .map(|i| Value::I32(if i < CONTROL_TOKENS.len() { 3 } else { 1 }))
        .collect();
    let strings = |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
    vec![
        ("general.architecture".into(), Value::String("llama".into())),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String(pre.into())),
        ("tokenizer.ggml.tokens".into(), strings(tokens)),
        ("tokenizer.ggml.merges".into(), strings(merges)),
        ("tokenizer.ggml.token_type".into(), Value::Array(types)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(1)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(2)),
    ]
}

/// Write `metadata` (no tensors) as `dir/name`.
pub(crate) fn write_gguf(dir: &Path, name: &str, metadata: &[(String, Value)]) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).expect("create gguf");
    let entries: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let no_tensors: &[(&str, &QTensor)] = &[];
    gguf_file::write(&mut file, &entries, no_tensors).expect("write gguf");
    path
}

/// The tiny tokenizer written and loaded.
fn tiny(pre: &str) -> (tempfile::TempDir, Tokenizer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_gguf(dir.path(), "tiny.gguf", &tiny_metadata(pre));
    let tok = Tokenizer::from_gguf(&path).expect("tiny gguf loads");
    (dir, tok)
}

/// Token strings (as the vocabulary spells them) of `text`'s encoding.
fn pieces(tok: &Tokenizer, text: &str) -> Vec<String> {
    let Tokenizer::Gguf { inner, .. } = tok else {
        panic!("not a gguf tokenizer")
    };
    let ids = tok.encode(text).expect("encode");
    ids.iter()
        .map(|&id| inner.id_to_token(id).expect("id in vocab"))
        .collect()
}

#[test]
fn smollm_isolates_digits_and_round_trips() {
    let (dir, tok) = tiny("smollm");
    let expected_vocab = CONTROL_TOKENS.len() + 256 + MERGES.len() + 2;
    assert_eq!(tok.vocab_size(), expected_vocab);
    assert_eq!(
        tok.describe(),
        format!("gguf:{}", dir.path().join("tiny.gguf").display())
    );
    assert_eq!(pieces(&tok, "the the"), ["the", "Ġthe"]);
    assert_eq!(pieces(&tok, "123456"), ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(pieces(&tok, "the 12"), ["the", "Ġ", "1", "2"]);
    // Digits are cut off before GPT-2's regex sees them: no `Ġ1`, the spaces stay together.
    assert_eq!(pieces(&tok, "a  1"), ["a", "Ġ", "Ġ", "1"]);
    let text = "the 12 <|im_start|>héllo € 3\n\tx";
    let ids = tok.encode(text).expect("encode");
    assert!(ids.contains(&1), "control token not matched whole: {ids:?}");
    assert_eq!(tok.decode(&ids).expect("decode"), text);
    assert!(matches!(
        tok.decode(&[expected_vocab as u32]),
        Err(DatasetError::TokenOutOfVocab { .. })
    ));
}

#[test]
fn gpt2_split_lets_digits_merge() {
    let (_dir, tok) = tiny("gpt-2");
    assert_eq!(pieces(&tok, "the 12"), ["the", "Ġ", "12"]);
    assert_eq!(pieces(&tok, "a  1"), ["a", "Ġ", "Ġ1"]);
    assert_eq!(pieces(&tok, "123456"), ["12", "3", "4", "5", "6"]);
}

#[test]
fn raw_token_is_respelled_and_reachable() {
    let (_dir, tok) = tiny("smollm");
    let ids = tok.encode(RAW_TOKEN).expect("encode");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0] as usize, tok.vocab_size() - 1);
    assert_eq!(tok.decode(&ids).expect("decode"), RAW_TOKEN);
}

#[test]
fn spec_loads_relative_to_base() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_gguf(dir.path(), "m.gguf", &tiny_metadata("smollm"));
    let spec: TokenizerSpec = "gguf:m.gguf".parse().expect("spec");
    assert_eq!(spec, TokenizerSpec::Gguf("m.gguf".into()));
    assert_eq!(spec.to_string(), "gguf:m.gguf");
    let tok = Tokenizer::from_spec(&spec, Some(dir.path())).expect("loads");
    assert_eq!(tok.encode("12").expect("encode").len(), 2);
}

/// The error loading `metadata` gives, as text; it must name the file.
fn load_error(metadata: &[(String, Value)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_gguf(dir.path(), "bad.gguf", metadata);
    let e = Tokenizer::from_gguf(&path)
        .expect_err("must be refused")
        .to_string();
    assert!(e.contains(&path.display().to_string()), "{e}");
    e
}

/// The tiny metadata with `key` removed, or replaced by `value`.
fn with(key: &str, value: Option<Value>) -> Vec<(String, Value)> {
    let mut m: Vec<(String, Value)> = tiny_metadata("smollm")
        .into_iter()
        .filter(|(k, _)| k != key)
        .collect();
    if let Some(v) = value {
        m.push((key.to_string(), v));
    }
    m
}

#[test]
fn missing_or_unsupported_keys_are_named() {
    let e = load_error(&with("tokenizer.ggml.merges", None));
    assert!(e.contains("`tokenizer.ggml.merges`: is missing"), "{e}");
    let e = load_error(&with("tokenizer.ggml.tokens", None));
    assert!(e.contains("`tokenizer.ggml.tokens`: is missing"), "{e}");
    let e = load_error(&with(
        "tokenizer.ggml.model",
        Some(Value::String("llama".into())),
    ));
    assert!(
        e.contains("`tokenizer.ggml.model`") && e.contains("\"llama\" (sentencepiece)"),
        "{e}"
    );
    let e = load_error(&with("tokenizer.ggml.model", Some(Value::U32(2))));
    assert!(e.contains("`tokenizer.ggml.model`: is a U32"), "{e}");
    let e = load_error(&with(
        "tokenizer.ggml.pre",
        Some(Value::String("llama-bpe".into())),
    ));
    assert!(
        e.contains("`tokenizer.ggml.pre`: is \"llama-bpe\"") && e.contains("\"smollm\""),
        "{e}"
    );
    let e = load_error(&with("tokenizer.ggml.pre", None));
    assert!(e.contains("`tokenizer.ggml.pre`: is missing"), "{e}");
}

#[test]
fn malformed_arrays_are_named() {
    let merges = |v: &[&str]| {
        Some(Value::Array(
            v.iter().map(|s| Value::String(s.to_string())).collect(),
        ))
    };
    let e = load_error(&with("tokenizer.ggml.merges", merges(&["h e", "he"])));
    assert!(
        e.contains("`tokenizer.ggml.merges`: entry 1 (\"he\") is not two tokens"),
        "{e}"
    );
    let e = load_error(&with("tokenizer.ggml.merges", merges(&["q z"])));
    assert!(e.contains("entry 0 (\"q z\") needs `qz`"), "{e}");
    let e = load_error(&with("tokenizer.ggml.merges", merges(&["h e x"])));
    assert!(e.contains("more than two tokens"), "{e}");
    let e = load_error(&with(
        "tokenizer.ggml.merges",
        Some(Value::Array(vec![Value::U8(1)])),
    ));
    assert!(e.contains("entry 0 is a U8"), "{e}");
    let e = load_error(&with(
        "tokenizer.ggml.tokens",
        Some(Value::String("a".into())),
    ));
    assert!(
        e.contains("`tokenizer.ggml.tokens`: is the string \"a\", not an array"),
        "{e}"
    );
    let e = load_error(&with(
        "tokenizer.ggml.token_type",
        Some(Value::Array(vec![Value::I32(3)])),
    ));
    assert!(
        e.contains("`tokenizer.ggml.token_type`: has 1 entries"),
        "{e}"
    );
    let mut dup = tiny_metadata("smollm");
    if let Some((_, Value::Array(tokens))) =
        dup.iter_mut().find(|(k, _)| k == "tokenizer.ggml.tokens")
    {
        tokens.push(Value::String("he".into()));
    }
    let e = load_error(&dup);
    assert!(e.contains("are both \"he\""), "{e}");
}

#[test]
fn unreadable_files_are_refused_without_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.gguf");
    let e = Tokenizer::from_gguf(&missing)
        .expect_err("missing")
        .to_string();
    assert!(
        e.contains("GGUF file not found") && e.contains("nope.gguf"),
        "{e}"
    );

    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"this is not a gguf file at all").expect("write");
    let e = Tokenizer::from_gguf(&junk).expect_err("junk").to_string();
    assert!(
        e.contains("junk.gguf") && e.contains("not a readable GGUF file"),
        "{e}"
    );

    let good = write_gguf(dir.path(), "good.gguf", &tiny_metadata("smollm"));
    let bytes = std::fs::read(&good).expect("read");
    for cut in [
        0,
        4,
        8,
        24,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 40,
    ] {
        let path = dir.path().join(format!("cut{cut}.gguf"));
        std::fs::write(&path, &bytes[..cut]).expect("write");
        let e = Tokenizer::from_gguf(&path)
            .expect_err("truncated")
            .to_string();
        assert!(e.contains(&format!("cut{cut}.gguf")), "{e}");
    }
}

proptest! {
    #[test]
    fn tiny_tokenizer_is_lossless(s in any::<String>()) {
        let (_dir, tok) = tiny("smollm");
        let ids = tok.encode(&s).expect("encode");
        prop_assert_eq!(tok.decode(&ids).expect("decode"), s);
    }
}
