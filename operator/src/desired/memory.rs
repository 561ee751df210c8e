//! Memory for an engine pod: the size of the shared-memory volume that holds
//! the rings, and container resources that account for it.
//!
//! ## The `/dev/shm` volume
//!
//! Each of the two rings (candles, signals) is a file of a 4096-byte header
//! plus `ringCapacity` slots (64 bytes a candle, 128 a signal) — sizes taken from the ring crate
//! itself ([`ringbuf_shm::ring_file_bytes`] of a `Candle` and a `Signal`),
//! so a layout change cannot silently break pod sizing. The brain keeps its
//! strategy checkpoint there too, and it grows with the strategy's windows:
//! up to [`aegis_contract::strategy::MAX_CHECKPOINT_BYTES`] (about 6 MiB)
//! for sma-cross at the longest periods the contract allows. A full volume
//! would fail the brain's checkpoint with ENOSPC, so the volume holds
//! [`CHECKPOINT_COPIES`] of the spec's largest checkpoint
//! ([`aegis_contract::strategy::StrategyParams::checkpoint_bytes_max`]):
//!
//! ```text
//! sizeLimit = ceil_MiB( 2 × 4096 + ringCapacity × (64 + 128) + 3 × checkpoint + 1 MiB headroom )
//! ```
//!
//! e.g. 14Mi for the default 65536 slots and the default strategy (4 MiB of
//! candles and 8 MiB of signals, a checkpoint of kilobytes), 2Mi for 1024; sma-cross with
//! `slow: 100000` adds about 18 MiB. The checkpoint stays beside the rings
//! rather than on the data volume because only the orchestrator mounts that
//! (the brain has no business with the ledger), and the copies it needs are
//! known from the spec before the pod exists. The headroom covers the small
//! files (end markers, the ban file, locks).
//!
//! ## Container memory
//!
//! Pages of a memory-backed emptyDir are charged to the cgroup of the
//! container that first touches them, and whichever role starts first creates
//! (and zeroes) both rings. So every container's memory **limit** is its own
//! limit plus the whole volume — none can be OOM-killed for pages another
//! role would have been charged for. The volume is added to one **request**
//! only (the feed's), so the scheduler reserves it once for the pod.
//!
//! Without `spec.resources`, each container requests 50m CPU and 64Mi and is
//! limited to 256Mi (plus the volume); a spec that gives only some of these
//! keeps the defaults for the rest.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use aegis_contract::records::{Candle, Signal};

use super::SpecError;
use crate::quantity::{format_bytes, parse_bytes, MIB};

/// Room for the small files in the directory (end markers, the ban file).
pub const SHM_HEADROOM_BYTES: u64 = MIB;
/// Checkpoints the volume holds at once: the current one, its replacement
/// while it is written (a temporary file renamed over it), and a corrupt one
/// the brain set aside.
pub const CHECKPOINT_COPIES: u64 = 3;
/// A container's memory request when the spec gives none.
pub const DEFAULT_MEMORY_REQUEST: &str = "64Mi";
/// A container's memory limit (before the volume) when the spec gives none.
pub const DEFAULT_MEMORY_LIMIT: &str = "256Mi";
/// A container's CPU request when the spec gives none.
pub const DEFAULT_CPU_REQUEST: &str = "50m";

/// The `sizeLimit` of the `/dev/shm` volume, in bytes (whole MiB), for
/// rings of `ring_capacity` slots and a brain checkpoint of at most
/// `checkpoint_bytes`.
pub fn shm_size_bytes(ring_capacity: u64, checkpoint_bytes: u64) -> u64 {
    let candles = ringbuf_shm::ring_file_bytes::<Candle>(ring_capacity).unwrap_or(u64::MAX);
    let signals = ringbuf_shm::ring_file_bytes::<Signal>(ring_capacity).unwrap_or(u64::MAX);
    let total = candles
        .saturating_add(signals)
        .saturating_add(checkpoint_bytes.saturating_mul(CHECKPOINT_COPIES))
        .saturating_add(SHM_HEADROOM_BYTES);
    total.div_ceil(MIB).saturating_mul(MIB)
}

fn memory(
    map: &BTreeMap<String, Quantity>,
    which: &'static str,
    default: &str,
) -> Result<u64, SpecError> {
    let q = map
        .get("memory")
        .cloned()
        .unwrap_or_else(|| Quantity(default.to_string()));
    parse_bytes(&q).map_err(|source| SpecError::Resources {
        field: which,
        source,
    })
}

