//! The real SmolLM2-135M-Instruct GGUF against the token ids Hugging Face `transformers` made from
//! the same file (`shared/reference/smollm2-135m-q4_1-transformers.json`, outside the repository).
//!
//! The file is fetched by `scripts/fetch-smollm2.sh` and found through `COALITION_SMOLLM2_GGUF` or
//! at `<repo>/models/SmolLM2-135M-Instruct.Q4_1.gguf`. Without it these tests print
//! why and pass, unless `COALITION_REQUIRE_SMOLLM2=1`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::tokenizer::Tokenizer;

const GGUF_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Characters of tinyshakespeare the reference windows were cut from.
const TEXT_CHARS: usize = 20_000;

/// The shared directory beside the repository (`<repo>/../shared`).
fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn required() -> bool {
    std::env::var_os("COALITION_REQUIRE_SMOLLM2").is_some()
}

/// Where the GGUF file is, or `None` (after saying so) when it is absent and not required.
fn gguf_path() -> Option<PathBuf> {
    let path = match std::env::var_os("COALITION_SMOLLM2_GGUF") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../models")
            .join(GGUF_NAME),
    };
    if path.is_file() {
        return Some(path);
    }
    assert!(
        !required(),
        "COALITION_REQUIRE_SMOLLM2=1 but {} does not exist (run scripts/fetch-smollm2.sh)",
        path.display()
    );
    println!("skipped: SmolLM2 GGUF not found (run scripts/fetch-smollm2.sh)");
    None
}

/// A file under the shared directory, or `None` (after saying so) when absent and not required.
fn shared_file(relative: &str) -> Option<String> {
    let path = shared_dir().join(relative);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            assert!(
                !required(),
                "COALITION_REQUIRE_SMOLLM2=1 but {} cannot be read: {e}",
                path.display()
            );
            println!("skipped: {} cannot be read: {e}", path.display());
            None
        }
    }
}

/// The loaded tokenizer and the reference JSON, or `None` when either is missing.
fn setup() -> Option<(Tokenizer, Value)> {
    let path = gguf_path()?;
    let reference = shared_file("reference/smollm2-135m-q4_1-transformers.json")?;
    let reference: Value = serde_json::from_str(&reference).expect("reference is JSON");
    let tok = Tokenizer::from_gguf(&path).expect("SmolLM2 GGUF tokenizer loads");
    Some((tok, reference))
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("an array of ids")
        .iter()
        .map(|x| {
            let id = x.as_u64().expect("an id");
            u32::try_from(id).expect("id fits u32")
        })
        .collect()
}

#[test]
fn smollm2_tokenizer_shape() {
    let Some((tok, _)) = setup() else { return };
    assert_eq!(tok.vocab_size(), 49_152);
    assert!(tok.describe().starts_with("gguf:"), "{}", tok.describe());
    assert_eq!(tok.encode("123456").expect("encode").len(), 6);
    // Control tokens are matched whole; no BOS is added.
    assert_eq!(tok.encode("<|im_start|>").expect("encode"), [1]);
    // Digits are isolated before GPT-2's regex runs (llama.cpp's `smollm`), so the newlines stay
    // one piece, `ĊĊ`. (transformers' GGUF converter applies GPT-2's regex alone here and gives
    // `Ċ`, `Ċ`; the reference texts have no whitespace run before a digit.)
    let Tokenizer::Gguf { inner, .. } = &tok else {
        panic!("not a gguf tokenizer")
    };
    let pieces: Vec<String> = tok
        .encode("x\n\n1")
        .expect("encode")
        .iter()
        .map(|&id| inner.id_to_token(id).expect("id in vocab"))
        .collect();
    assert_eq!(pieces, ["x", "ĊĊ", "1"]);
    let text = "  indented\ttabs and ünïcödé — 123456\n\nx  1";
    let encoded = tok.encode(text).expect("encode");
    assert_eq!(tok.decode(&encoded).expect("decode"), text);
}

#[test]
fn smollm2_strings_match_transformers() {
    let Some((tok, reference)) = setup() else {
        return;
    };
    let strings = reference["tokenized_strings"]
        .as_object()
        .expect("tokenized_strings is an object");
    assert_eq!(strings.len(), 3);
    for (text, want) in strings {
        assert_eq!(tok.encode(text).expect("encode"), ids(want), "{text:?}");
    }
}

#[test]
fn smollm2_windows_match_transformers() {
    let Some((tok, reference)) = setup() else {
        return;
    };
    let Some(text) = shared_file("datasets/tinyshakespeare.txt") else {
        return;
    };
    let text: String = text.chars().take(TEXT_CHARS).collect();
    let seq_len = reference["seq_len"].as_u64().expect("seq_len") as usize;
    let windows = reference["window_token_ids"]
        .as_array()
        .expect("window_token_ids");
    assert_eq!(windows.len(), 4);
    let all = tok.encode(&text).expect("encode");
    // Windows of seq_len + 1 tokens, back to back from the first token.
    let want: Vec<u32> = windows.iter().flat_map(ids).collect();
    assert_eq!(want.len(), 4 * (seq_len + 1));
    assert_eq!(&all[..want.len()], &want[..]);
}
