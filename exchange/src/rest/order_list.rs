//! Order lists (OCO) as Binance reports them: `POST /api/v3/orderList/oco`,
//! `DELETE /api/v3/orderList` (both with every leg's full report) and
//! `GET /api/v3/orderList` / `GET /api/v3/openOrderList` (the legs' ids
//! only).

use rust_decimal::Decimal;
use serde::Deserialize;

use super::order::Order;

/// One leg of an order list as the list names it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedOrder {
    /// The symbol.
    pub symbol: String,
    /// The exchange's order id.
    pub order_id: u64,
    /// The leg's client order id.
    pub client_order_id: String,
}

/// An order list (an OCO) as Binance reports it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderList {
    /// The exchange's id of the list.
    pub order_list_id: i64,
    /// `OCO` (or `OTO`, ...).
    pub contingency_type: String,
    /// `RESPONSE`, `EXEC_STARTED`, `UPDATED` or `ALL_DONE`.
    pub list_status_type: String,
    /// `EXECUTING`, `ALL_DONE` or `REJECT`.
    pub list_order_status: String,
    /// The list's client id.
    pub list_client_order_id: String,
    /// When the exchange last changed it, ms (its clock).
    #[serde(default)]
    pub transaction_time: Option<i64>,
    /// The symbol.
    pub symbol: String,
    /// Its legs' ids (every reply has them).
    pub orders: Vec<ListedOrder>,
    /// Its legs' full reports: in the replies to placing and cancelling a
    /// list; empty in a query's (query each leg by its client id then).
    #[serde(default)]
    pub order_reports: Vec<Order>,
}

impl OrderList {
    /// Whether the list is over (`listOrderStatus` `ALL_DONE` or
    /// `REJECT`): no leg can fill any more.
    pub fn is_done(&self) -> bool {
        matches!(self.list_order_status.as_str(), "ALL_DONE" | "REJECT")
    }

    /// The report of the leg with `client_order_id`, when the reply has
    /// reports.
    pub fn report(&self, client_order_id: &str) -> Option<&Order> {
        self.order_reports
            .iter()
            .find(|o| o.client_order_id == client_order_id)
    }

    /// The base quantity executed over the legs' reports.
    pub fn executed_qty(&self) -> Decimal {
        self.order_reports.iter().map(|o| o.executed_qty).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binance's documented reply to `POST /api/v3/orderList/oco` (RESULT).
    const PLACED: &str = r#"{"orderListId":1,"contingencyType":"OCO","listStatusType":"EXEC_STARTED",
      "listOrderStatus":"EXECUTING","listClientOrderId":"lH1YDkuQKWiXVXHPSKYEIp",
      "transactionTime":1710485608839,"symbol":"LTCBTC",
      "orders":[{"symbol":"LTCBTC","orderId":10,"clientOrderId":"44nZvqpemY7sVYgPYbvPih"},
                {"symbol":"LTCBTC","orderId":11,"clientOrderId":"NuMp0nVYnciDiFmVqfpBqK"}],
      "orderReports":[
        {"symbol":"LTCBTC","orderId":10,"orderListId":1,"clientOrderId":"44nZvqpemY7sVYgPYbvPih",
         "transactTime":1710485608839,"price":"1.00000000","origQty":"5.00000000","executedQty":"0.00000000",
         "origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC",
         "type":"STOP_LOSS_LIMIT","side":"SELL","stopPrice":"1.00000000","workingTime":-1,
         "icebergQty":"1.00000000","selfTradePreventionMode":"NONE"},
        {"symbol":"LTCBTC","orderId":11,"orderListId":1,"clientOrderId":"NuMp0nVYnciDiFmVqfpBqK",
         "transactTime":1710485608839,"price":"3.00000000","origQty":"5.00000000","executedQty":"0.00000000",
         "origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC",
         "type":"LIMIT_MAKER","side":"SELL","workingTime":1710485608839,"selfTradePreventionMode":"NONE"}]}"#;

    /// Binance's documented reply to `GET /api/v3/orderList`: no reports.
    const QUERIED: &str = r#"{"orderListId":27,"contingencyType":"OCO","listStatusType":"EXEC_STARTED",
      "listOrderStatus":"EXECUTING","listClientOrderId":"h2USkA5YQpaXHPIrkd96xE",
      "transactionTime":1565245656253,"symbol":"LTCBTC",
      "orders":[{"symbol":"LTCBTC","orderId":4,"clientOrderId":"qD1gy3kc3Gx0rihm9Y3xwS"},
                {"symbol":"LTCBTC","orderId":5,"clientOrderId":"ARzZ9I00CPM8i3NhmU9Ega"}]}"#;

    #[test]
    fn a_placed_oco_parses_with_both_legs_reports() {
        let list: OrderList = serde_json::from_str(PLACED).expect("parses");
        assert_eq!(list.order_list_id, 1);
        assert!(!list.is_done());
        let stop = list.report("44nZvqpemY7sVYgPYbvPih").expect("the stop leg");
        assert_eq!(stop.kind(), Some(super::super::OrderType::StopLossLimit));
        assert_eq!(stop.stop_price, Some(Decimal::ONE));
        assert_eq!(stop.order_list_id, 1);
        assert!(stop.in_order_list());
        let limit = list
            .report("NuMp0nVYnciDiFmVqfpBqK")
            .expect("the limit leg");
        assert_eq!(limit.order_type, "LIMIT_MAKER");
        assert_eq!(limit.price, Decimal::from(3));
        assert_eq!(limit.stop_price, None);
        assert_eq!(list.executed_qty(), Decimal::ZERO);
    }

    #[test]
    fn a_queried_list_has_ids_and_no_reports() {
        let list: OrderList = serde_json::from_str(QUERIED).expect("parses");
        assert_eq!(list.orders.len(), 2);
        assert_eq!(list.orders[1].order_id, 5);
        assert!(list.order_reports.is_empty());
        assert_eq!(list.report("qD1gy3kc3Gx0rihm9Y3xwS"), None);
    }

    #[test]
    fn a_list_missing_its_status_or_with_a_bad_leg_is_an_error_naming_the_field() {
        let no_status = QUERIED.replace(r#""listOrderStatus":"EXECUTING","#, "");
        let e = serde_json::from_str::<OrderList>(&no_status).expect_err("refused");
        assert!(e.to_string().contains("listOrderStatus"), "{e}");
        let bad_qty = PLACED.replace(r#""origQty":"5.00000000""#, r#""origQty":"five""#);
        assert!(serde_json::from_str::<OrderList>(&bad_qty).is_err());
    }
}
