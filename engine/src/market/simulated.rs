//! A deterministic simulated market: candles from geometric Brownian motion
//! ([`GbmSource`]), for demos, soak tests and backtests without data files.
//!
//! Each candle is `steps_per_candle` sub-steps of
//! `S ← S · exp((drift − volatility²/2)·dt + volatility·√dt·Z)` with `Z`
//! standard normal and `dt` the sub-step as a fraction of a year (365.25 days;
//! markets here trade around the clock). The candle opens at the previous
//! close, its high and low are the extremes of the path including open and
//! close, and it closes at the last sub-step. Volume is log-normal around
//! [`BASE_VOLUME`], always positive.
//!
//! Randomness comes from `rand_chacha`'s `ChaCha8Rng` (seeded with
//! `SeedableRng::seed_from_u64(seed)`) and standard normals from our own
//! Box–Muller transform, not from `rand`'s `StdRng` or distributions, whose
//! algorithms may change between releases: a seed gives the same series on
//! every run (the math functions `ln`, `exp`, `sin`, `cos` come from the
//! platform's libm, so the last bits may differ across platforms). Every
//! candle consumes a fixed number of random words, which is what lets
//! [`GbmSource::resume_after`] continue a series exactly.
//!
//! ```
//! use aegis_engine::market::{CandleValidator, GbmParams, GbmSource};
//!
//! let params = GbmParams { seed: 7, ..GbmParams::default() };
//! let mut source = GbmSource::new(params.clone())?;
//! let first: Vec<_> = (0..100).map(|_| source.next_candle()).collect();
//! let mut validator = CandleValidator::new();
//! assert!(first.iter().all(|c| validator.check(c).is_ok()));
//!
//! // A restarted feed continues after the last candle it published.
//! let mut resumed = GbmSource::resume_after(params, &first[49])?;
//! assert_eq!(resumed.next_candle(), first[50]);
//! # Ok::<(), aegis_engine::market::ParamError>(())
//! ```
//!
//! Prices are kept within [`MIN_PRICE`]..=[`MAX_PRICE`], so they stay finite
//! and positive even with extreme volatility, and every candle passes
//! [`CandleValidator`](super::validate::CandleValidator).

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use aegis_contract::records::Candle;

/// Prices never fall below this.
pub const MIN_PRICE: f64 = 1e-300;
/// Prices never rise above this.
pub const MAX_PRICE: f64 = 1e300;
/// The largest accepted |drift| and volatility (annualised; 1000 = 100 000 %).
pub const MAX_RATE: f64 = 1000.0;
/// The longest accepted candle interval: 366 days.
pub const MAX_INTERVAL_MS: u64 = 366 * 86_400_000;
/// The most sub-steps accepted per candle.
pub const MAX_STEPS_PER_CANDLE: u32 = 1 << 20;
/// The median volume of a candle.
pub const BASE_VOLUME: f64 = 10.0;

/// Log-normal spread of the volume.
const VOLUME_SIGMA: f64 = 0.5;
/// Milliseconds in a (Julian) year, the unit of `drift` and `volatility`.
const YEAR_MS: f64 = 365.25 * 86_400_000.0;

/// Parameters of a [`GbmSource`].
#[derive(Clone, Debug, PartialEq)]
pub struct GbmParams {
    /// Seed of the random series.
    pub seed: u64,
    /// Open of the first candle.
    pub start_price: f64,
    /// Annualised drift `μ` (0.1 = +10 % a year in log terms plus `σ²/2`).
    pub drift: f64,
    /// Annualised volatility `σ` (0.5 = 50 %).
    pub volatility: f64,
    /// Candle length, milliseconds.
    pub interval_ms: u64,
    /// Open time of the first candle, epoch milliseconds.
    pub start_ts_ms: i64,
    /// Simulated sub-steps per candle (the path high and low come from).
    pub steps_per_candle: u32,
}