/// The resources of each container: the spec's (or the defaults), with the
/// volume added to every memory limit and, when `holds_request` is true,
/// to the memory request.
pub fn container_resources(
    spec: Option<&ResourceRequirements>,
    shm_bytes: u64,
    holds_request: bool,
) -> Result<ResourceRequirements, SpecError> {
    let mut requests = spec.and_then(|r| r.requests.clone()).unwrap_or_default();
    let mut limits = spec.and_then(|r| r.limits.clone()).unwrap_or_default();
    let request = memory(
        &requests,
        "resources.requests.memory",
        DEFAULT_MEMORY_REQUEST,
    )?;
    let limit = memory(&limits, "resources.limits.memory", DEFAULT_MEMORY_LIMIT)?;
    if request > limit {
        return Err(SpecError::MemoryRequestAboveLimit {
            request: format_bytes(request).0,
            limit: format_bytes(limit).0,
        });
    }
    let extra_request = if holds_request { shm_bytes } else { 0 };
    requests
        .entry("cpu".into())
        .or_insert_with(|| Quantity(DEFAULT_CPU_REQUEST.into()));
    requests.insert(
        "memory".into(),
        format_bytes(request.saturating_add(extra_request)),
    );
    limits.insert(
        "memory".into(),
        format_bytes(limit.saturating_add(shm_bytes)),
    );
    Ok(ResourceRequirements {
        requests: Some(requests),
        limits: Some(limits),
        claims: spec.and_then(|r| r.claims.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_volume_holds_both_rings_and_headroom_in_whole_mebibytes() {
        // 2 × 4096 + 65536 × (64 + 128) + 1 MiB = 13.0078 MiB → 14 MiB.
        assert_eq!(shm_size_bytes(65536, 0), 14 * MIB);
        // 2 × 4096 + 1024 × (64 + 128) + 1 MiB = 1.2 MiB → 2 MiB.
        assert_eq!(shm_size_bytes(1024, 0), 2 * MIB);
        // 2 × 4096 + 4 Mi × (64 + 128) + 1 MiB = 769.0078 MiB → 770 MiB.
        assert_eq!(shm_size_bytes(1 << 22, 0), 770 * MIB);
        // Three checkpoints of 2 MiB more: 19.0078 MiB → 20 MiB.
        assert_eq!(shm_size_bytes(65536, 2 * MIB), 20 * MIB);
    }

    fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect()
    }

    #[test]
    fn defaults_get_the_volume_added_to_the_limit_and_one_request() {
        let feed = container_resources(None, 10 * MIB, true).unwrap();
        assert_eq!(feed.limits.unwrap(), quantities(&[("memory", "266Mi")]));
        assert_eq!(
            feed.requests.unwrap(),
            quantities(&[("cpu", "50m"), ("memory", "74Mi")])
        );
        let brain = container_resources(None, 10 * MIB, false).unwrap();
        assert_eq!(brain.requests.unwrap()["memory"].0, "64Mi");
        assert_eq!(brain.limits.unwrap()["memory"].0, "266Mi");
    }

    #[test]
    fn user_values_are_kept_and_extended() {
        let spec = ResourceRequirements {
            requests: Some(quantities(&[("cpu", "1"), ("memory", "1Gi")])),
            limits: Some(quantities(&[("cpu", "2"), ("memory", "1.5Gi")])),
            claims: None,
        };
        let r = container_resources(Some(&spec), 2 * MIB, true).unwrap();
        assert_eq!(
            r.requests.unwrap(),
            quantities(&[("cpu", "1"), ("memory", "1026Mi")])
        );
        assert_eq!(
            r.limits.unwrap(),
            quantities(&[("cpu", "2"), ("memory", "1538Mi")])
        );
    }

    #[test]
    fn bad_memory_values_are_errors_naming_the_field() {
        let spec = ResourceRequirements {
            limits: Some(quantities(&[("memory", "lots")])),
            ..Default::default()
        };
        let e = container_resources(Some(&spec), MIB, false).unwrap_err();
        assert!(e.to_string().contains("resources.limits.memory"), "{e}");
        assert!(e.to_string().contains("\"lots\""), "{e}");
        let spec = ResourceRequirements {
            requests: Some(quantities(&[("memory", "1Gi")])),
            limits: Some(quantities(&[("memory", "512Mi")])),
            ..Default::default()
        };
        let e = container_resources(Some(&spec), MIB, false).unwrap_err();
        assert!(
            e.to_string().contains("1024Mi") && e.to_string().contains("512Mi"),
            "{e}"
        );
    }
}
