//! Range and consistency checks run after parsing. Each failure names its key.

use crate::{CodecSettings, ConfigError, RunConfig, UpdateCodec};

/// Collects the first failing check with its key.
struct Checker<'a> {
    cfg: &'a RunConfig,
}

impl Checker<'_> {
    fn fail(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.cfg.source_path.clone(),
            key: key.to_string(),
            message,
        }
    }

    fn range_usize(&self, key: &str, v: usize, lo: usize, hi: usize) -> Result<(), ConfigError> {
        if v < lo || v > hi {
            return Err(self.fail(key, format!("{v} is out of range [{lo}, {hi}]")));
        }
        Ok(())
    }

    fn range_u64(&self, key: &str, v: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
        if v < lo || v > hi {
            return Err(self.fail(key, format!("{v} is out of range [{lo}, {hi}]")));
        }
        Ok(())
    }

    /// `lo <= v <= hi` (or `lo < v` when `open_lo`), and finite.
    fn range_f64(
        &self,
        key: &str,
        v: f64,
        lo: f64,
        hi: f64,
        open_lo: bool,
    ) -> Result<(), ConfigError> {
        let below = if open_lo { v <= lo } else { v < lo };
        if !v.is_finite() || below || v > hi {
            let open = if open_lo { "(" } else { "[" };
            return Err(self.fail(key, format!("{v} is out of range {open}{lo}, {hi}]")));
        }
        Ok(())
    }
}

/// `[data.eval]`: the keys each kind needs and allows.
fn check_eval(c: &Checker<'_>, e: &crate::EvalSection) -> Result<(), ConfigError> {
    use crate::EvalKind;
    if let Some(n) = e.samples {
        c.range_usize("data.eval.samples", n, 1, 1 << 24)?;
    }
    match e.kind {
        EvalKind::Dataset => match e.dataset.as_deref() {
            None => Err(c.fail(
                "data.eval.dataset",
                "is required with kind = \"dataset\" (a manifest name or path)".to_string(),
            )),
            Some(d) if d.trim().is_empty() => Err(c.fail("data.eval.dataset", "is empty".into())),
            Some(_) => Ok(()),
        },
        EvalKind::Generated | EvalKind::PublicSplit => {
            for (key, set) in [
                ("data.eval.dataset", e.dataset.is_some()),
                ("data.eval.path", e.path.is_some()),
            ] {
                if set {
                    return Err(c.fail(key, "is only used with kind = \"dataset\"".into()));
                }
            }
            Ok(())
        }
    }
}

