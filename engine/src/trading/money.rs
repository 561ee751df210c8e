//! Exact money: turning the ring's `f64` prices into decimals, rounding
//! quantities down to an exchange step, basis points, checked arithmetic
//! that reports overflow instead of panicking, and an `f64` view of a
//! decimal ([`F64View`]) for estimates that only decide whether exact work
//! can be skipped.

use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use thiserror::Error;

/// One basis point is 1/10 000.
const BPS_PER_UNIT: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// Decimal arithmetic that would leave `Decimal`'s range (about ±7.9e28) or
/// divide by zero.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("decimal arithmetic overflow (or division by zero) computing {what}")]
pub struct Overflow {
    /// What was being computed, e.g. `"fill notional"`.
    pub what: &'static str,
}

/// The shortest decimal that converts back to exactly `p` (so `43250.12_f64`
/// becomes exactly `43250.12`), or `None` when `p` is not finite or does not
/// fit a `Decimal` (magnitude above ~7.9e28, or needing more than 28 decimal
/// places).
pub fn price_from_f64(p: f64) -> Option<Decimal> {
    if !p.is_finite() {
        return None;
    }
    if let Some(d) = few_decimals(p) {
        return Some(d);
    }
    // Next, for any other price without an exponent: ryu writes the shortest
    // digits that round-trip, on the stack; without an exponent they are at
    // most 17 significant digits, which a `Decimal` (28) holds exactly.
    let mut buffer = ryu::Buffer::new();
    let shortest = buffer.format_finite(p);
    if !shortest.contains('e') {
        return Decimal::from_str(shortest).ok().map(|d| d.normalize());
    }
    // `{:e}` prints the shortest digits that round-trip, in scientific form.
    let text = format!("{p:e}");
    let value = Decimal::from_scientific(&text).ok()?;
    // Reject values `from_scientific` had to round (too many places).
    let back = f64::from_str(&value.to_string()).ok()?;
    (back == p).then_some(value.normalize())
}

/// The most decimal places [`few_decimals`] tries.
const FEW_PLACES: u32 = 9;

/// Powers of ten up to 10^[`FEW_PLACES`], exact as `f64`.
const POW10: [f64; FEW_PLACES as usize + 1] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// The fast path for prices as markets quote them (at most nine decimal
/// places): the fewest places `s` such that `round(p·10^s) / 10^s` is `p`
/// again. Both operations are correctly rounded and `p·10^s` stays below
/// 2^52, where rounding recovers the integer exactly, so this finds the same
/// shortest decimal as printing `p` would, without any text. `None` when no
/// such `s` exists (more places, or too large).
///
/// Two places (cents, most quote assets' tick) are tried first. Below
/// [`CENTS_LIMIT`], `p·100` is within 0.25 of `100·D` for any decimal `D`
/// of at most two places that `p` is the nearest `f64` to, so two places
/// work whenever fewer do, with the integer ending in the zeros the fewer
/// places drop: stripping them gives the fewest. When two places fail, so
/// do fewer, and the search goes on from three.
fn few_decimals(p: f64) -> Option<Decimal> {
    const LIMIT: f64 = (1u64 << 52) as f64;
    let mut start = 0;
    let cents = p * 100.0;
    if cents.abs() < CENTS_LIMIT {
        let units = round_half_away(cents);
        if units as f64 / 100.0 == p {
            return Some(without_trailing_zeros(units, 2));
        }
        start = 3;
    }
    for (places, &scale) in POW10.iter().enumerate().skip(start) {
        let scaled = p * scale;
        if scaled.abs() >= LIMIT {
            return None;
        }
        let units = round_half_away(scaled);
        if units as f64 / scale == p {
            return Some(without_trailing_zeros(units, places as u32));
        }
    }
    None
}

/// Where [`few_decimals`] may try two places first: 2^50.
const CENTS_LIMIT: f64 = (1u64 << 50) as f64;

/// `units / 10^places` with the trailing zeros dropped: what
/// `Decimal::normalize` gives, in integer arithmetic.
fn without_trailing_zeros(mut units: i64, mut places: u32) -> Decimal {
    while places > 0 && units % 10 == 0 {
        units /= 10;
        places -= 1;
    }
    Decimal::new(units, places)
}

