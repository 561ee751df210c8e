//! Cross-process IPC benchmark: the shared-memory ring against a Unix domain
//! socket (always) and iceoryx2 publish-subscribe (with `--features iceoryx2`),
//! all in the same run, between two processes pinned to different cores.
//!
//! ```text
//! cargo bench -p ringbuf-shm --bench ipc [--features iceoryx2] -- [--runs N] [--quick]
//! ```
//!
//! - latency: ping-pong of one 64-byte record; one-way = round trip / 2;
//!   p50 / p99 / p99.9 over the round trips of a run. Also paced, 500 µs
//!   between pings with the futex wait, as the engine's roles see candles
//!   at 2,000/s: each hop is then a futex wake-up of a sleeper on an idle
//!   core, the machine's part of the default wait's latency.
//! - throughput: one process streams 64-byte records to the other; records/s
//!   from the first record received to the last, with single writes and with
//!   batches of 256.
//!
//! Every figure is the median over `--runs` runs (default 5), with the spread
//! (min–max) beside it. The bench re-executes itself for the peer process.

#[cfg(feature = "iceoryx2")]
mod iceoryx;
mod peers;

use peers::{Latency, Spread};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "child") {
        peers::run_child(&args[i + 1..]);
        return;
    }
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5usize);
    let quick = args.iter().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let cfg = peers::Config {
        round_trips: 200_000 / scale,
        ring_records: 20_000_000 / scale as u64,
        socket_records: 2_000_000 / scale as u64,
        batch: 256,
    };
    if peers::cores() < 2 {
        eprintln!("warning: fewer than 2 cores; processes cannot be pinned apart");
    }
    println!(
        "ipc bench: {runs} runs, 64-byte records, {} round trips per latency run, {} ring / {} socket records per throughput run",
        cfg.round_trips, cfg.ring_records, cfg.socket_records
    );

    let mut lat: Vec<(&str, Vec<Latency>)> = vec![
        ("ring busy-spin", vec![]),
        ("ring default (spin 50us, then futex)", vec![]),
        ("ring futex only (no spin)", vec![]),
        ("ring futex only, 500us apart (idle cores)", vec![]),
        ("unix socket", vec![]),
    ];
    let mut thr: Vec<(&str, Vec<f64>)> = vec![
        ("ring single writes", vec![]),
        ("ring batches of 256", vec![]),
        ("unix socket single writes", vec![]),
        ("unix socket batches of 256", vec![]),
    ];
    #[cfg(feature = "iceoryx2")]
    {
        lat.push(("iceoryx2 busy-poll", vec![]));
        thr.push(("iceoryx2 single sends", vec![]));
        thr.push(("iceoryx2 loans of 256", vec![]));
    }
    for run in 1..=runs {
        eprintln!("run {run}/{runs}");
        lat[0].1.push(peers::ring_latency(&cfg, "busy"));
        lat[1].1.push(peers::ring_latency(&cfg, "default"));
        lat[2].1.push(peers::ring_latency(&cfg, "futex"));
        lat[3].1.push(peers::ring_latency_paced(
            cfg.round_trips / 100,
            "futex",
            Some(std::time::Duration::from_micros(500)),
        ));
        lat[4].1.push(peers::socket_latency(&cfg));
        thr[0].1.push(peers::ring_throughput(&cfg, 1));
        thr[1].1.push(peers::ring_throughput(&cfg, cfg.batch));
        thr[2].1.push(peers::socket_throughput(&cfg, 1));
        thr[3].1.push(peers::socket_throughput(&cfg, cfg.batch));
        #[cfg(feature = "iceoryx2")]
        {
            lat[5].1.push(iceoryx::latency(&cfg));
            thr[4].1.push(iceoryx::throughput(&cfg, 1));
            thr[5].1.push(iceoryx::throughput(&cfg, cfg.batch));
        }
    }

    println!("\none-way latency (ns; median of {runs} runs, [min-max] across runs)");
    println!("{:<40} {:>18} {:>18} {:>18}", "", "p50", "p99", "p99.9");
    let fmt = |s: Spread| format!("{:.0} [{:.0}-{:.0}]", s.median, s.min, s.max);
    let mut p50 = Vec::new();
    for (name, runs) in &lat {
        let (a, b, c) = (
            Spread::of(runs.iter().map(|l| l.p50)),
            Spread::of(runs.iter().map(|l| l.p99)),
            Spread::of(runs.iter().map(|l| l.p999)),
        );
        println!("{name:<40} {:>18} {:>18} {:>18}", fmt(a), fmt(b), fmt(c));
        p50.push((*name, a.median));
    }
    println!("\nthroughput (million records/s; median of {runs} runs, [min-max])");
    let mut rate = Vec::new();
    for (name, runs) in &thr {
        let s = Spread::of(runs.iter().copied());
        println!(
            "{name:<40} {:>8.2} [{:.2}-{:.2}]",
            s.median / 1e6,
            s.min / 1e6,
            s.max / 1e6
        );
        rate.push((*name, s.median));
    }
    let get = |v: &[(&str, f64)], n: &str| v.iter().find(|(k, _)| *k == n).map(|(_, x)| *x);
    println!("\nratios (same run)");
    let ring_p50 = get(&p50, "ring busy-spin").unwrap_or(f64::NAN);
    let ring_default_p50 = get(&p50, "ring default (spin 50us, then futex)").unwrap_or(f64::NAN);
    let ring_batch = get(&rate, "ring batches of 256").unwrap_or(f64::NAN);
    let ring_single = get(&rate, "ring single writes").unwrap_or(f64::NAN);
    if let Some(sock) = get(&p50, "unix socket") {
        println!(
            "p50 latency, unix socket / ring busy-spin:      {:>8.1}x",
            sock / ring_p50
        );
        println!(
            "p50 latency, unix socket / ring default:        {:>8.1}x",
            sock / ring_default_p50
        );
    }
    if let Some(sock) = get(&rate, "unix socket batches of 256") {
        println!(
            "throughput, ring batched / unix socket batched: {:>8.1}x",
            ring_batch / sock
        );
    }
    if let Some(sock) = get(&rate, "unix socket single writes") {
        println!(
            "throughput, ring single / unix socket single:   {:>8.1}x",
            ring_single / sock
        );
    }
    if let Some(ice) = get(&p50, "iceoryx2 busy-poll") {
        println!(
            "p50 latency, ring busy-spin / iceoryx2:         {:>8.2}  (target <= 0.5)",
            ring_p50 / ice
        );
    }
    if let Some(ice) = get(&rate, "iceoryx2 loans of 256") {
        println!(
            "throughput, ring batched / iceoryx2 batched:    {:>8.1}x (target >= 20)",
            ring_batch / ice
        );
    }
    if let Some(ice) = get(&rate, "iceoryx2 single sends") {
        println!(
            "throughput, ring batched / iceoryx2 single:     {:>8.1}x",
            ring_batch / ice
        );
    }
    println!(
        "\ntargets: ring p50 one-way <= 250 ns: {:.0} ns; ring batched >= 50M/s: {:.1}M/s",
        ring_p50,
        ring_batch / 1e6
    );
}
