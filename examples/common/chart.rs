//! The run's chart: loss (train and test) and the metric per epoch, side by side, as a PNG
//! drawn with plotters' bitmap backend. Text is rendered with ab_glyph from a TrueType font
//! found on the system (DejaVu, Liberation, ...; `WGRAD_CHART_FONT` names another); without
//! one the chart is drawn without text, so a missing font never fails a run.

use super::progress::History;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// Fonts tried in order, after `$WGRAD_CHART_FONT`.
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Registers the first readable font as plotters' "sans-serif" (once); whether there is one.
fn have_font() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let env = std::env::var("WGRAD_CHART_FONT").ok();
        env.iter().map(String::as_str).chain(FONTS.iter().copied()).any(|path| {
            let Ok(bytes) = std::fs::read(path) else { return false };
            // plotters keeps the font for the whole run.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        })
    })
}

/// Writes `history` as a 1000x400 PNG at `path` (atomically: a temp file, then a rename).
pub fn write(path: &Path, title: &str, history: &History) -> Result<()> {
    let tmp = path.with_extension("png.tmp.png");
    draw(&tmp, title, history).map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn draw(path: &Path, title: &str, h: &History) -> Result<(), Box<dyn std::error::Error>> {
    let text = have_font();
    let root = BitMapBackend::new(path, (1000, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = if text { root.titled(title, ("sans-serif", 20))? } else { root.margin(10, 0, 0, 0) };
    let (left, right) = root.split_horizontally(500);
    let n = h.epochs.len().max(1) as f64;
    let epochs = |f: fn(&super::progress::Epoch) -> f64| -> Vec<(f64, f64)> {
        h.epochs.iter().enumerate().map(|(k, e)| ((k + 1) as f64, f(e))).collect()
    };
    let train = epochs(|e| e.train_loss);
    let test = epochs(|e| e.test_loss);
    let scale = if h.percent { 100.0 } else { 1.0 };
    let metric: Vec<(f64, f64)> = epochs(|e| e.metric).into_iter().map(|(x, y)| (x, y * scale)).collect();
    let metric_name = if h.percent { format!("{} (%)", h.metric) } else { h.metric.to_string() };
    let panels = [
        (&left, "loss".to_string(), vec![("train", &train, BLUE), (h.held_out(), &test, RED)]),
        (&right, metric_name, vec![(h.metric, &metric, RGBColor(0, 140, 0))]),
    ];
    for (area, name, series) in panels {
        let values = series.iter().flat_map(|(_, s, _)| s.iter().map(|p| p.1)).filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let pad = ((hi - lo) * 0.1).max(1e-3);
        let mut chart = ChartBuilder::on(area);
        chart.margin(12).x_label_area_size(if text { 35 } else { 0 }).y_label_area_size(if text { 55 } else { 0 });
        if text {
            chart.caption(&name, ("sans-serif", 16));
        }
        let mut chart = chart.build_cartesian_2d(0.5..n + 0.5, (lo - pad)..(hi + pad))?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc("epoch").x_labels(h.epochs.len().clamp(2, 10)).x_label_formatter(&|x| format!("{x:.0}"));
        } else {
            mesh.disable_x_mesh().x_labels(0).y_labels(0);
        }
        mesh.draw()?;
        for (label, points, color) in series {
            let style = color.stroke_width(2);
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            let drawn = chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
            if text {
                drawn.label(label).legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
            }
        }
        if text {
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
        }
    }
    root.present()?;
    Ok(())
}