/// `x.round()` (half away from zero) as an integer, for `|x| < 2^52`,
/// without the C library call `f64::round` compiles to on baseline x86-64,
/// and without a branch on the fraction (which no predictor can guess).
/// Exact: the truncation `t` and `t as f64` are exact below 2^52, and so is
/// `x - t` (a multiple of `x`'s ulp, less than 1 in magnitude).
fn round_half_away(x: f64) -> i64 {
    let t = x as i64;
    let frac = x - t as f64;
    t + i64::from(frac >= 0.5) - i64::from(frac <= -0.5)
}

/// An `f64` copy of a decimal that changes rarely (cash, a position, the
/// peak), converted again only when the decimal's representation changes:
/// reading it costs a 16-byte comparison instead of a conversion.
///
/// The copy is within a few ulps of the decimal: use it only with a margin
/// far larger than that, to prove that the exact comparison it stands in for
/// cannot come out differently. Two views are always equal (a cache is not
/// part of any state).
#[derive(Clone, Copy, Debug, Default)]
pub struct F64View {
    key: Option<[u8; 16]>,
    value: f64,
}

impl F64View {
    /// `d` as an `f64` (NaN if it has none, which fails every comparison).
    pub fn of(&mut self, d: Decimal) -> f64 {
        let key = d.serialize();
        if self.key != Some(key) {
            self.key = Some(key);
            self.value = d.to_f64().unwrap_or(f64::NAN);
        }
        self.value
    }
}

