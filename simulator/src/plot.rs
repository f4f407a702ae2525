//! `--plot`: the run as an SVG chart: peers known per node over time (minimum,
//! mean and maximum across live nodes), with faults marked.

use plotters::prelude::*;

use crate::sim::{Mark, Sample};

/// One statistic over the per-node peer counts of a sample.
type Stat = fn(&[usize]) -> f64;

/// The counts of nodes that know at least one peer (down nodes count 0).
fn live(p: &[usize]) -> Vec<usize> {
    p.iter().copied().filter(|&x| x > 0).collect()
}

/// Draws the chart to `path`.
pub fn draw(path: &str, samples: &[Sample], marks: &[Mark], title: &str) -> Result<(), String> {
    let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let t_max = samples.last().map_or(1.0, |s| s.t).max(1.0);
    let n_max = samples
        .iter()
        .flat_map(|s| s.peers.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..t_max, 0.0..n_max * 1.05)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("peers entered, per node")
        .draw()
        .map_err(|e| e.to_string())?;
    let series = |f: fn(&[usize]) -> f64| -> Vec<(f64, f64)> {
        samples.iter().map(|s| (s.t, f(&s.peers))).collect()
    };
    let lines: [(&str, RGBColor, Stat); 3] = [
        ("max", BLUE, |p| {
            live(p).iter().copied().max().unwrap_or(0) as f64
        }),
        ("mean", GREEN, |p| {
            let l = live(p);
            if l.is_empty() {
                0.0
            } else {
                l.iter().sum::<usize>() as f64 / l.len() as f64
            }
        }),
        ("min", RED, |p| {
            live(p).iter().copied().min().unwrap_or(0) as f64
        }),
    ];
    for (label, color, f) in lines {
        chart
            .draw_series(LineSeries::new(series(f), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    for (k, m) in marks.iter().enumerate() {
        // Stagger the labels so that actions close in time stay readable.
        let y = n_max * (1.02 - 0.06 * (k % 4) as f64);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(m.t, 0.0), (m.t, n_max * 1.05)],
                BLACK.mix(0.25),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(Text::new(
                m.what.clone(),
                (m.t, y),
                ("sans-serif", 11),
            )))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}
