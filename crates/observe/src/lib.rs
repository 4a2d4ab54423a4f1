//! Seeing a run: what `coalition report`, the live dashboard and `/metrics` show.
//!
//! * [`RunReader`] reads a run directory — the coordinator's journal (tolerantly: unknown
//!   entry kinds and fields are skipped, so older and newer journals read), the round reports,
//!   `onchain.json`, `config.toml` and the optional `labels.json` / `baseline.json` — into a
//!   [`RunView`], and keeps it current by reading only what the journal gained since the last
//!   refresh.
//! * [`page::render`] draws a view as one self-contained HTML page: inline CSS, inline SVG
//!   charts ([`svg`]), nothing fetched. The report is that page without script; the dashboard
//!   adds a small inline script that swaps in fresh sections from `/api/page`.
//! * [`start`] serves the dashboard, `/api/run`, `/api/rounds` and `/metrics` on its own thread
//!   ([`server`]); [`metrics`] names every metric once and offers a `record_*` API.
//!
//! No candle, libp2p or Solana here: the crate reads files and serves HTTP (hyper), so the
//! coordinator, the trainer and the CLI can all use it.

pub mod error;
pub mod files;
pub mod journal;
pub mod metrics;
pub mod page;
pub mod prom_text;
mod reader;
pub mod server;
pub mod svg;
pub mod time;
pub mod view;

pub use error::ObserveError;
pub use reader::RunReader;
pub use server::{serve, start, Dashboard, ServeOptions};
pub use view::RunView;

/// The HTML report of the run in `dir` (what `coalition report` writes), with the baseline
/// from `baseline` when given.
pub fn report_html(
    dir: &std::path::Path,
    baseline: Option<&std::path::Path>,
) -> Result<(String, RunView), ObserveError> {
    if !dir.join("journal.jsonl").is_file() {
        return Err(ObserveError::NotARun {
            path: dir.to_path_buf(),
        });
    }
    let mut reader = RunReader::new(dir);
    if let Some(b) = baseline {
        if !b.is_file() {
            return Err(ObserveError::Read {
                path: b.to_path_buf(),
                error: std::io::ErrorKind::NotFound.into(),
            });
        }
        reader = reader.with_baseline(b);
    }
    reader.refresh()?;
    let html = page::render(
        reader.view(),
        page::Mode::Report,
        reader.version(),
        &time::utc_now(),
    );
    Ok((html, reader.view().clone()))
}
