//! The orchestrator's periodic health report, from a real engine under `up`:
//! every check is measured, and a threshold crossed shows as FAIL with the
//! numbers.

mod common;

use common::{wait_until, Up};

fn latest(up: &Up) -> Option<serde_json::Value> {
    let path = up.dir.path().join("data/reports/latest.json");
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name:?} in {report:#}"))
}

#[test]
fn a_healthy_engine_reports_measured_passes_and_a_stale_feed_fails() {
    // Reports every 1.2 s; candles every 50 ms.
    let mut up = Up::start(&[
        "orchestrator.reports.every_minutes=0.02",
        "feed.simulated.speed=20",
    ]);
    assert!(
        wait_until(30.0, || latest(&up).is_some()),
        "no health report written"
    );
    // The first report may predate the first candle; wait for one after it.
    assert!(wait_until(20.0, || latest(&up).is_some_and(|r| check(
        &r,
        "candle freshness"
    )["status"]
        == "PASS")));
    let report = latest(&up).expect("report");
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
    let md =
        std::fs::read_to_string(up.dir.path().join("data/reports/latest.md")).expect("latest.md");
    assert!(
        md.contains("candle freshness") && md.contains("PASS"),
        "{md}"
    );
    assert!(up.stop().success());

    // A feed whose candles are older than the threshold is reported, with numbers.
    let mut up = Up::start(&[
        "orchestrator.reports.every_minutes=0.02",
        "feed.simulated.speed=1",
        "feed.stale_after_secs=0.05",
    ]);
    assert!(wait_until(30.0, || latest(&up)
        .is_some_and(
            |r| r["overall"] == "FAIL" && check(&r, "candle freshness")["status"] == "FAIL"
        )));
    let report = latest(&up).expect("report");
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