impl RunConfig {
    /// Check every range and cross-field constraint.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let c = Checker { cfg: self };
        let name = &self.run.name;
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(c.fail(
                "run.name",
                format!("{name:?} must be 1-64 characters of letters, digits, '-' or '_'"),
            ));
        }

        let m = &self.model;
        if let Some(v) = m.vocab_size {
            c.range_usize("model.vocab_size", v, 2, 1 << 20)?;
        }
        c.range_usize("model.hidden_size", m.hidden_size, 2, 1 << 16)?;
        c.range_usize("model.intermediate_size", m.intermediate_size, 1, 1 << 18)?;
        c.range_usize("model.num_layers", m.num_layers, 1, 512)?;
        c.range_usize("model.num_heads", m.num_heads, 1, 1024)?;
        if !m.hidden_size.is_multiple_of(m.num_heads) {
            return Err(c.fail(
                "model.num_heads",
                format!(
                    "hidden_size {} is not divisible by num_heads {}",
                    m.hidden_size, m.num_heads
                ),
            ));
        }
        let head_dim = m.hidden_size / m.num_heads;
        if !head_dim.is_multiple_of(2) {
            return Err(c.fail(
                "model.num_heads",
                format!("head dimension {head_dim} must be even for RoPE"),
            ));
        }
        let kv = self.num_kv_heads();
        c.range_usize("model.num_kv_heads", kv, 1, m.num_heads)?;
        if !m.num_heads.is_multiple_of(kv) {
            return Err(c.fail(
                "model.num_kv_heads",
                format!("num_heads {} is not a multiple of {kv}", m.num_heads),
            ));
        }
        c.range_f64("model.rms_norm_eps", m.rms_norm_eps, 0.0, 1.0, true)?;
        c.range_f64("model.rope_theta", m.rope_theta, 1.0, 1e9, false)?;
        c.range_f64("model.init_std", m.init_std, 0.0, 1.0, true)?;
        if let Some(init) = &m.init_from {
            if init.trim().is_empty() || init.trim() == "hf:" {
                return Err(c.fail("model.init_from", "is empty".to_string()));
            }
        }

        let d = &self.data;
        if d.dataset.trim().is_empty() {
            return Err(c.fail("data.dataset", "is empty".to_string()));
        }
        c.range_usize("data.seq_len", d.seq_len, 2, 1 << 16)?;
        if let Some(t) = &d.tokenizer {
            crate::TokenizerOverride::parse(t).map_err(|m| c.fail("data.tokenizer", m))?;
        }
        if let Some(max) = m.max_seq_len {
            if max < d.seq_len {
                return Err(c.fail(
                    "model.max_seq_len",
                    format!("{max} is shorter than data.seq_len {}", d.seq_len),
                ));
            }
        }

        if let Some(e) = &d.eval {
            check_eval(&c, e)?;
        }

        let t = &self.training;
        c.range_usize("training.batch_size", t.batch_size, 1, 1 << 16)?;
        c.range_usize("training.inner_steps", t.inner_steps, 1, 1 << 20)?;
        c.range_usize("training.rounds", t.rounds, 1, 1 << 24)?;
        c.range_f64("training.lr", t.lr, 0.0, 10.0, true)?;
        c.range_f64("training.min_lr", t.min_lr, 0.0, t.lr, false)?;
        c.range_usize("training.warmup_steps", t.warmup_steps, 0, 1 << 24)?;
        c.range_f64("training.weight_decay", t.weight_decay, 0.0, 1.0, false)?;
        c.range_f64("training.beta1", t.beta1, 0.0, 0.999_999, false)?;
        c.range_f64("training.beta2", t.beta2, 0.0, 0.999_999, false)?;
        c.range_f64("training.eps", t.eps, 0.0, 1.0, true)?;
        c.range_f64("training.grad_clip", t.grad_clip, 0.0, 1e6, false)?;
        c.range_f64("training.outer_lr", t.outer_lr, 0.0, 10.0, true)?;
        c.range_f64(
            "training.outer_momentum",
            t.outer_momentum,
            0.0,
            0.999,
            false,
        )?;
        c.range_usize("training.eval_batches", t.eval_batches, 1, 1 << 16)?;
        self.validate_codec(&c)?;

        let n = &self.network;
        if n.listen.is_empty() {
            return Err(c.fail("network.listen", "needs at least one multiaddr".to_string()));
        }
        for (i, addr) in n.listen.iter().enumerate() {
            if !addr.starts_with('/') {
                return Err(c.fail(
                    &format!("network.listen[{i}]"),
                    format!("{addr:?} is not a multiaddr (e.g. /ip4/0.0.0.0/tcp/9000)"),
                ));
            }
        }
        c.range_u64(
            "network.request_timeout_secs",
            n.request_timeout_secs,
            1,
            86_400,
        )?;
        c.range_u64("network.idle_timeout_secs", n.idle_timeout_secs, 1, 86_400)?;
        c.range_usize(
            "network.max_message_bytes",
            n.max_message_bytes,
            1024,
            64 << 20,
        )?;
        c.range_u64("network.max_blob_bytes", n.max_blob_bytes, 1024, 1 << 40)?;
        c.range_u64("network.join_window_secs", n.join_window_secs, 0, 86_400)?;
        c.range_u64(
            "network.round_deadline_secs",
            n.round_deadline_secs,
            1,
            7 * 86_400,
        )?;
        c.range_usize("network.min_trainers", n.min_trainers, 1, 4096)?;
        c.range_usize("network.max_trainers", n.max_trainers, n.min_trainers, 4096)?;
        c.range_u64(
            "network.evict_after_missed",
            n.evict_after_missed.into(),
            1,
            1 << 20,
        )?;
        c.range_u64(
            "network.joins_per_peer_per_minute",
            n.joins_per_peer_per_minute.into(),
            1,
            1 << 20,
        )?;
        for (i, key) in n.allowlist.iter().enumerate() {
            let ok = (32..=44).contains(&key.len())
                && key
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() && !"0OIl".contains(ch));
            if !ok {
                return Err(c.fail(
                    &format!("network.allowlist[{i}]"),
                    format!("{key:?} is not a base58 public key"),
                ));
            }
        }

        let a = &self.attribution;
        c.range_usize("attribution.max_exact_players", a.max_exact_players, 1, 20)?;
        c.range_f64("attribution.tolerance", a.tolerance, 0.0, 1.0, true)?;
        c.range_usize("attribution.max_evaluations", a.max_evaluations, 2, 1 << 24)?;
        c.range_usize("attribution.ig_points", a.ig_points, 1, 64)?;
        c.range_usize("attribution.eval_sequences", a.eval_sequences, 1, 1 << 16)?;
        c.range_f64(
            "attribution.clip_multiplier",
            a.clip_multiplier,
            1.0,
            1e6,
            false,
        )?;
        c.range_f64(
            "attribution.duplicate_cosine",
            a.duplicate_cosine,
            0.0,
            1.0,
            true,
        )?;
        c.range_f64(
            "attribution.copy_cosine",
            a.copy_cosine,
            0.0,
            a.duplicate_cosine,
            true,
        )?;
        c.range_u64("attribution.replay_window", a.replay_window, 0, 1 << 20)?;
        c.range_f64(
            "attribution.noise_threshold",
            a.noise_threshold,
            0.0,
            1e3,
            false,
        )?;

        let r = &self.rewards;
        let cluster = r.cluster.as_str();
        let local = matches!(cluster, "embedded" | "none");
        let known = local
            || matches!(cluster, "localnet" | "devnet" | "mainnet-beta")
            || cluster.starts_with("http://")
            || cluster.starts_with("https://");
        if !known {
            return Err(c.fail(
                "rewards.cluster",
                format!(
                    "{cluster:?} is not embedded, none, localnet, devnet, mainnet-beta or an http(s) URL"
                ),
            ));
        }
        for (key, value) in [
            ("rewards.program_id", &r.program_id),
            ("rewards.mint", &r.mint),
        ] {
            if let Some(v) = value {
                let ok = bs58::decode(v).into_vec().map(|b| b.len() == 32);
                if !matches!(ok, Ok(true)) {
                    return Err(c.fail(key, format!("{v:?} is not a base58 32-byte address")));
                }
            }
        }
        if !local {
            if r.program_id.is_none() {
                return Err(c.fail(
                    "rewards.program_id",
                    format!("cluster {cluster:?} needs the id of the deployed registry program"),
                ));
            }
            if r.authority_keypair.is_none() {
                return Err(c.fail(
                    "rewards.authority_keypair",
                    format!("cluster {cluster:?} needs the run authority's keypair file"),
                ));
            }
        }
        if let Some(http) = &self.observe.http {
            if http.parse::<std::net::SocketAddr>().is_err() {
                return Err(c.fail(
                    "observe.http",
                    format!("{http:?} is not a TCP address like \"127.0.0.1:9300\""),
                ));
            }
        }
        Ok(())
    }
}

