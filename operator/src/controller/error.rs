//! Why a reconcile did not finish, and the names the metrics give it.

/// Why a reconcile did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A call to the API server failed (transient; retried with backoff).
    #[error("{action}: {source}")]
    Api {
        /// What the controller was doing, naming the object.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The engine has no namespace (TradingEngines are namespaced).
    #[error("TradingEngine {name} has no namespace")]
    NoNamespace {
        /// The engine's name.
        name: String,
    },
    /// kube-runtime's finalizer helper could not address the engine (no
    /// name, or a finalizer that is not a JSON pointer segment).
    #[error("the finalizer of TradingEngine {name}: {message}")]
    Finalizer {
        /// The engine's name.
        name: String,
        /// The helper's error.
        message: String,
    },
    /// The engine's pod is still terminating; the finalizer stays until it is gone.
    #[error("pod {namespace}/{pod} is still terminating")]
    PodTerminating {
        /// The namespace.
        namespace: String,
        /// The pod's name.
        pod: String,
    },
}

impl ReconcileError {
    /// An API error while doing `action`.
    pub fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| ReconcileError::Api { action, source }
    }

    /// Whether this only means "the pod has not gone yet" (not a failure).
    pub fn is_waiting(&self) -> bool {
        matches!(self, ReconcileError::PodTerminating { .. })
    }

    /// Every [`reason`](Self::reason), one per variant.
    pub const REASONS: [&'static str; 4] = ["api", "finalizer", "no_namespace", "pod_terminating"];

    /// A stable snake_case name of the variant (the metrics' `reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::Api { .. } => "api",
            ReconcileError::Finalizer { .. } => "finalizer",
            ReconcileError::NoNamespace { .. } => "no_namespace",
            ReconcileError::PodTerminating { .. } => "pod_terminating",
        }
    }

    /// The HTTP status of an API server's error response.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ReconcileError::Api {
                source: kube::Error::Api(e),
                ..
            } => Some(e.code),
            _ => None,
        }
    }
}
