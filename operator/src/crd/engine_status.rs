//! The `status` of a TradingEngine: what the operator observed, written
//! through the status subresource (computed by [`crate::status`]).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The observed state of an engine.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TradingEngineStatus {
    /// A one-word summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing` and `Degraded`, Kubernetes style.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<EngineCondition>,
    /// The engine's pod, while there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    /// Restarts per container (`feed`, `brain`, `orchestrator`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub restarts: BTreeMap<String, i32>,
    /// The orchestrator's book, from its `/status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading: Option<TradingSummary>,
}

/// The phase of an engine.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No running pod yet (being created, scheduled or started).
    Pending,
    /// Every container is ready.
    Running,
    /// The pod exists but something is wrong (a crash loop, an unready role,
    /// a missing Secret).
    Degraded,
    /// `spec.suspend` is true: no pod.
    Suspended,
    /// The engine cannot run as specified (an invalid spec) or its pod failed.
    Failed,
}

/// `True`, `False` or `Unknown`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// It does not.
    False,
    /// The operator cannot tell.
    Unknown,
}

/// A condition, shaped like `metav1.Condition`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EngineCondition {
    /// `Ready`, `Progressing` or `Degraded`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether it holds.
    pub status: ConditionStatus,
    /// A CamelCase reason, e.g. `CrashLoopBackOff`.
    pub reason: String,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// When `status` last changed.
    pub last_transition_time: Time,
    /// The generation the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The orchestrator's book, as decimals in text (no digit lost).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TradingSummary {
    /// Signed position, base currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Cash plus the position at the last price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equity: Option<String>,
    /// Realized plus unrealized PnL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pnl: Option<String>,
    /// Whether a risk rule has halted new entries.
    #[serde(default)]
    pub halted: bool,
}
