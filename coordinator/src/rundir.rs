//! The run directory `runs/<name>/` and where everything lives in it.
//!
//! ```text
//! runs/<name>/
//!   config.toml                      the config as launched (its sha256 is the config hash)
//!   journal.jsonl                    append-only journal (crate::journal)
//!   tokenizer.json                   the run's tokenizer, when it has a `tokenizers` form
//!   checkpoints/round-N/             θ_N, the weights round N starts from (round-0 = initial):
//!     config.json, model.safetensors   Hugging Face layout (coalition-model's save_llama)
//!     outer.safetensors                outer optimizer momentum m_N
//!     tokenizer.json, tokenizer_config.json   a copy of the run's tokenizer, if any
//!   updates/round-N/<sha256>.bin     encoded update frames of round N (verification window)
//!   reports/round-N.json             round N's attribution report
//!   reveals/round-N.json             the eval samples round N revealed, with Merkle proofs
//!   manifests/round-N.json           every artifact of round N, by sha256 (crate::manifest)
//!   eval-secret.json                 a generated eval pool's secret (0600; published at the end)
//!   ledger/                          the embedded validator's ledger
//! ```
//!
//! Checkpoints are written to `round-N.tmp/`, fsynced and renamed into place, so a checkpoint
//! directory is complete or absent. Paths recorded in the journal are relative to the run
//! directory ([`RunDir::relative`]), so a run directory can be moved.

use candle_core::Device;
use coalition_attribution::{sha256, Hash32};
use coalition_model::checkpoint::{
    load_llama, params_hash, save_llama, save_tokenizer, CONFIG_FILE as MODEL_CONFIG,
    TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE,
};
use coalition_model::Llama;
use std::path::{Path, PathBuf};

use crate::error::{io, CoordinatorError, Result};
use crate::fsutil;
use crate::outer::OuterOptimizer;

/// The launched config's copy.
pub const CONFIG_FILE: &str = "config.toml";
/// The journal.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// The outer optimizer state inside a checkpoint directory.
pub const OUTER_FILE: &str = "outer.safetensors";

/// What [`RunDir::launch`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// A new run directory (nothing to resume).
    Fresh,
    /// An existing run launched with the same config: resume from its journal.
    Resumed,
    /// `start_over` moved the previous run directory to this path and made a fresh one.
    StartedOver { moved_to: PathBuf },
}

/// A run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

