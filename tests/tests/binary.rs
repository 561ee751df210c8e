//! The `aegis-test-cluster` binary starts a server, writes a kubeconfig, and
//! kubectl can use it (fails, naming kubectl, when kubectl is missing).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn binary_serves_and_writes_a_kubeconfig_kubectl_can_use() {
    let kubectl_found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        kubectl_found,
        "kubectl is required for this test: install kubectl (or Debian's kubernetes-client)"
    );
    let dir = std::env::temp_dir().join(format!("aegis-bin-test-{}", std::process::id()));
    let kubeconfig = dir.join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aegis-test-cluster"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a first line").expect("readable");
    assert!(
        first.starts_with("serving the Kubernetes API at http://127.0.0.1:"),
        "{first}"
    );
    let second = lines.next().expect("a second line").expect("readable");
    assert_eq!(
        second,
        format!("kubeconfig written to {}", kubeconfig.display())
    );
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .expect("kubectl runs");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(names.lines().any(|l| l == "namespace/default"), "{names}");
}
