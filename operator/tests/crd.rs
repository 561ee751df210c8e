//! The TradingEngine CRD: `manifests/crd.yaml` is what `aegis-operator crd`
//! prints, and an API server with it installed accepts a valid engine and
//! rejects, with a 422 naming the rule, what the schema and CEL rules forbid.

mod common;

use aegis_operator::crd::{crd_yaml, TradingEngine};
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

#[test]
fn manifests_crd_yaml_is_the_generated_crd() {
    let path = common::repo_root().join("manifests/crd.yaml");
    let on_disk = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let generated = crd_yaml().expect("the CRD serializes");
    assert!(
        on_disk == generated,
        "manifests/crd.yaml differs from the CRD the code derives; regenerate it with\n  \
         cargo run -p aegis-operator -- crd > manifests/crd.yaml"
    );
}

/// The schema of `spec.strategy` in the generated CRD.
fn strategy_schema() -> Value {
    let crd = serde_json::to_value(aegis_operator::crd::crd()).expect("CRD as JSON");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["strategy"]
        .clone()
}

#[test]
fn the_crd_knows_every_strategy_and_parameter_of_the_worker() {
    let schema = strategy_schema();
    let names: Vec<&str> = schema["properties"]["name"]["enum"]
        .as_array()
        .expect("an enum of strategy names")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let catalog = aegis_contract::strategy::catalog();
    assert_eq!(
        names,
        catalog.iter().map(|s| s.name).collect::<Vec<_>>(),
        "the CRD's strategies are the worker's"
    );
    let params = &schema["properties"]["params"]["properties"];
    for strategy in catalog {
        for p in strategy.params {
            let expected = match p.kind {
                aegis_contract::strategy::INTEGER => "integer",
                aegis_contract::strategy::NUMBER => "number",
                aegis_contract::strategy::BOOL => "boolean",
                other => panic!("a parameter kind the CRD does not map: {other}"),
            };
            assert_eq!(
                params[p.name]["type"], expected,
                "{}: parameter {} should be a {expected} in the CRD",
                strategy.name, p.name
            );
        }
    }
}

