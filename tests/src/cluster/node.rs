//! A simulated node: does what the scheduler and a kubelet would report for
//! pods, through the same store the API serves (so watches see every step).
//! It binds pods, moves them Pending → Running, lets tests set container
//! statuses (ready, restartCount, waiting reasons such as CrashLoopBackOff,
//! terminated exit codes), records container logs for `pods/log`, and
//! finishes graceful deletions (terminating, then gone). A test may choose a
//! pod's IP ([`SimNode::set_pod_ip`], e.g. a loopback address where it
//! serves what the pod's containers would).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::gc;
use super::meta::{self, meta_str};
use super::objects::{self, key_for, WriteOpts};
use super::resources::ResourceInfo;
use super::state::{Shared, State};
use super::store::ObjectKey;

/// What a container is doing, as a kubelet reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    /// Running (and `ready` per its readiness probe).
    Running {
        /// Readiness.
        ready: bool,
    },
    /// Waiting, e.g. `CrashLoopBackOff`, `ImagePullBackOff`, `ContainerCreating`.
    Waiting {
        /// Reason.
        reason: String,
    },
    /// Terminated with an exit code, e.g. 137 / `OOMKilled`, 0 / `Completed`.
    Terminated {
        /// Exit code.
        exit_code: i32,
        /// Reason.
        reason: String,
    },
}

/// A handle on a simulated node named `name`.
#[derive(Clone)]
pub struct SimNode {
    shared: Arc<Shared>,
    name: String,
    /// Pod IPs chosen by the test, by (namespace, pod name).
    pod_ips: Arc<Mutex<HashMap<(String, String), String>>>,
}

/// Writes of the simulated node carry the kubelet's field manager.
fn kubelet() -> WriteOpts {
    WriteOpts {
        field_manager: Some("kubelet".into()),
        ..WriteOpts::default()
    }
}

fn pods_info(state: &State) -> ApiResult<ResourceInfo> {
    state
        .registry
        .find("", "v1", "pods")
        .cloned()
        .ok_or_else(ApiError::path_not_found)
}

