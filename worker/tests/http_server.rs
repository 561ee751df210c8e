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

struct Healthy;

impl Probes for Healthy {
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
        serde_json::json!({})
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
        Arc::new(Healthy),
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
        Arc::new(Healthy),
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
