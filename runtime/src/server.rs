//! The role's HTTP server: `/healthz` (liveness), `/readyz` (readiness),
//! `/metrics` (Prometheus text format) and `/status` (JSON).
//!
//! **Two surfaces.** Probes and `/metrics` are open: the kubelet and
//! Prometheus need them, and they change nothing. A role with a book (the
//! orchestrator) also has a *control API* — `GET /status` (the book and the
//! exchange balances) and `POST /flatten` (sell and halt) — served by
//! [`serve_with_control`] on a listener of its own, where every request
//! must carry `Authorization: Bearer <token>` (checked in constant time by
//! [`ControlToken::authorizes`]); anything else is answered 401 and the
//! handler never runs. Its own port lets a NetworkPolicy admit only the
//! operator there. The feed's and the brain's `/status` (counters, no
//! book) stay on the open port, served by [`serve`].
//!
//! It runs on its own thread with a single-threaded tokio runtime, apart from
//! the role's main loop: a hung main loop still answers HTTP, and it is the
//! heartbeat check that turns the hang into a failing `/healthz`. A process
//! stopped whole (SIGSTOP) answers nothing, and the probe times out.
//!
//! **Bounded.** A client cannot hold the server: a request's headers must
//! arrive whole within [`HEADER_READ_TIMEOUT`] of the connection opening or
//! of the previous response (so a slowloris client and an idle keep-alive
//! connection are both closed then), and at most [`MAX_CONNECTIONS`]
//! connections are open at once — one over the cap is closed at once,
//! unanswered. Probes, Prometheus and the operator open a handful.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{oneshot, Semaphore};

use crate::control_token::ControlToken;

/// How long a client may take to send a request's headers, counted from the
/// connection opening or from the previous response: also the idle timeout
/// of a kept-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The most connections open at once; further ones are closed unanswered.
pub const MAX_CONNECTIONS: usize = 256;

/// A probe's outcome: `Ok` with what was checked, or `Err` with why it failed.
pub type Probe = Result<String, String>;

/// What a role exposes over HTTP.
pub trait Probes: Send + Sync + 'static {
    /// Liveness: the main loop makes progress.
    fn live(&self) -> Probe;
    /// Readiness: the role is doing its job (fresh data, small lag, writable ledger).
    fn ready(&self) -> Probe;
    /// The role's metrics in the Prometheus text format.
    fn metrics(&self) -> String;
    /// The role's state as JSON.
    fn status(&self) -> serde_json::Value;
    /// `POST /flatten` on the control API: close the book and halt trading.
    /// Blocking (it runs off the server's event loop). `None` (404) for a
    /// role without a book.
    fn flatten(&self) -> Option<JsonReply> {
        None
    }
}

/// The control API's listener and the token its requests must carry.
#[derive(Clone, Debug)]
pub struct ControlSurface {
    /// Where the control API listens (the orchestrator's `control_listen`).
    pub listen: SocketAddr,
    /// The bearer token.
    pub token: ControlToken,
}

/// A JSON body with its HTTP status code.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonReply {
    /// The status code (200, 409, 503, ...).
    pub code: u16,
    /// The body.
    pub body: serde_json::Value,
}

