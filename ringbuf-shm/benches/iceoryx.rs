//! iceoryx2 publish-subscribe as a second baseline for the IPC bench.
//!
//! Both sides use the zero-copy inter-process service (`ipc::Service`) of
//! iceoryx2 and poll `Subscriber::receive()` in a busy loop: the same kind of
//! waiting as the ring's busy-spin (iceoryx2's event/waitset wake-ups would
//! only add a syscall to every message). The payload is a 64-byte record,
//! `[u8; 64]`, the size of the ring's `Candle`.
//!
//! - latency: two services, `ping` (parent → child) and `pong` (child →
//!   parent). The parent loans a sample, writes the record, sends it and polls
//!   `pong` until the echo arrives; the child polls `ping`, copies the record
//!   into a sample of its own and sends it back. Round trips are timed in the
//!   parent and halved by [`Latency::from_round_trips`].
//! - throughput: the child publishes `cfg.ring_records` records and the parent
//!   counts the records it receives, from the first sample received to the
//!   last (the first sample is neither timed nor counted, as for the socket).
//!
//! The services are created non-overflowing (`enable_safe_overflow(false)`)
//! and the publishers use `BackpressureStrategy::RetryUntilDelivered`: when the
//! subscriber's buffer is full the publisher waits instead of dropping, so
//! every record sent is received and counted.
//!
//! Service names carry the process id and a counter, so runs never meet each
//! other's services; every node, service and port is dropped at the end of
//! its run, which removes the service.

use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use iceoryx2::prelude::*;

use crate::peers::{pin, spawn_child, Config, Latency};

/// One record on the wire.
type Record = [u8; 64];

/// Sequence number that tells the echo child to stop.
const STOP: u64 = u64::MAX;

/// Subscriber buffer (in samples) for single sends: as many records as the
/// ring's throughput run holds.
const SINGLE_BUFFER: usize = 4096;

/// Subscriber buffer (in samples) for batched sends: 64 samples of 256
/// records, 16384 records.
const BATCH_BUFFER: usize = 64;

/// How long either side waits for the other to appear or finish.
const PATIENCE: Duration = Duration::from_secs(60);

fn node() -> Node<ipc::Service> {
    set_log_level(LogLevel::Error);
    NodeBuilder::new()
        // No SIGINT/SIGTERM handler: Ctrl-C ends the bench as usual.
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<ipc::Service>()
        .expect("create iceoryx2 node")
}

/// A name no other run (of this or another bench process) uses.
fn unique_name(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("aegis/ipc-bench/{}/{n}/{what}", std::process::id())
}

fn service_name(name: &str) -> ServiceName {
    ServiceName::new(name).expect("valid iceoryx2 service name")
}

fn record(seq: u64) -> Record {
    let mut r = [0u8; 64];
    r[..8].copy_from_slice(&seq.to_le_bytes());
    r
}

fn seq(r: &Record) -> u64 {
    u64::from_le_bytes(r[..8].try_into().expect("8 bytes"))
}

fn wait_child(mut c: Child) {
    let status = c.wait().expect("wait for iceoryx2 bench child");
    assert!(status.success(), "iceoryx2 bench child failed: {status}");
}

/// The child side: `ice-echo PING PONG` and `ice-stream SERVICE N BATCH`.
pub fn run_child(args: &[String]) {
    let a = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .expect("iceoryx2 child argument")
    };
    let n = |i: usize| a(i).parse::<u64>().expect("numeric argument");
    match a(0) {
        "ice-echo" => echo(a(1), a(2)),
        "ice-stream" => stream(a(1), n(2), n(3) as usize),
        other => panic!("unknown iceoryx2 bench child {other}"),
    }
}

/// Creates (parent) a ping or pong service for one record at a time.
fn create_record_service(
    node: &Node<ipc::Service>,
    name: &str,
    buffer: usize,
) -> iceoryx2::service::port_factory::publish_subscribe::PortFactory<ipc::Service, Record, ()> {
    node.service_builder(&service_name(name))
        .publish_subscribe::<Record>()
        .enable_safe_overflow(false)
        .subscriber_max_buffer_size(buffer)
        .subscriber_max_borrowed_samples(1)
        .history_size(0)
        .max_publishers(1)
        .max_subscribers(1)
        .create()
        .expect("create iceoryx2 service")
}

