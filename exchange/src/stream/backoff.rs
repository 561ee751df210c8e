//! The stream's reconnect delay: the supervisor's doubling, capped
//! [`Backoff`] with "equal jitter" on top, so many engines that lose the
//! stream at once do not reconnect in step: each delay is drawn uniformly
//! from `[d/2, d]` where `d` is the un-jittered delay.

use std::time::Duration;

use aegis_runtime::backoff::{Backoff, BackoffSettings};

/// `delay` with equal jitter: `delay/2 + unit × delay/2`, `unit` in `[0, 1)`.
pub fn jittered(delay: Duration, unit: f64) -> Duration {
    let half = delay / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// Jittered exponential backoff between reconnects.
#[derive(Debug, Clone)]
pub struct ReconnectBackoff {
    settings: BackoffSettings,
    backoff: Backoff,
    /// splitmix64 state for the jitter.
    rng: u64,
}

impl ReconnectBackoff {
    /// Delays from `initial`, doubling up to `max`; `seed` seeds the jitter.
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Self {
        let settings = BackoffSettings {
            initial,
            max,
            reset_after: Duration::MAX,
        };
        ReconnectBackoff {
            settings,
            backoff: Backoff::new(settings),
            rng: seed,
        }
    }

    /// The delay before the next attempt (jittered); the one after doubles.
    pub fn next_delay(&mut self) -> Duration {
        jittered(self.backoff.next_delay(), self.next_unit())
    }

    /// A connection worked: the next delay starts from `initial` again.
    pub fn reset(&mut self) {
        self.backoff = Backoff::new(self.settings);
    }

    /// A uniform number in `[0, 1)` (splitmix64).
    fn next_unit(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_to_full() {
        let d = Duration::from_millis(1000);
        assert_eq!(jittered(d, 0.0), Duration::from_millis(500));
        assert_eq!(jittered(d, 0.5), Duration::from_millis(750));
        assert!(jittered(d, 0.999_999) <= d);
        assert_eq!(jittered(d, 7.0), d, "out-of-range unit is clamped");
    }

    #[test]
    fn grows_to_the_cap_and_is_jittered() {
        let mut b =
            ReconnectBackoff::new(Duration::from_millis(100), Duration::from_millis(1600), 42);
        let delays: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        let bases = [100u64, 200, 400, 800, 1600, 1600, 1600, 1600];
        for (d, base) in delays.iter().zip(bases) {
            let base = Duration::from_millis(base);
            assert!(
                *d >= base / 2 && *d <= base,
                "{d:?} not in [{:?}, {base:?}]",
                base / 2
            );
        }
        assert!(delays[3] > delays[0], "the delay grows: {delays:?}");
        let capped = &delays[4..];
        assert!(
            capped.windows(2).any(|w| w[0] != w[1]),
            "capped delays are jittered, not all equal: {capped:?}"
        );
        b.reset();
        assert!(
            b.next_delay() <= Duration::from_millis(100),
            "reset starts over"
        );
    }

    #[test]
    fn different_seeds_spread_out() {
        let first = |seed| {
            ReconnectBackoff::new(Duration::from_secs(1), Duration::from_secs(1), seed).next_delay()
        };
        let all: std::collections::BTreeSet<Duration> = (0..16).map(first).collect();
        assert!(
            all.len() > 8,
            "16 seeds gave only {} distinct delays",
            all.len()
        );
    }
}
