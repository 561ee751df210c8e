//! `spec.exits` and `spec.entryOrder`: the protective exits and the entry
//! order type of an engine, as a TradingEngine spells them (camelCase,
//! numbers). The operator hands them to the worker's configuration
//! (`orchestrator.exits`, `orchestrator.entry_order`), where the contract
//! checks them once more before any pod exists.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema;

/// Protective exits held for every position (all optional).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(
    validation = Rule::new("!has(self.stopLoss) || !has(self.atrMultiple)").message("set exits.stopLoss or exits.atrMultiple, not both"),
    validation = Rule::new("!has(self.trailingAfter) || has(self.trailingStop)").message("exits.trailingAfter needs exits.trailingStop")
)]
#[serde(rename_all = "camelCase")]
pub struct ExitsSpec {
    /// Stop-loss, a fraction of the entry price (0.02: 2 % below a long's entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::stop_fraction")]
    pub stop_loss: Option<f64>,
    /// Stop-loss as this many ATRs from the entry (instead of `stopLoss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::atr_multiple")]
    pub atr_multiple: Option<f64>,
    /// The ATR period of `atrMultiple` (default 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::period")]
    pub atr_period: Option<i64>,
    /// Take-profit, a fraction of the entry price (0.05: 5 % above a long's entry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::take_profit")]
    pub take_profit: Option<f64>,
    /// Take-profit by minutes held, in increasing `afterMinutes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub take_profit_table: Vec<TakeProfitStepSpec>,
    /// Trailing stop, a fraction below the best price since the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::stop_fraction")]
    pub trailing_stop: Option<f64>,
    /// The trailing stop starts once the best price is this fraction past the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::profit_or_zero")]
    pub trailing_after: Option<f64>,
}

/// One row of `exits.takeProfitTable`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TakeProfitStepSpec {
    /// Minutes held from which the row applies.
    #[schemars(schema_with = "schema::minutes")]
    pub after_minutes: i64,
    /// The take-profit from then on, a fraction of the entry price (0: break-even).
    #[schemars(schema_with = "schema::profit_or_zero")]
    pub profit: f64,
}

/// How a position is entered.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum EntryOrderKind {
    /// A market order at the next bar's open.
    #[default]
    Market,
    /// A limit order `offset` better than the signal bar's close.
    Limit,
}

/// The order that opens a position.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EntryOrderSpec {
    /// `market` (default) or `limit`.
    #[serde(default, rename = "type")]
    pub order_type: EntryOrderKind,
    /// Limit: how far better than the close, a fraction (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::limit_offset")]
    pub offset: Option<f64>,
    /// Limit: bars it rests before it is cancelled (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::ttl_bars")]
    pub ttl_bars: Option<i64>,
}
