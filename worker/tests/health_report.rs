//! The orchestrator's periodic health report, from a real engine under `up`:
//! every check is measured, and a threshold crossed shows as FAIL with the
//! numbers.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::up::Up;
use common::{temp_dir, wait_for};

/// The latest report under the orchestrator's data directory `data`.
fn latest(data: &Path) -> Option<serde_json::Value> {
    let path = data.join("reports/latest.json");
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name:?} in {report:#}"))
}

/// `up` writing a health report every 1.2 s, with `sets`: its directory
/// (removed when dropped), the orchestrator's data directory in it, and the
/// running `up`.
fn start_reporting(sets: &[&str]) -> (tempfile::TempDir, PathBuf, Up) {
    let work = temp_dir("aegis-health-report");
    let data = work.path().join("data");
    let mut all = vec![
        format!("orchestrator.data_dir={}", data.display()),
        "orchestrator.reports.every_minutes=0.02".to_string(),
    ];
    all.extend(sets.iter().map(|s| s.to_string()));
    let up = Up::start(work.path(), &all, |_| {});
    (work, data, up)
}

#[test]
fn a_healthy_engine_reports_measured_passes_and_a_stale_feed_fails() {
    // Reports every 1.2 s; candles every 50 ms.
    let (_work, data, up) = start_reporting(&["feed.simulated.speed=20"]);
    assert!(
        wait_for(Duration::from_secs(30), || latest(&data)).is_some(),
        "no health report written"
    );
    // The first report may predate the first candle; wait for one after it.
    assert!(
        wait_for(Duration::from_secs(20), || latest(&data).filter(|r| check(
            r,
            "candle freshness"
        )["status"]
            == "PASS"))
        .is_some()
    );
    let report = latest(&data).expect("report");
    for name in [
        "ring candles/brain lag",
        "ring signals/orchestrator lag",
        "ring candles/brain liveness",
        "restarts feed",
        "restarts brain",
        "restarts orchestrator",
        "duplicate orders",
        "equity",
    ] {
        let c = check(&report, name);
        assert_eq!(c["status"], "PASS", "{name}: {c}");
        assert!(
            !c["measured"].as_str().unwrap_or_default().is_empty(),
            "{name} shows no measurement"
        );
    }
    let md = std::fs::read_to_string(data.join("reports/latest.md")).expect("latest.md");
    assert!(
        md.contains("candle freshness") && md.contains("PASS"),
        "{md}"
    );
    assert!(up.stop().success());

    // A feed whose candles are older than the threshold is reported, with numbers.
    let (_work, data, up) =
        start_reporting(&["feed.simulated.speed=1", "feed.stale_after_secs=0.05"]);
    assert!(wait_for(Duration::from_secs(30), || latest(&data)
        .filter(
            |r| r["overall"] == "FAIL" && check(r, "candle freshness")["status"] == "FAIL"
        ))
    .is_some());
    let report = latest(&data).expect("report");
    let fresh = check(&report, "candle freshness");
    assert!(
        fresh["measured"]
            .as_str()
            .unwrap_or_default()
            .contains("ms"),
        "{fresh}"
    );
    assert!(
        fresh["threshold"]
            .as_str()
            .unwrap_or_default()
            .contains("50"),
        "{fresh}"
    );
    assert!(up.stop().success());
}
