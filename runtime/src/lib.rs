//! `aegis-runtime`: what every AEGIS process (the roles, `up` and the
//! operator) runs on: logging ([`telemetry`]), the stop signal
//! ([`shutdown`]), the loop heartbeat behind liveness ([`heartbeat`]), the
//! HTTP server for `/healthz`, `/readyz`, `/metrics`, `/status` and the
//! control API's `POST /flatten` ([`server`]), the control API's bearer
//! token ([`control_token`]), the one small HTTP client that probes and
//! polls them ([`http_client`]), Prometheus metrics ([`metrics`]), restart
//! backoff ([`backoff`]), files replaced durably ([`durable`]),
//! directories no other user can hijack ([`dirs`]) and durations as text
//! ([`display`]).
//!
//! It knows the configuration's logging section (from `aegis-contract`) and
//! nothing of trading: no strategy, book, ledger or exchange belongs here.

pub mod backoff;
pub mod control_token;
pub mod dirs;
pub mod display;
pub mod durable;
pub mod heartbeat;
pub mod http_client;
pub mod metrics;
pub mod server;
pub mod shutdown;
pub mod telemetry;

pub use control_token::ControlToken;
pub use heartbeat::Heartbeat;
pub use server::{
    serve, serve_with_control, ControlSurface, JsonReply, Probe, Probes, ServerHandle,
};
pub use shutdown::StopFlag;
