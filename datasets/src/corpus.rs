//! A tokenized dataset split into train and eval, with the hashes that identify it.
//!
//! # The split
//! The source text (see [`crate::text`]) is cut once, at byte `cut`, before tokenizing; train is
//! `text[..cut]`, eval is `text[cut..]`, each tokenized on its own. With `len` the text's length
//! in bytes and `target = len - ceil(eval_fraction × len)`, `cut` is the last allowed cut (a line
//! boundary for text, a record boundary for JSON lines) at or before `target`; if there is none,
//! the first one after it; if the text has no allowed cut at all, `target` moved back to a
//! character boundary. So eval is the tail of the text, at least `eval_fraction` of it, and never
//! starts mid-line when lines exist. The split is recorded by [`crate::hashing::split_hash`].

use std::fmt;

use crate::error::{DatasetError, Result};
use crate::hashing::split_hash;
use crate::text::SegmentedText;
use crate::tokenizer::Tokenizer;

/// A loaded dataset.
#[derive(Clone)]
pub struct Corpus {
    /// The manifest's name.
    pub name: String,
    /// The tokenizer that produced the tokens (for decoding samples).
    pub tokenizer: Tokenizer,
    /// `byte` or `hf-json:<path>`.
    pub tokenizer_desc: String,
    pub vocab_size: usize,
    pub train: Vec<u32>,
    pub eval: Vec<u32>,
    /// sha256 of the source file's bytes (for `synthetic-arith`, of the generated text).
    pub source_sha256: [u8; 32],
    /// [`crate::hashing::split_hash`] of `train` and `eval`.
    pub split_hash: [u8; 32],
    /// Byte offset in the source text where eval begins.
    pub split_byte: usize,
}

impl fmt::Debug for Corpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Corpus")
            .field("name", &self.name)
            .field("tokenizer", &self.tokenizer_desc)
            .field("vocab_size", &self.vocab_size)
            .field("train_tokens", &self.train.len())
            .field("eval_tokens", &self.eval.len())
            .field("source_sha256", &self.source_sha256_hex())
            .field("split_hash", &self.split_hash_hex())
            .finish()
    }
}

