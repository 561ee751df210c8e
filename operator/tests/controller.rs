//! The controller against the in-memory test cluster (with a simulated node
//! that runs pods): an engine gets exactly one pod and its ConfigMap; a spec
//! change replaces the pod without two ever existing at once (checked on a
//! pod watch stream); an out-of-band delete is repaired; suspend and resume;
//! the finalizer holds the engine until its pod is gone; a live engine
//! without its Secret gets no pod and reports SecretNotFound; a Secret or
//! claim without the engine in its `aegis.dev/allowed-engines` annotation,
//! or an image off the allow-list, gets no pod either and says why; the
//! control token's Secret comes before the pod; the operator's control key
//! is made once and agreed on by replicas starting together.

mod common;

use common::harness::{eventually, sma, within_limit, Harness};

use std::collections::BTreeSet;
use std::time::Duration;

use aegis_operator::controller::{self, FINALIZER};
use aegis_operator::crd::{ConditionStatus, Phase, TradingEngine};
use aegis_operator::desired::{config_map_name, PodSettings, SPEC_HASH_ANNOTATION};
use aegis_operator::status::DEGRADED;
use aegis_tests::cluster::node::ContainerState;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::ResourceExt;
use serde_json::json;

fn owned_by(
    meta_owner: Option<&Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>,
    te: &TradingEngine,
) -> bool {
    meta_owner.is_some_and(|refs| {
        refs.iter().any(|r| {
            r.kind == "TradingEngine"
                && Some(&r.uid) == te.metadata.uid.as_ref()
                && r.controller == Some(true)
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_gets_one_pod_and_its_config_map_owned_by_it() {
    let h = Harness::start().await;
    within_limit(async {
        let te = h.create("btc", sma(5)).await;
        eventually("the pod btc-engine exists", || async {
            h.pod("btc-engine").await.is_some()
        })
        .await;
        let pod = h.pod("btc-engine").await.expect("the pod");
        assert!(owned_by(pod.metadata.owner_references.as_ref(), &te));
        assert!(pod.annotations().contains_key(SPEC_HASH_ANNOTATION));
        let config_maps: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        let cm = config_maps
            .get_opt(&config_map_name("btc"))
            .await
            .expect("get configmap")
            .expect("the engine's ConfigMap exists");
        assert!(owned_by(cm.metadata.owner_references.as_ref(), &te));
        // The control token's Secret: owned, named from the key, holding
        // the token derived from the engine's uid, mounted by the pod.
        let key = common::harness::control_key();
        let uid = te.uid().expect("a uid");
        let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "default");
        let token_secret = secrets
            .get_opt(&key.secret_name("btc", &uid))
            .await
            .expect("get secret")
            .expect("the engine's token Secret exists");
        assert!(owned_by(
            token_secret.metadata.owner_references.as_ref(),
            &te
        ));
        assert_eq!(
            token_secret.data.as_ref().map(|d| d["token"].0.clone()),
            Some(key.token(&uid).expose().as_bytes().to_vec())
        );
        let mounted = pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_ref())
            .and_then(|v| {
                v.iter()
                    .find_map(|v| v.secret.as_ref()?.secret_name.clone())
            });
        assert_eq!(mounted, Some(token_secret.name_any()));
        eventually("the engine carries the finalizer", || async {
            h.engines
                .get("btc")
                .await
                .expect("get engine")
                .finalizers()
                .iter()
                .any(|f| f == FINALIZER)
        })
        .await;
        eventually(
            "the engine reports Running once the node runs the pod",
            || async { h.phase("btc").await == Some(Phase::Running) },
        )
        .await;
        let status = h
            .engines
            .get("btc")
            .await
            .expect("get")
            .status
            .expect("status");
        assert_eq!(status.pod_name.as_deref(), Some("btc-engine"));
        assert_eq!(status.observed_generation, te.metadata.generation);
        assert!(h
            .event_reasons("btc")
            .await
            .contains(&"PodCreated".to_string()));
        let all = h.pods.list(&Default::default()).await.expect("list pods");
        assert_eq!(all.items.len(), 1, "exactly one pod");
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_change_replaces_the_pod_and_never_shows_two_at_once() {
    let h = Harness::start().await;
    within_limit(async {
        h.create("btc", sma(5)).await;
        eventually("the first pod runs", || async {
            h.phase("btc").await == Some(Phase::Running)
        })
        .await;
        let first = h.pod("btc-engine").await.expect("the first pod");
        let first_uid = first.uid().expect("uid");
        let first_hash = first.annotations()[SPEC_HASH_ANNOTATION].clone();

        // Watch every pod from now on and keep the set of live uids.
        let version = first.resource_version().expect("resourceVersion");
        let mut stream = h
            .pods
            .watch(&WatchParams::default().timeout(30), &version)
            .await
            .expect("watch pods")
            .boxed();
        h.patch_spec("btc", json!({"strategy": {"params": {"fast": 7}}}))
            .await;

        let mut live: BTreeSet<String> = [first_uid.clone()].into();
        let mut max_live = live.len();
        let mut new_pod = None;
        while new_pod.is_none() {
            let event = stream
                .try_next()
                .await
                .expect("the watch stream")
                .expect("the watch stream stays open");
            match event {
                WatchEvent::Added(p) | WatchEvent::Modified(p) => {
                    let uid = p.uid().expect("uid");
                    live.insert(uid.clone());
                    if uid != first_uid {
                        new_pod = Some(p);
                    }
                }
                WatchEvent::Deleted(p) => {
                    live.remove(&p.uid().expect("uid"));
                }
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(e) => panic!("watch error: {e:?}"),
            }
            max_live = max_live.max(live.len());
        }
        assert_eq!(max_live, 1, "two pods of the engine existed at once");
        assert!(!live.contains(&first_uid), "the old pod is gone first");
        let new_pod = new_pod.expect("the replacement");
        assert_ne!(new_pod.annotations()[SPEC_HASH_ANNOTATION], first_hash);
        eventually("the replacement runs", || async {
            h.phase("btc").await == Some(Phase::Running)
        })
        .await;
        let pod = h.pod("btc-engine").await.expect("the pod");
        assert_eq!(pod.uid(), new_pod.uid(), "exactly one replacement");
        assert!(h
            .event_reasons("btc")
            .await
            .contains(&"PodReplaced".to_string()));
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_deleted_out_of_band_is_recreated() {
    let h = Harness::start().await;
    within_limit(async {
        h.create("eth", json!({"symbol": "ETHUSDT"})).await;
        eventually("the pod exists", || async {
            h.pod("eth-engine").await.is_some()
        })
        .await;
        let old = h.pod("eth-engine").await.expect("pod").uid();
        h.pods
            .delete("eth-engine", &DeleteParams::default())
            .await
            .expect("delete the pod");
        eventually("a new pod replaces it", || async {
            h.pod("eth-engine").await.is_some_and(|p| p.uid() != old)
        })
        .await;
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_removes_the_pod_and_resume_brings_it_back() {
    let h = Harness::start().await;
    within_limit(async {
        h.create("btc", sma(5)).await;
        eventually("the pod runs", || async {
            h.phase("btc").await == Some(Phase::Running)
        })
        .await;
        h.patch_spec("btc", json!({"suspend": true})).await;
        eventually("the pod is gone and the engine Suspended", || async {
            h.pod("btc-engine").await.is_none() && h.phase("btc").await == Some(Phase::Suspended)
        })
        .await;
        // It stays suspended: no pod comes back while suspend is true.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(h.pod("btc-engine").await.is_none());
        h.patch_spec("btc", json!({"suspend": false})).await;
        eventually("the pod is back and Running", || async {
            h.pod("btc-engine").await.is_some() && h.phase("btc").await == Some(Phase::Running)
        })
        .await;
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_engine_waits_for_its_pod_then_removes_the_finalizer() {
    let h = Harness::start().await;
    within_limit(async {
        h.create("btc", sma(5)).await;
        eventually("the pod runs", || async {
            h.phase("btc").await == Some(Phase::Running)
        })
        .await;
        assert!(h
            .engines
            .get("btc")
            .await
            .expect("engine")
            .finalizers()
            .iter()
            .any(|f| f == FINALIZER));
        // Stop the kubelet's side: the pod stays terminating until told.
        h.node.abort();
        h.engines
            .delete("btc", &DeleteParams::default())
            .await
            .expect("delete the engine");
        eventually("the controller deletes the pod gracefully", || async {
            h.pod("btc-engine")
                .await
                .is_some_and(|p| p.metadata.deletion_timestamp.is_some())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let te = h
            .engines
            .get_opt("btc")
            .await
            .expect("get engine")
            .expect("the engine waits for its terminating pod");
        assert!(te.finalizers().iter().any(|f| f == FINALIZER));
        assert!(
            h.pod("btc-engine").await.is_some(),
            "the pod is still terminating"
        );
        // The pod finishes its grace period: the finalizer goes, the engine too.
        assert_eq!(h.sim_node.finish_terminations(), 1);
        eventually("the engine is gone", || async {
            h.engines
                .get_opt("btc")
                .await
                .expect("get engine")
                .is_none()
        })
        .await;
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_engine_without_its_secret_gets_no_pod_until_the_secret_exists() {
    let h = Harness::start().await;
    within_limit(async {
        h.create(
            "live",
            json!({"symbol": "BTCUSDT", "source": "binance", "mode": "live",
                   "credentialsSecretRef": {"name": "binance-keys"}}),
        )
        .await;
        eventually("the engine reports Degraded / SecretNotFound", || async {
            let te = h.engines.get("live").await.expect("engine");
            te.status.is_some_and(|s| {
                s.phase == Some(Phase::Degraded)
                    && s.conditions.iter().any(|c| {
                        c.type_ == DEGRADED
                            && c.status == ConditionStatus::True
                            && c.reason == "SecretNotFound"
                    })
            })
        })
        .await;
        assert!(
            h.pod("live-engine").await.is_none(),
            "no pod without the Secret"
        );
        assert!(h
            .event_reasons("live")
            .await
            .contains(&"SecretNotFound".to_string()));
        let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "default");
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "binance-keys",
                         "annotations": {"aegis.dev/allowed-engines": "live"}},
            "stringData": {"apiKey": "k", "apiSecret": "s"},
        }))
        .expect("a secret");
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .expect("create the secret");
        // Secrets are not watched (the operator may only get the one it is
        // told about): the engine looks again every SECRET_RETRY, untouched.
        eventually("the pod is created once the Secret exists", || async {
            h.pod("live-engine").await.is_some()
        })
        .await;
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_that_cannot_make_a_pod_is_reported_not_retried_into_a_crash_loop() {
    let h = Harness::start().await;
    within_limit(async {
        let cases = [
            // The schema does not compare a request with its limit.
            (
                "greedy",
                json!({"symbol": "BTCUSDT",
                       "resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}),
                "spec.resources",
            ),
            // The schema accepts any text as rules: the operator checks them.
            (
                "typo",
                json!({"symbol": "BTCUSDT",
                       "strategy": {"name": "rules", "rules": {
                           "indicators": {"fast": "sma(close, 10)", "slow": "sma(close, 30)"},
                           "enter_long": "crossAbove(fast, slwo)",
                           "exit_long": "crossBelow(fast, slow)"}}}),
                "spec.strategy: rules.enter_long at 1:18: unknown name \"slwo\"",
            ),
        ];
        for (name, spec, needle) in cases {
            let name = name.to_string();
            h.create(&name, spec).await;
            eventually("the engine reports Failed / InvalidSpec", || async {
                let te = h.engines.get(&name).await.expect("engine");
                te.status.is_some_and(|s| {
                    s.phase == Some(Phase::Failed)
                        && s.conditions.iter().any(|c| {
                            c.type_ == DEGRADED
                                && c.reason == "InvalidSpec"
                                && c.message.contains(needle)
                        })
                })
            })
            .await;
            let pods = h.pods.list(&Default::default()).await.expect("list pods");
            assert!(pods.items.is_empty(), "no pod for an invalid spec");
            assert!(h
                .event_reasons(&name)
                .await
                .contains(&"InvalidSpec".to_string()));
        }
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_racing_still_make_one_pod_per_engine() {
    let h = Harness::start().await;
    let second = tokio::spawn(controller::run(
        h.client.clone(),
        PodSettings {
            image: "aegis-worker:test".into(),
            image_pull_policy: None,
            control_key: aegis_operator::control_key::ControlKey::from_bytes(&[7; 32])
                .expect("a test key"),
        },
        std::future::pending(),
    ));
    within_limit(async {
        for name in ["a", "b", "c"] {
            h.create(name, json!({"symbol": "BTCUSDT"})).await;
        }
        eventually("every engine runs", || async {
            let mut all = true;
            for name in ["a", "b", "c"] {
                all &= h.phase(name).await == Some(Phase::Running);
            }
            all
        })
        .await;
        // Both keep reconciling for a while: still exactly one pod each.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let pods = h.pods.list(&Default::default()).await.expect("list pods");
        let mut names: Vec<String> = pods.items.iter().map(|p| p.name_any()).collect();
        names.sort();
        assert_eq!(names, ["a-engine", "b-engine", "c-engine"]);
    })
    .await;
    second.abort();
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_in_crash_loop_back_off_makes_the_engine_degraded_until_it_recovers() {
    let h = Harness::start().await;
    within_limit(async {
        h.create("crashy", sma(10)).await;
        eventually("the engine is Running", || async {
            h.phase("crashy").await == Some(Phase::Running)
        })
        .await;
        let waiting = ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
        };
        h.sim_node
            .set_container("default", "crashy-engine", "brain", waiting, 4)
            .expect("the node reports the brain in back-off");
        eventually(
            "Degraded / CrashLoopBackOff naming the brain, with its restarts",
            || async {
                let te = h.engines.get("crashy").await.expect("engine");
                te.status.is_some_and(|s| {
                    s.phase == Some(Phase::Degraded)
                        && s.restarts.get("brain") == Some(&4)
                        && s.conditions.iter().any(|c| {
                            c.type_ == DEGRADED
                                && c.status == ConditionStatus::True
                                && c.reason == "CrashLoopBackOff"
                                && c.message.contains("brain")
                        })
                })
            },
        )
        .await;
        let pod = h.pod("crashy-engine").await.expect("the pod stays");
        assert!(
            pod.metadata.deletion_timestamp.is_none(),
            "a crash loop is the kubelet's to restart, not a reason to replace the pod"
        );
        h.sim_node
            .set_container(
                "default",
                "crashy-engine",
                "brain",
                ContainerState::Running { ready: true },
                5,
            )
            .expect("the brain runs again");
        eventually("Running again, the restarts kept", || async {
            let te = h.engines.get("crashy").await.expect("engine");
            te.status.is_some_and(|s| {
                s.phase == Some(Phase::Running) && s.restarts.get("brain") == Some(&5)
            })
        })
        .await;
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistence_size_gets_a_ledger_claim_owned_by_the_engine_and_mounted() {
    let h = Harness::start().await;
    within_limit(async {
        let te = h
            .create(
                "durable",
                json!({"symbol": "BTCUSDT", "persistence": {"size": "2Gi"}}),
            )
            .await;
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(h.client.clone(), "default");
        eventually("the ledger claim exists", || async {
            claims
                .get_opt("durable-ledger")
                .await
                .expect("get claim")
                .is_some()
        })
        .await;
        let claim = claims.get("durable-ledger").await.expect("the claim");
        assert!(owned_by(claim.metadata.owner_references.as_ref(), &te));
        let storage = claim
            .spec
            .and_then(|s| s.resources)
            .and_then(|r| r.requests)
            .and_then(|r| r.get("storage").cloned());
        assert_eq!(storage.map(|q| q.0), Some("2Gi".to_string()));
        eventually("the pod exists", || async {
            h.pod("durable-engine").await.is_some()
        })
        .await;
        let pod = h.pod("durable-engine").await.expect("the pod");
        let mounts_claim = pod
            .spec
            .and_then(|s| s.volumes)
            .unwrap_or_default()
            .iter()
            .any(|v| {
                v.persistent_volume_claim
                    .as_ref()
                    .is_some_and(|c| c.claim_name == "durable-ledger")
            });
        assert!(mounts_claim, "the pod mounts the ledger claim");
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_map_changed_or_deleted_out_of_band_is_restored() {
    let h = Harness::start().await;
    within_limit(async {
        h.create("sol", json!({"symbol": "SOLUSDT"})).await;
        let config_maps: Api<ConfigMap> = Api::namespaced(h.client.clone(), "default");
        let name = config_map_name("sol");
        eventually("the ConfigMap exists", || async {
            config_maps.get_opt(&name).await.expect("get").is_some()
        })
        .await;
        let original = config_maps.get(&name).await.expect("the ConfigMap").data;
        config_maps
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"config.yaml": "tampered: true\n"}})),
            )
            .await
            .expect("edit the ConfigMap");
        eventually("the edit is undone", || async {
            config_maps.get(&name).await.expect("get").data == original
        })
        .await;
        config_maps
            .delete(&name, &DeleteParams::default())
            .await
            .expect("delete the ConfigMap");
        eventually("the ConfigMap is back", || async {
            config_maps
                .get_opt(&name)
                .await
                .expect("get")
                .is_some_and(|cm| cm.data == original)
        })
        .await;
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_key_is_made_once_and_replicas_agree_on_it() {
    use aegis_operator::control_key::{ControlKey, KEY_SECRET};

    let cluster = aegis_tests::cluster::TestCluster::start()
        .await
        .expect("the test cluster starts");
    let client = cluster.client().expect("a client");
    within_limit(async {
        // Two replicas starting together: one creates, the other reads.
        let (a, b) = tokio::join!(
            ControlKey::load_or_create(client.clone(), "default"),
            ControlKey::load_or_create(client.clone(), "default"),
        );
        let (a, b) = (a.expect("a key"), b.expect("a key"));
        assert_eq!(a, b, "both replicas derive the same tokens");
        let again = ControlKey::load_or_create(client.clone(), "default")
            .await
            .expect("a key");
        assert_eq!(again, a, "a restart keeps the key");
        assert_eq!(again.token("u1"), a.token("u1"));

        // A key Secret someone emptied: a clear error naming it, never a
        // weak key.
        let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
        let empty: Secret = serde_json::from_value(json!({
            "metadata": {"name": KEY_SECRET}, "data": {"key": "c2hvcnQ="}
        }))
        .expect("a Secret");
        secrets
            .create(&PostParams::default(), &empty)
            .await
            .expect("created");
        let e = ControlKey::load_or_create(client.clone(), "kube-system")
            .await
            .expect_err("a short key is refused")
            .to_string();
        assert!(e.contains("kube-system/aegis-operator-control-key"), "{e}");
        assert!(!e.contains("short"), "the value is not shown: {e}");
    })
    .await;
    cluster.shutdown().await;
}

/// The Degraded condition of engine `name` when it is True: (phase,
/// reason, message).
async fn degraded(h: &Harness, name: &str) -> Option<(Option<Phase>, String, String)> {
    let status = h.engines.get(name).await.expect("engine").status?;
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == DEGRADED && c.status == ConditionStatus::True)?;
    Some((status.phase, c.reason.clone(), c.message.clone()))
}

/// Sets the `aegis.dev/allowed-engines` annotation of `object` (`None`
/// removes it).
async fn set_consent<K>(api: &Api<K>, object: &str, value: Option<&str>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        object,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"aegis.dev/allowed-engines": value}}})),
    )
    .await
    .expect("annotate");
}

async fn create_secret(h: &Harness, name: &str, allowed: Option<&str>) -> Api<Secret> {
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "default");
    let mut secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name},
        "stringData": {"apiKey": "k", "apiSecret": "s"},
    }))
    .expect("a secret");
    if let Some(allowed) = allowed {
        secret.metadata.annotations =
            Some([("aegis.dev/allowed-engines".to_string(), allowed.to_string())].into());
    }
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create the secret");
    secrets
}

fn live_spec(secret: &str) -> serde_json::Value {
    json!({"symbol": "BTCUSDT", "source": "binance", "mode": "live",
           "credentialsSecretRef": {"name": secret}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_that_does_not_name_the_engine_is_not_mounted_until_it_does() {
    let h = Harness::start().await;
    within_limit(async {
        let secrets = create_secret(&h, "team-keys", None).await;
        h.create("live", live_spec("team-keys")).await;
        eventually("Degraded / SecretNotConsented", || async {
            degraded(&h, "live").await.is_some_and(|(phase, reason, _)| {
                phase == Some(Phase::Degraded) && reason == "SecretNotConsented"
            })
        })
        .await;
        let (_, _, message) = degraded(&h, "live").await.expect("degraded");
        for says in [
            "Secret default/team-keys",
            "spec.credentialsSecretRef",
            "no annotation aegis.dev/allowed-engines",
            "kubectl -n default annotate --overwrite secret team-keys aegis.dev/allowed-engines=live",
        ] {
            assert!(message.contains(says), "{says:?} not in {message}");
        }
        assert!(h.pod("live-engine").await.is_none(), "no pod");
        assert!(h
            .event_reasons("live")
            .await
            .contains(&"SecretNotConsented".to_string()));

        // Consent for other engines is not consent for this one.
        set_consent(&secrets, "team-keys", Some("eth-live, btc")).await;
        eventually("the message names the annotation's value", || async {
            degraded(&h, "live")
                .await
                .is_some_and(|(_, reason, message)| {
                    reason == "SecretNotConsented"
                        && message.contains("\"eth-live, btc\" does not list \"live\"")
                })
        })
        .await;
        assert!(h.pod("live-engine").await.is_none(), "still no pod");

        set_consent(&secrets, "team-keys", Some("eth-live, live")).await;
        eventually("the pod is created once the Secret names the engine", || async {
            h.pod("live-engine").await.is_some()
        })
        .await;
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_consent_deletes_the_pod_and_it_is_not_re_created() {
    let h = Harness::start().await;
    within_limit(async {
        let secrets = create_secret(&h, "any-keys", Some("*")).await;
        h.create("live", live_spec("any-keys")).await;
        eventually("`*` admits the engine: its pod exists", || async {
            h.pod("live-engine").await.is_some()
        })
        .await;
        set_consent(&secrets, "any-keys", None).await;
        eventually("the pod is gone", || async {
            h.pod("live-engine").await.is_none()
        })
        .await;
        assert!(h
            .event_reasons("live")
            .await
            .contains(&"PodDeleted".to_string()));
        eventually("Degraded / SecretNotConsented", || async {
            degraded(&h, "live")
                .await
                .is_some_and(|(_, reason, _)| reason == "SecretNotConsented")
        })
        .await;
        // Longer than SECRET_RETRY: looked at again, still no pod.
        tokio::time::sleep(controller::SECRET_RETRY + Duration::from_secs(1)).await;
        assert!(h.pod("live-engine").await.is_none(), "not re-created");
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_claim_must_exist_and_consent_before_it_is_mounted() {
    let h = Harness::start().await;
    within_limit(async {
        h.create(
            "keeper",
            json!({"symbol": "BTCUSDT", "persistence": {"claimName": "shared-ledger"}}),
        )
        .await;
        eventually("Degraded / ClaimNotFound", || async {
            degraded(&h, "keeper").await.is_some_and(|(_, reason, message)| {
                reason == "ClaimNotFound" && message.contains("default/shared-ledger")
            })
        })
        .await;
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(h.client.clone(), "default");
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "shared-ledger"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}},
        }))
        .expect("a claim");
        claims
            .create(&PostParams::default(), &claim)
            .await
            .expect("create the claim");
        eventually("Degraded / ClaimNotConsented", || async {
            degraded(&h, "keeper").await.is_some_and(|(phase, reason, message)| {
                phase == Some(Phase::Degraded)
                    && reason == "ClaimNotConsented"
                    && message.contains("PersistentVolumeClaim default/shared-ledger")
                    && message.contains("spec.persistence.claimName")
                    && message.contains(
                        "annotate --overwrite persistentvolumeclaim shared-ledger aegis.dev/allowed-engines=keeper",
                    )
            })
        })
        .await;
        assert!(h.pod("keeper-engine").await.is_none(), "no pod");
        assert!(h
            .event_reasons("keeper")
            .await
            .contains(&"ClaimNotConsented".to_string()));
        set_consent(&claims, "shared-ledger", Some("keeper")).await;
        eventually("the pod mounts the claim once it consents", || async {
            h.pod("keeper-engine").await.is_some_and(|pod| {
                pod.spec
                    .and_then(|s| s.volumes)
                    .unwrap_or_default()
                    .iter()
                    .any(|v| {
                        v.persistent_volume_claim
                            .as_ref()
                            .is_some_and(|c| c.claim_name == "shared-ledger")
                    })
            })
        })
        .await;
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_off_the_allow_list_is_refused_as_an_invalid_spec() {
    let h = Harness::start().await;
    within_limit(async {
        // The harness's default image is aegis-worker:test: only the
        // aegis-worker repository is allowed.
        h.create(
            "miner",
            json!({"symbol": "BTCUSDT", "image": "aegis-worker-evil:test"}),
        )
        .await;
        eventually(
            "Failed / InvalidSpec naming the image and the list",
            || async {
                degraded(&h, "miner")
                    .await
                    .is_some_and(|(phase, reason, message)| {
                        phase == Some(Phase::Failed)
                            && reason == "InvalidSpec"
                            && message.contains("\"aegis-worker-evil:test\"")
                            && message.contains("[aegis-worker]")
                    })
            },
        )
        .await;
        assert!(h.pod("miner-engine").await.is_none(), "no pod");
        assert!(h
            .event_reasons("miner")
            .await
            .contains(&"InvalidSpec".to_string()));
        // Another tag of the allowed repository runs.
        h.patch_spec("miner", json!({"image": "aegis-worker:other"}))
            .await;
        eventually("the pod runs the allowed image", || async {
            h.pod("miner-engine").await.is_some_and(|pod| {
                pod.spec.is_some_and(|s| {
                    s.containers
                        .iter()
                        .all(|c| c.image.as_deref() == Some("aegis-worker:other"))
                })
            })
        })
        .await;
    })
    .await;
    h.stop().await;
}
