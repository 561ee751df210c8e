//! The chart's Grafana dashboard (charts/aegis-operator/dashboards/
//! aegis-engines.json): every panel's PromQL, the same queries with
//! Grafana's variables replaced by what selects every engine, and a rules
//! file through which `promtool check rules` parses them all.

use std::fmt::Write as _;

/// The dashboard, relative to the repository root.
pub const DASHBOARD: &str = "charts/aegis-operator/dashboards/aegis-engines.json";

/// Metrics only a live engine (an exchange account) exports: their queries
/// are parsed but return nothing under a paper engine.
pub const LIVE_ONLY: &[&str] = &["aegis_exchange_errors_total"];

/// One panel target.
#[derive(Clone, Debug)]
pub struct Query {
    /// The panel's title.
    pub panel: String,
    /// The PromQL, as Grafana sends it (with `$variables`).
    pub expr: String,
}

impl Query {
    /// Whether it reads a metric only live engines export.
    pub fn live_only(&self) -> bool {
        LIVE_ONLY.iter().any(|m| self.expr.contains(m))
    }

    /// The PromQL with the dashboard's variables as "All" selects them and
    /// `$__rate_interval` as one minute.
    pub fn promql(&self) -> String {
        let q = self
            .expr
            .replace("$__rate_interval", "1m")
            .replace("$namespace", ".*")
            .replace("$pod", ".*");
        assert!(
            !q.contains('$'),
            "panel {:?}: unknown variable in {q}",
            self.panel
        );
        q
    }
}

/// Every target of every panel (rows hold none); panics on a panel without
/// targets or a target without an expression.
pub fn queries() -> Vec<Query> {
    let path = super::repo_root().join(DASHBOARD);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let dashboard: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let panels = dashboard["panels"]
        .as_array()
        .expect("the dashboard's panels");
    let mut out = Vec::new();
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap_or_default().to_string();
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(!targets.is_empty(), "panel {title:?} has no query");
        for target in targets {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title:?}: a target without expr"));
            out.push(Query {
                panel: title.clone(),
                expr: expr.to_string(),
            });
        }
    }
    out
}

/// A Prometheus rules file recording each query (so `promtool check rules`
/// parses every one of them).
pub fn rules_file(queries: &[Query]) -> String {
    let mut yaml = String::from("groups:\n  - name: aegis-dashboard\n    rules:\n");
    for (i, q) in queries.iter().enumerate() {
        // A JSON string is a valid YAML double-quoted scalar.
        let expr = serde_json::to_string(&q.promql()).expect("a string serializes");
        let _ = write!(
            yaml,
            "      - record: aegis:dashboard:query{i}\n        expr: {expr}\n"
        );
    }
    yaml
}
