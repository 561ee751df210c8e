//! [`BinanceSpot`]: Binance spot as the engine's venue. Every order is sent
//! by [`Live`](super::Live) and its answer booked with `apply_fill` or
//! `cancel_pending`, so the venue settles later; spot holds no short.

use aegis_engine::trading::{ExecutionParams, Pending, Portfolio, Settlement, Venue};
use rust_decimal::Decimal;

/// Binance spot; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BinanceSpot;

/// The one Binance spot venue.
pub static BINANCE: BinanceSpot = BinanceSpot;

impl Venue for BinanceSpot {
    fn name(&self) -> &'static str {
        "binance"
    }

    fn allows_short(&self) -> bool {
        false
    }

    fn holds_exits(&self) -> bool {
        true
    }

    fn fill(
        &self,
        _order: &Pending,
        _price: Option<Decimal>,
        _book: &Portfolio,
        _params: &ExecutionParams,
    ) -> Settlement {
        Settlement::Later
    }
}
