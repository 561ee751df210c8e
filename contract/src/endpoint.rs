//! Which exchange URLs an engine may talk to: TLS (`https://`, `wss://`) to
//! any host, plain text (`http://`, `ws://`) only to this machine — a
//! loopback address (`127.0.0.0/8`, `::1`) or `localhost`, where the exchange
//! simulator runs. A plain URL to any other host would send the API key,
//! signed orders and the market data the engine trades on in the clear, to
//! be read or changed by anyone on the path.
//!
//! The configuration check ([`crate::config::Config::validate`]) and both
//! exchange clients (REST and stream) apply [`check`], so a bad URL is an
//! error at startup and can never be used even by code that skipped it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The two kinds of exchange URL and their schemes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlKind {
    /// The REST API: `https://`, or `http://` to loopback.
    Rest,
    /// The WebSocket stream: `wss://`, or `ws://` to loopback.
    Stream,
}

impl UrlKind {
    /// `(secure, plain)` schemes, with `://`.
    fn schemes(self) -> (&'static str, &'static str) {
        match self {
            UrlKind::Rest => ("https://", "http://"),
            UrlKind::Stream => ("wss://", "ws://"),
        }
    }
}

/// Why an exchange URL is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Neither the secure nor the plain scheme.
    #[error("{url:?} must start with {secure} (or {plain} to a loopback address)")]
    Scheme {
        /// The URL.
        url: String,
        /// The TLS scheme.
        secure: &'static str,
        /// The plain-text scheme.
        plain: &'static str,
    },
    /// No host after the scheme.
    #[error("{url:?} names no host")]
    NoHost {
        /// The URL.
        url: String,
    },
    /// A plain-text URL to a host that is not this machine.
    #[error(
        "{url:?}: {plain} is unencrypted (keys, orders and prices readable and changeable on the way), \
         so it is allowed only to a loopback address (127.0.0.0/8, ::1, localhost), not to {host:?}; \
         use {secure}"
    )]
    PlainToRemote {
        /// The URL.
        url: String,
        /// Its host.
        host: String,
        /// The plain-text scheme.
        plain: &'static str,
        /// The TLS scheme to use instead.
        secure: &'static str,
    },
}

/// Checks that `url` is a TLS URL of `kind`, or a plain-text one to a
/// loopback host (see the module docs).
pub fn check(url: &str, kind: UrlKind) -> Result<(), EndpointError> {
    let (secure, plain) = kind.schemes();
    let lower = url.get(..secure.len()).map(str::to_ascii_lowercase);
    if lower.as_deref() == Some(secure) {
        return host(url, secure.len()).map(|_| ());
    }
    let lower = url.get(..plain.len()).map(str::to_ascii_lowercase);
    if lower.as_deref() != Some(plain) {
        return Err(EndpointError::Scheme {
            url: url.into(),
            secure,
            plain,
        });
    }
    let host = host(url, plain.len())?;
    if is_loopback(&host) {
        Ok(())
    } else {
        Err(EndpointError::PlainToRemote {
            url: url.into(),
            host,
            plain,
            secure,
        })
    }
}

/// The host of `url`, whose scheme is `scheme_len` bytes long: the
/// authority without user information and port, IPv6 brackets removed.
fn host(url: &str, scheme_len: usize) -> Result<String, EndpointError> {
    let rest = url.get(scheme_len..).unwrap_or_default();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // User information ends at the last '@': `http://127.0.0.1@evil` is evil.
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(EndpointError::NoHost { url: url.into() });
    }
    Ok(host.to_string())
}

/// Whether `host` is this machine: `localhost`, `127.0.0.0/8` or `::1`
/// (also as an IPv4-mapped IPv6 address).
fn is_loopback(host: &str) -> bool {
    if host.trim_end_matches('.').eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return v4.is_loopback();
    }
    match host.parse::<Ipv6Addr>() {
        Ok(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_urls_are_allowed_to_any_host() {
        check("https://api.binance.com", UrlKind::Rest).expect("https");
        check("HTTPS://testnet.binance.vision/api", UrlKind::Rest).expect("any case");
        check("wss://stream.binance.com:9443/ws", UrlKind::Stream).expect("wss");
    }

    #[test]
    fn plain_urls_are_allowed_to_loopback_only() {
        for url in [
            "http://127.0.0.1:8900",
            "http://127.1.2.3/api",
            "http://localhost:8900",
            "http://LOCALHOST./x",
            "http://[::1]:8900",
            "http://[::ffff:127.0.0.1]:1",
        ] {
            check(url, UrlKind::Rest).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        check("ws://127.0.0.1:8900/ws", UrlKind::Stream).expect("ws to loopback");
        for url in [
            "http://api.binance.com",
            "http://10.0.0.1:8900",
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1@evil.example/",
            "http://[::2]:80",
            "http://0.0.0.0:8900",
            "http://localhost.evil.example",
        ] {
            let e = check(url, UrlKind::Rest).expect_err(url);
            let text = e.to_string();
            assert!(
                matches!(e, EndpointError::PlainToRemote { .. })
                    && text.contains(url)
                    && text.contains("loopback")
                    && text.contains("https://"),
                "{text}"
            );
        }
        let e = check("ws://stream.example:80/ws", UrlKind::Stream).expect_err("ws remote");
        assert!(e.to_string().contains("use wss://"), "{e}");
    }

    #[test]
    fn other_schemes_and_missing_hosts_are_refused() {
        let e = check("ftp://127.0.0.1", UrlKind::Rest).expect_err("ftp");
        assert!(matches!(e, EndpointError::Scheme { .. }), "{e}");
        let e = check("wss://x/ws", UrlKind::Rest).expect_err("a stream URL for REST");
        assert!(matches!(e, EndpointError::Scheme { .. }), "{e}");
        let e = check("http:///api", UrlKind::Rest).expect_err("no host");
        assert!(matches!(e, EndpointError::NoHost { .. }), "{e}");
        let e = check("ws://", UrlKind::Stream).expect_err("no host");
        assert!(matches!(e, EndpointError::NoHost { .. }), "{e}");
    }
}
