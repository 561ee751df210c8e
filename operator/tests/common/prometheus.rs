//! Prometheus' own tools for the tests, from the Debian package `prometheus`:
//! `promtool` (checks metrics text and rule files, runs rule unit tests) and
//! the `prometheus` server. A missing tool fails the test naming the package.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// What `promtool` said: its exit status and everything it printed.
#[derive(Debug)]
pub struct PromtoolOutput {
    /// Whether it exited 0.
    pub success: bool,
    /// Its stdout and stderr, in that order.
    pub text: String,
}

/// Fails the test unless `tool --version` runs (`prometheus` or `promtool`,
/// both from the Debian package prometheus).
pub fn require(tool: &str) {
    aegis_tests::tools::require(tool, "prometheus");
}

/// Runs `promtool` with `args` in `dir`, `stdin` on its standard input.
pub fn promtool(dir: &Path, args: &[&str], stdin: &[u8]) -> PromtoolOutput {
    require("promtool");
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    let mut input = child.stdin.take().expect("promtool's stdin");
    // promtool may exit before reading all of it (bad input): ignore EPIPE.
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().expect("promtool runs");
    PromtoolOutput {
        success: out.status.success(),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// `promtool check metrics` on a /metrics body: passes only when it exits 0
/// and prints nothing (a lint problem is printed even with exit 0 on some
/// versions).
pub fn check_metrics(body: &[u8]) -> PromtoolOutput {
    let mut out = promtool(Path::new("."), &["check", "metrics"], body);
    out.success &= out.text.trim().is_empty();
    out
}
