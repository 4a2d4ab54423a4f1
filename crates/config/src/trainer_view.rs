//! The config text a trainer receives: the launched file minus `[data.eval]`.
//!
//! The eval pool is the coordinator's: a trainer that knew it could train on it and inflate
//! its own Shapley score. Everything else (model, data, training) trainers need. Comments and
//! formatting are kept (`toml_edit`), so the text reads like the file the run was launched with.

use std::path::Path;

use crate::ConfigError;

/// `text` (a config file's contents, read from `path`) without its `[data.eval]` table.
pub fn trainer_view(text: &str, path: &Path) -> Result<String, ConfigError> {
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string().trim_end().to_string(),
            })?;
    if let Some(data) = doc.get_mut("data").and_then(|d| d.as_table_like_mut()) {
        data.remove("eval");
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunConfig;

    const WITH_EVAL: &str = r#"
[run]
name = "v"
[model]
kind = "llama"
hidden_size = 16
intermediate_size = 32
num_layers = 1
num_heads = 2
[data]
dataset = "synthetic-arith"
seq_len = 8 # tokens per sample
[data.eval]
kind = "generated"
samples = 100
[training]
rounds = 3
"#;

    #[test]
    fn drops_only_the_eval_table() {
        let p = Path::new("v.toml");
        let full = RunConfig::from_toml_str(WITH_EVAL, p).unwrap();
        assert!(full.data.eval.is_some());
        let view = trainer_view(WITH_EVAL, p).unwrap();
        assert!(!view.contains("eval"), "{view}");
        assert!(view.contains("seq_len = 8 # tokens per sample"));
        let cfg = RunConfig::from_toml_str(&view, p).unwrap();
        assert!(cfg.data.eval.is_none());
        assert_eq!(cfg.training.rounds, 3);
        // An inline table is removed too.
        let inline = WITH_EVAL
            .replace("[data.eval]\nkind = \"generated\"\nsamples = 100\n", "")
            .replace(
                "seq_len = 8 # tokens per sample",
                "seq_len = 8\neval = { kind = \"generated\" }",
            );
        assert!(RunConfig::from_toml_str(&inline, p)
            .unwrap()
            .data
            .eval
            .is_some());
        assert!(!trainer_view(&inline, p).unwrap().contains("generated"));
        assert!(trainer_view("[data", p).is_err());
    }

    #[test]
    fn eval_keys_are_checked() {
        let p = Path::new("v.toml");
        let bad = |from: &str, to: &str| {
            RunConfig::from_toml_str(&WITH_EVAL.replace(from, to), p)
                .unwrap_err()
                .to_string()
        };
        let e = bad("kind = \"generated\"", "kind = \"dataset\"");
        assert!(
            e.contains("data.eval.dataset") && e.contains("required"),
            "{e}"
        );
        let e = bad("samples = 100", "samples = 100\ndataset = \"x\"");
        assert!(
            e.contains("data.eval.dataset") && e.contains("only used"),
            "{e}"
        );
        let e = bad("samples = 100", "samples = 0");
        assert!(e.contains("data.eval.samples"), "{e}");
        let e = bad("kind = \"generated\"", "kind = \"secret\"");
        assert!(e.contains("unknown variant"), "{e}");
    }

    #[test]
    fn says_when_the_pool_is_public() {
        let p = Path::new("v.toml");
        let generated = RunConfig::from_toml_str(WITH_EVAL, p).unwrap();
        assert_eq!(generated.public_eval_pool(), None);
        let split = RunConfig::from_toml_str(&trainer_view(WITH_EVAL, p).unwrap(), p).unwrap();
        assert!(split.public_eval_pool().unwrap().contains("held-out tail"));
        let dataset = |extra: &str| {
            let text = WITH_EVAL.replace(
                "kind = \"generated\"",
                &format!("kind = \"dataset\"\ndataset = \"tinyshakespeare\"\n{extra}"),
            );
            RunConfig::from_toml_str(&text, p)
                .unwrap()
                .public_eval_pool()
        };
        assert!(dataset("").unwrap().contains("published dataset"));
        assert_eq!(dataset("path = \"private.txt\""), None);
    }
}
