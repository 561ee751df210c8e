//! Closing prices with the trades' entries (triangles: up for a long, down
//! for a short) and exits (crosses) at their fill prices. Trades outside the
//! given price window are left out; the caller says which window it is.

use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;

use super::{corner_note, extent, no_data, render, text, time_chart};
use crate::report::market::PricePoint;
use crate::report::trades::{Trade, TradeSide};
use crate::report::ReportError;

/// The price line's colour.
pub const PRICE_COLOR: RGBColor = RGBColor(0x44, 0x44, 0x44);
const LONG_COLOR: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const SHORT_COLOR: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const EXIT_COLOR: RGBColor = RGBColor(0x94, 0x67, 0xbd);

/// Renders `prices` (in time order) and the markers of `trades` that fall
/// inside them as an SVG document.
pub fn render_price_svg(
    prices: &[PricePoint],
    trades: &[Trade],
    title: &str,
) -> Result<String, ReportError> {
    render(title, |root| {
        let (Some(first), Some(last)) = (prices.first(), prices.last()) else {
            return no_data(root, title, "no price data");
        };
        let inside = |ts: i64| ts >= first.ts_ms && ts <= last.ts_ms;
        let marker = |ts: i64, price: rust_decimal::Decimal| {
            price
                .to_f64()
                .filter(|p| inside(ts) && p.is_finite())
                .map(|p| (ts, p))
        };
        let entries: Vec<((i64, f64), TradeSide)> = trades
            .iter()
            .filter_map(|t| marker(t.entry_ts_ms, t.entry_price).map(|m| (m, t.side)))
            .collect();
        let exits: Vec<(i64, f64)> = trades
            .iter()
            .filter_map(|t| marker(t.exit_ts_ms, t.exit_price))
            .collect();
        let (lo, hi) = extent(
            prices
                .iter()
                .map(|p| p.close)
                .chain(entries.iter().map(|(m, _)| m.1))
                .chain(exits.iter().map(|m| m.1)),
        );
        let mut chart = time_chart(
            root,
            title,
            (first.ts_ms, last.ts_ms),
            (lo, hi),
            "close",
            &|v| format!("{v:.2}"),
        )?;
        chart
            .draw_series(LineSeries::new(
                prices.iter().map(|p| (p.ts_ms, p.close)),
                PRICE_COLOR,
            ))
            .map_err(text)?;
        chart
            .draw_series(entries.iter().map(|&(at, side)| {
                let (color, size) = match side {
                    TradeSide::Long => (LONG_COLOR, 9),
                    TradeSide::Short => (SHORT_COLOR, -9),
                };
                TriangleMarker::new(at, size, color.filled())
            }))
            .map_err(text)?;
        chart
            .draw_series(
                exits
                    .iter()
                    .map(|&at| Cross::new(at, 6, EXIT_COLOR.stroke_width(2))),
            )
            .map_err(text)?;
        if prices.len() == 1 {
            corner_note(root, &format!("single bar: close {:.2}", first.close))?;
        }
        Ok(())
    })
}