/// Ping-pong of one 64-byte record; percentiles of round trips, halved.
pub fn latency(cfg: &Config) -> Latency {
    pin(0);
    let (ping_name, pong_name) = (unique_name("ping"), unique_name("pong"));
    let node = node();
    let ping = create_record_service(&node, &ping_name, 1);
    let pong = create_record_service(&node, &pong_name, 1);
    let from_child = pong.subscriber_builder().create().expect("pong subscriber");
    let to_child = ping
        .publisher_builder()
        .max_loaned_samples(1)
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()
        .expect("ping publisher");
    let child = spawn_child(&["ice-echo", &ping_name, &pong_name]);

    // The child says hello once its ping subscriber exists, so nothing the
    // parent sends from here on can miss it.
    let deadline = Instant::now() + PATIENCE;
    loop {
        if from_child.receive().expect("receive hello").is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "iceoryx2 echo child never said hello"
        );
        std::thread::sleep(Duration::from_micros(100));
    }

    let warmup = cfg.round_trips / 10;
    let mut rtt = Vec::with_capacity(cfg.round_trips);
    for i in 0..(warmup + cfg.round_trips) as u64 {
        let t0 = Instant::now();
        to_child
            .loan_uninit()
            .expect("loan ping")
            .write_payload(record(i))
            .send()
            .expect("send ping");
        let back = loop {
            if let Some(s) = from_child.receive().expect("receive pong") {
                break seq(s.payload());
            }
            std::hint::spin_loop();
        };
        let dt = t0.elapsed();
        debug_assert_eq!(back, i);
        if i >= warmup as u64 {
            rtt.push(dt.as_nanos() as u64);
        }
    }
    to_child.send_copy(record(STOP)).expect("send stop");
    wait_child(child);
    drop((to_child, from_child, ping, pong, node));
    Latency::from_round_trips(rtt)
}

fn echo(ping_name: &str, pong_name: &str) {
    let node = node();
    let open = |name: &str| {
        node.service_builder(&service_name(name))
            .publish_subscribe::<Record>()
            .open()
            .expect("open iceoryx2 service")
    };
    let (ping, pong) = (open(ping_name), open(pong_name));
    let from_parent = ping.subscriber_builder().create().expect("ping subscriber");
    let to_parent = pong
        .publisher_builder()
        .max_loaned_samples(1)
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()
        .expect("pong publisher");
    to_parent.send_copy(record(0)).expect("send hello");
    loop {
        let Some(s) = from_parent.receive().expect("receive ping") else {
            std::hint::spin_loop();
            continue;
        };
        let r = *s.payload();
        drop(s);
        if seq(&r) == STOP {
            break;
        }
        to_parent
            .loan_uninit()
            .expect("loan pong")
            .write_payload(r)
            .send()
            .expect("send pong");
    }
}

/// Records/s the parent receives while the child publishes `cfg.ring_records`.
///
/// - `batch == 1`: service of `[u8; 64]`; the child sends one record per
///   sample (`loan_uninit` + `write_payload` + `send`), the parent receives
///   one sample per record. Subscriber buffer: 4096 samples.
/// - `batch > 1`: service of slices `[[u8; 64]]`; the child loans a slice of
///   `batch` records per sample (`loan_slice_uninit(batch)` +
///   `write_from_slice` + `send`: one copy of 16 KiB into shared memory and
///   one send per 256 records), the parent receives one sample per batch and
///   counts `payload().len()` records. This is iceoryx2's own way to move many
///   records in one message (one publish and one receive for the lot), and
///   faster than 256 separate sends. Subscriber buffer: 64 samples (16384
///   records).
///
/// Either way the rate counts 64-byte RECORDS, not samples.
///
/// Start-up handshake: the child creates its publisher first; the parent
/// creates its subscriber once it sees the publisher (a new subscriber
/// connects to existing publishers before it announces itself), and the child
/// sends once it sees the subscriber. Without it, a publisher that fills the
/// buffer before the subscriber has opened its end of the connection has its
/// samples discarded, even with overflow disabled.
pub fn throughput(cfg: &Config, batch: usize) -> f64 {
    pin(0);
    let name = unique_name("stream");
    let n = cfg.ring_records;
    let node = node();
    let child = |name: &str| spawn_child(&["ice-stream", name, &n.to_string(), &batch.to_string()]);
    if batch <= 1 {
        let service = create_record_service(&node, &name, SINGLE_BUFFER);
        let child = child(&name);
        wait_until("the child's publisher", || {
            service.dynamic_config().number_of_publishers() > 0
        });
        let sub = service
            .subscriber_builder()
            .buffer_size(SINGLE_BUFFER)
            .create()
            .expect("subscriber");
        let (first, secs) = count(n, || sub.receive().expect("receive").map(|_| 1));
        // Dropping the subscriber tells the child it may go.
        drop(sub);
        wait_child(child);
        (n - first) as f64 / secs
    } else {
        let service = node
            .service_builder(&service_name(&name))
            .publish_subscribe::<[Record]>()
            .enable_safe_overflow(false)
            .subscriber_max_buffer_size(BATCH_BUFFER)
            .subscriber_max_borrowed_samples(1)
            .history_size(0)
            .max_publishers(1)
            .max_subscribers(1)
            .create()
            .expect("create iceoryx2 slice service");
        let child = child(&name);
        wait_until("the child's publisher", || {
            service.dynamic_config().number_of_publishers() > 0
        });
        let sub = service
            .subscriber_builder()
            .buffer_size(BATCH_BUFFER)
            .create()
            .expect("subscriber");
        let (first, secs) = count(n, || {
            sub.receive()
                .expect("receive")
                .map(|s| s.payload().len() as u64)
        });
        drop(sub);
        wait_child(child);
        (n - first) as f64 / secs
    }
}

