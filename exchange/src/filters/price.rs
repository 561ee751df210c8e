//! Prices of resting orders against a symbol's filters: rounding to
//! `PRICE_FILTER`'s `tickSize` in a stated direction ([`Rounding`]), and
//! the checks Binance applies to a `price` / `stopPrice`:
//!
//! - `PRICE_FILTER`: `minPrice <= price <= maxPrice` and
//!   `price % tickSize == 0` (each rule off when its value is 0); it
//!   applies to `price` and `stopPrice` alike.
//! - `PERCENT_PRICE_BY_SIDE`: a BUY's `price` within
//!   `[avg * bidMultiplierDown, avg * bidMultiplierUp]`, a SELL's within
//!   `[avg * askMultiplierDown, avg * askMultiplierUp]`, where `avg` is
//!   Binance's reference (average) price over `avgPriceMins`; the caller
//!   passes its reference price. It applies to `price` only.
//!
//! Each refusal names the filter and the figures ([`PriceRefusal`]).

use rust_decimal::Decimal;

use super::{PercentPriceBySide, PriceFilter, SymbolFilters};
use crate::rest::Side;

/// Which way a price off the tick goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// To the tick at or below: a BUY limit entry (never pay more than
    /// asked), a SELL stop's limit (the protection fills even if the price
    /// gaps a tick further), a BUY take-profit.
    Down,
    /// To the tick at or above: a SELL take-profit (never sell for less
    /// than asked), a SELL stop's trigger (never looser than configured),
    /// a BUY stop's limit.
    Up,
}

/// Why a price was refused locally (Binance would answer -1013
/// `Filter failure: ...`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceRefusal {
    /// The price (or stop price) is zero or negative.
    #[error("{field} {price} is not positive")]
    NonPositive {
        /// `price` or `stopPrice`.
        field: &'static str,
        /// The value.
        price: Decimal,
    },
    /// The reference price for `PERCENT_PRICE_BY_SIDE` is zero or negative.
    #[error("reference price {0} is not positive")]
    NonPositiveReference(Decimal),
    /// Not a multiple of `PRICE_FILTER.tickSize`.
    #[error("{field} {price} is not a multiple of PRICE_FILTER tickSize {tick}")]
    OffTick {
        /// `price` or `stopPrice`.
        field: &'static str,
        /// The value.
        price: Decimal,
        /// The tick.
        tick: Decimal,
    },
    /// Below `PRICE_FILTER.minPrice`.
    #[error("{field} {price} is below PRICE_FILTER minPrice {min}")]
    BelowMinPrice {
        /// `price` or `stopPrice`.
        field: &'static str,
        /// The value.
        price: Decimal,
        /// `minPrice`.
        min: Decimal,
    },
    /// Above `PRICE_FILTER.maxPrice`.
    #[error("{field} {price} is above PRICE_FILTER maxPrice {max}")]
    AboveMaxPrice {
        /// `price` or `stopPrice`.
        field: &'static str,
        /// The value.
        price: Decimal,
        /// `maxPrice`.
        max: Decimal,
    },
    /// Outside the `PERCENT_PRICE_BY_SIDE` band.
    #[error("{side} price {price} is {} PERCENT_PRICE_BY_SIDE {multiplier_name} {multiplier} x reference price {reference} = {bound}", if *.above { "above" } else { "below" })]
    OutsidePercentBand {
        /// The order's side.
        side: Side,
        /// The price.
        price: Decimal,
        /// Whether it is above the band (else below).
        above: bool,
        /// `bidMultiplierUp`, `askMultiplierDown`, ...
        multiplier_name: &'static str,
        /// Its value.
        multiplier: Decimal,
        /// The reference price given.
        reference: Decimal,
        /// `reference * multiplier`.
        bound: Decimal,
    },
    /// A product of the check does not fit a decimal.
    #[error("{field} {price} overflows the filter arithmetic")]
    Overflow {
        /// `price` or `stopPrice`.
        field: &'static str,
        /// The value.
        price: Decimal,
    },
}

impl PriceFilter {
    /// `price` moved to a multiple of `tickSize` in the direction asked
    /// (unchanged when the tick is 0 or it is on one already).
    pub fn round(&self, price: Decimal, rounding: Rounding) -> Decimal {
        if self.tick_size <= Decimal::ZERO {
            return price.normalize();
        }
        let below = price - price % self.tick_size;
        let rounded = if rounding == Rounding::Up && below < price {
            below + self.tick_size
        } else {
            below
        };
        rounded.normalize()
    }

