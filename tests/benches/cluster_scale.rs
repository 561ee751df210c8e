//! Scale benchmark of the test cluster (not a timed test): 10,000 objects and
//! 1,000 concurrent watchers, checking that every watcher receives every
//! event, in resourceVersion order, without loss. Prints list latency for
//! 10,000 objects, event fan-out rate and resident memory.
//!
//! Run: `cargo bench -p aegis-tests --bench cluster_scale`
//! (sizes: `AEGIS_BENCH_OBJECTS`, `AEGIS_BENCH_WATCHERS`).

use std::time::{Duration, Instant};

use aegis_tests::cluster::TestCluster;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let objects = env_usize("AEGIS_BENCH_OBJECTS", 10_000);
    let watchers = env_usize("AEGIS_BENCH_WATCHERS", 1_000);
    let cluster = TestCluster::start().await.expect("cluster starts");
    let client = cluster.client().expect("client");
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let rss_start = rss_mib();
    let rv = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");

    // Watchers: each counts ADDED events and checks resourceVersions increase.
    let params = WatchParams {
        bookmarks: false,
        ..WatchParams::default()
    };
    let mut tasks = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        let stream = api.watch(&params, &rv).await.expect("watch opens");
        tasks.push(tokio::spawn(async move {
            let mut stream = stream.boxed();
            let (mut seen, mut last, mut out_of_order) = (0usize, 0u64, 0usize);
            while seen < objects {
                match stream.next().await {
                    Some(Ok(WatchEvent::Added(cm))) => {
                        let v: u64 = cm
                            .metadata
                            .resource_version
                            .as_deref()
                            .and_then(|r| r.parse().ok())
                            .unwrap_or(0);
                        if v <= last {
                            out_of_order += 1;
                        }
                        last = v;
                        seen += 1;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => panic!("watch error: {e}"),
                    None => break,
                }
            }
            (seen, out_of_order)
        }));
    }

    let started = Instant::now();
    let writers = 4;
    let mut writes = Vec::new();
    for w in 0..writers {
        let api = api.clone();
        writes.push(tokio::spawn(async move {
            for i in (w..objects).step_by(writers) {
                let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("cm-{i:05}"), "labels": {"bench": "scale"}}, "data": {"i": i.to_string()}})).expect("valid");
                api.create(&PostParams::default(), &cm).await.expect("create");
            }
        }));
    }
    for w in writes {
        w.await.expect("writer");
    }
    let written = started.elapsed();
    let mut total = 0usize;
    let mut disorder = 0usize;
    for t in tasks {
        let (seen, ooo) = t.await.expect("watcher");
        assert_eq!(seen, objects, "a watcher lost events");
        total += seen;
        disorder += ooo;
    }
    let delivered = started.elapsed();
    assert_eq!(disorder, 0, "events arrived out of resourceVersion order");

    let mut lists = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let l = api.list(&ListParams::default()).await.expect("list");
        lists.push(t.elapsed());
        assert_eq!(l.items.len(), objects);
    }
    let rss_end = rss_mib();

    println!("## Test cluster scale ({objects} objects, {watchers} watchers)");
    println!();
    println!("| figure | value |");
    println!("| --- | --- |");
    println!(
        "| create {objects} objects (4 writers) | {:.2} s ({:.0} creates/s) |",
        written.as_secs_f64(),
        objects as f64 / written.as_secs_f64()
    );
    println!(
        "| all {watchers} watchers received all events | {:.2} s after the first create |",
        delivered.as_secs_f64()
    );
    println!("| events delivered | {total} (every watcher all {objects}, in order) |");
    println!(
        "| fan-out rate | {:.0} events/s |",
        total as f64 / delivered.as_secs_f64()
    );
    println!(
        "| list of {objects} objects, median of 5 | {:.1} ms |",
        median(lists).as_secs_f64() * 1e3
    );
    println!("| resident memory (server and clients, one process) | {rss_start:.0} MiB before, {rss_end:.0} MiB after |");
    cluster.shutdown().await;
}
