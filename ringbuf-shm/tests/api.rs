//! Single-process behaviour of the ring's API: ordering, batches, commits and
//! resumption, overflow policies, the reader registry, status, wrap-around.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{candle, check, ring_dir};
use ringbuf_shm::{Candle, Full, Overflow, Ring, RingError, RingOptions, WaitStrategy};

fn lossless(cap: u64) -> RingOptions {
    RingOptions::new(cap, Overflow::Lossless)
}

#[test]
fn records_come_out_in_order_with_their_sequence() {
    let dir = ring_dir();
    let ring = Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(8).with_reader("a"))
        .unwrap();
    let mut w = ring.writer().unwrap();
    let mut r = ring.reader("a").unwrap();
    assert_eq!(r.try_read(), None);
    for s in 0..5 {
        assert_eq!(w.write(&candle(s)), s);
    }
    assert_eq!(r.pending(), 5);
    let got: Vec<Candle> = r.iter().collect();
    assert_eq!(got.len(), 5);
    for (i, c) in got.iter().enumerate() {
        assert_eq!(c.seq, i as u64);
        check(c).unwrap();
    }
    assert_eq!(r.pending(), 0);
}

#[test]
fn batches_write_and_read_in_order() {
    let dir = ring_dir();
    let ring = Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(16).with_reader("a"))
        .unwrap();
    let mut w = ring.writer().unwrap();
    let mut r = ring.reader("a").unwrap();
    let batch: Vec<Candle> = (0..10).map(candle).collect();
    assert_eq!(w.write_batch(&batch), 0..10);
    let mut out = Vec::new();
    assert_eq!(r.read_batch(&mut out, 4), 4);
    assert_eq!(r.read_batch(&mut out, 100), 6);
    assert_eq!(
        out.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    out.iter().try_for_each(check).unwrap();
}

#[test]
fn lossless_writer_stops_at_the_slowest_committed_cursor() {
    let dir = ring_dir();
    let ring =
        Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(4).with_reader("slow"))
            .unwrap();
    let mut w = ring.writer().unwrap();
    for s in 0..4 {
        w.try_write(&candle(s)).unwrap();
    }
    assert_eq!(w.try_write(&candle(4)), Err(Full));
    assert_eq!(w.try_write_batch(&[candle(4), candle(5)]), 0);
    let mut r = ring.reader("slow").unwrap();
    // Reading is not enough: only committed records free room.
    assert_eq!(r.read_batch(&mut Vec::new(), 2), 2);
    assert_eq!(w.try_write(&candle(4)), Err(Full));
    r.commit();
    assert_eq!(w.try_write_batch(&[candle(4), candle(5), candle(6)]), 2);
    assert_eq!(
        w.write_timeout(&candle(6), Some(Duration::from_millis(20))),
        Err(Full)
    );
}

#[test]
fn a_reopened_reader_resumes_after_its_last_commit() {
    let dir = ring_dir();
    let path = dir.path().join("r");
    let ring = Ring::<Candle>::create_or_open(&path, &lossless(64).with_reader("a")).unwrap();
    let mut w = ring.writer().unwrap();
    w.write_batch(&(0..20).map(candle).collect::<Vec<_>>());
    let mut r = ring.reader("a").unwrap();
    assert_eq!(r.read_batch(&mut Vec::new(), 7), 7);
    r.commit();
    assert_eq!(r.read_batch(&mut Vec::new(), 5), 5); // read, never committed
    drop(r);
    let mut r = Ring::<Candle>::open(&path)
        .unwrap()
        .attach_reader("a")
        .unwrap();
    assert_eq!(r.committed(), 7);
    assert_eq!(r.try_read().map(|c| c.seq), Some(7));
    r.rewind();
    assert_eq!(r.try_read().map(|c| c.seq), Some(7));
}

#[test]
fn a_reader_name_has_one_owner_at_a_time() {
    let dir = ring_dir();
    let ring = Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(8)).unwrap();
    let r = ring.reader("a").unwrap();
    assert!(matches!(
        ring.reader("a"),
        Err(RingError::ReaderBusy { .. })
    ));
    assert!(matches!(
        ring.remove_reader("a"),
        Err(RingError::ReaderBusy { .. })
    ));
    drop(r);
    let r = ring.reader("a").unwrap();
    drop(r);
    ring.remove_reader("a").unwrap();
    assert!(matches!(
        ring.attach_reader("a"),
        Err(RingError::ReaderUnknown { .. })
    ));
    assert!(matches!(
        ring.remove_reader("a"),
        Err(RingError::ReaderUnknown { .. })
    ));
}