impl Default for GbmParams {
    /// Seed 42, price 100, no drift, 50 % volatility, 1 s candles from
    /// 2024-01-01T00:00:00Z, 16 sub-steps.
    fn default() -> Self {
        GbmParams {
            seed: 42,
            start_price: 100.0,
            drift: 0.0,
            volatility: 0.5,
            interval_ms: 1000,
            start_ts_ms: 1_704_067_200_000,
            steps_per_candle: 16,
        }
    }
}

/// A bad [`GbmParams`] field, or a candle [`GbmSource::resume_after`] cannot
/// continue from.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// A field is outside its valid range.
    #[error("GBM parameter `{field}` must be {rule}, got {value}")]
    Invalid {
        /// The field's name, e.g. `"volatility"`.
        field: &'static str,
        /// What it must be.
        rule: &'static str,
        /// The value given.
        value: String,
    },
    /// The last candle's timestamp is not `start_ts_ms + k · interval_ms`.
    #[error(
        "cannot resume the GBM series after ts_ms {ts_ms}: not on its grid \
         (start_ts_ms {start_ts_ms} + k · interval_ms {interval_ms})"
    )]
    ResumeOffGrid {
        /// The last candle's timestamp.
        ts_ms: i64,
        /// The series' first timestamp.
        start_ts_ms: i64,
        /// The series' interval.
        interval_ms: u64,
    },
    /// The last candle's close is not a price the series can continue from.
    #[error(
        "cannot resume the GBM series from close {close}: not a finite price within 1e-300..=1e300"
    )]
    ResumeClose {
        /// The last candle's close.
        close: f64,
    },
}

impl GbmParams {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), ParamError> {
        let invalid = |field, rule, value: String| Err(ParamError::Invalid { field, rule, value });
        if !(MIN_PRICE..=MAX_PRICE).contains(&self.start_price) {
            return invalid(
                "start_price",
                "a finite number > 0 (within 1e-300..=1e300)",
                self.start_price.to_string(),
            );
        }
        if !(-MAX_RATE..=MAX_RATE).contains(&self.drift) {
            return invalid(
                "drift",
                "a finite number within -1000..=1000",
                self.drift.to_string(),
            );
        }
        if !(0.0..=MAX_RATE).contains(&self.volatility) {
            return invalid(
                "volatility",
                "a finite number >= 0 (at most 1000)",
                self.volatility.to_string(),
            );
        }
        if !(1..=MAX_INTERVAL_MS).contains(&self.interval_ms) {
            return invalid(
                "interval_ms",
                "> 0 (at most 366 days)",
                self.interval_ms.to_string(),
            );
        }
        if !(1..=MAX_STEPS_PER_CANDLE).contains(&self.steps_per_candle) {
            return invalid(
                "steps_per_candle",
                ">= 1 (at most 1048576)",
                self.steps_per_candle.to_string(),
            );
        }
        Ok(())
    }
}

/// An endless, deterministic series of GBM candles; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct GbmSource {
    params: GbmParams,
    rng: ChaCha8Rng,
    /// Index of the next candle (0 for the first).
    next_index: u64,
    /// Close of the previous candle: the next open.
    price: f64,
    /// Per sub-step: `(drift − σ²/2)·dt`.
    step_drift: f64,
    /// Per sub-step: `σ·√dt`.
    step_scale: f64,
}

impl GbmSource {
    /// The series from its first candle.
    pub fn new(params: GbmParams) -> Result<Self, ParamError> {
        params.validate()?;
        let dt = params.interval_ms as f64 / f64::from(params.steps_per_candle) / YEAR_MS;
        Ok(GbmSource {
            rng: ChaCha8Rng::seed_from_u64(params.seed),
            next_index: 0,
            price: params.start_price,
            step_drift: (params.drift - params.volatility * params.volatility / 2.0) * dt,
            step_scale: params.volatility * dt.sqrt(),
            params,
        })
    }

