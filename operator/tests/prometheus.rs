//! Prometheus, for real: the Debian `prometheus` server scrapes the three
//! roles under `aegis-worker up` and the operator (run against the test
//! cluster) every second; its HTTP API shows all four targets up and the key
//! series present and moving (candles written, brain candles and signals,
//! reconciles rise; equity and the leader gauge are there). Every query of
//! the chart's Grafana dashboard returns series while the engine runs
//! (except those on live-only metrics, which a paper engine does not export;
//! operator/tests/alert_rules.rs parses them all). Every /metrics body passes
//! `promtool check metrics`. All children are killed even when an assertion
//! fails.

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use aegis_runtime::http_client::http_get;
use common::dashboard;
use common::prometheus::{check_metrics, require};

const OPERATOR: &str = env!("CARGO_BIN_EXE_aegis-operator");

/// The scrape jobs: name and the role they scrape.
const JOBS: [&str; 4] = [
    "aegis-feed",
    "aegis-brain",
    "aegis-orchestrator",
    "aegis-operator",
];

/// `aegis-worker`, built next to the operator binary. `cargo test
/// --workspace` builds it; with `cargo test -p aegis-operator` alone, run
/// `cargo build -p aegis-worker` first or the binary may be stale.
fn worker_bin() -> PathBuf {
    let bin = Path::new(OPERATOR).with_file_name("aegis-worker");
    assert!(
        bin.is_file(),
        "{} is missing: build it with cargo build -p aegis-worker",
        bin.display()
    );
    bin
}

/// Every child started by the test, killed and reaped when it is dropped.
#[derive(Default)]
struct Children(Mutex<Vec<(&'static str, Child)>>);

impl Children {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, Child)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn(&self, name: &'static str, cmd: &mut Command) {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        self.list().push((name, child));
    }

    /// Fails the test if a child has exited.
    fn assert_running(&self, logs: &Path) {
        for (name, child) in self.list().iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{name} exited with {status}; logs in {}:\n{}",
                    logs.display(),
                    tail_logs(logs)
                );
            }
        }
    }
}