/// Whether `name` can name a run directory: 1–128 of `[A-Za-z0-9_-]`.
pub fn valid_run_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl RunDir {
    /// A run directory at `root`, without checks (for reading an existing run).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    /// Open `runs_root/<name>/` for the config whose file bytes are `config_bytes`.
    ///
    /// * no such run: create it and copy the config in ([`Launch::Fresh`]);
    /// * same config hash: [`Launch::Resumed`];
    /// * different config hash: [`CoordinatorError::ConfigChanged`] — unless `start_over`,
    ///   which moves the old directory aside to `<name>.old-<k>` (never deletes it) and
    ///   starts fresh. `start_over` always starts fresh.
    pub fn launch(
        runs_root: &Path,
        name: &str,
        config_bytes: &[u8],
        start_over: bool,
    ) -> Result<(RunDir, Launch)> {
        if !valid_run_name(name) {
            return Err(CoordinatorError::BadRunName { name: name.into() });
        }
        let dir = RunDir::at(runs_root.join(name));
        let config = dir.config_path();
        let mut launch = Launch::Fresh;
        if start_over && dir.root.exists() {
            let moved_to = dir.move_aside(runs_root, name)?;
            tracing::warn!(old = %moved_to.display(), "starting over: previous run directory moved aside");
            launch = Launch::StartedOver { moved_to };
        } else if config.is_file() {
            let recorded = fsutil::sha256_file(&config)?;
            let launched = sha256(config_bytes);
            if recorded != launched {
                return Err(CoordinatorError::ConfigChanged {
                    path: config,
                    recorded,
                    launched,
                });
            }
            dir.create_layout()?;
            return Ok((dir, Launch::Resumed));
        } else if dir.journal_path().exists() {
            return Err(CoordinatorError::MissingRunConfig { path: dir.root });
        }
        dir.create_layout()?;
        fsutil::write_atomic(&config, config_bytes)?;
        Ok((dir, launch))
    }

    fn move_aside(&self, runs_root: &Path, name: &str) -> Result<PathBuf> {
        let target = (1u32..)
            .map(|k| runs_root.join(format!("{name}.old-{k}")))
            .find(|p| !p.exists())
            .unwrap_or_else(|| runs_root.join(format!("{name}.old")));
        std::fs::rename(&self.root, &target).map_err(io("move aside", &self.root))?;
        fsutil::sync_dir(runs_root)?;
        Ok(target)
    }

    fn create_layout(&self) -> Result<()> {
        for d in [
            self.root.clone(),
            self.checkpoints_dir(),
            self.updates_dir(),
            self.reports_dir(),
        ] {
            fsutil::create_dir_all(&d)?;
        }
        fsutil::sync_dir(&self.root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }
    pub fn journal_path(&self) -> PathBuf {
        self.root.join(JOURNAL_FILE)
    }
    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    /// `checkpoints/round-N/`: θ_N, the weights round N starts from.
    pub fn checkpoint_dir(&self, round: u64) -> PathBuf {
        self.checkpoints_dir().join(format!("round-{round}"))
    }
    pub fn outer_state_path(&self, round: u64) -> PathBuf {
        self.checkpoint_dir(round).join(OUTER_FILE)
    }
    pub fn updates_dir(&self) -> PathBuf {
        self.root.join("updates")
    }
    pub fn updates_round_dir(&self, round: u64) -> PathBuf {
        self.updates_dir().join(format!("round-{round}"))
    }
    pub fn update_path(&self, round: u64, hash: &Hash32) -> PathBuf {
        self.updates_round_dir(round)
            .join(format!("{}.bin", hash.to_hex()))
    }
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }
    pub fn report_path(&self, round: u64) -> PathBuf {
        self.reports_dir().join(format!("round-{round}.json"))
    }
    /// `reveals/round-N.json`: the eval samples round N revealed, with their proofs.
    pub fn reveal_path(&self, round: u64) -> PathBuf {
        self.root
            .join("reveals")
            .join(format!("round-{round}.json"))
    }
    /// `manifests/round-N.json`: the artifacts of round N.
    pub fn manifest_path(&self, round: u64) -> PathBuf {
        self.root
            .join("manifests")
            .join(format!("round-{round}.json"))
    }
    /// The compressed broadcast of round N's model change.
    pub fn broadcast_path(&self, round: u64) -> PathBuf {
        self.root
            .join("broadcasts")
            .join(format!("round-{round}.bin"))
    }
    /// The files of checkpoint N: config.json, model.safetensors, outer.safetensors.
    pub fn checkpoint_files(&self, round: u64) -> [PathBuf; 3] {
        let dir = self.checkpoint_dir(round);
        [
            dir.join(MODEL_CONFIG),
            dir.join(WEIGHTS_FILE),
            dir.join(OUTER_FILE),
        ]
    }
    pub fn ledger_dir(&self) -> PathBuf {
        self.root.join("ledger")
    }

    /// `path` relative to the run directory (for the journal); unchanged if outside it.
    pub fn relative(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| path.to_path_buf())
    }

    /// A journal path resolved against the run directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.root.join(path)
    }

    /// sha256 of `config.toml`.
    pub fn config_hash(&self) -> Result<Hash32> {
        fsutil::sha256_file(&self.config_path())
    }

    /// Keep the run's tokenizer (`tokenizers` JSON) as `tokenizer.json` at the root; every
    /// checkpoint saved after this carries a copy, so `transformers` loads model and tokenizer
    /// from one checkpoint directory.
    pub fn save_tokenizer(&self, json: &str) -> Result<()> {
        fsutil::write_atomic(&self.root.join(TOKENIZER_FILE), json.as_bytes())
    }

    /// Save θ_N (loaded into `model`, whose parameters are overwritten) and the outer
    /// optimizer state as `checkpoints/round-N/`, replacing any previous one atomically.
    /// Returns the model hash ([`params_hash`] of `theta`).
    pub fn save_checkpoint(
        &self,
        round: u64,
        model: &Llama,
        theta: &[f32],
        outer: &OuterOptimizer,
    ) -> Result<Hash32> {
        model.params().load_flat(theta)?;
        let dir = self.checkpoint_dir(round);
        let tmp = fsutil::tmp_path(&dir);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io("remove stale", &tmp))?;
        }
        save_llama(model, &tmp)?;
        outer.save_state(&tmp.join(OUTER_FILE))?;
        for f in [MODEL_CONFIG, WEIGHTS_FILE] {
            fsutil::sync_file(&tmp.join(f))?;
        }
        let tokenizer = self.root.join(TOKENIZER_FILE);
        if tokenizer.is_file() {
            let json = std::fs::read_to_string(&tokenizer).map_err(io("read", &tokenizer))?;
            save_tokenizer(&tmp, &json)?;
            for f in [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE] {
                fsutil::sync_file(&tmp.join(f))?;
            }
        }
        fsutil::sync_dir(&tmp)?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io("replace", &dir))?;
        }
        crate::crash::point("mid-checkpoint");
        std::fs::rename(&tmp, &dir).map_err(io("rename into place", &dir))?;
        fsutil::sync_dir(&self.checkpoints_dir())?;
        Ok(Hash32(params_hash(theta)))
    }

    /// Load `checkpoints/round-N/`: the model, its flat parameters θ_N, and the outer state
    /// into `outer`. With `expected`, a model hash mismatch is refused.
    pub fn load_checkpoint(
        &self,
        round: u64,
        device: &Device,
        expected: Option<&Hash32>,
        outer: &mut OuterOptimizer,
    ) -> Result<(Llama, Vec<f32>)> {
        let dir = self.checkpoint_dir(round);
        let model = load_llama(&dir, device)?;
        let theta = model.params().flatten()?;
        let got = Hash32(params_hash(&theta));
        if let Some(&expected) = expected {
            if got != expected {
                return Err(CoordinatorError::HashMismatch {
                    what: format!("model in {}", dir.display()),
                    expected,
                    got,
                });
            }
        }
        outer.load_state(&dir.join(OUTER_FILE))?;
        Ok((model, theta))
    }

    /// Store an encoded update frame of round N under its sha256; returns the hash.
    pub fn store_update(&self, round: u64, frame: &[u8]) -> Result<Hash32> {
        let hash = sha256(frame);
        let path = self.update_path(round, &hash);
        if !path.is_file() {
            fsutil::create_dir_all(&self.updates_round_dir(round))?;
            fsutil::write_atomic(&path, frame)?;
        }
        Ok(hash)
    }

    /// Read a stored update frame, checking its hash.
    pub fn read_update(&self, round: u64, hash: &Hash32) -> Result<Vec<u8>> {
        let path = self.update_path(round, hash);
        let bytes = std::fs::read(&path).map_err(io("read update", &path))?;
        let got = sha256(&bytes);
        if got != *hash {
            return Err(CoordinatorError::HashMismatch {
                what: format!("update file {}", path.display()),
                expected: *hash,
                got,
            });
        }
        Ok(bytes)
    }

    /// Delete the update frames of rounds older than the verification window: keeps rounds
    /// N with `N + window > current`, removes the rest. Returns the rounds removed.
    pub fn prune_updates(&self, current: u64, window: u64) -> Result<Vec<u64>> {
        let dir = self.updates_dir();
        let mut removed = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(io("list", &dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io("list", &dir))?;
            let name = entry.file_name();
            let Some(round) = name
                .to_str()
                .and_then(|n| n.strip_prefix("round-"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if round.saturating_add(window) <= current {
                let path = entry.path();
                std::fs::remove_dir_all(&path).map_err(io("prune", &path))?;
                removed.push(round);
            }
        }
        removed.sort_unstable();
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outer::OuterParams;
    use coalition_model::LlamaConfig;

    fn tiny() -> Llama {
        let cfg = LlamaConfig {
            vocab_size: 11,
            hidden_size: 8,
            intermediate_size: 16,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            num_key_value_heads: None,
            max_position_embeddings: 8,
            rms_norm_eps: 1e-5,
            rope_theta: 10_000.0,
            tie_word_embeddings: false,
        };
        Llama::new_random(&cfg, 0.1, 1, &Device::Cpu).unwrap()
    }

    #[test]
    fn launch_resume_refuse_and_start_over() {
        let runs = tempfile::tempdir().unwrap();
        let (dir, l) = RunDir::launch(runs.path(), "r1", b"a = 1\n", false).unwrap();
        assert_eq!(l, Launch::Fresh);
        assert!(dir.checkpoints_dir().is_dir() && dir.reports_dir().is_dir());
        assert_eq!(std::fs::read(dir.config_path()).unwrap(), b"a = 1\n");
        assert_eq!(dir.config_hash().unwrap(), sha256(b"a = 1\n"));
        std::fs::write(dir.journal_path(), b"").unwrap();

        let (_, l) = RunDir::launch(runs.path(), "r1", b"a = 1\n", false).unwrap();
        assert_eq!(l, Launch::Resumed);

        let err = RunDir::launch(runs.path(), "r1", b"a = 2\n", false).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("config.toml") && msg.contains("start over"),
            "{msg}"
        );

        let (dir, l) = RunDir::launch(runs.path(), "r1", b"a = 2\n", true).unwrap();
        let Launch::StartedOver { moved_to } = l else {
            panic!("expected StartedOver")
        };
        assert!(moved_to.ends_with("r1.old-1") && moved_to.join("journal.jsonl").is_file());
        assert!(!dir.journal_path().exists());
        assert_eq!(std::fs::read(dir.config_path()).unwrap(), b"a = 2\n");

        for bad in ["", "../x", "a/b", "x y"] {
            assert!(matches!(
                RunDir::launch(runs.path(), bad, b"", false),
                Err(CoordinatorError::BadRunName { .. })
            ));
        }
        let (d2, _) = RunDir::launch(runs.path(), "r2", b"", false).unwrap();
        std::fs::remove_file(d2.config_path()).unwrap();
        std::fs::write(d2.journal_path(), b"{}\n").unwrap();
        assert!(matches!(
            RunDir::launch(runs.path(), "r2", b"", false),
            Err(CoordinatorError::MissingRunConfig { .. })
        ));
    }

    #[test]
    fn paths_are_laid_out_as_documented() {
        let d = RunDir::at("/runs/x");
        let h = sha256(b"u");
        assert_eq!(
            d.checkpoint_dir(3),
            Path::new("/runs/x/checkpoints/round-3")
        );
        assert_eq!(
            d.outer_state_path(3),
            Path::new("/runs/x/checkpoints/round-3/outer.safetensors")
        );
        assert_eq!(
            d.update_path(2, &h),
            PathBuf::from(format!("/runs/x/updates/round-2/{}.bin", h.to_hex()))
        );
        assert_eq!(d.report_path(7), Path::new("/runs/x/reports/round-7.json"));
        assert_eq!(
            d.relative(&d.report_path(7)),
            Path::new("reports/round-7.json")
        );
        assert_eq!(
            d.resolve(Path::new("reports/round-7.json")),
            d.report_path(7)
        );
    }

    #[test]
    fn checkpoints_round_trip_with_outer_state_and_hash_check() {
        let runs = tempfile::tempdir().unwrap();
        let (dir, _) = RunDir::launch(runs.path(), "ck", b"", false).unwrap();
        let model = tiny();
        let mut theta = model.params().flatten().unwrap();
        let n = theta.len();
        let mut outer = OuterOptimizer::new(OuterParams::from_config(&Default::default()), n);
        let g: Vec<f32> = (0..n).map(|i| (i % 5) as f32 * 1e-3).collect();
        outer.apply(&mut theta, &g).unwrap();
        let hash = dir.save_checkpoint(1, &model, &theta, &outer).unwrap();
        // Saving again replaces it atomically.
        let hash2 = dir.save_checkpoint(1, &model, &theta, &outer).unwrap();
        assert_eq!(hash, hash2);
        assert!(!fsutil::tmp_path(&dir.checkpoint_dir(1)).exists());

        let mut back = OuterOptimizer::new(outer.params(), n);
        let (_m, th) = dir
            .load_checkpoint(1, &Device::Cpu, Some(&hash), &mut back)
            .unwrap();
        assert_eq!(th, theta);
        assert_eq!(back, outer);

        let wrong = sha256(b"other");
        let err = dir
            .load_checkpoint(1, &Device::Cpu, Some(&wrong), &mut back)
            .unwrap_err()
            .to_string();
        assert!(err.contains("round-1") && err.contains("expected"), "{err}");
        assert!(dir
            .load_checkpoint(2, &Device::Cpu, None, &mut back)
            .is_err());
    }

    #[test]
    fn updates_are_content_addressed_and_pruned_outside_the_window() {
        let runs = tempfile::tempdir().unwrap();
        let (dir, _) = RunDir::launch(runs.path(), "up", b"", false).unwrap();
        let mut hashes = Vec::new();
        for r in 0..5u64 {
            hashes.push(
                dir.store_update(r, format!("frame {r}").as_bytes())
                    .unwrap(),
            );
        }
        assert_eq!(dir.read_update(2, &hashes[2]).unwrap(), b"frame 2");
        std::fs::write(dir.update_path(3, &hashes[3]), b"tampered").unwrap();
        assert!(matches!(
            dir.read_update(3, &hashes[3]),
            Err(CoordinatorError::HashMismatch { .. })
        ));
        // Window 2 at round 4: keep rounds 3 and 4.
        assert_eq!(dir.prune_updates(4, 2).unwrap(), vec![0, 1, 2]);
        assert!(dir.updates_round_dir(3).is_dir() && dir.updates_round_dir(4).is_dir());
        assert!(dir.prune_updates(4, 2).unwrap().is_empty());
    }
}
