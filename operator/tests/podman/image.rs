//! The images under test: the workspace's binaries built statically on the
//! host (the Dockerfile's own flags), then `podman build` of the
//! Dockerfile's `worker` and `operator` targets with the `build` stage
//! replaced by those binaries (`--build-context build=<dir>`). The images'
//! final stages are exactly what `podman build .` makes from source.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::cli::Podman;

/// The target triple of the static build (the Dockerfile's).
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The two images of one test run, removed again on drop.
pub struct Images<'p> {
    podman: &'p Podman,
    /// The engine image (entrypoint aegis-worker).
    pub worker: String,
    /// The operator image (entrypoint aegis-operator).
    pub operator: String,
}

impl Drop for Images<'_> {
    fn drop(&mut self) {
        let _ = self
            .podman
            .output(&["rmi", "--force", &self.worker, &self.operator]);
    }
}

/// Builds both binaries statically into `<repo>/target/image` with the
/// Dockerfile's flags and stages them, with the CA bundle, as `out/` of a
/// directory the `build` stage can be replaced by.
fn static_binaries(repo: &Path) -> PathBuf {
    let target_dir = repo.join("target/image");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // Not the variables cargo set for this test: build scripts that watch
    // them would rebuild their crates on every run.
    for (key, _) in std::env::vars_os() {
        if key
            .to_str()
            .is_some_and(|k| (k.starts_with("CARGO_") && k != "CARGO_HOME") || k == "OUT_DIR")
        {
            build.env_remove(key);
        }
    }
    let status = build
        .current_dir(repo)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", &target_dir)
        .args([
            "build",
            "--profile",
            "image",
            "--locked",
            "--target",
            TARGET,
        ])
        .args(["-p", "aegis-worker", "-p", "aegis-operator"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the static build failed ({status})");
    let out = target_dir.join("context/out");
    std::fs::create_dir_all(&out).expect("create the staging directory");
    let built = target_dir.join(TARGET).join("image");
    for bin in ["aegis-worker", "aegis-operator"] {
        std::fs::copy(built.join(bin), out.join(bin))
            .unwrap_or_else(|e| panic!("staging {bin}: {e}"));
    }
    std::fs::copy(
        "/etc/ssl/certs/ca-certificates.crt",
        out.join("ca-certificates.crt"),
    )
    .expect("the CA bundle (Debian package ca-certificates) is staged");
    target_dir.join("context")
}

/// Builds the binaries and both images, tagged with `tag`.
pub fn build<'p>(podman: &'p Podman, repo: &Path, tag: &str) -> Images<'p> {
    let context = static_binaries(repo);
    let images = Images {
        podman,
        worker: format!("localhost/aegis-worker:{tag}"),
        operator: format!("localhost/aegis-operator:{tag}"),
    };
    let build_context = format!("build={}", context.display());
    let containerfile = repo.join("Dockerfile");
    for (target, name) in [("worker", &images.worker), ("operator", &images.operator)] {
        podman.ok(&[
            "build",
            "--quiet",
            "--build-context",
            &build_context,
            "--target",
            target,
            "--tag",
            name,
            "--file",
            &containerfile.display().to_string(),
            &repo.display().to_string(),
        ]);
    }
    images
}
