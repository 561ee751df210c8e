//! Live execution (`orchestrator.mode: live`): the orders the book decides
//! are placed on Binance spot through [`BinanceRest`](aegis_exchange::BinanceRest), and what the exchange
//! executed is written back to the ledger.
//!
//! **Write-ahead.** The `Order` entry (the decision) is appended and
//! fsync'd, then the quantity is rounded by the symbol's filters and a
//! `Sent` entry records exactly what the request carries — the quantity and
//! the [`client_order_id`](aegis_exchange::rest::client_order_id) made of the engine, the ledger's random id
//! ([`Entry::LedgerId`](aegis_engine::ledger::Entry::LedgerId), written once per ledger) and the signal's sequence
//! number — and is fsync'd before the request is sent. A retried or
//! restarted order is the same order to the exchange; another ledger's
//! orders never share its id. Its outcome becomes a `Fill` (executed
//! quantity, average price `cummulativeQuoteQty / executedQty`, fee) or a
//! `Cancelled` (nothing executed, or refused) through
//! [`Execution::apply_fill`](aegis_engine::trading::Execution::apply_fill) / [`Execution::cancel_pending`](aegis_engine::trading::Execution::cancel_pending).
//!
//! **Never resend blindly.** When a reply is lost (5XX, timeout) and at
//! every start with an unsettled order in the ledger, the order is first
//! queried by its client order id. It is sent again (same id) only when the
//! exchange has no such order (-2013) *and* the request's `recvWindow` has
//! passed since it could last have been sent: Binance refuses a request that
//! arrives later than its timestamp plus `recvWindow`, so an order absent
//! then can no longer appear. An order with no `Sent` entry was never sent
//! (unless an older build wrote it, before the ledger had an id: that one
//! is looked up under the old id scheme first).
//!
//! **Never book another order.** An order found by id is checked against
//! the ledger ([`check_found`]: side, the quantity sent, made after the
//! `Sent` entry). One that differs is never booked: the pending order is
//! cancelled in the ledger and trading halts (`order_mismatch`, persistent,
//! no order at all until `orchestrator.risk.clear_halt`), the reason naming
//! both orders.
//!
//! **Permanent refusals.** Missing credentials and a key or signature the
//! exchange refuses (-2014, -2015, -1022) are not retried: the orchestrator
//! stops trading and stays up, unready, with the reason in `/readyz` and
//! `/status` ([`Refusal`](aegis_contract::api::Refusal)), rather than exiting into a restart loop.
//!
//! **Fees.** The `FULL` reply lists each trade's commission and its asset.
//! A commission in the quote asset is the fill's fee. One in the base asset
//! (a buy's usual case) reduces the base received: the fill books the net
//! quantity at the average price and the commission's value at that price as
//! the fee, so the ledger's cash moves by exactly `cummulativeQuoteQty` and
//! its position by what the account received. A commission in another asset
//! (BNB) is not booked (the ledger holds only the symbol's two assets) and
//! is logged. A reply that does not list every trade of what executed (a
//! query's reply lists none; a working order's first reply only its first)
//! is completed from `GET /api/v3/myTrades?orderId=` before booking. Only
//! when that list stays incomplete or unreadable is the fill booked with the
//! commissions it has (logged), and the balance check shows the difference.
//!
//! **Faults.** 429: wait `Retry-After` (beating the heartbeat, honouring a
//! stop), then retry. 418: the ledger gets a persistent `ExchangeBan` halt
//! and no request is sent until `orchestrator.risk.clear_halt`. -1021 has
//! been resynced and retried once by the client; a second one is retried
//! after a pause a few times. Refusals (balance, signature, key, filters,
//! bad parameters) are not retried: the order ends `Cancelled` with the
//! error. A new order the exchange reports `NEW`/`PARTIALLY_FILLED` is
//! polled until final (bounded), then cancelled, and what executed recorded.
//!
//! **Balances** are read at startup and after each fill and checked against
//! the ledger (see [`Balances`](aegis_contract::api::Balances)); a mismatch is a metric, an error log line
//! and `/status`'s `balances`, never fatal.

mod account;
mod booking;
mod connection;
mod exit_orders;
mod exits;
mod orders;
mod resting;
mod retry;
mod venue;

pub use account::ensure_ledger_id;
pub use booking::{book_fill, check_found, reconcile, BookedFill, Unbookable, CLOCK_MARGIN_MS};
pub use connection::{credentials, Live, Outcome};
pub use exit_orders::{exit_orders, needs, request_of, ExitIds, ExitRequest, STOP_LIMIT_SLACK};
pub use venue::{BinanceSpot, BINANCE};
