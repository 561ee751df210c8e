//! `aegis-test-cluster`: serves an in-memory Kubernetes API on loopback,
//! writes a kubeconfig for it, and runs until Ctrl-C.
//!
//! Usage: `aegis-test-cluster [--kubeconfig PATH] [--port PORT]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use aegis_tests::cluster::{Config, TestCluster};

fn usage() -> ExitCode {
    eprintln!("usage: aegis-test-cluster [--kubeconfig PATH] [--port PORT]");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut kubeconfig = PathBuf::from("aegis-test-cluster.kubeconfig");
    let mut port: u16 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--kubeconfig", Some(p)) => kubeconfig = PathBuf::from(p),
            ("--port", Some(p)) => match p.parse() {
                Ok(n) => port = n,
                Err(_) => return usage(),
            },
            _ => return usage(),
        }
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let cluster = match TestCluster::start_at(Config::default(), addr, Some(&kubeconfig)).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("aegis-test-cluster: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving the Kubernetes API at {}", cluster.url());
    println!("kubeconfig written to {}", kubeconfig.display());
    println!(
        "try: KUBECONFIG={} kubectl get namespaces",
        kubeconfig.display()
    );
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("aegis-test-cluster: cannot wait for Ctrl-C: {e}");
    }
    cluster.shutdown().await;
    ExitCode::SUCCESS
}
