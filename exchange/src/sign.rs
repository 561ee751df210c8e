//! Binance SIGNED request security: the query string of a `TRADE` or
//! `USER_DATA` request, with `recvWindow` and `timestamp`, and its
//! `signature`, the lower-case hex HMAC-SHA256 of the exact string sent,
//! keyed with the API secret.
//!
//! [`Signer`] holds the keyed HMAC state (never the secret's text) and prints
//! as [`REDACTED`] in `Debug`, so neither can leak through a log line.

use std::fmt::{self, Write as _};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use aegis_contract::config::{Secret, REDACTED};

type HmacSha256 = Hmac<Sha256>;

/// Why a [`Signer`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// No API secret was given (`BINANCE_API_SECRET` is empty or unset).
    #[error("the Binance API secret is empty; set BINANCE_API_SECRET")]
    EmptySecret,
}

/// Signs Binance requests with one API secret. Cheap to use from many
/// requests: the key schedule is computed once, in [`Signer::new`].
#[derive(Clone)]
pub struct Signer {
    keyed: HmacSha256,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("secret", &REDACTED).finish()
    }
}

impl Signer {
    /// A signer for `secret`; an empty secret is refused.
    pub fn new(secret: &Secret) -> Result<Self, SignError> {
        if secret.is_empty() {
            return Err(SignError::EmptySecret);
        }
        // HMAC takes keys of any length, so this never fails; map it anyway.
        let keyed = <HmacSha256 as Mac>::new_from_slice(secret.expose().as_bytes())
            .map_err(|_| SignError::EmptySecret)?;
        Ok(Signer { keyed })
    }

    /// The signature of `payload` (the exact query string or request body):
    /// 64 lower-case hex digits.
    pub fn sign(&self, payload: &str) -> String {
        let mut out = String::with_capacity(64);
        self.sign_into(payload, &mut out);
        out
    }

    /// Appends the signature of `payload` to `out`.
    fn sign_into(&self, payload: &str, out: &mut String) {
        let mut mac = self.keyed.clone();
        mac.update(payload.as_bytes());
        push_lower_hex(&mac.finalize().into_bytes(), out);
    }

    /// The full query string of a SIGNED request: `params` in the given
    /// order (values percent-encoded where needed), then
    /// `recvWindow=<recv_window_ms>&timestamp=<timestamp_ms>`, then
    /// `&signature=<hex>` computed over everything before it. Send it as the
    /// URL query or as the `application/x-www-form-urlencoded` body, unchanged.
    ///
    /// Binance refuses a `recvWindow` above 60000 ms; the caller picks it.
    pub fn signed_query(
        &self,
        params: &[(&str, &str)],
        timestamp_ms: u64,
        recv_window_ms: u32,
    ) -> String {
        let mut query = String::with_capacity(160);
        for (name, value) in params {
            push_encoded(name, &mut query);
            query.push('=');
            push_encoded(value, &mut query);
            query.push('&');
        }
        // Writing to a String cannot fail.
        let _ = write!(
            query,
            "recvWindow={recv_window_ms}&timestamp={timestamp_ms}"
        );
        let signed_len = query.len();
        query.push_str("&signature=");
        let mut mac = self.keyed.clone();
        mac.update(&query.as_bytes()[..signed_len]);
        push_lower_hex(&mac.finalize().into_bytes(), &mut query);
        query
    }
}

/// Appends `bytes` as lower-case hex.
fn push_lower_hex(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// Appends `text` percent-encoded: every byte but `A-Z a-z 0-9 - _ . ~` as
/// `%XX` (upper-case hex, RFC 3986), the form the request carries on the wire.
fn push_encoded(text: &str, out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Binance's "SIGNED Endpoint Examples for POST
    /// /api/v3/order" (REST API documentation, request security).
    const DOC_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const DOC_QUERY: &str = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    const DOC_SIGNATURE: &str = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";

    fn doc_signer() -> Signer {
        Signer::new(&Secret::new(DOC_SECRET)).expect("non-empty secret")
    }

    #[test]
    fn signs_binance_documented_example() {
        assert_eq!(doc_signer().sign(DOC_QUERY), DOC_SIGNATURE);
    }

    #[test]
    fn builds_the_documented_query_and_appends_its_signature() {
        let params = [
            ("symbol", "LTCBTC"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "0.1"),
        ];
        let query = doc_signer().signed_query(&params, 1_499_827_319_559, 5000);
        assert_eq!(query, format!("{DOC_QUERY}&signature={DOC_SIGNATURE}"));
    }

    #[test]
    fn signature_depends_on_every_byte_and_the_secret() {
        let signer = doc_signer();
        let changed = DOC_QUERY.replace("quantity=1", "quantity=2");
        assert_ne!(signer.sign(&changed), DOC_SIGNATURE);
        let other = Signer::new(&Secret::new("another-secret")).expect("non-empty secret");
        assert_ne!(other.sign(DOC_QUERY), DOC_SIGNATURE);
        let sig = signer.sign("");
        assert_eq!(sig.len(), 64);
        assert!(sig
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn values_are_percent_encoded_and_signed_as_sent() {
        let signer = doc_signer();
        let query = signer.signed_query(&[("newClientOrderId", "a b&c=d/é")], 7, 1000);
        let (signed, signature) = query.split_once("&signature=").expect("signature appended");
        assert_eq!(
            signed,
            "newClientOrderId=a%20b%26c%3Dd%2F%C3%A9&recvWindow=1000&timestamp=7"
        );
        assert_eq!(signature, signer.sign(signed));
    }

    #[test]
    fn empty_secret_is_refused_with_the_variable_named() {
        let err = Signer::new(&Secret::new("")).expect_err("empty secret");
        assert_eq!(err, SignError::EmptySecret);
        assert!(err.to_string().contains("BINANCE_API_SECRET"));
    }

    #[test]
    fn no_type_holding_the_secret_prints_it() {
        let secret = Secret::new(DOC_SECRET);
        let signer = doc_signer();
        for shown in [
            format!("{secret:?}"),
            format!("{secret}"),
            format!("{signer:?}"),
            format!("{signer:#?}"),
        ] {
            assert!(!shown.contains(&DOC_SECRET[..12]), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
    }
}