#[test]
fn removing_a_dead_reader_unblocks_a_lossless_writer() {
    let dir = ring_dir();
    let ring =
        Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(2).with_reader("gone"))
            .unwrap();
    let mut w = ring.writer().unwrap();
    w.write_batch(&[candle(0), candle(1)]);
    assert_eq!(w.try_write(&candle(2)), Err(Full));
    ring.remove_reader("gone").unwrap();
    assert_eq!(w.try_write(&candle(2)), Ok(2));
}

#[test]
fn reader_slots_run_out_and_are_reused() {
    let dir = ring_dir();
    let ring = Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(8)).unwrap();
    let readers: Vec<_> = (0..ringbuf_shm::MAX_READERS)
        .map(|i| ring.reader(&format!("r{i}")).unwrap())
        .collect();
    assert!(matches!(
        ring.reader("one-too-many"),
        Err(RingError::ReaderSlotsExhausted { max: 16, .. })
    ));
    readers.into_iter().next().unwrap().unregister().unwrap();
    ring.reader("one-too-many").unwrap();
}

#[test]
fn only_one_writer_at_a_time() {
    let dir = ring_dir();
    let ring = Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(8)).unwrap();
    let mut w = ring.writer().unwrap();
    w.write(&candle(0));
    assert!(matches!(ring.writer(), Err(RingError::WriterBusy { .. })));
    assert!(ring.status().unwrap().writer.alive);
    drop(w);
    assert!(!ring.status().unwrap().writer.alive);
    let w = ring.writer().unwrap();
    assert_eq!(w.next_seq(), 1, "a new writer continues the sequence");
}

#[test]
fn overwrite_reports_exactly_what_a_lapped_reader_missed() {
    let dir = ring_dir();
    let ring = Ring::<Candle>::create_or_open(
        dir.path().join("r"),
        &RingOptions::new(8, Overflow::Overwrite).with_reader("a"),
    )
    .unwrap();
    let mut w = ring.writer().unwrap();
    let mut r = ring.reader("a").unwrap();
    w.write_batch(&(0..3).map(candle).collect::<Vec<_>>());
    assert_eq!(r.try_read().map(|c| c.seq), Some(0));
    // 30 more: the writer laps the reader; the oldest retained is 33 - 8 = 25.
    for s in 3..33 {
        assert_eq!(w.try_write(&candle(s)), Ok(s), "overwrite never blocks");
    }
    let first = r.try_read().unwrap();
    assert_eq!(first.seq, 25);
    check(&first).unwrap();
    assert_eq!(r.missed(), 24, "1..25 were overwritten");
    assert_eq!(r.iter().count(), 7);
    r.commit();
    assert_eq!(ring.status().unwrap().reader("a").unwrap().missed, 24);
}

#[test]
fn sequences_wrap_past_u64_max() {
    let dir = ring_dir();
    let origin = u64::MAX - 5;
    let ring = Ring::<Candle>::create_or_open(
        dir.path().join("r"),
        &lossless(4).with_reader("a").origin_seq(origin),
    )
    .unwrap();
    let mut w = ring.writer().unwrap();
    let mut r = ring.reader("a").unwrap();
    let mut want = origin;
    for i in 0..20u64 {
        let s = origin.wrapping_add(i);
        assert_eq!(w.write(&candle(s)), s);
        let c = r.try_read().unwrap();
        assert_eq!(c.seq, want);
        check(&c).unwrap();
        r.commit();
        want = want.wrapping_add(1);
    }
    assert_eq!(ring.write_seq(), origin.wrapping_add(20));
    assert_eq!(ring.status().unwrap().reader("a").unwrap().lag, 0);
}

