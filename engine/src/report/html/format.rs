//! Text for the HTML report: escaping, and figures as people read them.
//! An undefined figure (`None`) shows as an em dash.

use std::fmt::Write as _;

/// What an undefined figure shows as.
pub const NONE: &str = "\u{2014}";

/// `text` with `& < > " '` escaped, safe in element text and quoted
/// attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A fraction as a percentage with two decimals (`0.1234` → `12.34 %`).
pub fn percent(fraction: Option<f64>) -> String {
    fraction
        .filter(|f| f.is_finite())
        .map_or_else(|| NONE.to_string(), |f| format!("{:.2} %", f * 100.0))
}

/// A ratio with two decimals.
pub fn ratio(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or_else(|| NONE.to_string(), |v| format!("{v:.2}"))
}

/// A duration in the two largest units (`3 d 4 h`, `5 h 12 min`, `40 s`).
pub fn duration(ms: Option<i64>) -> String {
    let Some(ms) = ms.filter(|&ms| ms >= 0) else {
        return NONE.to_string();
    };
    let s = ms / 1000;
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = match (d, h, m) {
        (0, 0, 0) => write!(out, "{s} s"),
        (0, 0, m) => write!(out, "{m} min"),
        (0, h, m) => write!(out, "{h} h {m} min"),
        (d, h, _) => write!(out, "{d} d {h} h"),
    };
    out
}

/// The CSS class of a signed figure: `pos`, `neg` or none.
pub fn sign_class(value: Option<f64>) -> &'static str {
    match value {
        Some(v) if v > 0.0 => "pos",
        Some(v) if v < 0.0 => "neg",
        _ => "",
    }
}
