//! report.html in a real browser: `aegis-worker backtest` on the README's
//! example data writes report.html beside report.json; headless Chromium
//! (the Debian package `chromium`, installed by scripts/test) renders it to a phone-sized screenshot
//! and dumps its DOM. The page must load without a script error or any
//! console message, its script must have run, and it must show report.json's
//! key figures and every trade. A page with a broken script is caught (the
//! check itself can fail). A missing Chromium fails the test naming the
//! package to install.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aegis_engine::report::html::format::percent;
use aegis_engine::report::BacktestReport;
use common::data::backtest;

/// A phone's viewport (CSS pixels) for the screenshot.
const PHONE: (u32, u32) = (412, 915);
/// How long one Chromium run may take, seconds (coreutils `timeout`).
const CHROMIUM_TIMEOUT_S: &str = "120";

/// Runs headless Chromium on `page` with `args`, a fresh profile in
/// `scratch`, console messages logged to stderr. The flags it needs in a
/// container: no GPU, and no sandbox (it refuses to run sandboxed as root).
fn chromium(scratch: &Path, page: &Path, args: &[String]) -> Output {
    aegis_tests::tools::require("chromium", "chromium");
    let profile = tempfile::tempdir_in(scratch).expect("a profile directory");
    let out = Command::new("timeout")
        .args([CHROMIUM_TIMEOUT_S, "chromium", "--headless", "--no-sandbox"])
        .args(["--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .expect("chromium starts");
    assert!(
        out.status.success(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The page after its scripts ran, and every console message it logged.
struct Loaded {
    dom: String,
    console: Vec<String>,
}

fn load(scratch: &Path, page: &Path) -> Loaded {
    let out = chromium(scratch, page, &["--dump-dom".to_string()]);
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
    }
}

/// The width and height of a PNG file, checking its signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        bytes.len() > 1000,
        "screenshot is only {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR", "PNG without its header chunk");
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (be(16), be(20))
}

/// The text of the `<dd>` of the metric `key` in the dumped DOM.
fn metric(dom: &str, key: &str) -> String {
    let start = dom
        .find(&format!("data-metric=\"{key}\""))
        .unwrap_or_else(|| panic!("metric {key} is not on the page"));
    let dd = &dom[start..];
    let open = dd.find("<dd").expect("a <dd>");
    let text = &dd[open..];
    let from = text.find('>').expect("the <dd>'s end") + 1;
    let to = text.find("</dd>").expect("a </dd>");
    text[from..to].to_string()
}

fn example_backtest(out: &Path) -> (BacktestReport, PathBuf) {
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/btcusdt-1h-synthetic.csv");
    let report = backtest(&data, out, &[]);
    let page = out.join("report.html");
    assert!(
        page.is_file(),
        "backtest wrote no report.html beside report.json"
    );
    (report, page)
}

#[test]
fn the_backtest_report_page_renders_in_chromium_with_its_figures() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let out = scratch.path().join("out");
    let (report, page) = example_backtest(&out);
    assert!(report.num_trades > 0, "the example trades");

    let shot = scratch.path().join("phone.png");
    chromium(
        scratch.path(),
        &page,
        &[
            format!("--window-size={},{}", PHONE.0, PHONE.1),
            format!("--screenshot={}", shot.display()),
        ],
    );
    assert_eq!(png_size(&shot), PHONE, "screenshot size");

    let loaded = load(scratch.path(), &page);
    assert!(loaded.console.is_empty(), "console: {:#?}", loaded.console);
    assert!(
        loaded.dom.contains("<body data-report=\"ready\">"),
        "the page's script did not finish: {}",
        &loaded.dom[..loaded.dom.len().min(2000)]
    );
    assert!(
        loaded
            .dom
            .contains("<p id=\"script-errors\" hidden=\"\"></p>"),
        "the page reported a script error"
    );
    assert_eq!(
        metric(&loaded.dom, "total_return"),
        percent(report.total_return)
    );
    assert_eq!(
        metric(&loaded.dom, "max_drawdown"),
        percent(Some(report.max_drawdown))
    );
    assert_eq!(
        metric(&loaded.dom, "num_trades"),
        report.num_trades.to_string()
    );
    let table = loaded
        .dom
        .split("id=\"trade-table\"")
        .nth(1)
        .expect("the trade list");
    let body = table
        .split("<tbody>")
        .nth(1)
        .expect("the trade list's body");
    let rows = body.split("</tbody>").next().unwrap_or_default();
    assert_eq!(
        rows.matches("<tr>").count() as u64,
        report.num_trades,
        "one row per trade in report.json"
    );
    assert_eq!(loaded.dom.matches("<svg").count(), 3, "the three charts");
    assert!(
        loaded
            .dom
            .contains(&format!("The last 500 of {} bars", report.candles)),
        "the price chart says which window it shows"
    );
}

#[test]
fn a_script_error_on_the_page_is_caught() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let (_, page) = example_backtest(&scratch.path().join("out"));
    let html = std::fs::read_to_string(&page).expect("report.html");

    // An error inside the page's script: the page reports it itself.
    let inside = scratch.path().join("inside.html");
    let broken = html.replacen(
        "var table = document.getElementById(\"trade-table\");",
        "var table = document.getElementById(\"trade-table\").no.such;",
        1,
    );
    assert_ne!(broken, html, "the script line to break is on the page");
    std::fs::write(&inside, broken).expect("write");
    let loaded = load(scratch.path(), &inside);
    assert!(loaded.dom.contains("data-report=\"error\""), "not marked");
    assert!(loaded.dom.contains("Script error: "), "not shown");

    // An error before the page's script: the console shows it.
    let before = scratch.path().join("before.html");
    std::fs::write(
        &before,
        html.replacen(
            "<script>",
            "<script>noSuchFunction();</script>\n<script>",
            1,
        ),
    )
    .expect("write");
    let loaded = load(scratch.path(), &before);
    assert!(
        loaded.console.iter().any(|l| l.contains("noSuchFunction")),
        "console: {:#?}",
        loaded.console
    );
}
