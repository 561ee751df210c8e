//! The one candle → strategy → signal step. The brain role, the inline
//! backtest baseline and the pipeline bench all call [`signal_for`], so the
//! signal a candle produces is decided in one place.

use aegis_contract::records::{Candle, Signal};

use super::core::Strategy;

/// Feeds `candle` to `strategy` and returns the signal it produces:
/// the strategy's target with the candle's sequence, time, open, close and
/// ingest stamp carried over, and `signal_ns` as the signal stamp.
///
/// The signal's own `seq` is 0: the ring writer assigns it on publish, and a
/// caller without a ring (the inline backtest) sets it.
///
/// ```
/// use std::collections::BTreeMap;
/// use aegis_contract::records::Candle;
/// use aegis_engine::strategy::{build, signal_for, Target};
///
/// let params = BTreeMap::from([("fast".to_string(), "1".to_string()),
///                              ("slow".to_string(), "2".to_string())]);
/// let mut s = build("sma-cross", &params)?;
/// let candle = |seq, close| Candle { seq, ts_ms: seq as i64 * 60_000, open: close,
///                                    high: close, low: close, close, volume: 1.0,
///                                    ingest_ns: 7 };
/// signal_for(s.as_mut(), &candle(0, 10.0), 0);
/// signal_for(s.as_mut(), &candle(1, 9.0), 0);
/// let signal = signal_for(s.as_mut(), &candle(2, 11.0), 42);
/// assert_eq!((signal.candle_seq, signal.close, signal.ingest_ns, signal.signal_ns), (2, 11.0, 7, 42));
/// assert_eq!(signal.target, Target::Long.as_i64());
/// # Ok::<(), aegis_engine::strategy::StrategyError>(())
/// ```
#[inline]
pub fn signal_for(strategy: &mut dyn Strategy, candle: &Candle, signal_ns: u64) -> Signal {
    let target = strategy.on_candle(candle);
    Signal {
        seq: 0,
        candle_seq: candle.seq,
        ts_ms: candle.ts_ms,
        open: candle.open,
        high: candle.high,
        low: candle.low,
        close: candle.close,
        target: target.as_i64(),
        ingest_ns: candle.ingest_ns,
        signal_ns,
        reserved: [0; 6],
    }
}
