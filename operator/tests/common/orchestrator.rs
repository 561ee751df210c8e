//! A stand-in for an engine's orchestrator: `/status` bodies made with the
//! worker's own type ([`OrchestratorStatus`]) and serializer, and a small
//! axum server on the address the operator will find in the pod (a loopback
//! address chosen with `SimNode::set_pod_ip`, on the control API's port)
//! that serves them and records every `POST /flatten`. Like the real
//! control API it answers 401 to a request without the engine's bearer
//! token (derived from the harness's key and the uid of the pod's owner),
//! and counts those.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use aegis_contract::api::CONTROL_PORT;
use aegis_contract::api::{Book, FlattenReply, OrchestratorStatus};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use rust_decimal::Decimal;
use tokio::task::JoinHandle;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("bad test decimal {s}: {e}"))
}

/// An orchestrator's `/status` with a book: `position`, `equity`,
/// `realized_pnl`, `unrealized_pnl` as decimal text, and `halted`.
pub fn status_with_book(
    position: &str,
    equity: &str,
    realized_pnl: &str,
    unrealized_pnl: &str,
    halted: bool,
) -> OrchestratorStatus {
    OrchestratorStatus {
        role: "orchestrator".into(),
        signals_read: 42,
        fills: 3,
        lag: 0,
        last_signal: None,
        book: Some(Book {
            position: d(position),
            avg_entry: d("100"),
            cash: d("5000"),
            equity: d(equity),
            realized_pnl: d(realized_pnl),
            unrealized_pnl: d(unrealized_pnl),
            fees_paid: d("1.5"),
            drawdown: d("0"),
            halted,
            halt_reason: halted.then(|| "flattened".to_string()),
            pending_order: false,
        }),
        balances: None,
        refusal: None,
    }
}

/// An orchestrator that has not opened its ledger yet: no book.
pub fn status_without_book() -> OrchestratorStatus {
    OrchestratorStatus {
        book: None,
        ..status_with_book("0", "0", "0", "0", false)
    }
}

/// One `POST /flatten` the fake saw.
#[derive(Clone, Debug)]
pub struct FlattenPost {
    /// Whether the engine's pod had a deletionTimestamp when it arrived.
    pub pod_was_terminating: bool,
}

/// What the fake answers.
struct Answers {
    status: (u16, String),
    flatten: (u16, String),
    posts: Vec<FlattenPost>,
    pods: Api<Pod>,
    pod: String,
    unauthorized: u32,
}

type Shared = Arc<Mutex<Answers>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Answers> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running fake orchestrator; dropping it stops the server.
pub struct FakeOrchestrator {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Shared,
    server: Option<JoinHandle<()>>,
}

impl FakeOrchestrator {
    /// Serves on `ip` at the orchestrator's port; `pod` in `pods` is the
    /// pod it stands in for (looked up on each `POST /flatten`). `/status`
    /// answers `status`; `/flatten` answers 200 with a flat book.
    pub async fn start(
        ip: Ipv4Addr,
        pods: Api<Pod>,
        pod: &str,
        status: &OrchestratorStatus,
    ) -> FakeOrchestrator {
        let flat = FlattenReply {
            position: Decimal::ZERO,
            equity: d("10012.5"),
            halted: true,
            changed: true,
        };
        let shared = Arc::new(Mutex::new(Answers {
            status: (200, json_of(status)),
            flatten: (200, json_of(&flat)),
            posts: Vec::new(),
            pods,
            pod: pod.to_string(),
            unauthorized: 0,
        }));
        let addr = SocketAddr::from((ip, CONTROL_PORT));
        let mut fake = FakeOrchestrator {
            addr,
            shared,
            server: None,
        };
        fake.serve().await;
        fake
    }

    /// (Re)starts the server on its address.
    pub async fn serve(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .unwrap_or_else(|e| panic!("binding the fake orchestrator on {}: {e}", self.addr));
        let app = Router::new()
            .route("/status", get(status))
            .route("/flatten", post(flatten))
            .with_state(self.shared.clone());
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    /// Stops the server: connections are refused until [`Self::serve`].
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    /// Answers `/status` with `status`.
    pub fn set_status(&self, status: &OrchestratorStatus) {
        lock(&self.shared).status = (200, json_of(status));
    }

    /// Answers `/status` with `code` and `body` as they are.
    pub fn set_status_raw(&self, code: u16, body: &str) {
        lock(&self.shared).status = (code, body.to_string());
    }

    /// Answers `/flatten` with `code` and `body`.
    pub fn set_flatten_raw(&self, code: u16, body: &str) {
        lock(&self.shared).flatten = (code, body.to_string());
    }

    /// Requests refused for a missing or wrong token so far.
    pub fn unauthorized(&self) -> u32 {
        lock(&self.shared).unauthorized
    }

    /// The `POST /flatten`s seen so far.
    pub fn posts(&self) -> Vec<FlattenPost> {
        lock(&self.shared).posts.clone()
    }
}

impl Drop for FakeOrchestrator {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

fn json_of(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("the worker's types serialize")
}

fn answer((code, body): (u16, String)) -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, [("content-type", "application/json")], body)
}

type Reply = (StatusCode, [(&'static str, &'static str); 1], String);

/// The pod the fake stands in for, and whether the request carries the
/// bearer token of the engine that owns it.
async fn authorized(shared: &Shared, headers: &HeaderMap) -> (Option<Pod>, bool) {
    let (pods, pod) = {
        let a = lock(shared);
        (a.pods.clone(), a.pod.clone())
    };
    let pod = pods.get_opt(&pod).await.ok().flatten();
    let owner = pod
        .as_ref()
        .and_then(|p| p.metadata.owner_references.as_ref())
        .and_then(|o| o.first())
        .map(|o| o.uid.clone());
    let given = headers.get("authorization").map(|v| v.as_bytes().to_vec());
    let ok = owner.is_some_and(|uid| {
        super::harness::control_key()
            .token(&uid)
            .authorizes(given.as_deref())
    });
    if !ok {
        lock(shared).unauthorized += 1;
    }
    (pod, ok)
}

fn refused() -> Reply {
    answer((401, r#"{"reason":"bearer token required"}"#.to_string()))
}

async fn status(State(shared): State<Shared>, headers: HeaderMap) -> Reply {
    if !authorized(&shared, &headers).await.1 {
        return refused();
    }
    let reply = lock(&shared).status.clone();
    answer(reply)
}

async fn flatten(State(shared): State<Shared>, headers: HeaderMap) -> Reply {
    let (pod, ok) = authorized(&shared, &headers).await;
    if !ok {
        return refused();
    }
    let terminating = pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some());
    let mut a = lock(&shared);
    a.posts.push(FlattenPost {
        pod_was_terminating: terminating,
    });
    answer(a.flatten.clone())
}
