//! What the operator benchmark needs besides the cluster: its sizes from the
//! environment, the operator as a child process, and that process' memory.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `name` from the environment as a count, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Starts `aegis-operator run` against the cluster of `kubeconfig`, its
/// logs discarded (they would dominate the terminal).
pub fn spawn_operator(kubeconfig: &Path, image: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_aegis-operator"))
        .args(["run", "--image", image])
        .env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the aegis-operator binary starts")
}

/// The peak resident set of process `pid` (VmHWM), in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}
