//! The report's charts as SVG, drawn with plotters' SVG backend (text as
//! `<text>` elements, escaped by plotters; no font files needed, it only
//! estimates text widths for layout; a `viewBox`, so a page can scale them):
//!
//! - [`equity`]: the equity curve, drawdowns from the running peak shaded;
//! - [`drawdown`]: the drawdown from the running peak, in percent;
//! - [`price`]: closes with the trades' entry and exit markers.
//!
//! Every chart is a time chart (UTC dates on the x axis) built by
//! [`time_chart`]. No data, a single point and a flat series give a valid
//! chart with a note saying so instead of failing.

pub mod drawdown;
pub mod equity;
pub mod price;

pub use drawdown::render_drawdown_svg;
pub use equity::{render_equity_svg, EQUITY_COLOR};
pub use price::render_price_svg;

use plotters::coord::types::{RangedCoordf64, RangedCoordi64};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::stats::EquityPoint;
use super::ReportError;

/// Chart size in pixels.
pub(crate) const WIDTH: u32 = 1000;
pub(crate) const HEIGHT: u32 = 560;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The drawing area every chart draws on.
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// A chart with time (ms) on x and a value on y.
pub(crate) type TimeChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordi64, RangedCoordf64>>;

/// Draws one SVG document with `draw`, naming `title` in any error.
pub(crate) fn render(
    title: &str,
    draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> Result<String, ReportError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(text)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(text))
            .map_err(|message| ReportError::Chart {
                title: title.to_string(),
                message,
            })?;
    }
    Ok(svg)
}

/// Refuses an equity curve with a NaN or infinite point.
pub(crate) fn finite(points: &[EquityPoint]) -> Result<(), ReportError> {
    match points.iter().find(|p| !p.equity.is_finite()) {
        Some(bad) => Err(ReportError::NonFiniteEquity {
            ts_ms: bad.ts_ms,
            value: bad.equity,
        }),
        None => Ok(()),
    }
}

/// A plotters error as text.
pub(crate) fn text<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// The title and a centred note instead of a chart.
pub(crate) fn no_data(root: &Area<'_>, title: &str, note: &str) -> Result<(), String> {
    let root = root.titled(title, ("sans-serif", 24)).map_err(text)?;
    root.draw(&Text::new(
        note.to_string(),
        (WIDTH as i32 / 2 - 70, HEIGHT as i32 / 2 - 40),
        ("sans-serif", 20),
    ))
    .map_err(text)
}

/// A note in the chart's top left corner.
pub(crate) fn corner_note(root: &Area<'_>, note: &str) -> Result<(), String> {
    root.draw(&Text::new(note.to_string(), (120, 60), ("sans-serif", 16)))
        .map_err(text)
}

/// The lowest and highest of `values` (finite ones are all the callers pass).
pub(crate) fn extent(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// Sets up a time chart from `x` (first and last ms) and `y` (lowest and
/// highest value), padding both so a single point or a flat line shows.
pub(crate) fn time_chart<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    x: (i64, i64),
    y: (f64, f64),
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
) -> Result<TimeChart<'a, 'b>, String> {
    let (x_lo, x_hi) = if x.1 > x.0 {
        x
    } else {
        (
            x.0.saturating_sub(DAY_MS / 2),
            x.0.saturating_add(DAY_MS / 2),
        )
    };
    let (lo, hi) = y;
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
    let mut chart = ChartBuilder::on(root)
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
        .y_label_formatter(y_format)
        .x_desc("time (UTC)")
        .y_desc(y_desc)
        .draw()
        .map_err(text)?;
    Ok(chart)
}

fn utc_label(ms: i64, format: &str) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format(format).to_string(),
        None => ms.to_string(),
    }
}
