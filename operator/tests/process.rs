//! The `aegis-operator run` process against the test cluster: it answers
//! `/healthz`, `/readyz` and `/metrics` (Prometheus text with the
//! operator's metrics) on `--http-addr`, takes the Lease, logs JSON lines,
//! and on SIGTERM exits 0 within a few seconds having released the Lease;
//! with `--no-leader-elect` it reconciles at once and takes no Lease.
//! Bad arguments exit 2 naming the argument.

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use aegis_runtime::http_client::{http_get, HttpResponse};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_aegis-operator");

/// A loopback address for the operator's server, free a moment ago and
/// outside the ephemeral range (see [`aegis_tests::ports`]).
fn free_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], aegis_tests::ports::free_port()))
}

async fn get(addr: SocketAddr, path: &'static str) -> Option<HttpResponse> {
    tokio::task::spawn_blocking(move || http_get(addr, path, Duration::from_secs(2)).ok())
        .await
        .ok()
        .flatten()
}

async fn holder(client: &kube::Client) -> Option<String> {
    Api::<Lease>::namespaced(client.clone(), "default")
        .get_opt("aegis-operator")
        .await
        .expect("get the Lease")
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

/// Reads all of a child's pipe in the background.
fn drain(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    })
}

/// Every metric line is `name{labels} value` with a number for the value.
fn parse_metrics(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not `series value`: {line:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|e| panic!("{line:?}: the value is not a number: {e}"));
            let name = series.split('{').next().unwrap_or_default().to_string();
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "bad metric name in {line:?}"
            );
            (name, value)
        })
        .collect()
}

fn sigterm(child: &Child) {
    let pid = child.id().expect("the child runs");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -TERM {pid} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_serves_probes_and_metrics_logs_json_and_releases_the_lease_on_sigterm() {
    let (cluster, client, engines) = common::cluster_with_crd().await;
    let addr = free_port();
    let mut child = Command::new(BIN)
        .args(["run", "--image", "aegis-worker:test", "--http-addr"])
        .arg(addr.to_string())
        .args(["--lease-namespace", "default"])
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .env("POD_NAME", "op-process")
        .env("RUST_LOG", "info")
        .env_remove("AEGIS_ENGINE_IMAGE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the operator binary starts");
    let stdout = drain(child.stdout.take().expect("stdout"));
    let stderr = drain(child.stderr.take().expect("stderr"));

    common::wait_for(
        "/healthz and /readyz to answer 200",
        Duration::from_secs(20),
        || async {
            let health = get(addr, "/healthz").await.map(|r| r.status);
            let ready = get(addr, "/readyz").await.map(|r| r.status);
            health == Some(200) && ready == Some(200)
        },
    )
    .await;
    common::wait_for(
        "the process to take the Lease",
        Duration::from_secs(20),
        || async { holder(&client).await.as_deref() == Some("op-process") },
    )
    .await;
    common::create_engine(&engines, "zeta").await;
    common::wait_for(
        "a reconcile to be counted",
        Duration::from_secs(20),
        || async {
            let Some(r) = get(addr, "/metrics").await else {
                return false;
            };
            parse_metrics(&String::from_utf8_lossy(&r.body))
                .iter()
                .any(|(n, v)| n == "aegis_operator_reconciles_total" && *v >= 1.0)
        },
    )
    .await;
    // The pod is made a reconcile later than the finalizer (after the
    // debounce); its creation is what the log line about the engine says.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    common::wait_for("the engine's pod", Duration::from_secs(20), || async {
        pods.get_opt("zeta-engine").await.ok().flatten().is_some()
    })
    .await;
    let metrics = get(addr, "/metrics").await.expect("/metrics answers");
    assert_eq!(metrics.status, 200);
    let content_type = metrics.content_type.unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content type {content_type:?}"
    );
    let samples = parse_metrics(&String::from_utf8_lossy(&metrics.body));
    let value = |name: &str| {
        samples
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .sum::<f64>()
    };
    for name in [
        "aegis_operator_reconciles_total",
        "aegis_operator_reconcile_duration_seconds_count",
        "aegis_operator_reconcile_errors_total",
        "aegis_operator_engines",
        "aegis_operator_leader",
        "aegis_operator_leader_transitions_total",
    ] {
        assert!(
            samples.iter().any(|(n, _)| n == name),
            "/metrics lacks {name}"
        );
    }
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        text.contains("# TYPE aegis_operator_reconcile_errors_total counter"),
        "{text}"
    );
    assert_eq!(value("aegis_operator_leader"), 1.0);
    assert_eq!(
        value("aegis_operator_engines"),
        1.0,
        "one engine, in some phase"
    );

    sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the process exits within 10 s of SIGTERM")
        .expect("wait for the process");
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    assert_eq!(holder(&client).await, None, "the Lease was released");

    let out = stdout.await.expect("stdout read");
    let err = stderr.await.expect("stderr read");
    let lines: Vec<&str> = out
        .lines()
        .chain(err.lines())
        .filter(|l| !l.is_empty())
        .collect();
    assert!(lines.len() >= 3, "too few log lines: {lines:?}");
    for line in &lines {
        let json: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(json.get("level").is_some(), "no level: {line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("zeta") && l.contains("\"namespace\"")),
        "no log line names the engine with its namespace: {lines:#?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn bad_arguments_exit_2_naming_the_argument() {
    for (args, named) in [
        (
            vec!["run", "--image", "x", "--http-addr", "nowhere"],
            "--http-addr",
        ),
        (vec!["run", "--image", "x", "--lease-name"], "--lease-name"),
        (vec!["run", "--image", "x", "--frobnicate"], "--frobnicate"),
        (vec!["run"], "AEGIS_ENGINE_IMAGE"),
    ] {
        let output = Command::new(BIN)
            .args(&args)
            .env_remove("AEGIS_ENGINE_IMAGE")
            .output()
            .await
            .expect("the binary runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_leader_election_it_reconciles_at_once_and_takes_no_lease() {
    let (cluster, client, engines) = common::cluster_with_crd().await;
    let addr = free_port();
    let mut child = Command::new(BIN)
        .args(["run", "--no-leader-elect", "--http-addr"])
        .arg(addr.to_string())
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .env("AEGIS_ENGINE_IMAGE", "aegis-worker:test")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the operator binary starts");
    common::wait_for("/readyz to answer 200", Duration::from_secs(20), || async {
        get(addr, "/readyz").await.is_some_and(|r| {
            r.status == 200 && String::from_utf8_lossy(&r.body).contains("leader election disabled")
        })
    })
    .await;
    common::create_engine(&engines, "eta").await;
    common::wait_for("the engine's pod", Duration::from_secs(20), || async {
        Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), "default")
            .get_opt(&aegis_operator::desired::pod_name("eta"))
            .await
            .expect("get pod")
            .is_some()
    })
    .await;
    let leases = Api::<Lease>::all(client.clone())
        .list(&Default::default())
        .await
        .expect("list leases");
    assert!(
        leases.items.is_empty(),
        "a Lease was taken: {:?}",
        leases.items
    );
    sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the process exits within 10 s of SIGTERM")
        .expect("wait for the process");
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    cluster.shutdown().await;
}
