//! Hand-built SVG charts: line charts, a stacked area, grouped bars and a horizontal timeline.
//! Each returns a `<figure>` with an inline `<svg>` (every mark a `<path>`, points with
//! `<title>` tooltips) and an HTML legend, so a page needs no script to show them.
//! (Why not `plotters`: see docs/ARCHITECTURE.md, "Seeing a run".)

use std::fmt::Write as _;

const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// One named sequence of values over the categories of a bar or area chart.
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub color: String,
    pub values: Vec<f64>,
}

/// Axis titles and how to print values.
#[derive(Debug, Clone)]
pub struct Axes {
    pub x: String,
    pub y: String,
    /// Decimals for tooltip values.
    pub decimals: usize,
}

/// A 1-2-5 step giving about `n` ticks over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / n;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Prints a tick value with as few decimals as its step needs; large values with k/M/G.
fn tick_label(v: f64, step: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        return format!("{:.1}G", v / 1e9);
    }
    if a >= 1e6 {
        return format!("{:.1}M", v / 1e6);
    }
    if a >= 1e4 {
        return format!("{:.0}k", v / 1e3);
    }
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{v:.decimals$}")
}

/// A value range padded to nice tick boundaries.
struct Scale {
    lo: f64,
    hi: f64,
    step: f64,
}

impl Scale {
    fn new(lo: f64, hi: f64, ticks: f64) -> Scale {
        let (lo, hi) = if (hi - lo).abs() < 1e-12 {
            (
                lo - 0.5_f64.max(lo.abs() * 0.1),
                hi + 0.5_f64.max(hi.abs() * 0.1),
            )
        } else {
            (lo, hi)
        };
        let step = nice_step(hi - lo, ticks);
        Scale {
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
            step,
        }
    }
    fn ticks(&self) -> Vec<f64> {
        let n = ((self.hi - self.lo) / self.step).round() as i64;
        (0..=n.min(40))
            .map(|i| self.lo + i as f64 * self.step)
            .collect()
    }
}

/// The plotting frame: maps data to pixels and draws axes.
struct Frame {
    x: Scale,
    y: Scale,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.lo) / (self.x.hi - self.x.lo) * (W - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y - self.y.lo) / (self.y.hi - self.y.lo) * (H - TOP - BOTTOM)
    }
    fn axes(&self, out: &mut String, axes: &Axes, integer_x: bool) {
        out.push_str("<g class=\"axes\">");
        for t in self.y.ticks() {
            let y = self.py(t);
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                tick_label(t, self.y.step)
            );
        }
        for t in self.x.ticks() {
            if integer_x && t.fract().abs() > 1e-9 {
                continue;
            }
            let x = self.px(t);
            let label = if integer_x {
                tick_label(t, self.x.step.max(1.0))
            } else {
                tick_label(t, self.x.step)
            };
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                H - BOTTOM + 16.0,
            );
        }
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
             <line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{b:.1}\" y2=\"{b:.1}\"/>\
             <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text class=\"label\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text></g>",
            H - BOTTOM,
            W - RIGHT,
            (LEFT + W - RIGHT) / 2.0,
            H - 4.0,
            esc(&axes.x),
            (TOP + H - BOTTOM) / 2.0,
            esc(&axes.y),
            b = H - BOTTOM,
        );
    }
}

fn open(id: &str, title: &str) -> String {
    format!(
        "<figure class=\"chart\" data-chart=\"{id}\"><svg viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"{}\">",
        esc(title)
    )
}

fn legend<'a>(out: &mut String, items: impl Iterator<Item = (&'a str, &'a str, bool)>) {
    out.push_str("</svg><figcaption class=\"legend\">");
    for (name, color, dashed) in items {
        let class = if dashed { "swatch dashed" } else { "swatch" };
        let _ = write!(
            out,
            "<span><i class=\"{class}\" style=\"--c:{}\"></i>{}</span>",
            esc(color),
            esc(name)
        );
    }
    out.push_str("</figcaption></figure>");
}

