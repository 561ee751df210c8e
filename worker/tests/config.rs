//! The configuration: precedence of file, environment and flags; validation
//! errors that name the field; the documented defaults are the real ones;
//! live mode only on the binance feed, refused by every command with exit 2;
//! `up` in live mode checks the API key and secret before it starts anything.

mod common;

use std::io::Write;

use aegis_worker::config::{self, Config, ConfigError, ConfigSource, ParamValue, SourceKind};

fn load(yaml: &str, env: &[(&str, &str)], sets: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(yaml.as_bytes()).expect("write config");
    let source = ConfigSource {
        file: Some(file.path().to_path_buf()),
        env: config::env_overrides(env.iter().map(|(k, v)| (k.to_string(), v.to_string()))),
        sets: sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    config::load(&source)
}

fn field_error(yaml: &str, sets: &[(&str, &str)]) -> (String, String) {
    match load(yaml, &[], sets) {
        Err(ConfigError::Invalid { field, message }) => (field, message),
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

#[test]
fn no_file_is_a_complete_valid_configuration() {
    let config = config::load(&ConfigSource::default()).expect("defaults are valid");
    assert_eq!(config, Config::default());
    assert_eq!(config.feed.source, SourceKind::Simulated);
    assert_eq!(config.brain.strategy.name, "sma-cross");
}

#[test]
fn flags_beat_environment_beats_file() {
    let yaml = "orchestrator:\n  fee_bps: 1\n  slippage_bps: 2\nsymbol: ETHUSDT\n";
    let env = [
        ("AEGIS__ORCHESTRATOR__FEE_BPS", "3"),
        ("AEGIS__ORCHESTRATOR__SLIPPAGE_BPS", "4"),
    ];
    let config = load(yaml, &env, &[("orchestrator.fee_bps", "5")]).expect("valid");
    assert_eq!(config.orchestrator.fee_bps.to_string(), "5");
    assert_eq!(config.orchestrator.slippage_bps.to_string(), "4");
    assert_eq!(config.symbol, "ETHUSDT");
}

#[test]
fn strategy_params_take_numbers_booleans_and_text() {
    let yaml = "brain:\n  strategy:\n    name: sma-cross\n    params: {fast: 5, short: true}\n";
    let config = load(yaml, &[], &[("brain.strategy.params.slow", "30")]).expect("valid");
    let params = &config.brain.strategy.params;
    assert_eq!(params.get("fast"), Some(&ParamValue::Int(5)));
    assert_eq!(params.get("short"), Some(&ParamValue::Bool(true)));
    assert_eq!(
        config
            .brain
            .strategy
            .param_strings()
            .get("slow")
            .map(String::as_str),
        Some("30")
    );
}

/// A missing replay file is refused by what runs the feed, naming the field,
/// but not by loading: the brain and orchestrator of a pod read the same
/// configuration without the feed's volume.
#[test]
fn a_missing_replay_file_is_refused_only_where_the_feed_runs() {
    let yaml = "feed:\n  source: replay\n  replay:\n    file: /no/such/file.csv\n";
    let config = load(yaml, &[], &[]).expect("loading does not look for the file");
    match aegis_worker::config::check_replay_file(&config) {
        Err(ConfigError::Invalid { field, message }) => {
            assert_eq!(field, "feed.replay.file");
            assert!(
                message.contains("/no/such/file.csv does not exist"),
                "{message}"
            );
        }
        other => panic!("expected feed.replay.file to be refused, got {other:?}"),
    }
    let present = std::env::current_exe().expect("the test binary's path");
    let config = load(
        "feed:\n  source: replay\n",
        &[],
        &[("feed.replay.file", present.to_str().expect("a UTF-8 path"))],
    )
    .expect("valid");
    assert!(aegis_worker::config::check_replay_file(&config).is_ok());
}

/// A YAML file, `--set` flags, the field the error must name, and text it must contain.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn bad_values_fail_naming_the_field() {
    let cases: &[Case] = &[
        (
            "brain:\n  strategy:\n    params: {fast: 20, slow: 10}\n",
            &[],
            "brain.strategy.params",
            "slow (10) must be greater than fast (20)",
        ),
        (
            "brain:\n  strategy:\n    name: moon-shot\n",
            &[],
            "brain.strategy.name",
            "unknown strategy \"moon-shot\"",
        ),
        (
            "",
            &[("orchestrator.fee_bps", "-1")],
            "orchestrator.fee_bps",
            "must not be negative",
        ),
        (
            "",
            &[("orchestrator.slippage_bps", "-0.5")],
            "orchestrator.slippage_bps",
            "must not be negative",
        ),
        ("symbol: btc-usd\n", &[], "symbol", "\"btc-usd\""),
        ("interval: 7m\n", &[], "interval", "unknown interval \"7m\""),
        (
            "feed:\n  source: replay\n",
            &[],
            "feed.replay.file",
            "is required",
        ),
        (
            "orchestrator:\n  feee_bps: 3\n",
            &[],
            "orchestrator",
            "unknown field `feee_bps`",
        ),
        (
            "orchestrator:\n  cash: lots\n",
            &[],
            "orchestrator.cash",
            "",
        ),
        (
            "",
            &[("rings.candles_capacity", "1000")],
            "rings.candles_capacity",
            "power of two",
        ),
        (
            "",
            &[("brain.checkpoint_every", "65536")],
            "brain.checkpoint_every",
            "rings.candles_capacity",
        ),
        (
            "",
            &[("orchestrator.risk.max_drawdown", "1.5")],
            "orchestrator.risk.max_drawdown",
            "(0, 1)",
        ),
        (
            "",
            &[("orchestrator.allocation", "0")],
            "orchestrator.allocation",
            "(0, 1]",
        ),
        (
            "",
            &[("feed.simulated.start_price", "0")],
            "feed.simulated.start_price",
            "> 0",
        ),
        ("", &[("log.level", "info,=[")], "log.level", ""),
        (
            "",
            &[("rings.overflow", "sometimes")],
            "rings.overflow",
            "unknown variant `sometimes`",
        ),
    ];
    for (yaml, sets, field, needle) in cases {
        let (got_field, message) = field_error(yaml, sets);
        assert!(
            got_field.starts_with(field),
            "{yaml:?} {sets:?}: field {got_field:?}, want {field:?} ({message})"
        );
        assert!(
            message.contains(needle),
            "{yaml:?} {sets:?}: {message:?} lacks {needle:?}"
        );
    }
}

#[test]
fn an_unreadable_or_malformed_file_names_the_file() {
    let missing = ConfigSource {
        file: Some("/no/such/aegis.yaml".into()),
        ..ConfigSource::default()
    };
    let err = config::load(&missing).unwrap_err().to_string();
    assert!(err.contains("/no/such/aegis.yaml"), "{err}");
    for yaml in ["feed: [unclosed\n", "- a list\n- not a mapping\n"] {
        match load(yaml, &[], &[]) {
            Err(ConfigError::Yaml { path, message }) => {
                assert!(
                    !message.is_empty() && path.file_name().is_some(),
                    "{message}"
                )
            }
            other => panic!("{yaml:?}: expected a YAML error, got {other:?}"),
        }
    }
}

#[test]
fn a_set_inside_a_value_is_refused() {
    let (field, message) = field_error("symbol: BTCUSDT\n", &[("symbol.nested", "x")]);
    assert_eq!(field, "symbol");
    assert!(message.contains("cannot be set inside"), "{message}");
    // Not in the file: the override makes a mapping where text belongs.
    let (field, message) = field_error("", &[("symbol.nested", "x")]);
    assert_eq!(field, "symbol");
    assert!(message.contains("expected a string"), "{message}");
}

/// docs/configuration.md shows the defaults as YAML: they must be the real ones.
#[test]
fn the_documented_defaults_are_the_defaults() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .expect("docs/configuration.md");
    let block = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block in docs/configuration.md");
    let documented: Config = serde_yaml::from_str(block).expect("the documented defaults parse");
    assert_eq!(
        documented,
        Config::default(),
        "docs/configuration.md is out of date"
    );
}

#[test]
fn the_exchange_urls_follow_testnet_and_accept_the_documented_forms() {
    let config = load("exchange:\n  testnet: true\n", &[], &[]).expect("valid");
    assert_eq!(
        config.exchange.rest_base(),
        "https://testnet.binance.vision"
    );
    assert_eq!(
        config.exchange.ws_base(),
        "wss://stream.testnet.binance.vision/ws"
    );
    let config = load("", &[], &[]).expect("valid");
    assert_eq!(config.exchange.rest_base(), "https://api.binance.com");
    // The testnet documents its REST base with `/api`; paths add `/api/v3/`.
    let config = load(
        "exchange:\n  rest_url: https://testnet.binance.vision/api/\n",
        &[],
        &[],
    )
    .expect("valid");
    assert_eq!(
        config.exchange.rest_base(),
        "https://testnet.binance.vision"
    );
}

#[test]
fn bad_exchange_settings_name_the_field() {
    for (set, field) in [
        (("exchange.rest_url", "ftp://x"), "exchange.rest_url"),
        (("exchange.ws_url", "https://x"), "exchange.ws_url"),
        (
            ("exchange.recv_window_ms", "60001"),
            "exchange.recv_window_ms",
        ),
        (("exchange.timeout_secs", "0"), "exchange.timeout_secs"),
        (
            ("exchange.backfill_candles", "0"),
            "exchange.backfill_candles",
        ),
        (
            ("exchange.stream_backoff_initial_ms", "0"),
            "exchange.stream_backoff_initial_ms",
        ),
        (
            ("exchange.stream_backoff_max_ms", "100"),
            "exchange.stream_backoff_max_ms",
        ),
        (
            ("exchange.stream_reconnect_after_secs", "86400"),
            "exchange.stream_reconnect_after_secs",
        ),
        (
            ("exchange.stream_idle_timeout_secs", "-1"),
            "exchange.stream_idle_timeout_secs",
        ),
    ] {
        let (got, message) = field_error("", &[set]);
        assert_eq!(got, field, "{set:?}: {message}");
    }
    let (field, message) = field_error(
        "feed:\n  source: binance\norchestrator:\n  mode: live\nbrain:\n  strategy:\n    name: rsi-reversion\n    params:\n      short: true\n",
        &[],
    );
    assert_eq!(field, "brain.strategy.params.short");
    assert!(message.contains("no short positions"), "{message}");
}

#[test]
fn the_default_signal_age_is_a_quarter_interval_at_least_a_second() {
    use std::time::Duration;
    let age = |yaml: &str| load(yaml, &[], &[]).expect("valid").max_signal_age();
    assert_eq!(age("interval: 1m\n"), Duration::from_secs(15));
    assert_eq!(age("interval: 1h\n"), Duration::from_secs(900));
    assert_eq!(age("interval: 1s\n"), Duration::from_secs(1));
    assert_eq!(
        age("interval: 1m\norchestrator:\n  max_signal_age_secs: 90\n"),
        Duration::from_secs(90)
    );
}

#[test]
fn live_mode_needs_the_binance_feed_and_paper_runs_on_any() {
    for source in ["simulated", "replay"] {
        let (field, message) = field_error(
            &format!(
                "feed:\n  source: {source}\n  replay:\n    file: /x.csv\norchestrator:\n  mode: live\n"
            ),
            &[],
        );
        assert_eq!(field, "orchestrator.mode", "{message}");
        assert!(
            message.contains("feed.source: binance")
                && message.contains(&format!("got feed.source: {source}")),
            "{message}"
        );
    }
    let live = load(
        "",
        &[],
        &[("orchestrator.mode", "live"), ("feed.source", "binance")],
    )
    .expect("live on the binance feed is valid");
    assert_eq!(live.feed.source, SourceKind::Binance);
    let dry_run = load("", &[], &[("feed.source", "binance")])
        .expect("paper on the binance feed (the dry run) is valid");
    assert_eq!(dry_run.orchestrator.mode, config::ExecutionMode::Paper);
}

/// Runs the binary with `args`, no API key or secret in its environment
/// except `env`; (exit code, stderr). One still running after 10 s (it
/// accepted what it should have refused) is killed: no exit code.
fn run_bin(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(common::BIN)
        .args(args)
        .env_remove("BINANCE_API_KEY")
        .env_remove("BINANCE_API_SECRET")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running aegis-worker");
    let code = common::up::wait_exit(&mut child, std::time::Duration::from_secs(10))
        .and_then(|status| status.code());
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (code, stderr)
}

#[test]
fn every_command_refuses_live_mode_on_made_up_data_with_exit_2() {
    let work = common::temp_dir("aegis-live-source");
    let csv = work.path().join("prices.csv");
    std::fs::write(&csv, "timestamp,open,high,low,close,volume\n").expect("a csv");
    let out = work.path().join("out");
    let (csv, out, dir) = (
        csv.display().to_string(),
        out.display().to_string(),
        work.path().join("up").display().to_string(),
    );
    let commands: [&[&str]; 6] = [
        &["feed"],
        &["brain"],
        &["orchestrator"],
        &["config"],
        &["up", "--dir", &dir],
        &["backtest", "--data", &csv, "--out", &out],
    ];
    for command in commands {
        let mut args = vec!["--set", "orchestrator.mode=live"];
        args.extend_from_slice(command);
        let (code, stderr) = run_bin(&args, &[]);
        assert_eq!(code, Some(2), "{command:?}: {stderr}");
        assert!(
            stderr.contains("orchestrator.mode") && stderr.contains("feed.source"),
            "{command:?} names both fields: {stderr}"
        );
    }
    assert!(
        !work.path().join("up").exists(),
        "up refused before creating its directory"
    );
}

#[test]
fn up_in_live_mode_checks_the_api_key_and_secret_before_starting_anything() {
    let work = common::temp_dir("aegis-up-creds");
    let dir = work.path().join("up");
    let dir_arg = dir.display().to_string();
    let args = [
        "--set",
        "orchestrator.mode=live",
        "--set",
        "feed.source=binance",
        "--set",
        "exchange.rest_url=http://127.0.0.1:9",
        "up",
        "--dir",
        &dir_arg,
    ];
    let key = "UPKEY-3e1f-never-printed";
    for (env, missing) in [
        (
            vec![],
            "missing or empty: BINANCE_API_KEY, BINANCE_API_SECRET",
        ),
        (
            vec![("BINANCE_API_KEY", key)],
            "missing or empty: BINANCE_API_SECRET",
        ),
        (
            vec![("BINANCE_API_KEY", key), ("BINANCE_API_SECRET", " ")],
            "missing or empty: BINANCE_API_SECRET",
        ),
        (
            vec![("BINANCE_API_SECRET", "s3cr3t-never-printed")],
            "missing or empty: BINANCE_API_KEY",
        ),
    ] {
        let (code, stderr) = run_bin(&args, &env);
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        assert!(stderr.contains(missing), "{env:?}: {stderr}");
        assert!(
            !stderr.contains(key) && !stderr.contains("s3cr3t"),
            "no value is printed: {stderr}"
        );
        assert!(
            !dir.exists(),
            "nothing started: no ring directory, logs or children ({env:?})"
        );
    }
}

#[test]
fn an_orchestrator_without_a_usable_control_token_does_not_start() {
    let work = common::temp_dir("aegis-control-token");
    let data = format!(
        "orchestrator.data_dir={}",
        work.path().join("data").display()
    );
    let rings = format!("rings.dir={}", work.path().join("rings").display());
    let base = ["--set", &data, "--set", &rings];
    // None configured: /status and /flatten would answer anyone.
    let mut args = base.to_vec();
    args.push("orchestrator");
    let (code, stderr) = run_bin(&args, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("orchestrator.control_token_file") && stderr.contains("not set"),
        "{stderr}"
    );
    // A guessable one, and a missing file: named, the content never shown.
    let short = work.path().join("short-token");
    std::fs::write(&short, "hunter2-is-too-short\n").expect("written");
    for (file, why) in [
        (short.clone(), "at least 32"),
        (work.path().join("no-such-token"), "No such file"),
    ] {
        let set = format!("orchestrator.control_token_file={}", file.display());
        let mut args = base.to_vec();
        args.extend(["--set", &set, "orchestrator"]);
        let (code, stderr) = run_bin(&args, &[]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(&file.display().to_string()) && stderr.contains(why),
            "{stderr}"
        );
        assert!(
            !stderr.contains("hunter2"),
            "the token is never printed: {stderr}"
        );
    }
}

#[test]
fn plain_text_exchange_urls_are_refused_except_to_loopback_with_exit_2() {
    for (set, field) in [
        (
            "exchange.rest_url=http://api.binance.com",
            "exchange.rest_url",
        ),
        (
            "exchange.rest_url=http://127.0.0.1@evil.example",
            "exchange.rest_url",
        ),
        (
            "exchange.ws_url=ws://stream.binance.com:9443/ws",
            "exchange.ws_url",
        ),
    ] {
        let (code, stderr) = run_bin(&["--set", set, "config"], &[]);
        assert_eq!(code, Some(2), "{set}: {stderr}");
        let url = set.split_once('=').map(|(_, url)| url).unwrap_or_default();
        assert!(
            stderr.contains(field) && stderr.contains(url) && stderr.contains("loopback"),
            "{set}: the error names the field, the URL and why: {stderr}"
        );
    }
    for set in [
        "exchange.rest_url=http://127.0.0.1:8900",
        "exchange.rest_url=http://localhost:8900/api",
        "exchange.ws_url=ws://[::1]:8900/ws",
    ] {
        load("", &[], &[set.split_once('=').expect("a set")])
            .unwrap_or_else(|e| panic!("{set} (the simulator on this machine): {e}"));
    }
}
