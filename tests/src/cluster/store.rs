//! The object store: objects keyed by group, resource, namespace and name, one
//! global resourceVersion counter, and a bounded history of change events that
//! watches replay (older versions answer 410 Gone, as after etcd compaction).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;

/// The identity of a stored object (versions share one storage).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// API group, empty for core.
    pub group: String,
    /// Plural resource name.
    pub resource: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// An object was created.
    Added,
    /// An object was changed.
    Modified,
    /// An object was removed.
    Deleted,
}

impl EventType {
    /// The wire name (`ADDED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone)]
pub struct Change {
    /// The resourceVersion this change produced.
    pub rv: u64,
    /// What happened.
    pub kind: EventType,
    /// Which object.
    pub key: ObjectKey,
    /// The object after the change (for DELETED: its last state, new rv).
    pub object: Value,
    /// The object before the change, for MODIFIED and DELETED.
    pub old: Option<Value>,
    /// The watch line for this change as stored, encoded once for all watchers.
    pub encoded: std::sync::OnceLock<bytes::Bytes>,
}

impl Change {
    fn new(rv: u64, kind: EventType, key: ObjectKey, object: Value, old: Option<Value>) -> Self {
        Change {
            rv,
            kind,
            key,
            object,
            old,
            encoded: std::sync::OnceLock::new(),
        }
    }
}

/// Default number of changes kept for watches.
pub const DEFAULT_HISTORY: usize = 100_000;

/// Objects, the resourceVersion counter and the change history.
#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<ObjectKey, Value>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    compacted: u64,
    tx: broadcast::Sender<Arc<Change>>,
}

/// A watch start: the retained changes after the asked version, and a live feed.
pub struct Subscription {
    /// Changes after the requested version, oldest first.
    pub backlog: Vec<Arc<Change>>,
    /// Changes from now on.
    pub live: broadcast::Receiver<Arc<Change>>,
}

impl Store {
    /// An empty store keeping `history_limit` changes for watches.
    pub fn new(history_limit: usize) -> Self {
        let (tx, _) = broadcast::channel(history_limit.clamp(1024, 65_536));
        Store {
            objects: BTreeMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            tx,
        }
    }

    /// The current resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch may still start from.
    pub fn compacted_rv(&self) -> u64 {
        self.compacted
    }

    /// The object at `key`.
    pub fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of `group`/`resource`, in `namespace` if given, in key order.
    pub fn list<'a>(
        &'a self,
        group: &'a str,
        resource: &'a str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        self.objects.iter().filter(move |(k, _)| {
            k.group == group
                && k.resource == resource
                && namespace.is_none_or(|ns| k.namespace == ns)
        })
    }

    /// Every object (for garbage collection).
    pub fn all(&self) -> impl Iterator<Item = (&ObjectKey, &Value)> {
        self.objects.iter()
    }

    fn next_rv(&mut self, obj: &mut Value) -> u64 {
        self.rv += 1;
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        }
        self.rv
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(change);
    }

    /// Stores a new object, stamping a fresh resourceVersion; returns it.
    pub fn create(&mut self, key: ObjectKey, mut obj: Value) -> Value {
        let rv = self.next_rv(&mut obj);
        self.objects.insert(key.clone(), obj.clone());
        self.record(Change::new(rv, EventType::Added, key, obj.clone(), None));
        obj
    }

    /// Replaces an existing object, stamping a fresh resourceVersion; returns it.
    pub fn replace(&mut self, key: ObjectKey, mut obj: Value) -> Value {
        let rv = self.next_rv(&mut obj);
        let old = self.objects.insert(key.clone(), obj.clone());
        self.record(Change::new(rv, EventType::Modified, key, obj.clone(), old));
        obj
    }

    /// Removes an object; the DELETED event carries a fresh resourceVersion.
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Value> {
        let old = self.objects.remove(key)?;
        let mut obj = old.clone();
        let rv = self.next_rv(&mut obj);
        self.record(Change::new(
            rv,
            EventType::Deleted,
            key.clone(),
            obj.clone(),
            Some(old),
        ));
        Some(obj)
    }

    /// Starts a watch after `from`; `None` when `from` is older than the history.
    pub fn subscribe_from(&self, from: u64) -> Option<Subscription> {
        if from < self.compacted {
            return None;
        }
        let backlog = self
            .history
            .iter()
            .filter(|c| c.rv > from)
            .cloned()
            .collect();
        Some(Subscription {
            backlog,
            live: self.tx.subscribe(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            group: String::new(),
            resource: "configmaps".into(),
            namespace: "default".into(),
            name: name.into(),
        }
    }

    #[test]
    fn every_write_gets_a_larger_resource_version() {
        let mut s = Store::new(10);
        let a = s.create(key("a"), json!({"metadata": {"name": "a"}}));
        let b = s.replace(key("a"), json!({"metadata": {"name": "a"}}));
        let c = s.remove(&key("a")).unwrap();
        let rv = |v: &Value| {
            v["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        };
        assert!(rv(&a) < rv(&b) && rv(&b) < rv(&c));
        assert!(s.get(&key("a")).is_none());
    }

    #[test]
    fn history_beyond_the_limit_is_compacted() {
        let mut s = Store::new(2);
        for i in 0..5 {
            s.create(key(&format!("o{i}")), json!({"metadata": {}}));
        }
        assert_eq!(s.compacted_rv(), 3);
        assert!(s.subscribe_from(2).is_none());
        let sub = s.subscribe_from(3).unwrap();
        assert_eq!(
            sub.backlog.iter().map(|c| c.rv).collect::<Vec<_>>(),
            vec![4, 5]
        );
    }
}
