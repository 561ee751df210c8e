//! The probes of every engine container, and why their numbers are what
//! they are.
//!
//! The worker answers `/healthz` with 503 once its main loop has not beaten
//! for `STALL_AFTER` (5 s; loops beat at least every 100 ms, also while
//! idle), and a frozen or dead process answers nothing. `/readyz` is about
//! data (a stale feed, a lagging brain, an unwritable ledger), never a
//! reason to restart.
//!
//! **Liveness** (`/healthz`): period 1 s, timeout 1 s, failureThreshold 2.
//! From the moment a role stops answering (or starts answering 503), the
//! next probe starts within 1 s and fails within its 1 s timeout, the one
//! after it starts 1 s later: the kubelet has seen two failures — and
//! restarts the container — at most 3 s later. One slow answer (a GC-free
//! process on a busy node can still miss a 1 s deadline once) does not kill
//! it; two in a row do. (A loop that hangs while its HTTP thread lives is
//! reported by the worker 5 s after its last beat, then caught within 3 s.)
//!
//! **Startup** (`/healthz`): period 1 s, timeout 1 s, failureThreshold 120.
//! Liveness does not run until startup has passed once, so a slow starter —
//! an orchestrator re-applying a long ledger, a brain restoring a checkpoint
//! and re-reading candles — has 120 s before it is killed, while a healthy
//! start passes within a second.
//!
//! **Readiness** (`/readyz`): period 2 s, timeout 1 s, failureThreshold 3,
//! successThreshold 1: a blip of stale data does not flap the pod, six
//! seconds of it does; readiness feeds the Ready condition, not restarts.

use k8s_openapi::api::core::v1::{HTTPGetAction, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Liveness: seconds between probes.
pub const LIVENESS_PERIOD_SECONDS: i32 = 1;
/// Liveness: seconds before a probe counts as failed.
pub const LIVENESS_TIMEOUT_SECONDS: i32 = 1;
/// Liveness: consecutive failures that restart the container.
pub const LIVENESS_FAILURE_THRESHOLD: i32 = 2;
/// Startup: consecutive failures (one a second) allowed while starting.
pub const STARTUP_FAILURE_THRESHOLD: i32 = 120;
/// Readiness: seconds between probes.
pub const READINESS_PERIOD_SECONDS: i32 = 2;
/// Readiness: consecutive failures that mark the container unready.
pub const READINESS_FAILURE_THRESHOLD: i32 = 3;

/// The longest time from a role going silent to the kubelet's decision to
/// restart it: the next probe starts within one period and times out, then
/// `threshold - 1` more periods.
pub const fn worst_case_detection_seconds() -> i32 {
    LIVENESS_PERIOD_SECONDS
        + LIVENESS_TIMEOUT_SECONDS
        + (LIVENESS_FAILURE_THRESHOLD - 1) * LIVENESS_PERIOD_SECONDS
}

fn get(path: &str, port: &str) -> Option<HTTPGetAction> {
    Some(HTTPGetAction {
        path: Some(path.to_string()),
        port: IntOrString::String(port.to_string()),
        scheme: Some("HTTP".into()),
        ..Default::default()
    })
}

/// Liveness on `/healthz` of the named port.
pub fn liveness(port: &str) -> Probe {
    Probe {
        http_get: get("/healthz", port),
        period_seconds: Some(LIVENESS_PERIOD_SECONDS),
        timeout_seconds: Some(LIVENESS_TIMEOUT_SECONDS),
        failure_threshold: Some(LIVENESS_FAILURE_THRESHOLD),
        success_threshold: Some(1),
        ..Default::default()
    }
}

/// Startup on `/healthz` of the named port.
pub fn startup(port: &str) -> Probe {
    Probe {
        http_get: get("/healthz", port),
        period_seconds: Some(1),
        timeout_seconds: Some(1),
        failure_threshold: Some(STARTUP_FAILURE_THRESHOLD),
        success_threshold: Some(1),
        ..Default::default()
    }
}

/// Readiness on `/readyz` of the named port.
pub fn readiness(port: &str) -> Probe {
    Probe {
        http_get: get("/readyz", port),
        period_seconds: Some(READINESS_PERIOD_SECONDS),
        timeout_seconds: Some(1),
        failure_threshold: Some(READINESS_FAILURE_THRESHOLD),
        success_threshold: Some(1),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_role_is_restarted_within_three_seconds() {
        assert!(worst_case_detection_seconds() <= 3);
    }

    #[test]
    fn a_slow_starter_gets_two_minutes_and_one_slow_answer_is_forgiven() {
        let s = startup("feed-http");
        assert!(s.period_seconds.unwrap() * s.failure_threshold.unwrap() >= 120);
        assert!(liveness("feed-http").failure_threshold.unwrap() >= 2);
    }
}
