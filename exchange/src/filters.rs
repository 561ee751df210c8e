//! A symbol's trading rules from `GET /api/v3/exchangeInfo` ([`SymbolFilters`])
//! and the check a market order's quantity must pass before it is sent
//! ([`SymbolFilters::market_quantity`]), all in exact decimals.
//!
//! Filters applied to a MARKET order, as Binance's filter documentation
//! describes them:
//! - `LOT_SIZE` and `MARKET_LOT_SIZE`: `minQty <= quantity <= maxQty` and
//!   `quantity % stepSize == 0`. A value of 0 disables its rule (Binance
//!   lists `MARKET_LOT_SIZE` with `minQty`/`stepSize` 0 on many symbols).
//! - `MIN_NOTIONAL` (when `applyToMarket`) and `NOTIONAL` (`minNotional` when
//!   `applyMinToMarket`, `maxNotional` when `applyMaxToMarket`): the notional
//!   `quantity * price`, where Binance uses its average price over the last
//!   `avgPriceMins` minutes; the caller passes its reference price for it.
//!
//! A LIMIT (or a stop's limit) order's quantity
//! ([`SymbolFilters::limit_quantity`]) passes `LOT_SIZE` and the notional
//! at its own price, where `MIN_NOTIONAL` and both `NOTIONAL` bounds always
//! apply (the `applyToMarket` flags concern MARKET orders only).
//!
//! `PRICE_FILTER` and `PERCENT_PRICE_BY_SIDE` apply to resting orders'
//! prices ([`price`]: rounding to the tick, [`PriceRefusal`]); the symbol's
//! `orderTypes`, `ocoAllowed`, `otoAllowed` and `allowTrailingStop` say
//! what it takes at all ([`permissions`]); `TRAILING_DELTA` bounds a
//! trailing stop's `trailingDelta` ([`trailing`]). Other filter types are
//! ignored.

pub mod permissions;
pub mod price;
pub mod trailing;

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

pub use permissions::{Needs, OrderTypeRefusal};
pub use price::{PriceRefusal, Rounding};
pub use trailing::TrailingDeltaRefusal;

/// `minQty`, `maxQty` and `stepSize` of `LOT_SIZE` or `MARKET_LOT_SIZE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LotSize {
    /// Smallest quantity (0: no minimum).
    pub min_qty: Decimal,
    /// Largest quantity (0: no maximum).
    pub max_qty: Decimal,
    /// Quantities are multiples of it (0: any quantity).
    pub step_size: Decimal,
}

/// `PRICE_FILTER`: `minPrice`, `maxPrice`, `tickSize` (each 0: disabled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceFilter {
    /// Smallest price.
    pub min_price: Decimal,
    /// Largest price.
    pub max_price: Decimal,
    /// Prices are multiples of it.
    pub tick_size: Decimal,
}

/// `PERCENT_PRICE_BY_SIDE`: the band a limit price must lie in around the
/// average price, by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PercentPriceBySide {
    /// A BUY's price is at most `avg * bidMultiplierUp`.
    pub bid_multiplier_up: Decimal,
    /// A BUY's price is at least `avg * bidMultiplierDown`.
    pub bid_multiplier_down: Decimal,
    /// A SELL's price is at most `avg * askMultiplierUp`.
    pub ask_multiplier_up: Decimal,
    /// A SELL's price is at least `avg * askMultiplierDown`.
    pub ask_multiplier_down: Decimal,
    /// The minutes Binance averages over (0: the last price).
    pub avg_price_mins: u32,
}

/// The `TRAILING_DELTA` filter's bounds, BIPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrailingDelta {
    /// `minTrailingAboveDelta`.
    pub min_above: u32,
    /// `maxTrailingAboveDelta`.
    pub max_above: u32,
    /// `minTrailingBelowDelta`.
    pub min_below: u32,
    /// `maxTrailingBelowDelta`.
    pub max_below: u32,
}

/// A notional bound that may or may not apply to market orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotionalBound {
    /// The bound (quote asset).
    pub value: Decimal,
    /// Whether MARKET orders are checked against it.
    pub applies_to_market: bool,
}

