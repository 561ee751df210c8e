//! Protective exits and the entry order type: what a user writes under
//! `orchestrator.exits` and `orchestrator.entry_order` (a TradingEngine's
//! `spec.exits` and `spec.entryOrder`), and the one check of their ranges
//! that the worker, the engine and the operator all apply.
//!
//! Exits belong to the orchestrator, so every strategy gets them: a
//! stop-loss (a fraction of the entry, or a multiple of ATR), a take-profit
//! (a fraction, or a table of minutes held → fraction), a trailing stop. How
//! they fill in backtests and paper trading is `docs/engine.md`'s fill model.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::decimal;
use crate::strategy::MAX_PERIOD;

/// The protective exits held for every open position; none by default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExitsConfig {
    /// Stop-loss as a fraction of the entry price (0.02: 2 % below a long's
    /// entry, above a short's), in (0, 1).
    #[serde(deserialize_with = "decimal::any_opt")]
    pub stop_loss: Option<Decimal>,
    /// Stop-loss as this many ATR(`atr_period`) from the entry, ATR taken on
    /// the bar the entry was decided (instead of `stop_loss`), > 0.
    #[serde(deserialize_with = "decimal::any_opt")]
    pub atr_multiple: Option<Decimal>,
    /// The ATR period of `atr_multiple` (default 14).
    pub atr_period: u32,
    /// Take-profit as a fraction of the entry price (0.05: 5 % above a
    /// long's entry), > 0.
    #[serde(deserialize_with = "decimal::any_opt")]
    pub take_profit: Option<Decimal>,
    /// Take-profit by time held (freqtrade's ROI table): from
    /// `after_minutes` on, exit at `profit` (a fraction, ≥ 0); the step with
    /// the largest `after_minutes` reached applies. With `take_profit` too,
    /// the nearer of the two levels applies.
    pub take_profit_table: Vec<TakeProfitStep>,
    /// Trailing stop: a fraction below the best price since the entry
    /// (above it for a short), in (0, 1).
    #[serde(deserialize_with = "decimal::any_opt")]
    pub trailing_stop: Option<Decimal>,
    /// The trailing stop starts only once the best price is this fraction
    /// past the entry (≥ 0); needs `trailing_stop`.
    #[serde(deserialize_with = "decimal::any_opt")]
    pub trailing_after: Option<Decimal>,
}

impl Default for ExitsConfig {
    fn default() -> Self {
        ExitsConfig {
            stop_loss: None,
            atr_multiple: None,
            atr_period: 14,
            take_profit: None,
            take_profit_table: Vec::new(),
            trailing_stop: None,
            trailing_after: None,
        }
    }
}

/// One row of [`ExitsConfig::take_profit_table`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeProfitStep {
    /// Minutes held from which this row applies.
    pub after_minutes: u64,
    /// The take-profit from then on, a fraction of the entry price (≥ 0: 0
    /// exits at break-even).
    #[serde(deserialize_with = "decimal::any")]
    pub profit: Decimal,
}

/// How a position is entered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryOrderType {
    /// A market order at the next bar's open (the default).
    #[default]
    Market,
    /// A limit order `offset` better than the signal bar's close, cancelled
    /// after `ttl_bars` bars unfilled.
    Limit,
}

/// The order that opens a position (closing and reversing orders are
/// always market orders).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntryOrderConfig {
    /// `market` or `limit`.
    #[serde(rename = "type")]
    pub order_type: EntryOrderType,
    /// Limit: the price as a fraction better than the signal bar's close (a
    /// buy at `close × (1 − offset)`), in [0, 1).
    #[serde(deserialize_with = "decimal::any")]
    pub offset: Decimal,
    /// Limit: bars the order rests before it is cancelled, ≥ 1.
    pub ttl_bars: u32,
}

impl Default for EntryOrderConfig {
    fn default() -> Self {
        EntryOrderConfig {
            order_type: EntryOrderType::Market,
            offset: Decimal::ZERO,
            ttl_bars: 1,
        }
    }
}

/// A field of [`ExitsConfig`] or [`EntryOrderConfig`] out of range: its
/// name (relative to the section) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ExitsError {
    /// The field, e.g. `stop_loss` or `take_profit_table[1].after_minutes`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn fail(field: impl Into<String>, message: String) -> Result<(), ExitsError> {
    Err(ExitsError {
        field: field.into(),
        message,
    })
}

