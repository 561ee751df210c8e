//! A tiny blocking HTTP/1.1 client for liveness probes, `/status` fetches
//! and the orchestrator's control API (`GET /status` and `POST /flatten`
//! with its bearer token): one request per connection (`Connection: close`),
//! one deadline for connect, write and read together, so a hung server
//! costs at most `timeout`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::control_token::ControlToken;

/// Responses larger than this are refused (a probe or status page is small).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Why an HTTP request (and so a liveness probe) failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The TCP connection could not be made (refused, unreachable, ...).
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// No complete response within the timeout.
    #[error("{method} http://{addr}{path} timed out after {timeout:?}")]
    Timeout {
        method: &'static str,
        addr: SocketAddr,
        path: String,
        timeout: Duration,
    },
    /// Writing the request or reading the response failed.
    #[error("{method} http://{addr}{path}: i/o error: {source}")]
    Io {
        method: &'static str,
        addr: SocketAddr,
        path: String,
        source: std::io::Error,
    },
    /// The response is not valid HTTP/1.x.
    #[error("{method} http://{addr}{path}: malformed response: {detail}")]
    Malformed {
        method: &'static str,
        addr: SocketAddr,
        path: String,
        detail: String,
    },
    /// The response is larger than [`MAX_RESPONSE_BYTES`].
    #[error("{method} http://{addr}{path}: response larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge {
        method: &'static str,
        addr: SocketAddr,
        path: String,
    },
    /// A liveness probe got a status outside 200..=399.
    #[error("{method} http://{addr}{path}: status {status} is not 2xx/3xx")]
    Status {
        method: &'static str,
        addr: SocketAddr,
        path: String,
        status: u16,
    },
}

/// A complete HTTP response: status code, content type and (de-chunked) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// `GET /healthz` like the kubelet: success is a status in 200..=399 within `timeout`.
pub fn probe_liveness(addr: SocketAddr, timeout: Duration) -> Result<u16, ProbeError> {
    let path = "/healthz";
    let response = http_get(addr, path, timeout)?;
    if (200..=399).contains(&response.status) {
        Ok(response.status)
    } else {
        Err(ProbeError::Status {
            method: "GET",
            addr,
            path: path.to_owned(),
            status: response.status,
        })
    }
}

/// `GET /status` parsed as JSON, with the control token when the status is
/// on a control API; `None` on any failure (the display shows `-`).
pub fn fetch_status_json(
    addr: SocketAddr,
    token: Option<&ControlToken>,
    timeout: Duration,
) -> Option<serde_json::Value> {
    let response = http_request("GET", addr, "/status", token, timeout).ok()?;
    if !(200..=299).contains(&response.status) {
        return None;
    }
    serde_json::from_slice(&response.body).ok()
}

/// One HTTP/1.1 GET of `path` on `addr`, all of it within `timeout`.
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<HttpResponse, ProbeError> {
    http_request("GET", addr, path, None, timeout)
}

