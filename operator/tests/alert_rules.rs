//! The alerting rules of docs/monitoring/alerts.yaml: `promtool check rules`
//! accepts them, `promtool test rules` runs their unit tests
//! (docs/monitoring/alerts_test.yaml) and passes, every alert has a unit
//! test, and the unit tests catch a broken rule (a rule that fires too
//! eagerly or not at all fails them). `promtool check metrics` rejects a
//! badly named metric, so the check the Prometheus test relies on can fail.
//! The example scrape configuration of docs/monitoring.md passes `promtool
//! check config` with the rules loaded. Every query of the chart's Grafana
//! dashboard parses (`promtool check rules` on them as recording rules; a
//! broken one is refused) and names only metrics docs/monitoring.md
//! documents; operator/tests/prometheus.rs checks they return series.

mod common;

use std::path::{Path, PathBuf};

use common::dashboard;
use common::prometheus::{check_metrics, promtool};

fn monitoring_dir() -> PathBuf {
    common::repo_root().join("docs/monitoring")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The alert names of a rules file, in order.
fn alert_names(rules_yaml: &str) -> Vec<String> {
    let rules: serde_yaml::Value = serde_yaml::from_str(rules_yaml).expect("alerts.yaml is YAML");
    rules["groups"]
        .as_sequence()
        .expect("alerts.yaml has groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn promtool_accepts_the_rules() {
    let out = promtool(&monitoring_dir(), &["check", "rules", "alerts.yaml"], b"");
    assert!(out.success, "promtool check rules failed:\n{}", out.text);
    let count = alert_names(&read(&monitoring_dir().join("alerts.yaml"))).len();
    assert!(
        out.text.contains(&format!("SUCCESS: {count} rules found")),
        "expected {count} rules:\n{}",
        out.text
    );
}

#[test]
fn the_unit_tests_pass_and_cover_every_alert() {
    let out = promtool(
        &monitoring_dir(),
        &["test", "rules", "alerts_test.yaml"],
        b"",
    );
    assert!(out.success, "promtool test rules failed:\n{}", out.text);
    let tests = read(&monitoring_dir().join("alerts_test.yaml"));
    for alert in alert_names(&read(&monitoring_dir().join("alerts.yaml"))) {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "alerts_test.yaml has no test for {alert}"
        );
    }
}

#[test]
fn a_broken_rules_file_is_rejected_naming_the_problem() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let broken = read(&monitoring_dir().join("alerts.yaml"))
        .replace("expr: aegis_drawdown > 0.1", "expr: aegis_drawdown >");
    std::fs::write(dir.path().join("alerts.yaml"), broken).expect("writing the broken rules");
    let out = promtool(dir.path(), &["check", "rules", "alerts.yaml"], b"");
    assert!(
        !out.success,
        "promtool accepted a rule without its right-hand side:\n{}",
        out.text
    );
    assert!(out.text.contains("alerts.yaml"), "{}", out.text);
}

/// Runs the unit tests against alerts.yaml with `from` replaced by `to`.
fn unit_tests_with(from: &str, to: &str) -> common::prometheus::PromtoolOutput {
    let rules = read(&monitoring_dir().join("alerts.yaml"));
    assert!(
        rules.contains(from),
        "alerts.yaml no longer contains {from:?}"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("alerts.yaml"), rules.replace(from, to))
        .expect("writing the changed rules");
    std::fs::copy(
        monitoring_dir().join("alerts_test.yaml"),
        dir.path().join("alerts_test.yaml"),
    )
    .expect("copying the unit tests");
    promtool(dir.path(), &["test", "rules", "alerts_test.yaml"], b"")
}

