//! What the operator benchmark needs besides the cluster: its sizes from the
//! environment, the operator as a child process (killed when dropped, even
//! when the bench fails), and that process' memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// `name` from the environment as a count, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `aegis-operator run` as a child process.
pub struct Operator {
    child: Child,
    /// Where it serves /healthz /readyz /metrics.
    pub http: std::net::SocketAddr,
    /// Where its JSON log lines go.
    pub log: PathBuf,
}

impl Operator {
    /// Starts `aegis-operator run` against the cluster of `kubeconfig`, with
    /// leader election as deployed, its log lines (info) in `log`.
    pub fn spawn(kubeconfig: &Path, image: &str, log: PathBuf) -> Operator {
        let http = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let file = std::fs::File::create(&log).expect("the operator log file is writable");
        let child = Command::new(env!("CARGO_BIN_EXE_aegis-operator"))
            .args(["run", "--image", image, "--http-addr", &http.to_string()])
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAMESPACE", "default")
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().expect("a second handle on the log"))
            .stderr(file)
            .spawn()
            .expect("the aegis-operator binary starts");
        Operator { child, http, log }
    }

    /// The reconciles it made and their mean duration, from its /metrics.
    pub fn reconciles(&self) -> (f64, f64) {
        let text = aegis_runtime::http_client::http_get(
            self.http,
            "/metrics",
            std::time::Duration::from_secs(2),
        )
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap_or_default();
        let value = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().last())
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        let count = value("aegis_operator_reconciles_total");
        let sum = value("aegis_operator_reconcile_duration_seconds_sum");
        (count, sum / count)
    }

    /// The peak resident set so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The orchestrators of the engine pods, as one stand-in: an HTTP server on
/// every loopback address at the orchestrator's port, answering `/status`
/// with a body made by the worker's own type (the engine pods get loopback
/// IPs from the simulated node), so each status poll is answered at once as
/// a running orchestrator would answer it.
pub async fn serve_orchestrators() -> tokio::task::JoinHandle<()> {
    use aegis_contract::api::OrchestratorStatus;
    use aegis_operator::desired::Role;
    let body = OrchestratorStatus {
        role: "orchestrator".into(),
        signals_read: 0,
        fills: 0,
        lag: 0,
        last_signal: None,
        book: None,
        balances: None,
        refusal: None,
    };
    let body = serde_json::to_string(&body).expect("a status body");
    let app = axum::Router::new().route(
        "/status",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", Role::Orchestrator.port()))
        .await
        .expect("the orchestrator port is free for the stand-in");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// The loopback address the simulated node gives engine pod `i`.
pub fn pod_ip(i: usize) -> String {
    format!("127.1.{}.{}", i / 250, i % 250 + 1)
}
