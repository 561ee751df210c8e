//! One blocking WebSocket connection to a stream URL (`ws://` or `wss://`):
//! TCP, TLS by rustls with the ring provider and the webpki roots (no
//! OpenSSL), the WebSocket handshake by tungstenite, and reads that give up
//! after a short timeout so the caller can beat its heartbeat and honour a
//! stop. Pongs to the server's pings are queued by tungstenite and flushed
//! after every read: the only messages this client ever sends are those
//! pongs (one per ping) and a final close, far below Binance's 5 incoming
//! messages per second.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::protocol::WebSocket;
use tungstenite::{Error as WsError, Message};

/// Why a connection could not be made or went away.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The URL is not `ws://host[:port]/path` or `wss://...`.
    #[error("stream URL {0:?} is not ws://host[:port]/path or wss://host[:port]/path")]
    BadUrl(String),
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// The I/O error.
        source: io::Error,
    },
    /// TLS setup failed.
    #[error("TLS setup for {host}: {reason}")]
    Tls {
        /// The server name.
        host: String,
        /// What failed.
        reason: String,
    },
    /// The WebSocket handshake failed (e.g. HTTP 503 instead of 101).
    #[error("WebSocket handshake with {url}: {reason}")]
    Handshake {
        /// The stream URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server sent a close frame.
    #[error("the server closed the stream ({0})")]
    Closed(String),
    /// The connection broke (TCP closed without a close frame, reset, ...).
    #[error("the stream connection broke: {0}")]
    Broken(String),
}

/// A plain or TLS byte stream under the WebSocket.
#[derive(Debug)]
enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// What one read gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A text message.
    Text(String),
    /// A binary message (the kline stream sends none).
    Binary(usize),
    /// A ping (answered), pong or other control frame.
    Control,
    /// Nothing arrived within the read timeout.
    Nothing,
}

/// An open stream connection.
#[derive(Debug)]
pub struct StreamSocket {
    ws: WebSocket<Transport>,
}

/// Whether an I/O error only means "nothing now" (a timeout or a signal).
fn quiet(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// `(tls, host, port)` of a `ws://` or `wss://` URL.
fn parse_url(url: &str) -> Option<(bool, String, u16)> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("wss://") {
        (true, rest)
    } else {
        (false, url.strip_prefix("ws://")?)
    };
    let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
            (host, port.parse().ok()?)
        }
        _ => (authority, if tls { 443 } else { 80 }),
    };
    Some((tls, host.trim_matches(['[', ']']).to_string(), port))
}

fn tls_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

impl StreamSocket {
    /// Connects to `url` (each step bounded by `timeout`); reads then wait
    /// at most `read_timeout`.
    pub fn connect(
        url: &str,
        timeout: Duration,
        read_timeout: Duration,
    ) -> Result<Self, SocketError> {
        let (tls, host, port) = parse_url(url).ok_or_else(|| SocketError::BadUrl(url.into()))?;
        let addr_text = format!("{host}:{port}");
        let connect_err = |source| SocketError::Connect {
            addr: addr_text.clone(),
            source,
        };
        let addr = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(connect_err)?
            .next()
            .ok_or_else(|| {
                connect_err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "the name has no address",
                ))
            })?;
        let tcp = TcpStream::connect_timeout(&addr, timeout).map_err(connect_err)?;
        let _ = tcp.set_nodelay(true);
        tcp.set_read_timeout(Some(timeout)).map_err(connect_err)?;
        tcp.set_write_timeout(Some(timeout)).map_err(connect_err)?;
        let transport = if tls {
            let tls_err = |reason: String| SocketError::Tls {
                host: host.clone(),
                reason,
            };
            let config = tls_config().map_err(|e| tls_err(e.to_string()))?;
            let name = ServerName::try_from(host.clone()).map_err(|e| tls_err(e.to_string()))?;
            let conn = ClientConnection::new(config, name).map_err(|e| tls_err(e.to_string()))?;
            Transport::Tls(Box::new(StreamOwned::new(conn, tcp)))
        } else {
            Transport::Plain(tcp)
        };
        let (ws, _response) =
            tungstenite::client::client(url, transport).map_err(|e| SocketError::Handshake {
                url: url.into(),
                reason: e.to_string(),
            })?;
        let socket = StreamSocket { ws };
        socket
            .tcp()
            .set_read_timeout(Some(read_timeout))
            .map_err(|source| SocketError::Connect {
                addr: addr_text,
                source,
            })?;
        Ok(socket)
    }

    fn tcp(&self) -> &TcpStream {
        match self.ws.get_ref() {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_ref(),
        }
    }

    /// Reads one frame, waiting at most the read timeout; answers pings.
    pub fn read(&mut self) -> Result<Frame, SocketError> {
        let frame = match self.ws.read() {
            Ok(Message::Text(text)) => Frame::Text(text.as_str().to_owned()),
            Ok(Message::Binary(data)) => Frame::Binary(data.len()),
            Ok(Message::Close(frame)) => {
                let why = frame.map_or_else(
                    || "no close code".to_string(),
                    |f| format!("code {}, {:?}", u16::from(f.code), f.reason.as_str()),
                );
                return Err(SocketError::Closed(why));
            }
            Ok(_) => Frame::Control,
            // A read timeout, or a signal (SIGTERM) during the read.
            Err(WsError::Io(e)) if quiet(&e) => Frame::Nothing,
            Err(WsError::ConnectionClosed) => return Err(SocketError::Closed("closed".into())),
            Err(e) => return Err(SocketError::Broken(e.to_string())),
        };
        // Sends the queued pong, if a ping came in.
        match self.ws.flush() {
            Ok(()) => Ok(frame),
            Err(WsError::Io(e)) if quiet(&e) => Ok(frame),
            Err(e) => Err(SocketError::Broken(e.to_string())),
        }
    }

    /// Closes the connection with a close frame (best effort).
    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_uses_ring_and_the_webpki_roots() {
        let config = tls_config().expect("a TLS client configuration");
        assert!(config.crypto_provider().cipher_suites.len() > 3);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 50);
    }

    #[test]
    fn a_tls_server_that_hangs_up_is_an_error_naming_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || drop(listener.accept()));
        let url = format!("wss://127.0.0.1:{port}/ws/btcusdt@kline_1m");
        let err = StreamSocket::connect(&url, Duration::from_secs(5), Duration::from_millis(100))
            .expect_err("no TLS server there");
        assert!(
            matches!(err, SocketError::Handshake { .. } | SocketError::Tls { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
        server.join().expect("server thread");
    }

    #[test]
    fn parses_stream_urls() {
        assert_eq!(
            parse_url("wss://stream.binance.com:9443/ws/btcusdt@kline_1m"),
            Some((true, "stream.binance.com".into(), 9443))
        );
        assert_eq!(
            parse_url("wss://stream.testnet.binance.vision/ws/x"),
            Some((true, "stream.testnet.binance.vision".into(), 443))
        );
        assert_eq!(
            parse_url("ws://127.0.0.1:8080/ws/x"),
            Some((false, "127.0.0.1".into(), 8080))
        );
        assert_eq!(parse_url("http://host/ws"), None);
        assert_eq!(parse_url("ws:///ws"), None);
        assert_eq!(parse_url("ws://host:notaport/ws"), None);
    }
}