#[test]
fn overwrite_lapping_across_u64_max_counts_exactly() {
    let dir = ring_dir();
    let origin = u64::MAX - 2;
    let ring = Ring::<Candle>::create_or_open(
        dir.path().join("r"),
        &RingOptions::new(4, Overflow::Overwrite)
            .with_reader("a")
            .origin_seq(origin),
    )
    .unwrap();
    let mut w = ring.writer().unwrap();
    let mut r = ring.reader("a").unwrap();
    for i in 0..10u64 {
        w.write(&candle(origin.wrapping_add(i)));
    }
    let c = r.try_read().unwrap();
    assert_eq!(c.seq, origin.wrapping_add(6));
    assert_eq!(r.missed(), 6);
}

#[test]
fn status_reports_cursors_lag_and_heartbeats() {
    let dir = ring_dir();
    let path = dir.path().join("r");
    let ring =
        Ring::<Candle>::create_or_open(&path, &lossless(16).with_reader("a").with_reader("b"))
            .unwrap();
    let s = ring.status().unwrap();
    assert_eq!(s.readers.len(), 2);
    assert!(s
        .readers
        .iter()
        .all(|r| !r.alive && r.heartbeat_age.is_none()));
    assert!(s.writer.heartbeat_age.is_none());
    let mut w = ring.writer().unwrap();
    w.write_batch(&(0..10).map(candle).collect::<Vec<_>>());
    let mut a = ring.reader("a").unwrap();
    a.read_batch(&mut Vec::new(), 4);
    a.commit();
    let s = ringbuf_shm::inspect(&path).unwrap();
    assert_eq!(s.write_seq, 10);
    assert_eq!(s.record_kind, "candle02");
    assert_eq!(s.writer.attaches, 1);
    assert_eq!(s.writer.pid, u64::from(std::process::id()));
    assert!(s.writer.alive && s.writer.heartbeat_age.is_some());
    let (sa, sb) = (s.reader("a").unwrap(), s.reader("b").unwrap());
    assert_eq!((sa.cursor, sa.lag, sa.alive), (4, 6, true));
    assert!(sa.heartbeat_age.unwrap() < Duration::from_secs(5));
    assert_eq!((sb.cursor, sb.lag, sb.alive), (0, 10, false));
}

#[test]
fn ring_files_are_private_and_exactly_sized() {
    let dir = ring_dir();
    let path = dir.path().join("r");
    Ring::<Candle>::create_or_open(&path, &lossless(32)).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 4096 + 32 * 64);
    // What pod sizing (the operator's /dev/shm volume) is computed from.
    assert_eq!(ringbuf_shm::ring_file_bytes::<Candle>(32), Some(meta.len()));
    assert_eq!(ringbuf_shm::HEADER_BYTES, 4096);
    assert_eq!(ringbuf_shm::ring_file_bytes::<Candle>(u64::MAX), None);
}

#[test]
fn reopening_keeps_everything_and_a_different_layout_is_refused() {
    let dir = ring_dir();
    let path = dir.path().join("r");
    let ring = Ring::<Candle>::create_or_open(&path, &lossless(8).with_reader("a")).unwrap();
    let id = ring.creation_id();
    ring.writer().unwrap().write_batch(&[candle(0), candle(1)]);
    let again = Ring::<Candle>::create_or_open(&path, &lossless(8).with_reader("a")).unwrap();
    assert_eq!(
        again.creation_id(),
        id,
        "an existing ring is never re-initialized"
    );
    assert_eq!(again.write_seq(), 2);
    assert!(matches!(
        Ring::<Candle>::create_or_open(&path, &lossless(16)),
        Err(RingError::LayoutMismatch {
            field: "capacity",
            ..
        })
    ));
    assert!(matches!(
        Ring::<Candle>::create_or_open(&path, &RingOptions::new(8, Overflow::Overwrite)),
        Err(RingError::LayoutMismatch {
            field: "overflow",
            ..
        })
    ));
    assert_eq!(Ring::<Candle>::open(&path).unwrap().write_seq(), 2);
}

#[test]
fn blocked_reader_is_woken_by_the_writer() {
    let dir = ring_dir();
    let ring = Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(8).with_reader("a"))
        .unwrap();
    for strategy in [
        WaitStrategy::default(),
        WaitStrategy::SpinThenBlock {
            spin: Duration::ZERO,
        },
        WaitStrategy::SpinThenYield {
            spin: Duration::ZERO,
        },
        WaitStrategy::BusySpin,
    ] {
        let mut r = ring.reader("a").unwrap();
        r.set_wait_strategy(strategy);
        let start = r.position();
        let writer_ring = ring.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            writer_ring.writer().unwrap().write(&candle(start))
        });
        let got = r.read_timeout(Some(Duration::from_secs(10)));
        assert_eq!(got.map(|c| c.seq), Some(start), "{strategy:?}");
        r.commit();
        t.join().unwrap();
        assert_eq!(
            r.read_timeout(Some(Duration::from_millis(10))),
            None,
            "{strategy:?} times out"
        );
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes
    // through the pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A spin-then-block reader whose records come further apart than its spin
