//! The drawdown from the running peak over time, in percent (0 at a new
//! peak, negative below it), as a filled "underwater" area.

use plotters::prelude::*;

use super::equity::DRAWDOWN_COLOR;
use super::{corner_note, extent, finite, no_data, render, text, time_chart};
use crate::report::stats::EquityPoint;
use crate::report::ReportError;

/// Renders the drawdown of `points` (in time order) as an SVG document.
pub fn render_drawdown_svg(points: &[EquityPoint], title: &str) -> Result<String, ReportError> {
    finite(points)?;
    let underwater = underwater_percent(points);
    render(title, |root| {
        let (Some(&first), Some(&last)) = (underwater.first(), underwater.last()) else {
            return no_data(root, title, "no equity data");
        };
        let (lo, _) = extent(underwater.iter().map(|p| p.1));
        let mut chart = time_chart(
            root,
            title,
            (first.0, last.0),
            (lo.min(0.0), 0.0),
            "drawdown (%)",
            &|v| format!("{v:.1}"),
        )?;
        let mut area = underwater.clone();
        area.push((last.0, 0.0));
        area.push((first.0, 0.0));
        chart
            .draw_series(std::iter::once(Polygon::new(
                area,
                DRAWDOWN_COLOR.mix(0.35).filled(),
            )))
            .map_err(text)?;
        chart
            .draw_series(LineSeries::new(underwater.iter().copied(), DRAWDOWN_COLOR))
            .map_err(text)?;
        if lo >= 0.0 {
            corner_note(root, "no drawdown")?;
        }
        Ok(())
    })
}

/// `(ts_ms, 100 × (equity / running peak - 1))` for each point while the
/// running peak is positive (a drawdown is undefined below that).
fn underwater_percent(points: &[EquityPoint]) -> Vec<(i64, f64)> {
    let mut peak = f64::NEG_INFINITY;
    points
        .iter()
        .filter_map(|p| {
            peak = peak.max(p.equity);
            (peak > 0.0).then(|| (p.ts_ms, (p.equity / peak - 1.0) * 100.0))
        })
        .collect()
}
