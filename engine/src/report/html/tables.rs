//! The report's tables: the trade list and the monthly returns.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rust_decimal::prelude::ToPrimitive;

use super::format::{duration, escape, percent, sign_class};
use crate::report::monthly::MonthlyReturn;
use crate::report::trades::{Trade, TradeSide};
use crate::report::utc_text;

/// The most trades the list shows (the last ones; report.json has them all).
pub const MAX_TRADE_ROWS: usize = 2000;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The trade list (the last [`MAX_TRADE_ROWS`]), every cell with a `data-v`
/// sort key for the page's script.
pub fn trade_table(trades: &[Trade]) -> String {
    if trades.is_empty() {
        return "<p class=\"note\">No closed trades.</p>\n".into();
    }
    let skip = trades.len().saturating_sub(MAX_TRADE_ROWS);
    let mut out = String::new();
    if skip > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">Showing the last {MAX_TRADE_ROWS} of {} trades; report.json lists them all.</p>",
            trades.len()
        );
    }
    out.push_str(
        "<div class=\"scroll\"><table id=\"trade-table\"><thead><tr>\
         <th>#</th><th class=\"text\">Side</th><th class=\"text\">Entry (UTC)</th>\
         <th class=\"text\">Exit (UTC)</th><th>Duration</th><th>Entry price</th>\
         <th>Exit price</th><th>Qty</th><th>Fees</th><th>PnL</th>\
         <th class=\"text\">Exit reason</th></tr></thead>\n<tbody>\n",
    );
    for (i, t) in trades.iter().enumerate().skip(skip) {
        let side = match t.side {
            TradeSide::Long => "long",
            TradeSide::Short => "short",
        };
        let held = t.exit_ts_ms.saturating_sub(t.entry_ts_ms);
        let pnl = t.pnl.to_f64();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "<tr><td data-v=\"{n}\">{n}</td><td class=\"text\" data-v=\"{side}\">{side}</td>\
             <td class=\"text\" data-v=\"{entry_ts}\">{entry}</td>\
             <td class=\"text\" data-v=\"{exit_ts}\">{exit}</td>\
             <td data-v=\"{held}\">{held_text}</td>\
             <td data-v=\"{ep}\">{ep}</td><td data-v=\"{xp}\">{xp}</td>\
             <td data-v=\"{qty}\">{qty}</td><td data-v=\"{fees}\">{fees}</td>\
             <td class=\"{class}\" data-v=\"{pnl}\">{pnl}</td>\
             <td class=\"text\" data-v=\"{reason}\">{reason}{detail}</td></tr>",
            n = i + 1,
            entry_ts = t.entry_ts_ms,
            entry = escape(&utc_text(t.entry_ts_ms)),
            exit_ts = t.exit_ts_ms,
            exit = escape(&utc_text(t.exit_ts_ms)),
            held_text = duration(Some(held)),
            ep = escape(&t.entry_price.round_dp(8).normalize().to_string()),
            xp = escape(&t.exit_price.round_dp(8).normalize().to_string()),
            qty = escape(&t.qty.round_dp(8).normalize().to_string()),
            fees = escape(&t.fees.round_dp(8).normalize().to_string()),
            class = sign_class(pnl),
            pnl = escape(&t.pnl.round_dp(8).normalize().to_string()),
            reason = escape(&t.exit_reason),
            detail = t
                .exit_detail
                .as_deref()
                .map(|d| format!("<br><small>{}</small>", escape(d)))
                .unwrap_or_default(),
        );
    }
    out.push_str("</tbody></table></div>\n");
    out
}

/// Trades counted by what closed them.
pub fn exit_reason_table(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<table id=\"exit-reasons\"><thead><tr><th class=\"text\">Closed by</th>\
         <th>Trades</th></tr></thead>\n<tbody>\n",
    );
    for (reason, n) in counts {
        let _ = writeln!(
            out,
            "<tr data-reason=\"{r}\"><td class=\"text\">{r}</td><td data-v=\"{n}\">{n}</td></tr>",
            r = escape(reason),
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

/// Months as a year × month grid, with each year's compounded return.
pub fn monthly_table(months: &[MonthlyReturn]) -> String {
    if months.is_empty() {
        return "<p class=\"note\">No bars, so no monthly returns.</p>\n".into();
    }
    let mut years: BTreeMap<i32, [Option<Option<f64>>; 12]> = BTreeMap::new();
    for m in months {
        if let Some(slot) = usize::try_from(m.month)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .filter(|&i| i < 12)
        {
            years.entry(m.year).or_insert([None; 12])[slot] = Some(m.return_);
        }
    }
    let mut out = String::from(
        "<div class=\"scroll\"><table id=\"monthly-table\"><thead><tr><th class=\"text\">Year</th>",
    );
    for name in MONTHS {
        let _ = write!(out, "<th>{name}</th>");
    }
    out.push_str("<th>Year</th></tr></thead>\n<tbody>\n");
    for (year, cells) in &years {
        let _ = write!(out, "<tr><td class=\"text\">{year}</td>");
        let mut compounded = Some(1.0);
        for cell in cells {
            match cell {
                None => out.push_str("<td></td>"),
                Some(r) => {
                    compounded = compounded.zip(*r).map(|(c, r)| c * (1.0 + r));
                    let _ = write!(out, "<td class=\"{}\">{}</td>", sign_class(*r), percent(*r));
                }
            }
        }
        let year_return = compounded.map(|c| c - 1.0).filter(|r| r.is_finite());
        let _ = writeln!(
            out,
            "<td class=\"{}\"><b>{}</b></td></tr>",
            sign_class(year_return),
            percent(year_return)
        );
    }
    out.push_str("</tbody></table></div>\n");
    out
}
