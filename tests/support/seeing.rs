//! What a person sees of a run, checked as a person would look at it: the live dashboard while
//! the demo runs (in headless Chromium when installed: the page must update itself), `/metrics`
//! parsed and compared with the journal, and the HTML report opened in the browser with its
//! numbers compared with the run's reports.

use coalition_coordinator::journal::{read_entries, Entry};
use coalition_coordinator::read_report;
use coalition_observe::metrics::names;
use coalition_observe::prom_text;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::browser::{http_get, Browser};

/// What the run's own files say: per wallet tokens earned, per committed round its eval loss
/// after, update bytes received and refused updates.
pub struct Expected {
    pub earned: BTreeMap<String, u64>,
    pub loss_after: BTreeMap<u64, f64>,
    pub committed: u64,
    pub update_bytes: u64,
    pub entries: usize,
}

pub fn expected(run_dir: &Path) -> Expected {
    let entries = read_entries(&run_dir.join("journal.jsonl")).expect("journal");
    let mut e = Expected {
        earned: BTreeMap::new(),
        loss_after: BTreeMap::new(),
        committed: 0,
        update_bytes: 0,
        entries: entries.len(),
    };
    for x in &entries {
        match x {
            Entry::UpdateReceived { bytes, .. } => e.update_bytes += bytes,
            Entry::RoundCommitted {
                round,
                eval_loss_after,
                ..
            } => {
                e.committed += 1;
                e.loss_after.insert(*round, *eval_loss_after);
                let report = read_report(&run_dir.join(format!("reports/round-{round}.json")))
                    .expect("report of a committed round");
                for p in report.players {
                    *e.earned.entry(p.id).or_default() += p.payout;
                }
            }
            _ => {}
        }
    }
    e
}

/// `/metrics` at a moment when it has read the whole journal, compared with the journal.
pub fn check_metrics(base: &str, run_dir: &Path) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let before = expected(run_dir);
        let (code, text) = http_get(&format!("{base}metrics")).expect("GET /metrics");
        assert_eq!(code, 200, "{text}");
        let samples = prom_text::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let after = expected(run_dir);
        let read = prom_text::value(&samples, names::JOURNAL_ENTRIES, &[]);
        if before.entries != after.entries || read != Some(after.entries as f64) {
            assert!(Instant::now() < end, "/metrics never caught up:\n{text}");
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let v = |name: &str, labels: &[(&str, &str)]| prom_text::value(&samples, name, labels);
        assert_eq!(
            v(names::ROUNDS_COMMITTED, &[]),
            Some(after.committed as f64)
        );
        assert_eq!(v(names::UPDATE_BYTES, &[]), Some(after.update_bytes as f64));
        for (wallet, earned) in &after.earned {
            assert_eq!(
                v(names::TRAINER_EARNED, &[("trainer", wallet)]),
                Some(*earned as f64),
                "{wallet}\n{text}"
            );
        }
        let (&last, &loss) = after.loss_after.iter().last().expect("a committed round");
        let shown = v(names::EVAL_LOSS, &[("when", "after")]).expect("eval loss gauge");
        assert!(close(shown, loss), "round {last}: {shown} vs {loss}");
        return;
    }
}

/// The live dashboard during the run. With a browser: the page, opened before the first round
/// is committed, must show each new round without being reloaded.
pub fn check_live(base: &str, run_dir: &Path, browser: Option<&mut Browser>, shots: &Path) {
    let (code, html) = http_get(base).expect("GET the dashboard");
    assert_eq!(code, 200);
    assert!(html.contains("data-mode=\"live\"") && html.contains("<script>"));
    let Some(b) = browser else {
        wait_rounds(base, 2);
        check_metrics(base, run_dir);
        return;
    };
    b.open(base).expect("open the dashboard");
    let first = b
        .eval("Number(document.body.dataset.rounds)")
        .expect("rounds");
    let first = first.as_u64().expect("a round count on the page");
    let want = first.max(1) + 1;
    let cond = format!("Number(document.body.dataset.rounds) >= {want}");
    b.wait_for(&cond, Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("the live page did not update itself past {first} rounds: {e}"));
    let refreshes = b
        .eval("Number(document.body.dataset.refreshes || 0)")
        .unwrap();
    assert!(refreshes.as_u64() >= Some(1), "{refreshes}");
    let drawn = drawn_paths(b);
    assert!(
        drawn["loss"] >= 2,
        "loss lines drawn on the live page: {drawn:?}"
    );
    b.screenshot(&shots.join("live.png")).expect("screenshot");
    // Every round on the page has the journal's loss (the journal only grows).
    let expect = expected(run_dir);
    let page = page_numbers(b);
    for (round, loss) in page["loss_after"].as_object().expect("losses") {
        let round: u64 = round.parse().expect("round number");
        let want = expect
            .loss_after
            .get(&round)
            .copied()
            .expect("a committed round");
        let shown = loss.as_f64().expect("a number");
        assert!(
            close(shown, want),
            "round {round} on the live page: {shown} vs {want}"
        );
    }
    check_metrics(base, run_dir);
}

/// Equal up to float parsing (the values travel as decimal text through JS and JSON).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

