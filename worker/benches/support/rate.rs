//! Throughput measurement shared by the worker's parsing benches: the median
//! rate of a variant over several runs, by wall clock and by the thread's CPU
//! time (robust against other processes sharing the cores), printed beside a
//! baseline's.

use std::time::Instant;

/// What a bench step returns.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Median throughput of one variant, in items per second.
#[derive(Clone, Copy)]
pub struct Rate {
    /// By wall clock.
    pub per_wall_s: f64,
    /// By this thread's CPU time, where the kernel reports it.
    pub per_cpu_s: Option<f64>,
}

/// This thread's time on a CPU (ns), from `/proc/thread-self/schedstat`.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Runs `f` (which returns how many items it produced) `runs` times; every
/// run must produce `expected` items. The median rates.
pub fn median_rate(
    runs: usize,
    expected: u64,
    mut f: impl FnMut() -> BenchResult<u64>,
) -> BenchResult<Rate> {
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let cpu_start = thread_cpu_ns();
        let start = Instant::now();
        let items = f()?;
        let secs = start.elapsed().as_secs_f64();
        if items != expected {
            return Err(format!("expected {expected} items, got {items}").into());
        }
        wall.push(items as f64 / secs);
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu_ns()) {
            cpu.push(items as f64 / ((b - a) as f64 / 1e9));
        }
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    Ok(Rate {
        per_wall_s: wall[runs / 2],
        per_cpu_s: (cpu.len() == runs).then(|| cpu[runs / 2]),
    })
}

/// Prints `rate` in millions of `unit` per second, with its ratio to
/// `baseline` (named `baseline_name`).
pub fn report(name: &str, unit: &str, rate: Rate, baseline: Rate, baseline_name: &str) {
    let cpu = match (rate.per_cpu_s, baseline.per_cpu_s) {
        (Some(r), Some(b)) => format!(
            ";  {:>6.2} M {unit} per CPU-s ({:.2}x {baseline_name})",
            r / 1e6,
            r / b
        ),
        _ => String::new(),
    };
    println!(
        "  {name:<26} {:>6.2} M {unit}/s wall ({:.2}x {baseline_name}){cpu}",
        rate.per_wall_s / 1e6,
        rate.per_wall_s / baseline.per_wall_s
    );
}
