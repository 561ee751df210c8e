//! Writing a kubeconfig that points kubectl, kube-rs or the Python client at
//! the test cluster (plain HTTP on loopback, no credentials).

use std::net::SocketAddr;
use std::path::Path;

/// The kubeconfig text for a server at `addr`.
pub fn render(addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: aegis-test
  cluster:
    server: http://{addr}
contexts:
- name: aegis-test
  context:
    cluster: aegis-test
    user: aegis-test
    namespace: default
current-context: aegis-test
preferences: {{}}
users:
- name: aegis-test
  user: {{}}
"
    )
}

/// Writes the kubeconfig for `addr` to `path`.
pub fn write(addr: SocketAddr, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render(addr))
}
