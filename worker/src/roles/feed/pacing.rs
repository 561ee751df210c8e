//! Pacing a candle series against the wall clock: `speed` candle-time
//! seconds per wall second, or no pacing at all (speed 0).

use std::time::{Duration, Instant};

/// When each candle is due, relative to the first one paced.
#[derive(Debug)]
pub struct Pacer {
    speed: f64,
    origin: Option<(Instant, i64)>,
}

impl Pacer {
    /// `speed` 0 means as fast as possible.
    pub fn new(speed: f64) -> Self {
        Pacer {
            speed,
            origin: None,
        }
    }

    /// Whether candles are emitted as fast as possible.
    pub fn unpaced(&self) -> bool {
        self.speed <= 0.0
    }

    /// How long to wait before emitting the candle that closes at `close_ts_ms`
    /// (zero when it is due or overdue). The first candle asked about is due
    /// at once and sets the origin.
    pub fn wait_for(&mut self, close_ts_ms: i64) -> Duration {
        if self.unpaced() {
            return Duration::ZERO;
        }
        let (wall, ts) = *self.origin.get_or_insert((Instant::now(), close_ts_ms));
        let offset_ms = close_ts_ms.saturating_sub(ts).max(0) as f64 / self.speed;
        let due = wall + Duration::from_secs_f64((offset_ms / 1000.0).min(1e9));
        due.saturating_duration_since(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_by_candle_time_over_speed() {
        let mut p = Pacer::new(10.0);
        assert_eq!(p.wait_for(1_000_000), Duration::ZERO);
        let w = p.wait_for(1_010_000); // 10 s of candle time at 10× = 1 s
        assert!(
            w > Duration::from_millis(900) && w <= Duration::from_secs(1),
            "{w:?}"
        );
        assert_eq!(
            p.wait_for(999_000),
            Duration::ZERO,
            "earlier candles are overdue"
        );
        assert_eq!(Pacer::new(0.0).wait_for(i64::MAX), Duration::ZERO);
    }
}
