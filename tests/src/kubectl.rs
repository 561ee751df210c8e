//! Running the real `kubectl` against a [`TestCluster`]: its written
//! kubeconfig, a private discovery cache, stdin for manifests, and a time
//! limit per call. These helpers panic with kubectl's own output when a
//! call that must succeed fails, because they exist only for tests.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::cluster::TestCluster;

/// How long one kubectl call may take before the test fails.
pub const CALL_LIMIT: Duration = Duration::from_secs(30);

/// A test cluster and the kubectl that talks to it.
pub struct Kubectl {
    /// The cluster kubectl talks to.
    pub cluster: TestCluster,
    cache: PathBuf,
}

/// What one kubectl call printed and whether it succeeded.
pub struct Output {
    /// Whether kubectl exited 0.
    pub ok: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Kubectl {
    /// Starts a test cluster. Panics with what to install when kubectl is
    /// missing: tests that need it fail, they are never skipped.
    pub async fn start() -> Self {
        let found = std::process::Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "kubectl is required for these tests: install kubectl (or Debian's kubernetes-client) and put it on PATH"
        );
        let cluster = TestCluster::start().await.expect("cluster starts");
        let cache = cluster.kubeconfig_path().with_file_name("kubectl-cache");
        Kubectl { cluster, cache }
    }

    /// A kubectl command for this cluster with `args`, not yet started.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(self.cluster.kubeconfig_path())
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        cmd
    }

    /// Runs kubectl with `args` and `stdin`, within [`CALL_LIMIT`].
    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl runs");
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(text) = stdin {
            input
                .write_all(text.as_bytes())
                .await
                .expect("stdin written");
        }
        drop(input);
        let out = tokio::time::timeout(CALL_LIMIT, child.wait_with_output())
            .await
            .expect("kubectl finishes within 30s")
            .expect("kubectl output");
        Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// Runs kubectl and returns its stdout; panics with its output if it fails.
    pub async fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin).await;
        assert!(
            out.ok,
            "kubectl {args:?} failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }
}
