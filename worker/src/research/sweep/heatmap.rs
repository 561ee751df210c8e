//! The heat map of a two-parameter sweep (`heatmap.svg`): the first
//! parameter across, the second down, each cell coloured by the sort
//! metric's in-sample value from red (worst) to green (best) and labelled
//! with it; combinations the strategy refused, or whose metric is
//! undefined, are grey. Plain SVG text, no script, no fonts to fetch.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::grid::Axis;
use super::results::{Metric, SweepRow};

/// The file's name.
pub const HEATMAP_SVG: &str = "heatmap.svg";

const CELL_W: usize = 64;
const CELL_H: usize = 28;
const LEFT: usize = 90;
const TOP: usize = 60;

/// The heat map of `rows` over the grid `x` × `y`, by `metric`.
pub fn render(x: &Axis, y: &Axis, rows: &[SweepRow], metric: Metric, title: &str) -> String {
    let value: BTreeMap<(&str, &str), f64> = rows
        .iter()
        .filter_map(|r| {
            let vx = r.params.get(&x.name)?;
            let vy = r.params.get(&y.name)?;
            Some(((vx.as_str(), vy.as_str()), r.in_sample.get(metric)?))
        })
        .collect();
    let (lo, hi) = value
        .values()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let width = LEFT + CELL_W * x.values.len() + 20;
    let height = TOP + CELL_H * y.values.len() + 50;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{LEFT}" y="22" font-size="14">{}</text>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">{}</text>
"##,
        escape(title),
        LEFT + CELL_W * x.values.len() / 2,
        height - 12,
        escape(&x.name),
        TOP + CELL_H * y.values.len() / 2,
        TOP + CELL_H * y.values.len() / 2,
        escape(&y.name),
    );
    for (i, vx) in x.values.iter().enumerate() {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + i * CELL_W + CELL_W / 2,
            TOP - 8,
            escape(vx)
        );
    }
    for (j, vy) in y.values.iter().enumerate() {
        let top = TOP + j * CELL_H;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LEFT - 6,
            top + CELL_H / 2 + 4,
            escape(vy)
        );
        for (i, vx) in x.values.iter().enumerate() {
            let left = LEFT + i * CELL_W;
            let v = value.get(&(vx.as_str(), vy.as_str())).copied();
            let (fill, label) = match v {
                Some(v) => {
                    let mut t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                    if !metric.higher_is_better() {
                        t = 1.0 - t;
                    }
                    (colour(t), short(v))
                }
                None => ("#d0d0d0".to_string(), "–".to_string()),
            };
            let _ = writeln!(
                svg,
                r##"<rect x="{left}" y="{top}" width="{CELL_W}" height="{CELL_H}" fill="{fill}" stroke="#ffffff"><title>{}={}, {}={}: {label}</title></rect><text x="{}" y="{}" text-anchor="middle">{label}</text>"##,
                escape(&x.name),
                escape(vx),
                escape(&y.name),
                escape(vy),
                left + CELL_W / 2,
                top + CELL_H / 2 + 4,
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Red (0) through yellow to green (1).
fn colour(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let (r, g) = if t < 0.5 {
        (230.0, 80.0 + 300.0 * t)
    } else {
        (230.0 - 300.0 * (t - 0.5), 230.0)
    };
    format!("#{:02x}{:02x}{:02x}", r as u8, g as u8, 90)
}

/// A cell's label: three significant figures.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-3) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