/// Busy-polls `receive` (records in the sample received, if any) until `n`
/// records have arrived. Returns the records in the first sample and the
/// seconds from its arrival to the last record's.
fn count(n: u64, mut receive: impl FnMut() -> Option<u64>) -> (u64, f64) {
    let deadline = Instant::now() + PATIENCE;
    let first = loop {
        if let Some(k) = receive() {
            break k;
        }
        assert!(
            Instant::now() < deadline,
            "iceoryx2 stream child sent nothing"
        );
        std::hint::spin_loop();
    };
    let t0 = Instant::now();
    let mut got = first;
    let mut idle = 0u64;
    while got < n {
        match receive() {
            Some(k) => {
                got += k;
                idle = 0;
            }
            None => {
                // Some seconds without a single sample: the stream is stuck;
                // fail instead of spinning forever.
                idle += 1;
                assert!(
                    idle < 1 << 30,
                    "iceoryx2 stream stalled at {got} of {n} records"
                );
                std::hint::spin_loop();
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(got, n, "iceoryx2 delivered more records than were sent");
    (first, secs)
}

fn stream(name: &str, n: u64, batch: usize) {
    let node = node();
    if batch <= 1 {
        let service = node
            .service_builder(&service_name(name))
            .publish_subscribe::<Record>()
            .open()
            .expect("open iceoryx2 service");
        let publisher = service
            .publisher_builder()
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            .create()
            .expect("publisher");
        let subscribers = || service.dynamic_config().number_of_subscribers();
        wait_until("the parent's subscriber", || subscribers() > 0);
        for i in 0..n {
            publisher
                .loan_uninit()
                .expect("loan")
                .write_payload(record(i))
                .send()
                .expect("send");
        }
        wait_until("the parent to finish receiving", || subscribers() == 0);
    } else {
        let service = node
            .service_builder(&service_name(name))
            .publish_subscribe::<[Record]>()
            .open()
            .expect("open iceoryx2 slice service");
        let publisher = service
            .publisher_builder()
            .initial_max_slice_len(batch)
            .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
            .create()
            .expect("slice publisher");
        let buf: Vec<Record> = (0..batch as u64).map(record).collect();
        let subscribers = || service.dynamic_config().number_of_subscribers();
        wait_until("the parent's subscriber", || subscribers() > 0);
        let mut sent = 0u64;
        while sent < n {
            let k = (batch as u64).min(n - sent) as usize;
            publisher
                .loan_slice_uninit(k)
                .expect("loan slice")
                .write_from_slice(&buf[..k])
                .send()
                .expect("send slice");
            sent += k as u64;
        }
        // Keep the publisher until the parent has dropped its subscriber, so
        // samples still queued for it are not withdrawn with the publisher.
        wait_until("the parent to finish receiving", || subscribers() == 0);
    }
}

/// Polls `done` every 100 us until it holds; panics after [`PATIENCE`].
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "iceoryx2 bench: gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
}
