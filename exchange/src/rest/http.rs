//! The transport under [`super::BinanceRest`]: one blocking HTTP request
//! with `ureq` (rustls TLS), the `X-MBX-USED-WEIGHT-1M` header recorded, and
//! the reply's status and Binance error body turned into a [`RestError`].
//!
//! Redirects are never followed: a 3XX is [`RestError::Redirected`], naming
//! the status and the `Location`, so a signed request (and the API key in
//! its header) only ever goes to the configured base URL. A plain-text
//! `http://` base is refused unless it is a loopback address
//! ([`aegis_contract::endpoint`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use ureq::http::Response;
use ureq::Body;

use super::error::RestError;
use aegis_contract::endpoint::{self, UrlKind};

/// The HTTP method of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Method {
    Get,
    Post,
    Delete,
}

/// A blocking HTTP agent that never turns statuses into errors itself and
/// follows no redirects.
pub(super) fn agent(timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
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
    endpoint::check(base_url, UrlKind::Rest)?;
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
    if (300..400).contains(&status) {
        let location = reply
            .headers()
            .get("Location")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        return Err(RestError::Redirected {
            path: path.to_string(),
            status,
            location,
        });
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// Reads one request's head from `listener` and answers `reply`.
    fn answer_once(listener: TcpListener, reply: String) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let Ok((mut conn, _)) = listener.accept() else {
                return String::new();
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = conn.write_all(reply.as_bytes());
            String::from_utf8_lossy(&head).into_owned()
        })
    }

    #[test]
    fn a_redirect_is_an_error_naming_the_status_and_location_and_is_not_followed() {
        let evil = TcpListener::bind("127.0.0.1:0").expect("bind");
        evil.set_nonblocking(true).expect("nonblocking");
        let evil_url = format!(
            "http://127.0.0.1:{}/steal",
            evil.local_addr().expect("addr").port()
        );
        let server = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", server.local_addr().expect("addr"));
        let handle = answer_once(
            server,
            format!(
                "HTTP/1.1 302 Found\r\nLocation: {evil_url}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        );
        let weight = AtomicU64::new(0);
        let err = send(
            &agent(Duration::from_secs(5)),
            &base,
            Method::Get,
            "/api/v3/account",
            "signature=abc",
            Some("the-api-key"),
            &weight,
        )
        .expect_err("a redirect is an error");
        let request = handle.join().expect("the server thread");
        assert!(request.starts_with("GET /api/v3/account"), "{request}");
        match &err {
            RestError::Redirected {
                status, location, ..
            } => {
                assert_eq!(*status, 302);
                assert_eq!(location.as_deref(), Some(evil_url.as_str()));
            }
            other => panic!("not Redirected: {other}"),
        }
        let text = err.to_string();
        assert!(text.contains("302") && text.contains(&evil_url), "{text}");
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            matches!(evil.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the redirect's Location was requested"
        );
    }

    #[test]
    fn a_plain_text_url_to_another_host_is_refused_before_sending() {
        let weight = AtomicU64::new(0);
        let err = send(
            &agent(Duration::from_secs(1)),
            "http://api.binance.com",
            Method::Get,
            "/api/v3/time",
            "",
            Some("the-api-key"),
            &weight,
        )
        .expect_err("refused");
        assert!(matches!(err, RestError::InsecureUrl(_)), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("http://api.binance.com") && text.contains("loopback"),
            "{text}"
        );
    }
}
