//! `POST /flatten` on a real orchestrator (the three roles under `up`): an
//! open position is closed at the last close and written to the ledger, the
//! kill switch trips with reason "flattened", a second POST changes nothing,
//! later signals are not traded, and a restarted orchestrator stays flat and
//! halted. Other methods get 405; a role without a book gets 404.
//!
//! The control API: `/status` and `/flatten` answer only on the control
//! port and only with the run's bearer token — without it, or with a wrong
//! one, 401 and nothing changes; the open port has neither; the token is in
//! no log.

mod common;

use std::time::Duration;

use aegis_contract::api::{FlattenReply, OrchestratorStatus, FLATTENED};
use aegis_engine::ledger::{Entry, ExitReason, HaltKind};
use common::http::{http_get, http_post, Control};
use common::up::{signal, Up};
use common::{ledger_entries, temp_dir, wait_for};
use nix::sys::signal::Signal;

const TIMEOUT: Duration = Duration::from_secs(5);

fn status(control: &Control) -> Option<OrchestratorStatus> {
    control.status()
}

fn flatten(control: &Control) -> (u16, String) {
    let r = control
        .post("/flatten", TIMEOUT)
        .expect("POST /flatten answers");
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
fn after_more_signals(control: &Control, from: u64, more: u64) -> OrchestratorStatus {
    wait_for(Duration::from_secs(10), || {
        status(control).filter(|s| s.signals_read >= from + more)
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
    let port = up.control();

    let get = port.get("/flatten", TIMEOUT).expect("GET /flatten answers");
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
            let open = wait_for(Duration::from_secs(10), || status(&port).filter(is_open));
            assert!(open.is_some(), "the orchestrator never opened a position");
            for pid in market {
                signal(pid, Signal::SIGSTOP).expect("SIGSTOP");
            }
            std::thread::sleep(Duration::from_millis(100));
            let reply = status(&port).filter(is_open).map(|_| flatten(&port));
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
    let after = status(&port).expect("/status");
    assert_flat_and_halted(&after, "after the flatten");
    assert_eq!(after.book.as_ref().map(|b| b.equity), Some(reply.equity));

    let entries = ledger_entries(&ledger);
    let close = entries.iter().rev().find_map(|e| match e {
        Entry::Order {
            signal_seq,
            reason: Some(r),
            exit: Some(ExitReason::Flatten),
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

    let (code, body) = flatten(&port);
    assert_eq!(code, 200, "second POST /flatten: {body}");
    let again: FlattenReply = serde_json::from_str(&body).expect("a FlattenReply");
    assert!(!again.changed, "a second flatten is a no-op: {again:?}");
    let appended: Vec<Entry> = ledger_entries(&ledger)
        .into_iter()
        .skip(entries.len())
        .filter(|e| !matches!(e, Entry::Mark { .. } | Entry::Rejected { .. }))
        .collect();
    assert_eq!(appended, Vec::new(), "the second flatten appends nothing");

    let later = after_more_signals(&port, after.signals_read, 10);
    assert_flat_and_halted(&later, "later signals");
    assert_eq!(
        trades_after_halt(&ledger_entries(&ledger)),
        Vec::<&Entry>::new()
    );
    let stopped = up.stop();
    assert!(stopped.success(), "up exited with {stopped}");

    // A new pod: fresh rings, the same ledger.
    let up = Up::start(&work.path().join("second"), &sets, |_| {});
    let restarted = after_more_signals(&up.control(), 0, 10);
    assert_flat_and_halted(&restarted, "after a restart");
    assert_eq!(
        trades_after_halt(&ledger_entries(&ledger)),
        Vec::<&Entry>::new()
    );
    let stopped = up.stop();
    assert!(stopped.success(), "up exited with {stopped}");
}

/// Every file under `dir` but the token file itself.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if entry.file_name() != "control-token" {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_control_api_needs_the_runs_token_and_the_open_port_has_none_of_it() {
    use std::os::unix::fs::PermissionsExt;

    let work = temp_dir("aegis-control");
    let data = work.path().join("data");
    let sets = [
        "feed.simulated.speed=5".to_string(),
        format!("orchestrator.data_dir={}", data.display()),
    ];
    let up = Up::start(&work.path().join("run"), &sets, |_| {});
    let control = up.control();
    let token_file = up.rings.join("control-token");
    let mode = std::fs::metadata(&token_file)
        .expect("the token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the token file is private");

    // No token, a wrong one: 401, with a reason that does not echo the token.
    let wrong = Control {
        port: control.port,
        token: aegis_runtime::ControlToken::generate().expect("a token"),
    };
    let refused = [
        (
            "GET /status without a token",
            http_get(control.port, "/status", TIMEOUT),
        ),
        (
            "POST /flatten without a token",
            http_post(control.port, "/flatten", TIMEOUT),
        ),
        (
            "GET /status with a wrong token",
            wrong.get("/status", TIMEOUT),
        ),
        (
            "POST /flatten with a wrong token",
            wrong.post("/flatten", TIMEOUT),
        ),
    ];
    for (what, reply) in refused {
        let reply = reply.unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert!(reply.body.contains("Bearer"), "{what}: {}", reply.body);
        assert!(!reply.body.contains(control.token.expose()), "{what}");
    }

    // The open port: probes and metrics, no control API.
    let open = up.port("orchestrator");
    for path in ["/healthz", "/metrics"] {
        let r = http_get(open, path, TIMEOUT).expect("the open port answers");
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    let get = http_get(open, "/status", TIMEOUT).expect("the open port answers");
    assert_eq!(get.status, 404, "no /status on the open port");
    let post = http_post(open, "/flatten", TIMEOUT).expect("the open port answers");
    assert_eq!(post.status, 404, "no /flatten on the open port");

    // Nothing was flattened; the token works.
    let book = wait_for(Duration::from_secs(10), || {
        status(&control).and_then(|s| s.book)
    })
    .expect("/status with the token shows the book");
    assert!(!book.halted, "a refused POST /flatten halts nothing");

    let stopped = up.stop();
    assert!(stopped.success(), "up exited with {stopped}");
    let out = std::fs::read_to_string(up_stdout_of(&work)).unwrap_or_default();
    assert!(
        out.contains(&token_file.display().to_string()),
        "up says where the token is:\n{out}"
    );
    for file in files_under(work.path()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(control.token.expose()),
            "{} holds the token",
            file.display()
        );
    }
}

/// The stdout file of the one `up` run under `work`.
fn up_stdout_of(work: &tempfile::TempDir) -> std::path::PathBuf {
    files_under(work.path())
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "out"))
        .expect("up's stdout file")
}
