//! The replay sample as the operator would run it: the TradingEngine of
//! manifests/samples/replay.yaml through the pure `desired_pod`, written as
//! the YAML `podman kube play` reads (with the control-token Secret the
//! operator would create), its claims as podman volumes (the market data
//! holding a generated CSV), all removed again on drop.

use std::path::{Path, PathBuf};

use aegis_operator::control_key::{ControlKey, TOKEN_ENTRY};
use aegis_operator::crd::TradingEngine;
use aegis_operator::desired::{
    config_map_name, desired_control_secret, desired_pod, ledger_claim_name, pod_name, PodSettings,
    REPLAY_MOUNT,
};
use aegis_runtime::ControlToken;
use kube::ResourceExt;
use serde::Deserialize;
use serde_json::json;

use super::cli::Podman;

/// The hour-aligned open time of the first candle (2023-11-14 22:00 UTC).
pub const FIRST_TS_MS: i64 = 1_699_999_200_000;
/// One hour, the sample's interval.
pub const INTERVAL_MS: i64 = 3_600_000;

/// A played pod and its volumes; `podman kube down` and volume removal on drop.
pub struct PlayedPod<'p> {
    podman: &'p Podman,
    yaml: PathBuf,
    volumes: Vec<String>,
    secret: String,
    /// The pod's name (containers are `<pod>-<container>`).
    pub pod: String,
    /// The orchestrator's control-API token.
    pub token: ControlToken,
}

impl PlayedPod<'_> {
    /// The podman name of the pod's container `name`.
    pub fn container(&self, name: &str) -> String {
        format!("{}-{name}", self.pod)
    }
}

impl Drop for PlayedPod<'_> {
    fn drop(&mut self) {
        let yaml = self.yaml.display().to_string();
        let _ = self.podman.output(&["kube", "down", &yaml]);
        let _ = self.podman.output(&["pod", "rm", "--force", &self.pod]);
        for volume in &self.volumes {
            let _ = self.podman.output(&["volume", "rm", "--force", volume]);
        }
        let _ = self.podman.output(&["secret", "rm", &self.secret]);
    }
}

/// The sample's TradingEngine, renamed to `name` (podman's names are global
/// to the machine) with its market-data claim renamed to match, replaying
/// `speed` times faster than real time through the smallest ring, as if
/// read back from the API server.
fn sample_engine(repo: &Path, name: &str, speed: f64) -> TradingEngine {
    let path = repo.join("manifests/samples/replay.yaml");
    let text = std::fs::read_to_string(&path).expect("the replay sample");
    let mut engine = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_yaml::Value::deserialize(doc).expect("sample YAML"))
        .find(|doc| doc["kind"] == "TradingEngine")
        .map(|doc| serde_json::to_value(doc).expect("YAML is JSON"))
        .expect("the sample holds a TradingEngine");
    engine["metadata"]["name"] = json!(name);
    engine["metadata"]["uid"] = json!("0e2e0e2e-0000-4000-8000-000000000001");
    engine["spec"]["replay"]["claimName"] = json!(format!("{name}-market-data"));
    engine["spec"]["replay"]["speed"] = json!(speed);
    engine["spec"]["ringCapacity"] = json!(1024);
    serde_json::from_value(engine).expect("the sample is a valid TradingEngine")
}

/// `n` hourly candles in the replay CSV format, a slow wave around 100.
fn candles_csv(n: usize) -> String {
    let mut csv = String::from("timestamp,open,high,low,close,volume\n");
    let mut open = 100.0f64;
    for i in 0..n {
        let t = i as f64;
        let close = 100.0 + 5.0 * (t / 3.7).sin() + 2.0 * (t / 1.1).sin();
        let close = (close * 1e4).round() / 1e4;
        let ts = FIRST_TS_MS + i as i64 * INTERVAL_MS;
        csv.push_str(&format!(
            "{ts},{open:.4},{:.4},{:.4},{close:.4},1\n",
            open.max(close) + 0.1,
            open.min(close) - 0.1
        ));
        open = close;
    }
    csv
}

/// Creates a podman volume owned by the pod's UID and returns its path.
fn volume(podman: &Podman, name: &str) -> PathBuf {
    podman.ok(&["volume", "create", name]);
    let path =
        PathBuf::from(podman.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", name]));
    let status = std::process::Command::new("chown")
        .args(["65532:65532", &path.display().to_string()])
        .status()
        .expect("chown runs");
    assert!(status.success(), "chown of volume {name} failed");
    path
}

/// Plays the operator's pod for the replay sample with `candles` candles in
/// its market data, the containers on `image`.
pub fn play<'p>(
    podman: &'p Podman,
    repo: &Path,
    work: &Path,
    name: &str,
    image: &str,
    candles: usize,
    speed: f64,
) -> PlayedPod<'p> {
    let engine = sample_engine(repo, name, speed);
    let key = ControlKey::from_bytes(&[7; 32]).expect("a test key");
    let settings = PodSettings {
        image: image.to_string(),
        image_pull_policy: Some("Never".into()),
        control_key: key.clone(),
    };
    let (pod, config_map) = desired_pod(&engine, &settings).expect("the sample makes a pod");
    let secret = desired_control_secret(&engine, &key).expect("the token Secret");
    let token = key.token(&engine.uid().expect("the sample has a uid"));
    // podman 4.3 writes a Secret's `data` values into the volume as they
    // are in the YAML, without the base64 decoding the kubelet does (and
    // ignores `stringData`): give it the token's text, which is what the
    // kubelet would write.
    let mut for_podman = serde_json::to_value(&secret).expect("Secret as JSON");
    for_podman["data"] = json!({ TOKEN_ENTRY: token.expose() });
    let yaml = work.join("pod.yaml");
    let text = format!(
        "{}---\n{}---\n{}",
        serde_yaml::to_string(&for_podman).expect("Secret as YAML"),
        serde_yaml::to_string(&pod).expect("Pod as YAML"),
        serde_yaml::to_string(&config_map).expect("ConfigMap as YAML")
    );
    std::fs::write(&yaml, text).expect("write the pod's YAML");

    let market = format!("{name}-market-data");
    let ledger = ledger_claim_name(name);
    let played = PlayedPod {
        podman,
        yaml: yaml.clone(),
        // `kube play` makes a volume of the ConfigMap; `kube down` keeps it.
        volumes: vec![market.clone(), ledger.clone(), config_map_name(name)],
        secret: secret.name_any(),
        pod: pod_name(name),
        token,
    };
    let data = volume(podman, &market);
    let file = engine
        .spec
        .replay
        .as_ref()
        .map(|r| r.path.clone())
        .expect("the sample replays a file");
    let file = Path::new(&file)
        .strip_prefix(REPLAY_MOUNT)
        .expect("the replay file is on the claim mounted at /replay");
    std::fs::write(data.join(file), candles_csv(candles)).expect("write the market data");
    volume(podman, &ledger);
    podman.ok(&["kube", "play", &yaml.display().to_string()]);
    played
}
