//! The per-bar shortcuts of `Execution::on_signal` (equity computed only
//! when a step needs it; the peak compared only when an `f64` estimate
//! cannot prove it unchanged) against the definitions they stand in for:
//! after every bar the peak is the highest exact equity marked so far, a
//! `Mark` is written exactly when the peak or the day changes, and a halt
//! trips at the bar the exact drawdown reaches the limit. The walks dwell on
//! repeated prices and flat books, where equity sits exactly at the peak.

use aegis_contract::records::Signal;
use aegis_engine::ledger::Entry;
use aegis_engine::trading::{Execution, ExecutionParams, RiskLimits};
use proptest::prelude::*;
use rust_decimal::Decimal;

const HOUR_MS: i64 = 3_600_000;
/// 2024-01-01T00:00:00Z.
const DAY0_MS: i64 = 1_704_067_200_000;

/// Closes in cents from steps of -2..=2 cents (0 repeats the price), with
/// targets that change now and then.
fn walk() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop::collection::vec(
        (
            -2i64..=2,
            prop_oneof![8 => Just(None), 1 => (-1i64..=1).prop_map(Some)],
        ),
        1..400,
    )
    .prop_map(|steps| {
        let mut cents = 10_000i64;
        let mut target = 0;
        steps
            .into_iter()
            .map(|(step, change)| {
                cents = (cents + step).max(1);
                if let Some(t) = change {
                    target = t;
                }
                (cents, target)
            })
            .collect()
    })
}

fn run(walk: &[(i64, i64)], limits: RiskLimits) -> Result<(), TestCaseError> {
    let mut params = ExecutionParams::new(Decimal::from(1_000));
    params.limits = limits;
    let mut exec = Execution::new(params).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut peak: Option<Decimal> = None;
    let mut day = None;
    let mut halted_at = None;
    for (i, &(cents, target)) in walk.iter().enumerate() {
        let seq = i as u64 + 1;
        let price = cents as f64 / 100.0;
        let ts_ms = DAY0_MS + i as i64 * HOUR_MS;
        let signal = Signal {
            seq,
            ts_ms,
            open: price,
            high: price,
            low: price,
            close: price,
            target,
            ..Signal::default()
        };
        let entries = exec.on_signal(&signal);
        let equity = exec
            .marked_equity()
            .ok_or_else(|| TestCaseError::fail("no equity after a valid close"))?;
        let new_peak = peak.is_none_or(|p| equity > p);
        if new_peak {
            peak = Some(equity);
        }
        let new_day = day != Some(ts_ms.div_euclid(86_400_000));
        day = Some(ts_ms.div_euclid(86_400_000));
        let got = exec.risk().peak_equity;
        // The same value and the same digits (the ledger prints them).
        prop_assert_eq!(
            got.map(|p| p.to_string()),
            peak.map(|p| p.to_string()),
            "bar {}",
            seq
        );
        let marks = entries
            .iter()
            .filter(|e| matches!(e, Entry::Mark { .. }))
            .count();
        prop_assert_eq!(marks, usize::from(new_peak || new_day), "bar {}", seq);
        // The kill switch trips at the first bar whose exact drawdown from
        // the peak reaches the limit.
        if halted_at.is_none() {
            let reached = match (exec.params().limits.max_drawdown, peak) {
                (Some(max), Some(p)) if p > Decimal::ZERO && equity < p => {
                    (p - equity).checked_div(p).unwrap_or(Decimal::ONE) >= max
                }
                _ => false,
            };
            prop_assert_eq!(exec.halted().is_some(), reached, "bar {}", seq);
            if reached {
                halted_at = Some(seq);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_peak_is_the_highest_exact_equity_without_limits(w in walk()) {
        run(&w, RiskLimits::default())?;
    }

    #[test]
    fn the_peak_is_the_highest_exact_equity_with_limits(w in walk()) {
        run(&w, RiskLimits {
            max_drawdown: Some(Decimal::new(1, 3)),
            daily_loss_limit: Some(Decimal::new(5, 1)),
            max_position_notional: None,
        })?;
    }
}