fn empty(id: &str, what: &str) -> String {
    format!(
        "<figure class=\"chart empty\" data-chart=\"{id}\"><p>{}</p></figure>",
        esc(what)
    )
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Lines with point markers. `x` values are usually rounds.
pub fn line_chart(id: &str, title: &str, axes: &Axes, series: &[Series]) -> String {
    let pts = || series.iter().flat_map(|s| s.points.iter());
    let (Some((x0, x1)), Some((y0, y1))) = (bounds(pts().map(|p| p.0)), bounds(pts().map(|p| p.1)))
    else {
        return empty(id, "no data yet");
    };
    let f = Frame {
        x: Scale::new(x0, x1, 10.0),
        y: Scale::new(y0, y1, 5.0),
    };
    let mut out = open(id, title);
    f.axes(&mut out, axes, true);
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let mut d = String::new();
        for (i, (x, y)) in s.points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if i == 0 { "M" } else { " L" },
                f.px(*x),
                f.py(*y)
            );
        }
        let dash = if s.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<path class=\"line\" data-series=\"{}\" d=\"{d}\" stroke=\"{}\" fill=\"none\"{dash}/>",
            esc(&s.name),
            esc(&s.color)
        );
        for (x, y) in &s.points {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"><title>{}: {} {}, {:.*}</title></circle>",
                f.px(*x),
                f.py(*y),
                esc(&s.color),
                esc(&s.name),
                esc(&axes.x),
                x,
                axes.decimals,
                y
            );
        }
    }
    legend(
        &mut out,
        series
            .iter()
            .map(|s| (s.name.as_str(), s.color.as_str(), s.dashed)),
    );
    out
}

/// Layers stacked on each other over categories `xs` (e.g. cumulative earnings per trainer).
pub fn stacked_area(id: &str, title: &str, axes: &Axes, xs: &[f64], layers: &[Layer]) -> String {
    let n = xs.len();
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            layers
                .iter()
                .map(|l| l.values.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let (Some((x0, x1)), Some((_, top))) =
        (bounds(xs.iter().copied()), bounds(totals.iter().copied()))
    else {
        return empty(id, "no data yet");
    };
    let f = Frame {
        x: Scale::new(x0, x1, 10.0),
        y: Scale::new(0.0, top.max(1.0), 5.0),
    };
    let mut out = open(id, title);
    f.axes(&mut out, axes, true);
    let mut base = vec![0.0; n];
    for l in layers {
        let upper: Vec<f64> = (0..n)
            .map(|i| base[i] + l.values.get(i).copied().unwrap_or(0.0).max(0.0))
            .collect();
        let mut d = String::new();
        for i in 0..n {
            let _ = write!(
                d,
                "{}{:.1} {:.1}",
                if i == 0 { "M" } else { " L" },
                f.px(xs[i]),
                f.py(upper[i])
            );
        }
        for i in (0..n).rev() {
            let _ = write!(d, " L{:.1} {:.1}", f.px(xs[i]), f.py(base[i]));
        }
        d.push_str(" Z");
        let last = l.values.last().copied().unwrap_or(0.0);
        let _ = write!(
            out,
            "<path class=\"area\" data-series=\"{}\" d=\"{d}\" fill=\"{}\"><title>{}: {:.*} at the end</title></path>",
            esc(&l.name),
            esc(&l.color),
            esc(&l.name),
            axes.decimals,
            last
        );
        base = upper;
    }
    legend(
        &mut out,
        layers
            .iter()
            .map(|l| (l.name.as_str(), l.color.as_str(), false)),
    );
    out
}

/// Side-by-side bars per category (e.g. bytes up and down per round).
pub fn grouped_bars(id: &str, title: &str, axes: &Axes, xs: &[f64], layers: &[Layer]) -> String {
    let all = layers.iter().flat_map(|l| l.values.iter().copied());
    let (Some((x0, x1)), Some((_, top))) = (bounds(xs.iter().copied()), bounds(all)) else {
        return empty(id, "no data yet");
    };
    let f = Frame {
        x: Scale::new(x0 - 0.5, x1 + 0.5, 10.0),
        y: Scale::new(0.0, top.max(1.0), 5.0),
    };
    let mut out = open(id, title);
    f.axes(&mut out, axes, true);
    let slot = (f.px(1.0) - f.px(0.0)) * 0.8;
    let width = slot / layers.len().max(1) as f64;
    for (k, l) in layers.iter().enumerate() {
        let mut d = String::new();
        for (x, v) in xs.iter().zip(&l.values) {
            let left = f.px(*x) - slot / 2.0 + k as f64 * width;
            let y = f.py(v.max(0.0));
            let _ = write!(
                d,
                "M{left:.1} {:.1} V{y:.1} H{:.1} V{:.1} Z ",
                f.py(0.0),
                left + width * 0.9,
                f.py(0.0)
            );
        }
        let _ = write!(
            out,
            "<path class=\"bars\" data-series=\"{}\" d=\"{}\" fill=\"{}\"><title>{}</title></path>",
            esc(&l.name),
            d.trim_end(),
            esc(&l.color),
            esc(&l.name)
        );
    }
    legend(
        &mut out,
        layers
            .iter()
            .map(|l| (l.name.as_str(), l.color.as_str(), false)),
    );
    out
}

#[cfg(test)]
mod tests;

mod timeline;
pub use timeline::timeline;
