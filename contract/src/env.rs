//! Names the processes and the operator agree on outside the configuration
//! file: the environment variables that carry the exchange credentials.

/// The environment variable holding the Binance API key (in a pod: the
/// Secret named by `spec.credentialsSecretRef`, key `apiKey`).
pub const API_KEY_ENV: &str = "BINANCE_API_KEY";
/// The environment variable holding the Binance API secret (key `apiSecret`).
pub const API_SECRET_ENV: &str = "BINANCE_API_SECRET";
