//! Outside programs the tests drive (prometheus, promtool, chromium, ...):
//! a missing one fails the test naming the Debian package to install,
//! never skips it.

use std::process::{Command, Stdio};

/// Fails the test unless `tool --version` runs; `package` is the Debian
/// package that provides it.
pub fn require(tool: &str, package: &str) {
    let ran = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        ran.is_ok_and(|s| s.success()),
        "`{tool} --version` does not run: install the Debian package {package} \
         (apt-get install --no-install-recommends {package})"
    );
}
