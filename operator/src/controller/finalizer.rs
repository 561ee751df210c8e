//! The engine's finalizer [`FINALIZER`](super::FINALIZER), kept by
//! kube-runtime's [`finalizer`](kube::runtime::finalizer::finalizer) helper:
//! it is added before anything is created for an engine (the helper's JSON
//! patch tests the finalizer list it saw — `null` when there is none — so a
//! concurrent change fails the patch instead of being overwritten), a live
//! engine is [`apply`](super::apply::apply)'d, and a deleting one is
//! [`cleanup`](super::cleanup::cleanup)'d, the finalizer going (a patch that
//! tests it is still at the index it was seen at) only once cleanup found no
//! pod left.

use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Error, Event};
use kube::ResourceExt;

use super::{apply, cleanup, Context, ReconcileError, FINALIZER};
use crate::crd::TradingEngine;

/// Reconciles `te` under [`FINALIZER`]: adds it to an engine without it,
/// applies a live engine, cleans up a deleting one and then removes it.
pub async fn reconcile(
    engines: &Api<TradingEngine>,
    te: Arc<TradingEngine>,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let name = te.name_any();
    finalizer(engines, FINALIZER, te, |event| async move {
        match event {
            Event::Apply(te) => apply::apply(&te, ctx).await,
            Event::Cleanup(te) => cleanup::cleanup(&te, ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        Error::ApplyFailed(e) | Error::CleanupFailed(e) => e,
        Error::AddFinalizer(source) => ReconcileError::Api {
            action: format!("add the finalizer {FINALIZER} to TradingEngine {name}"),
            source,
        },
        Error::RemoveFinalizer(source) => ReconcileError::Api {
            action: format!("remove the finalizer {FINALIZER} from TradingEngine {name}"),
            source,
        },
        other @ (Error::UnnamedObject | Error::InvalidFinalizer) => ReconcileError::Finalizer {
            name: name.clone(),
            message: other.to_string(),
        },
    })
}
