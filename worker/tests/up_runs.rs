//! What `aegis-worker up` leaves behind without `--dir`: a clean stop
//! removes the run's rings from the shared-memory directory, and the logs
//! and generated configuration stay on disk in `<data dir>/runs/<run>/`,
//! pruned to the newest `RUNS_KEPT` runs.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use aegis_worker::local::runs::RUNS_KEPT;
use common::up::{role_pid, signal, wait_exit, Guard, ROLES};
use common::{free_port_base, wait_for, BIN};
use nix::sys::signal::Signal;

/// Runs `up` with its rings under `shm` and its data in `data` until all
/// three roles answer, then SIGTERMs it; returns its stdout. Retries on
/// other ports if one was taken.
fn run_up(work: &Path, shm: &Path, data: &Path) -> String {
    for attempt in 0..4 {
        let base = free_port_base();
        let stdout = work.join(format!("up-{attempt}-{base}.out"));
        let mut guard = Guard(
            Command::new(BIN)
                .args(["--set", "interval=1s", "--set"])
                .arg(format!("orchestrator.data_dir={}", data.display()))
                .arg("up")
                .arg("--shm-dir")
                .arg(shm)
                .args(["--port-base", &base.to_string()])
                .stdin(Stdio::null())
                .stdout(File::create(&stdout).expect("up's stdout"))
                .stderr(Stdio::inherit())
                .spawn()
                .expect("starting up"),
        );
        let all_up = wait_for(Duration::from_secs(15), || {
            if guard.0.try_wait().ok().flatten().is_some() {
                return Some(false);
            }
            // The run's ring directory (with its control token) is the one
            // directory under `shm`.
            let rings = entries(shm).into_iter().next()?;
            let answering = ROLES
                .iter()
                .filter(|role| role_pid(base, &rings, role).is_some())
                .count();
            (answering == 3).then_some(true)
        });
        if all_up != Some(true) {
            drop(guard);
            eprintln!("up did not come up on ports from {base}; retrying");
            continue;
        }
        signal(guard.0.id(), Signal::SIGTERM).expect("SIGTERM to up");
        let status = wait_exit(&mut guard.0, Duration::from_secs(20)).expect("up exits");
        let out = std::fs::read_to_string(&stdout).unwrap_or_default();
        assert!(status.success(), "{status}: {out}");
        return out;
    }
    panic!("up could not get free ports in four attempts");
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn a_clean_stop_removes_the_rings_and_keeps_the_newest_runs_logs_on_disk() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let shm = work.path().join("shm");
    std::fs::create_dir(&shm).expect("the shm directory");
    let data = work.path().join("data");
    let runs = data.join("runs");

    let out = run_up(work.path(), &shm, &data);
    assert_eq!(entries(&shm), Vec::<PathBuf>::new(), "rings left: {out}");
    let first = entries(&runs);
    assert_eq!(first.len(), 1, "{first:?}");
    let run = &first[0];
    for role in ROLES {
        let log = run.join(format!("logs/{role}.log"));
        let text =
            std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        assert!(!text.is_empty(), "{} is empty", log.display());
    }
    assert!(run.join("config.yaml").is_file());
    assert!(
        out.contains("rings removed from") && out.contains(&run.display().to_string()),
        "the terminal says where the logs are: {out}"
    );
    assert!(
        data.join("ledger.jsonl").is_file(),
        "the ledger is beside the runs"
    );

    // Older runs than the limit allows: the oldest go, the newest stay.
    let old: Vec<PathBuf> = (0..RUNS_KEPT + 1)
        .map(|i| {
            let dir = runs.join(format!("20000101T00000{i}.000Z-{i:016x}"));
            std::fs::create_dir_all(dir.join("logs")).expect("an old run");
            dir
        })
        .collect();
    run_up(work.path(), &shm, &data);
    assert_eq!(entries(&shm), Vec::<PathBuf>::new());
    let left = entries(&runs);
    assert_eq!(left.len(), RUNS_KEPT, "{left:?}");
    assert!(
        left.contains(run),
        "the previous run is among the newest: {left:?}"
    );
    let kept_old: Vec<&PathBuf> = old.iter().filter(|d| d.exists()).collect();
    assert_eq!(
        kept_old,
        old[old.len() - (RUNS_KEPT - 2)..]
            .iter()
            .collect::<Vec<_>>()
    );
}