/// A running server; dropping it stops the server.
pub struct ServerHandle {
    /// The address it listens on (useful when asked for port 0).
    pub addr: SocketAddr,
    /// The control API's address, when it has one.
    pub control_addr: Option<SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds `listen` (errors come back here, at startup) and serves `probes`
/// there, `/status` included, with no control API (the feed and the brain).
pub fn serve(listen: SocketAddr, probes: Arc<dyn Probes>) -> std::io::Result<ServerHandle> {
    start(listen, probes, None)
}

/// Binds `listen` for the open surface (probes and `/metrics`) and
/// `control.listen` for the control API (`/status`, `POST /flatten`, bearer
/// token required); see the module docs.
pub fn serve_with_control(
    listen: SocketAddr,
    probes: Arc<dyn Probes>,
    control: ControlSurface,
) -> std::io::Result<ServerHandle> {
    start(listen, probes, Some(control))
}

fn start(
    listen: SocketAddr,
    probes: Arc<dyn Probes>,
    control: Option<ControlSurface>,
) -> std::io::Result<ServerHandle> {
    let open = bind(listen)?;
    let addr = open.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let mut open_app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    let (control_listener, control_app) = match control {
        Some(ControlSurface { listen, token }) => {
            let app = Router::new()
                .route("/status", get(status))
                .route("/flatten", post(flatten))
                .layer(axum::middleware::from_fn_with_state(
                    Arc::new(token),
                    require_bearer,
                ))
                .with_state(Arc::clone(&probes));
            (Some(bind(listen)?), Some(app))
        }
        None => {
            open_app = open_app.route("/status", get(status));
            (None, None)
        }
    };
    let control_addr = control_listener
        .as_ref()
        .map(std::net::TcpListener::local_addr)
        .transpose()?;
    let open_app = open_app.with_state(probes);
    let thread = std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            runtime.block_on(async move {
                let open = accept_forever(open, open_app);
                let control = async move {
                    match (control_listener, control_app) {
                        (Some(listener), Some(app)) => accept_forever(listener, app).await,
                        _ => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = stop_rx => {}
                    _ = open => {}
                    _ = control => {}
                }
            })
        })?;
    Ok(ServerHandle {
        addr,
        control_addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

fn bind(listen: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Answers 401 unless the request carries the control token; the token
/// itself is never logged.
async fn require_bearer(
    State(token): State<Arc<ControlToken>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if token.authorizes(given) {
        return next.run(request).await;
    }
    tracing::debug!(path = %request.uri().path(), "control API: request without the bearer token refused");
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"aegis-control\"")],
        Json(serde_json::json!({
            "reason": "the control API needs Authorization: Bearer <token> (see docs/security.md)"
        })),
    )
        .into_response()
}

/// Accepts connections on `listener` for as long as the server runs, each
/// served on its own task under the module's bounds (see the module docs;
/// each listener has its own connection cap, so a flood on the open port
/// cannot lock the operator out of the control API).
async fn accept_forever(listener: std::net::TcpListener, app: Router) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "http listener unusable");
            return std::future::pending().await;
        }
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = listener.accept().await;
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it
                // was taken: pause rather than spin.
                tracing::warn!(error = %e, "accepting an http connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            // A client that goes away or times out ends its connection;
            // there is nobody to report it to.
            let _ = connection.await;
            drop(slot);
        });
    }
}

type Shared = State<Arc<dyn Probes>>;

fn probe_response(probe: Probe) -> Response {
    match probe {
        Ok(text) => (StatusCode::OK, format!("ok: {text}\n")).into_response(),
        Err(text) => (StatusCode::SERVICE_UNAVAILABLE, format!("failed: {text}\n")).into_response(),
    }
}

async fn healthz(State(p): Shared) -> Response {
    probe_response(p.live())
}

async fn readyz(State(p): Shared) -> Response {
    probe_response(p.ready())
}

async fn metrics(State(p): Shared) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        p.metrics(),
    )
        .into_response()
}

async fn status(State(p): Shared) -> Response {
    let mut status = p.status();
    if let Some(object) = status.as_object_mut() {
        object.insert("pid".into(), std::process::id().into());
    }
    Json(status).into_response()
}

async fn flatten(State(p): Shared) -> Response {
    let reply = match tokio::task::spawn_blocking(move || p.flatten()).await {
        Ok(Some(reply)) => reply,
        Ok(None) => JsonReply {
            code: 404,
            body: serde_json::json!({"reason": "this role has no book to flatten"}),
        },
        Err(e) => JsonReply {
            code: 500,
            body: serde_json::json!({"reason": format!("the flatten task failed: {e}")}),
        },
    };
    let code = StatusCode::from_u16(reply.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(reply.body)).into_response()
}

/// Where a client on this machine (or in this pod) reaches a server
/// listening on `listen`: a wildcard address is reached over loopback.
pub fn reachable(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}