/// stops spinning before it sleeps, and spins again once a record is there
/// without a sleep.
#[test]
fn a_reader_spins_first_only_while_records_come_within_the_spin() {
    let dir = ring_dir();
    let ring = Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(8).with_reader("a"))
        .unwrap();
    let mut r = ring.reader("a").unwrap();
    let spin = Duration::from_millis(300);
    r.set_wait_strategy(WaitStrategy::SpinThenBlock { spin });
    // Each wait: the record comes 400 ms later, from another thread; the
    // CPU this thread spent waiting.
    let wait_for_a_late_record = |r: &mut ringbuf_shm::Reader<Candle>| {
        let seq = r.position();
        let writer_ring = ring.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            let mut w = writer_ring.writer().unwrap();
            w.write(&candle(seq));
        });
        let before = thread_cpu();
        assert!(r.wait(Some(Duration::from_secs(10))), "no record");
        let spent = thread_cpu() - before;
        t.join().unwrap();
        assert_eq!(r.try_read().map(|c| c.seq), Some(seq));
        r.commit();
        spent
    };
    // First wait spins (its CPU is whatever this machine gave the spin),
    // then sleeps: the record came later than the spin.
    wait_for_a_late_record(&mut r);
    // So the next wait sleeps at once: no 300 ms of spinning.
    let second = wait_for_a_late_record(&mut r);
    assert!(
        second < Duration::from_millis(30),
        "the second wait spent {second:?} of CPU: it spun first"
    );
    // A record already there meets a wait at once, which turns the spin
    // back on.
    let seq = r.position();
    ring.writer().unwrap().write(&candle(seq));
    assert!(r.wait(Some(Duration::ZERO)));
    assert_eq!(r.try_read().map(|c| c.seq), Some(seq));
    r.commit();
    let spun = wait_for_a_late_record(&mut r);
    assert!(
        spun >= Duration::from_millis(30),
        "the wait after a met one spent {spun:?} of CPU: it did not spin"
    );
}

#[test]
fn blocked_lossless_writer_is_woken_by_a_commit() {
    let dir = ring_dir();
    let ring = Ring::<Candle>::create_or_open(dir.path().join("r"), &lossless(2).with_reader("a"))
        .unwrap();
    let mut w = ring.writer().unwrap();
    w.set_wait_strategy(WaitStrategy::SpinThenBlock {
        spin: Duration::ZERO,
    });
    w.write_batch(&[candle(0), candle(1)]);
    let reader_ring = ring.clone();
    let t = std::thread::spawn(move || {
        let mut r = reader_ring.reader("a").unwrap();
        std::thread::sleep(Duration::from_millis(30));
        r.try_read().unwrap();
        r.commit();
    });
    assert_eq!(
        w.write_timeout(&candle(2), Some(Duration::from_secs(10))),
        Ok(2)
    );
    t.join().unwrap();
}

#[test]
fn a_restarted_writer_sees_the_last_published_record() {
    let dir = ring_dir();
    let path = dir.path().join("r");
    let opts = RingOptions::new(4, Overflow::Overwrite).origin_seq(u64::MAX - 1);
    let ring = Ring::<Candle>::create_or_open(&path, &opts).unwrap();
    let mut w = ring.writer().unwrap();
    assert_eq!(w.last_published(), None);
    for s in 0..6u64 {
        w.write(&candle(s.wrapping_add(u64::MAX - 1)));
    }
    drop(w);
    let w = Ring::<Candle>::open(&path).unwrap().writer().unwrap();
    let last = w.last_published().expect("a record was published");
    assert_eq!(last.seq, 3, "sequence wraps past u64::MAX");
    assert_eq!(last, {
        let mut c = candle(3);
        c.seq = 3;
        c
    });
    check(&last).unwrap();
}
