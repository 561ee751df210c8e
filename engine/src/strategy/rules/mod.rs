//! `rules`: the user's own strategy, written as indicators and entry/exit
//! conditions in CEL (the language: `docs/strategies.md`; the checks and
//! the compiler: `aegis_contract::strategy::rules`).
//!
//! On every accepted candle the five price fields and then every indicator
//! (each after those it reads) take their new value, each series keeping as
//! many past values as the rules look back. From bar
//! [`warmup`](Strategy::warmup) on (0-based), the rules that can change the
//! position are evaluated:
//!
//! | holding | first rule that is true decides |
//! | --- | --- |
//! | Flat | `enter_long` → **Long**; else `enter_short` → **Short** |
//! | Long | `enter_short` → **Short**; else `exit_long` → **Flat** |
//! | Short | `enter_long` → **Long**; else `exit_short` → **Flat** |
//!
//! Otherwise the position is held. A rule whose value is unknown (a
//! division by zero, a series without a value) counts as false for that
//! bar — "no signal" — and the bar is counted in
//! [`Strategy::no_signal_bars`]. `position.bars_held` is the number of
//! bars since the entry (0 on the entry bar), `position.pnl_fraction` the
//! move since the entry bar's close in the position's favour (0 when flat).
//!
//! A candle with any price field or the volume that the indicators reject
//! (NaN, infinite, beyond ±1e150) is ignored as a whole, as the built-in
//! strategies ignore a bad close. `atr(n)` reads the candle's high, low and
//! close; a candle it refuses (`high < low`, a close outside the range, which
//! the feed refuses first) gives it no value for that bar and leaves its
//! state as it was.

mod eval;
mod history;
mod live;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use aegis_contract::records::Candle;
use aegis_contract::strategy::rules::program::Input;
use aegis_contract::strategy::rules::{Rules, RulesSpec};
use aegis_contract::strategy::StrategyError;

use self::eval::Bar;
use self::history::History;
use self::live::{Feed, Live};
use super::core::{is_valid_close, Strategy, Target};
use super::state::{bad_state, load_state, save_state};

pub use aegis_contract::strategy::rules::NAME;

/// Everything [`RulesStrategy`] remembers; saved and restored whole.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    /// The rules as written: a saved state is for these rules only.
    rules: RulesSpec,
    indicators: Vec<Live>,
    /// One per series slot: the fields, then the indicators.
    history: Vec<History>,
    /// Candles accepted.
    bars: u64,
    target: Target,
    /// The close of the bar the position was entered on.
    entry_close: Option<f64>,
    bars_held: u64,
}

/// The `rules` strategy (rules in the [module docs](self)).
#[derive(Clone, Debug)]
pub struct RulesStrategy {
    rules: Rules,
    state: State,
    no_signal: u64,
}

impl RulesStrategy {
    /// A fresh strategy running `rules` (compiled and checked by the
    /// contract).
    pub fn new(rules: Rules) -> Result<Self, StrategyError> {
        let program = &rules.program;
        let indicators = program
            .indicators
            .iter()
            .map(|d| Live::new(&d.kind))
            .collect::<Result<Vec<_>, _>>()?;
        let history = program.depth.iter().map(|&d| History::new(d)).collect();
        Ok(Self {
            state: State {
                rules: rules.spec.clone(),
                indicators,
                history,
                bars: 0,
                target: Target::Flat,
                entry_close: None,
                bars_held: 0,
            },
            rules,
            no_signal: 0,
        })
    }

    /// The rules it runs.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }
}

