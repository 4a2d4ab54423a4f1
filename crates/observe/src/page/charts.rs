//! The page's charts, each a section: eval loss, Shapley scores, cumulative earnings (stacked),
//! bytes per round, the rounds' timeline.

use super::trainer_color;
use crate::svg::{self, Axes, Layer, Series};
use crate::view::{RoundView, RunView};

/// At most this many rounds in the timeline (the newest).
const TIMELINE_ROUNDS: usize = 30;

fn axes(x: &str, y: &str, decimals: usize) -> Axes {
    Axes {
        x: x.into(),
        y: y.into(),
        decimals,
    }
}

/// Eval loss before and after each round on the "rounds done" axis, and the baseline.
pub(super) fn loss(v: &RunView) -> String {
    let before: Vec<(f64, f64)> = v
        .committed()
        .filter_map(|r| Some((r.round as f64, r.eval_loss_before?)))
        .collect();
    let after: Vec<(f64, f64)> = v
        .committed()
        .filter_map(|r| Some((r.round as f64 + 1.0, r.eval_loss_after?)))
        .collect();
    let mut series = vec![
        Series {
            name: "before the round (θ_r)".into(),
            color: "#9aa5b1".into(),
            points: before,
            dashed: false,
        },
        Series {
            name: "after the round (θ_r+1)".into(),
            color: "#1f4e79".into(),
            points: after,
            dashed: false,
        },
    ];
    let last = v.committed().last().map_or(0.0, |r| r.round as f64 + 1.0);
    let baseline: Vec<(f64, f64)> = v
        .baseline
        .iter()
        .filter(|p| p.rounds <= last.max(1.0))
        .map(|p| (p.rounds, p.eval_loss))
        .collect();
    if !baseline.is_empty() {
        series.push(Series {
            name: "single process, same steps".into(),
            color: "#e15759".into(),
            points: baseline,
            dashed: true,
        });
    }
    let note =
        "<p class=\"note\">Each round's loss is measured on that round's held-out eval batch, \
                before and after its update; x = rounds of training done.</p>";
    format!(
        "<h2>Eval loss per round</h2>{}{note}",
        svg::line_chart(
            "loss",
            "eval loss per round",
            &axes("rounds done", "eval loss (nats/token)", 4),
            &series
        )
    )
}

/// Each trainer's Shapley score per committed round.
pub(super) fn scores(v: &RunView) -> String {
    let series: Vec<Series> = v
        .trainers
        .iter()
        .map(|t| Series {
            name: t.name().to_string(),
            color: trainer_color(v, &t.wallet).into(),
            points: v
                .committed()
                .filter_map(|r| {
                    let u = r.updates.iter().find(|u| u.trainer == t.wallet)?;
                    Some((r.round as f64, u.score?))
                })
                .collect(),
            dashed: false,
        })
        .collect();
    format!(
        "<h2>Shapley score per round</h2>{}<p class=\"note\">A trainer's marginal contribution to \
         the drop in eval loss, averaged over every coalition of the round's updates. Refused \
         updates are not scored.</p>",
        svg::line_chart(
            "scores",
            "Shapley score per round",
            &axes("round", "score (nats)", 6),
            &series
        )
    )
}

/// Cumulative tokens earned, stacked by trainer.
pub(super) fn earnings(v: &RunView) -> String {
    let xs: Vec<f64> = v.committed().map(|r| r.round as f64).collect();
    let cumulative = v.cumulative_earnings();
    let layers: Vec<Layer> = v
        .trainers
        .iter()
        .map(|t| Layer {
            name: t.name().to_string(),
            color: trainer_color(v, &t.wallet).into(),
            values: cumulative
                .get(&t.wallet)
                .map(|c| c.iter().map(|&x| x as f64).collect())
                .unwrap_or_default(),
        })
        .collect();
    format!(
        "<h2>Cumulative earnings</h2>{}",
        svg::stacked_area(
            "earnings",
            "cumulative earnings by trainer",
            &axes("round", "tokens earned", 0),
            &xs,
            &layers
        )
    )
}

/// Bytes per round: update frames received, and wire bytes in and out when counted.
pub(super) fn bytes(v: &RunView) -> String {
    let rounds: Vec<_> = v.committed().collect();
    let xs: Vec<f64> = rounds.iter().map(|r| r.round as f64).collect();
    let mut layers = vec![Layer {
        name: "update frames received".into(),
        color: "#4e79a7".into(),
        values: rounds.iter().map(|r| r.update_bytes as f64).collect(),
    }];
    type Get = fn(&RoundView) -> Option<u64>;
    let wire: [(&str, &str, Get); 2] = [
        ("into the coordinator (wire)", "#59a14f", |r| r.bytes_up),
        ("out of the coordinator (wire)", "#f28e2b", |r| r.bytes_down),
    ];
    for (name, color, get) in wire {
        if rounds.iter().any(|r| get(r).is_some()) {
            layers.push(Layer {
                name: name.into(),
                color: color.into(),
                values: rounds.iter().map(|r| get(r).unwrap_or(0) as f64).collect(),
            });
        }
    }
    let note = if layers.len() == 1 {
        "<p class=\"note\">This run's journal does not count wire bytes; the bars are the update \
         frames' lengths.</p>"
    } else {
        ""
    };
    format!(
        "<h2>Bytes per round</h2>{}{note}",
        svg::grouped_bars(
            "bytes",
            "bytes per round",
            &axes("round", "bytes", 0),
            &xs,
            &layers
        )
    )
}

fn phase_color(name: &str) -> String {
    match name {
        "gather" => "#bab0ac",
        "train" | "gather + train + transfer" => "#4e79a7",
        "transfer" => "#76b7b2",
        "score" | "score + commit" => "#f28e2b",
        "commit" => "#59a14f",
        "record" => "#b07aa1",
        _ => "#9c755f",
    }
    .to_string()
}

/// The newest rounds' phases as horizontal bars.
pub(super) fn timeline(v: &RunView) -> String {
    let rows: Vec<(String, Vec<(String, f64)>)> = v
        .committed()
        .filter(|r| !r.timeline.is_empty())
        .map(|r| {
            (
                format!("round {}", r.round),
                r.timeline
                    .iter()
                    .map(|p| (p.name.clone(), p.seconds))
                    .collect(),
            )
        })
        .collect();
    let skip = rows.len().saturating_sub(TIMELINE_ROUNDS);
    let measured = v.committed().any(|r| r.timeline_measured);
    let note = if measured {
        ""
    } else {
        "<p class=\"note\">This run's journal has no per-phase times: the bars split each round \
         into the time before scoring and the scoring and commit.</p>"
    };
    format!(
        "<h2>Round timeline</h2>{}{note}",
        svg::timeline("timeline", "round timeline", &rows[skip..], &phase_color)
    )
}
