//! The account side of live trading: the ledger's id, the balances checked
//! against the ledger, the used request weight, and halting for a ban.

use anyhow::Context;
use rust_decimal::prelude::ToPrimitive;

use super::super::exchange_metrics::ban_reason;
use super::super::metrics::count;
use super::super::state::{lock, publish_snapshot, State};
use super::booking::{now_ms, reconcile};
use super::connection::{refusal_of, Live};
use crate::store::Ledger;
use aegis_engine::ledger::Entry;
use aegis_engine::trading::{Execution, Pending};
use aegis_exchange::RestError;

/// The ledger's id: the one it holds, or a new random one appended now
/// (before the first live order). Also returns the signal of `pending` when
/// an older build wrote it (before the ledger had an id) and may have sent
/// it under [`legacy_client_order_id`].
pub fn ensure_ledger_id(
    entries: &[Entry],
    pending: Option<&Pending>,
    ledger: &mut Ledger,
) -> anyhow::Result<(String, Option<u64>)> {
    let first_id = entries
        .iter()
        .position(|e| matches!(e, Entry::LedgerId { .. }));
    let legacy = pending
        .filter(|p| p.sent.is_none())
        .map(|p| p.signal_seq)
        .filter(|&seq| {
            let written = entries
                .iter()
                .position(|e| matches!(e, Entry::Order { signal_seq, .. } if *signal_seq == seq));
            written.is_some_and(|at| first_id.is_none_or(|id_at| at < id_at))
        });
    if let Some(id) = aegis_engine::ledger::ledger_id(entries) {
        return Ok((id.to_string(), legacy));
    }
    let id = crate::store::new_ledger_id().context("drawing the ledger's random id")?;
    ledger
        .append(&[Entry::LedgerId {
            id: id.clone(),
            ts_ms: now_ms(),
        }])
        .context("appending the ledger's id")?;
    tracing::info!(ledger_id = %id, "the ledger has a new id: client order ids are made of it");
    Ok((id, legacy))
}

impl Live {
    /// Halts for a ban met before the connection was made.
    pub(in crate::roles::orchestrator) fn ban_at_startup(
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        e: &RestError,
    ) -> anyhow::Result<()> {
        tracing::error!(error = %e, "the exchange banned this IP at startup");
        let entries = exec.halt_for_ban(&ban_reason(e), now_ms());
        append(ledger, state, entries)?;
        publish_snapshot(state, exec);
        Ok(())
    }

    pub(super) fn show_weight(&self, state: &State) {
        let weight = i64::try_from(self.client.used_weight()).unwrap_or(i64::MAX);
        state.metrics.exchange.used_weight.set(weight);
    }

    /// Reads the balances and checks them against the ledger (see
    /// [`Balances`](aegis_contract::api::Balances)). `Err` only for a ledger failure
    /// or a signature or key refusal (a [`Refusal`]: the caller stops
    /// trading); a ban halts here.
    pub(in crate::roles::orchestrator) fn check_balances(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
    ) -> anyhow::Result<()> {
        if exec.banned() {
            return Ok(());
        }
        let account = self.client.account();
        self.show_weight(state);
        let account = match account {
            Ok(a) => a,
            Err(e) => {
                state.metrics.exchange.error(&e);
                if let Some(refusal) = refusal_of(&e) {
                    return Err(refusal.into());
                }
                if e.must_halt() {
                    self.ban(exec, ledger, state, &e)?;
                } else {
                    tracing::warn!(error = %e, "could not read the account balances");
                }
                return Ok(());
            }
        };
        let balances = reconcile(&self.filters, &account, exec);
        let m = &state.metrics.exchange;
        for (asset, b) in [
            (
                &balances.base_asset,
                balances.base_free + balances.base_locked,
            ),
            (
                &balances.quote_asset,
                balances.quote_free + balances.quote_locked,
            ),
        ] {
            m.balance
                .with_label_values(&[asset.as_str()])
                .set(b.to_f64().unwrap_or(f64::NAN));
        }
        let bad = |asset: &str| {
            let prefix = format!("{asset}:");
            balances.mismatches.iter().any(|s| s.starts_with(&prefix))
        };
        for asset in [&balances.base_asset, &balances.quote_asset] {
            m.mismatch
                .with_label_values(&[asset.as_str()])
                .set(if bad(asset) { 1.0 } else { 0.0 });
        }
        for mismatch in &balances.mismatches {
            tracing::error!(mismatch = %mismatch, "the exchange balances do not cover the ledger");
        }
        *lock(&state.balances) = Some(balances);
        Ok(())
    }

    pub(super) fn ban(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        e: &RestError,
    ) -> anyhow::Result<()> {
        let entries = exec.halt_for_ban(&ban_reason(e), now_ms());
        if !entries.is_empty() {
            ledger
                .append(&entries)
                .context("appending the exchange ban to the ledger")?;
            count(&state.metrics, &entries, None);
        }
        publish_snapshot(state, exec);
        Ok(())
    }
}

/// Appends the exchange's answer to the ledger (fsync'd) and counts it.
pub(super) fn append(
    ledger: &mut Ledger,
    state: &State,
    entries: Vec<Entry>,
) -> anyhow::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    ledger
        .append(&entries)
        .context("appending the exchange's answer to the ledger")?;
    count(&state.metrics, &entries, None);
    Ok(())
}
