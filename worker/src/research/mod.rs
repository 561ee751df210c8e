//! The research loop around `backtest`: `download` (history from the
//! exchange into the replay CSV that `backtest` reads) and `sweep` (every
//! combination of a parameter grid over one parsed file, on every core).

pub mod download;
pub mod sweep;

use std::io::IsTerminal;

/// A progress bar of `len` steps drawn on stderr with `template` (an
/// indicatif template), or `None` when `disabled` or stderr is no terminal.
fn progress_bar(disabled: bool, len: u64, template: &str) -> Option<indicatif::ProgressBar> {
    if disabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len.max(1));
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}