    /// Checks `price` (named `field` in the refusal) against `minPrice`,
    /// `maxPrice` and `tickSize`.
    pub fn check(&self, field: &'static str, price: Decimal) -> Result<(), PriceRefusal> {
        if self.min_price > Decimal::ZERO && price < self.min_price {
            return Err(PriceRefusal::BelowMinPrice {
                field,
                price,
                min: self.min_price,
            });
        }
        if price <= Decimal::ZERO {
            return Err(PriceRefusal::NonPositive { field, price });
        }
        if self.max_price > Decimal::ZERO && price > self.max_price {
            return Err(PriceRefusal::AboveMaxPrice {
                field,
                price,
                max: self.max_price,
            });
        }
        if self.tick_size > Decimal::ZERO && !(price % self.tick_size).is_zero() {
            return Err(PriceRefusal::OffTick {
                field,
                price,
                tick: self.tick_size,
            });
        }
        Ok(())
    }
}

impl PercentPriceBySide {
    /// Checks a `side` order's `price` against the band around `reference`.
    pub fn check(
        &self,
        side: Side,
        price: Decimal,
        reference: Decimal,
    ) -> Result<(), PriceRefusal> {
        if reference <= Decimal::ZERO {
            return Err(PriceRefusal::NonPositiveReference(reference));
        }
        let ((up_name, up), (down_name, down)) = match side {
            Side::Buy => (
                ("bidMultiplierUp", self.bid_multiplier_up),
                ("bidMultiplierDown", self.bid_multiplier_down),
            ),
            Side::Sell => (
                ("askMultiplierUp", self.ask_multiplier_up),
                ("askMultiplierDown", self.ask_multiplier_down),
            ),
        };
        let overflow = PriceRefusal::Overflow {
            field: "price",
            price,
        };
        let high = reference.checked_mul(up).ok_or(overflow.clone())?;
        let low = reference.checked_mul(down).ok_or(overflow)?;
        let refusal = |above, name, multiplier, bound: Decimal| PriceRefusal::OutsidePercentBand {
            side,
            price,
            above,
            multiplier_name: name,
            multiplier,
            reference,
            bound: bound.normalize(),
        };
        if price > high {
            return Err(refusal(true, up_name, up, high));
        }
        if price < low {
            return Err(refusal(false, down_name, down, low));
        }
        Ok(())
    }
}

impl SymbolFilters {
    /// `price` rounded to the tick in the direction asked, then checked
    /// against `PRICE_FILTER` (a symbol without one: the price as given).
    pub fn round_price(&self, price: Decimal, rounding: Rounding) -> Result<Decimal, PriceRefusal> {
        if price <= Decimal::ZERO {
            return Err(PriceRefusal::NonPositive {
                field: "price",
                price,
            });
        }
        let Some(filter) = self.price else {
            return Ok(price.normalize());
        };
        let rounded = filter.round(price, rounding);
        filter.check("price", rounded)?;
        Ok(rounded)
    }

    /// Checks a limit `price` of a `side` order as Binance would:
    /// `PRICE_FILTER`, then `PERCENT_PRICE_BY_SIDE` around `reference`
    /// (the caller's estimate of Binance's average price).
    pub fn check_limit_price(
        &self,
        side: Side,
        price: Decimal,
        reference: Decimal,
    ) -> Result<(), PriceRefusal> {
        if let Some(filter) = self.price {
            filter.check("price", price)?;
        } else if price <= Decimal::ZERO {
            return Err(PriceRefusal::NonPositive {
                field: "price",
                price,
            });
        }
        match self.percent_price_by_side {
            Some(band) => band.check(side, price, reference),
            None => Ok(()),
        }
    }

    /// Checks a `stopPrice` as Binance would: `PRICE_FILTER` only.
    pub fn check_stop_price(&self, stop_price: Decimal) -> Result<(), PriceRefusal> {
        match self.price {
            Some(filter) => filter.check("stopPrice", stop_price),
            None if stop_price <= Decimal::ZERO => Err(PriceRefusal::NonPositive {
                field: "stopPrice",
                price: stop_price,
            }),
            None => Ok(()),
        }
    }
}
