//! Leader election against the in-memory test cluster, with short timings
//! (lease 4 s, renew deadline 3 s, retry 300 ms): exactly one of two
//! instances leads and only it reconciles; a leader that dies without
//! releasing is replaced once the Lease expires; a leader cut off from the
//! API server stops leading before the other starts; a graceful stop
//! releases the Lease so the standby takes over at once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aegis_operator::controller::Context;
use aegis_operator::desired::{pod_name, PodSettings};
use aegis_operator::leader::{Elector, LeaderSettings, LeaderStatus};
use aegis_operator::metrics::Metrics;
use aegis_operator::operator::run_elected;
use common::proxy::Proxy;
use common::wait_for;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::Client;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const LEASE: &str = "aegis-operator-test";
const LEASE_DURATION: Duration = Duration::from_secs(4);
const RENEW_DEADLINE: Duration = Duration::from_secs(3);
const RETRY: Duration = Duration::from_millis(300);
/// How long anything a test waits for may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(12);

/// One operator instance running `run_elected` in its own task.
struct Instance {
    identity: String,
    status: Arc<LeaderStatus>,
    metrics: Metrics,
    /// When the leading flag changed, and to what.
    changes: Arc<Mutex<Vec<(Instant, bool)>>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    recorder: JoinHandle<()>,
}

impl Instance {
    fn start(client: Client, identity: &str) -> Instance {
        let metrics = Metrics::new().expect("metrics register");
        let settings = PodSettings {
            image: "aegis-worker:test".into(),
            image_pull_policy: None,
            control_key: aegis_operator::control_key::ControlKey::from_bytes(&[7; 32])
                .expect("a test key"),
        };
        let ctx = Context::new(client.clone(), settings).with_metrics(metrics.clone());
        let leader = LeaderSettings::with_timings(
            LEASE,
            "default",
            identity,
            LEASE_DURATION,
            RENEW_DEADLINE,
            RETRY,
        )
        .expect("valid test timings");
        let elector = Elector::new(client, leader, metrics.clone());
        let status = elector.status();
        let changes = Arc::new(Mutex::new(Vec::new()));
        let mut leading = status.subscribe();
        let log = changes.clone();
        let recorder = tokio::spawn(async move {
            while leading.changed().await.is_ok() {
                let now = *leading.borrow_and_update();
                log.lock().expect("changes").push((Instant::now(), now));
            }
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run_elected(ctx, elector, async move {
            let _ = stopped.await;
        }));
        Instance {
            identity: identity.to_string(),
            status,
            metrics,
            changes,
            stop: Some(stop),
            task,
            recorder,
        }
    }

    fn leads(&self) -> bool {
        self.status.is_leader()
    }

    /// When the flag last turned `to`.
    fn last_change_to(&self, to: bool) -> Option<Instant> {
        let changes = self.changes.lock().expect("changes");
        changes
            .iter()
            .rev()
            .find(|(_, l)| *l == to)
            .map(|(t, _)| *t)
    }

    /// Stops gracefully and waits for the end.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("the instance stops within the limit")
            .expect("the instance's task ends cleanly");
        self.recorder.abort();
    }

    /// Dies without releasing anything.
    fn kill(self) {
        self.task.abort();
        self.recorder.abort();
    }
}

async fn lease(client: &Client) -> Option<Lease> {
    Api::<Lease>::namespaced(client.clone(), "default")
        .get_opt(LEASE)
        .await
        .expect("get the Lease")
}

async fn holder(client: &Client) -> Option<String> {
    lease(client)
        .await
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
        .filter(|h| !h.is_empty())
}

async fn transitions(client: &Client) -> i32 {
    lease(client)
        .await
        .and_then(|l| l.spec)
        .and_then(|s| s.lease_transitions)
        .unwrap_or(0)
}

async fn has_pod(client: &Client, engine: &str) -> bool {
    Api::<Pod>::namespaced(client.clone(), "default")
        .get_opt(&pod_name(engine))
        .await
        .expect("get pod")
        .is_some()
}

