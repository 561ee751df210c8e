//! The orchestrator's ledger entries: [`Entry`]s (orders, fills, rejections,
//! risk events), from which a restarted orchestrator rebuilds its book
//! ([`crate::trading::execution::Execution::rebuild`]). The append-only file
//! they are kept in is the worker's (`aegis_worker::store::Ledger`).

pub mod entry;
mod exit_reason;
mod side;

pub use entry::{
    is_ledger_id, ledger_id, ledger_id_of, Entry, ExitLeg, HaltKind, ENTRY_VERSION, LEDGER_ID_LEN,
};
pub use exit_reason::ExitReason;
pub use side::Side;

use std::collections::BTreeMap;

/// Signal sequence numbers that have more than one `Order` in `entries`
/// (ascending). Empty for a healthy ledger: a signal causes at most one order.
pub fn duplicate_orders(entries: &[Entry]) -> Vec<u64> {
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for entry in entries {
        if let Entry::Order { signal_seq, .. } = entry {
            *counts.entry(*signal_seq).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(seq, _)| seq)
        .collect()
}
