//! Runs `count` independent jobs on `jobs` threads and returns their
//! results in job order, whatever thread ran each, so the output does not
//! depend on `--jobs`. The first error stops the others from taking more.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The default number of threads: the CPUs this process may run on, from
/// [`std::thread::available_parallelism`] — on Linux the affinity mask and
/// the cgroup's CPU quota (v1 and v2), so a container limited to 2 CPUs
/// gets 2 — or 1 when it cannot tell.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f(0) .. f(count - 1)` on up to `jobs` threads; `done()` after each.
pub fn run<T, F>(
    count: usize,
    jobs: usize,
    f: F,
    done: &(dyn Fn() + Sync),
) -> anyhow::Result<Vec<T>>
where
    T: Send,
    F: Fn(usize) -> anyhow::Result<T> + Sync,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let threads = jobs.clamp(1, count.max(1));
    let parts: Vec<anyhow::Result<Vec<(usize, T)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    // Relaxed: the flag only cuts work short; results travel
                    // through the join, which synchronises.
                    while !failed.load(Ordering::Relaxed) {
                        // Relaxed: a counter handing out distinct indices; no
                        // other memory is published through it.
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        match f(i) {
                            Ok(v) => mine.push((i, v)),
                            Err(e) => {
                                // Relaxed: see the load above.
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                        done();
                    }
                    Ok(mine)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a sweep thread panicked")))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(count);
    for part in parts {
        all.extend(part?);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_job_order_for_any_thread_count() {
        for jobs in [1, 2, 7] {
            let out = run(50, jobs, |i| Ok(i * i), &|| {}).expect("no errors");
            assert_eq!(out, (0..50).map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(run(0, 4, Ok::<usize, anyhow::Error>, &|| {})
            .expect("nothing")
            .is_empty());
    }

    #[test]
    fn the_first_error_is_returned() {
        let err = run(
            100,
            2,
            |i| {
                if i == 7 {
                    anyhow::bail!("job 7 failed")
                }
                Ok(i)
            },
            &|| {},
        )
        .expect_err("an error");
        assert_eq!(err.to_string(), "job 7 failed");
    }
}
