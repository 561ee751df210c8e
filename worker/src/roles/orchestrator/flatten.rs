//! `POST /flatten` carried out by the main loop: the request handed over
//! through the [`desk`](super::desk) is turned into closing entries, settled
//! with the venue and answered.

use anyhow::Context;

use super::desk::{done, refuse};
use super::metrics::count;
use super::session::Session;
use super::state::{publish_snapshot, State};
use aegis_contract::api::{FlattenReply, FLATTENED};
use aegis_runtime::{JsonReply, StopFlag};

/// Carries out one `POST /flatten`: the closing entries are appended (and
/// fsync'd) before the answer. An `Err` is a ledger failure: the book is then
/// ahead of the file, and the orchestrator must stop (its restart rebuilds
/// the book from the ledger).
pub(super) fn carry_out(
    session: &mut Session,
    state: &State,
    stop: &StopFlag,
) -> anyhow::Result<JsonReply> {
    let Session {
        exec, ledger, live, ..
    } = session;
    let entries = match exec.flatten(FLATTENED, chrono::Utc::now().timestamp_millis()) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(reason = %e, "flatten refused");
            return Ok(refuse(409, e.to_string()));
        }
    };
    if !entries.is_empty() {
        ledger
            .append(&entries)
            .context("appending the flatten to the ledger")?;
        count(&state.metrics, &entries, None);
    }
    if let Some(live) = live.as_ref() {
        let mark = exec.snapshot().mark;
        live.settle(exec, ledger, state, stop, true, Some(mark))?;
    }
    publish_snapshot(state, exec);
    let s = exec.snapshot();
    tracing::warn!(position = %s.position, equity = %s.equity, changed = !entries.is_empty(), "flattened on request: trading is halted");
    Ok(done(&FlattenReply {
        position: s.position,
        equity: s.equity,
        halted: s.halted,
        changed: !entries.is_empty(),
    }))
}