impl PartialEq for F64View {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for F64View {}

/// `qty` rounded toward zero to a whole number of `step`s (`step` must be
/// positive; a non-positive step leaves `qty` unchanged).
pub fn floor_to_step(qty: Decimal, step: Decimal) -> Decimal {
    if step <= Decimal::ZERO {
        return qty;
    }
    match qty.checked_div(step) {
        Some(steps) => steps
            .trunc()
            .checked_mul(step)
            .map_or(Decimal::ZERO, |d| d.normalize()),
        None => Decimal::ZERO,
    }
}

/// `bps` basis points as a fraction: `bps_to_fraction(25) == 0.0025`.
pub fn bps_to_fraction(bps: Decimal) -> Decimal {
    bps / BPS_PER_UNIT
}

/// `amount × bps / 10 000`, checked.
pub fn apply_bps(amount: Decimal, bps: Decimal) -> Result<Decimal, Overflow> {
    mul(amount, bps_to_fraction(bps), "basis-point amount")
}

/// `a × b`, or [`Overflow`] naming `what`.
pub fn mul(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, Overflow> {
    a.checked_mul(b).ok_or(Overflow { what })
}

/// `a + b`, or [`Overflow`] naming `what`.
pub fn add(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, Overflow> {
    a.checked_add(b).ok_or(Overflow { what })
}

/// `a − b`, or [`Overflow`] naming `what`.
pub fn sub(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, Overflow> {
    a.checked_sub(b).ok_or(Overflow { what })
}

/// `a ÷ b`, or [`Overflow`] naming `what` (also for `b == 0`).
pub fn div(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, Overflow> {
    a.checked_div(b).ok_or(Overflow { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    #[test]
    fn shortest_round_trip_prices() {
        assert_eq!(price_from_f64(43250.12), Some(d("43250.12")));
        assert_eq!(price_from_f64(0.1), Some(d("0.1")));
        assert_eq!(price_from_f64(1e-8), Some(d("0.00000001")));
        assert_eq!(price_from_f64(-2.5), Some(d("-2.5")));
        assert_eq!(price_from_f64(1e20), Some(d("100000000000000000000")));
        assert_eq!(price_from_f64(f64::NAN), None);
        assert_eq!(price_from_f64(f64::INFINITY), None);
        assert_eq!(price_from_f64(1e300), None);
        assert_eq!(price_from_f64(1e-300), None);
    }

    #[test]
    fn floors_toward_zero() {
        assert_eq!(floor_to_step(d("1.234567"), d("0.00001")), d("1.23456"));
        assert_eq!(floor_to_step(d("-1.234567"), d("0.001")), d("-1.234"));
        assert_eq!(floor_to_step(d("7"), d("2.5")), d("5"));
        assert_eq!(floor_to_step(d("0.000009"), d("0.00001")), Decimal::ZERO);
    }

    #[test]
    fn rounds_half_away_from_zero_like_f64_round() {
        for x in [
            0.0,
            0.49999999999999994,
            0.5,
            1.5,
            2.5,
            -0.5,
            -1.5,
            -2.4,
            1e15 + 0.5,
            -4503599627370495.5,
        ] {
            assert_eq!(round_half_away(x), x.round() as i64, "{x}");
        }
    }

    #[test]
    fn cents_first_gives_the_fewest_places() {
        for (p, text) in [
            (43250.1, "43250.1"),
            (43250.0, "43250"),
            (43250.12, "43250.12"),
            (0.001, "0.001"),
            (-7.5, "-7.5"),
            (100.0, "100"),
            (0.0, "0"),
            (-0.0, "0"),
            (1e13 + 0.25, "10000000000000.25"),
        ] {
            let places = text.split_once('.').map_or(0, |(_, f)| f.len() as u32);
            let got = few_decimals(p).map(|d| (d.to_string(), d.scale()));
            assert_eq!(got, Some((text.to_string(), places)), "{p}");
        }
    }

    #[test]
    fn an_f64_view_follows_the_decimal() {
        let mut view = F64View::default();
        assert_eq!(view.of(d("1.5")), 1.5);
        assert_eq!(view.of(d("1.50")), 1.5);
        assert_eq!(view.of(d("-2.25")), -2.25);
        assert_eq!(view.of(Decimal::ZERO), 0.0);
        assert_eq!(view, F64View::default());
    }

    #[test]
    fn basis_points() {
        assert_eq!(bps_to_fraction(d("25")), d("0.0025"));
        assert_eq!(apply_bps(d("1000"), d("10")), Ok(d("1")));
        assert!(div(d("1"), Decimal::ZERO, "x").is_err());
        assert!(mul(Decimal::MAX, d("2"), "x").is_err());
    }
}

#[cfg(test)]
mod round_trip {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The text-free path gives exactly what printing the price gives,
        /// digits and scale.
        #[test]
        fn few_decimals_matches_the_shortest_text(p in prop_oneof![-1e6f64..1e6, (0u64..100_000_000).prop_map(|c| c as f64 / 1e4), (0u64..1_000_000_000).prop_map(|c| c as f64 / 1e9), (0i64..10_000_000_000_000).prop_map(|c| c as f64 / 100.0), (0i64..1_000_000_000).prop_map(|c| c as f64 / 10.0), (-1_000_000i64..1_000_000).prop_map(|c| c as f64)]) {
            if let Some(d) = few_decimals(p) {
                let mut buffer = ryu::Buffer::new();
                let text = Decimal::from_str(buffer.format_finite(p)).map(|t| t.normalize()).ok();
                prop_assert_eq!(Some((d.to_string(), d.scale())), text.map(|t| (t.to_string(), t.scale())), "{}", p);
            }
        }

        /// The rounding without the C library is `f64::round`.
        #[test]
        fn round_half_away_is_f64_round(x in -4.5e15f64..4.5e15, small in -1e3f64..1e3) {
            prop_assert_eq!(round_half_away(x), x.round() as i64);
            prop_assert_eq!(round_half_away(small), small.round() as i64);
        }

        /// Every path gives a decimal that converts back to exactly the price.
        #[test]
        fn every_price_round_trips(p in prop_oneof![1e-9f64..1e-3, 1e-3f64..1e6, 1e6f64..1e20, (1u64..10_000_000).prop_map(|c| c as f64 / 100.0)]) {
            let d = price_from_f64(p).expect("a finite price in range");
            prop_assert_eq!(d.to_string().parse::<f64>().ok(), Some(p), "{} from {}", d, p);
        }
    }
}