#[test]
fn the_unit_tests_catch_rules_that_fire_wrongly_or_not_at_all() {
    for (from, to, alert) in [
        // Too eager: other jobs' targets and waiting for a pod would fire.
        ("up{job=~\".*aegis.*\"} == 0", "up == 0", "AegisTargetDown"),
        (
            "{reason!=\"pod_terminating\"}",
            "",
            "AegisOperatorReconcileErrors",
        ),
        (
            "aegis_ring_lag > 1000",
            "aegis_ring_lag > 5",
            "AegisRingLagHigh",
        ),
        // Never firing: a threshold above the values that must fire it.
        (
            "aegis_drawdown > 0.1",
            "aegis_drawdown > 0.5",
            "AegisDrawdownHigh",
        ),
        (
            "aegis_halted == 1",
            "aegis_halted == 2",
            "AegisTradingHalted",
        ),
        // Without `or vector(0)`, no operator at all goes unnoticed.
        (
            "(sum(aegis_operator_leader) or vector(0)) < 1",
            "sum(aegis_operator_leader) < 1",
            "AegisOperatorNoLeader",
        ),
    ] {
        let out = unit_tests_with(from, to);
        assert!(
            !out.success,
            "the unit tests passed with {from:?} changed to {to:?}:\n{}",
            out.text
        );
        assert!(
            out.text.contains(&format!("alertname: {alert}")),
            "the failure with {from:?} changed to {to:?} does not name {alert}:\n{}",
            out.text
        );
    }
}

#[test]
fn promtool_check_metrics_rejects_a_counter_without_help_or_suffix() {
    let out = check_metrics(b"# TYPE aegis_candles counter\naegis_candles 1\n");
    assert!(
        !out.success,
        "promtool accepted a bad counter:\n{}",
        out.text
    );
    assert!(out.text.contains("aegis_candles"), "{}", out.text);
    let good = check_metrics(
        b"# HELP aegis_candles_total Candles.\n# TYPE aegis_candles_total counter\naegis_candles_total 1\n",
    );
    assert!(
        good.success,
        "promtool rejected a good counter:\n{}",
        good.text
    );
}

#[test]
fn the_scrape_config_in_docs_monitoring_is_valid() {
    let doc = read(&common::repo_root().join("docs/monitoring.md"));
    let config = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/monitoring.md has a ```yaml block");
    assert!(config.contains("scrape_configs:"), "{config}");
    let config = config.replace(
        "/path/to/aegis/docs/monitoring",
        &monitoring_dir().display().to_string(),
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("prometheus.yml"), config).expect("writing prometheus.yml");
    let out = promtool(dir.path(), &["check", "config", "prometheus.yml"], b"");
    assert!(out.success, "promtool check config failed:\n{}", out.text);
    assert!(
        out.text.contains("SUCCESS: 1 rule files found"),
        "{}",
        out.text
    );
}

#[test]
fn every_dashboard_query_parses_and_names_documented_metrics() {
    let queries = dashboard::queries();
    assert!(queries.len() >= 10, "only {} queries", queries.len());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("dashboard.yaml"),
        dashboard::rules_file(&queries),
    )
    .expect("writing the rules");
    let out = promtool(dir.path(), &["check", "rules", "dashboard.yaml"], b"");
    assert!(
        out.success,
        "promtool check rules on the dashboard's queries:\n{}",
        out.text
    );

    // The check can fail: one unbalanced bracket is refused.
    let mut broken = queries.clone();
    broken[0].expr = broken[0].expr.replacen(')', "", 1) + "[";
    std::fs::write(
        dir.path().join("broken.yaml"),
        dashboard::rules_file(&broken),
    )
    .expect("writing the rules");
    let out = promtool(dir.path(), &["check", "rules", "broken.yaml"], b"");
    assert!(!out.success, "promtool accepted {:?}", broken[0].expr);

    // Every metric a panel reads is one docs/monitoring.md documents.
    let docs = read(&common::repo_root().join("docs/monitoring.md"));
    for q in &queries {
        for name in q
            .expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        {
            if let Some(metric) = name.strip_prefix("aegis_") {
                let base = metric.strip_suffix("_bucket").unwrap_or(metric);
                assert!(
                    docs.contains(&format!("`aegis_{base}")),
                    "panel {:?} reads aegis_{metric}, which docs/monitoring.md does not list",
                    q.panel
                );
            }
        }
    }
}
