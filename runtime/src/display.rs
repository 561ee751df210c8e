//! How durations read in logs, errors and on `up`'s terminal.

use std::time::Duration;

/// `0.5s`, `2s`, `0.25s`: seconds with up to three decimals, no trailing zeros.
pub fn seconds_text(duration: Duration) -> String {
    let text = format!("{:.3}", duration.as_secs_f64());
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_zeros_go() {
        assert_eq!(seconds_text(Duration::from_millis(500)), "0.5s");
        assert_eq!(seconds_text(Duration::from_secs(2)), "2s");
        assert_eq!(seconds_text(Duration::from_millis(250)), "0.25s");
        assert_eq!(seconds_text(Duration::from_secs(120)), "120s");
    }
}
