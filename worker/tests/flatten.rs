//! `POST /flatten` on a real orchestrator (the three roles under `up`): an
//! open position is closed at the last close and written to the ledger, the
//! kill switch trips with reason "flattened", a second POST changes nothing,
//! later signals are not traded, and a restarted orchestrator stays flat and
//! halted. Other methods get 405; a role without a book gets 404.

mod common;

use std::time::Duration;

use aegis_contract::api::{FlattenReply, OrchestratorStatus, FLATTENED};
use aegis_engine::ledger::{Entry, HaltKind};
use common::http::{http_get, http_post};
use common::up::{signal, Up};
use common::{ledger_entries, temp_dir, wait_for};
use nix::sys::signal::Signal;

const TIMEOUT: Duration = Duration::from_secs(5);

fn status(port: u16) -> Option<OrchestratorStatus> {
    let r = http_get(port, "/status", Duration::from_secs(1)).ok()?;
    serde_json::from_str(&r.body).ok()
}

fn flatten(port: u16) -> (u16, String) {
    let r = http_post(port, "/flatten", TIMEOUT).expect("POST /flatten answers");
    (r.status, r.body)
}

/// The index of the ledger's flatten halt.
fn halt_index(entries: &[Entry]) -> Option<usize> {
    entries.iter().position(|e| {
        matches!(e, Entry::Halt { kind: HaltKind::KillSwitch, reason, .. } if reason == FLATTENED)
    })
}

/// Orders and fills after the flatten halt.
fn trades_after_halt(entries: &[Entry]) -> Vec<&Entry> {
    let Some(halt) = halt_index(entries) else {
        return Vec::new();
    };
    entries[halt..]
        .iter()
        .filter(|e| matches!(e, Entry::Order { .. } | Entry::Fill { .. }))
        .collect()
}

/// Waits until the orchestrator on `port` has read `more` signals beyond
/// `from`, and returns its status.
fn after_more_signals(port: u16, from: u64, more: u64) -> OrchestratorStatus {
    wait_for(Duration::from_secs(10), || {
        status(port).filter(|s| s.signals_read >= from + more)
    })
    .unwrap_or_else(|| panic!("the orchestrator did not read {more} more signals"))
}

fn assert_flat_and_halted(s: &OrchestratorStatus, when: &str) {
    let book = s.book.as_ref().expect("a book");
    assert!(
        book.position.is_zero(),
        "{when}: position {}",
        book.position
    );
    assert!(book.halted, "{when}: not halted");
    assert!(
        book.halt_reason
            .as_deref()
            .is_some_and(|r| r.contains(FLATTENED)),
        "{when}: halt reason {:?}",
        book.halt_reason
    );
}

#[test]
fn flatten_closes_the_position_halts_and_a_restart_stays_flat() {
    let work = temp_dir("aegis-flatten");
    let data = work.path().join("data");
    let sets = [
        "feed.simulated.speed=5".to_string(),
        "brain.strategy.params.fast=2".to_string(),
        "brain.strategy.params.slow=4".to_string(),
        format!("orchestrator.data_dir={}", data.display()),
    ];
    let ledger = data.join("ledger.jsonl");
    let up = Up::start(&work.path().join("first"), &sets, |_| {});
    let port = up.port("orchestrator");

    let get = http_get(port, "/flatten", TIMEOUT).expect("GET /flatten answers");
    assert_eq!(get.status, 405, "GET /flatten: {}", get.body);
    let feed = http_post(up.port("feed"), "/flatten", TIMEOUT).expect("the feed answers");
    assert_eq!(feed.status, 404, "the feed has no book: {}", feed.body);

    // Hold the market still while checking that a position is open and
    // flattening it, so that no bar closes the position in between: the feed
    // and the brain are stopped for well under the probes' 3 s.
    let is_open = |s: &OrchestratorStatus| s.book.as_ref().is_some_and(|b| !b.position.is_zero());
    let market = [up.pid("feed"), up.pid("brain")].map(|p| p.expect("the role's pid"));
    let (code, body) = (0..5)
        .find_map(|_| {
            let open = wait_for(Duration::from_secs(10), || status(port).filter(is_open));
            assert!(open.is_some(), "the orchestrator never opened a position");
            for pid in market {
                signal(pid, Signal::SIGSTOP).expect("SIGSTOP");
            }
            std::thread::sleep(Duration::from_millis(100));
            let reply = status(port).filter(is_open).map(|_| flatten(port));
            for pid in market {
                signal(pid, Signal::SIGCONT).expect("SIGCONT");
            }
            reply
        })
        .expect("a position stays open while the market is held");
    assert_eq!(code, 200, "POST /flatten: {body}");
    let reply: FlattenReply = serde_json::from_str(&body).expect("a FlattenReply");
    assert!(
        reply.position.is_zero() && reply.halted && reply.changed,
        "{reply:?}"
    );
    let after = status(port).expect("/status");
    assert_flat_and_halted(&after, "after the flatten");
    assert_eq!(after.book.as_ref().map(|b| b.equity), Some(reply.equity));

    let entries = ledger_entries(&ledger);
    let close = entries.iter().rev().find_map(|e| match e {
        Entry::Order {
            signal_seq,
            reason: Some(r),
            ..
        } if r.starts_with(FLATTENED) => Some(*signal_seq),
        _ => None,
    });
    let close = close.expect("the ledger holds the flatten's closing order");
    let fill = entries.iter().find_map(|e| match e {
        Entry::Fill {
            signal_seq,
            position_after,
            ..
        } if *signal_seq == close => Some(*position_after),
        _ => None,
    });
    assert_eq!(
        fill.map(|p| p.is_zero()),
        Some(true),
        "the closing fill leaves the book flat"
    );
    assert!(halt_index(&entries).is_some(), "the ledger holds the halt");

    let (code, body) = flatten(port);
    assert_eq!(code, 200, "second POST /flatten: {body}");
    let again: FlattenReply = serde_json::from_str(&body).expect("a FlattenReply");
    assert!(!again.changed, "a second flatten is a no-op: {again:?}");
    let appended: Vec<Entry> = ledger_entries(&ledger)
        .into_iter()
        .skip(entries.len())
        .filter(|e| !matches!(e, Entry::Mark { .. } | Entry::Rejected { .. }))
        .collect();
    assert_eq!(appended, Vec::new(), "the second flatten appends nothing");

    let later = after_more_signals(port, after.signals_read, 10);
    assert_flat_and_halted(&later, "later signals");
    assert_eq!(
        trades_after_halt(&ledger_entries(&ledger)),
        Vec::<&Entry>::new()
    );
    let stopped = up.stop();
    assert!(stopped.success(), "up exited with {stopped}");

    // A new pod: fresh rings, the same ledger.
    let up = Up::start(&work.path().join("second"), &sets, |_| {});
    let port = up.port("orchestrator");
    let restarted = after_more_signals(port, 0, 10);
    assert_flat_and_halted(&restarted, "after a restart");
    assert_eq!(
        trades_after_halt(&ledger_entries(&ledger)),
        Vec::<&Entry>::new()
    );
    let stopped = up.stop();
    assert!(stopped.success(), "up exited with {stopped}");
}
