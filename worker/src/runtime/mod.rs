//! What every role process shares: logging ([`telemetry`]), the stop signal
//! ([`shutdown`]), the loop heartbeat behind liveness ([`heartbeat`]), and the
//! HTTP server for `/healthz`, `/readyz`, `/metrics`, `/status` and
//! `POST /flatten` ([`server`]), files replaced durably ([`durable`]) and
//! directories no other user can hijack ([`dirs`]).

pub mod dirs;
pub mod durable;
pub mod heartbeat;
pub mod metrics;
pub mod server;
pub mod shutdown;
pub mod telemetry;

pub use heartbeat::Heartbeat;
pub use server::{serve, JsonReply, Probe, Probes, ServerHandle};
pub use shutdown::StopFlag;
