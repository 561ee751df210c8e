//! The `podman` command with the project's containers.conf, and the few
//! queries the end-to-end test makes of it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `podman` with `CONTAINERS_CONF` pointing at the project's file.
pub struct Podman {
    conf: PathBuf,
}

impl Podman {
    /// Checks that podman is installed and can reach its storage and runtime;
    /// panics with a message saying what is missing otherwise.
    pub fn preflight() -> Podman {
        let podman = Podman {
            conf: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/podman/containers.conf"),
        };
        match Command::new("podman").arg("--version").output() {
            Ok(out) if out.status.success() => {}
            other => panic!(
                "podman is not installed ({other:?}); the end-to-end test needs the Debian \
                 packages podman, runc and catatonit (scripts/test installs them)"
            ),
        }
        let info = podman.output(&["info", "--format", "{{.Host.OCIRuntime.Name}}"]);
        assert!(
            info.status.success(),
            "podman cannot run containers on this machine: `podman info` failed: {}",
            String::from_utf8_lossy(&info.stderr)
        );
        podman
    }

    /// `podman <args>`, whatever its outcome.
    pub fn output(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .env("CONTAINERS_CONF", &self.conf)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running podman {args:?}: {e}"))
    }

    /// `podman <args>`, which must succeed; its standard output, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "podman {args:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `podman inspect --format <format> <container>`.
    pub fn inspect(&self, container: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, container])
    }

    /// The host pid of a container's main process and how often podman has
    /// restarted it; `None` while it is not running.
    pub fn pid_and_restarts(&self, container: &str) -> Option<(u32, u32)> {
        let out = self.output(&[
            "inspect",
            "--format",
            "{{.State.Pid}} {{.RestartCount}}",
            container,
        ]);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut fields = text.split_whitespace().map(str::parse::<u32>);
        match (fields.next(), fields.next()) {
            (Some(Ok(pid)), Some(Ok(restarts))) if pid > 0 => Some((pid, restarts)),
            _ => None,
        }
    }

    /// The IP address of a pod on its podman network.
    pub fn pod_ip(&self, pod: &str) -> Option<std::net::IpAddr> {
        let infra = self.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", pod]);
        self.inspect(
            &infra,
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        )
        .parse()
        .ok()
    }
}
