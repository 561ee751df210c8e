//! The desired pod of an engine against golden YAML files
//! (`operator/tests/golden/*.yaml`; rewrite them with `UPDATE_GOLDEN=1`), and
//! the properties a golden file would not make obvious: the configuration the
//! worker reads back and validates, where secrets go, what changes the hash.

mod common;

use std::collections::BTreeSet;

use aegis_contract::config::{parse, Config, ExecutionMode, SourceKind};
use aegis_operator::crd::TradingEngine;
use aegis_operator::desired::{
    desired_ledger_claim, desired_pod, PodSettings, SpecError, CONFIG_KEY, SPEC_HASH_ANNOTATION,
};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::{json, Value};

fn settings() -> PodSettings {
    PodSettings {
        image: "ghcr.io/aegis/aegis-worker:0.1.0".into(),
        image_pull_policy: Some("IfNotPresent".into()),
        control_key: aegis_operator::control_key::ControlKey::from_bytes(&[7; 32])
            .expect("a test key"),
    }
}

/// An engine as read from the API server (namespace and uid set).
fn engine(name: &str, spec: Value) -> TradingEngine {
    serde_json::from_value(json!({
        "apiVersion": "aegis.dev/v1alpha1",
        "kind": "TradingEngine",
        "metadata": {"name": name, "namespace": "trading", "uid": "6b1f3c1e-0000-4000-8000-000000000001", "generation": 1},
        "spec": spec,
    }))
    .expect("a TradingEngine")
}

fn paper_simulated() -> TradingEngine {
    engine(
        "btc-paper",
        json!({"symbol": "BTCUSDT", "interval": "1m", "strategy": {"name": "sma-cross", "params": {"fast": 5, "slow": 30}},
               "risk": {"maxDrawdown": 0.2, "dailyLossLimit": 250.5}}),
    )
}

fn replay() -> TradingEngine {
    engine(
        "eth-replay",
        json!({"symbol": "ETHUSDT", "interval": "1h", "source": "replay",
               "replay": {"path": "/replay/ethusdt-1h.csv", "claimName": "market-data", "speed": 60},
               "strategy": {"name": "rsi-reversion", "params": {"period": 7, "oversold": 25, "overbought": 75.5}},
               "ringCapacity": 4096, "persistence": {"size": "1Gi"}}),
    )
}

fn live() -> TradingEngine {
    engine(
        "btc-live",
        json!({"symbol": "BTCUSDT", "interval": "1m", "source": "binance", "mode": "live",
               "credentialsSecretRef": {"name": "binance-testnet"},
               "risk": {"maxPositionNotional": 1000, "maxDrawdown": 0.1},
               "image": "registry.example/aegis-worker:canary",
               "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
               "persistence": {"claimName": "btc-live-ledger-ssd"}, "flattenOnDelete": true,
               "exchange": {"testnet": true}}),
    )
}

