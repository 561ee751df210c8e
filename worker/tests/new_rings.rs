//! A ledger that outlives its rings (a replaced pod, a new `up`): the new
//! ring's signals are numbered after the ledger's, so none is mistaken for
//! one already handled.

mod common;

use aegis_worker::ledger::{duplicate_orders, Entry, Ledger};
use common::{good_rows, wait_until, write_csv, Up};

fn handled_all(up: &Up, n: u64) -> bool {
    ringbuf_shm::inspect(up.dir.path().join("rings/signals"))
        .ok()
        .and_then(|s| s.reader("orchestrator").map(|r| r.cursor))
        == Some(n)
}

#[test]
fn a_new_signal_ring_continues_the_ledgers_numbering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("walk.csv");
    write_csv(&data, true, &good_rows(300, 11));
    let ledger_dir = dir.path().join("ledger");
    let sets = [
        "feed.source=replay".to_string(),
        format!("feed.replay.file={}", data.display()),
        "feed.replay.speed=0".into(),
        "interval=1m".into(),
        "brain.strategy.params.fast=2".into(),
        "brain.strategy.params.slow=5".into(),
        format!("orchestrator.data_dir={}", ledger_dir.display()),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let mut orders_per_run = Vec::new();
    for run in 0..2 {
        let mut up = Up::start(&sets);
        assert!(
            wait_until(60.0, || handled_all(&up, 300)),
            "run {run}: not every signal handled"
        );
        assert!(up.stop().success(), "run {run}: up did not stop cleanly");
        let (_, recovered) = Ledger::open(ledger_dir.join("ledger.jsonl")).expect("ledger");
        let orders: Vec<u64> = recovered
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Order { signal_seq, .. } => Some(*signal_seq),
                _ => None,
            })
            .collect();
        assert!(duplicate_orders(&recovered.entries).is_empty());
        orders_per_run.push(orders);
    }
    let (first, both) = (&orders_per_run[0], &orders_per_run[1]);
    assert!(
        first.len() > 10,
        "the first run traded ({} orders)",
        first.len()
    );
    let second: Vec<u64> = both[first.len()..].to_vec();
    assert!(
        second.len() + 1 >= first.len(),
        "the second run traded too: {} vs {}",
        second.len(),
        first.len()
    );
    assert!(
        second.iter().all(|&s| (300..600).contains(&s)),
        "second-run orders are numbered after the first run's signals: {second:?}"
    );
}
