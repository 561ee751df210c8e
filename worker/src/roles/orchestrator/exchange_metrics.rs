//! The exchange metrics (`aegis_orchestrator_exchange_*`): request weight,
//! errors by kind, balances; and the short labels and ban reasons they use.

use prometheus::{GaugeVec, IntCounter, IntCounterVec, IntGauge};

use aegis_exchange::RestError;
use aegis_runtime::metrics::MetricsBuilder;

/// The exchange metrics of the orchestrator (registered in every mode;
/// they stay at zero in paper mode).
pub struct ExchangeMetrics {
    pub(super) used_weight: IntGauge,
    pub(super) errors: IntCounterVec,
    pub(super) orders_sent: IntCounter,
    pub(super) balance: GaugeVec,
    pub(super) mismatch: GaugeVec,
    pub(super) unprotected: IntGauge,
    pub(super) orphans: IntGauge,
}

impl ExchangeMetrics {
    /// Registers them with `m`.
    pub fn new(m: &MetricsBuilder) -> prometheus::Result<Self> {
        Ok(ExchangeMetrics {
            used_weight: m.int_gauge(
                "exchange_used_weight",
                "Request weight used in the current minute, as Binance last reported it (X-MBX-USED-WEIGHT-1M).",
            )?,
            errors: m.counter_vec(
                "exchange_errors_total",
                "Failed exchange requests, by kind.",
                &["kind"],
            )?,
            orders_sent: m.counter(
                "exchange_orders_sent_total",
                "Order requests sent to the exchange (resends included).",
            )?,
            balance: m.gauge_vec(
                "exchange_balance",
                "The exchange balance (free + locked) of the symbol's assets, as last read.",
                &["asset"],
            )?,
            mismatch: m.gauge_vec(
                "balance_mismatch",
                "1 while the ledger holds more of the asset than the exchange account.",
                &["asset"],
            )?,
            unprotected: m.int_gauge(
                "exits_unprotected",
                "1 while a live position whose exits are due has none held on the exchange.",
            )?,
            orphans: m.int_gauge(
                "exchange_orphan_orders",
                "Open exchange orders of this ledger's ids that the ledger does not hold (found at startup; left for a person to cancel).",
            )?,
        })
    }

    pub(crate) fn error(&self, e: &RestError) {
        self.errors.with_label_values(&[error_kind(e)]).inc();
    }
}

/// A short label for each kind of [`RestError`].
pub fn error_kind(e: &RestError) -> &'static str {
    match e {
        RestError::Timestamp { .. } => "timestamp",
        RestError::BadSignature { .. } => "bad_signature",
        RestError::BadApiKey { .. } => "bad_api_key",
        RestError::FilterFailure { .. } => "filter_failure",
        RestError::InsufficientBalance { .. } => "insufficient_balance",
        RestError::OrderRejected { .. } => "order_rejected",
        RestError::UnknownOrder { .. } => "unknown_order",
        RestError::RateLimited { .. } => "rate_limited",
        RestError::Banned { .. } => "banned",
        RestError::Unknown { .. } => "status_unknown",
        RestError::Rejected { .. } => "rejected",
        RestError::Malformed { .. } => "malformed",
        RestError::ExchangeInfo(_) => "exchange_info",
        RestError::Klines(_) => "klines",
        RestError::NoCredentials => "no_credentials",
        RestError::Sign(_) => "sign",
        RestError::InsecureUrl(_) => "insecure_url",
        RestError::Redirected { .. } => "redirected",
    }
}

/// The reason of the halt an exchange ban writes.
pub fn ban_reason(e: &RestError) -> String {
    format!("exchange ban: {e}; no request is sent until orchestrator.risk.clear_halt")
}
