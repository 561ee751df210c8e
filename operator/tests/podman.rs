//! The operator's pod in real containers (issue 7): builds the images with
//! `podman build` from the Dockerfile, runs the exact Pod and ConfigMap
//! the operator makes for the replay sample with `podman kube play`, and
//! checks, through each container's /metrics, /status and logs:
//! - the three containers share the rings through the emptyDir at /dev/shm:
//!   every candle the feed writes is read by the brain and its signal
//!   reaches the orchestrator;
//! - a SIGKILLed brain process is restarted by podman (restartPolicy Always)
//!   and resumes from its cursor: with a Lossless ring, no candle is lost or
//!   read twice;
//! - the orchestrator's control API answers with the token from the
//!   Secret the operator makes, mounted into that container;
//! - every container runs as UID 65532 on a read-only root filesystem;
//! - the operator image runs non-root and read-only too.
//!
//! Everything is torn down on drop, failure included. Needs root and the
//! Debian packages podman, runc and catatonit; fails saying so without them.

#[path = "podman/cli.rs"]
mod cli;
mod common;
#[path = "podman/image.rs"]
mod image;
#[path = "podman/replay_pod.rs"]
mod replay_pod;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use aegis_contract::api::OrchestratorStatus;
use aegis_contract::api::CONTROL_PORT;
use aegis_runtime::http_client::{control_request, http_get};
use aegis_runtime::ControlToken;
use cli::Podman;
use common::{repo_root, wait_for};
use replay_pod::{FIRST_TS_MS, INTERVAL_MS};

/// Candles in the replayed file: more than the 1,024-record ring holds, so
/// the feed must wait for the brain while it is down.
const CANDLES: usize = 3000;
/// Replay speed: the sample's hourly candles at 200 per second.
const SPEED: f64 = 720_000.0;

/// The value of the unlabelled sample `name` in a Prometheus text body.
fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|value| value.trim().parse().ok())
}

/// `name` from the /metrics of the container listening on `port` in the pod.
fn scrape(ip: IpAddr, port: u16, name: &str) -> Option<f64> {
    let reply = http_get(
        SocketAddr::new(ip, port),
        "/metrics",
        Duration::from_secs(2),
    )
    .ok()?;
    metric(&String::from_utf8_lossy(&reply.body), name)
}

/// The orchestrator's /status, on its control API with the engine's token.
fn orchestrator_status(ip: IpAddr, token: &ControlToken) -> Option<OrchestratorStatus> {
    let addr = SocketAddr::new(ip, CONTROL_PORT);
    let reply = control_request("GET", addr, "/status", token, Duration::from_secs(2)).ok()?;
    serde_json::from_slice(&reply.body).ok()
}

