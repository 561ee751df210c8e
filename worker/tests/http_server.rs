//! The roles' HTTP server under hostile clients: a slowloris client (headers
//! sent a little at a time) and many idle connections do not stop probes
//! from answering; both are closed after the header-read timeout; and past
//! the connection cap a connection is closed unanswered, without harm to
//! the server.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aegis_runtime::server::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS};
use aegis_runtime::{serve, Probe, Probes};
use common::http::http_get;

/// A role that is always healthy; its book (reachable only through the
/// control API) counts the flattens that reach it.
#[derive(Default)]
struct Role {
    flattened: std::sync::atomic::AtomicU32,
}

impl Probes for Role {
    fn live(&self) -> Probe {
        Ok("alive".into())
    }
    fn ready(&self) -> Probe {
        Ok("ready".into())
    }
    fn metrics(&self) -> String {
        String::new()
    }
    fn status(&self) -> serde_json::Value {
        serde_json::json!({"book": "secret positions"})
    }
    fn flatten(&self) -> Option<aegis_runtime::JsonReply> {
        // Relaxed: a counter read after the requests have been answered.
        self.flattened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(aegis_runtime::JsonReply {
            code: 200,
            body: serde_json::json!({}),
        })
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("a connection");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a read timeout");
    stream
}

/// Whether the server has closed `stream` (a read sees the end, or a reset).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn probe_answers(port: u16) -> bool {
    http_get(port, "/healthz", Duration::from_secs(1)).is_ok_and(|r| r.status == 200)
}

#[test]
fn slowloris_and_idle_clients_neither_block_probes_nor_stay_open() {
    let server = serve(
        "127.0.0.1:0".parse().expect("an address"),
        Arc::new(Role::default()),
    )
    .expect("the server starts");
    let port = server.addr.port();
    let mut idle: Vec<TcpStream> = (0..100).map(|_| connect(server.addr)).collect();
    let mut slow = connect(server.addr);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .expect("the first bytes");
    let opened = Instant::now();
    for _ in 0..3 {
        assert!(
            probe_answers(port),
            "probes answer beside slow and idle clients"
        );
        slow.write_all(b"a").expect("one more byte");
        std::thread::sleep(Duration::from_millis(300));
    }
    // The slow client is still sending when the timeout passes: closed.
    while opened.elapsed() < HEADER_READ_TIMEOUT + Duration::from_secs(1) {
        let _ = slow.write_all(b"a");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        closed_by_server(&mut slow),
        "the slowloris connection is closed"
    );
    let still_open = idle
        .iter_mut()
        .map(closed_by_server)
        .filter(|closed| !closed)
        .count();
    assert_eq!(
        still_open, 0,
        "idle connections are closed after the timeout"
    );
    assert!(probe_answers(port));
}

#[test]
fn connections_over_the_cap_are_closed_unanswered_and_the_server_recovers() {
    let server = serve(
        "127.0.0.1:0".parse().expect("an address"),
        Arc::new(Role::default()),
    )
    .expect("the server starts");
    let port = server.addr.port();
    let held: Vec<TcpStream> = (0..MAX_CONNECTIONS).map(|_| connect(server.addr)).collect();
    // Give the server time to take them all.
    std::thread::sleep(Duration::from_millis(500));
    let mut over = connect(server.addr);
    assert!(
        closed_by_server(&mut over) || closed_by_server(&mut over),
        "a connection over the cap is closed at once"
    );
    drop(held);
    let recovered = (0..20).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        probe_answers(port)
    });
    assert!(recovered, "once they are gone, probes answer again");
}

#[test]
fn the_control_api_answers_only_the_token_on_its_own_port() {
    use aegis_runtime::{serve_with_control, ControlSurface, ControlToken};
    use common::http::{http_post, Control};

    let token = ControlToken::generate().expect("a token");
    let probes = Arc::new(Role::default());
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = serve_with_control(
        any,
        probes.clone(),
        ControlSurface {
            listen: any,
            token: token.clone(),
        },
    )
    .expect("serving");
    let control_port = server.control_addr.expect("a control address").port();
    let control = Control {
        port: control_port,
        token,
    };
    let t = Duration::from_secs(1);
    let wrong = Control {
        port: control_port,
        token: ControlToken::generate().expect("a token"),
    };

    for (what, reply) in [
        (
            "GET /status, no token",
            http_get(control_port, "/status", t),
        ),
        (
            "POST /flatten, no token",
            http_post(control_port, "/flatten", t),
        ),
        ("GET /status, a wrong token", wrong.get("/status", t)),
        ("POST /flatten, a wrong token", wrong.post("/flatten", t)),
    ] {
        let reply = reply.expect("an answer");
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert!(!reply.body.contains("secret positions"), "{what}");
    }
    // A slowloris on the control port holds neither it nor the probes.
    let mut slow = connect(server.control_addr.expect("a control address"));
    slow.write_all(b"GET /status HTTP/1.1\r\nAuthorization: Bea")
        .expect("a partial request");
    assert!(probe_answers(server.addr.port()), "probes answer meanwhile");
    let status = control.get("/status", t).expect("an answer");
    assert_eq!(status.status, 200, "{}", status.body);
    assert!(status.body.contains("secret positions"));
    let flatten = control.post("/flatten", t).expect("an answer");
    assert_eq!(flatten.status, 200, "{}", flatten.body);
    assert_eq!(
        probes.flattened.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "only the POST with the token reached the book"
    );
    // The open port has neither /status nor /flatten.
    let open = server.addr.port();
    assert_eq!(http_get(open, "/status", t).expect("an answer").status, 404);
    assert_eq!(
        http_post(open, "/flatten", t).expect("an answer").status,
        404
    );
}
