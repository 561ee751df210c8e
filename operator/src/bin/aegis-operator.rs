//! The `aegis-operator` command. `aegis-operator crd` prints the
//! TradingEngine CustomResourceDefinition as YAML (the source of
//! `manifests/crd.yaml`). `aegis-operator run` runs the operator with a
//! client from the environment (in-cluster, or `KUBECONFIG` /
//! `~/.kube/config`): leader election with a Lease (unless
//! `--no-leader-elect`), the controller while leading, `/healthz` `/readyz`
//! `/metrics` `/status` on `--http-addr`, JSON log lines (level from
//! `RUST_LOG`, default info). SIGTERM or Ctrl-C stops it gracefully (exit
//! 0): reconciles in flight finish, then the Lease is released.
//! `aegis-operator probe URL` GETs one http:// URL (the chart's `helm test`
//! hook: the image has no shell or curl) and exits 0 on a 2xx answer, 1
//! otherwise. Bad arguments exit 2.

use std::io::Write;
use std::net::ToSocketAddrs;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aegis_contract::config::{LogConfig, LogFormat};
use aegis_operator::cli::{parse_probe, parse_run, ProbeArgs, RunArgs, POD_NAMESPACE_ENV, USAGE};
use aegis_operator::consent::images::AllowedImages;
use aegis_operator::control_key::ControlKey;
use aegis_operator::controller::Context;
use aegis_operator::desired::PodSettings;
use aegis_operator::leader::{default_identity, Elector, LeaderSettings, LeaderStatus};
use aegis_operator::metrics::Metrics;
use aegis_operator::{operator, server};
use aegis_runtime::http_client::http_get;

/// How long `probe` waits for the whole answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crd") if args.len() == 1 => print_crd(),
        Some("run") => match parse_run(&args[1..], |k| std::env::var(k).ok()) {
            Ok(run_args) => run(run_args),
            Err(e) => {
                eprintln!("error: {e}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("probe") => match parse_probe(&args[1..]) {
            Ok(target) => probe(&target),
            Err(e) => {
                eprintln!("error: {e}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("-h" | "--help" | "help") if args.len() == 1 => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("error: unknown arguments {args:?}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn print_crd() -> ExitCode {
    match aegis_operator::crd::crd_yaml() {
        Ok(yaml) => {
            if let Err(e) = std::io::stdout().write_all(yaml.as_bytes()) {
                eprintln!("error: writing the CRD: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: serializing the CRD: {e}");
            ExitCode::FAILURE
        }
    }
}

/// GETs `target` once: exit 0 on a 2xx answer, 1 (with the reason on
/// stderr) on any other status, an unresolvable host or a failed request.
fn probe(target: &ProbeArgs) -> ExitCode {
    let url = target.url();
    let addr = match (target.host.as_str(), target.port).to_socket_addrs() {
        Ok(mut addrs) => match addrs.next() {
            Some(addr) => addr,
            None => {
                eprintln!("error: probe {url}: host {:?} has no address", target.host);
                return ExitCode::FAILURE;
            }
        },
        Err(e) => {
            eprintln!(
                "error: probe {url}: cannot resolve host {:?}: {e}",
                target.host
            );
            return ExitCode::FAILURE;
        }
    };
    match http_get(addr, &target.path, PROBE_TIMEOUT) {
        Ok(response) if (200..=299).contains(&response.status) => {
            println!("GET {url}: {}", response.status);
            ExitCode::SUCCESS
        }
        Ok(response) => {
            let body = String::from_utf8_lossy(&response.body);
            let body = body.trim();
            eprintln!(
                "error: GET {url} answered {} (not 2xx){}{}",
                response.status,
                if body.is_empty() { "" } else { ": " },
                body.chars().take(200).collect::<String>()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: probe {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the operator until SIGTERM or Ctrl-C.
fn run(args: RunArgs) -> ExitCode {
    aegis_runtime::telemetry::init(&LogConfig {
        format: LogFormat::Json,
        level: std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match run_operator(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn run_operator(args: RunArgs) -> Result<(), String> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("no Kubernetes client from the environment: {e}"))?;
    let metrics = Metrics::new().map_err(|e| format!("registering the metrics: {e}"))?;
    let allowed_images = AllowedImages::new(&args.image, &args.allowed_images)
        .map_err(|e| format!("--allowed-images: {e}"))?;
    tracing::info!(allowed_images = %allowed_images, "engine pods may run these images");
    // The key of the engines' control tokens lives in the operator's own
    // namespace (the pod's, by the downward API).
    let own_namespace = std::env::var(POD_NAMESPACE_ENV)
        .ok()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| client.default_namespace().to_string());
    let control_key = ControlKey::load_or_create(client.clone(), &own_namespace)
        .await
        .map_err(|e| e.to_string())?;
    let settings = PodSettings {
        image: args.image.clone(),
        image_pull_policy: None,
        control_key,
    };
    let ctx = Context::new(client.clone(), settings)
        .with_allowed_images(allowed_images)
        .with_metrics(metrics.clone());
    let identity = default_identity();
    if !args.leader_elect {
        let status = Arc::new(LeaderStatus::without_election(identity));
        let _http = server::serve(args.http_addr, status.clone(), metrics)
            .map_err(|e| format!("cannot listen on --http-addr {}: {e}", args.http_addr))?;
        tracing::info!(http_addr = %args.http_addr, "running without leader election");
        operator::run_unelected(ctx, status, shutdown_signal()).await;
        return Ok(());
    }
    let namespace = args
        .lease_namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let leader = LeaderSettings::new(&args.lease_name, namespace, identity)
        .map_err(|e| format!("leader election: {e}"))?;
    let elector = Elector::new(client, leader, metrics.clone());
    let _http = server::serve(args.http_addr, elector.status(), metrics)
        .map_err(|e| format!("cannot listen on --http-addr {}: {e}", args.http_addr))?;
    tracing::info!(http_addr = %args.http_addr, "serving /healthz /readyz /metrics /status");
    operator::run_elected(ctx, elector, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM (unix) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown requested: finishing the reconciles in flight");
}
