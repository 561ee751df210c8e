//! The role's HTTP server: `/healthz` (liveness), `/readyz` (readiness),
//! `/metrics` (Prometheus text format), `/status` (JSON) and, for a role
//! with a book (the orchestrator), `POST /flatten` (JSON; other methods get
//! 405, other roles 404).
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
    /// `POST /flatten`: close the book and halt trading. Blocking (it runs
    /// off the server's event loop). `None` (404) for a role without a book.
    fn flatten(&self) -> Option<JsonReply> {
        None
    }
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

/// Binds `listen` (errors come back here, at startup) and serves `probes`.
pub fn serve(listen: SocketAddr, probes: Arc<dyn Probes>) -> std::io::Result<ServerHandle> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/flatten", post(flatten))
        .with_state(probes);
    let thread = std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "http listener unusable");
                        return;
                    }
                };
                accept_until(listener, app, stop_rx).await;
            })
        })?;
    Ok(ServerHandle {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// Accepts connections until `stop`, each served on its own task under the
/// module's bounds (see the module docs).
async fn accept_until(
    listener: tokio::net::TcpListener,
    app: Router,
    mut stop: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
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
