//! watch: a stream of `{"type": ..., "object": ...}` lines from a
//! resourceVersion (replayed from the retained history) or from now (with
//! synthetic ADDED events for the current state), BOOKMARKs when allowed,
//! `timeoutSeconds`, and an ERROR event with a 410 Expired Status when the
//! requested version is no longer retained (or the watcher falls behind).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::super::encode;
use super::super::error::{ApiError, ApiResult};
use super::super::resources::ResourceInfo;
use super::super::route::Target;
use super::super::state::Shared;
use super::super::store::{Change, EventType};
use super::read::Filter;
use super::{as_version, metadata, table, Reply, Request};

fn line(kind: &str, object: Value) -> Bytes {
    Bytes::from(encode::body(&json!({"type": kind, "object": object})))
}

fn expired_event(rv: &str) -> Bytes {
    let status = ApiError::expired(format!("too old resource version: {rv}")).to_status();
    line("ERROR", status)
}

struct Scope {
    info: ResourceInfo,
    version: String,
    namespace: Option<String>,
    filter: Filter,
    /// `Some(includeObject)` when the client asked for Table rows.
    table: Option<String>,
    /// Whether the client asked for PartialObjectMetadata objects.
    metadata_only: bool,
}

impl Scope {
    fn selects_key(&self, c: &Change) -> bool {
        c.key.group == self.info.group
            && c.key.resource == self.info.plural
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| *ns == c.key.namespace)
    }

    /// The event a client sees for a change, if any (objects moving in or out
    /// of a selector appear as ADDED / DELETED).
    fn event_for(&self, c: &Change) -> Option<Bytes> {
        if !self.selects_key(c) {
            return None;
        }
        let now = self.filter.matches(&c.object);
        let before = c.old.as_ref().is_some_and(|o| self.filter.matches(o));
        let kind = match c.kind {
            EventType::Added if now => EventType::Added,
            EventType::Deleted if before => EventType::Deleted,
            EventType::Modified if now && before => EventType::Modified,
            EventType::Modified if now => EventType::Added,
            EventType::Modified if before => EventType::Deleted,
            _ => return None,
        };
        let object = as_version(c.object.clone(), &self.info, &self.version);
        if self.table.is_some() || self.metadata_only {
            return Some(self.render(kind.as_str(), object, c.rv));
        }
        if kind == c.kind && c.object.get("apiVersion") == object.get("apiVersion") {
            // Shared by every watcher of this version: encoded once.
            return Some(
                c.encoded
                    .get_or_init(|| line(kind.as_str(), object))
                    .clone(),
            );
        }
        Some(line(kind.as_str(), object))
    }

    /// One event line: the object, or a one-row Table or its metadata when asked for.
    fn render(&self, kind: &str, object: Value, rv: u64) -> Bytes {
        if self.metadata_only {
            return line(kind, metadata::partial(&object));
        }
        match &self.table {
            Some(include_object) => {
                let rv = rv.to_string();
                line(
                    kind,
                    table::render(
                        &self.info,
                        &self.version,
                        &[object],
                        &rv,
                        None,
                        include_object,
                    ),
                )
            }
            None => line(kind, object),
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = if self.metadata_only {
            metadata::partial(&json!({"metadata": meta}))
        } else {
            json!({"kind": self.info.kind, "apiVersion": self.info.api_version(&self.version), "metadata": meta})
        };
        line("BOOKMARK", object)
    }
}

/// GET on a collection with `watch=true`.
pub fn watch(
    shared: Arc<Shared>,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
) -> ApiResult<Reply> {
    let scope = Scope {
        info: info.clone(),
        version: target.version.clone(),
        namespace: if info.namespaced {
            target.namespace.clone()
        } else {
            None
        },
        filter: Filter::from_request(req, info)?,
        table: table::wanted(req)
            .then(|| req.param("includeObject").unwrap_or("Metadata").to_string()),
        // Either form: each event carries one object.
        metadata_only: metadata::wanted(req).is_some(),
    };
    let bookmarks = req.flag("allowWatchBookmarks");
    let send_initial = req.flag("sendInitialEvents");
    let timeout = match req.param("timeoutSeconds") {
        None | Some("") => None,
        Some(t) => Some(Duration::from_secs(t.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid timeoutSeconds: {t}"))
        })?)),
    };
    let rv_param = req.param("resourceVersion").unwrap_or("").to_string();
    let from_now = rv_param.is_empty() || rv_param == "0";
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut initial: Vec<Bytes> = Vec::new();
    let (live, start_rv) = {
        let state = shared.lock();
        let current = state.store.current_rv();
        if from_now {
            let namespace = scope.namespace.as_deref();
            for (_, obj) in state.store.list(&info.group, &info.plural, namespace) {
                if scope.filter.matches(obj) {
                    let object = as_version(obj.clone(), info, &target.version);
                    initial.push(scope.render("ADDED", object, current));
                }
            }
            if send_initial && bookmarks {
                initial.push(scope.bookmark(current, true));
            }
            match state.store.subscribe_from(current) {
                Some(sub) => (Some(sub.live), current),
                None => (None, current),
            }
        } else {
            let from: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version: {rv_param}"))
            })?;
            match state.store.subscribe_from(from) {
                Some(sub) => {
                    initial.extend(sub.backlog.iter().filter_map(|c| scope.event_for(c)));
                    (Some(sub.live), current.max(from))
                }
                None => {
                    initial.push(expired_event(&rv_param));
                    (None, from)
                }
            }
        }
    };
    let interval = shared.config.bookmark_interval;
    tokio::spawn(async move {
        for b in initial {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        let Some(live) = live else { return };
        pump(tx, live, scope, start_rv, bookmarks, interval, timeout).await;
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    Ok(Reply::Watch(stream.boxed()))
}

async fn pump(
    tx: mpsc::Sender<Bytes>,
    mut live: broadcast::Receiver<Arc<Change>>,
    scope: Scope,
    mut last_rv: u64,
    bookmarks: bool,
    interval: Duration,
    timeout: Option<Duration>,
) {
    let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(365 * 86_400)));
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        let out = tokio::select! {
            _ = &mut deadline => return,
            _ = tx.closed() => return,
            _ = ticker.tick(), if bookmarks => Some(scope.bookmark(last_rv, false)),
            change = live.recv() => match change {
                Ok(c) => {
                    if c.rv <= last_rv {
                        None
                    } else {
                        last_rv = c.rv;
                        scope.event_for(&c)
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _ = tx.send(expired_event(&last_rv.to_string())).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        if let Some(b) = out {
            if tx.send(b).await.is_err() {
                return;
            }
        }
    }
}