/// One HTTP/1.1 POST of `path` on `addr` with an empty body, all of it
/// within `timeout`.
pub fn http_post(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<HttpResponse, ProbeError> {
    http_request("POST", addr, path, None, timeout)
}

/// One request to a control API (`GET` or `POST` with an empty body)
/// carrying `Authorization: Bearer <token>`, all of it within `timeout`.
/// Errors name the method, address and path, never the token.
pub fn control_request(
    method: &'static str,
    addr: SocketAddr,
    path: &str,
    token: &ControlToken,
    timeout: Duration,
) -> Result<HttpResponse, ProbeError> {
    http_request(method, addr, path, Some(token), timeout)
}

fn http_request(
    method: &'static str,
    addr: SocketAddr,
    path: &str,
    token: Option<&ControlToken>,
    timeout: Duration,
) -> Result<HttpResponse, ProbeError> {
    let deadline = Instant::now() + timeout;
    let timed_out = || ProbeError::Timeout {
        method,
        addr,
        path: path.to_owned(),
        timeout,
    };
    let io_error = |source: std::io::Error| {
        if matches!(source.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            timed_out()
        } else {
            ProbeError::Io {
                method,
                addr,
                path: path.to_owned(),
                source,
            }
        }
    };
    let remaining = |deadline: Instant| {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    };

    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|source| {
        if source.kind() == ErrorKind::TimedOut {
            timed_out()
        } else {
            ProbeError::Connect { addr, source }
        }
    })?;
    let length = if method == "GET" {
        ""
    } else {
        "Content-Length: 0\r\n"
    };
    let authorization = match token {
        Some(token) => format!("Authorization: {}\r\n", token.header_value()),
        None => String::new(),
    };
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: aegis\r\n{authorization}{length}\r\n");
    let left = remaining(deadline).ok_or_else(timed_out)?;
    stream.set_write_timeout(Some(left)).map_err(io_error)?;
    stream.write_all(request.as_bytes()).map_err(io_error)?;

    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(response) = parse_response(&buffer, false)
            .map_err(|detail| malformed(method, addr, path, detail))?
        {
            return Ok(response);
        }
        let left = remaining(deadline).ok_or_else(timed_out)?;
        stream.set_read_timeout(Some(left)).map_err(io_error)?;
        let read = match stream.read(&mut chunk) {
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(io_error(error)),
        };
        if read == 0 {
            return match parse_response(&buffer, true)
                .map_err(|detail| malformed(method, addr, path, detail))?
            {
                Some(response) => Ok(response),
                None => Err(malformed(
                    method,
                    addr,
                    path,
                    "connection closed before the response was complete".to_owned(),
                )),
            };
        }
        if buffer.len() + read > MAX_RESPONSE_BYTES {
            return Err(ProbeError::TooLarge {
                method,
                addr,
                path: path.to_owned(),
            });
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

fn malformed(method: &'static str, addr: SocketAddr, path: &str, detail: String) -> ProbeError {
    ProbeError::Malformed {
        method,
        addr,
        path: path.to_owned(),
        detail,
    }
}

/// Parses `buffer` as a response: `Ok(None)` while it is incomplete, an error
/// message when it can never become valid. `eof`: the peer closed the
/// connection, so a body without a length ends here.
fn parse_response(buffer: &[u8], eof: bool) -> Result<Option<HttpResponse>, String> {
    let Some(head_end) = find(buffer, b"\r\n\r\n") else {
        if buffer.len() >= 5 && !buffer.starts_with(b"HTTP/") {
            return Err(format!(
                "status line starts with {:?}, not \"HTTP/\"",
                preview(buffer)
            ));
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buffer[..head_end])
        .map_err(|_| "response head is not UTF-8".to_owned())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = parse_status_line(status_line)?;
    let mut content_length = None;
    let mut content_type = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line {line:?} has no ':'"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length: usize = value
                .parse()
                .map_err(|_| format!("Content-Length {value:?} is not a number"))?;
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .to_ascii_lowercase()
                .split(',')
                .any(|coding| coding.trim() == "chunked");
        }
    }
    let body = &buffer[head_end + 4..];
    if chunked {
        return match decode_chunked(body)? {
            Some(body) => Ok(Some(HttpResponse {
                status,
                content_type,
                body,
            })),
            None if eof => Err("connection closed inside a chunked body".to_owned()),
            None => Ok(None),
        };
    }
    match content_length {
        Some(length) if body.len() >= length => Ok(Some(HttpResponse {
            status,
            content_type,
            body: body[..length].to_vec(),
        })),
        Some(length) if eof => Err(format!(
            "connection closed after {} of {length} body bytes (Content-Length)",
            body.len()
        )),
        Some(_) => Ok(None),
        None if eof => Ok(Some(HttpResponse {
            status,
            content_type,
            body: body.to_vec(),
        })),
        None => Ok(None),
    }
}

fn parse_status_line(line: &str) -> Result<u16, String> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("status line {line:?} is not HTTP/1.x"));
    }
    let code = parts.next().unwrap_or_default();
    match code.parse::<u16>() {
        Ok(status) if code.len() == 3 && (100..=599).contains(&status) => Ok(status),
        _ => Err(format!(
            "status code {code:?} in status line {line:?} is not a number in 100..=599"
        )),
    }
}

/// Decodes a chunked body: `Ok(None)` while incomplete.
fn decode_chunked(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let size_line = std::str::from_utf8(&rest[..line_end])
            .map_err(|_| "chunk size line is not UTF-8".to_owned())?;
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("chunk size {size_text:?} is not hexadecimal"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailers are ignored; the body is complete.
            return Ok(Some(body));
        }
        if rest.len() < size.saturating_add(2) {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        if &rest[size..size + 2] != b"\r\n" {
            return Err(format!("chunk of {size} bytes is not followed by CRLF"));
        }
        rest = &rest[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(32)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_waits_for_the_rest() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse_response(&full[..full.len() - 1], false), Ok(None));
        assert_eq!(
            parse_response(full, false),
            Ok(Some(HttpResponse {
                status: 200,
                content_type: Some("text/plain".into()),
                body: b"hello".to_vec()
            }))
        );
        assert!(parse_response(&full[..full.len() - 1], true).is_err());
    }

    #[test]
    fn parses_chunked_bodies() {
        let full = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(&full[..full.len() - 6], false), Ok(None));
        let response = parse_response(full, false);
        assert_eq!(
            response,
            Ok(Some(HttpResponse {
                status: 200,
                content_type: None,
                body: b"{\"a\":1}".to_vec()
            }))
        );
        let bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(parse_response(bad, false).is_err());
    }

    #[test]
    fn rejects_garbage_and_bad_status_lines() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 2x0 OK\r\n\r\n", true).is_err());
        assert!(parse_response(b"HTTP/1.1 999 Nope\r\n\r\n", true).is_err());
        assert!(parse_response(b"HTTP/2 200\r\n\r\n", true).is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", true).is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", true).is_err());
    }

    #[test]
    fn body_without_length_ends_at_eof() {
        assert_eq!(
            parse_response(b"HTTP/1.0 204 No Content\r\n\r\nab", false),
            Ok(None)
        );
        assert_eq!(
            parse_response(b"HTTP/1.0 204 No Content\r\n\r\nab", true),
            Ok(Some(HttpResponse {
                status: 204,
                content_type: None,
                body: b"ab".to_vec()
            }))
        );
    }
}
