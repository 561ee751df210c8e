//! Whether a signal is still fresh enough to place a live order on: its
//! candle closed less than `orchestrator.max_signal_age_secs` ago. Decided
//! for new signals and for an order found never sent after a restart.

use std::time::Duration;

/// Whether the candle opened at `candle_ts_ms` closed longer than `max_age`
/// before `now_ms`: too old for a live order (`orchestrator.max_signal_age_secs`).
pub(crate) fn is_stale(
    candle_ts_ms: i64,
    interval_ms: i64,
    max_age: Duration,
    now_ms: i64,
) -> bool {
    let closed_ms = candle_ts_ms.saturating_add(interval_ms);
    now_ms.saturating_sub(closed_ms) > i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX)
}