impl Strategy for RulesStrategy {
    fn name(&self) -> &'static str {
        NAME
    }

    /// A close alone: a candle whose open, high and low are the close and
    /// whose volume is 0.
    fn on_close(&mut self, close: f64) -> Target {
        self.on_candle(&Candle {
            seq: 0,
            ts_ms: 0,
            open: close,
            high: close,
            low: close,
            close,
            volume: 0.0,
            ingest_ns: 0,
        })
    }

    fn on_candle(&mut self, candle: &Candle) -> Target {
        let fields = [
            candle.open,
            candle.high,
            candle.low,
            candle.close,
            candle.volume,
        ];
        let s = &mut self.state;
        if !fields.iter().all(|&x| is_valid_close(x)) {
            return s.target;
        }
        let program = &self.rules.program;
        for (h, x) in s.history.iter_mut().zip(fields) {
            h.push(x);
        }
        let fields_len = fields.len();
        for (i, def) in program.indicators.iter().enumerate() {
            // Field slots are in declaration order (Field::ALL).
            let feed = match def.input {
                Input::Field(f) => Feed::Series(s.history[f as usize].now()),
                Input::Indicator(j) => Feed::Series(s.history[fields_len + j].now()),
                Input::Bar => Feed::Bar {
                    high: candle.high,
                    low: candle.low,
                    close: candle.close,
                },
            };
            let value = s.indicators[i].update(&def.kind, feed);
            s.history[fields_len + i].push(value);
        }
        s.bars += 1;
        if s.bars <= program.warmup as u64 {
            return s.target;
        }
        if s.target != Target::Flat {
            s.bars_held += 1;
        }
        let close = candle.close;
        let pnl_fraction = match (s.target, s.entry_close) {
            (Target::Long, Some(entry)) => (close - entry) / entry,
            (Target::Short, Some(entry)) => (entry - close) / entry,
            _ => 0.0,
        };
        let bar = Bar {
            history: &s.history,
            bars_held: s.bars_held as f64,
            pnl_fraction: if pnl_fraction.is_finite() {
                pnl_fraction
            } else {
                f64::NAN
            },
            position_open: s.target != Target::Flat,
        };
        let mut unknown = false;
        let mut holds = |rule: Option<&_>| match rule.map(|r| eval::cond(r, &bar)) {
            Some(Some(b)) => b,
            Some(None) => {
                unknown = true;
                false
            }
            None => false,
        };
        let next = match s.target {
            Target::Flat if holds(Some(&program.enter_long)) => Target::Long,
            Target::Flat if holds(program.enter_short.as_ref()) => Target::Short,
            Target::Long if holds(program.enter_short.as_ref()) => Target::Short,
            Target::Long if holds(Some(&program.exit_long)) => Target::Flat,
            Target::Short if holds(Some(&program.enter_long)) => Target::Long,
            Target::Short if holds(program.exit_short.as_ref()) => Target::Flat,
            held => held,
        };
        if unknown {
            self.no_signal += 1;
        }
        if next != s.target {
            s.target = next;
            s.bars_held = 0;
            s.entry_close = (next != Target::Flat).then_some(close);
        }
        s.target
    }

    fn target(&self) -> Target {
        self.state.target
    }

    fn warmup(&self) -> usize {
        self.rules.program.warmup
    }

    fn no_signal_bars(&self) -> u64 {
        self.no_signal
    }

    fn save(&self) -> Value {
        save_state(NAME, &self.state)
    }

    fn restore(&mut self, saved: &Value) -> Result<(), StrategyError> {
        let state: State = load_state(NAME, saved)?;
        if state.rules != self.rules.spec {
            return Err(bad_state(
                "it was saved for other rules than this strategy's",
            ));
        }
        let program = &self.rules.program;
        if state.indicators.len() != program.indicators.len() {
            return Err(bad_state(format!(
                "state.indicators has {} indicators, the rules {}",
                state.indicators.len(),
                program.indicators.len()
            )));
        }
        for (i, (live, def)) in state.indicators.iter().zip(&program.indicators).enumerate() {
            if !live.is(&def.kind) {
                return Err(bad_state(format!(
                    "state.indicators[{i}] is not the rules' {:?}",
                    def.kind
                )));
            }
        }
        let depths: Vec<usize> = state.history.iter().map(History::depth).collect();
        if depths != program.depth {
            return Err(bad_state(format!(
                "state.history keeps {depths:?} values per series, the rules {:?}",
                program.depth
            )));
        }
        if state.target == Target::Short && program.enter_short.is_none() {
            return Err(bad_state(
                "state.target is Short but the rules never go short",
            ));
        }
        let entry_ok = match state.entry_close {
            None => state.target == Target::Flat,
            Some(x) => state.target != Target::Flat && is_valid_close(x),
        };
        if !entry_ok {
            return Err(bad_state(
                "state.entry_close must be a valid close exactly while a position is held",
            ));
        }
        self.state = state;
        Ok(())
    }
}
