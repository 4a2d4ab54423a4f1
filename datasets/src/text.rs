//! Turning file bytes into text with the positions where the train/eval split may cut.
//!
//! * Plain text: the file's UTF-8 text; a cut may fall after any `\n` (a line boundary).
//! * JSON lines: each non-blank line is an object whose `field` is a string; the corpus text is
//!   every record's string followed by `\n`, in file order; a cut may fall only between records.

use std::path::Path;

use crate::error::{DatasetError, Result};

/// Text plus the byte offsets, strictly inside `0..text.len()`, where it may be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentedText {
    pub text: String,
    /// Increasing byte offsets, each `> 0` and `< text.len()`, each on a char boundary.
    pub cuts: Vec<usize>,
}

impl SegmentedText {
    /// Plain text: cuts after every `\n` except a final one.
    pub fn from_lines(text: String) -> Self {
        let cuts = text
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .filter(|&c| c < text.len())
            .collect();
        SegmentedText { text, cuts }
    }
}

/// Decode UTF-8, naming the line and byte offset of the first bad byte.
pub fn decode_utf8(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let byte_offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..byte_offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        DatasetError::InvalidUtf8 {
            path: path.to_path_buf(),
            line,
            byte_offset,
        }
    })
}

/// Parse JSON lines, taking the string in `field` of each object.
pub fn parse_jsonl(path: &Path, text: &str, field: &str) -> Result<SegmentedText> {
    let mut out = String::with_capacity(text.len());
    let mut cuts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| DatasetError::Jsonl {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| bad("expected a JSON object".to_string()))?;
        let doc = match obj.get(field) {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => {
                return Err(bad(format!(
                    "field `{field}` is {}, expected a string",
                    json_kind(other)
                )))
            }
            None => return Err(bad(format!("no field `{field}` in this object"))),
        };
        if !out.is_empty() {
            cuts.push(out.len());
        }
        out.push_str(doc);
        out.push('\n');
    }
    Ok(SegmentedText { text: out, cuts })
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_cuts() {
        let s = SegmentedText::from_lines("ab\ncd\n\nef\n".into());
        assert_eq!(s.cuts, vec![3, 6, 7]);
        assert_eq!(
            SegmentedText::from_lines("abc".into()).cuts,
            Vec::<usize>::new()
        );
    }

    #[test]
    fn utf8_error_names_line_and_offset() {
        let e = decode_utf8(Path::new("c.txt"), b"ok\nfine\nbad\xff".to_vec()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.txt:3: not valid UTF-8 (at byte offset 11)"
        );
    }

    #[test]
    fn jsonl_records_and_cuts() {
        let s = parse_jsonl(
            Path::new("d.jsonl"),
            "{\"t\":\"a\\nb\"}\n\n{\"t\":\"c\",\"x\":1}\n",
            "t",
        )
        .unwrap();
        assert_eq!(s.text, "a\nb\nc\n");
        assert_eq!(s.cuts, vec![4]);
    }

    #[test]
    fn jsonl_errors_name_file_and_line() {
        let p = Path::new("d.jsonl");
        let cases = [
            (
                "{\"t\":\"a\"}\n{\"t\": 3}\n",
                "d.jsonl:2: field `t` is a number",
            ),
            ("{\"t\":\"a\"}\n\n{oops\n", "d.jsonl:3: invalid JSON"),
            ("[1]\n", "d.jsonl:1: expected a JSON object"),
            ("{\"u\":\"a\"}\n", "d.jsonl:1: no field `t`"),
        ];
        for (input, want) in cases {
            let e = parse_jsonl(p, input, "t").unwrap_err().to_string();
            assert!(e.starts_with(want), "{e} (wanted {want})");
        }
    }
}
