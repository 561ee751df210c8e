//! Talking to an engine's orchestrator over its control API: where it
//! answers (the pod's IP and the orchestrator container's port named
//! [`CONTROL_PORT_NAME`]), `GET /status` for the trading summary, and
//! `POST /flatten` before a delete, each with the engine's bearer token
//! (derived from the operator's key: [`crate::control_key`]).
//!
//! The requests use the runtime crate's small blocking client
//! ([`aegis_runtime::http_client`]) on tokio's blocking pool
//! (`spawn_blocking`): one client for the supervisor, the orchestrator's
//! health report and the operator. Each request is bounded by its timeout
//! (connect, write and read together), so a pool thread is held at most that
//! long: at 1,000 engines polled every [`TRADING_REFRESH`](super::TRADING_REFRESH)
//! that is about 70 polls a second, each holding a thread for at most
//! [`STATUS_TIMEOUT`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use aegis_contract::api::{FlattenRefusal, FlattenReply, OrchestratorStatus};
use aegis_runtime::http_client::{self, HttpResponse, ProbeError};
use aegis_runtime::ControlToken;
use k8s_openapi::api::core::v1::Pod;
use serde::de::DeserializeOwned;

use crate::desired::{Role, CONTROL_PORT_NAME};

/// How long a `/status` poll may take.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one `POST /flatten` may take (the orchestrator waits up to
/// [`FLATTEN_WAIT`](aegis_contract::api::FLATTEN_WAIT)
/// for its main loop).
pub const FLATTEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request to the orchestrator failed.
#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    /// No answer (refused, timed out, not HTTP).
    #[error(transparent)]
    Http(#[from] ProbeError),
    /// An answer other than 200.
    #[error("{path} on {addr} answered {status}: {reason}")]
    Refused {
        /// The orchestrator's address.
        addr: SocketAddr,
        /// The request path.
        path: &'static str,
        /// The status code.
        status: u16,
        /// The `reason` of its JSON body, else the body itself.
        reason: String,
    },
    /// A 200 whose body is not what the worker sends.
    #[error("{path} on {addr}: unexpected body: {source}")]
    Body {
        /// The orchestrator's address.
        addr: SocketAddr,
        /// The request path.
        path: &'static str,
        /// What does not fit.
        #[source]
        source: serde_json::Error,
    },
    /// The blocking task did not finish (the runtime is shutting down).
    #[error("the request task failed: {0}")]
    Task(String),
    /// The engine has no uid, so no token (it was not read from the API server).
    #[error("{path}: the engine has no uid to derive its control token from")]
    NoToken {
        /// The request path.
        path: &'static str,
    },
}

/// Where the orchestrator of `pod` answers: only while the pod is Running
/// and not being deleted, has a pod IP, and its orchestrator container is
/// running; the port is the orchestrator container's port named
/// [`CONTROL_PORT_NAME`].
pub fn orchestrator_addr(pod: &Pod) -> Option<SocketAddr> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") {
        return None;
    }
    let ip: IpAddr = status.pod_ip.as_deref()?.parse().ok()?;
    let name = Role::Orchestrator.name();
    let running = status
        .container_statuses
        .as_deref()?
        .iter()
        .any(|c| c.name == name && c.state.as_ref().is_some_and(|s| s.running.is_some()));
    if !running {
        return None;
    }
    let port = pod
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == name)?
        .ports
        .as_deref()?
        .iter()
        .find(|p| p.name.as_deref() == Some(CONTROL_PORT_NAME))?
        .container_port;
    Some(SocketAddr::new(ip, u16::try_from(port).ok()?))
}

/// `GET /status` of the orchestrator at `addr`, with the engine's `token`.
pub async fn fetch_status(
    addr: SocketAddr,
    token: Option<ControlToken>,
) -> Result<OrchestratorStatus, OrchestratorError> {
    let path = "/status";
    let token = token.ok_or(OrchestratorError::NoToken { path })?;
    let response =
        blocking(move || http_client::control_request("GET", addr, path, &token, STATUS_TIMEOUT))
            .await?;
    parse(addr, path, &response)
}

/// One `POST /flatten` to the orchestrator at `addr`, with the engine's `token`.
pub async fn flatten(
    addr: SocketAddr,
    token: Option<ControlToken>,
) -> Result<FlattenReply, OrchestratorError> {
    let path = "/flatten";
    let token = token.ok_or(OrchestratorError::NoToken { path })?;
    let response =
        blocking(move || http_client::control_request("POST", addr, path, &token, FLATTEN_TIMEOUT))
            .await?;
    parse(addr, path, &response)
}

async fn blocking(
    request: impl FnOnce() -> Result<HttpResponse, ProbeError> + Send + 'static,
) -> Result<HttpResponse, OrchestratorError> {
    tokio::task::spawn_blocking(request)
        .await
        .map_err(|e| OrchestratorError::Task(e.to_string()))?
        .map_err(OrchestratorError::from)
}

fn parse<T: DeserializeOwned>(
    addr: SocketAddr,
    path: &'static str,
    response: &HttpResponse,
) -> Result<T, OrchestratorError> {
    if response.status != 200 {
        let reason = serde_json::from_slice::<FlattenRefusal>(&response.body)
            .map(|r| r.reason)
            .unwrap_or_else(|_| String::from_utf8_lossy(&response.body).into_owned())
            .chars()
            .take(200)
            .collect();
        return Err(OrchestratorError::Refused {
            addr,
            path,
            status: response.status,
            reason,
        });
    }
    serde_json::from_slice(&response.body).map_err(|source| OrchestratorError::Body {
        addr,
        path,
        source,
    })
}
