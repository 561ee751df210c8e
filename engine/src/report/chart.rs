//! The equity curve as an SVG chart: equity over time (UTC dates on the time
//! axis), drawdowns from the running peak shaded.
//!
//! Drawn with plotters' SVG backend, which writes text as `<text>` elements
//! and needs no font files (it only estimates text widths for layout). No
//! data, a single point and a flat curve give a valid chart with a note
//! saying so instead of failing.

use plotters::prelude::*;

use super::stats::EquityPoint;
use super::ReportError;

/// Chart size in pixels.
const WIDTH: u32 = 1000;
const HEIGHT: u32 = 560;
/// The equity line's colour; tests find the curve's `<polyline>` by it.
pub const EQUITY_COLOR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const DRAWDOWN_COLOR: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Renders `points` (in time order) as an SVG document.
pub fn render_equity_svg(points: &[EquityPoint], title: &str) -> Result<String, ReportError> {
    if let Some(bad) = points.iter().find(|p| !p.equity.is_finite()) {
        return Err(ReportError::NonFiniteEquity {
            ts_ms: bad.ts_ms,
            value: bad.equity,
        });
    }
    let mut svg = String::new();
    draw(&mut svg, points, title).map_err(|message| ReportError::Chart {
        title: title.to_string(),
        message,
    })?;
    Ok(svg)
}

fn draw(svg: &mut String, points: &[EquityPoint], title: &str) -> Result<(), String> {
    let text = |e: DrawingAreaErrorKind<_>| e.to_string();
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(text)?;
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        let root = root.titled(title, ("sans-serif", 24)).map_err(text)?;
        root.draw(&Text::new(
            "no equity data",
            (WIDTH as i32 / 2 - 70, HEIGHT as i32 / 2 - 40),
            ("sans-serif", 20),
        ))
        .map_err(text)?;
        return root.present().map_err(text);
    };

    let (x_lo, x_hi) = if last.ts_ms > first.ts_ms {
        (first.ts_ms, last.ts_ms)
    } else {
        (
            first.ts_ms.saturating_sub(DAY_MS / 2),
            first.ts_ms.saturating_add(DAY_MS / 2),
        )
    };
    let lo = points
        .iter()
        .map(|p| p.equity)
        .fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p.equity)
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        (lo.abs() * 0.01).max(1.0)
    };
    let date_format = if x_hi - x_lo <= 3 * DAY_MS {
        "%Y-%m-%d %H:%M"
    } else {
        "%Y-%m-%d"
    };

    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .build_cartesian_2d(x_lo..x_hi, (lo - pad)..(hi + pad))
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .y_labels(8)
        .x_label_formatter(&|ms| utc_label(*ms, date_format))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .x_desc("time (UTC)")
        .y_desc("equity")
        .draw()
        .map_err(text)?;

    let shading = drawdown_polygon(points);
    if !shading.is_empty() {
        chart
            .draw_series(std::iter::once(Polygon::new(
                shading,
                DRAWDOWN_COLOR.mix(0.25).filled(),
            )))
            .map_err(text)?;
    }
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|p| (p.ts_ms, p.equity)),
            EQUITY_COLOR.stroke_width(2),
        ))
        .map_err(text)?;

    let note = if points.len() == 1 {
        Some(format!("single point: equity {:.2}", first.equity))
    } else if hi == lo {
        Some(format!("constant equity {lo:.2}"))
    } else {
        None
    };
    if let Some(note) = note {
        chart
            .draw_series(
                points
                    .iter()
                    .map(|p| Circle::new((p.ts_ms, p.equity), 3, EQUITY_COLOR.filled())),
            )
            .map_err(text)?;
        root.draw(&Text::new(note, (120, 60), ("sans-serif", 16)))
            .map_err(text)?;
    }
    root.present().map_err(text)
}

/// The area between the running peak and the equity, as one polygon (upper
/// edge forwards, lower edge backwards); empty when there is no drawdown.
fn drawdown_polygon(points: &[EquityPoint]) -> Vec<(i64, f64)> {
    let mut peak = f64::NEG_INFINITY;
    let mut upper = Vec::with_capacity(points.len());
    let mut any = false;
    for p in points {
        peak = peak.max(p.equity);
        any |= peak > p.equity;
        upper.push((p.ts_ms, peak));
    }
    if !any {
        return Vec::new();
    }
    upper.extend(points.iter().rev().map(|p| (p.ts_ms, p.equity)));
    upper
}

fn utc_label(ms: i64, format: &str) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format(format).to_string(),
        None => ms.to_string(),
    }
}
