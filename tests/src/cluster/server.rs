//! The HTTP server: binds on loopback, turns HTTP requests into
//! [`handlers::Request`]s, and shuts down gracefully on request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::oneshot;

use super::error::ApiError;
use super::handlers::{self, Reply, Request};
use super::state::Shared;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding or reading the socket address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running server.
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting requests and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Open watches keep connections alive; do not wait for them forever.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.task).await;
        self.task.abort();
    }
}

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    address: String,
}

fn json_response(code: u16, body: &serde_json::Value) -> Response {
    typed_json_response(code, body, "application/json")
}

fn typed_json_response(code: u16, body: &serde_json::Value, content_type: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(super::encode::body(body)))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn entry(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: HashMap<String, String> =
        match serde_urlencoded::from_str::<Vec<(String, String)>>(uri.query().unwrap_or("")) {
            Ok(pairs) => pairs.into_iter().collect(),
            Err(e) => {
                let err = ApiError::bad_request(format!("invalid query string: {e}"));
                return json_response(err.code, &err.to_status());
            }
        };
    let req = Request {
        method,
        path: uri.path().to_string(),
        query,
        headers,
        body,
        server_address: app.address.clone(),
    };
    match handlers::handle(app.shared.clone(), req).await {
        Reply::Json(code, v) => json_response(code, &v),
        Reply::JsonAs(code, v, content_type) => typed_json_response(code, &v, content_type),
        Reply::Text(code, t) => Response::builder()
            .status(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(t))
            .unwrap_or_else(|_| Response::new(Body::empty())),
        Reply::Watch(stream) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::TRANSFER_ENCODING, "chunked")
            .body(Body::from_stream(stream.map(Ok::<_, Infallible>)))
            .unwrap_or_else(|_| Response::new(Body::empty())),
    }
}

/// Serves `shared` on `addr` (use port 0 for any free port).
pub async fn start(shared: Arc<Shared>, addr: SocketAddr) -> Result<RunningServer, ServerError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let app = App {
        shared,
        address: bound.to_string(),
    };
    let router = axum::Router::new().fallback(entry).with_state(app);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(RunningServer {
        addr: bound,
        shutdown: Some(tx),
        task,
    })
}
