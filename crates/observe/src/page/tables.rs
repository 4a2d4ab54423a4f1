//! The page's tables: summary cards, trainers, rounds, updates with their outcomes, on-chain
//! addresses, warnings.

use std::fmt::Write as _;

use super::{bytes, thousands, trainer_color};
use crate::svg::esc;
use crate::view::{Outcome, RoundState, RunView};

/// At most this many rounds are listed in the updates table (the newest).
const UPDATE_ROUNDS: usize = 100;

/// A cell with an exact value in `data-v` and printed `text`.
fn cell(key: &str, exact: &str, text: &str) -> String {
    format!(
        "<td class=\"num\" data-k=\"{key}\" data-v=\"{}\">{}</td>",
        esc(exact),
        esc(text)
    )
}

fn opt_f64(key: &str, v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(x) => cell(key, &x.to_string(), &format!("{x:.decimals$}")),
        None => "<td class=\"num none\">–</td>".to_string(),
    }
}

fn card(key: &str, label: &str, exact: &str, text: &str) -> String {
    format!(
        "<div class=\"card\"><div class=\"v\" data-k=\"{key}\" data-v=\"{}\">{}</div><div class=\"l\">{}</div></div>",
        esc(exact),
        esc(text),
        esc(label)
    )
}

/// Cards: status, rounds, trainers, paid, loss.
pub(super) fn summary(v: &RunView) -> String {
    let planned = v
        .run
        .rounds_planned
        .map_or(String::new(), |n| format!(" of {n}"));
    let joined = v.trainers.iter().filter(|t| t.joined).count();
    let first = v.committed().next().and_then(|r| r.eval_loss_before);
    let last = v.committed().last().and_then(|r| r.eval_loss_after);
    let loss = match (first, last) {
        (Some(a), Some(b)) => format!("{a:.4} → {b:.4}"),
        _ => "–".into(),
    };
    let current = v.current_round.map_or("–".to_string(), |r| r.to_string());
    let mut out = String::from("<h2>Run</h2><div class=\"cards\">");
    out += &card(
        "status",
        "status",
        super::status_word(v),
        super::status_word(v),
    );
    out += &card(
        "rounds_committed",
        &format!("rounds committed{planned}"),
        &v.rounds_committed.to_string(),
        &v.rounds_committed.to_string(),
    );
    out += &card("current_round", "round open now", &current, &current);
    out += &card(
        "trainers_joined",
        "trainers joined",
        &joined.to_string(),
        &format!("{joined} of {}", v.trainers.len()),
    );
    out += &card(
        "total_paid",
        "tokens paid",
        &v.total_paid().to_string(),
        &thousands(v.total_paid()),
    );
    out += &card("eval_loss", "eval loss, first → last round", &loss, &loss);
    out.push_str("</div>");
    let r = &v.run;
    let mut facts = Vec::new();
    if let Some(id) = &r.run_id {
        facts.push(format!("run id <code>{}</code>", esc(id)));
    }
    if let Some(h) = &r.config_hash {
        facts.push(format!("config sha256 <code>{}</code>", esc(h)));
    }
    if let Some(h) = r.inner_steps {
        facts.push(format!("{h} inner steps per round"));
    }
    if let Some(p) = r.reward_per_round {
        facts.push(format!("{} tokens per round", thousands(p)));
    }
    if r.nonnegative_only {
        facts.push("negative-score updates are left out of the model".into());
    }
    let _ = write!(out, "<p class=\"facts\">{}</p>", facts.join(" · "));
    out
}

