//! The orchestrator's periodic health report: a list of checks computed from
//! measured inputs against thresholds, as a Markdown table and JSON.
//!
//! Every check shows what it measured and the threshold it was held to. A
//! check never passes without a measurement: when an input is missing (no
//! candle seen yet, no ring readers reported, no restart counts) the check is
//! `FAIL` or `WARN` with "no data".

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{utc_text, ReportError};

/// How many duplicate order sequence numbers a check lists by number.
const MAX_LISTED_DUPLICATES: usize = 20;

/// Lag and liveness of one reader of one ring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RingLag {
    /// The ring's name (e.g. `candles`).
    pub ring: String,
    /// The reader's name (e.g. `brain`).
    pub reader: String,
    /// Records written but not yet read.
    pub lag: u64,
    /// Records overwritten before this reader read them.
    pub missed: u64,
    /// Whether the writer's heartbeat is fresh.
    pub writer_alive: bool,
    /// Whether the reader's heartbeat is fresh.
    pub reader_alive: bool,
}

/// What the orchestrator measured for one report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthInputs {
    /// When the measurements were taken, ms since the Unix epoch.
    pub generated_at_ms: i64,
    /// Every reader of every ring.
    pub rings: Vec<RingLag>,
    /// Records rejected by validation, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Age of the newest candle; `None` when none was seen yet.
    pub last_candle_age_ms: Option<u64>,
    /// Restarts by role; list every role (with 0) — an empty map is "no data".
    pub restarts: BTreeMap<String, u64>,
    /// Size of the ledger file.
    pub ledger_bytes: u64,
    /// Entries in the ledger.
    pub ledger_entries: u64,
    /// Signal sequence numbers that produced more than one order.
    pub duplicate_orders: Vec<u64>,
    /// Current equity.
    pub equity: Decimal,
    /// Current drawdown from the equity peak, as a fraction.
    pub drawdown: f64,
    /// Why trading is halted, if it is.
    pub halted: Option<String>,
}

/// The limits the checks hold the inputs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthThresholds {
    /// Largest acceptable reader lag, in records.
    pub max_lag: u64,
    /// Largest acceptable count of missed (overwritten) records.
    pub max_missed: u64,
    /// Oldest acceptable newest candle.
    pub max_candle_age_ms: u64,
    /// Largest acceptable drawdown (fraction).
    pub max_drawdown: f64,
    /// Restarts per role above which the check fails.
    pub max_restarts: u64,
    /// Total rejected records above which the check warns.
    pub max_rejected: u64,
    /// Ledger size above which the check warns.
    pub max_ledger_bytes: u64,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        HealthThresholds {
            max_lag: 1024,
            max_missed: 0,
            max_candle_age_ms: 180_000,
            max_drawdown: 0.2,
            max_restarts: 3,
            max_rejected: 0,
            max_ledger_bytes: 1 << 30,
        }
    }
}

/// A check's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CheckStatus {
    /// Measured and within the threshold.
    Pass,
    /// Needs attention but not failing (or not measurable yet).
    Warn,
    /// Measured outside the threshold, or missing data that must be there.
    Fail,
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckStatus::Pass => "PASS",
            CheckStatus::Warn => "WARN",
            CheckStatus::Fail => "FAIL",
        })
    }
}

/// One check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// What is checked, e.g. `ring candles/brain lag`.
    pub name: String,
    /// The outcome.
    pub status: CheckStatus,
    /// What was measured.
    pub measured: String,
    /// What it was held to.
    pub threshold: String,
    /// One sentence of explanation.
    pub detail: String,
}

/// The report: every check and the worst status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// When the inputs were measured.
    pub generated_at_ms: i64,
    /// The worst status of any check.
    pub overall: CheckStatus,
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
}

fn check(
    name: impl Into<String>,
    status: CheckStatus,
    measured: impl Into<String>,
    threshold: impl Into<String>,
    detail: impl Into<String>,
) -> Check {
    Check {
        name: name.into(),
        status,
        measured: measured.into(),
        threshold: threshold.into(),
        detail: detail.into(),
    }
}

/// `Pass` when `ok`, otherwise `bad`.
fn status(ok: bool, bad: CheckStatus) -> CheckStatus {
    if ok {
        CheckStatus::Pass
    } else {
        bad
    }
}