/// A field of `/proc/<pid>/status`, e.g. `Uid`.
fn proc_status(pid: u32, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The mount options of the root filesystem as process `pid` sees it.
fn root_mount_options(pid: u32) -> String {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("/proc/<pid>/mountinfo");
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(4) == Some(&"/"))
        .and_then(|f| f.get(5).map(|o| o.to_string()))
        .expect("the process has a root mount")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_replay_pod_runs_in_real_containers_and_survives_a_killed_brain() {
    let podman = Podman::preflight();
    let repo = repo_root();
    let tag = format!("e2e-{}", std::process::id());
    let images = image::build(&podman, &repo, &tag);

    // The operator image: non-root, and its binary runs on a read-only root.
    assert_eq!(
        podman.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.User}}",
            &images.operator
        ]),
        "65532:65532"
    );
    let crd = podman.ok(&["run", "--rm", "--read-only", &images.operator, "crd"]);
    let expected = std::fs::read_to_string(repo.join("manifests/crd.yaml")).expect("crd.yaml");
    assert_eq!(
        crd,
        expected.trim(),
        "the image's operator prints manifests/crd.yaml"
    );

    let work = std::env::temp_dir().join(format!("aegis-podman-{tag}"));
    std::fs::create_dir_all(&work).expect("a work directory");
    let name = format!("replay-{}", std::process::id());
    let pod = replay_pod::play(&podman, &repo, &work, &name, &images.worker, CANDLES, SPEED);
    let [feed, brain, orchestrator] = ["feed", "brain", "orchestrator"].map(|c| pod.container(c));

    let mut ip = None;
    wait_for(
        "the pod's IP on its podman network",
        Duration::from_secs(30),
        || {
            ip = podman.pod_ip(&pod.pod);
            let found = ip.is_some();
            async move { found }
        },
    )
    .await;
    let ip = ip.expect("waited for");
    // The orchestrator answers its control API with the token from the
    // Secret the operator made (its logs say why if it does not).
    let answering = std::time::Instant::now() + Duration::from_secs(30);
    while orchestrator_status(ip, &pod.token).is_none() {
        if std::time::Instant::now() > answering {
            let logs = podman.output(&["logs", &pod.container("orchestrator")]);
            panic!(
                "the orchestrator's control API does not answer; its logs:\n{}{}",
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The binaries are static glibc on `scratch`, with no NSS modules on
    // disk: a host name must still resolve (here through /etc/hosts, as
    // api.binance.com does through DNS), or the live feed and orders could
    // not reach the exchange.
    let by_name = "http://aegis-engine.test:9103/healthz";
    let add_host = format!("aegis-engine.test:{ip}");
    let probed = podman.output(&[
        "run",
        "--rm",
        "--read-only",
        "--add-host",
        &add_host,
        &images.operator,
        "probe",
        by_name,
    ]);
    assert!(
        probed.status.success(),
        "the static binary resolves a host name inside the scratch image: {}",
        String::from_utf8_lossy(&probed.stderr)
    );

    // Non-root on a read-only root filesystem, seen from the processes.
    for container in [&feed, &brain, &orchestrator] {
        let (pid, _) = podman
            .pid_and_restarts(container)
            .unwrap_or_else(|| panic!("{container} is not running"));
        assert_eq!(
            proc_status(pid, "Uid"),
            "65532 65532 65532 65532",
            "{container}"
        );
        assert_eq!(
            proc_status(pid, "Gid"),
            "65532 65532 65532 65532",
            "{container}"
        );
        let options = root_mount_options(pid);
        assert!(
            options.split(',').any(|o| o == "ro"),
            "{container}'s root is mounted {options}"
        );
    }

    // Kill the brain's process while the replay is under way.
    wait_for(
        "the feed to write 600 candles",
        Duration::from_secs(60),
        || {
            let written = scrape(ip, 9101, "aegis_candles_written_total");
            async move { written >= Some(600.0) }
        },
    )
    .await;
    let (old_pid, restarts) = podman.pid_and_restarts(&brain).expect("the brain runs");
    assert_eq!(restarts, 0, "the brain has not restarted before the kill");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &old_pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "kill -9 of the brain's pid {old_pid}");
    wait_for(
        "podman to restart the brain",
        Duration::from_secs(30),
        || {
            let now = podman.pid_and_restarts(&brain);
            async move { matches!(now, Some((pid, 1)) if pid != old_pid) }
        },
    )
    .await;

    // Every candle reaches the orchestrator as a signal, exactly once.
    let last_ts = FIRST_TS_MS + (CANDLES as i64 - 1) * INTERVAL_MS;
    let mut status = None;
    wait_for(
        "the orchestrator to read the signal of the last candle",
        Duration::from_secs(90),
        || {
            status = orchestrator_status(ip, &pod.token);
            let done = status
                .as_ref()
                .and_then(|s| s.last_signal.as_ref())
                .is_some_and(|l| l.candle_ts_ms == last_ts);
            async move { done }
        },
    )
    .await;
    let status = status.expect("waited for");
    let last = status.last_signal.expect("waited for");
    assert_eq!(last.seq, CANDLES as u64 - 1, "one signal per candle");
    assert_eq!(status.signals_read, CANDLES as u64, "{status:?}");
    assert_eq!(
        scrape(ip, 9101, "aegis_candles_written_total"),
        Some(CANDLES as f64),
        "the feed wrote each candle once"
    );

    // The new brain resumed from its checkpoint and read exactly the rest.
    assert_eq!(
        scrape(ip, 9102, "aegis_checkpoint_restores_total"),
        Some(1.0)
    );
    let logs = podman.output(&["logs", &brain]);
    let logs =
        String::from_utf8_lossy(&logs.stdout).to_string() + &String::from_utf8_lossy(&logs.stderr);
    let resumed_at = logs
        .lines()
        .filter(|l| l.contains("resumed from checkpoint"))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|l| l["candle_next"].as_u64())
        .next_back()
        .unwrap_or_else(|| panic!("the restarted brain logs where it resumed:\n{logs}"));
    assert!(
        (600..CANDLES as u64).contains(&resumed_at),
        "resumed at candle {resumed_at}"
    );
    // It reads from its committed cursor: the checkpoint's position, or —
    // when the kill fell between writing the checkpoint and committing the
    // cursor — the previous commit, re-reading (and skipping, as the exact
    // signal count above shows) the candles the checkpoint already holds,
    // fewer than a ring's worth.
    let read = scrape(ip, 9102, "aegis_candles_read_total").map_or(0, |r| r as u64);
    let after_checkpoint = CANDLES as u64 - resumed_at;
    assert!(
        (after_checkpoint..after_checkpoint + 1024).contains(&read),
        "the restarted brain read {read} candles; {after_checkpoint} come after its checkpoint"
    );
    let volumes = [
        format!("{name}-market-data"),
        format!("{name}-ledger"),
        format!("{name}-engine-config"),
    ];
    drop(pod);
    drop(images);
    let _ = std::fs::remove_dir_all(&work);
    let left = podman.ok(&["volume", "ls", "--quiet"]);
    for volume in &volumes {
        assert!(
            !left.lines().any(|l| l == volume),
            "volume {volume} is left after the teardown"
        );
    }
}