/// The rules of one symbol that the engine applies before sending an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolFilters {
    /// The symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// The asset bought and sold, e.g. `BTC`.
    pub base_asset: String,
    /// The asset prices are in, e.g. `USDT`.
    pub quote_asset: String,
    /// `LOT_SIZE`.
    pub lot_size: Option<LotSize>,
    /// `MARKET_LOT_SIZE`.
    pub market_lot_size: Option<LotSize>,
    /// `PRICE_FILTER`.
    pub price: Option<PriceFilter>,
    /// `MIN_NOTIONAL.minNotional` with `applyToMarket`.
    pub min_notional: Option<NotionalBound>,
    /// `NOTIONAL.minNotional` with `applyMinToMarket`.
    pub notional_min: Option<NotionalBound>,
    /// `NOTIONAL.maxNotional` with `applyMaxToMarket`.
    pub notional_max: Option<NotionalBound>,
    /// `PERCENT_PRICE_BY_SIDE`.
    pub percent_price_by_side: Option<PercentPriceBySide>,
    /// `TRAILING_DELTA`.
    pub trailing_delta: Option<TrailingDelta>,
    /// `orderTypes`: the order types the symbol takes, as Binance spells
    /// them (empty when the entry lists none).
    pub order_types: Vec<String>,
    /// `ocoAllowed` (false when absent).
    pub oco_allowed: bool,
    /// `otoAllowed` (false when absent).
    pub oto_allowed: bool,
    /// `allowTrailingStop` (false when absent).
    pub allow_trailing_stop: bool,
}

/// Why an `exchangeInfo` document could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeInfoError {
    /// The body is not JSON.
    #[error("exchangeInfo is not valid JSON: {0}")]
    Json(String),
    /// The symbol is not listed.
    #[error("exchangeInfo does not list symbol {0:?}")]
    NoSymbol(String),
    /// A field is absent or of the wrong JSON type.
    #[error("exchangeInfo {at}: field {field:?} is missing or not {expected}")]
    Field {
        /// Where: `symbols[BTCUSDT]` or `symbols[BTCUSDT].LOT_SIZE`.
        at: String,
        /// The field's name as Binance spells it.
        field: &'static str,
        /// The JSON type expected.
        expected: &'static str,
    },
    /// A decimal string that does not parse, or is negative.
    #[error("exchangeInfo {at}: field {field:?} = {value:?} is not a non-negative decimal")]
    Decimal {
        /// Where, as in [`ExchangeInfoError::Field`].
        at: String,
        /// The field's name as Binance spells it.
        field: &'static str,
        /// The text found.
        value: String,
    },
}

/// Why an order quantity was refused locally (it would fail Binance's
/// filters with error -1013).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterRefusal {
    /// The quantity asked for is zero or negative.
    #[error("quantity {0} is not positive")]
    NonPositiveQuantity(Decimal),
    /// The reference price is zero or negative.
    #[error("reference price {0} is not positive")]
    NonPositivePrice(Decimal),
    /// Below a `minQty` (before or after rounding down to the step).
    #[error("quantity {quantity} is below {filter} minQty {min}")]
    BelowMinQty {
        /// `LOT_SIZE` or `MARKET_LOT_SIZE`.
        filter: &'static str,
        /// The quantity.
        quantity: Decimal,
        /// The filter's `minQty`.
        min: Decimal,
    },
    /// Above a `maxQty` after rounding down.
    #[error("quantity {quantity} is above {filter} maxQty {max}")]
    AboveMaxQty {
        /// `LOT_SIZE` or `MARKET_LOT_SIZE`.
        filter: &'static str,
        /// The rounded quantity.
        quantity: Decimal,
        /// The filter's `maxQty`.
        max: Decimal,
    },
    /// Rounding down to the step leaves nothing to trade.
    #[error("quantity {quantity} rounds down to 0 at {filter} stepSize {step}")]
    RoundsToZero {
        /// `LOT_SIZE` or `MARKET_LOT_SIZE`.
        filter: &'static str,
        /// The quantity asked for.
        quantity: Decimal,
        /// The filter's `stepSize`.
        step: Decimal,
    },
    /// The notional is below a minimum that applies to market orders.
    #[error("notional {notional} (quantity {quantity} at price {price}) is below {filter} minNotional {min}")]
    BelowMinNotional {
        /// `MIN_NOTIONAL` or `NOTIONAL`.
        filter: &'static str,
        /// `quantity * price`.
        notional: Decimal,
        /// The rounded quantity.
        quantity: Decimal,
        /// The reference price.
        price: Decimal,
        /// The bound.
        min: Decimal,
    },
    /// The notional is above `NOTIONAL.maxNotional` (applied to market orders).
    #[error("notional {notional} (quantity {quantity} at price {price}) is above NOTIONAL maxNotional {max}")]
    AboveMaxNotional {
        /// `quantity * price`.
        notional: Decimal,
        /// The rounded quantity.
        quantity: Decimal,
        /// The reference price.
        price: Decimal,
        /// The bound.
        max: Decimal,
    },
    /// `quantity * price` does not fit a decimal.
    #[error("notional of quantity {quantity} at price {price} overflows")]
    NotionalOverflow {
        /// The rounded quantity.
        quantity: Decimal,
        /// The reference price.
        price: Decimal,
    },
}

