//! [`Credentials`]: the Binance API key and secret, read only from the
//! environment (`BINANCE_API_KEY`, `BINANCE_API_SECRET`; in a pod, from the
//! Secret named by `credentialsSecretRef`), never from a file or a flag.

use aegis_contract::config::Secret;

/// The environment variable holding the API key.
pub const API_KEY_ENV: &str = "BINANCE_API_KEY";
/// The environment variable holding the API secret.
pub const API_SECRET_ENV: &str = "BINANCE_API_SECRET";

/// Why live trading cannot start: credentials are missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "orchestrator.mode live needs the Binance API key and secret in the environment \
     variables {API_KEY_ENV} and {API_SECRET_ENV} (in a pod: the Secret named by \
     spec.credentialsSecretRef, keys apiKey and apiSecret); missing or empty: {missing}"
)]
pub struct MissingCredentials {
    /// The variables that are unset or empty, comma-separated.
    pub missing: String,
}

/// The API key and secret. Both print as `<redacted>`.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Sent as `X-MBX-APIKEY`.
    pub api_key: Secret,
    /// Signs requests; never sent.
    pub api_secret: Secret,
}

impl Credentials {
    /// Reads both variables from the process environment.
    pub fn from_env() -> Result<Credentials, MissingCredentials> {
        Credentials::from_values(
            std::env::var(API_KEY_ENV).ok(),
            std::env::var(API_SECRET_ENV).ok(),
        )
    }

    /// Both values, each required to be present and not blank.
    pub fn from_values(
        api_key: Option<String>,
        api_secret: Option<String>,
    ) -> Result<Credentials, MissingCredentials> {
        let present = |v: &Option<String>| v.as_ref().is_some_and(|s| !s.trim().is_empty());
        let missing: Vec<&str> = [(API_KEY_ENV, &api_key), (API_SECRET_ENV, &api_secret)]
            .into_iter()
            .filter(|(_, v)| !present(v))
            .map(|(name, _)| name)
            .collect();
        match (api_key, api_secret) {
            (Some(key), Some(secret)) if missing.is_empty() => Ok(Credentials {
                api_key: Secret::new(key.trim()),
                api_secret: Secret::new(secret.trim()),
            }),
            _ => Err(MissingCredentials {
                missing: missing.join(", "),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_missing_variable() {
        let err = Credentials::from_values(None, Some("s".into())).expect_err("no key");
        assert_eq!(err.missing, API_KEY_ENV);
        let err = Credentials::from_values(Some("k".into()), Some("  ".into())).expect_err("blank");
        assert_eq!(err.missing, API_SECRET_ENV);
        let err = Credentials::from_values(None, None).expect_err("neither");
        assert!(
            err.to_string()
                .contains("BINANCE_API_KEY, BINANCE_API_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn never_prints_the_values() {
        let c = Credentials::from_values(Some("key-AAAA".into()), Some("secret-BBBB".into()))
            .expect("both set");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("AAAA") && !shown.contains("BBBB"),
            "{shown}"
        );
        assert_eq!(c.api_secret.expose(), "secret-BBBB");
    }
}
