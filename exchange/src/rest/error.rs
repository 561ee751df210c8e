//! [`RestError`]: what a Binance REST request can end in, typed by the
//! documented error codes the engine meets, with whether to retry.
//!
//! No variant carries the API key or secret: messages hold Binance's own
//! `msg` text, HTTP statuses and transport descriptions only.

use std::time::Duration;

use super::super::{ExchangeInfoError, KlineError, SignError};
use aegis_runtime::display::seconds_text;

/// A failed Binance REST request.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// -1021 again after a time resync and one retry.
    #[error(
        "Binance refused the request timestamp (-1021) even after resyncing the server time: {msg}"
    )]
    Timestamp {
        /// Binance's message.
        msg: String,
    },
    /// -1022: the signature does not match; the API secret is wrong.
    #[error("Binance refused the request signature (-1022): BINANCE_API_SECRET does not belong to BINANCE_API_KEY ({msg})")]
    BadSignature {
        /// Binance's message.
        msg: String,
    },
    /// -2014 / -2015: the API key is malformed, unknown, or lacks the
    /// permission (or IP) for the request.
    #[error("Binance refused the API key ({code}): check BINANCE_API_KEY, its permissions and IP restrictions ({msg})")]
    BadApiKey {
        /// -2014 or -2015.
        code: i64,
        /// Binance's message.
        msg: String,
    },
    /// -1013: the order fails a symbol filter (`LOT_SIZE`, `NOTIONAL`, ...).
    #[error("Binance refused the order by a symbol filter (-1013): {msg}")]
    FilterFailure {
        /// Binance's message, naming the filter.
        msg: String,
    },
    /// -2010 "insufficient balance": never retried.
    #[error("Binance refused the order: insufficient balance (-2010): {msg}")]
    InsufficientBalance {
        /// Binance's message.
        msg: String,
    },
    /// -2010 for another reason (e.g. "Duplicate order sent.").
    #[error("Binance rejected the new order (-2010): {msg}")]
    OrderRejected {
        /// Binance's message.
        msg: String,
    },
    /// -2011: cancelling an order the exchange does not hold open.
    #[error("Binance knows no open order to cancel (-2011): {msg}")]
    UnknownOrder {
        /// Binance's message.
        msg: String,
    },
    /// HTTP 429: over the request rate; wait `retry_after` before any
    /// further request (repeated 429s lead to an IP ban).
    #[error("Binance rate limit hit (HTTP 429): wait {} before the next request", seconds_text(*.retry_after))]
    RateLimited {
        /// From the `Retry-After` header.
        retry_after: Duration,
    },
    /// HTTP 418: the IP is banned. Halt trading; do not send more requests.
    #[error("Binance banned this IP (HTTP 418, {}): trading must halt", ban_wait(*.retry_after))]
    Banned {
        /// From the `Retry-After` header, when sent.
        retry_after: Option<Duration>,
    },
    /// A 5XX reply, a timeout or a broken connection: the request may or may
    /// not have been carried out. For an order, query it by client order id
    /// before sending it again; never resend blindly.
    #[error("Binance request status unknown ({reason}): query the order before resending")]
    Unknown {
        /// What happened.
        reason: String,
    },
    /// Any other Binance error code (e.g. -1100s, bad parameters).
    #[error("Binance refused the request (HTTP {status}, code {code}): {msg}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Binance's code.
        code: i64,
        /// Binance's message.
        msg: String,
    },
    /// A reply that is not what the endpoint documents.
    #[error("unexpected Binance reply to {endpoint}: {detail}")]
    Malformed {
        /// The endpoint.
        endpoint: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The `exchangeInfo` reply did not hold usable filters.
    #[error(transparent)]
    ExchangeInfo(#[from] ExchangeInfoError),
    /// The `klines` reply did not parse.
    #[error("unusable Binance klines reply: {0}")]
    Klines(#[from] KlineError),
    /// A SIGNED request from a market-data-only client.
    #[error("a signed Binance request needs BINANCE_API_KEY and BINANCE_API_SECRET; this client has none")]
    NoCredentials,
    /// The client could not be built (empty secret).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The base URL is plain-text `http://` to a host that is not this
    /// machine (see [`aegis_contract::endpoint`]); nothing was sent.
    #[error("refusing the Binance REST URL: {0}")]
    InsecureUrl(#[from] aegis_contract::endpoint::EndpointError),
    /// A 3XX reply: redirects are never followed (a signed request goes
    /// only to the configured base URL). A proxy or a wrong base URL.
    #[error("Binance request {path} was redirected (HTTP {status}) to {}; redirects are not followed: check exchange.rest_url", location.as_deref().unwrap_or("no Location"))]
    Redirected {
        /// The request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The `Location` header, when sent.
        location: Option<String>,
    },
}

/// A ban's wait: `retry after 120 s`, or that Binance gave none.
fn ban_wait(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("retry after {}", seconds_text(wait)),
        None => "no Retry-After given".into(),
    }
}

impl RestError {
    /// Whether the same request may be sent again (after
    /// [`RestError::retry_after`] when given). False for every refusal that
    /// would repeat (balance, signature, key, filters), for a ban, and for
    /// [`RestError::Unknown`], which needs a query first.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            RestError::RateLimited { .. } | RestError::Timestamp { .. }
        )
    }

    /// How long to wait before the next request, when Binance said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RestError::RateLimited { retry_after } => Some(*retry_after),
            RestError::Banned { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Whether the request's effect is unknown (5XX, timeout): query before
    /// resending an order.
    pub fn status_unknown(&self) -> bool {
        matches!(self, RestError::Unknown { .. })
    }

    /// Whether trading must halt (IP ban).
    pub fn must_halt(&self) -> bool {
        matches!(self, RestError::Banned { .. })
    }

    /// The error for a Binance `{"code","msg"}` reply with HTTP `status`.
    pub(super) fn from_code(status: u16, code: i64, msg: String) -> Self {
        match code {
            -1021 => RestError::Timestamp { msg },
            -1022 => RestError::BadSignature { msg },
            -2014 | -2015 => RestError::BadApiKey { code, msg },
            -1013 => RestError::FilterFailure { msg },
            -2010 if msg.to_ascii_lowercase().contains("insufficient balance") => {
                RestError::InsufficientBalance { msg }
            }
            -2010 => RestError::OrderRejected { msg },
            -2011 => RestError::UnknownOrder { msg },
            _ => RestError::Rejected { status, code, msg },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_seconds_not_rust_debug_text() {
        let banned = RestError::Banned {
            retry_after: Some(Duration::from_secs(120)),
        };
        assert_eq!(
            banned.to_string(),
            "Binance banned this IP (HTTP 418, retry after 120s): trading must halt"
        );
        let unknown = RestError::Banned { retry_after: None }.to_string();
        assert!(unknown.contains("no Retry-After given"), "{unknown}");
        let limited = RestError::RateLimited {
            retry_after: Duration::from_millis(1500),
        }
        .to_string();
        assert!(limited.contains("wait 1.5s before"), "{limited}");
        for text in [banned.to_string(), unknown, limited] {
            assert!(
                !text.contains("Some(") && !text.contains("None") && !text.contains("ms)"),
                "{text}"
            );
        }
    }
}