impl SymbolFilters {
    /// The filters of `symbol` in an `exchangeInfo` response body.
    pub fn from_exchange_info(body: &[u8], symbol: &str) -> Result<Self, ExchangeInfoError> {
        let doc: Value =
            serde_json::from_slice(body).map_err(|e| ExchangeInfoError::Json(e.to_string()))?;
        let symbols = doc
            .get("symbols")
            .and_then(Value::as_array)
            .ok_or_else(|| field_error("the document", "symbols", "an array"))?;
        let entry = symbols
            .iter()
            .filter_map(Value::as_object)
            .find(|s| s.get("symbol").and_then(Value::as_str) == Some(symbol))
            .ok_or_else(|| ExchangeInfoError::NoSymbol(symbol.to_owned()))?;
        Self::from_symbol_entry(entry, symbol)
    }

    /// The filters of one element of `exchangeInfo`'s `symbols` array.
    fn from_symbol_entry(
        entry: &Map<String, Value>,
        symbol: &str,
    ) -> Result<Self, ExchangeInfoError> {
        let at = format!("symbols[{symbol}]");
        let text = |field: &'static str| {
            entry
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| field_error(&at, field, "a string"))
        };
        let mut out = SymbolFilters {
            symbol: symbol.to_owned(),
            base_asset: text("baseAsset")?,
            quote_asset: text("quoteAsset")?,
            lot_size: None,
            market_lot_size: None,
            price: None,
            min_notional: None,
            notional_min: None,
            notional_max: None,
            percent_price_by_side: None,
            trailing_delta: None,
            order_types: order_types(entry, &at)?,
            oco_allowed: optional_flag(entry, &at, "ocoAllowed")?,
            oto_allowed: optional_flag(entry, &at, "otoAllowed")?,
            allow_trailing_stop: optional_flag(entry, &at, "allowTrailingStop")?,
        };
        let filters = entry
            .get("filters")
            .and_then(Value::as_array)
            .ok_or_else(|| field_error(&at, "filters", "an array"))?;
        for filter in filters {
            let filter = filter
                .as_object()
                .ok_or_else(|| field_error(&at, "filters", "an array of objects"))?;
            let kind = filter
                .get("filterType")
                .and_then(Value::as_str)
                .ok_or_else(|| field_error(&format!("{at}.filters"), "filterType", "a string"))?;
            let f = Fields {
                at: format!("{at}.{kind}"),
                map: filter,
            };
            match kind {
                "LOT_SIZE" => out.lot_size = Some(f.lot_size()?),
                "MARKET_LOT_SIZE" => out.market_lot_size = Some(f.lot_size()?),
                "PRICE_FILTER" => {
                    out.price = Some(PriceFilter {
                        min_price: f.decimal("minPrice")?,
                        max_price: f.decimal("maxPrice")?,
                        tick_size: f.decimal("tickSize")?,
                    })
                }
                "MIN_NOTIONAL" => {
                    out.min_notional = Some(NotionalBound {
                        value: f.decimal("minNotional")?,
                        applies_to_market: f.flag("applyToMarket")?,
                    })
                }
                "PERCENT_PRICE_BY_SIDE" => {
                    out.percent_price_by_side = Some(PercentPriceBySide {
                        bid_multiplier_up: f.decimal("bidMultiplierUp")?,
                        bid_multiplier_down: f.decimal("bidMultiplierDown")?,
                        ask_multiplier_up: f.decimal("askMultiplierUp")?,
                        ask_multiplier_down: f.decimal("askMultiplierDown")?,
                        avg_price_mins: f.whole("avgPriceMins")?,
                    })
                }
                "TRAILING_DELTA" => {
                    out.trailing_delta = Some(TrailingDelta {
                        min_above: f.whole("minTrailingAboveDelta")?,
                        max_above: f.whole("maxTrailingAboveDelta")?,
                        min_below: f.whole("minTrailingBelowDelta")?,
                        max_below: f.whole("maxTrailingBelowDelta")?,
                    })
                }
                "NOTIONAL" => {
                    out.notional_min = Some(NotionalBound {
                        value: f.decimal("minNotional")?,
                        applies_to_market: f.flag("applyMinToMarket")?,
                    });
                    out.notional_max = Some(NotionalBound {
                        value: f.decimal("maxNotional")?,
                        applies_to_market: f.flag("applyMaxToMarket")?,
                    });
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The coarsest quantity step of `LOT_SIZE` and `MARKET_LOT_SIZE` (a
    /// 0 step, "any quantity", left out); `None` when neither sets one.
    pub fn quantity_step(&self) -> Option<Decimal> {
        [self.lot_size, self.market_lot_size]
            .into_iter()
            .flatten()
            .map(|l| l.step_size)
            .filter(|s| *s > Decimal::ZERO)
            .max()
    }

    /// The quantity of a MARKET order for `desired` base units at about
    /// `reference_price`: `desired` rounded DOWN to the lot step, or the
    /// first filter it cannot pass. Never rounds up: the order never exceeds
    /// what was asked for.
    pub fn market_quantity(
        &self,
        desired: Decimal,
        reference_price: Decimal,
    ) -> Result<Decimal, FilterRefusal> {
        if desired <= Decimal::ZERO {
            return Err(FilterRefusal::NonPositiveQuantity(desired));
        }
        if reference_price <= Decimal::ZERO {
            return Err(FilterRefusal::NonPositivePrice(reference_price));
        }
        let mut quantity = desired;
        for (filter, lot) in [
            ("LOT_SIZE", self.lot_size),
            ("MARKET_LOT_SIZE", self.market_lot_size),
        ] {
            if let Some(lot) = lot {
                quantity = lot.apply(filter, quantity)?;
            }
        }
        // A MARKET_LOT_SIZE step that is no multiple of LOT_SIZE's may have
        // broken the first rounding: round again until both hold (each pass
        // only lowers the quantity, and the first pass is usually the last).
        while let Some(lot) = self
            .lot_size
            .filter(|l| !is_multiple(quantity, l.step_size))
        {
            quantity = lot.apply("LOT_SIZE", quantity)?;
            if let Some(market) = self.market_lot_size {
                quantity = market.apply("MARKET_LOT_SIZE", quantity)?;
            }
        }
        self.check_notional(quantity, reference_price, true)?;
        Ok(quantity.normalize())
    }

    /// The quantity of a LIMIT order (or a stop's limit leg) for `desired`
    /// base units at `price`: `desired` rounded DOWN to the `LOT_SIZE`
    /// step, with the notional at `price` checked against `MIN_NOTIONAL`
    /// and `NOTIONAL` (which always apply to non-MARKET orders), or the
    /// first filter it cannot pass.
    pub fn limit_quantity(
        &self,
        desired: Decimal,
        price: Decimal,
    ) -> Result<Decimal, FilterRefusal> {
        if desired <= Decimal::ZERO {
            return Err(FilterRefusal::NonPositiveQuantity(desired));
        }
        if price <= Decimal::ZERO {
            return Err(FilterRefusal::NonPositivePrice(price));
        }
        let quantity = match self.lot_size {
            Some(lot) => lot.apply("LOT_SIZE", desired)?,
            None => desired,
        };
        self.check_notional(quantity, price, false)?;
        Ok(quantity.normalize())
    }

    /// `quantity * price` against the notional bounds: for a MARKET order
    /// (`market`) only those whose `applyToMarket` flag is set, for any
    /// other order all of them.
    fn check_notional(
        &self,
        quantity: Decimal,
        price: Decimal,
        market: bool,
    ) -> Result<(), FilterRefusal> {
        let applies = |b: &NotionalBound| !market || b.applies_to_market;
        let notional = quantity
            .checked_mul(price)
            .ok_or(FilterRefusal::NotionalOverflow { quantity, price })?
            .normalize();
        for (filter, bound) in [
            ("MIN_NOTIONAL", self.min_notional),
            ("NOTIONAL", self.notional_min),
        ] {
            if let Some(b) = bound.filter(|b| applies(b) && notional < b.value) {
                return Err(FilterRefusal::BelowMinNotional {
                    filter,
                    notional,
                    quantity,
                    price,
                    min: b.value,
                });
            }
        }
        if let Some(b) = self
            .notional_max
            .filter(|b| applies(b) && b.value > Decimal::ZERO && notional > b.value)
        {
            return Err(FilterRefusal::AboveMaxNotional {
                notional,
                quantity,
                price,
                max: b.value,
            });
        }
        Ok(())
    }
}

/// `orderTypes` of a symbol entry: absent is none listed; present, it must
/// be an array of strings.
fn order_types(entry: &Map<String, Value>, at: &str) -> Result<Vec<String>, ExchangeInfoError> {
    let Some(value) = entry.get("orderTypes") else {
        return Ok(Vec::new());
    };
    value
        .as_array()
        .and_then(|types| {
            types
                .iter()
                .map(|t| t.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| field_error(at, "orderTypes", "an array of strings"))
}

/// A boolean field of a symbol entry: absent is false; present, it must be
/// a boolean.
fn optional_flag(
    entry: &Map<String, Value>,
    at: &str,
    field: &'static str,
) -> Result<bool, ExchangeInfoError> {
    match entry.get(field) {
        None => Ok(false),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| field_error(at, field, "a boolean")),
    }
}

impl LotSize {
    /// `quantity` rounded down to the step and checked against the bounds.
    fn apply(&self, filter: &'static str, quantity: Decimal) -> Result<Decimal, FilterRefusal> {
        let below = |quantity| FilterRefusal::BelowMinQty {
            filter,
            quantity,
            min: self.min_qty,
        };
        if quantity < self.min_qty {
            return Err(below(quantity));
        }
        let rounded = if self.step_size > Decimal::ZERO {
            (quantity - quantity % self.step_size).normalize()
        } else {
            quantity
        };
        if rounded <= Decimal::ZERO {
            return Err(FilterRefusal::RoundsToZero {
                filter,
                quantity,
                step: self.step_size,
            });
        }
        if rounded < self.min_qty {
            return Err(below(rounded));
        }
        if self.max_qty > Decimal::ZERO && rounded > self.max_qty {
            return Err(FilterRefusal::AboveMaxQty {
                filter,
                quantity: rounded,
                max: self.max_qty,
            });
        }
        Ok(rounded)
    }
}

/// Whether `value` is a whole multiple of `step` (any value when `step` is 0).
fn is_multiple(value: Decimal, step: Decimal) -> bool {
    step <= Decimal::ZERO || (value % step).is_zero()
}

/// One filter object, with where it is for error messages.
struct Fields<'a> {
    at: String,
    map: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn lot_size(&self) -> Result<LotSize, ExchangeInfoError> {
        Ok(LotSize {
            min_qty: self.decimal("minQty")?,
            max_qty: self.decimal("maxQty")?,
            step_size: self.decimal("stepSize")?,
        })
    }

    /// A decimal written as a JSON string, as Binance sends them (exact, never
    /// through `f64`), normalised (`"0.00100000"` is `0.001`).
    fn decimal(&self, field: &'static str) -> Result<Decimal, ExchangeInfoError> {
        let text = self
            .map
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| field_error(&self.at, field, "a decimal string"))?;
        Decimal::from_str(text)
            .ok()
            .filter(|d| !d.is_sign_negative())
            .map(|d| d.normalize())
            .ok_or_else(|| ExchangeInfoError::Decimal {
                at: self.at.clone(),
                field,
                value: text.to_owned(),
            })
    }

    /// A whole number (Binance sends `avgPriceMins` and the trailing
    /// deltas as JSON numbers).
    fn whole(&self, field: &'static str) -> Result<u32, ExchangeInfoError> {
        self.map
            .get(field)
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok())
            .ok_or_else(|| field_error(&self.at, field, "a whole number"))
    }

    fn flag(&self, field: &'static str) -> Result<bool, ExchangeInfoError> {
        self.map
            .get(field)
            .and_then(Value::as_bool)
            .ok_or_else(|| field_error(&self.at, field, "a boolean"))
    }
}

fn field_error(at: &str, field: &'static str, expected: &'static str) -> ExchangeInfoError {
    ExchangeInfoError::Field {
        at: at.to_owned(),
        field,
        expected,
    }
}

impl PriceFilter {
    /// `price` rounded DOWN to the tick, checked against `minPrice` and
    /// `maxPrice` (for limit orders; each rule disabled when 0).
    pub fn round_down(&self, price: Decimal) -> Option<Decimal> {
        let rounded = if self.tick_size > Decimal::ZERO {
            price - price % self.tick_size
        } else {
            price
        };
        let above_min = self.min_price.is_zero() || rounded >= self.min_price;
        let below_max = self.max_price.is_zero() || rounded <= self.max_price;
        (rounded > Decimal::ZERO && above_min && below_max).then(|| rounded.normalize())
    }
}

#[cfg(test)]
#[path = "filters_tests.rs"]
mod tests;
