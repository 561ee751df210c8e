//! Garbage collection and deletion completion, run after every delete:
//! ownerReferences (background, foreground, orphan), objects whose finalizers
//! are gone, and namespace termination.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::meta::{self, meta_mut, meta_str};
use super::state::State;
use super::store::ObjectKey;

/// The finalizer that makes an owner wait for its dependents.
pub const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer that makes dependents lose their owner reference.
pub const ORPHAN: &str = "orphan";

/// Whether a deleting pod waits for its (simulated) kubelet to remove it.
pub fn awaits_kubelet(key: &ObjectKey, obj: &Value) -> bool {
    key.group.is_empty()
        && key.resource == "pods"
        && obj
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            > 0
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn set_owner_refs(state: &mut State, key: &ObjectKey, keep: impl Fn(&str) -> bool) {
    let Some(mut obj) = state.store.get(key).cloned() else {
        return;
    };
    let Some(refs) = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
    else {
        return;
    };
    let kept: Vec<Value> = refs
        .into_iter()
        .filter(|r| keep(r.get("uid").and_then(Value::as_str).unwrap_or("")))
        .collect();
    let m = meta::meta_mut(&mut obj);
    if kept.is_empty() {
        m.remove("ownerReferences");
    } else {
        m.insert("ownerReferences".into(), Value::from(kept));
    }
    state.store.replace(key.clone(), obj);
}

fn remove_finalizer(state: &mut State, key: &ObjectKey, name: &str) {
    let Some(mut obj) = state.store.get(key).cloned() else {
        return;
    };
    let fins: Vec<String> = meta::finalizers(&obj)
        .into_iter()
        .filter(|f| f != name)
        .collect();
    meta::set_finalizers(&mut obj, &fins);
    state.store.replace(key.clone(), obj);
}

/// Runs one pass; returns whether anything changed.
fn pass(state: &mut State) -> bool {
    let objects: Vec<(ObjectKey, Value)> = state
        .store
        .all()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let by_uid: HashMap<&str, &Value> = objects
        .iter()
        .map(|(_, v)| (meta_str(v, "uid"), v))
        .collect();
    // Dependents.
    for (key, obj) in &objects {
        let owners = owner_uids(obj);
        if owners.is_empty() {
            continue;
        }
        let alive: Vec<&String> = owners
            .iter()
            .filter(|u| by_uid.contains_key(u.as_str()))
            .collect();
        if alive.is_empty() {
            if !meta::is_deleting(obj) {
                delete_key(state, key, Propagation::Background, None);
                return true;
            }
            continue;
        }
        let orphaning = |u: &str| {
            by_uid.get(u).is_some_and(|o| {
                meta::is_deleting(o) && meta::finalizers(o).iter().any(|f| f == ORPHAN)
            })
        };
        if alive.len() < owners.len() || owners.iter().any(|u| orphaning(u)) {
            let live: Vec<String> = alive.iter().map(|s| s.to_string()).collect();
            let orphan_of: Vec<String> = owners.iter().filter(|u| orphaning(u)).cloned().collect();
            set_owner_refs(state, key, |u| {
                live.iter().any(|l| l == u) && !orphan_of.iter().any(|o| o == u)
            });
            return true;
        }
        let foreground_owner = owners.iter().any(|u| {
            by_uid.get(u.as_str()).is_some_and(|o| {
                meta::is_deleting(o) && meta::finalizers(o).iter().any(|f| f == FOREGROUND)
            })
        });
        if foreground_owner && !meta::is_deleting(obj) {
            delete_key(state, key, Propagation::Foreground, None);
            return true;
        }
    }
    // Owners waiting on dependents; objects whose finalizers are done.
    for (key, obj) in &objects {
        if !meta::is_deleting(obj) {
            continue;
        }
        let uid = meta_str(obj, "uid");
        let has_dependents = objects
            .iter()
            .any(|(_, d)| owner_uids(d).iter().any(|u| u == uid));
        let fins = meta::finalizers(obj);
        if fins.iter().any(|f| f == FOREGROUND) && !has_dependents {
            remove_finalizer(state, key, FOREGROUND);
            return true;
        }
        if fins.iter().any(|f| f == ORPHAN) && !has_dependents {
            remove_finalizer(state, key, ORPHAN);
            return true;
        }
        if key.group.is_empty() && key.resource == "namespaces" {
            let contents: Vec<ObjectKey> = objects
                .iter()
                .filter(|(k, _)| k.namespace == key.name)
                .map(|(k, _)| k.clone())
                .collect();
            let mut changed = false;
            for k in &contents {
                if state.store.get(k).is_some_and(|o| !meta::is_deleting(o)) {
                    delete_key(state, k, Propagation::Background, Some(0));
                    changed = true;
                }
            }
            if contents.is_empty() && fins.is_empty() {
                state.store.remove(key);
                return true;
            }
            if changed {
                return true;
            }
            continue;
        }
        if fins.is_empty() && !awaits_kubelet(key, obj) {
            state.store.remove(key);
            return true;
        }
    }
    false
}

/// Collects garbage until nothing more changes.
pub fn collect(state: &mut State) {
    super::crd::drop_orphaned_resources(state);
    for _ in 0..100_000 {
        if !pass(state) {
            return;
        }
    }
}

/// How dependents are treated when an owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Delete the owner now, dependents in the background.
    #[default]
    Background,
    /// Delete dependents first, then the owner.
    Foreground,
    /// Keep dependents, removing their owner references.
    Orphan,
}

/// Deletes the stored object at `key`; returns its last state. The caller
/// runs [`collect`] afterwards.
pub fn delete_key(
    state: &mut State,
    key: &ObjectKey,
    propagation: Propagation,
    grace: Option<i64>,
) -> Value {
    let Some(old) = state.store.get(key).cloned() else {
        return Value::Null;
    };
    let mut fins = meta::finalizers(&old);
    match propagation {
        Propagation::Foreground if !fins.iter().any(|f| f == FOREGROUND) => {
            fins.push(FOREGROUND.into())
        }
        Propagation::Orphan if !fins.iter().any(|f| f == ORPHAN) => fins.push(ORPHAN.into()),
        _ => {}
    }
    let graceful_pod = key.group.is_empty()
        && key.resource == "pods"
        && !old
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        && grace.unwrap_or(30) > 0;
    let is_namespace = key.group.is_empty() && key.resource == "namespaces";
    if fins.is_empty() && !graceful_pod && !is_namespace {
        return state.store.remove(key).unwrap_or(old);
    }
    if meta::is_deleting(&old) {
        return old;
    }
    let mut new = old;
    meta::set_finalizers(&mut new, &fins);
    {
        let m = meta_mut(&mut new);
        m.insert("deletionTimestamp".into(), json!(meta::now()));
        let g = if graceful_pod { grace.unwrap_or(30) } else { 0 };
        m.insert("deletionGracePeriodSeconds".into(), json!(g));
    }
    if is_namespace {
        new["status"] = json!({"phase": "Terminating"});
    }
    state.store.replace(key.clone(), new)
}
