use super::*;

fn axes() -> Axes {
    Axes {
        x: "round".into(),
        y: "loss".into(),
        decimals: 4,
    }
}

#[test]
fn ticks_are_nice() {
    assert_eq!(nice_step(10.0, 5.0), 2.0);
    assert_eq!(nice_step(0.37, 5.0), 0.1);
    let s = Scale::new(1.93, 3.41, 5.0);
    assert!(s.lo <= 1.93 && s.hi >= 3.41);
    assert_eq!(tick_label(2_500_000.0, 500_000.0), "2.5M");
    assert_eq!(tick_label(0.25, 0.05), "0.25");
}

#[test]
fn a_line_chart_draws_one_path_per_series_with_escaped_names() {
    let s = vec![
        Series {
            name: "a<b>".into(),
            color: "#123".into(),
            points: vec![(0.0, 3.0), (1.0, 2.5), (2.0, 2.0)],
            dashed: false,
        },
        Series {
            name: "flat".into(),
            color: "#456".into(),
            points: vec![(0.0, 1.0), (2.0, 1.0)],
            dashed: true,
        },
    ];
    let svg = line_chart("loss", "Loss", &axes(), &s);
    assert_eq!(svg.matches("<path class=\"line\"").count(), 2);
    assert!(svg.contains("a&lt;b&gt;") && !svg.contains("a<b>"));
    assert!(svg.contains("stroke-dasharray"));
    assert_eq!(svg.matches("<circle").count(), 5);
    assert!(line_chart("x", "X", &axes(), &[]).contains("no data yet"));
}

#[test]
fn stacked_layers_rest_on_each_other() {
    let layers = vec![
        Layer {
            name: "a".into(),
            color: "red".into(),
            values: vec![1.0, 2.0],
        },
        Layer {
            name: "b".into(),
            color: "blue".into(),
            values: vec![1.0, 2.0],
        },
    ];
    let svg = stacked_area("earn", "E", &axes(), &[0.0, 1.0], &layers);
    assert_eq!(svg.matches("<path class=\"area\"").count(), 2);
    let bars = grouped_bars("bytes", "B", &axes(), &[0.0, 1.0], &layers);
    assert_eq!(bars.matches("<path class=\"bars\"").count(), 2);
    let rows = vec![(
        "round 0".to_string(),
        vec![("train".to_string(), 2.0), ("score".to_string(), 1.0)],
    )];
    let t = timeline("t", "T", &rows, &|_| "#000".into());
    assert_eq!(t.matches("<path class=\"span\"").count(), 2);
    assert!(timeline("t", "T", &[], &|_| "#000".into()).contains("no round timings"));
}
