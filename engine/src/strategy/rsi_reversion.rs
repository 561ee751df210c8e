//! `rsi-reversion`: mean reversion on Wilder's RSI leaving its oversold /
//! overbought band.
//!
//! Parameters: `period` (integer, 14), `oversold` (number, 30), `overbought`
//! (number, 70), `short` (bool, false), with `0 < oversold < overbought < 100`
//! and `period` in the RSI's range (2 ..= 100 000).
//!
//! On each bar with an RSI value `r` (strict comparisons: `r` equal to a
//! threshold does nothing):
//!
//! | holding | `r < oversold` | `r > overbought` |
//! | --- | --- | --- |
//! | Flat | → **Long** | → **Short** if `short = true`, else stay Flat |
//! | Long | stay Long | → **Flat**, or **Short** if `short = true` |
//! | Short | → **Long** | stay Short |
//!
//! Otherwise the position is held. The RSI (TA-Lib's, see
//! [`Rsi`]) first exists at the `period + 1`-th close,
//! so the first `period` targets are Flat ([`warmup`](Strategy::warmup) =
//! `period`). Note TA-Lib's convention that a window without any price change
//! has RSI **0**, which counts as oversold: a perfectly flat start enters Long.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::core::{is_valid_close, period_error, Strategy, Target};
use super::state::{bad_state, load_state, save_state};
use crate::indicators::{Indicator, Rsi};
use aegis_contract::strategy::StrategyError;

pub use aegis_contract::strategy::rsi_reversion::NAME;
pub use aegis_contract::strategy::RsiReversionParams;

/// Everything [`RsiReversion`] remembers; saved and restored whole.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    params: RsiReversionParams,
    rsi: Rsi,
    target: Target,
}

/// The `rsi-reversion` strategy (rules in the [module docs](self)).
#[derive(Clone, Debug)]
pub struct RsiReversion {
    state: State,
}

impl RsiReversion {
    /// A fresh strategy; fails with a [`StrategyError`] naming the parameter
    /// for a period out of the RSI's range, a non-finite threshold or
    /// thresholds not ordered `0 < oversold < overbought < 100`.
    pub fn new(params: RsiReversionParams) -> Result<Self, StrategyError> {
        params.check()?;
        let rsi = Rsi::new(params.period).map_err(|e| period_error("period", params.period, e))?;
        Ok(Self {
            state: State {
                params,
                rsi,
                target: Target::Flat,
            },
        })
    }

    /// Its parameters.
    pub fn params(&self) -> RsiReversionParams {
        self.state.params
    }
}

impl Strategy for RsiReversion {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_close(&mut self, close: f64) -> Target {
        let s = &mut self.state;
        if !is_valid_close(close) {
            return s.target;
        }
        let Ok(Some(rsi)) = s.rsi.update(close) else {
            return s.target;
        };
        let p = s.params;
        let oversold = rsi < p.oversold;
        let overbought = rsi > p.overbought;
        s.target = match s.target {
            Target::Flat | Target::Short if oversold => Target::Long,
            Target::Flat if overbought && p.short => Target::Short,
            Target::Long if overbought => {
                if p.short {
                    Target::Short
                } else {
                    Target::Flat
                }
            }
            held => held,
        };
        s.target
    }

    fn target(&self) -> Target {
        self.state.target
    }

    fn warmup(&self) -> usize {
        self.state.params.period
    }

    fn save(&self) -> Value {
        save_state(NAME, &self.state)
    }

    fn restore(&mut self, saved: &Value) -> Result<(), StrategyError> {
        let state: State = load_state(NAME, saved)?;
        let (saved_p, mine) = (state.params, self.state.params);
        if saved_p != mine {
            return Err(bad_state(format!(
                "it was saved with period={}, oversold={}, overbought={}, short={}; \
                 this strategy has period={}, oversold={}, overbought={}, short={}",
                saved_p.period,
                saved_p.oversold,
                saved_p.overbought,
                saved_p.short,
                mine.period,
                mine.oversold,
                mine.overbought,
                mine.short
            )));
        }
        if state.rsi.period() != mine.period {
            return Err(bad_state(format!(
                "state.rsi is an RSI({}), expected RSI({})",
                state.rsi.period(),
                mine.period
            )));
        }
        if state.target == Target::Short && !mine.short {
            return Err(bad_state("state.target is Short but short=false"));
        }
        self.state = state;
        Ok(())
    }
}
