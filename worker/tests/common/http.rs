//! HTTP GETs and POSTs against the roles' endpoints, through the library's
//! own client (`aegis_runtime::http_client::{http_get, http_post}`:
//! Content-Length, chunked and EOF-delimited bodies).

use std::net::SocketAddr;
use std::time::Duration;

use aegis_runtime::http_client::{self, ProbeError};

/// One HTTP answer, its body as text.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// `GET http://127.0.0.1:<port><path>`, all of it within `timeout`.
pub fn http_get(port: u16, path: &str, timeout: Duration) -> Result<Response, ProbeError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    http_client::http_get(addr, path, timeout).map(Response::from)
}

/// `POST http://127.0.0.1:<port><path>` (empty body), all of it within `timeout`.
pub fn http_post(port: u16, path: &str, timeout: Duration) -> Result<Response, ProbeError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    http_client::http_post(addr, path, timeout).map(Response::from)
}

impl From<http_client::HttpResponse> for Response {
    fn from(r: http_client::HttpResponse) -> Self {
        Response {
            status: r.status,
            content_type: r.content_type,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }
}

/// The pid a role's `/status` reports, if it answers as `role`.
pub fn status_pid(port: u16, role: &str) -> Option<u32> {
    let r = http_get(port, "/status", Duration::from_millis(300)).ok()?;
    let json: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    (json["role"] == role)
        .then(|| json["pid"].as_u64())?
        .map(|p| p as u32)
}
