//! The operator process's main loop: the controller runs only while this
//! instance leads. A standby waits; on becoming leader it starts the
//! controller; on losing the lead no reconcile starts any more (the
//! [`Context`] gate follows the election at once), the controller is
//! stopped, the reconciles in flight get [`LeaderSettings::drain_after_loss`]
//! to finish before they are cancelled, and the instance stands by again.
//! On shutdown the reconciles in flight finish, then the Lease is released.
//!
//! [`LeaderSettings::drain_after_loss`]: crate::leader::LeaderSettings::drain_after_loss

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{oneshot, watch};

use crate::controller::{self, Context};
use crate::leader::{Elector, LeaderStatus, BEAT_WITHOUT_ELECTION};

/// Runs the controller with `ctx` whenever `elector` makes this instance
/// the leader, until `shutdown` completes; then releases the Lease.
pub async fn run_elected(
    ctx: Context,
    elector: Elector,
    shutdown: impl Future<Output = ()> + Send,
) {
    let status = elector.status();
    let drain = elector.settings().drain_after_loss();
    let ctx = Arc::new(ctx.with_leading(status.subscribe()));
    let mut leading = status.subscribe();
    let (stop_election, election_stops) = oneshot::channel::<()>();
    // Its own task, so a busy controller cannot delay a renewal; aborted
    // with this future (as a crash would end both).
    let mut election = AbortOnDrop(tokio::spawn(elector.run(async move {
        let _ = election_stops.await;
    })));
    follow_the_lead(ctx, &mut leading, drain, shutdown).await;
    let _ = stop_election.send(());
    if let Err(e) = (&mut election.0).await {
        tracing::error!("the election task failed: {e}");
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the controller whenever `leading` turns true and stops it when it
/// turns false, until `shutdown` (or the election ends).
async fn follow_the_lead(
    ctx: Arc<Context>,
    leading: &mut watch::Receiver<bool>,
    drain: std::time::Duration,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let became_leader = tokio::select! {
            () = &mut shutdown => false,
            gone = wait_until(leading, true) => !gone,
        };
        if !became_leader {
            return;
        }
        tracing::info!("leading: starting the controller");
        let (stop_controller, controller_stops) = oneshot::channel::<()>();
        let controller = controller::run_with(ctx.clone(), async move {
            let _ = controller_stops.await;
        });
        let mut controller = std::pin::pin!(controller);
        tokio::select! {
            () = &mut controller => {
                tracing::error!("the controller ended on its own; waiting to lose the lead");
                tokio::select! {
                    () = &mut shutdown => return,
                    _ = wait_until(leading, false) => {}
                }
            }
            _ = wait_until(leading, false) => {
                let _ = stop_controller.send(());
                if tokio::time::timeout(drain, &mut controller).await.is_err() {
                    tracing::warn!(
                        drain_ms = u64::try_from(drain.as_millis()).unwrap_or(u64::MAX),
                        "lost the lead: cancelled the reconciles still in flight"
                    );
                }
                if let Some(metrics) = ctx.metrics() {
                    // A cancelled controller did not get to clear its cache.
                    metrics.watch_engines(None);
                }
                tracing::info!("lost the lead: controller stopped, standing by");
            }
            () = &mut shutdown => {
                let _ = stop_controller.send(());
                controller.await;
                tracing::info!("shutting down: controller stopped");
                return;
            }
        }
    }
}

/// Runs the controller with `ctx` until `shutdown`, without election
/// (`--no-leader-elect`, for local use): `status` is beaten every second
/// for `/healthz`.
pub async fn run_unelected(
    ctx: Context,
    status: Arc<LeaderStatus>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    if let Some(metrics) = ctx.metrics() {
        metrics.set_leader(true);
    }
    let beat = tokio::spawn(async move {
        loop {
            status.beat();
            tokio::time::sleep(BEAT_WITHOUT_ELECTION).await;
        }
    });
    controller::run_with(Arc::new(ctx), shutdown).await;
    beat.abort();
}

/// Waits until `leading` is `want`; `true` when the election is gone.
async fn wait_until(leading: &mut watch::Receiver<bool>, want: bool) -> bool {
    leading.wait_for(|l| *l == want).await.is_err()
}
