//! One blocking WebSocket connection to a stream URL (`ws://` or `wss://`):
//! TCP, TLS by rustls with the ring provider and the webpki roots (no
//! OpenSSL), the WebSocket handshake by tungstenite, and reads that give up
//! after a short timeout so the caller can beat its heartbeat and honour a
//! stop. Pongs to the server's pings are queued by tungstenite and flushed
//! after every read: the only messages this client ever sends are those
//! pongs (one per ping) and a final close, far below Binance's 5 incoming
//! messages per second.
//!
//! A plain `ws://` URL is refused unless its host is a loopback address
//! ([`aegis_contract::endpoint`]), and no message or frame may exceed
//! [`MAX_MESSAGE_BYTES`] (tungstenite's defaults, 64 MiB and 16 MiB, would
//! let a hostile or broken server make the feed allocate that much): a
//! longer one is [`SocketError::TooLarge`], checked against the frame's
//! header before its payload is read.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tungstenite::protocol::{WebSocket, WebSocketConfig};
use tungstenite::{Error as WsError, Message};

use aegis_contract::endpoint::{self, EndpointError, UrlKind};

/// The longest message or frame the stream may send, bytes: a kline event
/// is well under 1 KiB, so 64 KiB leaves ample room (Binance's other
/// single-stream events are no longer) while bounding what a server can make
/// the feed allocate.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Why a connection could not be made or went away.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The URL is not `ws://host[:port]/path` or `wss://...`.
    #[error("stream URL {0:?} is not ws://host[:port]/path or wss://host[:port]/path")]
    BadUrl(String),
    /// A plain `ws://` URL to a host that is not this machine.
    #[error("refusing the stream URL: {0}")]
    Insecure(#[from] EndpointError),
    /// The server sent a message or frame over [`MAX_MESSAGE_BYTES`].
    #[error("the stream sent a message over the {MAX_MESSAGE_BYTES}-byte limit ({0})")]
    TooLarge(String),
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
        endpoint::check(url, UrlKind::Stream)?;
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
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let (ws, _response) = tungstenite::client::client_with_config(url, transport, Some(config))
            .map_err(|e| SocketError::Handshake {
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
            Err(WsError::Capacity(e)) => return Err(SocketError::TooLarge(e.to_string())),
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
    fn a_plain_url_to_another_host_is_refused_before_connecting() {
        let err = StreamSocket::connect(
            "ws://stream.binance.com:9443/ws/btcusdt@kline_1m",
            Duration::from_secs(1),
            Duration::from_millis(100),
        )
        .expect_err("refused");
        assert!(matches!(err, SocketError::Insecure(_)), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("ws://stream.binance.com:9443") && text.contains("loopback"),
            "{text}"
        );
    }

    /// A server that sends one kline-sized text message, then the header
    /// of a binary frame claiming 64 MiB (and never its payload).
    #[test]
    fn kline_sized_messages_pass_and_an_oversized_frame_is_a_clean_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let kline = format!("{{\"e\":\"kline\",\"pad\":\"{}\"}}", "x".repeat(2000));
        let sent = kline.clone();
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            let mut ws = tungstenite::accept(tcp).expect("server handshake");
            ws.send(Message::text(sent)).expect("send the kline");
            let mut raw = vec![0x82u8, 127];
            raw.extend_from_slice(&(64u64 << 20).to_be_bytes());
            ws.get_mut().write_all(&raw).expect("the oversized header");
            // Keep the connection open until the client has read.
            let mut buf = [0u8; 1];
            let _ = ws.get_mut().read(&mut buf);
        });
        let url = format!("ws://127.0.0.1:{port}/ws/btcusdt@kline_1m");
        let mut socket =
            StreamSocket::connect(&url, Duration::from_secs(5), Duration::from_millis(500))
                .expect("connects");
        let mut frames = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let err = loop {
            match socket.read() {
                Ok(Frame::Nothing) => {}
                Ok(frame) => frames.push(frame),
                Err(e) => break e,
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no error 10 s after the oversized header: its payload is awaited"
            );
        };
        assert_eq!(frames, vec![Frame::Text(kline)]);
        assert!(matches!(err, SocketError::TooLarge(_)), "{err}");
        assert!(err.to_string().contains("65536"), "{err}");
        drop(socket);
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