fn wait_rounds(base: &str, n: u64) {
    let end = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, body) = http_get(&format!("{base}api/run")).expect("GET /api/run");
        let v: Value = serde_json::from_str(&body).expect("JSON");
        if v["rounds_committed"].as_u64() >= Some(n) {
            return;
        }
        assert!(Instant::now() < end, "no {n} rounds on /api/run: {body}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Per chart: paths that are drawn (a `d` and a non-empty box).
fn drawn_paths(b: &mut Browser) -> BTreeMap<String, u64> {
    let v = b
        .eval(
            "JSON.stringify(Object.fromEntries([...document.querySelectorAll('figure[data-chart]')]
               .map(f => [f.dataset.chart, [...f.querySelectorAll('path')].filter(p => {
                 const r = p.getBBox(); return (p.getAttribute('d') || '').length > 3 && r.width + r.height > 0;
               }).length])))",
        )
        .expect("count paths");
    serde_json::from_str(v.as_str().expect("a string")).expect("JSON")
}

/// The numbers the page shows: earned per wallet (exact and printed), loss after per round,
/// total paid, the earnings layers' areas (shoelace over the path's points) and the names.
fn page_numbers(b: &mut Browser) -> Value {
    let v = b
        .eval(
            "JSON.stringify({
               earned: Object.fromEntries([...document.querySelectorAll('table.trainers tr[data-trainer]')]
                 .map(tr => { const c = tr.querySelector('[data-k=earned]');
                   return [tr.dataset.trainer, {v: c.dataset.v, text: c.textContent, name: tr.cells[0].textContent}]; })),
               loss_after: Object.fromEntries([...document.querySelectorAll('table.rounds tr[data-round]')]
                 .filter(tr => tr.querySelector('[data-k=loss_after]'))
                 .map(tr => [tr.dataset.round, Number(tr.querySelector('[data-k=loss_after]').dataset.v)])),
               paid: document.querySelector('[data-k=total_paid]').dataset.v,
               layers: Object.fromEntries([...document.querySelectorAll('figure[data-chart=earnings] path.area')]
                 .map(p => { const n = (p.getAttribute('d').match(/-?[0-9.]+/g) || []).map(Number);
                   let a = 0; const k = n.length / 2;
                   for (let i = 0; i < k; i++) { const j = (i + 1) % k;
                     a += n[2 * i] * n[2 * j + 1] - n[2 * j] * n[2 * i + 1]; }
                   return [p.dataset.series, Math.abs(a) / 2]; })),
             })",
        )
        .expect("read the page");
    serde_json::from_str(v.as_str().expect("a string")).expect("JSON")
}

/// The report opened in the browser: every chart drawn, every number equal to the reports',
/// the honest trainers' earnings visible in the stacked plot, the free-rider's flat and the
/// shuffled-label trainer's at most a sliver.
pub fn check_report(b: &mut Browser, file: &Path, run_dir: &Path, shots: &Path) {
    let url = format!(
        "file://{}",
        file.canonicalize().expect("report path").display()
    );
    b.open(&url).expect("open the report");
    let drawn = drawn_paths(b);
    for chart in ["loss", "scores", "earnings", "bytes", "timeline"] {
        assert!(drawn.get(chart) >= Some(&1), "{chart} not drawn: {drawn:?}");
    }
    let expect = expected(run_dir);
    let page = page_numbers(b);
    let labels: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("labels.json")).expect("labels.json"),
    )
    .expect("labels");
    let honest_min = expect
        .earned
        .iter()
        .filter(|(w, _)| labels.get(*w).is_some_and(|n| n.starts_with("honest")))
        .map(|(_, e)| *e)
        .min()
        .unwrap_or(0);
    for (wallet, earned) in &expect.earned {
        let row = &page["earned"][wallet];
        assert_eq!(
            row["v"].as_str(),
            Some(earned.to_string().as_str()),
            "{wallet}"
        );
        assert_eq!(
            row["text"].as_str().map(|t| t.replace(',', "")),
            Some(earned.to_string())
        );
        let name = labels.get(wallet).expect("a label");
        assert_eq!(row["name"].as_str(), Some(name.as_str()));
        // The area of its layer in the stacked earnings plot, in px² of the drawing.
        let area = page["layers"][name].as_f64().expect("an earnings layer");
        if name.starts_with("honest") {
            assert!(
                *earned > 0 && area > 100.0,
                "{name}: {earned} tokens, {area} px²"
            );
        } else if *earned == 0 {
            assert!(area < 1.0, "{name}: {earned} tokens, {area} px²");
        } else {
            // Only the shuffled-label trainer may earn, next to nothing (see tests/demo.rs):
            // its layer is a sliver next to the honest ones'.
            assert!(
                !name.starts_with("free-rider") && *earned * 20 < honest_min,
                "{name}: {earned} tokens, {area} px²"
            );
        }
    }
    let total: u64 = expect.earned.values().sum();
    assert_eq!(page["paid"].as_str(), Some(total.to_string().as_str()));
    for (round, loss) in &expect.loss_after {
        let shown = page["loss_after"][round.to_string()]
            .as_f64()
            .expect("a loss");
        assert!(close(shown, *loss), "round {round}: {shown} vs {loss}");
    }
    b.screenshot(&shots.join("report.png")).expect("screenshot");
}