/// The sum of `aegis_operator_engines` over every phase in `metrics`.
fn engines_counted(metrics: &Metrics) -> f64 {
    metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("aegis_operator_engines{"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

/// Runs a test body with a hard limit so it cannot hang.
async fn within(limit: Duration, body: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(limit, body)
        .await
        .expect("the test finishes within its limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_of_two_instances_leads_and_only_it_reconciles() {
    let (cluster, client, engines) = common::cluster_with_crd().await;
    within(Duration::from_secs(30), async {
        let a = Instance::start(client.clone(), "op-a");
        let b = Instance::start(client.clone(), "op-b");
        wait_for("one instance to lead", PATIENCE, || async {
            a.leads() || b.leads()
        })
        .await;
        let (leader, standby) = if a.leads() { (&a, &b) } else { (&b, &a) };
        common::create_engine(&engines, "alpha").await;
        wait_for("the leader to make the engine's pod", PATIENCE, || {
            has_pod(&client, "alpha")
        })
        .await;
        // Several retry periods later there is still exactly one leader.
        for _ in 0..6 {
            tokio::time::sleep(RETRY).await;
            assert!(leader.leads() && !standby.leads(), "one leader throughout");
        }
        assert_eq!(
            holder(&client).await.as_deref(),
            Some(leader.identity.as_str())
        );
        assert_eq!(transitions(&client).await, 0, "nobody took over");
        assert!(
            leader.metrics.reconcile_count() > 0,
            "the leader reconciled"
        );
        assert_eq!(
            standby.metrics.reconcile_count(),
            0,
            "the standby never reconciled"
        );
        assert!(leader.metrics.is_leader() && !standby.metrics.is_leader());
        wait_for("the leader to count the engine", PATIENCE, || async {
            engines_counted(&leader.metrics) == 1.0
        })
        .await;
        assert_eq!(
            engines_counted(&standby.metrics),
            0.0,
            "a standby has no cache"
        );
        assert!(standby.status.ready().is_ok(), "a healthy standby is ready");
        a.stop().await;
        b.stop().await;
    })
    .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_once_a_dead_leaders_lease_expires() {
    let (cluster, client, engines) = common::cluster_with_crd().await;
    within(Duration::from_secs(30), async {
        let a = Instance::start(client.clone(), "op-a");
        wait_for("a to lead", PATIENCE, || async { a.leads() }).await;
        let b = Instance::start(client.clone(), "op-b");
        // b sees a's live Lease and stands by.
        tokio::time::sleep(RETRY * 3).await;
        assert!(!b.leads(), "b stands by while a renews");
        let died = Instant::now();
        a.kill();
        wait_for("b to take over the expired Lease", PATIENCE, || async {
            b.leads()
        })
        .await;
        let took_over = b.last_change_to(true).expect("b's rise was recorded");
        // b saw a's last renewal at most a retry period before a died, and
        // waits a whole lease duration from then.
        assert!(
            took_over.duration_since(died) >= LEASE_DURATION - RETRY * 2,
            "b took over {:?} after a died, before the Lease could expire",
            took_over.duration_since(died)
        );
        assert_eq!(holder(&client).await.as_deref(), Some("op-b"));
        assert_eq!(transitions(&client).await, 1);
        common::create_engine(&engines, "beta").await;
        wait_for("b to make the new engine's pod", PATIENCE, || {
            has_pod(&client, "beta")
        })
        .await;
        assert!(b.metrics.reconcile_count() > 0);
        b.stop().await;
    })
    .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_stops_before_the_other_starts() {
    let (cluster, client, engines) = common::cluster_with_crd().await;
    within(Duration::from_secs(30), async {
        let proxy = Proxy::start(cluster.addr()).await;
        let a = Instance::start(proxy.client(), "op-a");
        wait_for("a to lead", PATIENCE, || async { a.leads() }).await;
        let b = Instance::start(client.clone(), "op-b");
        common::create_engine(&engines, "gamma").await;
        wait_for("a to make gamma's pod", PATIENCE, || {
            has_pod(&client, "gamma")
        })
        .await;
        assert!(!b.leads());

        let severed = Instant::now();
        proxy.sever();
        wait_for("a to stop leading", PATIENCE, || async { !a.leads() }).await;
        let stopped = a.last_change_to(false).expect("a's drop was recorded");
        let a_reconciles = a.metrics.reconcile_count();
        assert!(!a.metrics.is_leader(), "a's leader gauge dropped");
        assert!(
            stopped.duration_since(severed) <= RENEW_DEADLINE + RETRY * 2,
            "a kept leading {:?} after it was cut off",
            stopped.duration_since(severed)
        );
        wait_for("b to take over", PATIENCE, || async { b.leads() }).await;
        let started = b.last_change_to(true).expect("b's rise was recorded");
        assert!(
            stopped < started,
            "a stopped leading {:?} after b started",
            stopped.duration_since(started)
        );
        common::create_engine(&engines, "delta").await;
        wait_for("b to make delta's pod", PATIENCE, || {
            has_pod(&client, "delta")
        })
        .await;
        assert_eq!(
            a.metrics.reconcile_count(),
            a_reconciles,
            "a reconciled after it stopped leading"
        );
        assert!(!a.leads(), "a, still cut off, stands by");
        assert_eq!(holder(&client).await.as_deref(), Some("op-b"));
        assert!(a.status.ready().is_err(), "a cut-off instance is not ready");
        a.kill();
        b.stop().await;
    })
    .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_releases_the_lease_to_the_standby_at_once() {
    let (cluster, client, engines) = common::cluster_with_crd().await;
    within(Duration::from_secs(30), async {
        let a = Instance::start(client.clone(), "op-a");
        wait_for("a to lead", PATIENCE, || async { a.leads() }).await;
        let b = Instance::start(client.clone(), "op-b");
        common::create_engine(&engines, "epsilon").await;
        wait_for("a to make epsilon's pod", PATIENCE, || {
            has_pod(&client, "epsilon")
        })
        .await;
        tokio::time::sleep(RETRY * 2).await;
        assert!(!b.leads());
        let a_metrics = a.metrics.clone();
        a.stop().await;
        let released = Instant::now();
        assert!(!a_metrics.is_leader());
        wait_for("b to take over the released Lease", PATIENCE, || async {
            b.leads()
        })
        .await;
        let took = b
            .last_change_to(true)
            .expect("b's rise was recorded")
            .saturating_duration_since(released);
        assert!(
            took < LEASE_DURATION / 2,
            "b took {took:?} to take over a released Lease (expiry is {LEASE_DURATION:?})"
        );
        assert_eq!(holder(&client).await.as_deref(), Some("op-b"));
        assert_eq!(transitions(&client).await, 1);
        b.stop().await;
        assert_eq!(holder(&client).await, None, "b released it too");
    })
    .await;
    cluster.shutdown().await;
}
