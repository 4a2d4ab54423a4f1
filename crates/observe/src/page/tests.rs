use super::*;
use crate::reader::tests::{append, round_lines, sample_run, write_report};
use crate::RunReader;

fn view(rounds: u64) -> (tempfile::TempDir, RunView) {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), rounds);
    let v = RunReader::open(dir.path()).unwrap().view().clone();
    (dir, v)
}

/// The `data-v` of the first element with `data-k="key"` after `from`.
fn data_v<'a>(html: &'a str, from: &str, key: &str) -> &'a str {
    let at = html.find(from).unwrap_or_else(|| panic!("no {from}"));
    let rest = &html[at..];
    let k = rest.find(&format!("data-k=\"{key}\" data-v=\"")).unwrap();
    let v = &rest[k + key.len() + 18..];
    &v[..v.find('"').unwrap()]
}

#[test]
fn the_report_is_self_contained_and_draws_every_chart() {
    let (_dir, v) = view(3);
    let html = render(&v, Mode::Report, 1, "2030-01-01 00:00 UTC");
    for chart in ["loss", "scores", "earnings", "bytes", "timeline"] {
        let at = html
            .find(&format!("data-chart=\"{chart}\""))
            .unwrap_or_else(|| panic!("no {chart} chart"));
        let fig = &html[at..at + html[at..].find("</figure>").unwrap()];
        assert!(
            fig.contains("<path") && fig.contains(" d=\"M"),
            "{chart}: {fig}"
        );
    }
    assert!(!html.contains("<script"));
    for external in ["<link", "src=", "url(", "@import", "http://", "https://"] {
        assert!(!html.contains(external), "{external}");
    }
    assert_eq!(data_v(&html, "data-trainer=\"WalletA\"", "earned"), "3000");
    assert_eq!(data_v(&html, "data-trainer=\"WalletA\"", "score"), "0.75");
    assert_eq!(data_v(&html, "id=\"s-summary\"", "total_paid"), "3000");
    assert_eq!(data_v(&html, "<tr data-round=\"2\"", "loss_after"), "1.5");
    assert!(html.contains("update norm 1e9 is above the limit"));
    assert!(html.contains("data-outcome=\"refused\""));
    assert!(html.contains("data-outcome=\"missed\""));
}

#[test]
fn the_live_page_has_its_script_and_sends_sections_only_when_changed() {
    let (_dir, v) = view(1);
    let html = render(&v, Mode::Live, 7, "now");
    assert!(html.contains("<script>") && html.contains("api/page?since="));
    assert!(html.contains("data-version=\"7\""));
    let fresh = update(&v, 7, Some(3));
    let sections = fresh.sections.expect("sections");
    assert_eq!(sections.len(), SECTIONS.len() + 1);
    assert_eq!(sections[0].0, "header");
    assert!(sections
        .iter()
        .any(|(id, html)| id == "loss" && html.contains("<path")));
    assert!(update(&v, 7, Some(7)).sections.is_none());
    let json = serde_json::to_value(update(&v, 7, Some(7))).unwrap();
    assert_eq!(json["rounds_committed"], 1);
    assert!(json.get("sections").is_none());
}

#[test]
fn names_and_reasons_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    sample_run(dir.path(), 1);
    std::fs::write(
        dir.path().join("labels.json"),
        r#"{"WalletA":"<script>alert(1)</script>"}"#,
    )
    .unwrap();
    write_report(dir.path(), 1, &[("WalletA", 0.1, 10)]);
    let mut lines = round_lines(1, true);
    lines[3] = lines[3].replace("update norm", "<img src=x onerror=alert(2)> norm");
    append(dir.path(), &lines);
    let v = RunReader::open(dir.path()).unwrap().view().clone();
    let html = render(&v, Mode::Report, 1, "now");
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn an_empty_run_renders_placeholders() {
    let v = RunView {
        run_dir: "runs/none".into(),
        ..RunView::default()
    };
    let html = render(&v, Mode::Live, 0, "now");
    assert!(html.contains("no data yet"));
    assert!(html.contains("Not recorded on chain"));
}

#[test]
fn numbers_read_well() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(1_000), "1,000");
    assert_eq!(thousands(12_345_678), "12,345,678");
    assert_eq!(bytes(999), "999 B");
    assert_eq!(bytes(1_500_000), "1.50 MB");
}
