//! [`RunReader`]: builds a [`RunView`] from a run directory and keeps it current by reading only
//! what was appended to the journal since the last [`RunReader::refresh`] (it remembers the
//! byte offset of the last complete line). A journal that shrank or was replaced (a run started
//! over) is read again from the start. The small files (`config.toml`, `onchain.json`,
//! `labels.json`, `baseline.json`, `verification.json`) are re-read when their modification
//! time changes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{read_err, ObserveError, Result};
use crate::files;
use crate::journal::{complete_lines, parse_line};
use crate::view::{RunStatus, RunView};

mod apply;
mod finish;

/// At most this many warnings are kept (the newest are dropped).
const MAX_WARNINGS: usize = 20;

/// Reads a run directory incrementally.
#[derive(Debug)]
pub struct RunReader {
    dir: PathBuf,
    offset: u64,
    file_id: Option<(u64, u64)>,
    view: RunView,
    labels: BTreeMap<String, String>,
    stamps: BTreeMap<&'static str, SystemTime>,
    baseline: Option<PathBuf>,
    /// Per-round results of `coalition verify` (`verification.json`).
    verified: BTreeMap<u64, crate::view::Verification>,
    version: u64,
}

/// Device and inode of a file (so a replaced journal is noticed); `None` off Unix.
fn file_id(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

impl RunReader {
    /// A reader for `dir`; nothing is read until [`refresh`](Self::refresh). The directory need
    /// not exist yet (a live server may start before the coordinator creates it).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let view = RunView {
            run_dir: dir.display().to_string(),
            ..RunView::default()
        };
        RunReader {
            dir,
            offset: 0,
            file_id: None,
            view,
            labels: BTreeMap::new(),
            stamps: BTreeMap::new(),
            baseline: None,
            verified: BTreeMap::new(),
            version: 0,
        }
    }

    /// A reader for an existing run: reads it once, and fails if `dir` has no journal.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let mut r = Self::new(dir);
        if !r.journal_path().is_file() {
            return Err(ObserveError::NotARun { path: r.dir });
        }
        r.refresh()?;
        Ok(r)
    }

    /// Take the single-process baseline from `path` instead of `<dir>/baseline.json`.
    pub fn with_baseline(mut self, path: impl Into<PathBuf>) -> Self {
        self.baseline = Some(path.into());
        self.stamps.remove("baseline");
        self
    }

    /// The view as of the last refresh.
    pub fn view(&self) -> &RunView {
        &self.view
    }

    /// Bumped by every refresh that changed the view.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Byte offset just past the last journal line read.
    pub fn journal_offset(&self) -> u64 {
        self.offset
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }

    /// Read whatever changed since the last call; `true` if the view changed. Unreadable
    /// reports and malformed lines become warnings on the view, not errors; only a journal
    /// that exists but cannot be read is an error.
    pub fn refresh(&mut self) -> Result<bool> {
        let mut changed = self.small_files();
        changed |= self.read_journal()?;
        if changed {
            for r in &mut self.view.rounds {
                if let Some(v) = self.verified.get(&r.round) {
                    r.verification = Some(v.clone());
                }
            }
            self.finish();
            self.version += 1;
        }
        Ok(changed)
    }

    /// `config.toml`, `labels.json`, `onchain.json`, `verification.json`, the baseline:
    /// re-read when modified.
    fn small_files(&mut self) -> bool {
        let mut changed = false;
        let config = self.dir.join("config.toml");
        if let Some(Ok(info)) = self.if_modified("config", &config, files::read_config) {
            let run = &mut self.view.run;
            run.name = info.name;
            run.rounds_planned = info.rounds_planned;
            run.inner_steps = info.inner_steps;
            run.reward_per_round = info.reward_per_round;
            run.nonnegative_only = info.nonnegative_only;
            self.stamps.remove("baseline");
            changed = true;
        }
        let labels = self.dir.join("labels.json");
        if let Some(l) = self.read_modified("labels", &labels, files::read_labels, &mut changed) {
            self.labels = l;
        }
        let onchain = self.dir.join("onchain.json");
        if let Some(o) = self.read_modified("onchain", &onchain, files::read_onchain, &mut changed)
        {
            self.view.onchain = Some(o);
        }
        let verification = self.dir.join("verification.json");
        let read = files::read_verification;
        if let Some(v) = self.read_modified("verification", &verification, read, &mut changed) {
            self.verified = v;
        }
        let baseline = self
            .baseline
            .clone()
            .unwrap_or_else(|| self.dir.join("baseline.json"));
        let h = self.view.run.inner_steps.unwrap_or(1);
        let read = |p: &Path| files::read_baseline(p, h);
        if let Some(b) = self.read_modified("baseline", &baseline, read, &mut changed) {
            self.view.baseline = b;
        }
        changed
    }

    /// [`Self::if_modified`], with a file that cannot be read turned into a warning on the
    /// view; `changed` is set when the file was read or warned about.
    fn read_modified<T>(
        &mut self,
        key: &'static str,
        path: &Path,
        read: impl FnOnce(&Path) -> Result<T>,
        changed: &mut bool,
    ) -> Option<T> {
        match self.if_modified(key, path, read)? {
            Ok(v) => {
                *changed = true;
                Some(v)
            }
            Err(e) => {
                *changed |= self.warn(e.to_string());
                None
            }
        }
    }

    /// Runs `read` on `path` if it exists and changed since the last time under `key`.
    fn if_modified<T>(
        &mut self,
        key: &'static str,
        path: &Path,
        read: impl FnOnce(&Path) -> Result<T>,
    ) -> Option<Result<T>> {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
        if self.stamps.get(key) == Some(&modified) {
            return None;
        }
        self.stamps.insert(key, modified);
        Some(read(path))
    }

    /// Reads complete lines appended since the last call and applies them.
    fn read_journal(&mut self) -> Result<bool> {
        let path = self.journal_path();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(read_err(&path)(e)),
        };
        let id = file_id(&meta);
        if meta.len() < self.offset || (self.file_id.is_some() && id != self.file_id) {
            self.reset();
        }
        self.file_id = id;
        if meta.len() == self.offset {
            return Ok(false);
        }
        let mut file = File::open(&path).map_err(read_err(&path))?;
        file.seek(SeekFrom::Start(self.offset))
            .map_err(read_err(&path))?;
        let mut bytes = Vec::new();
        file.take(meta.len() - self.offset)
            .read_to_end(&mut bytes)
            .map_err(read_err(&path))?;
        let (lines, used) = complete_lines(&bytes);
        for raw in lines {
            self.view.journal_entries += 1;
            match std::str::from_utf8(raw)
                .map_err(|e| e.to_string())
                .and_then(parse_line)
            {
                Ok(event) => self.apply(event),
                Err(e) => {
                    let n = self.view.journal_entries;
                    self.warn(format!("{} line {n}: skipped: {e}", path.display()));
                }
            }
        }
        self.offset += used as u64;
        Ok(used > 0)
    }

    /// Forget the journal's contents (it was replaced or truncated).
    fn reset(&mut self) {
        let keep = RunView {
            run_dir: self.view.run_dir.clone(),
            run: crate::view::RunInfo {
                run_id: None,
                config_hash: None,
                seed: None,
                ..self.view.run.clone()
            },
            onchain: self.view.onchain.take(),
            baseline: std::mem::take(&mut self.view.baseline),
            status: RunStatus::Starting,
            ..RunView::default()
        };
        self.view = keep;
        self.offset = 0;
    }

    /// Records a warning (bounded); returns `true`.
    fn warn(&mut self, message: String) -> bool {
        tracing::warn!("{message}");
        if self.view.warnings.len() < MAX_WARNINGS {
            self.view.warnings.push(message);
        }
        true
    }
}

#[cfg(test)]
pub(crate) mod tests;
