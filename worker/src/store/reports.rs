//! Writing finished reports into a directory, each file atomically (a
//! temporary file in the directory, then a rename and a directory fsync), so a
//! reader never sees half a report.

use std::path::{Path, PathBuf};

use aegis_engine::report::backtest::{EQUITY_SVG, REPORT_JSON};
use aegis_engine::report::html::{render_backtest_html, REPORT_HTML};
use aegis_engine::report::{BacktestReport, HealthReport, ReportError};

/// The files [`write_health`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenHealthReport {
    /// `health-<UTC timestamp>.md`.
    pub markdown: PathBuf,
    /// `health-<UTC timestamp>.json`.
    pub json: PathBuf,
}

/// Writes `report.json`, `report.html` (the page to look at, see
/// [`aegis_engine::report::html`]) and `equity.svg` into `dir` (created if
/// missing, mode 0700, see [`aegis_runtime::dirs::private_dir`]). Everything
/// is rendered before the first file is written.
pub fn write_backtest(report: &BacktestReport, dir: &Path) -> Result<(), ReportError> {
    let json = report.to_json()?;
    let html = render_backtest_html(report)?;
    let svg = report.equity_svg()?;
    create_report_dir(dir)?;
    write_atomic(dir, REPORT_JSON, json.as_bytes())?;
    write_atomic(dir, REPORT_HTML, html.as_bytes())?;
    write_atomic(dir, EQUITY_SVG, svg.as_bytes())?;
    Ok(())
}

/// Writes `health-<UTC time of now_ms>.md` and `.json`, and the same as
/// `latest.md` and `latest.json`, into `dir` (created if missing).
pub fn write_health(
    report: &HealthReport,
    dir: &Path,
    now_ms: i64,
) -> Result<WrittenHealthReport, ReportError> {
    let md = report.to_markdown();
    let json = report.to_json()?;
    let stamp = file_stamp(now_ms);
    create_report_dir(dir)?;
    let markdown = write_atomic(dir, &format!("health-{stamp}.md"), md.as_bytes())?;
    let json_path = write_atomic(dir, &format!("health-{stamp}.json"), json.as_bytes())?;
    write_atomic(dir, "latest.md", md.as_bytes())?;
    write_atomic(dir, "latest.json", json.as_bytes())?;
    Ok(WrittenHealthReport {
        markdown,
        json: json_path,
    })
}

/// `20240102T030405.678Z`, or the raw milliseconds when out of range.
fn file_stamp(now_ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(now_ms) {
        Some(t) => t.format("%Y%m%dT%H%M%S%.3fZ").to_string(),
        None => format!("{now_ms}ms"),
    }
}

fn create_report_dir(dir: &Path) -> Result<(), ReportError> {
    aegis_runtime::dirs::private_dir(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `dir/name` atomically ([`aegis_runtime::durable::write_atomic`]).
/// Returns the final path.
fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, ReportError> {
    let path = dir.join(name);
    aegis_runtime::durable::write_atomic(&path, contents)
        .map(|()| path.clone())
        .map_err(|source| ReportError::WriteFile { path, source })
}