fn engine(name: &str, spec: Value) -> TradingEngine {
    serde_json::from_value(json!({
        "apiVersion": "aegis.dev/v1alpha1",
        "kind": "TradingEngine",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("a TradingEngine")
}

/// A paper engine on simulated data with a few fields set.
fn valid_spec() -> Value {
    json!({
        "symbol": "BTCUSDT",
        "interval": "1m",
        "strategy": {"name": "sma-cross", "params": {"fast": 5, "slow": 30}},
        "risk": {"maxDrawdown": 0.2, "dailyLossLimit": 500},
    })
}

/// Creating `spec` (as raw JSON: the typed client cannot even write some of
/// these) fails with 422; returns the message.
async fn rejected(engines: &Api<TradingEngine>, name: &str, spec: Value) -> String {
    let raw: Api<DynamicObject> = Api::namespaced_with(
        engines.clone().into_client(),
        "default",
        &ApiResource::erase::<TradingEngine>(&()),
    );
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "aegis.dev/v1alpha1",
        "kind": "TradingEngine",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("a dynamic object");
    let e = common::api_error(raw.create(&PostParams::default(), &object).await);
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{e:?}");
    e.message
}

/// [`valid_spec`] in live mode on the binance feed (what live needs).
fn live_spec() -> Value {
    with(
        with(valid_spec(), &["mode"], json!("live")),
        &["source"],
        json!("binance"),
    )
}

fn with(mut spec: Value, path: &[&str], value: Value) -> Value {
    let mut node = &mut spec;
    for key in &path[..path.len() - 1] {
        node = &mut node[*key];
    }
    node[path[path.len() - 1]] = value;
    spec
}

#[tokio::test]
async fn a_valid_engine_is_accepted_with_defaults_filled_in() {
    let (cluster, _client, engines) = common::cluster_with_crd().await;
    let created = engines
        .create(&PostParams::default(), &engine("btc", valid_spec()))
        .await
        .expect("a valid engine is accepted");
    assert_eq!(created.spec.ring_capacity, 65536, "default ring capacity");
    assert_eq!(created.spec.source, aegis_operator::crd::Source::Simulated);
    assert_eq!(created.spec.mode, aegis_operator::crd::Mode::Paper);
    assert_eq!(created.spec.strategy.params.slow, Some(30));
    assert_eq!(created.metadata.generation, Some(1));
    cluster.shutdown().await;
}

#[tokio::test]
async fn rules_go_with_the_rules_strategy_only() {
    let (cluster, _client, engines) = common::cluster_with_crd().await;
    let rules = json!({"name": "rules", "rules": {
        "indicators": {"fast": "sma(close, 10)", "slow": "sma(close, 30)"},
        "enter_long": "crossAbove(fast, slow)", "exit_long": "crossBelow(fast, slow)"}});
    let created = engines
        .create(
            &PostParams::default(),
            &engine("btc-rules", with(valid_spec(), &["strategy"], rules)),
        )
        .await
        .expect("an engine with rules is accepted");
    let got = created.spec.strategy.rules.expect("rules kept");
    assert_eq!(got.enter_long, "crossAbove(fast, slow)");
    assert_eq!(got.indicators["slow"], "sma(close, 30)");
    let m = rejected(
        &engines,
        "rules-without-rules",
        with(valid_spec(), &["strategy"], json!({"name": "rules"})),
    )
    .await;
    assert!(
        m.contains("strategy rules needs spec.strategy.rules"),
        "{m}"
    );
    let m = rejected(
        &engines,
        "rules-on-sma-cross",
        with(
            valid_spec(),
            &["strategy", "rules"],
            json!({"enter_long": "true", "exit_long": "false"}),
        ),
    )
    .await;
    assert!(m.contains("rules are for strategy rules only"), "{m}");
    let m = rejected(
        &engines,
        "rules-without-exit",
        with(
            valid_spec(),
            &["strategy"],
            json!({"name": "rules", "rules": {"enter_long": "true"}}),
        ),
    )
    .await;
    assert!(m.contains("exit_long"), "{m}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn schema_violations_are_rejected_naming_the_field() {
    let (cluster, _client, engines) = common::cluster_with_crd().await;
    let m = rejected(
        &engines,
        "bad-symbol",
        with(valid_spec(), &["symbol"], json!("btc-usd")),
    )
    .await;
    assert!(
        m.contains("spec.symbol") && m.contains("should match '^[A-Z0-9]{2,20}$'"),
        "{m}"
    );
    let m = rejected(
        &engines,
        "bad-mode",
        with(valid_spec(), &["mode"], json!("yolo")),
    )
    .await;
    assert!(m.contains("spec.mode: Unsupported value: \"yolo\""), "{m}");
    let m = rejected(
        &engines,
        "bad-interval",
        with(valid_spec(), &["interval"], json!("7m")),
    )
    .await;
    assert!(m.contains("spec.interval: Unsupported value"), "{m}");
    let m = rejected(
        &engines,
        "bad-drawdown",
        with(valid_spec(), &["risk", "maxDrawdown"], json!(1.0)),
    )
    .await;
    assert!(m.contains("spec.risk.maxDrawdown"), "{m}");
    let m = rejected(
        &engines,
        "bad-ring",
        with(valid_spec(), &["ringCapacity"], json!(1000)),
    )
    .await;
    assert!(m.contains("spec.ringCapacity"), "{m}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn cel_rules_reject_cross_field_mistakes_with_their_message() {
    let (cluster, _client, engines) = common::cluster_with_crd().await;
    let m = rejected(&engines, "live-no-creds", live_spec()).await;
    assert!(
        m.contains("spec.credentialsSecretRef")
            && m.contains("credentialsSecretRef is required when mode is live"),
        "{m}"
    );
    let live_short = with(
        with(
            live_spec(),
            &["credentialsSecretRef"],
            json!({"name": "keys"}),
        ),
        &["strategy", "params", "short"],
        json!(true),
    );
    let m = rejected(&engines, "live-short", live_short).await;
    assert!(
        m.contains("spec.strategy.params.short") && m.contains("no short positions"),
        "{m}"
    );
    let m = rejected(
        &engines,
        "bad-rest-url",
        with(valid_spec(), &["exchange"], json!({"restUrl": "ftp://x"})),
    )
    .await;
    assert!(m.contains("spec.exchange.restUrl"), "{m}");
    let m = rejected(
        &engines,
        "slow-le-fast",
        with(
            valid_spec(),
            &["strategy", "params"],
            json!({"fast": 20, "slow": 20}),
        ),
    )
    .await;
    assert!(
        m.contains("spec.strategy.params")
            && m.contains("sma-cross needs params.slow > params.fast"),
        "{m}"
    );
    let m = rejected(
        &engines,
        "slow-below-default-fast",
        with(valid_spec(), &["strategy", "params"], json!({"slow": 8})),
    )
    .await;
    assert!(m.contains("params.slow > params.fast"), "{m}");
    let m = rejected(
        &engines,
        "ring-not-power-of-two",
        with(valid_spec(), &["ringCapacity"], json!(3072)),
    )
    .await;
    assert!(m.contains("ringCapacity must be a power of two"), "{m}");
    let m = rejected(
        &engines,
        "replay-no-path",
        with(valid_spec(), &["source"], json!("replay")),
    )
    .await;
    assert!(
        m.contains("replay.path is required when source is replay"),
        "{m}"
    );
    let m = rejected(
        &engines,
        "rsi-params-on-sma",
        with(valid_spec(), &["strategy", "params"], json!({"period": 14})),
    )
    .await;
    assert!(m.contains("parameters of rsi-reversion only"), "{m}");
    let m = rejected(
        &engines,
        "both-persistence",
        with(
            valid_spec(),
            &["persistence"],
            json!({"claimName": "ledger", "size": "1Gi"}),
        ),
    )
    .await;
    assert!(
        m.contains("set exactly one of persistence.claimName"),
        "{m}"
    );
    let long = "a".repeat(57);
    let m = rejected(&engines, &long, valid_spec()).await;
    assert!(m.contains("the name must be at most 56 characters"), "{m}");
    // What the rules allow still passes: live with credentials on the
    // binance feed, rsi params on rsi.
    let live = with(
        live_spec(),
        &["credentialsSecretRef"],
        json!({"name": "binance-testnet"}),
    );
    engines
        .create(&PostParams::default(), &engine("live-ok", live))
        .await
        .expect("live with credentials is accepted");
    let rsi = with(
        valid_spec(),
        &["strategy"],
        json!({"name": "rsi-reversion", "params": {"period": 7, "oversold": 25.5, "overbought": 75}}),
    );
    engines
        .create(&PostParams::default(), &engine("rsi-ok", rsi))
        .await
        .expect("rsi-reversion with its own params is accepted");
    cluster.shutdown().await;
}

#[tokio::test]
async fn the_symbol_cannot_change_but_other_fields_can() {
    let (cluster, _client, engines) = common::cluster_with_crd().await;
    engines
        .create(&PostParams::default(), &engine("btc", valid_spec()))
        .await
        .expect("created");
    let pp = PatchParams::default();
    let e = common::api_error(
        engines
            .patch(
                "btc",
                &pp,
                &Patch::Merge(json!({"spec": {"symbol": "ETHUSDT"}})),
            )
            .await,
    );
    assert_eq!(e.code, 422, "{e:?}");
    assert!(
        e.message.contains("spec.symbol") && e.message.contains("symbol is immutable"),
        "{}",
        e.message
    );
    let changed = engines
        .patch(
            "btc",
            &pp,
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await
        .expect("other fields may change");
    assert!(changed.spec.suspend);
    assert_eq!(changed.metadata.generation, Some(2));
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_computed_status_is_accepted_by_the_status_subresource_and_fills_the_columns() {
    let (cluster, client, engines) = common::cluster_with_crd().await;
    let created = engines
        .create(&PostParams::default(), &engine("btc", valid_spec()))
        .await
        .expect("created");
    let book = common::orchestrator::status_with_book("0.5", "10100", "60", "40.5", false);
    let status = aegis_operator::status::desired_status(
        &created,
        &aegis_operator::status::Observed {
            orchestrator_status: Some(&book),
            ..Default::default()
        },
        chrono::Utc::now(),
    );
    let patched = engines
        .patch_status(
            "btc",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .expect("the status schema accepts what status.rs computes");
    assert_eq!(patched.status.as_ref(), Some(&status), "stored unchanged");

    let request = http::Request::get("/apis/aegis.dev/v1alpha1/namespaces/default/tradingengines")
        .header(
            "Accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Vec::new())
        .expect("a request");
    let table: Value =
        serde_json::from_str(&client.request_text(request).await.expect("a table")).expect("JSON");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        columns,
        ["Name", "Symbol", "Mode", "Phase", "Position", "PnL", "Age"]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(
        cells.as_array().expect("cells")[..6],
        [
            json!("btc"),
            json!("BTCUSDT"),
            json!("paper"),
            json!("Pending"),
            json!("0.5"),
            json!("100.5")
        ]
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn live_mode_is_refused_on_made_up_data_and_paper_runs_on_the_binance_feed() {
    let (cluster, _client, engines) = common::cluster_with_crd().await;
    let creds = |spec: Value| with(spec, &["credentialsSecretRef"], json!({"name": "keys"}));
    for (name, source) in [("live-simulated", None), ("live-replay", Some("replay"))] {
        let mut spec = creds(with(valid_spec(), &["mode"], json!("live")));
        if let Some(source) = source {
            spec = with(
                with(spec, &["source"], json!(source)),
                &["replay"],
                json!({"path": "/data/btc.csv"}),
            );
        }
        let m = rejected(&engines, name, spec).await;
        assert!(
            m.contains("spec.source")
                && m.contains(
                    "mode live needs source binance: live orders must follow live market data"
                ),
            "{name}: {m}"
        );
    }
    let dry_run = with(valid_spec(), &["source"], json!("binance"));
    let created = engines
        .create(&PostParams::default(), &engine("paper-on-binance", dry_run))
        .await
        .expect("paper on the binance feed (the dry run) is accepted");
    assert_eq!(created.spec.mode, aegis_operator::crd::Mode::Paper);
    assert_eq!(created.spec.source, aegis_operator::crd::Source::Binance);
    cluster.shutdown().await;
}

#[tokio::test]
async fn exits_are_checked_by_the_schema_and_cel_and_valid_ones_pass() {
    let (cluster, _client, engines) = common::cluster_with_crd().await;
    let m = rejected(
        &engines,
        "stop-and-atr",
        with(
            valid_spec(),
            &["exits"],
            json!({"stopLoss": 0.02, "atrMultiple": 2}),
        ),
    )
    .await;
    assert!(
        m.contains("set exits.stopLoss or exits.atrMultiple, not both"),
        "{m}"
    );
    let m = rejected(
        &engines,
        "trail-after-alone",
        with(valid_spec(), &["exits"], json!({"trailingAfter": 0.01})),
    )
    .await;
    assert!(
        m.contains("exits.trailingAfter needs exits.trailingStop"),
        "{m}"
    );
    let m = rejected(
        &engines,
        "stop-of-one",
        with(valid_spec(), &["exits"], json!({"stopLoss": 1})),
    )
    .await;
    assert!(m.contains("spec.exits.stopLoss"), "{m}");
    let m = rejected(
        &engines,
        "limit-forever",
        with(
            valid_spec(),
            &["entryOrder"],
            json!({"type": "limit", "ttlBars": 0}),
        ),
    )
    .await;
    assert!(m.contains("spec.entryOrder.ttlBars"), "{m}");
    let m = rejected(
        &engines,
        "stop-order",
        with(valid_spec(), &["entryOrder"], json!({"type": "stop"})),
    )
    .await;
    assert!(m.contains("spec.entryOrder.type"), "{m}");
    let spec = with(
        with(
            valid_spec(),
            &["exits"],
            json!({"stopLoss": 0.03, "takeProfit": 0.08, "trailingStop": 0.04, "trailingAfter": 0.03,
                   "takeProfitTable": [{"afterMinutes": 0, "profit": 0.1}, {"afterMinutes": 240, "profit": 0}]}),
        ),
        &["entryOrder"],
        json!({"type": "limit", "offset": 0.001, "ttlBars": 3}),
    );
    let created = engines
        .create(&PostParams::default(), &engine("with-exits", spec))
        .await
        .expect("valid exits are accepted");
    let exits = created.spec.exits.expect("exits kept");
    assert_eq!(exits.stop_loss, Some(0.03));
    assert_eq!(exits.take_profit_table.len(), 2);
    cluster.shutdown().await;
}
