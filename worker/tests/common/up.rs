//! A running `aegis-worker up` (the three roles under the local supervisor),
//! and the process plumbing it needs: signals, reaping, a kill-on-drop guard.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::http::{status_pid, Control};
use super::{free_port_base, wait_for, BIN};

/// The roles in port order: `up --port-base B` puts them on B, B+1 and B+2.
pub const ROLES: [&str; 3] = ["feed", "brain", "orchestrator"];

/// Sends `sig` to the process `pid`.
pub fn signal(pid: u32, sig: Signal) -> nix::Result<()> {
    kill(Pid::from_raw(pid as i32), sig)
}

/// The exit status of `child` once it exits, or `None` after `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    wait_for(timeout, || child.try_wait().ok().flatten())
}

/// A child process killed (and reaped) if the test ends without stopping it.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The pid `role` of `up --port-base <base>` in `rings` reports in its
/// `/status` (the orchestrator's is on the control API).
pub fn role_pid(base: u16, rings: &Path, role: &str) -> Option<u32> {
    if role != "orchestrator" {
        let index = ROLES.iter().position(|r| *r == role)?;
        return status_pid(base + index as u16, role);
    }
    let status: serde_json::Value = Control::of_up(base, rings)?.status()?;
    (status["role"] == role)
        .then(|| status["pid"].as_u64())?
        .map(|p| p as u32)
}

/// Numbers the stdout files of `up` runs in this test process.
static UP_RUNS: AtomicUsize = AtomicUsize::new(0);

/// `aegis-worker --set ... up --dir <rings> --port-base <base>`, running;
/// SIGKILLed (which takes its roles with it) if dropped without [`Up::stop`].
pub struct Up {
    pub guard: Guard,
    /// The ring directory (`--dir`); the roles' logs are in `<rings>/logs`.
    pub rings: PathBuf,
    pub base: u16,
    /// `up`'s stdout (its exit summary).
    pub stdout: PathBuf,
}

impl Up {
    /// Starts `up` with these `--set`s, in a fresh `attempt-N` directory under
    /// `parent` (created by `prepare` first), and waits until all three roles
    /// answer `/status`. Retries with other ports if one was taken.
    pub fn start<S: AsRef<OsStr>>(parent: &Path, sets: &[S], prepare: impl Fn(&Path)) -> Up {
        Up::start_with_env(parent, sets, &[], prepare)
    }

    /// [`Up::start`] with extra environment variables for `up` and its roles
    /// (the exchange credentials).
    pub fn start_with_env<S: AsRef<OsStr>>(
        parent: &Path,
        sets: &[S],
        env: &[(&str, &str)],
        prepare: impl Fn(&Path),
    ) -> Up {
        Up::start_in(parent, sets, env, prepare, |attempt| {
            parent.join(format!("attempt-{attempt}"))
        })
    }

    /// Starts `up` again on the rings (and so the state) of an earlier run.
    pub fn resume<S: AsRef<OsStr>>(parent: &Path, sets: &[S], rings: &Path) -> Up {
        Up::start_in(parent, sets, &[], |_| {}, |_| rings.to_path_buf())
    }

    fn start_in<S: AsRef<OsStr>>(
        parent: &Path,
        sets: &[S],
        env: &[(&str, &str)],
        prepare: impl Fn(&Path),
        rings_for: impl Fn(usize) -> PathBuf,
    ) -> Up {
        for attempt in 0..4 {
            let rings = rings_for(attempt);
            std::fs::create_dir_all(&rings).expect("creating the ring directory");
            prepare(&rings);
            let base = free_port_base();
            let stdout = parent.join(format!(
                "up-{}.out",
                UP_RUNS.fetch_add(1, Ordering::Relaxed)
            ));
            let mut cmd = Command::new(BIN);
            for set in sets {
                cmd.arg("--set").arg(set);
            }
            cmd.envs(env.iter().copied())
                .arg("up")
                .arg("--dir")
                .arg(&rings)
                .arg("--port-base")
                .arg(base.to_string())
                .stdin(Stdio::null())
                .stdout(File::create(&stdout).expect("creating up's stdout"))
                .stderr(Stdio::inherit());
            let mut guard = Guard(cmd.spawn().expect("starting aegis-worker up"));
            let all_up = wait_for(Duration::from_secs(15), || {
                if guard.0.try_wait().ok().flatten().is_some() {
                    return Some(false);
                }
                let pids = ROLES
                    .iter()
                    .filter(|role| role_pid(base, &rings, role).is_some())
                    .count();
                (pids == 3).then_some(true)
            });
            if all_up == Some(true) {
                return Up {
                    guard,
                    rings,
                    base,
                    stdout,
                };
            }
            let logs = ROLES
                .iter()
                .map(|r| std::fs::read_to_string(rings.join(format!("logs/{r}.log"))))
                .filter_map(Result::ok)
                .collect::<String>();
            drop(guard);
            assert!(
                logs.contains("Address already in use") || logs.contains("in use"),
                "up did not come up (attempt {attempt}); logs:\n{logs}"
            );
            eprintln!("ports from {base} were taken; retrying");
        }
        panic!("up could not get free ports in four attempts");
    }

    /// The port of `role` (one of [`ROLES`]).
    pub fn port(&self, role: &str) -> u16 {
        let index = ROLES.iter().position(|r| *r == role).expect("a role");
        self.base + index as u16
    }

    /// The pid `role`'s `/status` reports, if it answers.
    pub fn pid(&self, role: &str) -> Option<u32> {
        role_pid(self.base, &self.rings, role)
    }

    /// The orchestrator's control API (port base+3, the run's token).
    pub fn control(&self) -> Control {
        Control::of_up(self.base, &self.rings).expect("up wrote its control token")
    }

    /// SIGTERMs `up` and returns its exit status; panics (with its stdout) if
    /// it has not exited within 20 s.
    pub fn stop(mut self) -> ExitStatus {
        signal(self.guard.0.id(), Signal::SIGTERM).expect("SIGTERM to up");
        let status = wait_exit(&mut self.guard.0, Duration::from_secs(20));
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        status.unwrap_or_else(|| panic!("up did not exit within 20 s of SIGTERM; stdout:\n{out}"))
    }
}
