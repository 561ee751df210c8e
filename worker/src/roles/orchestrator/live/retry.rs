//! Waiting without going deaf: startup requests retried through a 429 or a
//! lost reply, and pauses that beat the heartbeat and honour a stop.

use std::time::{Duration, Instant};

use super::super::state::State;
use aegis_exchange::RestError;
use aegis_runtime::StopFlag;

/// Pause between attempts after a repeated -1021 or a failed query.
pub(super) const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Attempts of a startup request whose reply was lost.
const STARTUP_ATTEMPTS: u32 = 5;

/// A startup request: a 429 is waited out, a lost reply (5XX, timeout)
/// retried up to [`STARTUP_ATTEMPTS`] times; `None` on a stop.
pub(super) fn startup_call<T>(
    state: &State,
    stop: &StopFlag,
    mut call: impl FnMut() -> Result<T, RestError>,
) -> Result<Option<T>, RestError> {
    let mut attempts = 0;
    loop {
        let e = match call() {
            Ok(v) => return Ok(Some(v)),
            Err(e) => e,
        };
        state.metrics.exchange.error(&e);
        attempts += 1;
        let wait = match &e {
            RestError::RateLimited { retry_after } => *retry_after,
            RestError::Unknown { .. } if attempts < STARTUP_ATTEMPTS => RETRY_PAUSE,
            _ => return Err(e),
        };
        tracing::warn!(error = %e, "an exchange request at startup failed; retrying");
        if !pause(wait, state, stop) {
            return Ok(None);
        }
    }
}

/// Sleeps `d` in short steps, beating the heartbeat; false if a stop was
/// asked meanwhile.
pub(super) fn pause(d: Duration, state: &State, stop: &StopFlag) -> bool {
    let until = Instant::now() + d;
    loop {
        state.heartbeat.beat();
        if stop.is_set() {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
}
