//! `sma-cross`: trend following on the crossing of a fast and a slow simple
//! moving average.
//!
//! Parameters: `fast` (integer, 10), `slow` (integer, 20), `short` (bool,
//! false), with `slow > fast >= 1`.
//!
//! With `f`, `s` this bar's fast and slow SMA and `f'`, `s'` the previous
//! bar's:
//!
//! - **up-cross** (`f' <= s'` and `f > s`): go **Long** (from Flat or Short);
//! - **down-cross** (`f' >= s'` and `f < s`): go **Flat**, or **Short** when
//!   `short = true`;
//! - otherwise hold the current target.
//!
//! Equal averages on the previous bar count both ways: after `f' == s'`,
//! `f > s` is an up-cross and `f < s` a down-cross. There is no cross until
//! both SMAs exist on two consecutive bars, so the first `slow` targets are
//! Flat ([`warmup`](Strategy::warmup) = `slow`): the slow SMA first exists at
//! the `slow`-th close, the first cross can happen at the next one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::core::{is_valid_close, period_error, Strategy, Target};
use super::state::{bad_state, load_state, save_state};
use crate::indicators::{Indicator, Sma};
use aegis_contract::strategy::StrategyError;

pub use aegis_contract::strategy::sma_cross::NAME;
pub use aegis_contract::strategy::SmaCrossParams;

/// Both averages on one bar.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Averages {
    fast: f64,
    slow: f64,
}

/// Everything [`SmaCross`] remembers; saved and restored whole.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    params: SmaCrossParams,
    fast: Sma,
    slow: Sma,
    /// The averages on the previous bar, once both exist.
    previous: Option<Averages>,
    target: Target,
}

/// The `sma-cross` strategy (rules in the [module docs](self)).
#[derive(Clone, Debug)]
pub struct SmaCross {
    state: State,
}

impl SmaCross {
    /// A fresh strategy; fails with a [`StrategyError`] naming the parameter
    /// for a period out of the SMA's range or `slow <= fast`.
    pub fn new(params: SmaCrossParams) -> Result<Self, StrategyError> {
        params.check()?;
        let fast = Sma::new(params.fast).map_err(|e| period_error("fast", params.fast, e))?;
        let slow = Sma::new(params.slow).map_err(|e| period_error("slow", params.slow, e))?;
        Ok(Self {
            state: State {
                params,
                fast,
                slow,
                previous: None,
                target: Target::Flat,
            },
        })
    }

    /// Its parameters.
    pub fn params(&self) -> SmaCrossParams {
        self.state.params
    }
}

impl Strategy for SmaCross {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_close(&mut self, close: f64) -> Target {
        let s = &mut self.state;
        if !is_valid_close(close) {
            return s.target;
        }
        // Both accept a valid close; should one not, nothing is decided.
        let (Ok(fast), Ok(slow)) = (s.fast.update(close), s.slow.update(close)) else {
            return s.target;
        };
        let (Some(fast), Some(slow)) = (fast, slow) else {
            return s.target;
        };
        if let Some(prev) = s.previous {
            if prev.fast <= prev.slow && fast > slow {
                s.target = Target::Long;
            } else if prev.fast >= prev.slow && fast < slow {
                s.target = if s.params.short {
                    Target::Short
                } else {
                    Target::Flat
                };
            }
        }
        s.previous = Some(Averages { fast, slow });
        s.target
    }

    fn target(&self) -> Target {
        self.state.target
    }

    fn warmup(&self) -> usize {
        self.state.params.slow
    }

    fn save(&self) -> Value {
        save_state(NAME, &self.state)
    }

    fn restore(&mut self, saved: &Value) -> Result<(), StrategyError> {
        let state: State = load_state(NAME, saved)?;
        let mine = self.state.params;
        if state.params != mine {
            return Err(bad_state(format!(
                "it was saved with fast={}, slow={}, short={}; this strategy has fast={}, slow={}, short={}",
                state.params.fast, state.params.slow, state.params.short,
                mine.fast, mine.slow, mine.short
            )));
        }
        for (field, sma, period) in [
            ("fast", &state.fast, mine.fast),
            ("slow", &state.slow, mine.slow),
        ] {
            if sma.period() != period {
                return Err(bad_state(format!(
                    "state.{field} is an SMA({}), expected SMA({period})",
                    sma.period()
                )));
            }
        }
        if state.target == Target::Short && !mine.short {
            return Err(bad_state("state.target is Short but short=false"));
        }
        self.state = state;
        Ok(())
    }
}