/// Compares `actual` with the golden file, or rewrites it with UPDATE_GOLDEN=1.
fn golden(name: &str, pod: &Pod, config_map: &ConfigMap) {
    let actual = format!(
        "{}---\n{}",
        serde_yaml::to_string(pod).expect("pod yaml"),
        serde_yaml::to_string(config_map).expect("configmap yaml")
    );
    let path = common::repo_root().join(format!("operator/tests/golden/{name}.yaml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("writing the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the desired pod at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             If the change is intended, rewrite it with\n  \
             UPDATE_GOLDEN=1 cargo test -p aegis-operator --test desired",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn build(te: &TradingEngine) -> (Pod, ConfigMap) {
    desired_pod(te, &settings()).expect("a pod for a valid engine")
}

#[test]
fn paper_simulated_engine_matches_its_golden_file() {
    let (pod, cm) = build(&paper_simulated());
    golden("paper-simulated", &pod, &cm);
}

#[test]
fn replay_engine_matches_its_golden_file() {
    let (pod, cm) = build(&replay());
    golden("replay", &pod, &cm);
}

#[test]
fn live_engine_matches_its_golden_file() {
    let (pod, cm) = build(&live());
    golden("live", &pod, &cm);
}

fn config_of(cm: &ConfigMap) -> String {
    cm.data.as_ref().expect("data")[CONFIG_KEY].clone()
}

/// Parses and validates the ConfigMap's file with the worker's own parser
/// (the contract's, which every role starts with).
fn load_with_worker(yaml: &str, tag: &str) -> Result<Config, aegis_contract::config::ConfigError> {
    let path = std::path::PathBuf::from(format!("{tag}/config.yaml"));
    parse(Some((path.as_path(), yaml)), &[])
}

#[test]
fn the_paper_config_loads_and_validates_with_the_worker() {
    let (_, cm) = build(&paper_simulated());
    let config = load_with_worker(&config_of(&cm), "paper").expect("the worker accepts it");
    assert_eq!(config.engine, "btc-paper");
    assert_eq!(config.rings.dir.to_str(), Some("/dev/shm/aegis"));
    assert_eq!(config.feed.listen.to_string(), "0.0.0.0:9101");
    assert_eq!(config.brain.listen.to_string(), "0.0.0.0:9102");
    assert_eq!(config.orchestrator.listen.to_string(), "0.0.0.0:9103");
    assert_eq!(
        config.orchestrator.data_dir.to_str(),
        Some("/var/lib/aegis")
    );
    assert_eq!(
        config
            .orchestrator
            .risk
            .daily_loss_limit
            .map(|d| d.to_string()),
        Some("250.5".into()),
        "amounts arrive exact"
    );
    assert!(
        !config.feed.exit_at_end && !config.brain.exit_at_end && !config.orchestrator.exit_at_end
    );
    assert_eq!(config.brain.strategy.param_strings()["slow"], "30");
}

#[test]
fn the_replay_config_validates_once_its_csv_exists() {
    let dir = std::env::temp_dir().join(format!("aegis-operator-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let csv = dir.join("eth.csv");
    std::fs::write(&csv, "timestamp,open,high,low,close,volume\n").expect("csv");
    let mut te = replay();
    if let Some(r) = te.spec.replay.as_mut() {
        r.path = csv.display().to_string();
    }
    let (_, cm) = build(&te);
    let config = load_with_worker(&config_of(&cm), "replay");
    let _ = std::fs::remove_dir_all(&dir);
    let config = config.expect("the worker accepts the replay config");
    assert_eq!(config.feed.source, SourceKind::Replay);
    assert_eq!(config.feed.replay.file.as_deref(), Some(csv.as_path()));
    assert_eq!(config.rings.candles_capacity, 4096);
    assert!(config.brain.checkpoint_every < 4096);
}

#[test]
fn the_live_config_parses_and_validates() {
    let (_, cm) = build(&live());
    let yaml = config_of(&cm);
    let config: Config = serde_yaml::from_str(&yaml).expect("the worker's type reads it back");
    assert_eq!(config.orchestrator.mode, ExecutionMode::Live);
    assert_eq!(config.feed.source, SourceKind::Binance);
    assert!(
        !yaml.contains("apiKey") && !yaml.contains("API_KEY"),
        "no secret in the file"
    );
    config.validate().expect("the live config validates");
    assert!(
        config.exchange.testnet,
        "spec.exchange.testnet reaches the worker"
    );
    assert_eq!(
        config.exchange.rest_base(),
        "https://testnet.binance.vision"
    );
}

#[test]
fn a_short_strategy_in_live_mode_is_refused_before_any_pod() {
    let mut te = live();
    te.spec.strategy.params.short = Some(true);
    let err = desired_pod(&te, &settings()).expect_err("spot cannot short");
    assert!(
        matches!(&err, SpecError::Invalid { message } if message.contains("brain.strategy.params.short")),
        "{err}"
    );
}

fn container<'a>(pod: &'a Pod, name: &str) -> &'a k8s_openapi::api::core::v1::Container {
    pod.spec
        .as_ref()
        .expect("spec")
        .containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

#[test]
fn api_keys_reach_only_the_orchestrator_and_only_in_live_mode() {
    let (pod, _) = build(&live());
    let env_names = |c: &str| -> BTreeSet<String> {
        container(&pod, c)
            .env
            .iter()
            .flatten()
            .map(|e| e.name.clone())
            .collect()
    };
    assert_eq!(
        env_names("orchestrator"),
        BTreeSet::from([
            "BINANCE_API_KEY".to_string(),
            "BINANCE_API_SECRET".to_string()
        ])
    );
    assert!(env_names("feed").is_empty() && env_names("brain").is_empty());
    let (paper, _) = build(&paper_simulated());
    assert!(paper
        .spec
        .unwrap()
        .containers
        .iter()
        .all(|c| c.env.is_none()));
}

#[test]
fn the_hash_changes_with_the_spec_and_only_with_it() {
    let a = paper_simulated();
    let hash = |te: &TradingEngine| {
        let (pod, cm) = build(te);
        let h = aegis_operator::desired::spec_hash_of(&pod).map(String::from);
        assert_eq!(
            cm.metadata.annotations.expect("annotations")[SPEC_HASH_ANNOTATION],
            h.clone().expect("a hash"),
            "the ConfigMap carries the pod's hash"
        );
        h
    };
    assert_eq!(hash(&a), hash(&a.clone()), "deterministic");
    let mut risk = a.clone();
    risk.spec.risk.max_drawdown = Some(0.3);
    assert_ne!(
        hash(&a),
        hash(&risk),
        "a config-only change changes the hash"
    );
    let mut image = a.clone();
    image.spec.image = Some("other:1".into());
    assert_ne!(hash(&a), hash(&image), "a pod change changes the hash");
    let mut labelled = a.clone();
    labelled.metadata.labels = Some([("team".to_string(), "x".to_string())].into());
    assert_eq!(hash(&a), hash(&labelled), "metadata is not the spec");
}

fn rules() -> TradingEngine {
    engine(
        "btc-rules",
        json!({"symbol": "BTCUSDT", "interval": "1h",
               "strategy": {"name": "rules", "rules": {
                   "indicators": {"fast": "sma(close, 10)", "slow": "sma(close, 30)", "trend": "ema(close, 200)"},
                   "enter_long": "crossAbove(fast, slow) && close > trend",
                   "exit_long": "crossBelow(fast, slow) || position.pnl_fraction < -0.05",
                   "enter_short": "crossBelow(fast, slow) && close < trend"}}}),
    )
}

#[test]
fn rules_engine_matches_its_golden_file() {
    let (pod, cm) = build(&rules());
    golden("rules", &pod, &cm);
    // The worker reads the rules back and checks them as the operator did.
    let config = load_with_worker(&config_of(&cm), "rules").expect("the worker accepts it");
    let rules = config
        .brain
        .strategy
        .rules
        .as_ref()
        .expect("rules in the ConfigMap");
    assert_eq!(config.brain.strategy.name, "rules");
    assert_eq!(rules.indicators["trend"], "ema(close, 200)");
    assert_eq!(
        rules.enter_short.as_deref(),
        Some("crossBelow(fast, slow) && close < trend")
    );
}

#[test]
fn invalid_rules_are_refused_naming_the_rule_and_position() {
    let bad = |te: TradingEngine| desired_pod(&te, &settings()).expect_err("refused");
    let with_rules = |edit: &dyn Fn(&mut aegis_operator::crd::StrategyRules)| {
        let mut t = rules();
        edit(t.spec.strategy.rules.as_mut().expect("rules"));
        bad(t)
    };
    let e = with_rules(&|r| r.enter_long = "crossAbove(fast, slwo)".into());
    assert!(matches!(e, SpecError::Strategy { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "spec.strategy: rules.enter_long at 1:18: unknown name \"slwo\"; known: open, high, low, close, volume, position, fast, slow, trend"
    );
    let e = with_rules(&|r| {
        r.indicators.insert("r".into(), "rsi(close, 0)".into());
    });
    assert_eq!(
        e.to_string(),
        "spec.strategy: rules.indicators.r at 1:12: rsi: param period = \"0\": must be between 2 and 100000"
    );
    let e = with_rules(&|r| r.exit_long = "fast - slow".into());
    assert!(
        e.to_string()
            .contains("rules.exit_long at 1:1: this is a number"),
        "{e}"
    );
    // Rules without the name, the name without rules.
    let mut t = rules();
    t.spec.strategy.name = aegis_operator::crd::StrategyName::SmaCross;
    assert!(bad(t)
        .to_string()
        .contains("rules are for strategy rules, not sma-cross"));
    let mut t = rules();
    t.spec.strategy.rules = None;
    assert!(bad(t)
        .to_string()
        .contains("strategy rules needs its rules"));
    // Shorting rules on a live engine: Binance spot has no shorts.
    let mut t = live();
    t.spec.strategy = rules().spec.strategy;
    let e = bad(t);
    assert!(
        e.to_string().contains("brain.strategy.rules.enter_short"),
        "{e}"
    );
}

#[test]
fn specs_the_schema_might_let_through_are_errors_naming_the_field() {
    let bad = |te: TradingEngine| desired_pod(&te, &settings()).expect_err("refused");
    let mut t = paper_simulated();
    t.spec.strategy.params.fast = Some(40);
    let e = bad(t);
    assert!(matches!(e, SpecError::Strategy { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("slow (30) must be greater than fast (40)"),
        "{e}"
    );
    let mut t = paper_simulated();
    t.spec.ring_capacity = 3000;
    assert!(bad(t).to_string().contains("spec.ringCapacity 3000"));
    let mut t = paper_simulated();
    t.spec.interval = "7m".into();
    assert!(bad(t).to_string().contains("spec.interval \"7m\""));
    let mut t = live();
    t.spec.credentials_secret_ref = None;
    assert!(matches!(bad(t), SpecError::MissingCredentials));
    // The spec's default source is simulated: live with it is refused
    // before any pod, never translated into a configuration.
    let mut t = live();
    t.spec.source = aegis_operator::crd::Source::Simulated;
    let e = bad(t);
    assert!(
        matches!(&e, SpecError::Invalid { message } if message.contains("orchestrator.mode") && message.contains("feed.source")),
        "{e}"
    );
    let mut t = paper_simulated();
    t.spec.resources = serde_json::from_value(json!({"limits": {"memory": "much"}})).ok();
    assert!(bad(t).to_string().contains("spec.resources.limits.memory"));
    let mut t = paper_simulated();
    t.metadata.uid = None;
    assert!(matches!(bad(t), SpecError::NotPersisted));
    // Plain text to the exchange only on the pod's own loopback.
    for (exchange, field) in [
        (
            json!({"restUrl": "http://api.binance.com"}),
            "exchange.rest_url",
        ),
        (
            json!({"wsUrl": "ws://stream.binance.com:9443/ws"}),
            "exchange.ws_url",
        ),
    ] {
        let mut t = live();
        t.spec.exchange = Some(serde_json::from_value(exchange).expect("an exchange spec"));
        let e = bad(t);
        assert!(
            matches!(&e, SpecError::Invalid { message } if message.contains(field) && message.contains("loopback")),
            "{e}"
        );
    }
}

#[test]
fn a_sized_persistence_gets_an_owned_claim_and_a_named_one_does_not() {
    let claim = desired_ledger_claim(&replay())
        .expect("valid")
        .expect("a claim");
    assert_eq!(claim.metadata.name.as_deref(), Some("eth-replay-ledger"));
    assert_eq!(
        claim.metadata.owner_references.expect("owned")[0].controller,
        Some(true)
    );
    let (pod, _) = build(&replay());
    let volumes = pod.spec.expect("spec").volumes.expect("volumes");
    assert!(volumes.iter().any(|v| v
        .persistent_volume_claim
        .as_ref()
        .is_some_and(|c| c.claim_name == "eth-replay-ledger")));
    assert!(desired_ledger_claim(&live()).expect("valid").is_none());
    assert!(desired_ledger_claim(&paper_simulated())
        .expect("valid")
        .is_none());
}

#[test]
fn the_control_token_reaches_only_the_orchestrator_from_an_owned_secret() {
    use aegis_operator::control_key::TOKEN_ENTRY;
    use aegis_operator::desired::{desired_control_secret, CONTROL_PORT_NAME};
    use kube::ResourceExt;

    let te = paper_simulated();
    let (pod, config_map) = build(&te);
    let key = settings().control_key;
    let secret = desired_control_secret(&te, &key).expect("the token Secret");
    let uid = te.uid().expect("a uid");
    assert_eq!(secret.name_any(), key.secret_name("btc-paper", &uid));
    assert_eq!(secret.metadata.namespace.as_deref(), Some("trading"));
    let owner = &secret.metadata.owner_references.as_ref().expect("owned")[0];
    assert_eq!(
        (owner.uid.as_str(), owner.controller),
        (uid.as_str(), Some(true))
    );
    assert_eq!(secret.immutable, Some(true));
    let token = secret.data.as_ref().expect("data")[TOKEN_ENTRY].0.clone();
    assert_eq!(token, key.token(&uid).expose().as_bytes());

    // The pod mounts it, read-only, into the orchestrator alone.
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .expect("volumes");
    let control = volumes
        .iter()
        .find(|v| v.name == "control")
        .and_then(|v| v.secret.as_ref())
        .expect("a secret volume named control");
    assert_eq!(
        control.secret_name.as_deref(),
        Some(secret.name_any().as_str())
    );
    assert_eq!(control.default_mode, Some(0o440));
    let mounts_control = |c: &str| {
        container(&pod, c)
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == "control")
            .map(|m| (m.mount_path.clone(), m.read_only))
    };
    assert_eq!(
        mounts_control("orchestrator"),
        Some(("/var/run/aegis/control".to_string(), Some(true)))
    );
    assert_eq!(
        (mounts_control("feed"), mounts_control("brain")),
        (None, None)
    );

    // Its own named port, and the configuration points at the file.
    let ports: Vec<_> = container(&pod, "orchestrator")
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone().unwrap_or_default(), p.container_port))
        .collect();
    assert!(
        ports.contains(&(CONTROL_PORT_NAME.to_string(), 9104)),
        "{ports:?}"
    );
    let config = load_with_worker(&config_of(&config_map), "control").expect("valid");
    assert_eq!(
        config.orchestrator.control_token_file.as_deref(),
        Some(std::path::Path::new("/var/run/aegis/control/token"))
    );
    assert_eq!(config.orchestrator.control_listen.port(), 9104);

    // Another key: another Secret name, so another pod (hash).
    let other = PodSettings {
        control_key: aegis_operator::control_key::ControlKey::from_bytes(&[8; 32]).expect("a key"),
        ..settings()
    };
    let (rekeyed, _) = desired_pod(&te, &other).expect("a pod");
    assert_ne!(
        rekeyed
            .metadata
            .annotations
            .as_ref()
            .map(|a| &a[SPEC_HASH_ANNOTATION]),
        pod.metadata
            .annotations
            .as_ref()
            .map(|a| &a[SPEC_HASH_ANNOTATION])
    );
}

/// The brain's checkpoint lives in the `/dev/shm` volume beside the rings:
/// with the longest periods the contract allows, the volume still holds
/// the rings and every checkpoint copy (the worker's tests check that a
/// real checkpoint stays within the contract's bound), so the brain never
/// meets ENOSPC.
#[test]
fn the_shm_volume_holds_the_largest_checkpoint_the_spec_allows() {
    use aegis_contract::records::{Candle, Signal};
    use aegis_contract::strategy::{MAX_CHECKPOINT_BYTES, MAX_PERIOD};
    use aegis_operator::desired::memory::{CHECKPOINT_COPIES, SHM_HEADROOM_BYTES};

    let shm_bytes = |te: &TradingEngine| {
        let (pod, _) = build(te);
        let volumes = pod.spec.and_then(|s| s.volumes).expect("volumes");
        let shm = volumes
            .iter()
            .find(|v| v.name == "shm")
            .expect("the shm volume");
        let limit = shm
            .empty_dir
            .as_ref()
            .and_then(|e| e.size_limit.clone())
            .expect("a sizeLimit");
        aegis_operator::quantity::parse_bytes(&limit).expect("a quantity")
    };
    let rings = |capacity: u64| {
        ringbuf_shm::ring_file_bytes::<Candle>(capacity).expect("candle ring")
            + ringbuf_shm::ring_file_bytes::<Signal>(capacity).expect("signal ring")
    };
    for (strategy, capacity) in [
        (
            json!({"name": "sma-cross", "params": {"fast": MAX_PERIOD - 1, "slow": MAX_PERIOD}}),
            1024,
        ),
        (
            json!({"name": "sma-cross", "params": {"fast": MAX_PERIOD - 1, "slow": MAX_PERIOD}}),
            65536,
        ),
        (
            json!({"name": "rsi-reversion", "params": {"period": MAX_PERIOD}}),
            1024,
        ),
        (
            json!({"name": "rules", "rules": {
                "indicators": {"a": format!("sma(close, {MAX_PERIOD})"), "b": "bb_upper(high, 90000, 2)"},
                "enter_long": "a > b[1000]", "exit_long": "close[1000] < a"}}),
            1024,
        ),
    ] {
        let te = engine(
            "btc-long",
            json!({"symbol": "BTCUSDT", "interval": "1m", "strategy": strategy.clone(), "ringCapacity": capacity}),
        );
        let params: std::collections::BTreeMap<String, String> = strategy["params"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let rules: Option<aegis_contract::strategy::RulesSpec> = strategy
            .get("rules")
            .map(|r| serde_json::from_value(r.clone()).expect("rules"));
        let checkpoint = aegis_contract::strategy::parse_with_rules(
            strategy["name"].as_str().expect("a name"),
            &params,
            rules.as_ref(),
        )
        .expect("valid")
        .checkpoint_bytes_max();
        let volume = shm_bytes(&te);
        assert!(
            volume >= rings(capacity) + CHECKPOINT_COPIES * checkpoint + SHM_HEADROOM_BYTES,
            "{strategy}: {volume} bytes for rings of {capacity} and checkpoints of {checkpoint}"
        );
    }
    // The longest sma-cross is the largest checkpoint there is; the default
    // engine's volume is unchanged by the allowance.
    let longest = engine(
        "btc-long",
        json!({"symbol": "BTCUSDT", "interval": "1m", "ringCapacity": 1024,
               "strategy": {"name": "sma-cross", "params": {"fast": MAX_PERIOD - 1, "slow": MAX_PERIOD}}}),
    );
    assert!(shm_bytes(&longest) >= rings(1024) + CHECKPOINT_COPIES * (MAX_CHECKPOINT_BYTES - 64));
    assert_eq!(shm_bytes(&paper_simulated()), 14 << 20);
}

#[test]
fn exits_reach_the_orchestrator_in_paper_and_live_mode_and_bad_ones_are_refused() {
    let mut spec = serde_json::to_value(&paper_simulated().spec).expect("spec");
    spec["exits"] = json!({"stopLoss": 0.03, "takeProfit": 0.08, "trailingStop": 0.04, "trailingAfter": 0.03,
                           "takeProfitTable": [{"afterMinutes": 0, "profit": 0.1}, {"afterMinutes": 240, "profit": 0}]});
    spec["entryOrder"] = json!({"type": "limit", "offset": 0.001, "ttlBars": 3});
    let (_, cm) = build(&engine("btc-exits", spec));
    let config = load_with_worker(&config_of(&cm), "exits").expect("the worker accepts it");
    let exits = &config.orchestrator.exits;
    assert_eq!(exits.stop_loss, Some("0.03".parse().expect("decimal")));
    assert_eq!(exits.trailing_after, Some("0.03".parse().expect("decimal")));
    assert_eq!(
        exits.take_profit_after(300),
        Some("0".parse().expect("decimal"))
    );
    assert_eq!(config.orchestrator.entry_order.ttl_bars, 3);
    assert_eq!(
        config.orchestrator.entry_order.order_type,
        aegis_contract::config::EntryOrderType::Limit
    );

    // Rows out of order get through the schema; the contract names them.
    let mut unordered = serde_json::to_value(&paper_simulated().spec).expect("spec");
    unordered["exits"] = json!({"takeProfitTable": [{"afterMinutes": 60, "profit": 0.02}, {"afterMinutes": 0, "profit": 0.05}]});
    let err = desired_pod(&engine("btc-unordered", unordered), &settings()).expect_err("unordered");
    assert!(
        err.to_string()
            .contains("orchestrator.exits.take_profit_table[1].after_minutes"),
        "{err}"
    );

    // Live: the exchange holds the exits (an OCO, a stop), limit entries
    // rest on it, and what one order cannot hold (a time table, a trailing
    // stop beside a stop) is moved by the engine: all reach the worker.
    // Out-of-range exits are refused before any pod, naming the field.
    let mut live_exits = serde_json::to_value(&live().spec).expect("spec");
    live_exits["exits"] = json!({"stopLoss": 0.02, "takeProfit": 0.05});
    live_exits["entryOrder"] = json!({"type": "limit", "offset": 0.001, "ttlBars": 3});
    let (_, cm) = build(&engine("btc-live-exits", live_exits.clone()));
    let config = load_with_worker(&config_of(&cm), "live exits").expect("the worker accepts it");
    assert_eq!(
        config.orchestrator.exits.take_profit,
        Some("0.05".parse().expect("decimal"))
    );
    assert_eq!(config.orchestrator.entry_order.ttl_bars, 3);
    let mut moved = live_exits.clone();
    moved["exits"] = json!({"stopLoss": 0.02, "trailingStop": 0.03,
                            "takeProfitTable": [{"afterMinutes": 0, "profit": 0.1}]});
    let (_, cm) = build(&engine("btc-live-moved", moved));
    let config = load_with_worker(&config_of(&cm), "live moved exits").expect("accepted");
    assert!(!config.orchestrator.exits.exchange_trails());
    assert_eq!(config.orchestrator.exits.take_profit_table.len(), 1);
    let mut bad = live_exits.clone();
    bad["exits"] = json!({"stopLoss": 0.02, "trailingStop": 1.5});
    let err = desired_pod(&engine("btc-live-refused", bad), &settings()).expect_err("refused");
    assert!(
        matches!(&err, SpecError::Invalid { message } if message.contains("orchestrator.exits.trailing_stop")),
        "{err}"
    );
}
