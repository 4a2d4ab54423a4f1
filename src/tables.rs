//! Terminal tables (comfy-table) for what the libraries return as data: a run's rounds and
//! totals ([`coalition_observe::RunView`]) and its on-chain record
//! ([`coalition_ledger::inspect::Summary`]). `names` maps wallets to display names (the demo's
//! trainer names); a wallet without one is printed as is.

use coalition_ledger::inspect::Summary;
use coalition_observe::view::{Outcome, RoundView, RunView};
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Display names by wallet.
pub type Names = BTreeMap<String, String>;

fn name<'a>(names: &'a Names, wallet: &'a str) -> &'a str {
    names.get(wallet).map_or(wallet, String::as_str)
}

/// A table with a header and the given columns right-aligned.
fn table(header: &[&str], right: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    for &i in right {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// Indents every line of a table.
pub fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{}\n", l.trim_end()))
        .collect()
}

/// One committed round: every trainer's outcome, score and payout.
pub fn round(r: &RoundView, names: &Names) -> String {
    let mut t = table(
        &["trainer", "outcome", "shapley (nats)", "payout", "note"],
        &[2, 3],
    );
    for u in &r.updates {
        let score = u.score.map_or("-".into(), |s| format!("{s:+.6}"));
        let mut note = u.reason.clone().unwrap_or_default();
        if let Some(f) = u.clip_factor {
            note = format!("{note} clipped ×{f:.3}").trim().to_string();
        }
        t.add_row(vec![
            name(names, &u.trainer).to_string(),
            u.outcome.describe().to_string(),
            score,
            u.payout.unwrap_or(0).to_string(),
            note,
        ]);
    }
    let loss = match (r.eval_loss_before, r.eval_loss_after) {
        (Some(a), Some(b)) => format!("eval loss {a:.4} -> {b:.4}"),
        _ => "eval loss not recorded".into(),
    };
    format!(
        "round {}: {loss}\n{}",
        r.round,
        indent(&t.to_string(), "  ")
    )
}

/// Per trainer over the run: outcome counts, summed score, tokens earned.
pub fn totals(v: &RunView, names: &Names) -> String {
    let mut t = table(
        &[
            "trainer",
            "merged",
            "not merged",
            "shapley (nats)",
            "earned",
        ],
        &[1, 2, 3, 4],
    );
    for tr in &v.trainers {
        let merged = v
            .committed()
            .filter(|r| {
                r.updates
                    .iter()
                    .any(|u| u.trainer == tr.wallet && u.outcome == Outcome::Merged)
            })
            .count();
        t.add_row(vec![
            name(names, &tr.wallet).to_string(),
            merged.to_string(),
            (tr.rounds_scored + tr.rounds_not_scored - merged as u64).to_string(),
            format!("{:+.6}", tr.score_total),
            tr.earned_total.to_string(),
        ]);
    }
    t.to_string()
}

/// Eval loss before and after every committed round.
pub fn loss_curve(v: &RunView) -> String {
    let mut t = table(
        &["round", "eval loss before", "after", "seconds"],
        &[0, 1, 2, 3],
    );
    for r in v.committed() {
        let f = |x: Option<f64>, d: usize| x.map_or("-".into(), |x| format!("{x:.d$}"));
        t.add_row(vec![
            r.round.to_string(),
            f(r.eval_loss_before, 4),
            f(r.eval_loss_after, 4),
            f(r.round_seconds, 1),
        ]);
    }
    t.to_string()
}

/// `coalition inspect`: the run's accounts, its rounds and its trainers.
pub fn inspect(s: &Summary, names: &Names) -> String {
    let mut head = Table::new();
    head.load_style(comfy_table::presets::NOTHING);
    let mut kv = |k: &str, v: String| {
        head.add_row(vec![k.to_string(), v]);
    };
    kv("authority", s.authority.clone());
    kv("run id", s.run_id.to_string());
    kv("config hash", s.config_hash.clone());
    kv("dataset hash", s.dataset_hash.clone());
    kv("reward mint", s.reward_mint.clone());
    kv("vault", format!("{} ({} tokens)", s.vault, s.vault_balance));
    kv("reward per round", s.reward_per_round.to_string());
    kv(
        "rounds",
        format!(
            "{} recorded, {} closed; {} credited, {} claimed",
            s.rounds_recorded, s.rounds_closed, s.total_credited, s.total_claimed
        ),
    );
    if let Some(c) = &s.coordinator {
        kv("coordinator", c.peer_id.clone());
        for a in &c.addresses {
            kv(
                "  join",
                format!(
                    "coalition train --join {a}/p2p/{} --wallet <keypair.json>",
                    c.peer_id
                ),
            );
        }
    }
    let mut out = format!("run {}\n{}\n", s.run, indent(&head.to_string(), ""));
    out += &inspect_rounds(s);
    let mut t = table(
        &["trainer", "rounds", "cumulative score", "earned", "claimed"],
        &[1, 2, 3, 4],
    );
    for tr in &s.trainers {
        t.add_row(vec![
            name(names, &tr.wallet).to_string(),
            tr.rounds_credited.to_string(),
            format!("{:+.6}", tr.cumulative_score),
            tr.earned.to_string(),
            tr.claimed.to_string(),
        ]);
    }
    let _ = writeln!(out, "{t}");
    if let Some((matched, n)) = s.reports_matched {
        let _ = writeln!(
            out,
            "{matched} of {n} recorded rounds match the local reports"
        );
    }
    out
}

fn inspect_rounds(s: &Summary) -> String {
    let mut t = table(
        &[
            "round",
            "closed",
            "trainers",
            "payout",
            "loss before",
            "after",
            "model hash",
            "report",
        ],
        &[0, 2, 3, 4, 5],
    );
    for r in &s.rounds {
        let check = r
            .check
            .as_ref()
            .map_or(String::new(), |c| match c.status.as_str() {
                "match" => "roots match".into(),
                "no_report" => "no local report".into(),
                other => format!(
                    "{}: {}",
                    other.to_uppercase(),
                    c.detail.as_deref().unwrap_or("")
                ),
            });
        t.add_row(vec![
            r.round.to_string(),
            if r.closed { "yes" } else { "no" }.to_string(),
            r.trainers.to_string(),
            r.total_payout.to_string(),
            format!("{:.4}", r.eval_loss_before),
            format!("{:.4}", r.eval_loss_after),
            r.model_hash.chars().take(16).collect(),
            check,
        ]);
    }
    format!("{t}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use coalition_observe::view::UpdateView;

    #[test]
    fn a_round_table_names_trainers_and_reasons() {
        let r = RoundView {
            round: 3,
            eval_loss_before: Some(2.5),
            eval_loss_after: Some(2.25),
            updates: vec![
                UpdateView {
                    trainer: "W1".into(),
                    outcome: Outcome::Merged,
                    reason: None,
                    score: Some(0.125),
                    payout: Some(700),
                    bytes: Some(10),
                    clip_factor: None,
                },
                UpdateView {
                    trainer: "W2".into(),
                    outcome: Outcome::Refused,
                    reason: Some("norm too large".into()),
                    score: None,
                    payout: None,
                    bytes: Some(10),
                    clip_factor: None,
                },
            ],
            ..RoundView::default()
        };
        let names: Names = [("W1".to_string(), "honest-1".to_string())].into();
        let text = round(&r, &names);
        assert!(
            text.starts_with("round 3: eval loss 2.5000 -> 2.2500"),
            "{text}"
        );
        let line = text.lines().find(|l| l.contains("honest-1")).unwrap();
        assert!(line.contains("+0.125000") && line.contains("700"), "{line}");
        let line = text.lines().find(|l| l.contains("W2")).unwrap();
        assert!(
            line.contains("refused") && line.contains("norm too large"),
            "{line}"
        );
    }
}