impl HealthReport {
    /// Runs every check on `inputs`.
    pub fn evaluate(inputs: &HealthInputs, limits: &HealthThresholds) -> HealthReport {
        let mut checks = Vec::new();
        ring_checks(inputs, limits, &mut checks);
        checks.push(candle_check(inputs, limits));
        checks.push(rejected_check(inputs, limits));
        restart_checks(inputs, limits, &mut checks);
        checks.push(ledger_check(inputs, limits));
        checks.push(duplicate_check(inputs));
        checks.push(equity_check(inputs));
        checks.push(drawdown_check(inputs, limits));
        checks.push(halted_check(inputs));
        let overall = checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(CheckStatus::Fail);
        HealthReport {
            generated_at_ms: inputs.generated_at_ms,
            overall,
            checks,
        }
    }

    /// The checks that did not pass.
    pub fn problems(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status != CheckStatus::Pass)
    }

    /// The report as a Markdown document with one table row per check.
    pub fn to_markdown(&self) -> String {
        let mut md =
            format!(
            "# AEGIS health report {}\n\nOverall: **{}** ({} checks, {} failing, {} warning)\n\n",
            utc_text(self.generated_at_ms),
            self.overall,
            self.checks.len(),
            self.checks.iter().filter(|c| c.status == CheckStatus::Fail).count(),
            self.checks.iter().filter(|c| c.status == CheckStatus::Warn).count(),
        );
        md.push_str("| status | check | measured | threshold | detail |\n");
        md.push_str("| --- | --- | --- | --- | --- |\n");
        for c in &self.checks {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                c.status,
                cell(&c.name),
                cell(&c.measured),
                cell(&c.threshold),
                cell(&c.detail)
            ));
        }
        md
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, ReportError> {
        serde_json::to_string_pretty(self).map_err(|source| ReportError::Json {
            what: "health report",
            source,
        })
    }
}

/// A Markdown table cell: pipes escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn yes_no(alive: bool) -> &'static str {
    if alive {
        "alive"
    } else {
        "not alive"
    }
}

fn ring_checks(inputs: &HealthInputs, limits: &HealthThresholds, checks: &mut Vec<Check>) {
    if inputs.rings.is_empty() {
        checks.push(check(
            "rings",
            CheckStatus::Fail,
            "no data",
            "at least one ring reader reported",
            "no ring readers were reported, so lag and liveness are unmeasured",
        ));
        return;
    }
    for r in &inputs.rings {
        let who = format!("ring {}/{}", r.ring, r.reader);
        checks.push(check(
            format!("{who} lag"),
            status(r.lag <= limits.max_lag, CheckStatus::Fail),
            format!("{} records", r.lag),
            format!("<= {} records", limits.max_lag),
            format!(
                "records written to {} but not yet read by {}",
                r.ring, r.reader
            ),
        ));
        checks.push(check(
            format!("{who} missed"),
            status(r.missed <= limits.max_missed, CheckStatus::Fail),
            format!("{} records", r.missed),
            format!("<= {} records", limits.max_missed),
            format!("records overwritten before {} read them", r.reader),
        ));
        checks.push(check(
            format!("{who} liveness"),
            status(r.writer_alive && r.reader_alive, CheckStatus::Fail),
            format!(
                "writer {}, reader {}",
                yes_no(r.writer_alive),
                yes_no(r.reader_alive)
            ),
            "writer alive, reader alive",
            "heartbeats in the ring header",
        ));
    }
}

fn candle_check(inputs: &HealthInputs, limits: &HealthThresholds) -> Check {
    let threshold = format!("<= {} ms", limits.max_candle_age_ms);
    match inputs.last_candle_age_ms {
        None => check(
            "candle freshness",
            CheckStatus::Fail,
            "no data",
            threshold,
            "no candle has been seen yet",
        ),
        Some(age) => check(
            "candle freshness",
            status(age <= limits.max_candle_age_ms, CheckStatus::Fail),
            format!("{age} ms"),
            threshold,
            "age of the newest candle",
        ),
    }
}

