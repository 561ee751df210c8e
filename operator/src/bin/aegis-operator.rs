//! The `aegis-operator` command. `aegis-operator crd` prints the
//! TradingEngine CustomResourceDefinition as YAML (the source of
//! `manifests/crd.yaml`). `aegis-operator run` runs the controller with a
//! client from the environment (in-cluster, or `KUBECONFIG` /
//! `~/.kube/config`) until SIGTERM or Ctrl-C. Leader election, the HTTP
//! endpoints and JSON logs are still to come (issue 6).

use std::io::Write;
use std::process::ExitCode;

use aegis_operator::desired::PodSettings;

const USAGE: &str = "usage: aegis-operator crd                  print the TradingEngine CRD as YAML
       aegis-operator run [--image IMAGE]  run the controller (IMAGE defaults to $AEGIS_WORKER_IMAGE)";

/// The environment variable naming the engine image when `--image` is not given.
const IMAGE_ENV: &str = "AEGIS_WORKER_IMAGE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["crd"] => match aegis_operator::crd::crd_yaml() {
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
        },
        ["run"] => match std::env::var(IMAGE_ENV) {
            Ok(image) if !image.is_empty() => run(image),
            _ => {
                eprintln!("error: run needs --image IMAGE or ${IMAGE_ENV}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        ["run", "--image", image] if !image.is_empty() => run((*image).to_string()),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("error: unknown arguments {other:?}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Runs the controller until SIGTERM or Ctrl-C.
fn run(image: String) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let client = match kube::Client::try_default().await {
            Ok(client) => client,
            Err(e) => {
                eprintln!("error: no Kubernetes client from the environment: {e}");
                return ExitCode::FAILURE;
            }
        };
        let settings = PodSettings {
            image,
            image_pull_policy: None,
        };
        aegis_operator::controller::run(client, settings, shutdown_signal()).await;
        ExitCode::SUCCESS
    })
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
                eprintln!("warning: cannot listen for SIGTERM ({e}); stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