/// One row per trainer: totals over committed rounds.
pub(super) fn trainers(v: &RunView) -> String {
    let mut out = String::from(
        "<h2>Trainers</h2><table class=\"trainers\"><thead><tr><th>trainer</th><th>wallet</th>\
         <th>status</th><th>rounds scored</th><th>rounds not scored</th><th>Shapley score, sum (nats)</th>\
         <th>tokens earned</th><th>update bytes sent</th></tr></thead><tbody>",
    );
    for t in &v.trainers {
        let status = if t.joined {
            "joined".to_string()
        } else {
            format!("left: {}", t.left_reason.as_deref().unwrap_or("?"))
        };
        let _ = write!(
            out,
            "<tr data-trainer=\"{}\"><td><i class=\"swatch\" style=\"--c:{}\"></i>{}</td>\
             <td><code title=\"{w}\">{}</code></td><td>{}</td>{}{}{}{}{}</tr>",
            esc(&t.wallet),
            trainer_color(v, &t.wallet),
            esc(t.name()),
            esc(&short(&t.wallet)),
            esc(&status),
            cell(
                "rounds_scored",
                &t.rounds_scored.to_string(),
                &t.rounds_scored.to_string()
            ),
            cell(
                "rounds_not_scored",
                &t.rounds_not_scored.to_string(),
                &t.rounds_not_scored.to_string()
            ),
            cell(
                "score",
                &t.score_total.to_string(),
                &format!("{:+.6}", t.score_total)
            ),
            cell(
                "earned",
                &t.earned_total.to_string(),
                &thousands(t.earned_total)
            ),
            cell(
                "update_bytes",
                &t.update_bytes.to_string(),
                &bytes(t.update_bytes)
            ),
            w = esc(&t.wallet),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// `abcdefghijkl…` for long ids.
fn short(id: &str) -> String {
    if id.chars().count() <= 14 {
        return id.to_string();
    }
    let head: String = id.chars().take(6).collect();
    let tail: String = id
        .chars()
        .rev()
        .take(6)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}…{tail}")
}

/// One row per round.
pub(super) fn rounds(v: &RunView) -> String {
    let mut out = String::from(
        "<h2>Rounds</h2><table class=\"rounds\"><thead><tr><th>round</th><th>state</th><th>tries</th>\
         <th>trainers</th><th>eval loss before</th><th>after</th><th>seconds</th><th>scoring s</th>\
         <th>estimator</th><th>payout</th><th>paid</th><th>model after</th><th>verification</th>\
         </tr></thead><tbody>",
    );
    for r in v.rounds.iter().rev() {
        let state = match r.state {
            RoundState::Open => "open",
            RoundState::Scored => "scored",
            RoundState::Committed => "committed",
        };
        let (estimator, status, paid) = match &r.payout {
            Some(p) => (
                format!("{} ({} evaluations)", p.estimator, p.evaluations),
                p.status.replace('_', " "),
                cell("paid", &p.paid.to_string(), &thousands(p.paid)),
            ),
            None => (
                "–".into(),
                "–".into(),
                "<td class=\"num none\">–</td>".into(),
            ),
        };
        let verification = r
            .verification
            .as_ref()
            .map_or("not known".to_string(), |x| match &x.detail {
                Some(d) => format!("{}: {d}", x.status),
                None => x.status.clone(),
            });
        let model = r
            .model_hash_after
            .as_deref()
            .map_or(String::new(), |h| h.chars().take(12).collect());
        let _ = write!(
            out,
            "<tr data-round=\"{}\"><td class=\"num\">{}</td><td>{state}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td>{}{}{}{}<td>{}</td><td>{}</td>{paid}<td><code>{}</code></td><td>{}</td></tr>",
            r.round,
            r.round,
            r.attempts,
            r.participants,
            opt_f64("loss_before", r.eval_loss_before, 4),
            opt_f64("loss_after", r.eval_loss_after, 4),
            opt_f64("round_seconds", r.round_seconds, 1),
            opt_f64("scoring_seconds", r.scoring_seconds, 2),
            esc(&estimator),
            esc(&status),
            esc(&model),
            esc(&verification),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Every update of the newest rounds, with what became of it and why.
pub(super) fn updates(v: &RunView) -> String {
    let mut out = String::from(
        "<h2>Updates: merged, left out, refused</h2><table class=\"updates\"><thead><tr><th>round</th>\
         <th>trainer</th><th>outcome</th><th>reason</th><th>Shapley score</th><th>payout</th>\
         <th>bytes</th><th>clip</th></tr></thead><tbody>",
    );
    for r in v.rounds.iter().rev().take(UPDATE_ROUNDS) {
        for u in &r.updates {
            let class = match u.outcome {
                Outcome::Merged => "ok",
                Outcome::Training | Outcome::Pending => "",
                Outcome::LeftOut | Outcome::Duplicate | Outcome::Missed => "warn",
                Outcome::Refused => "bad",
            };
            let _ = write!(
                out,
                "<tr data-round=\"{}\" data-trainer=\"{}\" data-outcome=\"{}\"><td class=\"num\">{}</td>\
                 <td><i class=\"swatch\" style=\"--c:{}\"></i>{}</td><td class=\"{class}\">{}</td><td>{}</td>{}{}{}{}</tr>",
                r.round,
                esc(&u.trainer),
                u.outcome.describe(),
                r.round,
                trainer_color(v, &u.trainer),
                esc(v.name_of(&u.trainer)),
                u.outcome.describe(),
                esc(u.reason.as_deref().unwrap_or("")),
                match u.score {
                    Some(s) => cell("score", &s.to_string(), &format!("{s:+.6}")),
                    None => "<td class=\"num none\">–</td>".into(),
                },
                match u.payout {
                    Some(p) => cell("payout", &p.to_string(), &thousands(p)),
                    None => "<td class=\"num none\">–</td>".into(),
                },
                match u.bytes {
                    Some(b) => cell("bytes", &b.to_string(), &bytes(b)),
                    None => "<td class=\"num none\">–</td>".into(),
                },
                opt_f64("clip", u.clip_factor.map(f64::from), 3),
            );
        }
    }
    out.push_str("</tbody></table>");
    if v.rounds.len() > UPDATE_ROUNDS {
        let _ = write!(
            out,
            "<p class=\"note\">The newest {UPDATE_ROUNDS} of {} rounds; `/api/rounds` has them all.</p>",
            v.rounds.len()
        );
    }
    out
}

/// Where the run is recorded, with explorer links on public clusters.
pub(super) fn onchain(v: &RunView) -> String {
    let Some(o) = &v.onchain else {
        return "<h2>On chain</h2><p class=\"note\">Not recorded on chain (no onchain.json).</p>"
            .into();
    };
    let mut out = format!(
        "<h2>On chain</h2><p class=\"facts\">cluster <code data-k=\"cluster\">{}</code></p>\
         <table class=\"onchain\"><tbody>",
        esc(&o.cluster)
    );
    for a in &o.addresses {
        let link = a.explorer.as_deref().map_or(String::new(), |l| {
            format!("<a href=\"{}\" rel=\"noopener\">explorer</a>", esc(l))
        });
        let _ = write!(
            out,
            "<tr><th>{}</th><td><code data-k=\"{}\">{}</code></td><td>{link}</td></tr>",
            esc(&a.what),
            esc(&a.what.replace(' ', "_")),
            esc(&a.address)
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Problems met while reading, if any.
pub(super) fn warnings(v: &RunView) -> String {
    if v.warnings.is_empty() && v.unknown_entries == 0 {
        return String::new();
    }
    let mut out = String::from("<h2>Reading the run</h2><ul class=\"warnings\">");
    for w in &v.warnings {
        let _ = write!(out, "<li>{}</li>", esc(w));
    }
    if v.unknown_entries > 0 {
        let _ = write!(
            out,
            "<li>{} journal entries of kinds this viewer does not know were skipped</li>",
            v.unknown_entries
        );
    }
    out.push_str("</ul>");
    out
}
