//! The REST endpoints of resting orders (SIGNED): LIMIT and stop orders,
//! OCO order lists, cancelling and querying lists, and the account's open
//! orders and lists. Weights as Binance lists them: a new order or list 1,
//! a list cancel 1, a list query 4, open orders of a symbol 6, open lists
//! 6; the used weight is read from each reply like every other request's.
//!
//! As for market orders, a [`RestError::Unknown`] reply means the order (or
//! list) may exist: look it up by its client id before sending it again.

use rust_decimal::Decimal;

use super::exit_order::{limit_params, oco_params, stop_params, Oco, Params, StopOrder};
use super::http::Method;
use super::order::{Order, Side};
use super::order_list::OrderList;
use super::{parse, BinanceRest, RestError};

impl BinanceRest {
    fn signed_params(
        &self,
        method: Method,
        path: &'static str,
        params: &Params,
    ) -> Result<Vec<u8>, RestError> {
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.signed(method, path, &borrowed)
    }

    /// `POST /api/v3/order` (SIGNED): a LIMIT GTC order of `qty` base units
    /// at `price` (both already on the symbol's filters) with
    /// `client_order_id`. It rests until it fills or is cancelled; its
    /// fills are in the reply when it traded at once, else found later by
    /// [`BinanceRest::query_order`] and [`BinanceRest::order_trades`].
    pub fn place_limit_order(
        &self,
        symbol: &str,
        side: Side,
        qty: Decimal,
        price: Decimal,
        client_order_id: &str,
    ) -> Result<Order, RestError> {
        let params = limit_params(symbol, side, qty, price, client_order_id);
        let body = self.signed_params(Method::Post, "/api/v3/order", &params)?;
        parse("/api/v3/order", &body)
    }

    /// `POST /api/v3/order` (SIGNED): a `STOP_LOSS_LIMIT` or
    /// `TAKE_PROFIT_LIMIT` GTC order (see [`StopOrder`]), answered `NEW`
    /// until its trigger is met.
    pub fn place_stop_order(&self, symbol: &str, order: &StopOrder) -> Result<Order, RestError> {
        let params = stop_params(symbol, order);
        let body = self.signed_params(Method::Post, "/api/v3/order", &params)?;
        parse("/api/v3/order", &body)
    }

    /// `POST /api/v3/orderList/oco` (SIGNED): a take-profit and a stop
    /// that cancel each other (see [`Oco`]); the reply has both legs'
    /// reports.
    pub fn place_oco(&self, symbol: &str, oco: &Oco) -> Result<OrderList, RestError> {
        let params = oco_params(symbol, oco);
        let body = self.signed_params(Method::Post, "/api/v3/orderList/oco", &params)?;
        parse("/api/v3/orderList/oco", &body)
    }

    /// `DELETE /api/v3/orderList` (SIGNED) by list client id: both legs
    /// cancelled, with their reports; [`RestError::UnknownOrder`] when no
    /// such list is open.
    pub fn cancel_order_list(
        &self,
        symbol: &str,
        list_client_order_id: &str,
    ) -> Result<OrderList, RestError> {
        let params = [
            ("symbol", symbol),
            ("listClientOrderId", list_client_order_id),
        ];
        let body = self.signed(Method::Delete, "/api/v3/orderList", &params)?;
        parse("/api/v3/orderList", &body)
    }

    /// `GET /api/v3/orderList` (SIGNED) by list client id: the list with
    /// its legs' ids (no reports: query each leg with
    /// [`BinanceRest::query_order`]); `None` when Binance has no such list
    /// (-2013).
    pub fn query_order_list(
        &self,
        list_client_order_id: &str,
    ) -> Result<Option<OrderList>, RestError> {
        let params = [("origClientOrderId", list_client_order_id)];
        match self.signed(Method::Get, "/api/v3/orderList", &params) {
            Ok(body) => parse("/api/v3/orderList", &body).map(Some),
            Err(RestError::Rejected { code: -2013, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v3/openOrders?symbol=` (SIGNED): every open order of the
    /// symbol, OCO legs included (their `orderListId` names the list).
    pub fn open_orders(&self, symbol: &str) -> Result<Vec<Order>, RestError> {
        let body = self.signed(Method::Get, "/api/v3/openOrders", &[("symbol", symbol)])?;
        parse("/api/v3/openOrders", &body)
    }

    /// `GET /api/v3/openOrderList` (SIGNED): every open order list of the
    /// account (all symbols), legs by id.
    pub fn open_order_lists(&self) -> Result<Vec<OrderList>, RestError> {
        let body = self.signed(Method::Get, "/api/v3/openOrderList", &[])?;
        parse("/api/v3/openOrderList", &body)
    }
}