impl RunConfig {
    /// `training.codec` and its parameters: ranges as the codec accepts them, and the sparse
    /// codec's keys refused with int8.
    fn validate_codec(&self, c: &Checker) -> Result<(), ConfigError> {
        let t = &self.training;
        if t.codec == UpdateCodec::Int8 {
            for (key, set) in [
                ("training.codec_topk_ppm", t.codec_topk_ppm.is_some()),
                ("training.codec_bits", t.codec_bits.is_some()),
            ] {
                if set {
                    return Err(c.fail(
                        key,
                        "is only used with codec = \"sparse\" (codec is \"int8\")".to_string(),
                    ));
                }
            }
        }
        match t.codec_settings() {
            CodecSettings::Int8 { block_size } => {
                c.range_u64("training.codec_block_size", block_size.into(), 1, 1 << 20)
            }
            CodecSettings::Sparse {
                block_size,
                topk_ppm,
                bits,
            } => {
                c.range_u64("training.codec_block_size", block_size.into(), 1, 1 << 16)?;
                c.range_u64("training.codec_topk_ppm", topk_ppm.into(), 1, 1_000_000)?;
                c.range_u64("training.codec_bits", bits.into(), 2, 4)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{CodecSettings, ConfigError, RunConfig, TokenizerOverride};
    use std::path::Path;

    const MINIMAL: &str = r#"
[run]
name = "t"
[model]
kind = "llama"
hidden_size = 32
intermediate_size = 64
num_layers = 1
num_heads = 4
[data]
dataset = "synthetic-arith"
seq_len = 32
"#;

    fn parse(text: &str) -> Result<RunConfig, ConfigError> {
        RunConfig::from_toml_str(text, Path::new("cfg.toml"))
    }

    fn invalid_key(text: &str) -> String {
        match parse(text) {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg = parse(MINIMAL).expect("minimal config parses");
        assert_eq!(cfg.training.outer_lr, 0.7);
        assert_eq!(cfg.num_kv_heads(), 4);
        assert_eq!(cfg.max_seq_len(), 32);
        assert_eq!(cfg.rewards.cluster, "embedded");
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let text = MINIMAL.replace("[data]", "[data]\nsequence_length = 3");
        let err = parse(&text).expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.contains("cfg.toml"), "{msg}");
        assert!(msg.contains("sequence_length"), "{msg}");
    }

    #[test]
    fn unknown_section_is_rejected() {
        let err = parse(&format!("{MINIMAL}\n[extra]\nx = 1\n")).expect_err("unknown section");
        assert!(err.to_string().contains("extra"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = parse(&MINIMAL.replace("seq_len = 32", "seq_len = \"long\"")).expect_err("type");
        assert!(err.to_string().contains("seq_len"), "{err}");
    }

    #[test]
    fn ranges_are_checked() {
        assert_eq!(
            invalid_key(&MINIMAL.replace("num_heads = 4", "num_heads = 5")),
            "model.num_heads"
        );
        assert_eq!(
            invalid_key(&format!("{MINIMAL}\n[training]\nlr = -1.0\n")),
            "training.lr"
        );
        assert_eq!(
            invalid_key(&format!("{MINIMAL}\n[training]\nlr = nan\n")),
            "training.lr"
        );
        assert_eq!(
            invalid_key(&MINIMAL.replace("name = \"t\"", "name = \"a b\"")),
            "run.name"
        );
        assert_eq!(
            invalid_key(&format!(
                "{MINIMAL}\n[network]\nmin_trainers = 8\nmax_trainers = 2\n"
            )),
            "network.max_trainers"
        );
        assert_eq!(
            invalid_key(&format!("{MINIMAL}\n[rewards]\ncluster = \"moon\"\n")),
            "rewards.cluster"
        );
        assert_eq!(
            invalid_key(&format!("{MINIMAL}\n[rewards]\ncluster = \"devnet\"\n")),
            "rewards.program_id"
        );
        assert_eq!(
            invalid_key(&format!(
                "{MINIMAL}\n[rewards]\ncluster = \"devnet\"\nprogram_id = \"11111111111111111111111111111111\"\n"
            )),
            "rewards.authority_keypair"
        );
        assert_eq!(
            invalid_key(&format!("{MINIMAL}\n[rewards]\nmint = \"not-base58!\"\n")),
            "rewards.mint"
        );
        assert_eq!(
            invalid_key(&format!("{MINIMAL}\n[network]\nallowlist = [\"nope\"]\n")),
            "network.allowlist[0]"
        );
    }

    #[test]
    fn observe_is_off_by_default_and_checked() {
        assert!(parse(MINIMAL).expect("parses").observe.http.is_none());
        let on = parse(&format!(
            "{MINIMAL}\n[observe]\nhttp = \"127.0.0.1:9300\"\n"
        ))
        .expect("parses");
        assert_eq!(
            on.observe.http_addr().map(|a| a.port()),
            Some(9300),
            "{:?}",
            on.observe
        );
        assert_eq!(
            invalid_key(&format!("{MINIMAL}\n[observe]\nhttp = \"localhost\"\n")),
            "observe.http"
        );
        let unknown = parse(&format!("{MINIMAL}\n[observe]\nport = 1\n"));
        assert!(
            matches!(&unknown, Err(ConfigError::Parse { message, .. }) if message.contains("port")),
            "{unknown:?}"
        );
    }

    #[test]
    fn codec_defaults_to_int8_and_takes_sparse_parameters() {
        let cfg = parse(MINIMAL).expect("minimal");
        assert_eq!(
            cfg.training.codec_settings(),
            CodecSettings::Int8 { block_size: 256 }
        );
        let text = format!("{MINIMAL}\n[training]\ncodec = \"sparse\"\n");
        assert_eq!(
            parse(&text).expect("sparse").training.codec_settings(),
            CodecSettings::Sparse {
                block_size: 4096,
                topk_ppm: 15_625,
                bits: 2
            }
        );
        let text = format!(
            "{MINIMAL}\n[training]\ncodec = \"sparse\"\ncodec_block_size = 1024\n\
             codec_topk_ppm = 30000\ncodec_bits = 4\n"
        );
        assert_eq!(
            parse(&text).expect("sparse").training.codec_settings(),
            CodecSettings::Sparse {
                block_size: 1024,
                topk_ppm: 30_000,
                bits: 4
            }
        );
    }

    #[test]
    fn codec_keys_are_checked_by_name() {
        let with = |keys: &str| invalid_key(&format!("{MINIMAL}\n[training]\n{keys}\n"));
        assert_eq!(
            with("codec = \"sparse\"\ncodec_bits = 5"),
            "training.codec_bits"
        );
        assert_eq!(
            with("codec = \"sparse\"\ncodec_topk_ppm = 0"),
            "training.codec_topk_ppm"
        );
        assert_eq!(
            with("codec = \"sparse\"\ncodec_block_size = 65537"),
            "training.codec_block_size"
        );
        assert_eq!(with("codec_block_size = 0"), "training.codec_block_size");
        assert_eq!(with("codec_topk_ppm = 20000"), "training.codec_topk_ppm");
        assert_eq!(with("codec_bits = 2"), "training.codec_bits");
        let err = parse(&format!("{MINIMAL}\n[training]\ncodec = \"fp8\"\n")).expect_err("kind");
        assert!(err.to_string().contains("codec"), "{err}");
        assert!(err.to_string().contains("sparse"), "{err}");
    }

    #[test]
    fn data_tokenizer_is_checked_and_resolved() {
        let with = |value: &str| {
            MINIMAL.replace(
                "seq_len = 32",
                &format!("seq_len = 32\ntokenizer = {value:?}"),
            )
        };
        assert_eq!(parse(MINIMAL).expect("minimal").data_tokenizer(), None);
        let cfg = RunConfig::from_toml_str(&with("gguf:m/x.gguf"), Path::new("runs/c/cfg.toml"))
            .expect("gguf");
        assert_eq!(
            cfg.data_tokenizer(),
            Some(TokenizerOverride::Gguf("runs/c/m/x.gguf".into()))
        );
        let cfg = parse(&with("gguf:/abs/x.gguf")).expect("absolute");
        assert_eq!(
            cfg.data_tokenizer(),
            Some(TokenizerOverride::Gguf("/abs/x.gguf".into()))
        );
        assert_eq!(
            parse(&with("byte")).expect("byte").data_tokenizer(),
            Some(TokenizerOverride::Byte)
        );
        for bad in ["gguf:", "llama", ""] {
            assert_eq!(invalid_key(&with(bad)), "data.tokenizer", "{bad:?}");
        }
        let e = parse(&with("bpe")).expect_err("bpe").to_string();
        assert!(
            e.contains("cfg.toml") && e.contains("`data.tokenizer`") && e.contains("gguf:PATH"),
            "{e}"
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = RunConfig::from_file(Path::new("/nonexistent/run.toml")).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/run.toml"), "{err}");
    }

    #[test]
    fn hash_is_of_the_file_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, MINIMAL).expect("write");
        let a = RunConfig::from_file(&path).expect("parse");
        std::fs::write(&path, format!("{MINIMAL}\n# comment\n")).expect("write");
        let b = RunConfig::from_file(&path).expect("parse");
        assert_ne!(a.hash_hex(), b.hash_hex());
        assert_eq!(a.hash_hex().len(), 64);
    }
}