fn container_names(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn condition(kind: &str, ok: bool, now: &str) -> Value {
    json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": now})
}

/// Recomputes phase and conditions from container statuses.
fn summarize(pod: &mut Value) {
    let now = meta::now();
    let statuses = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let all_ready = !statuses.is_empty() && statuses.iter().all(|s| s["ready"] == true);
    let terminated: Vec<i64> = statuses
        .iter()
        .filter_map(|s| {
            s.pointer("/state/terminated/exitCode")
                .and_then(Value::as_i64)
        })
        .collect();
    let restart_policy = pod
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always")
        .to_string();
    let phase =
        if !statuses.is_empty() && terminated.len() == statuses.len() && restart_policy != "Always"
        {
            if terminated.iter().all(|c| *c == 0) {
                "Succeeded"
            } else {
                "Failed"
            }
        } else {
            "Running"
        };
    let status = meta::object_at(pod, "status");
    status.insert("phase".into(), json!(phase));
    status.insert(
        "conditions".into(),
        json!([
            condition("PodScheduled", true, &now),
            condition("Initialized", true, &now),
            condition("ContainersReady", all_ready, &now),
            condition("Ready", all_ready, &now)
        ]),
    );
}

impl SimNode {
    /// Registers a Node object named `name` (Ready) and returns its handle.
    pub fn register(shared: Arc<Shared>, name: &str) -> ApiResult<Self> {
        {
            let mut state = shared.lock();
            let info = state
                .registry
                .find("", "v1", "nodes")
                .cloned()
                .ok_or_else(ApiError::path_not_found)?;
            if state.store.get(&key_for(&info, "", name)).is_none() {
                let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}});
                objects::create(&mut state, &info, "v1", "", node, &kubelet())?;
                let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": meta::now(), "lastTransitionTime": meta::now()}]}});
                objects::update(&mut state, &info, "v1", "", name, status, true, &kubelet())?;
            }
        }
        Ok(SimNode {
            shared,
            name: name.to_string(),
            pod_ips: Arc::default(),
        })
    }

    /// The node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn with_pod(
        &self,
        namespace: &str,
        pod: &str,
        change: impl FnOnce(&mut Value),
    ) -> ApiResult<Value> {
        let mut state = self.shared.lock();
        let info = pods_info(&state)?;
        let current = objects::existing(&state, &info, namespace, pod)?;
        let mut next = current.clone();
        meta::object_at(&mut next, "status");
        change(&mut next);
        summarize(&mut next);
        objects::update(
            &mut state,
            &info,
            "v1",
            namespace,
            pod,
            next,
            true,
            &kubelet(),
        )
    }

    /// Binds a pod to this node (as the scheduler's binding would).
    pub fn bind(&self, namespace: &str, pod: &str) -> ApiResult<Value> {
        let mut state = self.shared.lock();
        let info = pods_info(&state)?;
        let mut current = objects::existing(&state, &info, namespace, pod)?;
        let bound = current
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !bound.is_empty() && bound != self.name {
            return Err(ApiError::conflict(
                "",
                "pods",
                pod,
                &format!("pod {pod} is already assigned to node \"{bound}\""),
            ));
        }
        meta::object_at(&mut current, "spec").insert("nodeName".into(), json!(self.name));
        objects::update(
            &mut state,
            &info,
            "v1",
            namespace,
            pod,
            current,
            false,
            &kubelet(),
        )
    }

    /// Makes pods named `pod` in `namespace` that this node (or a clone of
    /// this handle) starts from now on report `ip` as their podIP, instead
    /// of a made-up `10.244.0.x`.
    pub fn set_pod_ip(&self, namespace: &str, pod: &str, ip: &str) {
        self.pod_ips
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((namespace.to_string(), pod.to_string()), ip.to_string());
    }

    /// Starts every container: Running, ready, restartCount 0.
    pub fn start(&self, namespace: &str, pod: &str) -> ApiResult<Value> {
        let chosen_ip = self
            .pod_ips
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(namespace.to_string(), pod.to_string()))
            .cloned();
        self.with_pod(namespace, pod, |p| {
            let now = meta::now();
            let statuses: Vec<Value> = container_names(p)
                .into_iter()
                .map(|c| json!({"name": c, "ready": true, "started": true, "restartCount": 0, "image": "", "imageID": "", "state": {"running": {"startedAt": now}}}))
                .collect();
            p["status"]["containerStatuses"] = json!(statuses);
            p["status"]["startTime"] = json!(now);
            p["status"]["hostIP"] = json!("10.0.0.1");
            let ip = chosen_ip.unwrap_or_else(|| {
                format!("10.244.0.{}", 2 + (meta_str(p, "uid").len() % 200))
            });
            p["status"]["podIP"] = json!(ip);
        })
    }

    /// Reports one container's state and restart count.
    pub fn set_container(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        state: ContainerState,
        restart_count: i64,
    ) -> ApiResult<Value> {
        let names = {
            let st = self.shared.lock();
            let info = pods_info(&st)?;
            st.store
                .get(&key_for(&info, namespace, pod))
                .map(container_names)
                .unwrap_or_default()
        };
        if !names.iter().any(|n| n == container) {
            return Err(ApiError::bad_request(format!(
                "container {container} is not valid for pod {pod}"
            )));
        }
        self.with_pod(namespace, pod, |p| {
            let now = meta::now();
            let (ready, state_json) = match &state {
                ContainerState::Running { ready } => (*ready, json!({"running": {"startedAt": now}})),
                ContainerState::Waiting { reason } => (false, json!({"waiting": {"reason": reason}})),
                ContainerState::Terminated { exit_code, reason } => (false, json!({"terminated": {"exitCode": exit_code, "reason": reason, "finishedAt": now}})),
            };
            let mut statuses = p.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
            statuses.retain(|s| s["name"] != container);
            statuses.push(json!({"name": container, "ready": ready, "started": ready, "restartCount": restart_count, "image": "", "imageID": "", "state": state_json}));
            statuses.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            p["status"]["containerStatuses"] = json!(statuses);
        })
    }

    /// Appends text to a container's log (served by `pods/{name}/log`).
    pub fn append_log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        let mut state = self.shared.lock();
        state
            .logs
            .entry((
                namespace.to_string(),
                pod.to_string(),
                container.to_string(),
            ))
            .or_default()
            .push_str(text);
    }

    /// Completes the graceful deletion of terminating pods on this node.
    pub fn finish_terminations(&self) -> usize {
        let mut state = self.shared.lock();
        let keys: Vec<ObjectKey> = state
            .store
            .list("", "pods", None)
            .filter(|(_, p)| {
                meta::is_deleting(p)
                    && p.pointer("/spec/nodeName").and_then(Value::as_str)
                        == Some(self.name.as_str())
            })
            .filter(|(_, p)| {
                p.pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    > 0
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in &keys {
            if let Some(mut pod) = state.store.get(key).cloned() {
                pod["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                state.store.replace(key.clone(), pod);
            }
        }
        gc::collect(&mut state);
        keys.len()
    }

    /// Runs the node in the background: binds unscheduled pods, starts bound
    /// pending pods, and completes terminations, every `tick`.
    pub fn run(self, tick: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                self.step();
                tokio::time::sleep(tick).await;
            }
        })
    }

    /// One round of the background loop.
    pub fn step(&self) {
        let pods: Vec<(String, String, String, String)> = {
            let state = self.shared.lock();
            state
                .store
                .list("", "pods", None)
                .filter(|(_, p)| !meta::is_deleting(p))
                .map(|(k, p)| {
                    (
                        k.namespace.clone(),
                        k.name.clone(),
                        p.pointer("/spec/nodeName")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        p.pointer("/status/phase")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect()
        };
        for (ns, name, node, phase) in pods {
            if node.is_empty() {
                let _ = self.bind(&ns, &name);
            }
            if (node.is_empty() || node == self.name) && phase == "Pending" {
                let _ = self.start(&ns, &name);
            }
        }
        self.finish_terminations();
    }
}
