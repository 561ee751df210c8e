//! Turns supervisor [`Event`]s into terminal text: on a TTY a compact table
//! redrawn in place at every tick, otherwise one plain line every few seconds.
//! Other events become plain `up: ...` lines. Rendering returns a `String`
//! (nothing is printed here) and depends only on its inputs, so it is testable.
//! The in-place table assumes nothing else writes to the terminal between two
//! ticks, which is why `up` sends the children's logs to files
//! ([`super::ChildSpec::log`]).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use serde_json::Value;

use aegis_runtime::display::seconds_text;

use super::events::{ChildView, Event};

/// ANSI: erase the whole current line.
const CLEAR_LINE: &str = "\x1b[2K";
/// ANSI: erase from the cursor to the end of the screen.
const CLEAR_BELOW: &str = "\x1b[J";

/// The state of the display between events (previous counts for rates, the
/// height of the table drawn last, when the last plain line was written).
#[derive(Debug, Clone)]
pub struct Display {
    tty: bool,
    plain_every: Duration,
    last_plain: Option<Instant>,
    table_lines: usize,
    previous_candles: HashMap<String, (f64, Instant)>,
}

impl Display {
    /// A display for a terminal (`tty`: redraw a table in place) or for a
    /// log/pipe (a plain line every 5 s).
    pub fn new(tty: bool) -> Self {
        Self {
            tty,
            plain_every: Duration::from_secs(5),
            last_plain: None,
            table_lines: 0,
            previous_candles: HashMap::new(),
        }
    }

    /// A display for this process's stdout: a table if it is a terminal.
    pub fn for_stdout() -> Self {
        Self::new(std::io::stdout().is_terminal())
    }

    /// Sets how often the plain (non-TTY) form writes a status line.
    pub fn with_plain_every(mut self, every: Duration) -> Self {
        self.plain_every = every;
        self
    }

    /// The text to write for `event` seen at `now` (possibly empty).
    pub fn render(&mut self, event: &Event, now: Instant) -> String {
        let Event::Tick { children } = event else {
            let line = event_line(event);
            if self.tty && self.table_lines > 0 {
                // Erase the table; the next tick draws it again below this line.
                let up = std::mem::take(&mut self.table_lines);
                return format!("\x1b[{up}A{CLEAR_BELOW}{line}\n");
            }
            return format!("{line}\n");
        };
        if !self.tty {
            let due = self
                .last_plain
                .is_none_or(|last| now.saturating_duration_since(last) >= self.plain_every);
            if !due {
                return String::new();
            }
            self.last_plain = Some(now);
        }
        let rates = self.candle_rates(children, now);
        if !self.tty {
            return format!("{}\n", plain_line(children, &rates));
        }
        let lines = table_lines(children, &rates);
        let mut out = String::new();
        if self.table_lines > 0 {
            out.push_str(&format!("\x1b[{}A", self.table_lines));
        }
        for line in &lines {
            out.push_str(CLEAR_LINE);
            out.push_str(line);
            out.push('\n');
        }
        self.table_lines = lines.len();
        out
    }

    /// Candles per second of each child since the last rendered tick (`None`
    /// without a previous sample or when the count went down after a restart).
    fn candle_rates(&mut self, children: &[ChildView], now: Instant) -> Vec<Option<f64>> {
        children
            .iter()
            .map(|child| {
                let Some(candles) = field(child, "candles_written").and_then(Value::as_f64) else {
                    self.previous_candles.remove(&child.name);
                    return None;
                };
                let previous = self
                    .previous_candles
                    .insert(child.name.clone(), (candles, now));
                let (before, then) = previous?;
                let seconds = now.saturating_duration_since(then).as_secs_f64();
                (seconds > 0.0 && candles >= before).then(|| (candles - before) / seconds)
            })
            .collect()
    }
}

/// One plain status line, e.g.
/// `up: feed pid=1 ok candles=1200 (100/s) price=101.2 | ... | restarts feed=0 brain=1`.
pub fn plain_line(children: &[ChildView], candle_rates: &[Option<f64>]) -> String {
    let mut parts: Vec<String> = children
        .iter()
        .enumerate()
        .map(|(index, child)| {
            let mut part = format!(
                "{} pid={} {}",
                child.name,
                pid_text(child),
                health_text(child)
            );
            let details = details(child, candle_rates.get(index).copied().flatten());
            if !details.is_empty() {
                part.push(' ');
                part.push_str(&details);
            }
            part
        })
        .collect();
    let restarts: Vec<String> = children
        .iter()
        .map(|child| format!("{}={}", child.name, child.restarts))
        .collect();
    parts.push(format!("restarts {}", restarts.join(" ")));
    format!("up: {}", parts.join(" | "))
}