impl Drop for Children {
    /// SIGTERM to every child (so `up` stops and reaps its roles), then
    /// SIGKILL to any still running after 10 s.
    fn drop(&mut self) {
        let mut children = self.list();
        for (_, child) in children.iter() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        for (_, child) in children.iter_mut() {
            while child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The last lines of every log file in `dir` (for failure messages).
fn tail_logs(dir: &Path) -> String {
    let mut out = String::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.extend(
        std::fs::read_dir(dir.join("rings/logs"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    for file in files.iter().filter(|f| f.is_file()) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(15);
        let _ = writeln!(out, "== {}\n{}", file.display(), lines[start..].join("\n"));
    }
    out
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The body of a 200 answer to `GET path`, or `None`.
async fn get_body(addr: SocketAddr, path: String) -> Option<Vec<u8>> {
    tokio::task::spawn_blocking(move || http_get(addr, &path, Duration::from_secs(3)).ok())
        .await
        .ok()
        .flatten()
        .filter(|r| r.status == 200)
        .map(|r| r.body)
}

/// Percent-encodes a query string value.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus' HTTP API on `addr`.
struct Api {
    addr: SocketAddr,
}

impl Api {
    /// `data` of a successful API answer, or `None`.
    async fn data(&self, path: String) -> Option<serde_json::Value> {
        let body = get_body(self.addr, path).await?;
        let mut json: serde_json::Value = serde_json::from_slice(&body).ok()?;
        (json["status"] == "success").then(|| json["data"].take())
    }

    /// The health of every active target, by job.
    async fn target_health(&self) -> Vec<(String, String)> {
        let Some(data) = self.data("/api/v1/targets?state=active".into()).await else {
            return Vec::new();
        };
        data["activeTargets"]
            .as_array()
            .map(|targets| {
                targets
                    .iter()
                    .map(|t| {
                        (
                            t["labels"]["job"].as_str().unwrap_or_default().to_owned(),
                            t["health"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An instant query: each result's `job` label and value.
    async fn query(&self, promql: &str) -> Vec<(String, f64)> {
        let path = format!("/api/v1/query?query={}", url_encode(promql));
        let Some(data) = self.data(path).await else {
            return Vec::new();
        };
        data["result"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .filter_map(|r| {
                        let job = r["metric"]["job"].as_str().unwrap_or_default().to_owned();
                        let value = r["value"][1].as_str()?.parse().ok()?;
                        Some((job, value))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The single value of `promql`, if it has exactly one result.
    async fn value(&self, promql: &str) -> Option<f64> {
        match self.query(promql).await.as_slice() {
            [(_, value)] => Some(*value),
            _ => None,
        }
    }

    /// Waits until `promql` has one value above `floor`; returns it.
    async fn wait_above(&self, promql: &str, floor: f64, limit: Duration) -> f64 {
        let seen = std::cell::Cell::new(None);
        common::wait_for(
            &format!("Prometheus to return {promql} > {floor}"),
            limit,
            || async {
                seen.set(self.value(promql).await);
                seen.get().is_some_and(|v| v > floor)
            },
        )
        .await;
        seen.get().unwrap_or_default()
    }
}

/// A static scrape configuration: every job once a second.
fn scrape_config(targets: &[(&str, SocketAddr)]) -> String {
    let mut yaml = String::from(
        "# Generated by operator/tests/prometheus.rs.\nglobal:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    for (job, addr) in targets {
        let _ = write!(
            yaml,
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{addr}']\n"
        );
    }
    yaml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_roles_and_the_operator_and_their_series_move() {
    require("prometheus");
    require("promtool");
    let worker = worker_bin();
    let tmp = tempfile::Builder::new()
        .prefix("aegis-prometheus-")
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .expect("a temporary directory");
    let dir = tmp.path();
    let log = |name: &str| {
        std::fs::File::create(dir.join(format!("{name}.log")))
            .unwrap_or_else(|e| panic!("creating {name}.log: {e}"))
    };
    let children = Children::default();

    // The operator, leading, against the test cluster.
    let (cluster, _client, engines) = common::cluster_with_crd().await;
    let operator = loopback(aegis_tests::ports::free_port());
    children.spawn(
        "aegis-operator",
        Command::new(OPERATOR)
            .args(["run", "--image", "aegis-worker:test", "--http-addr"])
            .arg(operator.to_string())
            .args(["--lease-namespace", "default"])
            .env("KUBECONFIG", cluster.kubeconfig_path())
            .env("POD_NAME", "op-prometheus")
            .env("RUST_LOG", "info")
            .env_remove("AEGIS_ENGINE_IMAGE")
            .stdout(log("operator"))
            .stderr(log("operator.err")),
    );
    common::create_engine(&engines, "alpha").await;

    // The engine on loopback, ten simulated candles a second.
    let base = aegis_tests::ports::free_ports(3);
    children.spawn(
        "aegis-worker up",
        Command::new(&worker)
            .args(["--set", "feed.simulated.speed=10"])
            .arg("--set")
            .arg(format!(
                "orchestrator.data_dir={}",
                dir.join("data").display()
            ))
            .args(["up", "--dir"])
            .arg(dir.join("rings"))
            .args(["--port-base", &base.to_string()])
            .stdout(log("up"))
            .stderr(log("up.err")),
    );
    let targets = [
        ("aegis-feed", loopback(base)),
        ("aegis-brain", loopback(base + 1)),
        ("aegis-orchestrator", loopback(base + 2)),
        ("aegis-operator", operator),
    ];
    for (job, addr) in targets {
        common::wait_for(
            &format!("{job} to answer /metrics on {addr}"),
            Duration::from_secs(20),
            || async {
                children.assert_running(dir);
                get_body(addr, "/metrics".into()).await.is_some()
            },
        )
        .await;
    }

    // Prometheus itself.
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, scrape_config(&targets)).expect("writing prometheus.yml");
    let api = Api {
        addr: loopback(aegis_tests::ports::free_port()),
    };
    children.spawn(
        "prometheus",
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={}", api.addr))
            .stdout(log("prometheus"))
            .stderr(log("prometheus.err")),
    );
    common::wait_for(
        "Prometheus to report all four targets up",
        Duration::from_secs(30),
        || async {
            children.assert_running(dir);
            let health = api.target_health().await;
            JOBS.iter()
                .all(|job| health.iter().any(|(j, h)| j == job && h == "up"))
        },
    )
    .await;
    let up = api.query("up").await;
    for job in JOBS {
        assert!(
            up.contains(&(job.to_owned(), 1.0)),
            "up{{job={job:?}}} is not 1: {up:?}"
        );
    }

    // The feed's candles and the brain's reads and signals rise.
    let written = "sum(aegis_candles_written_total{job=\"aegis-feed\"})";
    let first = api.wait_above(written, 0.0, Duration::from_secs(20)).await;
    api.wait_above(written, first, Duration::from_secs(20))
        .await;
    let read = "sum(aegis_candles_read_total{job=\"aegis-brain\"})";
    let first = api.wait_above(read, 0.0, Duration::from_secs(20)).await;
    api.wait_above(read, first, Duration::from_secs(20)).await;
    api.wait_above(
        "sum(aegis_signals_total{job=\"aegis-brain\"})",
        0.0,
        Duration::from_secs(20),
    )
    .await;
    for series in [
        "aegis_signal_changes_total{job=\"aegis-brain\"}",
        "aegis_ring_lag{job=\"aegis-brain\", ring=\"candles\"}",
        "aegis_ring_missed{job=\"aegis-orchestrator\", ring=\"signals\"}",
        "aegis_drawdown{job=\"aegis-orchestrator\"}",
        "aegis_halted{job=\"aegis-orchestrator\"}",
        "aegis_build_info{job=\"aegis-feed\", role=\"feed\"}",
    ] {
        assert!(
            api.value(series).await.is_some(),
            "Prometheus has no single series {series}"
        );
    }
    // Equity: the paper account's 10000 starting cash, give or take PnL.
    let equity = api.value("aegis_equity{job=\"aegis-orchestrator\"}").await;
    assert!(
        equity.is_some_and(|e| e > 1000.0),
        "aegis_equity is {equity:?}, not around the starting cash"
    );

    // The operator leads, and its reconciles rise with a second engine.
    assert_eq!(
        api.value("aegis_operator_leader{job=\"aegis-operator\"}")
            .await,
        Some(1.0),
        "the operator's leader gauge"
    );
    let reconciles = "aegis_operator_reconciles_total{job=\"aegis-operator\"}";
    let before = api
        .wait_above(reconciles, 0.0, Duration::from_secs(20))
        .await;
    common::create_engine(&engines, "beta").await;
    api.wait_above(reconciles, before, Duration::from_secs(20))
        .await;
    api.wait_above(
        "sum(aegis_operator_engines{job=\"aegis-operator\"})",
        1.0,
        Duration::from_secs(20),
    )
    .await;

    // Every panel of the Grafana dashboard shows the running engine and
    // operator: each of its queries returns series.
    let queries = dashboard::queries();
    for q in queries.iter().filter(|q| !q.live_only()) {
        let promql = q.promql();
        common::wait_for(
            &format!("dashboard panel {:?}: {promql} to return series", q.panel),
            Duration::from_secs(20),
            || async {
                children.assert_running(dir);
                !api.query(&promql).await.is_empty()
            },
        )
        .await;
    }
    let panels: std::collections::BTreeSet<&str> =
        queries.iter().map(|q| q.panel.as_str()).collect();
    for panel in panels {
        assert!(
            queries.iter().any(|q| q.panel == panel && !q.live_only()),
            "panel {panel:?} has only live-only queries: nothing checks it returns series"
        );
    }

    // promtool lints every /metrics body clean.
    for (job, addr) in targets {
        let body = get_body(addr, "/metrics".into())
            .await
            .unwrap_or_else(|| panic!("{job} stopped answering /metrics"));
        let out = check_metrics(&body);
        assert!(
            out.success,
            "promtool check metrics on {job}'s /metrics:\n{}",
            out.text
        );
    }

    drop(children);
    cluster.shutdown().await;
}