    /// The series continued after `last`, a candle it produced earlier (for a
    /// restarted feed: the last candle it published, read back from the
    /// ring). The next candle is the one that followed `last` originally, bit
    /// for bit: its index comes from `last.ts_ms`, its open is `last.close`,
    /// and the random stream is positioned for that index.
    pub fn resume_after(params: GbmParams, last: &Candle) -> Result<Self, ParamError> {
        let mut source = Self::new(params)?;
        let p = &source.params;
        let offset = i128::from(last.ts_ms) - i128::from(p.start_ts_ms);
        let interval = i128::from(p.interval_ms);
        if offset < 0 || offset % interval != 0 {
            return Err(ParamError::ResumeOffGrid {
                ts_ms: last.ts_ms,
                start_ts_ms: p.start_ts_ms,
                interval_ms: p.interval_ms,
            });
        }
        if !(MIN_PRICE..=MAX_PRICE).contains(&last.close) {
            return Err(ParamError::ResumeClose { close: last.close });
        }
        let next_index =
            u64::try_from(offset / interval + 1).map_err(|_| ParamError::ResumeOffGrid {
                ts_ms: last.ts_ms,
                start_ts_ms: p.start_ts_ms,
                interval_ms: p.interval_ms,
            })?;
        source
            .rng
            .set_word_pos(u128::from(next_index) * source.words_per_candle());
        source.next_index = next_index;
        source.price = last.close;
        Ok(source)
    }

    /// The parameters this series was built with.
    pub fn params(&self) -> &GbmParams {
        &self.params
    }

    /// Index of the candle [`next_candle`](Self::next_candle) returns next
    /// (0 for the first).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Open time of candle `index`: `start_ts_ms + index · interval_ms`
    /// (saturating at `i64::MAX`, hundreds of millions of years away).
    pub fn ts_of(&self, index: u64) -> i64 {
        let ts = i128::from(self.params.start_ts_ms)
            + i128::from(index) * i128::from(self.params.interval_ms);
        i64::try_from(ts).unwrap_or(i64::MAX)
    }

    /// The next candle of the series (`seq` and `ingest_ns` 0).
    pub fn next_candle(&mut self) -> Candle {
        let open = self.price;
        let (mut high, mut low, mut price) = (open, open, open);
        let steps = self.params.steps_per_candle;
        let mut spare = None;
        for _ in 0..steps {
            let z = match spare.take() {
                Some(z) => z,
                None => {
                    let (a, b) = self.normal_pair();
                    spare = Some(b);
                    a
                }
            };
            price =
                (price * (self.step_drift + self.step_scale * z).exp()).clamp(MIN_PRICE, MAX_PRICE);
            high = high.max(price);
            low = low.min(price);
        }
        // The volume takes the spare normal, or a fresh pair (discarding one)
        // so every candle uses the same number of random words.
        let z_volume = match spare {
            Some(z) => z,
            None => self.normal_pair().0,
        };
        let candle = Candle {
            seq: 0,
            ts_ms: self.ts_of(self.next_index),
            open,
            high,
            low,
            close: price,
            volume: BASE_VOLUME * (VOLUME_SIGMA * z_volume).exp(),
            ingest_ns: 0,
        };
        self.price = price;
        self.next_index += 1;
        candle
    }

    /// 32-bit random words one candle consumes: two `u64`s per normal pair,
    /// `⌈(steps + 1) / 2⌉` pairs.
    fn words_per_candle(&self) -> u128 {
        let pairs = (u128::from(self.params.steps_per_candle) + 2) / 2;
        pairs * 4
    }

    /// Two independent standard normals (Box–Muller).
    fn normal_pair(&mut self) -> (f64, f64) {
        let u1 = unit_open_closed(self.rng.next_u64());
        let u2 = unit_open_closed(self.rng.next_u64());
        let radius = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        (radius * cos, radius * sin)
    }
}

impl Iterator for GbmSource {
    type Item = Candle;

    /// Never ends: `Some(self.next_candle())`.
    fn next(&mut self) -> Option<Candle> {
        Some(self.next_candle())
    }
}

/// A uniform number in (0, 1] from 53 random bits (never 0, so `ln` is finite).
fn unit_open_closed(bits: u64) -> f64 {
    ((bits >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64)
}
