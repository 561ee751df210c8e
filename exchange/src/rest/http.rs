//! The transport under [`super::BinanceRest`]: one blocking HTTP request
//! with `ureq` (rustls TLS), the `X-MBX-USED-WEIGHT-1M` header recorded, and
//! the reply's status and Binance error body turned into a [`RestError`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use ureq::http::Response;
use ureq::Body;

use super::error::RestError;

/// The HTTP method of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Post,
    Delete,
}

/// A blocking HTTP agent that never turns statuses into errors itself.
pub(super) fn agent(timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build();
    ureq::Agent::new_with_config(config)
}

/// Binance's error body.
#[derive(Deserialize)]
struct ErrorBody {
    code: i64,
    msg: String,
}

/// Sends one request; the body of a 2XX reply. For `Post` the query goes
/// in the form body, otherwise in the URL.
pub(super) fn send(
    agent: &ureq::Agent,
    base_url: &str,
    method: Method,
    path: &str,
    query: &str,
    api_key: Option<&str>,
    used_weight: &AtomicU64,
) -> Result<Vec<u8>, RestError> {
    let url = if query.is_empty() || method == Method::Post {
        format!("{base_url}{path}")
    } else {
        format!("{base_url}{path}?{query}")
    };
    let sent = match method {
        Method::Get => with_key(agent.get(&url), api_key).call(),
        Method::Delete => with_key(agent.delete(&url), api_key).call(),
        Method::Post => with_key(agent.post(&url), api_key)
            .content_type("application/x-www-form-urlencoded")
            .send(query),
    };
    let mut reply = sent.map_err(|e| RestError::Unknown {
        reason: format!("{path}: {e}"),
    })?;
    record_weight(&reply, used_weight);
    let status = reply.status().as_u16();
    let body = reply
        .body_mut()
        .read_to_vec()
        .map_err(|e| RestError::Unknown {
            reason: format!("{path}: reading the reply: {e}"),
        })?;
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let retry_after = reply
        .headers()
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let error: Option<ErrorBody> = serde_json::from_slice(&body).ok();
    Err(match (status, error) {
        (429, _) => RestError::RateLimited {
            retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
        },
        (418, _) => RestError::Banned { retry_after },
        (500.., e) => RestError::Unknown {
            reason: format!(
                "{path}: HTTP {status}{}",
                e.map_or(String::new(), |e| format!(", code {}: {}", e.code, e.msg))
            ),
        },
        (_, Some(e)) => RestError::from_code(status, e.code, e.msg),
        (_, None) => RestError::Rejected {
            status,
            code: 0,
            msg: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    })
}

fn with_key<B>(request: ureq::RequestBuilder<B>, api_key: Option<&str>) -> ureq::RequestBuilder<B> {
    match api_key {
        Some(key) => request.header("X-MBX-APIKEY", key),
        None => request,
    }
}

fn record_weight(reply: &Response<Body>, used_weight: &AtomicU64) {
    let weight = reply
        .headers()
        .get("X-MBX-USED-WEIGHT-1M")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(weight) = weight {
        // Relaxed: a standalone gauge; nothing else is published with it.
        used_weight.store(weight, Ordering::Relaxed);
    }
}