fn fraction_below_one(value: Option<Decimal>, field: &str) -> Result<(), ExitsError> {
    match value {
        Some(v) if v <= Decimal::ZERO || v >= Decimal::ONE => fail(
            field,
            format!("must be a fraction in (0, 1), e.g. 0.02, got {v}"),
        ),
        _ => Ok(()),
    }
}

impl ExitsConfig {
    /// Whether any exit is configured.
    pub fn any(&self) -> bool {
        self.stop_loss.is_some()
            || self.atr_multiple.is_some()
            || self.take_profit.is_some()
            || !self.take_profit_table.is_empty()
            || self.trailing_stop.is_some()
    }

    /// Whether an exchange can trail the stop by itself: a trailing stop is
    /// the only exit (Binance's `trailingDelta`). Beside a stop-loss or a
    /// take-profit the trailing stop is one more level of the stop the
    /// engine holds on the exchange and moves as the best price moves (two
    /// stops cannot be held on one quantity, and an OCO has one stop leg).
    pub fn exchange_trails(&self) -> bool {
        self.trailing_stop.is_some()
            && self.stop_loss.is_none()
            && self.atr_multiple.is_none()
            && self.take_profit.is_none()
            && self.take_profit_table.is_empty()
    }

    /// Checks every field; the first bad one is the error.
    pub fn check(&self) -> Result<(), ExitsError> {
        fraction_below_one(self.stop_loss, "stop_loss")?;
        fraction_below_one(self.trailing_stop, "trailing_stop")?;
        if let Some(m) = self.atr_multiple {
            if m <= Decimal::ZERO || m > Decimal::from(1000) {
                return fail("atr_multiple", format!("must be in (0, 1000], got {m}"));
            }
            if self.stop_loss.is_some() {
                return fail(
                    "atr_multiple",
                    "give stop_loss or atr_multiple, not both".to_string(),
                );
            }
        }
        if self.atr_period == 0 || self.atr_period as usize > MAX_PERIOD {
            return fail(
                "atr_period",
                format!("must be in 1..={MAX_PERIOD}, got {}", self.atr_period),
            );
        }
        if let Some(tp) = self.take_profit {
            if tp <= Decimal::ZERO || tp > Decimal::from(100) {
                return fail(
                    "take_profit",
                    format!("must be a fraction in (0, 100], e.g. 0.05, got {tp}"),
                );
            }
        }
        let mut previous: Option<u64> = None;
        for (i, step) in self.take_profit_table.iter().enumerate() {
            if step.profit < Decimal::ZERO || step.profit > Decimal::from(100) {
                return fail(
                    format!("take_profit_table[{i}].profit"),
                    format!("must be a fraction in [0, 100], got {}", step.profit),
                );
            }
            if previous.is_some_and(|p| step.after_minutes <= p) {
                return fail(
                    format!("take_profit_table[{i}].after_minutes"),
                    format!(
                        "must be greater than the row before ({}), got {}",
                        previous.unwrap_or_default(),
                        step.after_minutes
                    ),
                );
            }
            previous = Some(step.after_minutes);
        }
        if let Some(after) = self.trailing_after {
            if after < Decimal::ZERO || after > Decimal::from(100) {
                return fail(
                    "trailing_after",
                    format!("must be a fraction in [0, 100], got {after}"),
                );
            }
            if self.trailing_stop.is_none() {
                return fail("trailing_after", "needs trailing_stop".to_string());
            }
        }
        Ok(())
    }

