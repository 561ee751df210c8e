//! Starting, signalling and describing one child process.
//!
//! Children stay in the supervisor's process group, so Ctrl-C in a terminal
//! reaches them as well; the supervisor still sends SIGTERM itself on stop.
//! Each child asks the kernel for SIGTERM when its parent dies
//! (`PR_SET_PDEATHSIG`), so a supervisor killed with SIGKILL leaves no
//! children behind. The kernel ties that signal to the *thread* that forked the
//! child, so children must be spawned from the thread that runs the
//! supervisor loop and outlives them (which [`super::Supervisor::run`] does).

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::spec::ChildSpec;

/// Starts the child described by `spec`. Its stdout and stderr go to
/// `spec.log` (appended, so restarts keep what their predecessors wrote) or,
/// without one, to ours.
pub(crate) fn spawn(spec: &ChildSpec) -> io::Result<Child> {
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null());
    for key in &spec.env_remove {
        command.env_remove(key);
    }
    if let Some(path) = &spec.log {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
        command.stdout(log.try_clone()?).stderr(log);
    }
    let parent = libc::pid_t::try_from(std::process::id()).map_err(io::Error::other)?;
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe functions may be called. It calls only prctl(2) and
    // getppid(2), both plain async-signal-safe system calls, and builds its
    // errors with `last_os_error`/`from_raw_os_error`, which do not allocate.
    // It touches no memory shared with other threads of the parent.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody
            // would ever send the death signal, so give up now.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    command.spawn()
}

/// Sends `signal` to the (not yet reaped, so not reusable) pid of `child`.
pub(crate) fn send_signal(child: &Child, signal: Signal) -> io::Result<()> {
    let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
    kill(Pid::from_raw(pid), signal).map_err(io::Error::from)
}

/// `"exit 1"` or `"signal 9"`, the way events report an exit.
pub fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => format!("unknown ({status})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_codes_and_signals() {
        assert_eq!(describe_exit(ExitStatus::from_raw(3 << 8)), "exit 3");
        assert_eq!(describe_exit(ExitStatus::from_raw(0)), "exit 0");
        assert_eq!(describe_exit(ExitStatus::from_raw(9)), "signal 9");
    }
}