fn rejected_check(inputs: &HealthInputs, limits: &HealthThresholds) -> Check {
    let total = inputs
        .rejected
        .values()
        .fold(0u64, |a, &n| a.saturating_add(n));
    let by_reason: Vec<String> = inputs
        .rejected
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(reason, n)| format!("{reason}: {n}"))
        .collect();
    let measured = if by_reason.is_empty() {
        format!("{total}")
    } else {
        format!("{total} ({})", by_reason.join(", "))
    };
    check(
        "rejected records",
        status(total <= limits.max_rejected, CheckStatus::Warn),
        measured,
        format!("<= {}", limits.max_rejected),
        "records refused by validation, by reason",
    )
}

fn restart_checks(inputs: &HealthInputs, limits: &HealthThresholds, checks: &mut Vec<Check>) {
    if inputs.restarts.is_empty() {
        checks.push(check(
            "restarts",
            CheckStatus::Warn,
            "no data",
            format!("<= {} per role", limits.max_restarts),
            "no restart counts were reported for any role",
        ));
        return;
    }
    for (role, &n) in &inputs.restarts {
        checks.push(check(
            format!("restarts {role}"),
            status(n <= limits.max_restarts, CheckStatus::Fail),
            format!("{n}"),
            format!("<= {}", limits.max_restarts),
            format!("times the {role} role was restarted"),
        ));
    }
}

fn ledger_check(inputs: &HealthInputs, limits: &HealthThresholds) -> Check {
    let consistent = (inputs.ledger_entries == 0) == (inputs.ledger_bytes == 0);
    let (state, detail) = if !consistent {
        (
            CheckStatus::Fail,
            "entry count and size disagree: one is zero and the other is not".to_string(),
        )
    } else {
        (
            status(
                inputs.ledger_bytes <= limits.max_ledger_bytes,
                CheckStatus::Warn,
            ),
            "size of the order ledger".to_string(),
        )
    };
    check(
        "ledger",
        state,
        format!(
            "{} bytes, {} entries",
            inputs.ledger_bytes, inputs.ledger_entries
        ),
        format!("<= {} bytes", limits.max_ledger_bytes),
        detail,
    )
}

fn duplicate_check(inputs: &HealthInputs) -> Check {
    let n = inputs.duplicate_orders.len();
    let mut listed: Vec<String> = inputs
        .duplicate_orders
        .iter()
        .take(MAX_LISTED_DUPLICATES)
        .map(|s| s.to_string())
        .collect();
    if n > MAX_LISTED_DUPLICATES {
        listed.push(format!("and {} more", n - MAX_LISTED_DUPLICATES));
    }
    let measured = if n == 0 {
        "0".to_string()
    } else {
        format!("{n} (signal seq {})", listed.join(", "))
    };
    check(
        "duplicate orders",
        status(n == 0, CheckStatus::Fail),
        measured,
        "0",
        "signals that produced more than one order",
    )
}

fn equity_check(inputs: &HealthInputs) -> Check {
    check(
        "equity",
        status(inputs.equity > Decimal::ZERO, CheckStatus::Fail),
        inputs.equity.to_string(),
        "> 0",
        "current account equity",
    )
}

fn drawdown_check(inputs: &HealthInputs, limits: &HealthThresholds) -> Check {
    let dd = inputs.drawdown;
    let limit = limits.max_drawdown;
    let threshold = format!("<= {:.2}%", limit * 100.0);
    let (state, detail) = if !dd.is_finite() || dd < 0.0 {
        (CheckStatus::Fail, "drawdown is not a valid fraction")
    } else if !limit.is_finite() {
        (
            CheckStatus::Fail,
            "the max_drawdown threshold is not a number",
        )
    } else {
        (
            status(dd <= limit, CheckStatus::Fail),
            "drawdown from the equity peak",
        )
    };
    check(
        "drawdown",
        state,
        format!("{:.2}%", dd * 100.0),
        threshold,
        detail,
    )
}

fn halted_check(inputs: &HealthInputs) -> Check {
    match &inputs.halted {
        None => check(
            "halted",
            CheckStatus::Pass,
            "running",
            "not halted",
            "trading is not halted",
        ),
        Some(reason) => check(
            "halted",
            CheckStatus::Fail,
            format!("halted: {reason}"),
            "not halted",
            "trading is halted",
        ),
    }
}
