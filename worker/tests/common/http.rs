//! HTTP GETs and POSTs against the roles' endpoints, through the library's
//! own client (`aegis_runtime::http_client::{http_get, http_post,
//! control_request}`: Content-Length, chunked and EOF-delimited bodies), and
//! the orchestrator's control API with its bearer token ([`Control`]).

use std::net::SocketAddr;
use std::time::Duration;

use aegis_runtime::http_client::{self, ProbeError};
use aegis_runtime::ControlToken;

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

/// An orchestrator's control API on 127.0.0.1: its port and its token.
#[derive(Clone, Debug)]
pub struct Control {
    pub port: u16,
    pub token: ControlToken,
}

impl Control {
    /// The control API of `up --port-base <base>` run in `rings` (port
    /// base+3, the token in `<rings>/control-token`).
    pub fn of_up(base: u16, rings: &std::path::Path) -> Option<Control> {
        let token = ControlToken::load(&rings.join("control-token")).ok()?;
        Some(Control {
            port: base + 3,
            token,
        })
    }

    /// `GET <path>` with the token.
    pub fn get(&self, path: &str, timeout: Duration) -> Result<Response, ProbeError> {
        self.request("GET", path, timeout)
    }

    /// `POST <path>` (empty body) with the token.
    pub fn post(&self, path: &str, timeout: Duration) -> Result<Response, ProbeError> {
        self.request("POST", path, timeout)
    }

    fn request(
        &self,
        method: &'static str,
        path: &str,
        timeout: Duration,
    ) -> Result<Response, ProbeError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        http_client::control_request(method, addr, path, &self.token, timeout).map(Response::from)
    }

    /// The orchestrator's `/status`, parsed, if it answers 200.
    pub fn status<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        let r = self.get("/status", Duration::from_secs(1)).ok()?;
        (r.status == 200).then(|| serde_json::from_str(&r.body).ok())?
    }
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

/// A control API for a standalone orchestrator listening on 127.0.0.1:`port`:
/// a fresh token written to `<dir>/control-token`, and the configuration
/// lines (under `orchestrator:`, indented two spaces) that point it there.
pub fn standalone_control(dir: &std::path::Path, port: u16) -> (Control, String) {
    let token = ControlToken::generate().expect("a token");
    let file = dir.join("control-token");
    token.store(&file).expect("writing the control token");
    let lines = format!(
        "  control_listen: 127.0.0.1:{port}\n  control_token_file: {}\n",
        file.display()
    );
    (Control { port, token }, lines)
}