/// The table for a terminal: a header and one row per child.
pub fn table_lines(children: &[ChildView], candle_rates: &[Option<f64>]) -> Vec<String> {
    let width = children
        .iter()
        .map(|child| child.name.len())
        .max()
        .unwrap_or(0)
        .max("ROLE".len());
    let mut lines = vec![format!(
        "{:<width$}  {:>7}  {:<8}  {:>8}  DETAILS",
        "ROLE", "PID", "HEALTH", "RESTARTS"
    )];
    for (index, child) in children.iter().enumerate() {
        let details = details(child, candle_rates.get(index).copied().flatten());
        let row = format!(
            "{:<width$}  {:>7}  {:<8}  {:>8}  {details}",
            child.name,
            pid_text(child),
            health_text(child),
            child.restarts
        );
        lines.push(row.trim_end().to_owned());
    }
    lines
}

/// The plain line for a non-tick event (empty for a tick).
pub fn event_line(event: &Event) -> String {
    match event {
        Event::Started { name, pid } => format!("up: {name} started (pid {pid})"),
        Event::SpawnFailed { name, error } => format!("up: {name} failed to start: {error}"),
        Event::Exited { name, pid, status } => format!("up: {name} (pid {pid}) exited ({status})"),
        Event::Unhealthy {
            name,
            pid,
            failures,
            threshold,
            reason,
        } => format!(
            "up: {name} (pid {pid}) liveness probe failed ({failures}/{threshold}): {reason}"
        ),
        Event::Restarting {
            name,
            after,
            restarts,
        } => {
            format!(
                "up: {name} restarting in {} (restart {restarts})",
                seconds_text(*after)
            )
        }
        Event::Killed { name, pid, reason } => {
            format!("up: {name} (pid {pid}) killed with SIGKILL: {reason}")
        }
        Event::Tick { .. } => String::new(),
    }
}

/// The role-specific numbers of `child` from its `/status` JSON.
fn details(child: &ChildView, candle_rate: Option<f64>) -> String {
    let value = |name: &str| field(child, name).map_or_else(|| "-".to_owned(), value_text);
    let price = |name: &str| field(child, name).map_or_else(|| "-".to_owned(), price_text);
    let money = |name: &str| field(child, name).map_or_else(|| "-".to_owned(), money_text);
    match child.name.as_str() {
        "feed" => {
            let rate = candle_rate.map_or_else(|| "-".to_owned(), rate_text);
            format!(
                "candles={} ({rate}/s) price={}",
                value("candles_written"),
                price("last_price")
            )
        }
        "brain" => format!("signals={} lag={}", value("signals"), value("lag")),
        "orchestrator" => {
            let book = format!(
                "pos={} equity={} pnl={} halted={}",
                value("position"),
                money("equity"),
                money("realized_pnl"),
                value("halted")
            );
            // A permanent refusal (credentials missing or refused) stops
            // trading without a restart: the terminal says why.
            match field(child, "refusal").and_then(|r| r.get("message")) {
                Some(message) => format!("{book} REFUSED: {}", value_text(message)),
                None => book,
            }
        }
        _ => String::new(),
    }
}

fn field<'a>(child: &'a ChildView, name: &str) -> Option<&'a Value> {
    child
        .status_json
        .as_ref()?
        .get(name)
        .filter(|value| !value.is_null())
}

/// A number from `/status` (JSON number or decimal string).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.parse::<f64>().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite())
}

/// A price for reading at a glance: six significant digits, at least two
/// decimals (`43250.12`, `0.0012346`). Exact figures are in `/status`.
fn price_text(value: &Value) -> String {
    match number(value) {
        Some(x) => {
            let digits = if x == 0.0 {
                1
            } else {
                x.abs().log10().floor() as i32 + 1
            };
            let decimals = (6 - digits).clamp(2, 12) as usize;
            format!("{x:.decimals$}")
        }
        None => value_text(value),
    }
}

/// An amount of quote currency, to the cent.
fn money_text(value: &Value) -> String {
    number(value).map_or_else(|| value_text(value), |x| format!("{x:.2}"))
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn rate_text(rate: f64) -> String {
    if rate < 10.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.0}")
    }
}

fn pid_text(child: &ChildView) -> String {
    child
        .pid
        .map_or_else(|| "-".to_owned(), |pid| pid.to_string())
}

fn health_text(child: &ChildView) -> &'static str {
    match (child.pid, child.healthy) {
        (None, _) => "down",
        (Some(_), None) => "starting",
        (Some(_), Some(true)) => "ok",
        (Some(_), Some(false)) => "failing",
    }
}
