//! One page of klines at a time from `GET /api/v3/klines`, within what
//! Binance allows: at most [`MAX_KLINES_LIMIT`] rows a request (weight 2),
//! a pause until the next minute once this minute's used weight
//! (`X-MBX-USED-WEIGHT-1M`) reaches [`WEIGHT_BUDGET`], the `Retry-After`
//! of a 429 kept before the same request is sent again, and a stop on a 418
//! (an IP ban: more requests would lengthen it). Timeouts and 5XX replies
//! are retried a few times with a doubling wait; any other refusal stops.

use std::time::Duration;

use anyhow::bail;

use aegis_contract::config::Interval;
use aegis_contract::records::Candle;
use aegis_exchange::rest::{BinanceRest, RestError, MAX_KLINES_LIMIT};

/// The request weight a download lets itself use per minute: half of
/// Binance's 6000, leaving the rest to an engine on the same IP.
pub const WEIGHT_BUDGET: u64 = 3000;
/// How many 429s in a row a download waits out before it gives up.
const MAX_RATE_LIMITED: u32 = 10;
/// How many timeouts or 5XX replies in a row it retries.
const MAX_UNKNOWN: u32 = 5;

/// Something the pager tells the user about (on stderr).
pub type Notice<'a> = &'a mut dyn FnMut(&str);

/// The closed candles opened in `[start_ms, end_ms]`, oldest first, at
/// most [`MAX_KLINES_LIMIT`]; empty when there are none (yet).
pub fn page(
    client: &BinanceRest,
    symbol: &str,
    interval: Interval,
    start_ms: i64,
    end_ms: i64,
    notice: Notice<'_>,
) -> anyhow::Result<Vec<Candle>> {
    let (mut limited, mut unknown) = (0u32, 0u32);
    loop {
        if client.used_weight() >= WEIGHT_BUDGET {
            let now = client.server_now_ms();
            let wait = Duration::from_millis((60_000 - now.rem_euclid(60_000)).unsigned_abs() + 50);
            notice(&format!(
                "used request weight {} of this minute's budget {WEIGHT_BUDGET}: pausing {:.1} s",
                client.used_weight(),
                wait.as_secs_f64()
            ));
            std::thread::sleep(wait);
        }
        let reply = client.klines(
            symbol,
            interval,
            Some(start_ms),
            Some(end_ms),
            MAX_KLINES_LIMIT,
        );
        match reply {
            Ok(klines) => {
                if let Some(bad) = klines.rejected.first() {
                    bail!(
                        "the exchange sent {} kline row(s) that cannot be stored, e.g. {bad}; nothing of that page was written",
                        klines.rejected.len()
                    );
                }
                return Ok(klines.candles);
            }
            Err(RestError::RateLimited { retry_after }) => {
                limited += 1;
                if limited > MAX_RATE_LIMITED {
                    bail!("rate limited (HTTP 429) {MAX_RATE_LIMITED} times in a row; stopped");
                }
                notice(&format!(
                    "rate limited (HTTP 429): waiting {:.1} s as Retry-After asks",
                    retry_after.as_secs_f64()
                ));
                std::thread::sleep(retry_after);
            }
            Err(RestError::Banned { retry_after }) => {
                let wait = retry_after.map_or("no Retry-After given".to_string(), |w| {
                    format!("Retry-After {} s", w.as_secs())
                });
                bail!("the exchange banned this IP (HTTP 418, {wait}); download stopped: send it nothing until the ban is over (the file is kept, and a later run resumes it)");
            }
            Err(e @ RestError::Unknown { .. }) if unknown < MAX_UNKNOWN => {
                let wait = Duration::from_millis(500 << unknown);
                unknown += 1;
                notice(&format!("{e}: retrying in {:.1} s", wait.as_secs_f64()));
                std::thread::sleep(wait);
            }
            Err(e) => return Err(e.into()),
        }
    }
}
