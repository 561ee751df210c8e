//! The equity curve, drawdowns from the running peak shaded.

use plotters::prelude::*;

use super::{corner_note, extent, finite, no_data, render, text, time_chart};
use crate::report::stats::EquityPoint;
use crate::report::ReportError;

/// The equity line's colour; tests find the curve's `<polyline>` by it.
pub const EQUITY_COLOR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
pub(crate) const DRAWDOWN_COLOR: RGBColor = RGBColor(0xd6, 0x27, 0x28);

/// Renders `points` (in time order) as an SVG document.
pub fn render_equity_svg(points: &[EquityPoint], title: &str) -> Result<String, ReportError> {
    finite(points)?;
    render(title, |root| draw(root, points, title))
}

fn draw(root: &super::Area<'_>, points: &[EquityPoint], title: &str) -> Result<(), String> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return no_data(root, title, "no equity data");
    };
    let (lo, hi) = extent(points.iter().map(|p| p.equity));
    let mut chart = time_chart(
        root,
        title,
        (first.ts_ms, last.ts_ms),
        (lo, hi),
        "equity",
        &|v| format!("{v:.2}"),
    )?;

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
        corner_note(root, &note)?;
    }
    Ok(())
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