/// Where the split cuts `len` bytes of text (see the module docs).
pub fn choose_cut(text: &SegmentedText, eval_fraction: f64) -> usize {
    let len = text.text.len();
    let eval_bytes = ((len as f64) * eval_fraction).ceil() as usize;
    let target = len.saturating_sub(eval_bytes.min(len));
    let before = text.cuts.partition_point(|&c| c <= target);
    if before > 0 {
        return text.cuts[before - 1];
    }
    if let Some(&after) = text.cuts.first() {
        return after;
    }
    let mut cut = target;
    while !text.text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

impl Corpus {
    /// Split, tokenize and hash a source text.
    pub fn from_text(
        name: &str,
        text: &SegmentedText,
        tokenizer: Tokenizer,
        eval_fraction: f64,
        source_sha256: [u8; 32],
    ) -> Result<Self> {
        let cut = choose_cut(text, eval_fraction);
        let (train_text, eval_text) = text.text.split_at(cut);
        let train = tokenizer.encode(train_text)?;
        let eval = tokenizer.encode(eval_text)?;
        if train.is_empty() || eval.is_empty() {
            return Err(DatasetError::EmptySplit {
                dataset: name.to_string(),
                train_tokens: train.len(),
                eval_tokens: eval.len(),
            });
        }
        Ok(Corpus {
            name: name.to_string(),
            tokenizer_desc: tokenizer.describe(),
            vocab_size: tokenizer.vocab_size(),
            tokenizer,
            split_hash: split_hash(&train, &eval),
            train,
            eval,
            source_sha256,
            split_byte: cut,
        })
    }

    pub fn source_sha256_hex(&self) -> String {
        hex::encode(self.source_sha256)
    }

    pub fn split_hash_hex(&self) -> String {
        hex::encode(self.split_hash)
    }

    /// Cross-entropy in nats per token of predicting each eval token by the train split's
    /// token frequencies with add-one smoothing: `p(t) = (count_train(t) + 1) / (N + V)`, where
    /// `N` is the number of train tokens and `V` the vocabulary size (widened to cover any id
    /// seen). The loss a model must beat to have learned more than symbol frequencies.
    /// `NaN` if eval is empty.
    pub fn unigram_baseline_nats(&self) -> f64 {
        let max_id = self
            .train
            .iter()
            .chain(&self.eval)
            .copied()
            .max()
            .map_or(0, |m| m as usize + 1);
        let vocab = self.vocab_size.max(max_id).max(1);
        let mut counts = vec![0u64; vocab];
        for &t in &self.train {
            counts[t as usize] += 1;
        }
        let denom = (self.train.len() + vocab) as f64;
        let total: f64 = self
            .eval
            .iter()
            .map(|&t| -((counts[t as usize] + 1) as f64 / denom).ln())
            .sum();
        total / self.eval.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn corpus(text: &str, f: f64) -> Result<Corpus> {
        Corpus::from_text(
            "t",
            &SegmentedText::from_lines(text.into()),
            Tokenizer::Byte,
            f,
            [0; 32],
        )
    }

    #[test]
    fn cuts_at_the_line_before_the_target() {
        // 10 lines of 10 bytes; 0.1 → target byte 90, a line start.
        let text: String = (0..10).map(|i| format!("line {i:04}\n")).collect();
        let c = corpus(&text, 0.1).unwrap();
        assert_eq!(c.split_byte, 90);
        assert_eq!(c.tokenizer.decode(&c.eval).unwrap(), "line 0009\n");
        // 0.15 → 15 bytes wanted → target 85, inside line 8 → cut at 80.
        assert_eq!(corpus(&text, 0.15).unwrap().split_byte, 80);
        assert_eq!(c.split_hash, split_hash(&c.train, &c.eval));
    }

    #[test]
    fn falls_forward_or_to_a_char_boundary_without_earlier_lines() {
        let one_long_line = format!("{}\nend\n", "x".repeat(50));
        assert_eq!(corpus(&one_long_line, 0.5).unwrap().split_byte, 51);
        let no_lines = "ééééé"; // 10 bytes, target 9 is inside a char
        assert_eq!(corpus(no_lines, 0.1).unwrap().split_byte, 8);
    }

    #[test]
    fn empty_side_is_an_error_naming_the_dataset() {
        let e = corpus("ab", 0.5).map(|c| c.split_byte);
        assert_eq!(e.unwrap(), 1);
        let e = corpus("", 0.5).unwrap_err().to_string();
        assert!(e.contains("dataset `t`") && e.contains("0 train"), "{e}");
    }

    #[test]
    fn baseline_matches_hand_computation() {
        let mut c = corpus("aab\nb\n", 0.1).unwrap();
        c.train = vec![0, 0, 1];
        c.eval = vec![1, 2];
        c.vocab_size = 3;
        // p(1) = 2/6, p(2) = 1/6
        let want = -((2.0f64 / 6.0).ln() + (1.0f64 / 6.0).ln()) / 2.0;
        assert!((c.unigram_baseline_nats() - want).abs() < 1e-12);
        c.eval.clear();
        assert!(c.unigram_baseline_nats().is_nan());
        c.eval = vec![7]; // beyond vocab: widened, no panic
        assert!(c.unigram_baseline_nats().is_finite());
    }

    proptest! {
        #[test]
        fn split_is_lossless_line_aligned_and_large_enough(
            lines in prop::collection::vec("[a-z]{0,12}", 2..40),
            f in 0.01f64..0.5,
        ) {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let c = corpus(&text, f).unwrap();
            let joined = [c.train.clone(), c.eval.clone()].concat();
            prop_assert_eq!(c.tokenizer.decode(&joined).unwrap(), text.clone());
            prop_assert!(text[..c.split_byte].ends_with('\n'));
            // eval covers at least the requested fraction unless it had to fall forward
            let target = text.len() - ((text.len() as f64) * f).ceil() as usize;
            if text[..target].contains('\n') {
                prop_assert!(c.split_byte <= target);
            }
        }
    }
}