    /// The take-profit fraction that applies after `minutes` held: the
    /// nearer of `take_profit` and the table's row reached, if any.
    pub fn take_profit_after(&self, minutes: u64) -> Option<Decimal> {
        let row = self
            .take_profit_table
            .iter()
            .rev()
            .find(|s| s.after_minutes <= minutes)
            .map(|s| s.profit);
        match (self.take_profit, row) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl EntryOrderConfig {
    /// Checks every field; the first bad one is the error.
    pub fn check(&self) -> Result<(), ExitsError> {
        if self.offset < Decimal::ZERO || self.offset >= Decimal::ONE {
            return fail(
                "offset",
                format!("must be a fraction in [0, 1), got {}", self.offset),
            );
        }
        if self.ttl_bars == 0 || self.ttl_bars > 100_000 {
            return fail(
                "ttl_bars",
                format!("must be in 1..=100000, got {}", self.ttl_bars),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    #[test]
    fn defaults_hold_no_exit_and_pass() {
        let e = ExitsConfig::default();
        assert!(!e.any());
        assert_eq!(e.check(), Ok(()));
        assert_eq!(EntryOrderConfig::default().check(), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = |e: ExitsConfig| e.check().map_err(|e| e.field);
        let base = ExitsConfig::default;
        for (e, field) in [
            (
                ExitsConfig {
                    stop_loss: Some(d("0")),
                    ..base()
                },
                "stop_loss",
            ),
            (
                ExitsConfig {
                    stop_loss: Some(d("1")),
                    ..base()
                },
                "stop_loss",
            ),
            (
                ExitsConfig {
                    trailing_stop: Some(d("-0.1")),
                    ..base()
                },
                "trailing_stop",
            ),
            (
                ExitsConfig {
                    atr_multiple: Some(d("0")),
                    ..base()
                },
                "atr_multiple",
            ),
            (
                ExitsConfig {
                    atr_multiple: Some(d("2")),
                    stop_loss: Some(d("0.1")),
                    ..base()
                },
                "atr_multiple",
            ),
            (
                ExitsConfig {
                    atr_period: 0,
                    ..base()
                },
                "atr_period",
            ),
            (
                ExitsConfig {
                    take_profit: Some(d("0")),
                    ..base()
                },
                "take_profit",
            ),
            (
                ExitsConfig {
                    trailing_after: Some(d("0.01")),
                    ..base()
                },
                "trailing_after",
            ),
            (
                ExitsConfig {
                    take_profit_table: vec![
                        TakeProfitStep {
                            after_minutes: 60,
                            profit: d("0.02"),
                        },
                        TakeProfitStep {
                            after_minutes: 60,
                            profit: d("0.01"),
                        },
                    ],
                    ..base()
                },
                "take_profit_table[1].after_minutes",
            ),
            (
                ExitsConfig {
                    take_profit_table: vec![TakeProfitStep {
                        after_minutes: 0,
                        profit: d("-1"),
                    }],
                    ..base()
                },
                "take_profit_table[0].profit",
            ),
        ] {
            assert_eq!(bad(e), Err(field.to_string()));
        }
        let limit = |offset: &str, ttl_bars| EntryOrderConfig {
            order_type: EntryOrderType::Limit,
            offset: d(offset),
            ttl_bars,
        };
        assert_eq!(
            limit("1", 1).check().map_err(|e| e.field),
            Err("offset".into())
        );
        assert_eq!(
            limit("0.01", 0).check().map_err(|e| e.field),
            Err("ttl_bars".into())
        );
        assert_eq!(limit("0.01", 3).check(), Ok(()));
    }

    #[test]
    fn the_table_row_reached_and_the_nearer_level_apply() {
        let e = ExitsConfig {
            take_profit: Some(d("0.03")),
            take_profit_table: vec![
                TakeProfitStep {
                    after_minutes: 0,
                    profit: d("0.05"),
                },
                TakeProfitStep {
                    after_minutes: 60,
                    profit: d("0.02"),
                },
                TakeProfitStep {
                    after_minutes: 240,
                    profit: d("0"),
                },
            ],
            ..ExitsConfig::default()
        };
        assert_eq!(e.take_profit_after(0), Some(d("0.03")));
        assert_eq!(e.take_profit_after(59), Some(d("0.03")));
        assert_eq!(e.take_profit_after(60), Some(d("0.02")));
        assert_eq!(e.take_profit_after(1000), Some(d("0")));
        let none = ExitsConfig::default();
        assert_eq!(none.take_profit_after(10), None);
    }

    #[test]
    fn the_exchange_trails_a_trailing_stop_only_when_it_is_the_only_exit() {
        let alone = ExitsConfig {
            trailing_stop: Some(d("0.03")),
            trailing_after: Some(d("0.01")),
            ..ExitsConfig::default()
        };
        assert!(alone.exchange_trails());
        let beside = [
            ExitsConfig {
                stop_loss: Some(d("0.02")),
                ..alone.clone()
            },
            ExitsConfig {
                atr_multiple: Some(d("2")),
                ..alone.clone()
            },
            ExitsConfig {
                take_profit: Some(d("0.05")),
                ..alone.clone()
            },
            ExitsConfig {
                take_profit_table: vec![TakeProfitStep {
                    after_minutes: 30,
                    profit: d("0.01"),
                }],
                ..alone.clone()
            },
        ];
        for e in beside {
            assert!(!e.exchange_trails(), "{e:?}");
        }
        assert!(!ExitsConfig::default().exchange_trails());
    }
}
