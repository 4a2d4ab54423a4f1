//! The round timeline: one horizontal bar per round, split into its phases.

use std::fmt::Write as _;

use super::{bounds, empty, esc, legend, tick_label, Scale, BOTTOM, LEFT, RIGHT, TOP, W};

/// One horizontal bar per row, split into named spans (a round's phases).
pub fn timeline(
    id: &str,
    title: &str,
    rows: &[(String, Vec<(String, f64)>)],
    color: &dyn Fn(&str) -> String,
) -> String {
    let longest = bounds(
        rows.iter()
            .map(|(_, spans)| spans.iter().map(|s| s.1).sum::<f64>()),
    );
    let Some((_, longest)) = longest.filter(|(_, l)| *l > 0.0) else {
        return empty(id, "no round timings yet");
    };
    let row_h = 18.0;
    let height = TOP + BOTTOM + row_h * rows.len() as f64;
    let scale = Scale::new(0.0, longest, 8.0);
    let px = |s: f64| x_of(&scale, s);
    let mut out = format!(
        "<figure class=\"chart\" data-chart=\"{id}\"><svg viewBox=\"0 0 {W} {height}\" role=\"img\" \
         aria-label=\"{}\"><g class=\"axes\">",
        esc(title)
    );
    seconds_axis(&mut out, &scale, height);
    let mut names: Vec<String> = Vec::new();
    for (i, (label, spans)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * row_h;
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + row_h * 0.7,
            esc(label)
        );
        let mut at = 0.0;
        for (name, secs) in spans {
            let _ = write!(
                out,
                "<path class=\"span\" data-series=\"{}\" d=\"M{:.1} {:.1} H{:.1} V{:.1} H{:.1} Z\" fill=\"{}\"><title>{}: {} {:.2} s</title></path>",
                esc(name),
                px(at),
                y + 2.0,
                px(at + secs),
                y + row_h - 2.0,
                px(at),
                esc(&color(name)),
                esc(label),
                esc(name),
                secs
            );
            at += secs;
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let colors: Vec<String> = names.iter().map(|n| color(n)).collect();
    legend(
        &mut out,
        names
            .iter()
            .zip(&colors)
            .map(|(n, c)| (n.as_str(), c.as_str(), false)),
    );
    out
}

fn x_of(scale: &Scale, seconds: f64) -> f64 {
    LEFT + seconds / scale.hi * (W - LEFT - RIGHT)
}

/// Vertical grid lines and second ticks along the bottom.
fn seconds_axis(out: &mut String, scale: &Scale, height: f64) {
    for t in scale.ticks() {
        let x = x_of(scale, t);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            height - BOTTOM,
            height - BOTTOM + 16.0,
            tick_label(t, scale.step)
        );
    }
    let _ = write!(
        out,
        "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">seconds</text></g>",
        (LEFT + W - RIGHT) / 2.0,
        height - 4.0
    );
}
