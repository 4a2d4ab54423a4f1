//! The HTML page drawn from a [`RunView`]: one self-contained file (inline CSS, inline SVG,
//! nothing fetched) for `coalition report`, and the same page with a small inline script for
//! the live dashboard, which replaces its sections with fresh ones from `/api/page`.
//!
//! The page is a list of sections, each rendered by one function from the view; the live
//! endpoint sends the same sections as JSON, so the report and the dashboard cannot differ.
//! Numbers carry their exact value in `data-v` attributes beside the printed text (for tests
//! and scripts).

use serde::Serialize;
use std::fmt::Write as _;

use crate::svg::esc;
use crate::view::RunView;

mod charts;
mod tables;

const CSS: &str = include_str!("../assets/page.css");
const LIVE_JS: &str = include_str!("../assets/live.js");

/// Trainer colours (Tableau 10), by position in `RunView::trainers`.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// The colour of the trainer with this wallet.
pub(crate) fn trainer_color(view: &RunView, wallet: &str) -> &'static str {
    let i = view
        .trainers
        .iter()
        .position(|t| t.wallet == wallet)
        .unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// Static file or live dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `coalition report`: no script.
    Report,
    /// The dashboard: refreshes its sections from `/api/page`.
    Live,
}

/// The page's sections in order: (id, renderer).
type Section = (&'static str, fn(&RunView) -> String);
const SECTIONS: [Section; 11] = [
    ("summary", tables::summary),
    ("loss", charts::loss),
    ("scores", charts::scores),
    ("earnings", charts::earnings),
    ("trainers", tables::trainers),
    ("bytes", charts::bytes),
    ("timeline", charts::timeline),
    ("rounds", tables::rounds),
    ("updates", tables::updates),
    ("onchain", tables::onchain),
    ("warnings", tables::warnings),
];

/// What `/api/page` answers: the sections as HTML when the view changed since `since`.
#[derive(Debug, Clone, Serialize)]
pub struct PageUpdate {
    pub version: u64,
    pub rounds_committed: u64,
    pub status: crate::view::RunStatus,
    /// The run's name (for the window title).
    pub title: String,
    /// Section id → inner HTML; absent when nothing changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<(String, String)>>,
}

/// The sections of `view`, for `/api/page`.
pub fn update(view: &RunView, version: u64, since: Option<u64>) -> PageUpdate {
    let sections = (since != Some(version)).then(|| {
        std::iter::once(("header".to_string(), header(view)))
            .chain(SECTIONS.iter().map(|(id, f)| (id.to_string(), f(view))))
            .collect()
    });
    PageUpdate {
        version,
        rounds_committed: view.rounds_committed,
        status: view.status,
        title: title(view),
        sections,
    }
}

/// The run's name for titles.
fn title(view: &RunView) -> String {
    view.run
        .name
        .clone()
        .or_else(|| view.run.run_id.clone())
        .unwrap_or_else(|| view.run_dir.clone())
}

/// The run's name and directory (a section of its own: the name appears once the run has
/// started).
fn header(view: &RunView) -> String {
    format!(
        "<h1>coalition run <span class=\"name\">{}</span></h1><p class=\"sub\">{}</p>",
        esc(&title(view)),
        esc(&view.run_dir)
    )
}

/// The whole page. `generated` is a human-readable time stamp for the header.
pub fn render(view: &RunView, mode: Mode, version: u64, generated: &str) -> String {
    let name = esc(&title(view));
    let live = mode == Mode::Live;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>coalition · {name}</title><style>{CSS}</style></head>\
         <body data-mode=\"{}\" data-version=\"{version}\" data-rounds=\"{}\" data-status=\"{}\">\
         <header><div id=\"s-header\">{}</div>\
         <p class=\"sub\"><span id=\"live-status\">{}</span></p></header><main>",
        if live { "live" } else { "report" },
        view.rounds_committed,
        status_word(view),
        header(view),
        if live {
            format!("live · {}", esc(generated))
        } else {
            format!("report written {}", esc(generated))
        },
    );
    for (id, f) in SECTIONS {
        let _ = write!(out, "<section id=\"s-{id}\">{}</section>", f(view));
    }
    out.push_str("</main><footer>coalition · every number on this page comes from the run directory's journal and reports</footer>");
    if live {
        let _ = write!(out, "<script>{LIVE_JS}</script>");
    }
    out.push_str("</body></html>\n");
    out
}

fn status_word(view: &RunView) -> &'static str {
    match view.status {
        crate::view::RunStatus::Starting => "starting",
        crate::view::RunStatus::Running => "running",
        crate::view::RunStatus::Finished => "finished",
    }
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A human-readable byte count.
pub(crate) fn bytes(n: u64) -> String {
    let x = n as f64;
    if x >= 1e9 {
        format!("{:.2} GB", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2} MB", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} kB", x / 1e3)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests;
